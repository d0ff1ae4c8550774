"""Subscale scores: descriptives, intercorrelations with intervals, disattenuated correlations.

Input is a scores table as :func:`surveytool.score_responses` makes it (one column per subscale
or composite id, NaN where a score is missing); every statistic uses the respondents who have the
score (pairwise for correlations).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.stats._adjust import holm
from analysis.stats._forms import takes_responses
from analysis.stats._matrix import pairwise_cor
from analysis.stats._result import Result
from analysis.stats.reliability import Reliability
from surveytool.instrument.model import Instrument

if TYPE_CHECKING:
    from analysis.stats.moments import Moments
    from analysis.stats.tables import ValueCounts

DESCRIBE_COLUMNS = ("n", "mean", "sd", "median", "min", "max", "range", "skew", "kurtosis", "se")


def scale_ids(scores: pd.DataFrame, scales: Sequence[str] | Instrument | None) -> list[str]:
    """The score columns named by ``scales`` (ids, or the instrument's scored ids) that exist."""
    if scales is None:
        raise AnalysisError("pass scales: the score columns, or the instrument")
    ids = scales.scored_ids() if isinstance(scales, Instrument) else list(scales)
    chosen = [s for s in ids if s in scores.columns]
    if not chosen:
        raise AnalysisError(f"none of the scales {ids} is a column of the scores table")
    return chosen


def describe_scores(
    scores: pd.DataFrame, scales: Sequence[str] | Instrument | None = None
) -> pd.DataFrame:
    """Descriptive statistics of each score column.

    ``n``, ``mean``, ``sd`` (n − 1), ``median``, ``min``, ``max``, ``range``, ``skew`` and
    ``kurtosis`` (type 3: m₃/s³ and m₄/s⁴ − 3, central moments with divisor n, s with n − 1) and
    ``se`` = sd/√n.

    In R: ``psych::describe(scores, type = 3)``.
    """
    rows = {}
    for scale in scale_ids(scores, scales):
        x = pd.to_numeric(scores[scale], errors="coerce").to_numpy(dtype=np.float64)
        x = x[~np.isnan(x)]
        n = len(x)
        if n == 0:
            rows[scale] = dict.fromkeys(DESCRIBE_COLUMNS, np.nan) | {"n": 0}
            continue
        mean = float(x.mean())
        centred = x - mean
        sd = float(np.sqrt(np.sum(centred**2) / (n - 1))) if n > 1 else np.nan
        with np.errstate(invalid="ignore", divide="ignore"):
            skew = float(np.sum(centred**3) / (n * sd**3))
            kurtosis = float(np.sum(centred**4) / (n * sd**4) - 3.0)
        rows[scale] = {
            "n": n,
            "mean": mean,
            "sd": sd,
            "median": float(np.median(x)),
            "min": float(x.min()),
            "max": float(x.max()),
            "range": float(x.max() - x.min()),
            "skew": skew,
            "kurtosis": kurtosis,
            "se": sd / np.sqrt(n),
        }
    return _describe_table(rows)


def _describe_table(rows: Mapping[str, Mapping[str, float]]) -> pd.DataFrame:
    table: pd.DataFrame = pd.DataFrame.from_dict(dict(rows), orient="index")[list(DESCRIBE_COLUMNS)]
    table.index.name = "scale"
    table["n"] = table["n"].astype(np.int64)
    return table


def exact_moments(counted: ValueCounts) -> tuple[int, float, float, float, float]:
    """(n, mean, sd with n − 1, skew, kurtosis) of counted values, exactly rounded.

    The sums are rational (every float is a fraction), so they are the same however the rows
    are ordered or partitioned; skew and kurtosis as :func:`describe_scores` (type 3).
    """
    n = counted.n
    if n == 0:
        return 0, np.nan, np.nan, np.nan, np.nan
    weights = [int(c) for c in counted.counts]
    exact = [Fraction(float(v)) for v in counted.values]
    mean = sum((c * v for c, v in zip(weights, exact, strict=True)), Fraction(0)) / n
    centred = [v - mean for v in exact]
    c2, c3, c4 = (
        sum((c * d**k for c, d in zip(weights, centred, strict=True)), Fraction(0))
        for k in (2, 3, 4)
    )
    if n < 2:
        return n, float(mean), np.nan, np.nan, np.nan
    sd = float(np.sqrt(float(c2 / (n - 1))))
    with np.errstate(invalid="ignore", divide="ignore"):
        skew = float(np.float64(float(c3 / n)) / np.float64(sd) ** 3)
        kurtosis = float(np.float64(float(c4 / n)) / np.float64(sd) ** 4 - 3.0)
    return n, float(mean), sd, skew, kurtosis


def counted_median(counted: ValueCounts) -> float:
    """``numpy.median`` of the counted values (the mean of the middle two when n is even)."""
    n = counted.n
    if n == 0:
        return np.nan
    through = np.cumsum(counted.counts)
    middle = counted.values[np.searchsorted(through, [(n - 1) // 2, n // 2], side="right")]
    return float(middle[0]) if n % 2 else float((middle[0] + middle[1]) / 2.0)


def describe_counts(counts: Mapping[str, ValueCounts]) -> pd.DataFrame:
    """:func:`describe_scores` from the exact counts of each scale's score values.

    Counts of partitions add up (:class:`analysis.stats.norms.ScoreCounts`), so the table of the
    merged counts is that of the whole cohort: n, min, max and the median exactly, mean, sd,
    skew and kurtosis exactly rounded (equal to the in-memory numbers within rounding).
    """
    rows: dict[str, Mapping[str, float]] = {}
    for scale, counted in counts.items():
        n, mean, sd, skew, kurtosis = exact_moments(counted)
        if n == 0:
            rows[scale] = dict.fromkeys(DESCRIBE_COLUMNS, np.nan) | {"n": 0}
            continue
        low, high = float(counted.values[0]), float(counted.values[-1])
        rows[scale] = {
            "n": n,
            "mean": mean,
            "sd": sd,
            "median": counted_median(counted),
            "min": low,
            "max": high,
            "range": high - low,
            "skew": skew,
            "kurtosis": kurtosis,
            "se": sd / np.sqrt(n),
        }
    return _describe_table(rows)


@dataclass(frozen=True, repr=False)
class ScoreCorrelations(Result):
    """Intercorrelations of scores.

    ``matrix``: Pearson r (pairwise); ``n``: respondents per pair; ``pairs`` one row per pair
    (``scale_x``, ``scale_y``, ``r``, ``n``, ``ci_lower``, ``ci_upper``, ``p``, ``p_holm``,
    ``disattenuated``); ``disattenuated``: r/√(r_xx r_yy) as a matrix (NaN without reliabilities).
    """

    matrix: pd.DataFrame
    n: pd.DataFrame
    pairs: pd.DataFrame
    disattenuated: pd.DataFrame
    level: float

    def summary(self) -> pd.DataFrame:
        """``pairs``: one row per pair of scales."""
        return self.pairs


def disattenuate(r: pd.DataFrame, reliabilities: Mapping[str, float]) -> pd.DataFrame:
    """Correlations corrected for attenuation: r_xy / √(r_xx · r_yy) (Spearman 1904).

    The diagonal is left at 1. In R: ``psych::correct.cor`` (off the diagonal).
    """
    names = list(r.columns)
    rel = np.array([reliabilities.get(n, np.nan) for n in names], dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = r.to_numpy(dtype=np.float64) / np.sqrt(np.outer(rel, rel))
    np.fill_diagonal(out, 1.0)
    return pd.DataFrame(out, index=r.index, columns=r.columns)


@takes_responses("scores")
def score_correlations(
    scores: pd.DataFrame,
    scales: Sequence[str] | Instrument | None = None,
    *,
    reliabilities: Mapping[str, float] | Reliability | None = None,
    level: float = 0.95,
) -> ScoreCorrelations:
    """Pearson intercorrelations with Fisher-z intervals, Holm-adjusted p and disattenuated r.

    Parameters
    ----------
    scores
        A scores table (one column per scale).
    scales
        The score columns, or the instrument (its subscale and composite ids).
    reliabilities
        r_xx per scale (for example ``reliability(...)`` whose ``raw_alpha`` is used) for the
        disattenuated correlations.
    level
        Confidence level of the intervals.

    Notes
    -----
    Per pair, over the respondents with both scores: t = r√(n − 2)/√(1 − r²) with n − 2 degrees
    of freedom (two-sided p); interval tanh(atanh r ± z₁₋α/₂/√(n − 3)); Holm's adjustment over all
    pairs (:func:`analysis.stats._adjust.holm`, statsmodels' ``multipletests(method="holm")``).
    In R: ``psych::corr.test(scores, adjust = "holm")`` (``$r``, ``$n``, ``$p``, ``$ci``).
    """
    names = scale_ids(scores, scales)
    values = scores[names].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    r, n = pairwise_cor(values)
    return _correlations(names, r, n, reliabilities, level)


def score_correlations_from_moments(
    score_moments: Moments,
    *,
    reliabilities: Mapping[str, float] | Reliability | None = None,
    level: float = 0.95,
) -> ScoreCorrelations:
    """:func:`score_correlations` from the pairwise moments of the score columns
    (:func:`analysis.stats.moments.moments`; merged over partitions, the whole cohort's)."""
    return _correlations(
        list(score_moments.columns),
        score_moments.correlation(),
        score_moments.n,
        reliabilities,
        level,
    )


def _correlations(
    names: list[str],
    r: np.ndarray,
    n: np.ndarray,
    reliabilities: Mapping[str, float] | Reliability | None,
    level: float,
) -> ScoreCorrelations:
    from scipy import stats

    if isinstance(reliabilities, Reliability):
        rel_map: Mapping[str, float] = {
            str(k): float(v) for k, v in reliabilities.scales["raw_alpha"].items()
        }
    else:
        rel_map = reliabilities or {}
    i, j = np.triu_indices(len(names), 1)
    r_pairs = r[i, j]
    n_pairs = n[i, j]
    with np.errstate(invalid="ignore", divide="ignore"):
        t = r_pairs * np.sqrt((n_pairs - 2) / (1 - r_pairs**2))
        p = np.asarray(2 * stats.t.sf(np.abs(t), n_pairs - 2), dtype=np.float64)
        z = np.arctanh(r_pairs)
        half = stats.norm.ppf(0.5 + level / 2) / np.sqrt(n_pairs - 3)
    p_holm = holm(p)
    matrix = pd.DataFrame(r, index=names, columns=names)
    corrected = disattenuate(matrix, rel_map)
    pairs = pd.DataFrame(
        {
            "scale_x": [names[a] for a in i],
            "scale_y": [names[b] for b in j],
            "r": r_pairs,
            "n": n_pairs.astype(np.int64),
            "ci_lower": np.tanh(z - half),
            "ci_upper": np.tanh(z + half),
            "p": p,
            "p_holm": p_holm,
            "disattenuated": corrected.to_numpy()[i, j],
        }
    )
    return ScoreCorrelations(
        matrix=matrix,
        n=pd.DataFrame(n.astype(np.int64), index=names, columns=names),
        pairs=pairs,
        disattenuated=corrected,
        level=level,
    )
