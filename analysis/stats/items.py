"""Item statistics: missing rate, floor and ceiling, answer frequencies, skew and kurtosis.

Computed on the *raw* answers (as given, before reverse keying), so the frequencies and the floor
and ceiling shares are of what respondents chose; skew of a reverse-keyed item therefore has the
opposite sign of its keyed version. Skew and kurtosis are psych's ``type = 3`` (its default,
``describe``'s): b₁ = m₃/s³ and b₂ − 3 = m₄/s⁴ − 3 with mᵣ the r-th central moment (divisor n) and
s the standard deviation with divisor n − 1.

Everything comes from the same one-pass sums as the reliability (:func:`sufficient_statistics`):
the answer frequencies of an item with K categories are recovered exactly from its power sums
Σ xᵖ, p < K, by solving the Vandermonde system (K ≤ 11; wider scales are counted directly).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Unpack

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.stats._input import ReadOptions, validated
from analysis.stats._matrix import (
    UNSCORED,
    ItemSums,
    frequencies_from_power_sums,
    keyed_matrix,
    power_sums,
)
from analysis.stats._result import Problems, Result
from analysis.stats.reliability import sufficient_statistics
from surveytool.instrument.model import Instrument
from surveytool.responses import Responses

if TYPE_CHECKING:
    import dask.dataframe as dd

ITEM_COLUMNS = (
    "subscale",
    "reverse",
    "n",
    "missing",
    "missing_rate",
    "mean",
    "sd",
    "median",
    "min",
    "max",
    "skew",
    "kurtosis",
    "floor",
    "ceiling",
)


@dataclass(frozen=True, repr=False)
class ItemStatistics(Result):
    """Per item (index: item id, instrument order).

    ``items``: ``subscale`` (the first it belongs to), ``reverse``, ``n`` answered, ``missing``,
    ``missing_rate`` (of all rows), ``mean``, ``sd``, ``median``, ``min``, ``max`` of the raw
    answers, ``skew`` and ``kurtosis`` (type 3), ``floor`` and ``ceiling`` (shares of the answered
    at the scale's lowest and highest point).
    ``frequencies``: counts of every answer (columns: the points of the scales).
    ``n_obs``: the rows of answers; ``problems``: what validating them found.
    """

    items: pd.DataFrame
    frequencies: pd.DataFrame
    n_obs: int

    def summary(self) -> pd.DataFrame:
        """``items``: one row per item."""
        return self.items

    @property
    def shares(self) -> pd.DataFrame:
        """Frequencies as shares of each item's answered responses."""
        return self.frequencies.div(self.items["n"].replace(0, np.nan), axis=0)


def _median(counts: np.ndarray, points: np.ndarray) -> float:
    """Median of discrete answers from their counts (the mean of the two middle values)."""
    n = int(counts.sum())
    if n == 0:
        return float("nan")
    cumulative = np.cumsum(counts)
    low = points[np.searchsorted(cumulative, (n + 1) // 2)]
    high = points[np.searchsorted(cumulative, n // 2 + 1)]
    return float((low + high) / 2.0)


def item_statistics_from_sums(sums: ItemSums) -> ItemStatistics:
    """:class:`ItemStatistics` from :func:`sufficient_statistics` (pairwise sums)."""
    if sums.use != "pairwise":
        raise AnalysisError("item statistics need the sums of every row (use='pairwise')")
    n_items = len(sums.item_ids)
    overall_low = int(np.min(sums.low)) if n_items else 0
    overall_high = int(np.max(sums.high)) if n_items else 0
    points_all = np.arange(overall_low, overall_high + 1)
    freq = np.full((n_items, len(points_all)), np.nan)
    table: dict[str, list[object]] = {c: [None] * n_items for c in ITEM_COLUMNS}
    done = np.zeros(n_items, dtype=bool)
    for block in sums.blocks:
        ps = power_sums(block)
        for local, j in enumerate(block.columns):
            if done[j]:
                continue
            done[j] = True
            low, high = int(sums.low[j]), int(sums.high[j])
            points = np.arange(low, high + 1)
            sign = -1.0 if sums.reverse[j] else 1.0
            centre = float(block.centre[local])
            # the keyed-and-centred value of each raw point
            nodes = (low + high - points if sums.reverse[j] else points) - centre
            if sums.counts is not None:
                counts = sums.counts[j, : len(points)].astype(np.float64)
            else:
                counts = frequencies_from_power_sums(ps[local], nodes)
            freq[j, low - overall_low : high - overall_low + 1] = counts
            n = float(ps[local, 0])
            s1, s2, s3, s4 = (float(ps[local, p]) / n if n else np.nan for p in (1, 2, 3, 4))
            mean_y = s1
            m2 = s2 - mean_y**2
            m3 = s3 - 3 * mean_y * s2 + 2 * mean_y**3
            m4 = s4 - 4 * mean_y * s3 + 6 * mean_y**2 * s2 - 3 * mean_y**4
            with np.errstate(invalid="ignore", divide="ignore"):
                sd = float(np.sqrt(m2 * n / (n - 1))) if n > 1 else np.nan
                spread = sd > 0  # skew and kurtosis are not computable without variance
                skew = sign * m3 / sd**3 if spread else np.nan
                kurtosis = m4 / sd**4 - 3.0 if spread else np.nan
            keyed_mean = mean_y + centre
            answered = counts > 0
            row = {
                "subscale": block.name if block.name != UNSCORED else None,
                "reverse": bool(sums.reverse[j]),
                "n": int(n),
                "missing": sums.n_obs - int(n),
                "missing_rate": (sums.n_obs - n) / sums.n_obs if sums.n_obs else np.nan,
                "mean": (low + high - keyed_mean) if sums.reverse[j] else keyed_mean,
                "sd": sd,
                "median": _median(counts, points),
                "min": float(points[answered][0]) if answered.any() else np.nan,
                "max": float(points[answered][-1]) if answered.any() else np.nan,
                "skew": skew,
                "kurtosis": kurtosis,
                "floor": counts[0] / n if n else np.nan,
                "ceiling": counts[-1] / n if n else np.nan,
            }
            for key, value in row.items():
                table[key][j] = value
    index = pd.Index(list(sums.item_ids), name="item")
    items = pd.DataFrame(table, index=index)[list(ITEM_COLUMNS)]
    items = items.astype({"reverse": bool, "n": np.int64, "missing": np.int64})
    float_columns = [c for c in ITEM_COLUMNS if c not in ("subscale", "reverse", "n", "missing")]
    items[float_columns] = items[float_columns].astype(np.float64)
    frequencies = pd.DataFrame(
        np.rint(freq), index=index, columns=pd.Index(points_all.tolist(), name="answer")
    )
    if not np.isnan(freq).any():
        frequencies = frequencies.astype(np.int64)
    return ItemStatistics(
        items=items, frequencies=frequencies, n_obs=sums.n_obs, problems=sums.problems
    )


def item_statistics(
    instrument: Instrument | str,
    responses: pd.DataFrame | Responses | ItemSums | dd.DataFrame,
    **read: Unpack[ReadOptions],
) -> ItemStatistics:
    """Missing rate, floor and ceiling, frequencies, skew and kurtosis of every item.

    Parameters
    ----------
    instrument, responses, **read
        As for :func:`analysis.reliability` (validated answers, the pairwise sums of
        :func:`sufficient_statistics`, which reliability can share, or a raw table, whose
        problems are kept in ``.problems`` with a warning). A Dask DataFrame of raw answers is
        summed partition by partition on Dask's current scheduler, with the same result and
        problems as in memory (see :func:`sufficient_statistics`).

    Returns
    -------
    ItemStatistics

    Notes
    -----
    In R, on the raw answers: ``psych::describe(x, type = 3)`` (n, mean, sd, median, min, max,
    skew, kurtosis) and ``table(x[, i])`` (frequencies).
    """
    if isinstance(responses, ItemSums):
        return item_statistics_from_sums(responses)
    sums = sufficient_statistics(instrument, responses, **read)
    return item_statistics_from_sums(sums)


def keyed_items(
    instrument: Instrument | str,
    responses: pd.DataFrame | Responses,
    *,
    scored_only: bool = True,
    **read: Unpack[ReadOptions],
) -> pd.DataFrame:
    """The validated answers with reverse-keyed items reversed on their declared range.

    x' = (min + max) − x; NaN for missing. Columns: item ids (with ``scored_only``, only the items
    of some subscale), index: the respondent ids. The input of :func:`analysis.efa`,
    :func:`analysis.parallel_analysis` and the CFA.

    In R: ``psych::reverse.code(keys, x, mini = min, maxi = max)`` with the declared range.

    A raw table is validated here; its problems are reported by a
    :class:`~analysis.errors.ResponseProblemsWarning` (invalid answers become NaN).
    """
    keyed, _ = keyed_answers(
        instrument,
        responses,
        **read,
        scored_only=scored_only,
    )
    return keyed


def keyed_answers(
    instrument: Instrument | str,
    responses: pd.DataFrame | Responses,
    *,
    scored_only: bool = True,
    **read: Unpack[ReadOptions],
) -> tuple[pd.DataFrame, Problems]:
    """:func:`keyed_items` and the problems found in the answers (for results that keep them)."""
    plan, answers, problems = validated(instrument, responses, **read)
    keyed = keyed_matrix(plan, answers.values)
    columns = list(range(len(plan.item_ids)))
    if scored_only:
        members = {int(j) for sub in plan.subscales for j in sub.columns}
        columns = [j for j in columns if j in members]
    frame = pd.DataFrame(
        keyed[:, columns],
        columns=[plan.item_ids[j] for j in columns],
        index=pd.Index(answers.ids.to_numpy(), name=answers.ids.name or "row"),
    )
    return frame, problems
