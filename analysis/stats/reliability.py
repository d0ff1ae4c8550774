"""Reliability of subscales (psych's ``alpha``) and of the whole inventory (psych's ``omega``).

Formulas are FORMULAS.md, "Reliability of a subscale"; column names follow psych with ``_`` for
``.``. Items are reverse keyed on their *declared* range by surveytool's :class:`ScoringPlan`
before anything is computed (psych's ``alpha(keys = ...)`` would use the observed range).

Missing answers: C is the pairwise-complete covariance matrix (R's ``cov(x, use = "pairwise")``,
each pair with its own means) and R = cov2cor(C), as psych's ``alpha`` does; ``use="listwise"``
first drops, per subscale, every respondent with a missing item of that subscale (as
``psych::alpha(na.omit(x))``). The N of the standard error and the Feldt interval is the number of
rows, respondents with no answer included (psych's convention), or of complete rows for listwise.

Both functions read the answers once, as additive sums (:func:`sufficient_statistics`); the
sums of several partitions of a cohort can be added and passed instead of the answers.
"""

from __future__ import annotations

import dataclasses
import importlib
import operator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Unpack, cast

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.stats._factor import minres, order_and_sign, rotate
from analysis.stats._input import ReadOptions, check_read_options, validated, warn_problems
from analysis.stats._matrix import (
    UNSCORED,
    Block,
    BlockSums,
    ItemSums,
    PlainKeying,
    Use,
    cov_to_cor,
    item_sums,
    keyed_matrix,
    one_blas_thread,
    pairwise_cor,
    pairwise_covariance,
    smc,
    subscale_blocks,
)
from analysis.stats._options import check_option
from analysis.stats._result import Result
from surveytool.instrument.model import Instrument
from surveytool.instrument.registry import load_instrument
from surveytool.responses import Responses
from surveytool.scoring.engine import is_dask
from surveytool.scoring.plan import ScoringPlan

if TYPE_CHECKING:
    import dask.dataframe as dd

SCALE_COLUMNS = (
    "k",
    "n_rows",
    "raw_alpha",
    "std_alpha",
    "g6",
    "average_r",
    "median_r",
    "s_n",
    "ase",
    "alpha_ci_lower",
    "alpha_ci_upper",
    "omega_total",
    "mean",
    "sd",
)
ITEM_COLUMNS = (
    "reverse",
    "n",
    "mean",
    "sd",
    "raw_r",
    "std_r",
    "r_cor",
    "r_drop",
    "alpha_if_deleted",
)


@dataclass(frozen=True, repr=False)
class Reliability(Result):
    """Reliability of every subscale.

    ``scales`` (index: subscale id): ``k`` items, ``n_rows`` (the N of ``ase`` and the interval),
    ``raw_alpha``, ``std_alpha``, ``g6``, ``average_r``, ``median_r``, ``s_n``, ``ase``,
    ``alpha_ci_lower`` / ``alpha_ci_upper`` (Feldt, 95%), ``omega_total`` (one-factor model of the
    subscale), ``mean`` and ``sd`` of the respondents' mean keyed answer (psych's total).

    ``items`` (index: subscale, item): ``reverse``, ``n`` answered, ``mean`` and ``sd`` of the
    keyed item, ``raw_r``, ``std_r``, ``r_cor``, ``r_drop``, ``alpha_if_deleted``.

    ``covariances`` / ``correlations``: per subscale the keyed C and R = cov2cor(C).
    ``n_obs``: the rows of answers; ``problems``: what validating them found.
    """

    scales: pd.DataFrame
    items: pd.DataFrame
    covariances: dict[str, pd.DataFrame]
    correlations: dict[str, pd.DataFrame]
    use: Use
    n_obs: int

    def summary(self) -> pd.DataFrame:
        """``scales``: one row per subscale."""
        return self.scales


