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
from typing import Literal

import numpy as np
import pandas as pd

from analysis._matrix import inverse, one_blas_thread, pairwise_cor, smc
from analysis.errors import AnalysisError

Method = Literal["minres", "pa"]
Rotation = Literal["oblimin", "varimax", "none"]

#: Gradient-norm stop of the rotation (GPArotation stops at 1e-5; smaller values stall in the
#: line search of statsmodels' GPA without improving the loadings).
ROTATION_TOL = 1e-6
ROTATION_MAX_ITER = 2000


# ---- extraction ---------------------------------------------------------------------------------


def _top_loadings(reduced: np.ndarray, n_factors: int, *, clip: bool = True) -> np.ndarray:
    values, vectors = np.linalg.eigh(reduced)
    order = np.argsort(values)[::-1][:n_factors]
    top = values[order]
    scale = np.sqrt(np.maximum(top, 0.0)) if clip else np.sqrt(top)
    loadings: np.ndarray = vectors[:, order] * scale
    return loadings


def _uls(psi: np.ndarray, r: np.ndarray, n_factors: int) -> tuple[float, np.ndarray]:
    reduced = r - np.diag(psi)
    loadings = _top_loadings(reduced, n_factors)
    residual = reduced - loadings @ loadings.T
    return 0.5 * float(np.sum(residual * residual)), -np.diag(residual).copy()


def minres(r: np.ndarray, n_factors: int) -> tuple[np.ndarray, bool]:
    """Minimum-residual (ULS) loadings, unrotated, and whether the optimiser converged.

    In R: ``psych::fa(r, nfactors, fm = "minres", rotate = "none")$loadings``.
    """
    from scipy import optimize

    start_smc = smc(r)
    upper = max(float(start_smc.max()), 1.0)
    start = np.clip(np.diag(r) - start_smc, 0.005, upper)
    result = optimize.minimize(
        _uls,
        start,
        args=(r, n_factors),
        jac=True,
        method="L-BFGS-B",
        bounds=[(0.005, upper)] * len(start),
        options={"ftol": 1e-15, "gtol": 1e-11, "maxiter": 10_000},
    )
    loadings = _top_loadings(r - np.diag(result.x), n_factors)
    return _sign_columns(loadings), bool(result.success)


def principal_axis(
    r: np.ndarray, n_factors: int, *, min_err: float = 0.001, max_iter: int = 50
) -> tuple[np.ndarray, bool]:
    """Iterated principal axis loadings, as ``psych::fa(r, nfactors, fm = "pa")``.

    Starts from the squared multiple correlations and stops when the total communality changes
    by less than ``min_err`` or after ``max_iter`` iterations (psych's defaults).
    """
    reduced = r.copy()
    np.fill_diagonal(reduced, smc(r))
    total = float(np.trace(reduced))
    loadings = np.zeros((len(r), n_factors))
    converged = False
    for _ in range(max_iter):
        loadings = _top_loadings(reduced, n_factors, clip=False)
        communality = np.sum(loadings * loadings, axis=1)
        new_total = float(communality.sum())
        np.fill_diagonal(reduced, communality)
        change = abs(total - new_total)
        total = new_total
        if not change > min_err:
            converged = True
            break
    return _sign_columns(loadings), converged


def _sign_columns(loadings: np.ndarray) -> np.ndarray:
    signs = np.sign(loadings.sum(axis=0))
    signs[signs == 0] = 1.0
    out: np.ndarray = loadings * signs
    return out


# ---- rotation -----------------------------------------------------------------------------------


