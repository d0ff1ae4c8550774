"""Careless responding: long-string, IRV, even–odd consistency and Mahalanobis distance.

One row per respondent, every index vectorised over respondents (the only Python loops run over
items or subscales). Definitions follow R's ``careless`` package (Yentes & Wilhelm):

- **long-string** (``careless::longstring``): the longest run of identical consecutive raw
  answers, in the instrument's item order; a missing answer ends a run and is not a run itself.
- **IRV** (``careless::irv``, Dunn et al. 2018): the standard deviation (n − 1) of a respondent's
  raw answers, over the answered items.
- **even–odd consistency** (``careless::evenodd``, Johnson 2005): per subscale the mean of its
  odd-positioned and of its even-positioned keyed items (answered ones); the two vectors of
  half-scale means are correlated across the subscales where both are defined (at least
  ``min_subscales``) and corrected by Spearman–Brown, 2r/(1 + r). Higher means more consistent;
  ``careless::evenodd`` has returned the negative of this since its version 1.2.0.
- **Mahalanobis distance** D² of the keyed item vector from the mean, with the covariance of
  complete respondents (``stats::mahalanobis(x, colMeans(x), cov(x))`` on complete rows), and its
  χ² p-value with as many degrees of freedom as items; respondents with a missing item get none.

Suggested cut-offs (``flag_*``; they suggest a closer look, not an exclusion rule):

- long-string ≥ half the items (Curran 2016's rule of thumb), settable with ``longstring_cut``;
- IRV more than ``irv_z`` = 3 robust standard deviations (median ± 3·1.4826·MAD) from the median,
  either way: very low IRV is straight-lining, very high random responding (Dunn et al. 2018);
- even–odd consistency below ``even_odd_cut`` = 0.30 (Jackson 1977; Johnson 2005); with few
  subscales the index is noisy, so it is computed only with ``min_subscales`` = 3 or more pairs;
- Mahalanobis p below ``mahalanobis_p`` = 0.001 (Tabachnick & Fidell; Meade & Craig 2012).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Unpack

import numpy as np
import pandas as pd

from analysis.stats._input import ReadOptions, validated
from analysis.stats._matrix import inverse, keyed_matrix, one_blas_thread
from analysis.stats._result import Result
from analysis.stats.moments import Moments
from analysis.stats.tables import ValueCounts
from surveytool.instrument.model import Instrument
from surveytool.responses import Responses
from surveytool.scoring.plan import ScoringPlan


@dataclass(frozen=True, repr=False)
class CarelessResult(Result):
    """Careless-responding indices.

    ``table``, per respondent (index: respondent id): ``answered``, ``longstring``, ``irv``,
    ``even_odd`` (and ``even_odd_pairs``), ``mahalanobis`` (D²), ``mahalanobis_p``, the four
    ``flag_*`` columns and ``n_flags``. ``cutoffs``: the cut-offs used. ``n_obs``: the
    respondents; ``problems``: what validating their answers found.
    """

    table: pd.DataFrame
    cutoffs: dict[str, float] = field(default_factory=dict)
    n_obs: int = 0

    def summary(self) -> pd.DataFrame:
        """Per index (``longstring``, ``irv``, ``even_odd``, ``mahalanobis``): respondents with a
        value (``computed``) and respondents flagged (``flagged``)."""
        indices = [c.removeprefix("flag_") for c in self.table.columns if c.startswith("flag_")]
        return pd.DataFrame(
            {
                "computed": [int(self.table[i].notna().sum()) for i in indices],
                "flagged": [int(self.table[f"flag_{i}"].sum()) for i in indices],
            },
            index=pd.Index(indices, name="index"),
        )


def longstring(values: np.ndarray) -> np.ndarray:
    """Longest run of identical consecutive answers per row (NaN ends a run; no answer: NaN)."""
    values = np.asarray(values, dtype=np.float64)
    n, k = values.shape
    if k == 0:
        return np.full(n, np.nan)
    run = (~np.isnan(values[:, 0])).astype(np.int64)
    best = run.copy()
    for j in range(1, k):
        current = values[:, j]
        same = current == values[:, j - 1]  # False whenever either is NaN
        run = np.where(same, run + 1, 1)
        run[np.isnan(current)] = 0
        np.maximum(best, run, out=best)
    out: np.ndarray = best.astype(np.float64)
    out[np.isnan(values).all(axis=1)] = np.nan
    return out


def irv(values: np.ndarray) -> np.ndarray:
    """Intra-individual response variability: the row SD (n − 1) over answered items."""
    values = np.asarray(values, dtype=np.float64)
    answered = ~np.isnan(values)
    n = answered.sum(axis=1).astype(np.float64)
    zeroed = np.where(answered, values, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = zeroed.sum(axis=1) / n
        centred = np.where(answered, values - mean[:, None], 0.0)
        out: np.ndarray = np.sqrt((centred * centred).sum(axis=1) / (n - 1.0))
    out[n < 2] = np.nan
    return out


def _half_means(keyed: np.ndarray, halves: Sequence[np.ndarray]) -> np.ndarray:
    """Row means of the answered items of each half (NaN where none is answered)."""
    answered = ~np.isnan(keyed)
    zeroed = np.where(answered, keyed, 0.0)
    membership = np.zeros((keyed.shape[1], len(halves)))
    for h, cols in enumerate(halves):
        membership[cols, h] = 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        out: np.ndarray = (zeroed @ membership) / (answered.astype(np.float64) @ membership)
    return out


def even_odd(
    keyed: np.ndarray, subscale_columns: Sequence[np.ndarray], *, min_subscales: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """Even–odd consistency per row and the number of subscales it used (see the module).

    ``subscale_columns``: the keyed matrix's columns of each subscale, in item order.
    """
    usable = [np.asarray(c) for c in subscale_columns if len(c) >= 2]
    n = keyed.shape[0]
    if not usable:
        return np.full(n, np.nan), np.zeros(n, dtype=np.int64)
    odd = _half_means(keyed, [c[0::2] for c in usable])
    even = _half_means(keyed, [c[1::2] for c in usable])
    both = ~np.isnan(odd) & ~np.isnan(even)
    pairs = both.sum(axis=1)
    count = pairs.astype(np.float64)
    o = np.where(both, odd, 0.0)
    e = np.where(both, even, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_o = o.sum(axis=1) / count
        mean_e = e.sum(axis=1) / count
        do = np.where(both, odd - mean_o[:, None], 0.0)
        de = np.where(both, even - mean_e[:, None], 0.0)
        r = (do * de).sum(axis=1) / np.sqrt((do * do).sum(axis=1) * (de * de).sum(axis=1))
        corrected: np.ndarray = 2.0 * r / (1.0 + r)
    corrected[pairs < max(min_subscales, 2)] = np.nan
    return corrected, pairs


@dataclass(frozen=True)
class CarelessCentre:
    """What a respondent's flags compare them with, from every respondent of the cohort.

    ``mean`` and ``covariance`` (divisor n − 1) of the complete rows of the scored keyed items
    (``n_complete`` of them) for the Mahalanobis distance; the median IRV and its robust SD
    (1.4826·MAD) for the IRV flag. By default :func:`careless_responding` takes them from the
    rows it is given; a partition of a large cohort is given the cohort's
    (:func:`careless_centre` of the merged :class:`CarelessSums`), so its flags are those of
    the whole cohort.
    """

    mean: np.ndarray
    covariance: np.ndarray
    n_complete: int
    irv_median: float
    irv_spread: float


@dataclass(frozen=True)
class CarelessSums:
    """What :class:`CarelessCentre` needs, additive over parts of a cohort (``+``): the moments
    of the complete rows of the scored keyed items and the exact counts of the IRV values."""

    complete: Moments
    irv: ValueCounts

    def __add__(self, other: CarelessSums) -> CarelessSums:
        return CarelessSums(self.complete + other.complete, self.irv + other.irv)


def careless_sums(
    instrument: Instrument | str, responses: pd.DataFrame | Responses, **read: Unpack[ReadOptions]
) -> CarelessSums:
    """:class:`CarelessSums` of some rows (a partition)."""
    from analysis.stats.moments import moments
    from analysis.stats.tables import value_counts

    plan, answers, _ = validated(instrument, responses, **read)
    raw = answers.values
    scored_keyed, _, scored = _scored_keyed(plan, raw)
    complete = ~np.isnan(scored_keyed).any(axis=1)
    names = [plan.item_ids[j] for j in scored]
    return CarelessSums(moments(scored_keyed[complete], names), value_counts(irv(raw)))


def careless_centre(sums: CarelessSums) -> CarelessCentre:
    """The :class:`CarelessCentre` of the rows ``sums`` adds up (exact medians from counts)."""
    from analysis.stats.scores import counted_median

    m = sums.complete
    n = int(m.n_rows)
    with np.errstate(invalid="ignore", divide="ignore"):
        covariance = m.comoment / (n - 1) if n > 1 else np.full(m.n.shape, np.nan)
    centre = counted_median(sums.irv)
    spread = counted_median(_recount(np.abs(sums.irv.values - centre), sums.irv.counts))
    return CarelessCentre(np.diag(m.mean).copy(), covariance, n, centre, 1.4826 * spread)


def _recount(values: np.ndarray, counts: np.ndarray) -> ValueCounts:
    """The counts of ``values`` (some equal) each counted ``counts`` times."""
    merged, where = np.unique(values, return_inverse=True)
    total = np.bincount(where, weights=counts, minlength=len(merged))
    return ValueCounts(merged, total.astype(np.int64))


def _scored_keyed(
    plan: ScoringPlan, raw: np.ndarray
) -> tuple[np.ndarray, list[np.ndarray], list[int]]:
    """The keyed answers of the scored items (each once), each subscale's columns among them,
    and the scored items' columns of the plan."""
    keyed = keyed_matrix(plan, raw)
    scored = list(dict.fromkeys(int(j) for sub in plan.subscales for j in sub.columns))
    position = {j: i for i, j in enumerate(scored)}
    sub_columns = [np.array([position[int(j)] for j in sub.columns]) for sub in plan.subscales]
    return keyed[:, scored], sub_columns, scored