def sufficient_statistics(
    instrument: Instrument | str,
    responses: pd.DataFrame | Responses | dd.DataFrame,
    *,
    use: Use = "pairwise",
    **read: Unpack[ReadOptions],
) -> ItemSums:
    """Validate the answers and sum everything reliability and item statistics need, in one pass.

    The result is additive: ``sufficient_statistics(inst, part1) + sufficient_statistics(inst,
    part2)`` equals the sums of both parts (for a cohort split across files or workers). Pass it
    to :func:`reliability` and :func:`analysis.item_statistics` to read the answers only once.
    (No R equivalent: psych recomputes from the data in every function.)

    The sums keep the problems found in the answers (``.problems``; see :func:`reliability`).

    A Dask DataFrame of raw answers is summed partition by partition on Dask's current scheduler
    (each partition validated as :func:`surveytool.engine.scoring.read_partition` reads it, its
    sums a task, merged pairwise in a balanced tree): the same sums as the whole table in memory,
    and the same problems, each issue with its row's number in the whole frame (ids repeated
    across partitions quarantined as in memory; the issues listed partition by partition); one
    :class:`~analysis.errors.ResponseProblemsWarning` is raised here, none in the workers.
    """
    check_option("use", use, Use)
    if not isinstance(responses, pd.DataFrame | Responses) and is_dask(responses):
        return _dask_sums(instrument, responses, use, read)
    plan, answers, problems = validated(
        instrument, cast("pd.DataFrame | Responses", responses), **read
    )
    sums = item_sums(plan, answers.values, subscale_blocks(plan), use=use)
    return dataclasses.replace(sums, problems=problems)


def _dask_sums(
    instrument: Instrument | str, data: dd.DataFrame, use: Use, read: ReadOptions
) -> ItemSums:
    """:func:`sufficient_statistics` of a Dask DataFrame (see there)."""
    from analysis.stats._reduce import tree_reduce
    from surveytool.engine.scoring import read_responses_dask

    check_read_options(read)
    parts = read_responses_dask(
        instrument,
        data,
        id_column=read.get("id_column"),
        form=read.get("form"),
        group_columns=read.get("group_columns", ()),
        ignore_columns=read.get("ignore_columns", ()),
    )
    dask = importlib.import_module("dask")
    form = read.get("form")
    inst = load_instrument(instrument)
    sums = tree_reduce(
        [dask.delayed(_validated_sums)(inst, part, use, form) for part in parts], operator.add
    )
    if not isinstance(sums, ItemSums):  # pragma: no cover - dask returns what the task did
        raise TypeError(type(sums))
    warn_problems(sums.problems)
    return sums


def _validated_sums(
    instrument: Instrument, responses: Responses, use: Use, form: str | None
) -> ItemSums:
    """The sums of one partition's validated answers (a task: it does not warn)."""
    return sufficient_statistics(instrument, responses, use=use, form=form)


def _dask_omega(
    instrument: Instrument | str,
    data: dd.DataFrame,
    n_factors: int | None,
    use: Use,
    read: ReadOptions,
) -> Omega:
    """:func:`omega` of a Dask DataFrame: the keyed items' correlation matrix reduced over the
    partitions (:func:`analysis.stats._forms.dask_item_correlation`), then as in memory."""
    from analysis.stats._forms import dask_item_correlation

    inst = load_instrument(instrument)
    plan = ScoringPlan.build(inst, read.get("form"))
    blocks = subscale_blocks(plan, include_unscored=False)
    names = [plan.item_ids[j] for j in dict.fromkeys(int(j) for b in blocks for j in b.columns)]
    r, _, n_obs, problems = dask_item_correlation(inst, data, use, **read)  # the rows used
    factors = n_factors if n_factors is not None else len(blocks)
    fitted = omega_from_correlation(r.loc[names, names], factors)
    return dataclasses.replace(fitted, n_obs=n_obs, problems=problems)


def _feldt(alpha: float, n: int, k: int, level: float = 0.95) -> tuple[float, float]:
    """Feldt's interval: 1 − (1 − α)·F⁻¹(1 − p/2; N − 1, (N − 1)(k − 1)) and with p/2."""
    from scipy import stats

    p = 1.0 - level
    df1, df2 = n - 1, (n - 1) * (k - 1)
    if df1 < 1 or df2 < 1:
        return (np.nan, np.nan)
    lower = 1.0 - (1.0 - alpha) * float(stats.f.ppf(1.0 - p / 2.0, df1, df2))
    upper = 1.0 - (1.0 - alpha) * float(stats.f.ppf(p / 2.0, df1, df2))
    return lower, upper


