"""Exploratory factor analysis: extraction, rotation, parallel analysis, KMO and Bartlett.

Conventions (FORMULAS.md, "Factor analysis"), each matching psych 2.2.9 with GPArotation:

- the correlation matrix is pairwise-complete Pearson, ``cor(x, use = "pairwise")``;
- **minres** (psych's default ``fm = "minres"``) minimises the unweighted least-squares residual
  ½‖R − ΛΛᵀ − Ψ‖² over the uniquenesses Ψ (L-BFGS-B, bounds 0.005..1, start 1 − smc, the
  gradient diag(ΛΛᵀ + Ψ − R) psych uses); Λ are the first eigenvectors of R − Ψ scaled by the
  square roots of their eigenvalues;
- **principal axis** (``fm = "pa"``) iterates communalities from the squared multiple
  correlations until their sum changes by less than ``min_err`` (0.001), at most 50 times, as
  psych does (so it matches psych's early stop, not the fixed point);
- **oblimin** (γ = 0) by the gradient projection algorithm of statsmodels; with ``normalize=True``
  (the default, FORMULAS.md) rows are Kaiser-normalised before rotating, as
  ``GPArotation::oblimin(L, normalize = TRUE)``. Note: ``psych::fa(..., rotate = "oblimin")``
  passes no ``normalize``, and GPArotation's default is ``FALSE``; use ``normalize=False`` to get
  psych's default numbers;
- after rotation, as psych: every factor's column sum is made positive and factors are ordered by
  the variance they account for, diag(Φ ΛᵀΛ).

Loadings from two programs agree only up to the order and sign of the factors; compare with
:func:`match_factors`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.stats._factor import Method, Rotation, minres, order_and_sign, principal_axis, rotate
from analysis.stats._forms import takes_responses
from analysis.stats._matrix import Use, inverse, one_blas_thread, pairwise_cor
from analysis.stats._options import RandomState, check_option, generator
from analysis.stats._result import Result

# ---- results ------------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class EFAResult(Result):
    """An exploratory factor analysis.

    ``loadings`` (pattern) and ``structure`` (= pattern · Φ) are items x factors ``F1``..;
    ``phi`` the factor correlations; ``communalities`` has ``communality`` (h², row sums of the
    squared unrotated loadings) and ``uniqueness`` (1 − h²); ``variance`` per factor has
    ``ss_loadings`` = diag(Φ ΛᵀΛ), ``proportion_var`` (÷ number of items), ``cumulative_var``,
    ``proportion_explained`` (÷ Σ ss) and ``cumulative_proportion``, as psych's ``Vaccounted``;
    ``eigenvalues`` of R (``e.values``) and of the reduced matrix with the communalities on its
    diagonal (``values``).
    """

    loadings: pd.DataFrame
    structure: pd.DataFrame
    phi: pd.DataFrame
    communalities: pd.DataFrame
    variance: pd.DataFrame
    eigenvalues: pd.DataFrame
    method: str
    rotation: str
    normalize: bool
    n_obs: int | None
    converged: bool

    def summary(self) -> pd.DataFrame:
        """Per item: the pattern loadings, ``communality`` and ``uniqueness``."""
        return self.loadings.join(self.communalities)


@one_blas_thread
def efa_from_correlation(
    r: pd.DataFrame,
    n_factors: int,
    *,
    method: Method = "minres",
    rotation: Rotation = "oblimin",
    normalize: bool = True,
    n_obs: int | None = None,
) -> EFAResult:
    """Factor analysis of a correlation matrix (see the module docstring for every convention).

    In R: ``psych::fa(r, nfactors, fm = "minres", rotate = "oblimin", normalize = TRUE)``.
    """
    names = [str(c) for c in r.columns]
    matrix = np.asarray(r, dtype=np.float64)
    if matrix.shape != (len(names), len(names)):
        raise AnalysisError("the correlation matrix must be square")
    if not 1 <= n_factors <= len(names):
        raise AnalysisError(f"n_factors must be between 1 and {len(names)}")
    if np.isnan(matrix).any():
        raise AnalysisError(
            "the correlation matrix has missing values (a pair of items never answered together)"
        )
    check_option("method", method, Method)
    check_option("rotation", rotation, Rotation)
    if method == "minres":
        unrotated, converged = minres(matrix, n_factors)
    else:
        unrotated, converged = principal_axis(matrix, n_factors)
    communality = np.sum(unrotated * unrotated, axis=1)
    reduced = matrix.copy()
    np.fill_diagonal(reduced, communality)
    rotated, phi = rotate(unrotated, rotation, normalize=normalize)
    rotated, phi = order_and_sign(rotated, phi)
    factors = [f"F{i + 1}" for i in range(n_factors)]
    ss = np.diag(phi @ rotated.T @ rotated)
    total = float(np.trace(matrix))  # Σ (communality + uniqueness), psych's vtotal
    variance = pd.DataFrame(
        {
            "ss_loadings": ss,
            "proportion_var": ss / total,
            "cumulative_var": np.cumsum(ss) / total,
            "proportion_explained": ss / ss.sum(),
            "cumulative_proportion": np.cumsum(ss) / ss.sum(),
        },
        index=pd.Index(factors, name="factor"),
    )
    eigen = pd.DataFrame(
        {
            "eigenvalue": np.sort(np.linalg.eigvalsh(matrix))[::-1],
            "common_factor_eigenvalue": np.sort(np.linalg.eigvalsh(reduced))[::-1],
        },
        index=pd.RangeIndex(1, len(names) + 1, name="number"),
    )
    index = pd.Index(names, name="item")
    return EFAResult(
        loadings=pd.DataFrame(rotated, index=index, columns=factors),
        structure=pd.DataFrame(rotated @ phi, index=index, columns=factors),
        phi=pd.DataFrame(phi, index=pd.Index(factors, name="factor"), columns=factors),
        communalities=pd.DataFrame(
            {"communality": communality, "uniqueness": np.diag(matrix) - communality},
            index=index,
        ),
        variance=variance,
        eigenvalues=eigen,
        method=method,
        rotation=rotation,
        normalize=normalize,
        n_obs=n_obs,
        converged=converged,
    )


@one_blas_thread
def correlation_matrix(items: pd.DataFrame, *, use: Use = "pairwise") -> pd.DataFrame:
    """Pearson correlations of the item columns, pairwise-complete (default) or listwise.

    In R: ``cor(x, use = "pairwise")`` (or ``"complete.obs"``). Vectorised: one pass of matrix
    products of the zero-filled data and the answered mask.
    """
    check_option("use", use, Use)
    values = items.to_numpy(dtype=np.float64, na_value=np.nan)
    if use == "listwise":
        values = values[~np.isnan(values).any(axis=1)]
    r, _ = pairwise_cor(values)
    names = [str(c) for c in items.columns]
    return pd.DataFrame(r, index=names, columns=names)


def _efa_of_correlation(
    r: pd.DataFrame,
    n_obs: int,
    n_factors: int,
    *,
    method: Method = "minres",
    rotation: Rotation = "oblimin",
    normalize: bool = True,
) -> EFAResult:
    return efa_from_correlation(
        r, n_factors, method=method, rotation=rotation, normalize=normalize, n_obs=n_obs
    )


@takes_responses("items", dask=_efa_of_correlation)
def efa(
    items: pd.DataFrame,
    n_factors: int,
    *,
    method: Method = "minres",
    rotation: Rotation = "oblimin",
    normalize: bool = True,
    use: Use = "pairwise",
) -> EFAResult:
    """Exploratory factor analysis of item answers (keyed: see :func:`analysis.keyed_items`).

    Parameters
    ----------
    items
        One column per item, one row per respondent, NaN for missing.
    n_factors
        Factors to extract (see :func:`parallel_analysis` for a suggestion).
    method
        ``"minres"`` (default) or ``"pa"`` (principal axis).
    rotation
        ``"oblimin"`` (default, γ = 0, oblique), ``"varimax"`` or ``"none"``.
    normalize
        Kaiser normalisation of the rotation (default ``True``, FORMULAS.md; psych's own
        default is ``False``).
    use
        ``"pairwise"`` (default) or ``"listwise"`` correlations.

    Returns
    -------
    EFAResult

    Notes
    -----
    In R: ``psych::fa(x, nfactors, fm = "minres", rotate = "oblimin", normalize = TRUE)``.
    """
    r = correlation_matrix(items, use=use)
    return efa_from_correlation(
        r, n_factors, method=method, rotation=rotation, normalize=normalize, n_obs=len(items)
    )


def match_factors(
    ours: pd.DataFrame, reference: pd.DataFrame
) -> tuple[pd.DataFrame, list[int], np.ndarray]:
    """Reorder and re-sign ``ours`` (items x factors) to best match ``reference``.

    Factors are matched greedily by the largest absolute congruence; returns the aligned loadings,
    the chosen column of ``ours`` for each reference column, and the signs applied.
    In R: ``psych::factor.congruence(ours, reference)`` gives the congruences matched here.
    """
    a = ours.to_numpy(dtype=np.float64)
    b = reference.to_numpy(dtype=np.float64)
    norms = np.linalg.norm(a, axis=0)[:, None] * np.linalg.norm(b, axis=0)[None, :]
    congruence = (a.T @ b) / norms
    chosen = [-1] * b.shape[1]
    taken: set[int] = set()
    for _ in range(b.shape[1]):
        masked = np.abs(congruence).copy()
        masked[list(taken), :] = -1
        masked[:, [j for j in range(b.shape[1]) if chosen[j] >= 0]] = -1
        i, j = np.unravel_index(int(np.argmax(masked)), masked.shape)
        chosen[int(j)] = int(i)
        taken.add(int(i))
    signs = np.array([np.sign(congruence[chosen[j], j]) or 1.0 for j in range(b.shape[1])])
    aligned = pd.DataFrame(a[:, chosen] * signs, index=ours.index, columns=reference.columns)
    return aligned, chosen, signs


# ---- number of factors --------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class ParallelAnalysis(Result):
    """Horn's parallel analysis (psych's ``fa.parallel`` with simulated normal data).

    ``eigenvalues`` by number: ``pc`` (eigenvalues of R), ``fa`` (of R with the one-factor minres
    communalities on its diagonal), and the mean and ``quantile`` of the same from random data;
    ``n_factors`` / ``n_components``: the number of observed eigenvalues that exceed the random
    quantile before the first that does not.
    """

    eigenvalues: pd.DataFrame
    n_factors: int
    n_components: int
    n_iter: int
    quantile: float
    n_obs: int
    random_state: int | None

    def summary(self) -> pd.DataFrame:
        """``eigenvalues``: observed and simulated, by number."""
        return self.eigenvalues


def _fa_values(r: np.ndarray) -> np.ndarray:
    loadings, _ = minres(r, 1)
    reduced = r.copy()
    np.fill_diagonal(reduced, np.sum(loadings * loadings, axis=1))
    return np.sort(np.linalg.eigvalsh(reduced))[::-1]


def _random_correlation(rng: np.random.Generator, n_obs: int, p: int) -> np.ndarray:
    """The correlation matrix of n_obs independent standard normal p-vectors.

    Drawn through its scatter matrix, which is Wishart(n − 1, I) (Bartlett decomposition), so it
    costs O(p³) whatever n is; the distribution is that of ``cor(matrix(rnorm(n * p), n))``.
    """
    from scipy import stats

    scatter = stats.wishart(df=n_obs - 1, scale=np.eye(p)).rvs(random_state=rng)
    scatter = np.atleast_2d(np.asarray(scatter, dtype=np.float64))
    sd = np.sqrt(np.diag(scatter))
    out: np.ndarray = scatter / np.outer(sd, sd)
    return out


def _parallel_of_correlation(
    r: pd.DataFrame,
    n_rows: int,
    *,
    n_iter: int = 20,
    quantile: float = 0.95,
    random_state: RandomState = 0,
    n_obs: int | None = None,
) -> ParallelAnalysis:
    return parallel_analysis_from_correlation(
        r,
        n_obs if n_obs is not None else n_rows,
        n_iter=n_iter,
        quantile=quantile,
        random_state=random_state,
    )


@takes_responses("items", dask=_parallel_of_correlation)
@one_blas_thread
def parallel_analysis(
    items: pd.DataFrame,
    *,
    n_iter: int = 20,
    quantile: float = 0.95,
    random_state: RandomState = 0,
    use: Use = "pairwise",
    n_obs: int | None = None,
) -> ParallelAnalysis:
    """Suggest the number of factors and of components (Horn 1965), as ``psych::fa.parallel``.

    Observed eigenvalues are compared with the ``quantile`` (default 0.95, psych's ``quant``) of
    those of ``n_iter`` correlation matrices of normal random data of the same size (``n_obs``,
    default the number of rows, as psych). Seeded: the same ``random_state`` (an int, a numpy
    Generator, or None for fresh entropy; default 0) gives the same answer.
    psych also resamples the data; only the simulated comparison, which psych's suggestion uses,
    is done here.

    In R: ``psych::fa.parallel(x, fa = "both", n.iter = 20)$nfact`` and ``$ncomp``.
    """
    r = correlation_matrix(items, use=use)
    return parallel_analysis_from_correlation(
        r,
        n_obs if n_obs is not None else len(items),
        n_iter=n_iter,
        quantile=quantile,
        random_state=random_state,
    )


@one_blas_thread
def parallel_analysis_from_correlation(
    correlation: pd.DataFrame,
    n_obs: int,
    *,
    n_iter: int = 20,
    quantile: float = 0.95,
    random_state: RandomState = 0,
) -> ParallelAnalysis:
    """:func:`parallel_analysis` of a correlation matrix of ``n_obs`` respondents.

    For example the pairwise correlations of merged partitions
    (:meth:`analysis.stats.moments.Moments.correlation`). In R:
    ``psych::fa.parallel(R, n.obs = n_obs, fa = "both", n.iter = 20)``.
    """
    r = correlation.to_numpy(dtype=np.float64)
    p = r.shape[0]
    n = n_obs
    if n <= p:
        raise AnalysisError("parallel analysis needs more respondents than items")
    rng = generator(random_state)
    pc_observed = np.sort(np.linalg.eigvalsh(r))[::-1]
    fa_observed = _fa_values(r)
    sim_pc = np.empty((n_iter, p))
    sim_fa = np.empty((n_iter, p))
    for i in range(n_iter):
        random_r = _random_correlation(rng, n, p)
        sim_pc[i] = np.sort(np.linalg.eigvalsh(random_r))[::-1]
        sim_fa[i] = _fa_values(random_r)
    pc_q = np.quantile(sim_pc, quantile, axis=0)
    fa_q = np.quantile(sim_fa, quantile, axis=0)

    def first_not_above(observed: np.ndarray, reference: np.ndarray) -> int:
        below = np.flatnonzero(~(observed > reference))
        return int(below[0]) if len(below) else len(observed)

    table = pd.DataFrame(
        {
            "pc": pc_observed,
            "fa": fa_observed,
            "sim_pc_mean": sim_pc.mean(axis=0),
            "sim_pc_quantile": pc_q,
            "sim_fa_mean": sim_fa.mean(axis=0),
            "sim_fa_quantile": fa_q,
        },
        index=pd.RangeIndex(1, p + 1, name="number"),
    )
    return ParallelAnalysis(
        eigenvalues=table,
        n_factors=first_not_above(fa_observed, fa_q),
        n_components=first_not_above(pc_observed, pc_q),
        n_iter=n_iter,
        quantile=quantile,
        n_obs=n,
        random_state=random_state if isinstance(random_state, int) else None,
    )


# ---- sampling adequacy --------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class KMO(Result):
    """Kaiser–Meyer–Olkin measure of sampling adequacy: ``overall`` and per item (``items``)."""

    overall: float
    items: pd.Series
    n_obs: int

    def summary(self) -> pd.DataFrame:
        """``msa`` per item and, last, ``overall``."""
        table = self.items.to_frame("msa")
        table.loc["overall"] = self.overall
        return table


def _kmo_of_correlation(r: pd.DataFrame, n_obs: int) -> KMO:
    return kmo_from_correlation(r, n_obs)


@takes_responses("items", dask=_kmo_of_correlation)
@one_blas_thread
def kmo(items: pd.DataFrame, *, use: Use = "pairwise") -> KMO:
    """KMO = Σ_{i≠j} r²_ij / (Σ_{i≠j} r²_ij + Σ_{i≠j} q²_ij), q the partial correlations.

    q_ij = −(R⁻¹)_ij / √((R⁻¹)_ii (R⁻¹)_jj); per item the same sums over its column.
    In R: ``psych::KMO(x)`` (``$MSA``, ``$MSAi``).
    """
    return kmo_from_correlation(correlation_matrix(items, use=use), len(items))


@one_blas_thread
def kmo_from_correlation(correlation: pd.DataFrame, n_obs: int) -> KMO:
    """:func:`kmo` of a correlation matrix of ``n_obs`` respondents. In R: ``psych::KMO(R)``."""
    r = correlation
    matrix = r.to_numpy(dtype=np.float64)
    inv = inverse(matrix)
    d = np.sqrt(np.diag(inv))
    partial = inv / np.outer(d, d)
    np.fill_diagonal(partial, 0.0)
    off = matrix.copy()
    np.fill_diagonal(off, 0.0)
    r2 = off * off
    q2 = partial * partial
    overall = float(r2.sum() / (r2.sum() + q2.sum()))
    per_item = r2.sum(axis=0) / (r2.sum(axis=0) + q2.sum(axis=0))
    return KMO(overall=overall, items=pd.Series(per_item, index=r.index, name="msa"), n_obs=n_obs)


@dataclass(frozen=True, repr=False)
class Bartlett(Result):
    """Bartlett's test that the correlation matrix is an identity matrix.

    ``statistic``: the χ² statistic; ``df``, ``pvalue``, ``n_obs``.
    """

    statistic: float
    df: int
    pvalue: float
    n_obs: int

    def summary(self) -> pd.DataFrame:
        """One row: ``statistic``, ``df``, ``pvalue``, ``n_obs``."""
        return pd.DataFrame(
            {
                "statistic": [self.statistic],
                "df": [self.df],
                "pvalue": [self.pvalue],
                "n_obs": [self.n_obs],
            }
        )


def _bartlett_of_correlation(r: pd.DataFrame, n_rows: int, *, n_obs: int | None = None) -> Bartlett:
    return bartlett_from_correlation(r, n_obs if n_obs is not None else n_rows)


@takes_responses("items", dask=_bartlett_of_correlation)
@one_blas_thread
def bartlett_sphericity(
    items: pd.DataFrame, *, use: Use = "pairwise", n_obs: int | None = None
) -> Bartlett:
    """χ² = −(n − 1 − (2p + 5)/6) · ln|R|, df = p(p − 1)/2.

    n is the number of rows unless given. In R: ``psych::cortest.bartlett(R, n)``.
    """
    r = correlation_matrix(items, use=use)
    return bartlett_from_correlation(r, n_obs if n_obs is not None else len(items))


@one_blas_thread
def bartlett_from_correlation(correlation: pd.DataFrame, n_obs: int) -> Bartlett:
    """:func:`bartlett_sphericity` of a correlation matrix of ``n_obs`` respondents.

    In R: ``psych::cortest.bartlett(R, n = n_obs)``.
    """
    from scipy import stats

    r = correlation.to_numpy(dtype=np.float64)
    p = r.shape[0]
    n = n_obs
    sign, logdet = np.linalg.slogdet(r)
    if sign <= 0:
        raise AnalysisError("the correlation matrix is not positive definite")
    chisq = -float(logdet) * (n - 1 - (2 * p + 5) / 6)
    df = p * (p - 1) // 2
    return Bartlett(statistic=chisq, df=df, pvalue=float(stats.chi2.sf(chisq, df)), n_obs=n)
