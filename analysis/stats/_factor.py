"""Factor-analysis kernels shared by :mod:`analysis.stats.efa` and :mod:`analysis.stats.reliability`.

Extraction (minres, principal axis) and rotation (oblimin, varimax) of a correlation matrix, each
matching psych 2.2.9 with GPArotation; the conventions are listed in :mod:`analysis.stats.efa`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from analysis.stats._matrix import smc
from analysis.stats._options import check_option

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

    check_option("rotation", rotation, Rotation)
    n_factors = loadings.shape[1]
    if rotation == "none" or n_factors < 2:
        return loadings.copy(), np.eye(n_factors)
    weights = np.sqrt(np.sum(loadings * loadings, axis=1)) if normalize else None
    start = loadings / weights[:, None] if weights is not None else loadings
    if rotation == "varimax":
        rotated, _ = rotate_factors(start, "varimax", tol=ROTATION_TOL, max_tries=ROTATION_MAX_ITER)
        phi = np.eye(n_factors)
    else:  # oblimin
        rotated, t = rotate_factors(
            start, "oblimin", 0.0, "oblique", tol=ROTATION_TOL, max_tries=ROTATION_MAX_ITER
        )
        phi = t.T @ t
    out = np.asarray(rotated, dtype=np.float64)
    if weights is not None:
        out = out * weights[:, None]
    return out, np.asarray(phi, dtype=np.float64)


def order_and_sign(loadings: np.ndarray, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """psych's post-processing: positive column sums, factors by variance accounted for."""
    signs = np.sign(loadings.sum(axis=0))
    signs[signs == 0] = 1.0
    loadings = loadings * signs
    phi = phi * np.outer(signs, signs)
    explained = np.diag(phi @ loadings.T @ loadings)
    order = np.argsort(-explained, kind="stable")
    return loadings[:, order], phi[np.ix_(order, order)]