def one_factor_omega(r: np.ndarray) -> float:
    """ω_t = (Σλ)² / ((Σλ)² + Σψ) of a one-factor minres model of R (ψ = 1 − λ²).

    Needs at least 3 items (fewer do not identify a factor). In R:
    ``f <- psych::fa(R, 1, fm = "minres"); sum(f$loadings)^2 / (sum(f$loadings)^2 +
    sum(f$uniquenesses))``. psych's ``omega(x, nfactors = 1)$omega.tot`` divides by ΣR instead of
    the model's total variance; the two agree when the one-factor model fits exactly.
    """
    if r.shape[0] < 3 or np.isnan(r).any():
        return float("nan")
    loadings, _ = minres(r, 1)
    lam = loadings[:, 0]
    common = float(lam.sum()) ** 2
    return common / (common + float(np.sum(1.0 - lam * lam)))


def alpha_from_covariance(cov: pd.DataFrame, n_rows: int) -> tuple[dict[str, float], pd.DataFrame]:
    """Scale statistics and the C/R-based item statistics of one scale, from its covariance.

    Parameters
    ----------
    cov
        Covariance matrix of the keyed items (k x k, k ≥ 2).
    n_rows
        N for ``ase`` and the Feldt interval.

    Returns
    -------
    (scale, items)
        ``scale``: raw_alpha = k/(k−1)·(1 − tr C/ΣC); std_alpha = k/(k−1)·(1 − k/ΣR);
        g6 = 1 − (k − Σ smc)/ΣR; average_r = (ΣR − k)/(k(k−1)); median_r over the lower triangle;
        s_n = k·r̄/(1 − r̄); ase = √(Q/N), Q = 2k²/((k−1)²(ΣC)³)·[ΣC·(tr CC + (tr C)²) −
        2·tr C·Σ(CC)]; Feldt 95% interval; omega_total (one factor).
        ``items``: std_r = Σ_j R_ij/√ΣR; r_cor the same with smc on R's diagonal;
        r_drop = (Σ_j C_ij − C_ii)/√(C_ii·ΣC[−i,−i]); alpha_if_deleted = raw_alpha of C[−i,−i].

    Notes
    -----
    In R: ``psych::alpha(C, n.obs = N)`` (on a covariance matrix).
    """
    c = cov.to_numpy(dtype=np.float64)
    k = c.shape[0]
    r = cov_to_cor(c)
    total = float(c.sum())
    trace = float(np.trace(c))
    sum_r = float(r.sum())
    scale: dict[str, float] = dict.fromkeys(SCALE_COLUMNS, np.nan)
    scale["k"] = k
    scale["n_rows"] = n_rows
    names = list(cov.index)
    items = pd.DataFrame(np.nan, index=pd.Index(names, name="item"), columns=list(ITEM_COLUMNS[5:]))
    if k < 2 or np.isnan(c).any() or not total > 0 or not sum_r > 0 or np.isnan(r).any():
        return scale, items  # not computable: fewer than two items, no pairs, or no variance
    f = k / (k - 1)
    raw_alpha = f * (1.0 - trace / total)
    squared_multiple = smc(r)
    average_r = (sum_r - k) / (k * (k - 1))
    cc = c @ c
    q = (2 * k**2 / ((k - 1) ** 2 * total**3)) * (
        total * (float(np.trace(cc)) + trace**2) - 2.0 * trace * float(cc.sum())
    )
    lower, upper = _feldt(raw_alpha, n_rows, k)
    scale.update(
        raw_alpha=raw_alpha,
        std_alpha=f * (1.0 - k / sum_r),
        g6=1.0 - (k - float(squared_multiple.sum())) / sum_r,
        average_r=average_r,
        median_r=float(np.median(r[np.tril_indices(k, -1)])),
        s_n=k * average_r / (1.0 - average_r),
        ase=float(np.sqrt(q / n_rows)) if q >= 0 else np.nan,
        alpha_ci_lower=lower,
        alpha_ci_upper=upper,
        omega_total=one_factor_omega(r),
    )
    column = c.sum(axis=0)
    diag = np.diag(c)
    rest = total - 2.0 * column + diag  # ΣC[−i,−i]
    rc = r.copy()
    np.fill_diagonal(rc, squared_multiple)
    items["std_r"] = r.sum(axis=0) / np.sqrt(sum_r)
    items["r_cor"] = rc.sum(axis=0) / np.sqrt(rc.sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        items["r_drop"] = (column - diag) / np.sqrt(diag * rest)
        items["alpha_if_deleted"] = (
            (k - 1) / (k - 2) * (1.0 - (trace - diag) / rest) if k > 2 else np.nan
        )
    return scale, items


def _block_reliability(
    b: BlockSums, sums: ItemSums
) -> tuple[dict[str, float], pd.DataFrame, np.ndarray]:
    ids = [sums.item_ids[j] for j in b.columns]
    cov, _ = pairwise_covariance(b)
    n_rows = sums.n_obs if sums.use == "pairwise" else round(float(b.part("d", "d")[0, 0]))
    scale, table = alpha_from_covariance(pd.DataFrame(cov, index=ids, columns=ids), n_rows)
    # item means, sds and the correlation of each item with the subscale mean (psych's total),
    # over the rows where the item is answered
    n_item = np.diag(b.part("a", "a"))
    sum_y = np.diag(b.part("y1", "a"))
    sum_yy = np.diag(b.part("y1", "y1"))
    sum_t = b.part("a", "t")[:, 0]
    sum_tt = b.part("a", "t2")[:, 0]
    sum_yt = b.part("y1", "t")[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        var_y = sum_yy - sum_y * sum_y / n_item
        var_t = sum_tt - sum_t * sum_t / n_item
        raw_r = (sum_yt - sum_y * sum_t / n_item) / np.sqrt(var_y * var_t)
        defined = float(b.part("d", "d")[0, 0])
        total_t = float(b.part("d", "t")[0, 0])
        total_tt = float(b.part("d", "t2")[0, 0])
        scale["mean"] = total_t / defined + b.mean_centre if defined > 0 else np.nan
        scale["sd"] = (
            float(np.sqrt((total_tt - total_t**2 / defined) / (defined - 1.0)))
            if defined > 1
            else np.nan
        )
        item_mean = sum_y / n_item + b.centre
    table.insert(0, "raw_r", raw_r)
    table.insert(0, "sd", np.sqrt(np.diag(cov)))
    table.insert(0, "mean", item_mean)
    table.insert(0, "n", n_item.astype(np.int64))
    table.insert(0, "reverse", sums.reverse[b.columns])
    return scale, table[list(ITEM_COLUMNS)], cov


@one_blas_thread
def reliability_from_sums(sums: ItemSums) -> Reliability:
    """:class:`Reliability` from :func:`sufficient_statistics` (for example of added partitions)."""
    scale_rows: dict[str, dict[str, float]] = {}
    item_tables = []
    covariances: dict[str, pd.DataFrame] = {}
    correlations: dict[str, pd.DataFrame] = {}
    for b in sums.blocks:
        if b.name == UNSCORED:
            continue
        scale, table, cov = _block_reliability(b, sums)
        scale_rows[b.name] = scale
        table.index = pd.MultiIndex.from_product(
            [[b.name], table.index], names=["subscale", "item"]
        )
        item_tables.append(table)
        ids = [sums.item_ids[j] for j in b.columns]
        covariances[b.name] = pd.DataFrame(cov, index=ids, columns=ids)
        correlations[b.name] = pd.DataFrame(cov_to_cor(cov), index=ids, columns=ids)
    scales = pd.DataFrame.from_dict(scale_rows, orient="index")[list(SCALE_COLUMNS)]
    scales.index.name = "subscale"
    scales[["k", "n_rows"]] = scales[["k", "n_rows"]].astype(np.int64)
    items = (
        pd.concat(item_tables)
        if item_tables
        else pd.DataFrame(
            columns=list(ITEM_COLUMNS),
            index=pd.MultiIndex.from_tuples([], names=["subscale", "item"]),
        )
    )
    return Reliability(
        scales=scales,
        items=items,
        covariances=covariances,
        correlations=correlations,
        use=sums.use,
        n_obs=sums.n_obs,
        problems=sums.problems,
    )


def reliability(
    instrument: Instrument | str,
    responses: pd.DataFrame | Responses | ItemSums | dd.DataFrame,
    *,
    use: Use = "pairwise",
    **read: Unpack[ReadOptions],
) -> Reliability:
    """Cronbach's alpha and the other reliability statistics of every subscale.

    Parameters
    ----------
    instrument
        The instrument (or a bundled id or path); its subscales, reverse keys and declared ranges.
    responses
        The validated answers, :func:`surveytool.responses.read_responses` (validate once, then
        any statistic), or :func:`sufficient_statistics`. A raw table (one column per item id,
        numbers or labels) is validated here: its problems are in the result's ``problems`` and
        a :class:`~analysis.errors.ResponseProblemsWarning` says how many. A Dask DataFrame of
        raw answers is summed partition by partition on Dask's current scheduler and gives the
        same result (within rounding, 1e-12) and the same problems, their rows numbered in the
        whole frame (see :func:`sufficient_statistics`).
    use
        ``"pairwise"`` (default) or ``"listwise"``; see the module docstring.
    **read
        How to read a raw table: ``id_column``, ``group_columns``, ``ignore_columns`` (as for
        :func:`surveytool.responses.read_responses`) and ``form`` (a short form's items only);
        see :class:`~analysis.stats.ReadOptions`.

    Returns
    -------
    Reliability
        ``.scales`` and ``.items``; see :class:`Reliability` and :func:`alpha_from_covariance`
        for every formula. ``raw_r`` correlates each item with the respondent's mean keyed answer
        over the answered items of the subscale (psych's total), pairwise. ``omega_total`` is the
        one-factor omega of the subscale (:func:`one_factor_omega`); for the Schmid–Leiman omega of
        the whole inventory see :func:`omega`. Item weights are not used (as psych).
        ``.problems``: count and codes of the problems in the answers (cells that were not valid
        answers entered as missing).

    Notes
    -----
    In R, per subscale on the keyed items: ``psych::alpha(x, use = "pairwise")``
    (``$total``, ``$feldt``, ``$item.stats``, ``$alpha.drop$raw_alpha``).

    Examples
    --------
    >>> responses = read_responses(load_instrument("ppai"), table)  # doctest: +SKIP
    >>> rel = reliability("ppai", responses)  # doctest: +SKIP
    >>> rel.scales[["raw_alpha", "alpha_ci_lower", "alpha_ci_upper"]]  # doctest: +SKIP
    """
    check_option("use", use, Use)
    if isinstance(responses, ItemSums):
        if responses.use != use:
            raise AnalysisError(f"the sums were made with use={responses.use!r}, not {use!r}")
        return reliability_from_sums(responses)
    sums = sufficient_statistics(
        instrument,
        responses,
        use=use,
        **read,
    )
    return reliability_from_sums(sums)


def scale_reliability(
    items: pd.DataFrame, *, use: Use = "pairwise", name: str = "scale"
) -> Reliability:
    """Reliability of one scale given as a table of already keyed items (no instrument needed).

    In R: ``psych::alpha(items, use = "pairwise")`` (or ``psych::alpha(na.omit(items))``).
    """
    values = items.to_numpy(dtype=np.float64, na_value=np.nan)
    keying = PlainKeying.of([str(c) for c in items.columns], values)
    block = Block(name, np.arange(values.shape[1], dtype=np.intp))
    sums = item_sums(keying, values, [block], use=use, powers=1, frequencies=False)
    return reliability_from_sums(sums)


# ---- omega of the inventory ---------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class Omega(Result):
    """McDonald's omega of the whole inventory from a Schmid–Leiman transformation.

    ``omega_h`` = (Σ g)²/V_t and ``omega_total`` = (V_t − Σ u²)/V_t with V_t = ΣR (after flipping
    items whose general loading is negative); ``alpha`` the standardized alpha of R.
    ``loadings``: per item ``g``, ``F1*``..``Fk*`` (group factors), ``h2``, ``u2``, ``p2`` (g²/h²);
    ``phi``: correlations of the oblique factors; ``flipped``: items reversed by the sign of g;
    ``n_obs``: the rows the correlations come from (None for a given correlation matrix).
    """

    omega_h: float
    omega_total: float
    alpha: float
    n_factors: int
    loadings: pd.DataFrame
    phi: pd.DataFrame
    flipped: tuple[str, ...]
    n_obs: int | None = None

    def summary(self) -> pd.DataFrame:
        """One row: ``omega_h``, ``omega_total``, ``alpha``, ``n_factors``, ``n_obs``."""
        return pd.DataFrame(
            {
                "omega_h": [self.omega_h],
                "omega_total": [self.omega_total],
                "alpha": [self.alpha],
                "n_factors": [self.n_factors],
                "n_obs": [self.n_obs],
            }
        )


@one_blas_thread
def omega_from_correlation(r: pd.DataFrame, n_factors: int, *, flip: bool = True) -> Omega:
    """Schmid–Leiman omega of a correlation matrix, as ``psych::omega(r, nfactors, fm = "minres")``.

    Steps (psych's ``schmid``): minres loadings with ``n_factors`` factors rotated by varimax;
    those rotated obliquely by oblimin (not normalised, GPArotation's default, as psych calls it);
    a one-factor minres model of the factor correlations Φ gives the general loadings of the group
    factors (with two factors both are √|φ₁₂|, psych's ``option = "equal"``); the items' general
    loadings are g = F·γ and their group loadings F·√(1 − γ²); h² and u² = 1 − h² are those of the
    unrotated solution.

    In R: ``psych::omega(r, nfactors = n_factors, fm = "minres", n.obs = N)``.
    """
    names = [str(c) for c in r.columns]
    matrix = np.asarray(r, dtype=np.float64)
    p = len(names)
    if not 1 <= n_factors < p:
        raise AnalysisError(f"n_factors must be between 1 and {p - 1}")
    unrotated, _ = minres(matrix, n_factors)
    h2 = np.sum(unrotated * unrotated, axis=1)
    orth, _ = rotate(unrotated, "varimax", normalize=True)
    # psych's fa() post-processing of the varimax solution: positive sums, by variance
    orth, _ = order_and_sign(orth, np.eye(n_factors))
    if n_factors == 1:
        pattern, phi, gamma = orth, np.eye(1), np.ones(1)
    else:
        pattern, phi = rotate(orth, "oblimin", normalize=False)
        if n_factors == 2:
            root = np.sqrt(abs(phi[0, 1]))
            gamma = np.array([root, np.sign(phi[0, 1]) * root])
        else:
            gamma = minres(phi, 1)[0][:, 0]
    general = pattern @ gamma
    group_sq = np.clip(pattern * pattern * (1.0 - gamma * gamma), 0.0, None)
    group = np.sign(pattern) * np.sqrt(group_sq)
    u2 = np.diag(matrix) - h2
    key = np.where(general < 0, -1.0, 1.0) if flip else np.ones(p)
    keyed = matrix * np.outer(key, key)
    general = general * key
    group = group * key[:, None]
    v_t = float(keyed.sum())
    factors = [f"F{i + 1}*" for i in range(n_factors)]
    with np.errstate(invalid="ignore", divide="ignore"):
        p2 = general * general / h2
    table = pd.DataFrame(
        np.column_stack([general, group, h2, u2, p2]),
        index=pd.Index(names, name="item"),
        columns=["g", *factors, "h2", "u2", "p2"],
    )
    v_items = float(np.trace(keyed))
    return Omega(
        omega_h=float(general.sum()) ** 2 / v_t,
        omega_total=(v_t - float(u2.sum())) / v_t,
        alpha=(v_t - v_items) / v_t * p / (p - 1),
        n_factors=n_factors,
        loadings=table,
        phi=pd.DataFrame(
            phi,
            index=[f"F{i + 1}" for i in range(n_factors)],
            columns=[f"F{i + 1}" for i in range(n_factors)],
        ),
        flipped=tuple(n for n, k in zip(names, key, strict=True) if k < 0),
    )


@one_blas_thread
def omega(
    instrument: Instrument | str,
    responses: pd.DataFrame | Responses,
    *,
    n_factors: int | None = None,
    use: Use = "pairwise",
    **read: Unpack[ReadOptions],
) -> Omega:
    """Omega hierarchical and omega total of the whole inventory (Schmid–Leiman).

    Parameters
    ----------
    instrument, responses
        As for :func:`reliability`; every item of some subscale enters, keyed.
    n_factors
        Group factors; default the number of subscales.
    use
        Correlations ``"pairwise"`` (default, as psych) or ``"listwise"``.

    Returns
    -------
    Omega
        See :func:`omega_from_correlation`.

    Notes
    -----
    In R: ``psych::omega(keyed, nfactors = n_factors, fm = "minres")`` (``$omega_h``,
    ``$omega.tot``, ``$schmid$sl``).
    """
    check_option("use", use, Use)
    if not isinstance(responses, pd.DataFrame | Responses) and is_dask(responses):
        return _dask_omega(instrument, responses, n_factors, use, read)
    plan, answers, problems = validated(instrument, responses, **read)
    blocks = subscale_blocks(plan, include_unscored=False)
    columns = list(dict.fromkeys(int(j) for b in blocks for j in b.columns))
    values = keyed_matrix(plan, answers.values)[:, columns]
    if use == "listwise":
        values = values[~np.isnan(values).any(axis=1)]
    r, _ = pairwise_cor(values)
    names = [plan.item_ids[j] for j in columns]
    factors = n_factors if n_factors is not None else len(blocks)
    fitted = omega_from_correlation(pd.DataFrame(r, index=names, columns=names), factors)
    return dataclasses.replace(fitted, n_obs=len(values), problems=problems)
