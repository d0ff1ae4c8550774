"""Polychoric correlations and thresholds of ordinal items, and ordinal alpha and omega from them.

Likert answers are ordered categories, not measurements: the polychoric correlation of two items
is the correlation of two standard normal variables that, cut at each item's thresholds, would give
the observed two-way table. Estimated in two steps, as lavaan and psych do:

1. **Thresholds** from each item's own margin: with :math:`N_k` answers in category :math:`k`
   of :math:`K` (observed categories, in order) and :math:`N` answers in all,
   :math:`\\tau_k = \\Phi^{-1}\\big(\\sum_{l \\le k} N_l / N\\big)` for :math:`k = 1..K-1`.
2. **Each correlation** by maximum likelihood on the pair's table with the thresholds fixed:
   :math:`\\max_\\rho \\sum_{ij} n_{ij} \\log \\pi_{ij}(\\rho)`, where :math:`\\pi_{ij}` is the
   bivariate normal probability of the rectangle
   :math:`(\\tau_{i-1}, \\tau_i] \\times (\\tau'_{j-1}, \\tau'_j]`.

Missing answers: pairwise complete. Each item's thresholds use all its answers and each pair's
table the rows that answer both (``lavaan::lavCor(x, ordered = names(x), missing = "pairwise")``;
psych's ``polychoric(x, global = TRUE)``). With complete data both are the listwise estimates.

Two conventions for empty cells:

* ``method="lavaan"`` (default): a 2×2 table with an empty cell gets 0.5 added to every empty
  cell before the correlation is estimated (lavaan's ``zero.add = c(0.5, 0)``: larger tables are
  left as they are); ``lavaan::lavCor(x, ordered = names(x))``.
* ``method="psych"``: no correction (``psych::polychoric(x, correct = 0)``); as psych does, when
  the items' highest answers differ, each pair's thresholds come from that pair's own table
  (psych's ``global = FALSE``, which it sets itself then).

The bivariate normal distribution function is computed exactly (to double precision) from Owen's
T function (:func:`scipy.special.owens_t`); the likelihood is maximized by Fisher scoring for all
pairs at once, with step halving, to a change in ρ below 1e-10.

Ordinal alpha and omega (Zumbo, Gadermann & Zeisser 2007) are the standardized alpha and the
Schmid–Leiman omega of the polychoric matrix of the keyed items, as ``psych::alpha(rho)`` and
``psych::omega(rho, nfactors)`` on ``psych::polychoric(x)$rho``; they describe the reliability of
the latent continuous responses, not of the observed sum score, and are labelled as such.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Unpack

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.stats._input import ReadOptions, validated
from analysis.stats._matrix import keyed_matrix, one_blas_thread, subscale_blocks
from analysis.stats._options import check_option
from analysis.stats._result import Result
from analysis.stats.reliability import Omega, omega_from_correlation
from analysis.stats.tables import PairTables, pair_tables
from surveytool.instrument.model import Instrument
from surveytool.responses import Responses

Method = Literal["lavaan", "psych"]

#: Convergence of each correlation: the last Fisher-scoring step in ρ.
TOLERANCE = 1e-10
_MAX_ITERATIONS = 200
_BOUND = 1.0 - 1e-12


@dataclass(frozen=True, repr=False)
class Polychoric(Result):
    """Polychoric correlations of ordinal items and each item's thresholds.

    ``rho``: the correlation matrix (items × items, 1 on the diagonal; NaN for a pair with no
    common answers or an item with one observed category). ``thresholds``: one row per item,
    columns ``t1``..``t{K-1}`` (NaN beyond an item's own number of categories). ``n_pairs``: the
    rows each pair's table counts. ``categories``: each item's observed categories, in order.
    ``method``: the empty-cell convention (see the module docstring). ``n_obs``: rows read.
    """

    rho: pd.DataFrame
    thresholds: pd.DataFrame
    n_pairs: pd.DataFrame
    categories: dict[str, tuple[float, ...]]
    method: str
    n_obs: int
    converged: bool

    def summary(self) -> pd.DataFrame:
        """The correlation matrix."""
        return self.rho


def bivariate_normal_cdf(h: np.ndarray, k: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """P(X ≤ h, Y ≤ k) for standard bivariate normal (X, Y) with correlation ``rho``.

    Owen (1956): Φ₂(h, k; ρ) = ½Φ(h) + ½Φ(k) − T(h, a_h) − T(k, a_k) − β, with
    a_h = (k − ρh)/(h√(1−ρ²)), a_k = (h − ρk)/(k√(1−ρ²)) and β = ½ when hk < 0, or hk = 0 with
    h + k < 0, else 0. ±∞ bounds are allowed (Φ₂(∞, k) = Φ(k), Φ₂(−∞, k) = 0).
    """
    from scipy.special import ndtr, owens_t

    h, k, rho = np.broadcast_arrays(
        np.asarray(h, dtype=np.float64),
        np.asarray(k, dtype=np.float64),
        np.asarray(rho, dtype=np.float64),
    )
    out = np.empty(h.shape, dtype=np.float64)
    low = np.isneginf(h) | np.isneginf(k)
    h_inf = np.isposinf(h)
    k_inf = np.isposinf(k)
    out[low] = 0.0
    only_k = h_inf & ~low
    out[only_k] = ndtr(k[only_k])
    only_h = k_inf & ~low & ~h_inf
    out[only_h] = ndtr(h[only_h])
    finite = ~(low | h_inf | k_inf)
    if finite.any():
        hf, kf, rf = h[finite], k[finite], rho[finite]
        root = np.sqrt((1.0 - rf) * (1.0 + rf))
        with np.errstate(divide="ignore", invalid="ignore"):
            a_h = (kf - rf * hf) / (hf * root)
            a_k = (hf - rf * kf) / (kf * root)
        # h = 0 (or k = 0): T(0, ±∞) = ±1/4, the limit of the formula as h → 0 from the side
        # that keeps it continuous; both zero: Φ₂(0, 0; ρ) = 1/4 + asin(ρ)/(2π)
        a_h = np.where(hf == 0.0, np.copysign(np.inf, kf - rf * hf), a_h)
        a_k = np.where(kf == 0.0, np.copysign(np.inf, hf - rf * kf), a_k)
        beta = np.where((hf * kf < 0) | ((hf * kf == 0) & (hf + kf < 0)), 0.5, 0.0)
        value = 0.5 * ndtr(hf) + 0.5 * ndtr(kf) - owens_t(hf, a_h) - owens_t(kf, a_k) - beta
        both_zero = (hf == 0.0) & (kf == 0.0)
        value = np.where(both_zero, 0.25 + np.arcsin(rf) / (2.0 * np.pi), value)
        out[finite] = value
    return out


def _bivariate_density(h: np.ndarray, k: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """The standard bivariate normal density, 0 at any infinite bound (∂Φ₂/∂ρ = this)."""
    h, k, rho = np.broadcast_arrays(h, k, rho)
    finite = np.isfinite(h) & np.isfinite(k)
    one_minus = (1.0 - rho) * (1.0 + rho)
    hh = np.where(finite, h, 0.0)
    kk = np.where(finite, k, 0.0)
    q = (hh * hh - 2.0 * rho * hh * kk + kk * kk) / one_minus
    dens = np.exp(-0.5 * q) / (2.0 * np.pi * np.sqrt(one_minus))
    return np.where(finite, dens, 0.0)


def thresholds_of(counts: np.ndarray) -> np.ndarray:
    """Thresholds τ₁..τ_{K−1} from the counts of K ordered categories: Φ⁻¹ of the cumulative
    proportions."""
    from scipy.special import ndtri

    total = counts.sum()
    return np.asarray(ndtri(np.cumsum(counts)[:-1] / total), dtype=np.float64)


@dataclass
class _Pairs:
    """All pairs' tables flattened to cells, so that one array step updates every pair.

    The distribution function is evaluated once per point of each pair's grid of bounds
    (``grid_*``), and each cell takes its four corners from there (``hh`` its upper bounds of
    both items, ``lh`` the lower of the first and upper of the second, and so on): a 5 x 5 table
    has 36 grid points, against 100 cell corners.
    """

    pair: np.ndarray  # pair index of each cell
    count: np.ndarray
    n_pairs: int
    grid_pair: np.ndarray  # pair index of each grid point
    grid_a: np.ndarray  # the first item's bound at each grid point
    grid_b: np.ndarray
    hh: np.ndarray  # grid point of each cell's corners
    lh: np.ndarray
    hl: np.ndarray
    ll: np.ndarray


def _corners(cells: _Pairs, values: np.ndarray) -> np.ndarray:
    """f(hi_a, hi_b) − f(lo_a, hi_b) − f(hi_a, lo_b) + f(lo_a, lo_b) of each cell."""
    out: np.ndarray = values[cells.hh] - values[cells.lh] - values[cells.hl] + values[cells.ll]
    return out


def _probabilities(cells: _Pairs, rho: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r = rho[cells.grid_pair]
    p = _corners(cells, bivariate_normal_cdf(cells.grid_a, cells.grid_b, r))
    dp = _corners(cells, _bivariate_density(cells.grid_a, cells.grid_b, r))
    return np.clip(p, 1e-300, None), dp


def _loglik(cells: _Pairs, rho: np.ndarray) -> np.ndarray:
    r = rho[cells.grid_pair]
    p = np.clip(_corners(cells, bivariate_normal_cdf(cells.grid_a, cells.grid_b, r)), 1e-300, None)
    return np.bincount(cells.pair, cells.count * np.log(p), minlength=cells.n_pairs)


def _fit(cells: _Pairs, start: np.ndarray) -> tuple[np.ndarray, bool]:
    """Fisher scoring on every pair at once, halving a pair's step while its likelihood would
    fall; converged when no pair moves more than :data:`TOLERANCE`."""
    rho = np.clip(start, -0.99, 0.99)
    active = np.ones(cells.n_pairs, dtype=bool)
    n = np.bincount(cells.pair, cells.count, minlength=cells.n_pairs)
    current = _loglik(cells, rho)
    for _ in range(_MAX_ITERATIONS):
        p, dp = _probabilities(cells, rho)
        score = np.bincount(cells.pair, cells.count * dp / p, minlength=cells.n_pairs)
        info = n * np.bincount(cells.pair, dp * dp / p, minlength=cells.n_pairs)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.nan_to_num(np.where(active & (info > 0), score / info, 0.0))
        trial = np.clip(rho + step, -_BOUND, _BOUND)
        value = _loglik(cells, trial)
        worse = value < current - 1e-13 * np.abs(current)
        for _halving in range(60):
            if not worse.any():
                break
            step = np.where(worse, step / 2.0, step)
            trial = np.where(worse, np.clip(rho + step, -_BOUND, _BOUND), trial)
            value = np.where(worse, _loglik(cells, trial), value)
            worse = worse & (value < current - 1e-13 * np.abs(current))
        trial = np.where(worse, rho, trial)
        moved = np.abs(trial - rho)
        rho, current = trial, np.where(worse, current, value)
        active = active & (moved > TOLERANCE)
        if not active.any():
            return rho, True
    return rho, False


@one_blas_thread
def polychoric_matrix(
    data: pd.DataFrame | np.ndarray,
    *,
    names: Sequence[str] | None = None,
    method: Method = "lavaan",
) -> Polychoric:
    """Polychoric correlations and thresholds of ordinal columns (numbers; NaN missing).

    Parameters
    ----------
    data
        One column per item, its answers as numbers (any ordered codes; each column's observed
        values are its categories, in numeric order), missing as NaN.
    names
        Column names when ``data`` is an array.
    method
        ``"lavaan"`` (default) or ``"psych"``: the empty-cell convention (module docstring).

    Returns
    -------
    Polychoric

    Notes
    -----
    In R: ``lavaan::lavCor(x, ordered = names(x), missing = "pairwise")`` (``method="lavaan"``;
    with complete data the default ``missing = "listwise"`` is the same); thresholds as
    ``lavInspect(fit, "th")``. ``psych::polychoric(x, correct = 0)$rho`` and ``$tau``
    (``method="psych"``).
    """
    check_option("method", method, Method)
    if isinstance(data, pd.DataFrame):
        labels = [str(c) for c in data.columns]
        values = data.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        values = np.asarray(data, dtype=np.float64)
        if values.ndim != 2:
            raise AnalysisError("data must be a table: one column per item")
        labels = list(names) if names is not None else [f"V{j + 1}" for j in range(values.shape[1])]
    if len(labels) != values.shape[1]:
        raise AnalysisError(f"names has {len(labels)} entries for {values.shape[1]} columns")
    return polychoric_from_tables(pair_tables(values, labels), method=method)


def polychoric_from_tables(counted: PairTables, *, method: Method = "lavaan") -> Polychoric:
    """:class:`Polychoric` from the two-way tables of every pair (:func:`.tables.pair_tables`).

    The tables of several partitions add up (``+``), so the polychoric matrix of a partitioned
    cohort is this function of the merged tables; categories nobody chose are dropped first
    (each item's categories are its observed ones, as :func:`polychoric_matrix` uses).
    """
    check_option("method", method, Method)
    observed = counted.observed()
    labels = list(observed.columns)
    p = len(labels)
    n_obs = observed.n_rows
    categories = [np.asarray(levels, dtype=np.float64) for levels in observed.levels]
    offsets = observed.offsets
    tables = observed.counts.astype(np.float64)

    taus: list[np.ndarray] = []
    for j in range(p):
        block = np.diag(tables)[offsets[j] : offsets[j + 1]]
        taus.append(thresholds_of(block) if len(block) >= 2 else np.empty(0))

    # psych's polychoric uses each pair's own margins when the items' highest answers differ
    # (its "global set to FALSE"); otherwise, as lavaan, each item's own thresholds
    highest = {float(levels[-1]) for levels in categories if len(levels)}
    per_pair = method == "psych" and len(highest) > 1
    pair_index: list[tuple[int, int]] = []
    parts: dict[str, list[np.ndarray]] = {
        k: [] for k in ("pair", "n", "grid_pair", "grid_a", "grid_b", "hh", "lh", "hl", "ll")
    }
    grid_points = 0
    starts: list[float] = []
    rho_fixed: dict[tuple[int, int], float] = {}
    n_pairs = np.zeros((p, p), dtype=np.int64)
    for a in range(p):
        n_pairs[a, a] = int(np.diag(tables)[offsets[a] : offsets[a + 1]].sum())
        for b in range(a + 1, p):
            table = tables[offsets[a] : offsets[a + 1], offsets[b] : offsets[b + 1]].copy()
            total = int(table.sum())
            n_pairs[a, b] = n_pairs[b, a] = total
            if total == 0 or len(taus[a]) == 0 or len(taus[b]) == 0:
                continue
            tau_a, tau_b = taus[a], taus[b]
            if per_pair:
                table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
                if min(table.shape) < 2:
                    continue
                tau_a, tau_b = thresholds_of(table.sum(axis=1)), thresholds_of(table.sum(axis=0))
            if method == "lavaan" and table.shape == (2, 2):
                closed = _lavaan_two_by_two(table, tau_a, tau_b)
                if isinstance(closed, float):
                    rho_fixed[(a, b)] = closed
                    continue
                table = closed
            k = len(pair_index)
            pair_index.append((a, b))
            bounds_a = np.concatenate([[-np.inf], tau_a, [np.inf]])
            bounds_b = np.concatenate([[-np.inf], tau_b, [np.inf]])
            width = len(bounds_b)
            ia = np.repeat(np.arange(table.shape[0]), table.shape[1])  # each cell's row
            ib = np.tile(np.arange(table.shape[1]), table.shape[0])  # and column
            parts["pair"].append(np.full(table.size, k))
            parts["n"].append(table.ravel())
            parts["grid_pair"].append(np.full(len(bounds_a) * width, k))
            parts["grid_a"].append(np.repeat(bounds_a, width))
            parts["grid_b"].append(np.tile(bounds_b, len(bounds_a)))
            parts["hh"].append(grid_points + (ia + 1) * width + ib + 1)
            parts["lh"].append(grid_points + ia * width + ib + 1)
            parts["hl"].append(grid_points + (ia + 1) * width + ib)
            parts["ll"].append(grid_points + ia * width + ib)
            grid_points += len(bounds_a) * width
            starts.append(_pearson_of_table(table))

    rho = np.full((p, p), np.nan)
    for j in range(p):
        if len(taus[j]):
            rho[j, j] = 1.0
    converged = True
    if pair_index:
        cells = _Pairs(
            pair=np.concatenate(parts["pair"]),
            count=np.concatenate(parts["n"]),
            n_pairs=len(pair_index),
            grid_pair=np.concatenate(parts["grid_pair"]),
            grid_a=np.concatenate(parts["grid_a"]),
            grid_b=np.concatenate(parts["grid_b"]),
            hh=np.concatenate(parts["hh"]),
            lh=np.concatenate(parts["lh"]),
            hl=np.concatenate(parts["hl"]),
            ll=np.concatenate(parts["ll"]),
        )
        fitted, converged = _fit(cells, np.asarray(starts))
        for k, (a, b) in enumerate(pair_index):
            rho[a, b] = rho[b, a] = fitted[k]
    for (a, b), value in rho_fixed.items():
        rho[a, b] = rho[b, a] = value

    k_max = max((len(t) for t in taus), default=0)
    th = np.full((p, k_max), np.nan)
    for j, t in enumerate(taus):
        th[j, : len(t)] = t
    index = pd.Index(labels, name="item")
    return Polychoric(
        rho=pd.DataFrame(rho, index=index, columns=labels),
        thresholds=pd.DataFrame(th, index=index, columns=[f"t{i + 1}" for i in range(k_max)]),
        n_pairs=pd.DataFrame(n_pairs, index=index, columns=labels),
        categories={
            name: tuple(float(v) for v in levels)
            for name, levels in zip(labels, categories, strict=True)
        },
        method=method,
        n_obs=n_obs,
        converged=converged,
    )


def _lavaan_two_by_two(
    table: np.ndarray, tau_a: np.ndarray, tau_b: np.ndarray
) -> np.ndarray | float:
    """lavaan's rules for a 2×2 table (``lav_bvord_cor_twostep_fit``, zero.add = 0.5 with the
    margins kept): two empty cells give ρ = ±1; one empty cell moves 0.5 onto its diagonal (or off
    it), keeping the margins; an odds ratio of 1 gives ρ = 0; both thresholds 0 give the closed
    form −cos(2π n₁₁/N). Returns ρ when a rule fixes it, else the (adjusted) table to fit."""
    empty = table == 0
    if int(empty.sum()) == 2:
        return 1.0 if table[0, 0] > 0 else -1.0
    table = table.astype(np.float64).copy()
    if int(empty.sum()) == 1:
        shift = np.array([[0.5, -0.5], [-0.5, 0.5]])
        table += shift if (empty[0, 0] or empty[1, 1]) else -shift
    if table[0, 0] * table[1, 1] == table[0, 1] * table[1, 0]:
        return 0.0
    if tau_a[0] == 0.0 and tau_b[0] == 0.0:
        return float(-np.cos(2.0 * np.pi * table[0, 0] / table.sum()))
    return table


def _pearson_of_table(table: np.ndarray) -> float:
    """The Pearson correlation of the category ranks in a two-way table (the starting value)."""
    rows = np.arange(table.shape[0], dtype=np.float64)
    cols = np.arange(table.shape[1], dtype=np.float64)
    n = table.sum()
    mr = (table.sum(axis=1) @ rows) / n
    mc = (table.sum(axis=0) @ cols) / n
    cov = ((rows - mr)[:, None] * (cols - mc)[None, :] * table).sum() / n
    vr = (table.sum(axis=1) @ (rows - mr) ** 2) / n
    vc = (table.sum(axis=0) @ (cols - mc) ** 2) / n
    if vr <= 0 or vc <= 0:
        return 0.0
    return float(np.clip(cov / np.sqrt(vr * vc), -0.95, 0.95))


def polychoric(
    instrument: Instrument | str,
    responses: pd.DataFrame | Responses,
    *,
    items: Sequence[str] | None = None,
    keyed: bool = True,
    method: Method = "lavaan",
    **read: Unpack[ReadOptions],
) -> Polychoric:
    """Polychoric correlations and thresholds of an instrument's items.

    Parameters
    ----------
    instrument, responses
        As for :func:`~analysis.stats.reliability`: the answers validated once
        (:func:`surveytool.responses.read_responses`) or a raw table (its problems are kept in
        the result's ``problems``).
    items
        Which items (default: every item of some subscale, in instrument order).
    keyed
        Reverse-keyed items reversed first (default), so correlations read in the direction of
        their subscale; ``False`` gives the raw answers' correlations (a reversed item's ρ and
        thresholds only change sign).
    method
        ``"lavaan"`` (default) or ``"psych"``; see the module docstring.

    Notes
    -----
    In R: ``lavaan::lavCor(x, ordered = names(x), missing = "pairwise")`` or
    ``psych::polychoric(x, correct = 0)`` on the (keyed) items.
    """
    check_option("method", method, Method)
    plan, answers, problems = validated(instrument, responses, **read)
    if items is None:
        blocks = subscale_blocks(plan, include_unscored=False)
        columns = list(dict.fromkeys(int(j) for b in blocks for j in b.columns))
    else:
        position = {item: j for j, item in enumerate(plan.item_ids)}
        unknown = [i for i in items if i not in position]
        if unknown:
            raise AnalysisError(f"items not in the instrument: {', '.join(unknown)}")
        columns = [position[i] for i in items]
    matrix = keyed_matrix(plan, answers.values) if keyed else answers.values
    names = [plan.item_ids[j] for j in columns]
    result = polychoric_matrix(matrix[:, columns], names=names, method=method)
    return dataclasses.replace(result, problems=problems)


def ordinal_alpha(rho: pd.DataFrame) -> float:
    """Ordinal alpha: the standardized alpha of a polychoric matrix, k/(k−1)·(1 − k/ΣR).

    In R: ``psych::alpha(psych::polychoric(x)$rho)$total$raw_alpha``.
    """
    r = np.asarray(rho, dtype=np.float64)
    k = r.shape[0]
    if k < 2 or np.isnan(r).any():
        raise AnalysisError(
            "ordinal alpha needs at least two items with a complete polychoric matrix"
        )
    total = float(r.sum())
    return float(k / (k - 1) * (1.0 - float(np.trace(r)) / total))


def ordinal_reliability(
    instrument: Instrument | str,
    responses: pd.DataFrame | Responses,
    *,
    method: Method = "lavaan",
    **read: Unpack[ReadOptions],
) -> OrdinalReliability:
    """Ordinal alpha and one-factor ordinal omega of every subscale, from polychoric correlations
    of the keyed items (Zumbo, Gadermann & Zeisser 2007).

    They describe the latent continuous responses behind the categories, not the observed mean
    score; report them as *ordinal* alpha and omega, beside the usual ones. A subscale whose
    polychoric matrix is incomplete (a pair with no common answers, an item with one category)
    gets NaN.

    Notes
    -----
    In R, per subscale on the keyed items ``x``: ``rho <- lavaan::lavCor(x, ordered = names(x))``
    (or ``psych::polychoric(x, correct = 0)$rho``), then ``psych::alpha(rho)$total$raw_alpha``
    and ``psych::omega(rho, nfactors = 1)$omega.tot``.
    """
    from analysis.stats.reliability import one_factor_omega

    check_option("method", method, Method)
    plan, answers, problems = validated(instrument, responses, **read)
    blocks = subscale_blocks(plan, include_unscored=False)
    columns = list(dict.fromkeys(int(j) for b in blocks for j in b.columns))
    names = [plan.item_ids[j] for j in columns]
    poly = polychoric_matrix(
        keyed_matrix(plan, answers.values)[:, columns], names=names, method=method
    )
    rows = []
    for block in blocks:
        ids = [plan.item_ids[int(j)] for j in block.columns]
        r = poly.rho.loc[ids, ids]
        computable = len(ids) >= 2 and not bool(r.isna().to_numpy().any())
        rows.append(
            {
                "scale": block.name,
                "k": len(ids),
                "ordinal_alpha": ordinal_alpha(r) if computable else np.nan,
                "ordinal_omega_total": (
                    one_factor_omega(r.to_numpy()) if computable and len(ids) >= 3 else np.nan
                ),
                "n_pairs_min": int(poly.n_pairs.loc[ids, ids].to_numpy().min()),
            }
        )
    table = pd.DataFrame(rows).set_index("scale")
    return OrdinalReliability(scales=table, polychoric=poly, problems=problems)


@dataclass(frozen=True, repr=False)
class OrdinalReliability(Result):
    """Ordinal alpha and ordinal omega per subscale (``scales``), with the polychoric matrix they
    come from."""

    scales: pd.DataFrame
    polychoric: Polychoric

    def summary(self) -> pd.DataFrame:
        return self.scales


def ordinal_omega(poly: Polychoric, n_factors: int) -> Omega:
    """Schmid–Leiman omega of a polychoric matrix (ordinal omega hierarchical and total).

    In R: ``psych::omega(psych::polychoric(x)$rho, nfactors = n_factors, fm = "minres")``.
    """
    return omega_from_correlation(poly.rho, n_factors)