def rotate(
    loadings: np.ndarray, rotation: Rotation = "oblimin", *, normalize: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Rotated loadings and factor correlations Φ (identity for orthogonal rotations).

    ``oblimin`` is quartimin (γ = 0), oblique; ``varimax`` orthogonal. With ``normalize`` the rows
    are divided by √h² before and multiplied back after (Kaiser).
    In R: ``GPArotation::oblimin(L, normalize = TRUE)``; ``stats::varimax(L)``.
    """
    from statsmodels.multivariate.factor_rotation import (  # type: ignore[import-untyped]
        rotate_factors,
    )

    n_factors = loadings.shape[1]
    if rotation == "none" or n_factors < 2:
        return loadings.copy(), np.eye(n_factors)
    weights = np.sqrt(np.sum(loadings * loadings, axis=1)) if normalize else None
    start = loadings / weights[:, None] if weights is not None else loadings
    if rotation == "varimax":
        rotated, _ = rotate_factors(start, "varimax", tol=ROTATION_TOL, max_tries=ROTATION_MAX_ITER)
        phi = np.eye(n_factors)
    elif rotation == "oblimin":
        rotated, t = rotate_factors(
            start, "oblimin", 0.0, "oblique", tol=ROTATION_TOL, max_tries=ROTATION_MAX_ITER
        )
        phi = t.T @ t
    else:
        raise AnalysisError(f"unknown rotation {rotation!r}; use oblimin, varimax or none")
    out = np.asarray(rotated, dtype=np.float64)
    if weights is not None:
        out = out * weights[:, None]
    return out, np.asarray(phi, dtype=np.float64)


def _order_and_sign(loadings: np.ndarray, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """psych's post-processing: positive column sums, factors by variance accounted for."""
    signs = np.sign(loadings.sum(axis=0))
    signs[signs == 0] = 1.0
    loadings = loadings * signs
    phi = phi * np.outer(signs, signs)
    explained = np.diag(phi @ loadings.T @ loadings)
    order = np.argsort(-explained, kind="stable")
    return loadings[:, order], phi[np.ix_(order, order)]


# ---- results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EFAResult:
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
    if method == "minres":
        unrotated, converged = minres(matrix, n_factors)
    elif method == "pa":
        unrotated, converged = principal_axis(matrix, n_factors)
    else:
        raise AnalysisError(f"unknown method {method!r}; use minres or pa")
    communality = np.sum(unrotated * unrotated, axis=1)
    reduced = matrix.copy()
    np.fill_diagonal(reduced, communality)
    rotated, phi = rotate(unrotated, rotation, normalize=normalize)
    rotated, phi = _order_and_sign(rotated, phi)
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
def correlation_matrix(items: pd.DataFrame, *, use: str = "pairwise") -> pd.DataFrame:
    """Pearson correlations of the item columns, pairwise-complete (default) or listwise.

    In R: ``cor(x, use = "pairwise")`` (or ``"complete.obs"``). Vectorised: one pass of matrix
    products of the zero-filled data and the answered mask.
    """
    values = items.to_numpy(dtype=np.float64, na_value=np.nan)
    if use == "listwise":
        values = values[~np.isnan(values).any(axis=1)]
    elif use != "pairwise":
        raise AnalysisError(f"use must be 'pairwise' or 'listwise', not {use!r}")
    r, _ = pairwise_cor(values)
    names = [str(c) for c in items.columns]
    return pd.DataFrame(r, index=names, columns=names)


def efa(
    items: pd.DataFrame,
    n_factors: int,
    *,
    method: Method = "minres",
    rotation: Rotation = "oblimin",
    normalize: bool = True,
    use: str = "pairwise",
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


@dataclass(frozen=True)
class ParallelAnalysis:
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
    seed: int


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


@one_blas_thread
def parallel_analysis(
    items: pd.DataFrame,
    *,
    n_iter: int = 20,
    quantile: float = 0.95,
    seed: int = 0,
    use: str = "pairwise",
    n_obs: int | None = None,
) -> ParallelAnalysis:
    """Suggest the number of factors and of components (Horn 1965), as ``psych::fa.parallel``.

    Observed eigenvalues are compared with the ``quantile`` (default 0.95, psych's ``quant``) of
    those of ``n_iter`` correlation matrices of normal random data of the same size (``n_obs``,
    default the number of rows, as psych). Seeded: the same ``seed`` gives the same answer.
    psych also resamples the data; only the simulated comparison, which psych's suggestion uses,
    is done here.

    In R: ``psych::fa.parallel(x, fa = "both", n.iter = 20)$nfact`` and ``$ncomp``.
    """
    r = correlation_matrix(items, use=use).to_numpy()
    p = r.shape[0]
    n = n_obs if n_obs is not None else len(items)
    if n <= p:
        raise AnalysisError("parallel analysis needs more respondents than items")
    rng = np.random.default_rng(seed)
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
        seed=seed,
    )


# ---- sampling adequacy --------------------------------------------------------------------------


@dataclass(frozen=True)
class KMO:
    """Kaiser–Meyer–Olkin measure of sampling adequacy: overall and per item."""

    overall: float
    items: pd.Series


@one_blas_thread
def kmo(items: pd.DataFrame, *, use: str = "pairwise") -> KMO:
    """KMO = Σ_{i≠j} r²_ij / (Σ_{i≠j} r²_ij + Σ_{i≠j} q²_ij), q the partial correlations.

    q_ij = −(R⁻¹)_ij / √((R⁻¹)_ii (R⁻¹)_jj); per item the same sums over its column.
    In R: ``psych::KMO(x)`` (``$MSA``, ``$MSAi``).
    """
    r = correlation_matrix(items, use=use)
    matrix = r.to_numpy()
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
    return KMO(overall=overall, items=pd.Series(per_item, index=r.index, name="msa"))


@dataclass(frozen=True)
class Bartlett:
    """Bartlett's test that the correlation matrix is an identity matrix."""

    chisq: float
    df: int
    p: float
    n_obs: int


@one_blas_thread
def bartlett_sphericity(
    items: pd.DataFrame, *, use: str = "pairwise", n_obs: int | None = None
) -> Bartlett:
    """χ² = −(n − 1 − (2p + 5)/6) · ln|R|, df = p(p − 1)/2.

    n is the number of rows unless given. In R: ``psych::cortest.bartlett(R, n)``.
    """
    from scipy import stats

    r = correlation_matrix(items, use=use).to_numpy()
    p = r.shape[0]
    n = n_obs if n_obs is not None else len(items)
    sign, logdet = np.linalg.slogdet(r)
    if sign <= 0:
        raise AnalysisError("the correlation matrix is not positive definite")
    chisq = -float(logdet) * (n - 1 - (2 * p + 5) / 6)
    df = p * (p - 1) // 2
    return Bartlett(chisq=chisq, df=df, p=float(stats.chi2.sf(chisq, df)), n_obs=n)