def mahalanobis(
    keyed: np.ndarray, centre: CarelessCentre | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Squared Mahalanobis distance of complete rows and its χ²(p) upper-tail probability.

    The mean and covariance of the complete rows given, or of ``centre`` (the cohort's).
    """
    from scipy import stats

    n, p = keyed.shape
    complete = ~np.isnan(keyed).any(axis=1)
    d2 = np.full(n, np.nan)
    prob = np.full(n, np.nan)
    x = keyed[complete]
    if centre is not None:
        if centre.n_complete > p and len(x):
            centred = x - centre.mean
            d2[complete] = np.sum((centred @ inverse(centre.covariance)) * centred, axis=1)
            prob[complete] = stats.chi2.sf(d2[complete], p)
    elif len(x) > p:
        centred = x - x.mean(axis=0)
        cov = centred.T @ centred / (len(x) - 1)
        d2[complete] = np.sum((centred @ inverse(cov)) * centred, axis=1)
        prob[complete] = stats.chi2.sf(d2[complete], p)
    return d2, prob


def _robust_z(values: np.ndarray, centre: CarelessCentre | None = None) -> np.ndarray:
    if centre is None:
        middle = np.nanmedian(values)
        mad = 1.4826 * np.nanmedian(np.abs(values - middle))
    else:
        middle, mad = centre.irv_median, centre.irv_spread
    return _z(values, middle, mad)


def _z(values: np.ndarray, centre: float, mad: float) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        out: np.ndarray = (values - centre) / mad
    return out


@one_blas_thread
def careless_responding(
    instrument: Instrument | str,
    responses: pd.DataFrame | Responses,
    *,
    longstring_cut: float | None = None,
    irv_z: float = 3.0,
    even_odd_cut: float = 0.30,
    min_subscales: int = 3,
    mahalanobis_p: float = 0.001,
    centre: CarelessCentre | None = None,
    **read: Unpack[ReadOptions],
) -> CarelessResult:
    """Careless-responding indices and suggested flags for every respondent.

    Parameters
    ----------
    instrument, responses, **read
        As for :func:`analysis.reliability`.
    longstring_cut
        Flag a long-string at or above this; default half the items, ⌈k/2⌉.
    irv_z
        Flag an IRV more than this many robust SDs from the median (either side).
    even_odd_cut
        Flag even–odd consistency below this.
    min_subscales
        Fewest subscales with both halves answered for an even–odd value.
    mahalanobis_p
        Flag a Mahalanobis distance whose χ² p-value is below this.
    centre
        The cohort's means, covariance and IRV median and spread (:class:`CarelessCentre`),
        for rows that are part of it (a Dask partition); default: those of the rows given.

    Returns
    -------
    CarelessResult

    Notes
    -----
    In R (careless package): ``longstring(x)``, ``irv(x)``, ``-evenodd(x, factors)``,
    ``mahad(x)``; see the module docstring for the exact definitions.
    """
    plan, answers, problems = validated(instrument, responses, **read)
    raw = answers.values
    scored_keyed, sub_columns, scored = _scored_keyed(plan, raw)

    k = raw.shape[1]
    cut_long = float(longstring_cut) if longstring_cut is not None else float(math.ceil(k / 2))
    ls = longstring(raw)
    variability = irv(raw)
    eo, pairs = even_odd(scored_keyed, sub_columns, min_subscales=min_subscales)
    d2, prob = mahalanobis(scored_keyed, centre)
    z = _robust_z(variability, centre)
    table = pd.DataFrame(
        {
            "answered": (~np.isnan(raw)).sum(axis=1),
            "longstring": ls,
            "irv": variability,
            "even_odd": eo,
            "even_odd_pairs": pairs,
            "mahalanobis": d2,
            "mahalanobis_p": prob,
            "flag_longstring": ls >= cut_long,
            "flag_irv": np.abs(z) > irv_z,
            "flag_even_odd": eo < even_odd_cut,
            "flag_mahalanobis": prob < mahalanobis_p,
        },
        index=pd.Index(answers.ids.to_numpy(), name=answers.ids.name or "row"),
    )
    flags = [c for c in table.columns if c.startswith("flag_")]
    table["n_flags"] = table[flags].sum(axis=1).astype(np.int64)
    return CarelessResult(
        table=table,
        cutoffs={
            "longstring_at_least": cut_long,
            "irv_robust_z_beyond": irv_z,
            "irv_median": (
                centre.irv_median
                if centre is not None
                else float(np.nanmedian(variability))
                if len(variability)
                else np.nan
            ),
            "even_odd_below": even_odd_cut,
            "mahalanobis_p_below": mahalanobis_p,
            "mahalanobis_df": float(len(scored)),
        },
        n_obs=len(table),
        problems=problems,
    )
