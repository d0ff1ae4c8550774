"""Confirmatory factor analysis of ordinal items: diagonally weighted least squares on polychoric
correlations with a robust (sandwich) covariance and a mean-and-variance adjusted test — the
estimator lavaan calls WLSMV.

Data and sample statistics. Each item's thresholds and the polychoric correlations are estimated
in two steps (:mod:`analysis.stats.polychoric`), from the complete respondents (listwise, lavaan's
default for ordered data). s = (τ, ρ) stacks the thresholds and the correlations below the
diagonal.

Their asymptotic covariance Γ (Muthén 1984; Muthén & Satorra 1995) is the sandwich of the
two-step M-estimator: with each respondent's scores — u, the derivatives of the log-likelihood of
their answer to one item with respect to that item's thresholds, and v, the derivative of the
log-likelihood of their answers to a pair with respect to the pair's correlation — and

    A₁₁ = Σ u uᵀ within items (block diagonal),  A₂₁ = Σ v · (∂ℓ_pair/∂τ)ᵀ,  A₂₂ = diag(Σ v²),
    B = [[A₁₁, 0], [A₂₁, A₂₂]],  J = Σ (u, v)(u, v)ᵀ,

Γ = B⁻¹ J B⁻ᵀ (the estimates' covariance matrix; N·Γ is its large-sample limit).

Model (delta parameterization, as lavaan): thresholds free; latent responses with unit variance,
Σ* = ΛΦΛᵀ off the diagonal, residual variances 1 − diag(ΛΦΛᵀ); one factor per subscale, the first
loading of each factor fixed to 1, factor variances and covariances free.

Estimation: θ̂ minimizes F(θ) = (s − σ(θ))ᵀ W (s − σ(θ)) with W = diag(Γ)⁻¹ (so the thresholds,
saturated, are reproduced exactly). Standard errors: V = (ΔᵀWΔ)⁻¹ ΔᵀWΓWΔ (ΔᵀWΔ)⁻¹ with Δ = ∂σ/∂θ
(lavaan's ``se = "robust.sd"``).

Test: T = (s − σ̂)ᵀ W (s − σ̂) with df = #s − #θ; the mean-and-variance adjusted (scaled and
shifted) T* = a·T + b with U = W − WΔ(ΔᵀWΔ)⁻¹ΔᵀW, a = √(df / tr((UΓ)²)), b = df − a·tr(UΓ)
(Asparouhov & Muthén 2010; lavaan's ``test = "scaled.shifted"``). The baseline model has all
correlations 0. CFI, TLI and RMSEA are computed from (T, T₀) and, "scaled", from (T*, T₀*) with the
ML formulas (:mod:`analysis.stats.cfa`; RMSEA with N − 1, as lavaan for ordered data); the
"robust" ones by the catML route of Savalei (2021), see :func:`_cat_robust`; SRMR is the root mean square of the residual
correlations over the p(p − 1)/2 pairs.

In R: ``lavaan::cfa(model, data, ordered = TRUE, estimator = "WLSMV")``, with
``parameterEstimates(fit)`` and ``fitMeasures(fit, c("chisq", "df", "chisq.scaled",
"chisq.scaling.factor", "cfi", "tli", "rmsea", "cfi.scaled", "tli.scaled", "rmsea.scaled",
"cfi.robust", "tli.robust", "rmsea.robust", "srmr"))``. lavaan's conventions for ordered data are
kept: the estimates' covariance carries a factor N/(N − 1) and the statistic is (N − 1)·F.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.stats._fit import ordered_srmr, scaled_fit
from analysis.stats._matrix import one_blas_thread
from analysis.stats._result import Result
from analysis.stats.polychoric import Polychoric, polychoric_matrix

if TYPE_CHECKING:
    from scipy.sparse import csr_array

_CHUNK_ROWS = 2048


@dataclass(frozen=True, repr=False)
class OrdinalCFAResult(Result):
    """An ordinal CFA (WLSMV): fit, loadings with robust standard errors, factor correlations.

    ``fit``: ``chisq``, ``df``, ``pvalue``, ``chisq_scaled``, ``pvalue_scaled``,
    ``chisq_scaling_factor`` (1/a), ``chisq_shift`` (b), ``baseline_chisq``,
    ``baseline_chisq_scaled``, ``baseline_df``, ``cfi``, ``tli``, ``rmsea``, ``cfi_scaled``,
    ``tli_scaled``, ``rmsea_scaled``, ``srmr``, ``n_obs``, ``npar``.
    ``loadings``: one row per item — ``factor``, ``estimate``, ``se``, ``z``, ``std_all``
    (the loading on the latent response's unit scale, λ·√φ_ff).
    ``thresholds``: the model's thresholds (equal to the sample's) with robust standard errors.
    ``factor_correlations``; ``parameters``: every free parameter with its estimate and se.
    """

    fit: pd.Series
    loadings: pd.DataFrame
    thresholds: pd.DataFrame
    factor_correlations: pd.DataFrame
    parameters: pd.DataFrame
    converged: bool
    n_obs: int
    polychoric: Polychoric

    def summary(self) -> pd.DataFrame:
        """The fit indices as a one-row table."""
        return self.fit.to_frame().T


def _category_codes(values: np.ndarray, categories: Sequence[tuple[float, ...]]) -> np.ndarray:
    codes = np.empty(values.shape, dtype=np.int64)
    for j, levels in enumerate(categories):
        codes[:, j] = np.searchsorted(np.asarray(levels), values[:, j])
    return codes


@dataclass
class _Moments:
    """The sample statistics s = (τ, ρ) and their asymptotic covariance Γ."""

    s: np.ndarray
    gamma: np.ndarray
    n_thresholds: int
    th_item: np.ndarray  # item of each threshold
    pairs: list[tuple[int, int]]


def _moments(values: np.ndarray, poly: Polychoric) -> _Moments:
    from scipy.linalg.blas import dsyrk
    from scipy.sparse import csr_array
    from scipy.special import ndtr

    names = list(poly.rho.columns)
    p = len(names)
    categories = [poly.categories[n] for n in names]
    codes = _category_codes(values, categories)
    n_obs = values.shape[0]
    taus = [poly.thresholds.iloc[j, : len(categories[j]) - 1].to_numpy() for j in range(p)]
    th_start = np.concatenate([[0], np.cumsum([len(t) for t in taus])])
    n_th = int(th_start[-1])
    th_item = np.repeat(np.arange(p), [len(t) for t in taus])
    pairs = [(a, b) for b in range(p) for a in range(b + 1, p)]  # lavaan's order: by column
    rho = poly.rho.to_numpy()
    n_pairs = len(pairs)
    first = np.array([a for a, _ in pairs], dtype=np.intp)
    second = np.array([b for _, b in pairs], dtype=np.intp)

    # per item and category: the univariate score of each threshold (d log P / d tau_k)
    uni: list[np.ndarray] = []
    for j in range(p):
        bounds = np.concatenate([[-np.inf], taus[j], [np.inf]])
        prob = ndtr(bounds[1:]) - ndtr(bounds[:-1])
        dens = np.exp(-0.5 * taus[j] ** 2) / np.sqrt(2 * np.pi)
        k = len(taus[j])
        table = np.zeros((k + 1, k))
        for c in range(k + 1):
            if c < k:
                table[c, c] = dens[c] / prob[c]
            if c > 0:
                table[c, c - 1] = -dens[c - 1] / prob[c]
        uni.append(table)

    # per pair and cell: d log pi / d rho and d log pi / d tau (of either item), every pair of
    # the same table shape at once, into arrays padded to the most categories (K): pair k's
    # cell (c, d) is entry k·K² + c·K + d of the flattened score table
    size = max(len(c) for c in categories)
    pair_rho = np.zeros((n_pairs, size, size))
    pair_ta = np.zeros((n_pairs, size, size, size - 1))
    pair_tb = np.zeros((n_pairs, size, size, size - 1))
    shapes: dict[tuple[int, int], list[int]] = {}
    for k, (a, b) in enumerate(pairs):
        shapes.setdefault((len(categories[a]), len(categories[b])), []).append(k)
    for (ka, kb), members in shapes.items():
        which = np.array(members, dtype=np.intp)
        inf_a, inf_b = np.full((len(which), 1), np.inf), np.full((len(which), 1), np.inf)
        ba = np.hstack([-inf_a, np.array([taus[a] for a in first[which]]), inf_a])
        bb = np.hstack([-inf_b, np.array([taus[b] for b in second[which]]), inf_b])
        pi, dpi_rho, dpi_ta, dpi_tb = _cell_derivatives(ba, bb, rho[first[which], second[which]])
        pair_rho[which, :ka, :kb] = dpi_rho / pi
        pair_ta[which, :ka, :kb, : ka - 1] = dpi_ta / pi[..., None]
        pair_tb[which, :ka, :kb, : kb - 1] = dpi_tb / pi[..., None]

    # J = Σ (u, v)(u, v)ᵀ over respondents, a block of rows at a time (BLAS syrk into one upper
    # triangle); the same pass counts each pair's two-way table (cell indices of every pair)
    width = n_th + n_pairs
    inner = np.zeros((width, width), order="F")
    flat_rho = pair_rho.reshape(-1)
    base = np.arange(n_pairs, dtype=np.intp) * (size * size)
    cell_counts = np.zeros(n_pairs * size * size, dtype=np.int64)
    rows_per_block = min(_CHUNK_ROWS, n_obs)
    buffer = np.empty((rows_per_block, width))  # reused: no fresh pages for every block
    cell_buffer = np.empty((rows_per_block, n_pairs), dtype=np.intp)
    for start in range(0, n_obs, rows_per_block):
        chunk = codes[start : start + rows_per_block]
        m = chunk.shape[0]
        scores, cell = buffer[:m], cell_buffer[:m]
        for j in range(p):
            scores[:, th_start[j] : th_start[j + 1]] = uni[j][chunk[:, j]]
        np.multiply(chunk[:, first], size, out=cell)
        cell += chunk[:, second]
        cell += base[None, :]
        np.take(flat_rho, cell, out=scores[:, n_th:])
        cell_counts += np.bincount(cell.reshape(-1), minlength=len(cell_counts))
        # scoresᵀ scores: scores.T is Fortran-ordered, so BLAS reads it in place
        inner = dsyrk(1.0, scores.T, beta=1.0, c=inner, trans=0, lower=0, overwrite_c=1)
    inner = _mirror_upper(inner).T  # symmetric: its transpose is the C-ordered view

    # A₂₁ and A₂₂ sum a pair's cell values over its respondents: its two-way table weights them
    # (the rows here are complete, so each pair's table counts every row)
    counts = cell_counts.reshape(n_pairs, size, size).astype(np.float64)
    weighted = counts * pair_rho
    a22 = np.einsum("kcd,kcd->k", weighted, pair_rho)
    a21 = np.zeros((n_pairs, n_th))
    into_a = th_start[first][:, None] + np.arange(size - 1)[None, :]
    into_b = th_start[second][:, None] + np.arange(size - 1)[None, :]
    from_a = np.einsum("kcd,kcdt->kt", weighted, pair_ta)
    from_b = np.einsum("kcd,kcdt->kt", weighted, pair_tb)
    for k in range(n_pairs):  # only each item's own thresholds (the padding stays out)
        a, b = pairs[k]
        a21[k, into_a[k, : len(taus[a])]] = from_a[k, : len(taus[a])]
        a21[k, into_b[k, : len(taus[b])]] = from_b[k, : len(taus[b])]

    # A₁₁ is block diagonal (an item's own thresholds): its inverse P block by block
    a11_inv = np.zeros((n_th, n_th))
    for j in range(p):
        block = slice(th_start[j], th_start[j + 1])
        a11_inv[block, block] = np.linalg.inv(inner[block, block])
    # Γ = B⁻¹ J B⁻ᵀ with B⁻¹ = [[P, 0], [C, D]] (P = A₁₁⁻¹, D = diag(1/A₂₂), C = −D A₂₁ P) by
    # blocks: the dense (p + pairs)² products would spend most of their work on the zero block
    # and on D, which only scales rows and columns. C is sparse: a pair's row of A₂₁, and so of
    # C (P is block diagonal), is nonzero only on the thresholds of its two items, so products
    # with C cost a few columns per pair, not all n_th
    d = 1.0 / a22
    c_sparse = csr_array(-(a21 * d[:, None]) @ a11_inv)
    j11, j12, j22 = inner[:n_th, :n_th], inner[:n_th, n_th:], inner[n_th:, n_th:]
    p_j11 = a11_inv @ j11
    g12 = np.asarray(c_sparse @ p_j11.T).T + (a11_inv @ j12) * d[None, :]
    cross = np.asarray(c_sparse @ j12) * d[None, :]  # C J₁₂ D
    c_j11_ct = np.asarray(c_sparse @ np.asarray(c_sparse @ j11).T)  # C J₁₁ Cᵀ (J₁₁ symmetric)
    g22 = c_j11_ct + cross + cross.T + j22 * np.outer(d, d)
    gamma = np.empty((width, width))
    gamma[:n_th, :n_th] = p_j11 @ a11_inv.T
    gamma[:n_th, n_th:] = g12
    gamma[n_th:, :n_th] = g12.T
    gamma[n_th:, n_th:] = g22
    s = np.concatenate([np.concatenate(taus), rho[first, second]])
    return _Moments(s=s, gamma=gamma, n_thresholds=n_th, th_item=th_item, pairs=pairs)


def _mirror_upper(x: np.ndarray, block: int = 256) -> np.ndarray:
    """A Fortran-ordered square matrix whose upper triangle holds a symmetric matrix (syrk's
    output), made whole in place, a block column at a time (each copy reads contiguous memory)."""
    size = x.shape[0]
    for start in range(0, size, block):
        end = min(start + block, size)
        diagonal = x[start:end, start:end]
        low = np.tril_indices(end - start, -1)
        diagonal[low] = diagonal.T[low]
        x[end:, start:end] = x[start:end, end:].T
    return x


def _cell_derivatives(
    ba: np.ndarray, bb: np.ndarray, r: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cell probabilities of G pairs' tables and their derivatives in ρ and in each threshold.

    ``ba`` (G x ka+1) and ``bb`` (G x kb+1): each pair's bounds (−∞, thresholds, ∞) of its two
    items; ``r``: each pair's correlation. Returns π (G x ka x kb), ∂π/∂ρ, ∂π/∂τ_a
    (G x ka x kb x ka−1) and ∂π/∂τ_b (G x ka x kb x kb−1).
    """
    from scipy.special import ndtr

    from analysis.stats.polychoric import bivariate_normal_cdf

    n_groups = ba.shape[0]
    ka, kb = ba.shape[1] - 1, bb.shape[1] - 1
    h = np.broadcast_to(ba[:, :, None], (n_groups, ka + 1, kb + 1))
    k = np.broadcast_to(bb[:, None, :], (n_groups, ka + 1, kb + 1))
    r = np.asarray(r, dtype=np.float64)[:, None, None]
    cdf = bivariate_normal_cdf(h, k, np.broadcast_to(r, h.shape))
    pi = cdf[:, 1:, 1:] - cdf[:, :-1, 1:] - cdf[:, 1:, :-1] + cdf[:, :-1, :-1]
    root = np.sqrt(1.0 - r * r)
    finite = np.isfinite(h) & np.isfinite(k)
    hh, kk = np.where(finite, h, 0.0), np.where(finite, k, 0.0)
    dens = np.where(
        finite,
        np.exp(-0.5 * (hh * hh - 2 * r * hh * kk + kk * kk) / (root * root)) / (2 * np.pi * root),
        0.0,
    )
    d_rho = dens[:, 1:, 1:] - dens[:, :-1, 1:] - dens[:, 1:, :-1] + dens[:, :-1, :-1]

    # dPhi2(h, k)/dh = phi(h) Phi((k - r h)/root); at k = +inf: phi(h); at k = -inf: 0
    def d_first(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        phi_x = np.where(np.isfinite(x), np.exp(-0.5 * np.where(np.isfinite(x), x, 0) ** 2), 0.0)
        phi_x = phi_x / np.sqrt(2 * np.pi)
        with np.errstate(invalid="ignore"):
            arg = np.where(np.isfinite(y), (y - r * np.where(np.isfinite(x), x, 0)) / root, y)
        return np.asarray(phi_x * ndtr(arg), dtype=np.float64)

    dh = d_first(h, k)  # d cdf / d h at each grid point
    dk = d_first(k, h)  # d cdf / d k
    d_ta = np.zeros((n_groups, ka, kb, ka - 1))
    d_tb = np.zeros((n_groups, ka, kb, kb - 1))
    for t in range(ka - 1):
        g = t + 1  # grid row of threshold t of item a
        # cell (c, d) has upper bound row c+1 and lower bound row c
        upper = dh[:, g, 1:] - dh[:, g, :-1]  # derivative of the cell whose upper bound is tau_t
        d_ta[:, t, :, t] += upper
        d_ta[:, t + 1, :, t] -= upper
    for t in range(kb - 1):
        g = t + 1
        upper = dk[:, 1:, g] - dk[:, :-1, g]
        d_tb[:, :, t, t] += upper
        d_tb[:, :, t + 1, t] -= upper
    return np.clip(pi, 1e-300, None), d_rho, d_ta, d_tb


@dataclass
class _Model:
    """The factor structure: which loadings are free, in parameter order."""

    p: int
    n_factors: int
    free: list[tuple[int, int]]  # (item, factor) of each free loading
    fixed: list[tuple[int, int]]  # marker loadings (1)
    phi: list[tuple[int, int]]  # (f, g) with f <= g, free


def _model(names: Sequence[str], factors: Mapping[str, Sequence[str]]) -> _Model:
    position = {n: j for j, n in enumerate(names)}
    free: list[tuple[int, int]] = []
    fixed: list[tuple[int, int]] = []
    for f, items in enumerate(factors.values()):
        for i, item in enumerate(items):
            (fixed if i == 0 else free).append((position[item], f))
    m = len(factors)
    phi = [(f, g) for f in range(m) for g in range(f, m)]
    return _Model(p=len(names), n_factors=m, free=free, fixed=fixed, phi=phi)


def _implied(model: _Model, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lam = np.zeros((model.p, model.n_factors))
    for j, f in model.fixed:
        lam[j, f] = 1.0
    n_free = len(model.free)
    for k, (j, f) in enumerate(model.free):
        lam[j, f] = theta[k]
    phi = np.zeros((model.n_factors, model.n_factors))
    for k, (f, g) in enumerate(model.phi):
        phi[f, g] = phi[g, f] = theta[n_free + k]
    return lam @ phi @ lam.T, lam, phi


def _jacobian(model: _Model, theta: np.ndarray, pairs: Sequence[tuple[int, int]]) -> np.ndarray:
    """∂σ_ρ/∂θ for the structural parameters (loadings, then Φ)."""
    _, lam, phi = _implied(model, theta)
    lp = lam @ phi  # p x m
    rows = np.array([a for a, _ in pairs])
    cols = np.array([b for _, b in pairs])
    out = np.zeros((len(pairs), len(theta)))
    for k, (j, f) in enumerate(model.free):
        # d (L Phi L')_ab / d lambda_jf = [a == j] (Phi L')_fb + [b == j] (L Phi)_af
        out[:, k] = np.where(rows == j, lp[cols, f], 0.0) + np.where(cols == j, lp[rows, f], 0.0)
    n_free = len(model.free)
    for k, (f, g) in enumerate(model.phi):
        term = lam[rows, f] * lam[cols, g]
        if f != g:
            term = term + lam[rows, g] * lam[cols, f]
        out[:, n_free + k] = term
    return out


@one_blas_thread
def ordinal_cfa_model(data: pd.DataFrame, factors: Mapping[str, Sequence[str]]) -> OrdinalCFAResult:
    """Fit an ordinal CFA (WLSMV) of ``data`` (one column per item, ordered codes; NaN missing:
    rows with any missing item are left out, lavaan's listwise default) with ``factors`` (factor
    name → its items, the first the marker).

    In R: ``lavaan::cfa(model, data, ordered = TRUE, estimator = "WLSMV")``.
    """
    from scipy.optimize import least_squares
    from scipy.sparse import csr_array

    names = [n for items in factors.values() for n in items]
    if len(set(names)) != len(names):
        raise AnalysisError("an item is in two factors; the ordinal CFA needs a simple structure")
    missing = [n for n in names if n not in data.columns]
    if missing:
        raise AnalysisError(f"no column for {', '.join(missing)}")
    values = data[names].to_numpy(dtype=np.float64, na_value=np.nan)
    values = values[~np.isnan(values).any(axis=1)]
    n_obs = values.shape[0]
    if n_obs < len(names) + 1:
        raise AnalysisError(f"{n_obs} complete respondents are too few for {len(names)} items")
    poly = polychoric_matrix(pd.DataFrame(values, columns=names))
    if poly.rho.isna().to_numpy().any():
        raise AnalysisError("an item has a single answer among the complete respondents")
    moments = _moments(values, poly)
    model = _model(names, factors)
    n_th = moments.n_thresholds
    rho_s = moments.s[n_th:]
    weights = 1.0 / np.diag(moments.gamma)
    w_rho = weights[n_th:]
    pairs = moments.pairs
    rows = np.array([a for a, _ in pairs])
    cols = np.array([b for _, b in pairs])

    def residuals(theta: np.ndarray) -> np.ndarray:
        sigma, _, _ = _implied(model, theta)
        return np.asarray(np.sqrt(w_rho) * (rho_s - sigma[rows, cols]), dtype=np.float64)

    def jac(theta: np.ndarray) -> np.ndarray:
        return np.asarray(-np.sqrt(w_rho)[:, None] * _jacobian(model, theta, pairs))

    start = _start_values(model, poly.rho.to_numpy(), factors, names)
    fitted = least_squares(
        residuals, start, jac=jac, method="lm", xtol=1e-15, ftol=1e-15, gtol=1e-15
    )
    theta = fitted.x
    sigma, lam, phi = _implied(model, theta)

    # Δ = [[I, 0], [0, Δ_s]]: the thresholds are saturated (identity), and Δ_s = ∂σ_ρ/∂θ is
    # sparse (a pair's correlation moves with its two items' loadings and one element of Φ), so
    # every product with Δ or WΔ (W diagonal) is a row scaling or a sparse product; Γ enters only
    # through Q = Γ(WΔ), never a dense (pairs x pairs) product
    n_struct = len(theta)
    n_s = len(moments.s)
    n_q = n_th + n_struct
    gamma = moments.gamma
    w_th = weights[:n_th]
    delta_s = _jacobian(model, theta, pairs)
    w_delta_s = csr_array(delta_s * w_rho[:, None])  # W_ρ Δ_s
    information = np.zeros((n_q, n_q))  # ΔᵀWΔ
    information[:n_th, :n_th] = np.diag(w_th)
    information[n_th:, n_th:] = np.asarray(w_delta_s.T @ delta_s)
    bread = np.linalg.inv(information)
    q = np.empty((n_s, n_q))  # Q = Γ W Δ
    q[:, :n_th] = gamma[:, :n_th] * w_th[None, :]
    q[:, n_th:] = np.asarray(w_delta_s.T @ gamma[n_th:, :]).T  # Γ symmetric
    meat = np.empty((n_q, n_q))  # (WΔ)ᵀ Γ (WΔ) = (WΔ)ᵀ Q
    meat[:n_th] = w_th[:, None] * q[:n_th]
    meat[n_th:] = np.asarray(w_delta_s.T @ q[n_th:])
    # lavaan's conventions for ordered data: the estimates' covariance with N/(N − 1), and the
    # statistic (N − 1)·F with F = rᵀ diag(N·Γ)⁻¹ r
    cov = bread @ meat @ bread * (n_obs / (n_obs - 1))
    se = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    to_stat = (n_obs - 1) / n_obs

    resid = moments.s - np.concatenate([moments.s[:n_th], sigma[rows, cols]])
    chisq = to_stat * float(resid @ (weights * resid))
    df = n_s - n_q
    # UΓ = WΓ − WΔ (ΔᵀWΔ)⁻¹ (WΔ)ᵀΓ = WΓ − WΔ·bread·Qᵀ; only tr(UΓ) and tr((UΓ)²) are needed,
    # and with M = bread·meat: tr(UΓ) = tr(WΓ) − tr(M), tr((UΓ)²) = tr(WΓWΓ) − 2·tr(W Q bread Qᵀ)
    # + tr(M²)
    scaling = _scaled_shifted_traces(*_u_gamma_traces(gamma, weights, q, bread, meat), df)

    base_chisq = to_stat * float(rho_s @ (w_rho * rho_s))
    base_df = len(pairs)
    gamma_r = gamma[n_th:, n_th:]
    a0, b0 = _scaled_shifted_traces(
        float(w_rho @ np.diag(gamma_r)), float(w_rho @ (gamma_r * gamma_r) @ w_rho), base_df
    )
    base_ss = a0 * base_chisq + b0

    robust = _cat_robust(
        poly.rho.to_numpy(),
        sigma,
        n_obs,
        df,
        csr_array(delta_s),
        bread[n_th:, n_th:],
        w_rho,
        gamma_r,
        pairs,
    )
    resid_r = rho_s - sigma[rows, cols]
    p = len(names)
    fit = pd.Series(
        {
            # N − 1 for ordered data, as lavaan
            **scaled_fit(chisq, df, scaling, (base_chisq, base_ss, base_df), n=n_obs - 1),
            **robust,
            "srmr": ordered_srmr(resid_r, p),
            "n_obs": float(n_obs),
            "npar": float(n_th + n_struct),
        }
    )
    factor_names = list(factors)
    loading_rows = []
    se_struct = se[n_th:]
    for j, f in model.fixed + model.free:
        k = model.free.index((j, f)) if (j, f) in model.free else None
        est = float(lam[j, f])
        err = float(se_struct[k]) if k is not None else 0.0
        loading_rows.append(
            {
                "item": names[j],
                "factor": factor_names[f],
                "estimate": est,
                "se": err,
                "z": est / err if err > 0 else float("nan"),
                "std_all": est * float(np.sqrt(phi[f, f])),
            }
        )
    loadings = pd.DataFrame(loading_rows).set_index("item").loc[names]
    th_rows = []
    for t in range(n_th):
        j = int(moments.th_item[t])
        k = t - int(np.flatnonzero(moments.th_item == j)[0])
        th_rows.append(
            {"item": names[j], "threshold": f"t{k + 1}", "estimate": moments.s[t], "se": se[t]}
        )
    sd = np.sqrt(np.diag(phi))
    corr = phi / np.outer(sd, sd)
    params = []
    for k, (j, f) in enumerate(model.free):
        params.append(("=~", factor_names[f], names[j], theta[k], se_struct[k]))
    for k, (f, g) in enumerate(model.phi):
        params.append(
            (
                "~~",
                factor_names[f],
                factor_names[g],
                theta[len(model.free) + k],
                se_struct[len(model.free) + k],
            )
        )
    return OrdinalCFAResult(
        fit=fit,
        loadings=loadings,
        thresholds=pd.DataFrame(th_rows),
        factor_correlations=pd.DataFrame(corr, index=factor_names, columns=factor_names),
        parameters=pd.DataFrame(params, columns=["op", "lhs", "rhs", "estimate", "se"]),
        converged=bool(fitted.success),
        n_obs=n_obs,
        polychoric=poly,
    )


def _start_values(
    model: _Model,
    r: np.ndarray,
    factors: Mapping[str, Sequence[str]],
    names: Sequence[str],
) -> np.ndarray:
    """Start from each factor's one-factor solution (the first principal axis of its block),
    rescaled to its marker, and factor covariances from the blocks' mean cross-correlations."""
    position = {n: j for j, n in enumerate(names)}
    first: dict[int, np.ndarray] = {}
    for f, items in enumerate(factors.values()):
        idx = [position[i] for i in items]
        block = r[np.ix_(idx, idx)]
        if len(idx) == 1:
            first[f] = np.array([0.7])
            continue
        vals, vecs = np.linalg.eigh(block)
        vec = vecs[:, -1] * np.sqrt(max(vals[-1] - 1.0, 0.1) / max(len(idx) - 1, 1))
        if vec[0] == 0:
            vec[0] = 0.5
        first[f] = vec
    theta: list[float] = []
    for j, f in model.free:
        items = list(factors.values())[f]
        vec = first[f]
        theta.append(float(vec[list(items).index(names[j])] / vec[0]))
    for f, g in model.phi:
        if f == g:
            theta.append(float(first[f][0] ** 2))
        else:
            a = [position[i] for i in list(factors.values())[f]]
            b = [position[i] for i in list(factors.values())[g]]
            la, lb = first[f], first[g]
            cross = r[np.ix_(a, b)] / np.outer(la, lb)
            corr = float(np.clip(np.median(cross), -0.9, 0.9))
            theta.append(corr * abs(la[0] * lb[0]))
    return np.asarray(theta)


def _cat_robust(
    r: np.ndarray,
    sigma: np.ndarray,
    n_obs: int,
    df: int,
    delta_s: csr_array,
    bread_s: np.ndarray,
    w_rho: np.ndarray,
    gamma_r: np.ndarray,
    pairs: Sequence[tuple[int, int]],
) -> dict[str, float]:
    """Robust CFI, TLI and RMSEA for ordinal data by the "catML" route (Savalei 2021).

    The normal-theory ML discrepancy of the polychoric matrix R from the model's correlation
    matrix Σ̂ (the DWLS estimates, not refitted): T_ML = N·(ln|Σ̂| + tr(RΣ̂⁻¹) − ln|R| − p), and of
    the baseline Σ = I: T₀ = −N·ln|R|; their expectations under the model, c·df and c₀·df₀, with
    c = tr(Uᵀ V U NΓ)/df, U = I − Δ(ΔᵀWΔ)⁻¹ΔᵀW (correlation rows), V the normal-theory information
    of the correlations at Σ̂ (σ^{ik}σ^{jl} + σ^{il}σ^{jk}) and c₀ = tr(NΓ)/df₀. Then
    CFI = 1 − max(T_ML − c·df, 0)/max(T_ML − c·df, T₀ − c₀·df₀, 0),
    TLI = 1 − ((T_ML − c·df)/df)/((T₀ − c₀·df₀)/df₀), RMSEA = √max((T_ML − c·df)/((N − 1)·df), 0).

    ``delta_s``: Δ of the correlations in the structural parameters (sparse; the thresholds'
    columns of Δ are zero in these rows), ``bread_s``: the structural block of (ΔᵀWΔ)⁻¹.

    In R: ``fitMeasures(fit, c("cfi.robust", "tli.robust", "rmsea.robust"))`` (lavaan 0.6-14).
    """
    nan = {"cfi_robust": float("nan"), "tli_robust": float("nan"), "rmsea_robust": float("nan")}
    p = r.shape[0]
    model = sigma.copy()
    np.fill_diagonal(model, 1.0)
    if df <= 0 or np.linalg.eigvalsh(r).min() < np.sqrt(np.finfo(float).eps):
        return nan
    try:
        model_inv = np.linalg.inv(model)
    except np.linalg.LinAlgError:
        return nan
    log_r = np.linalg.slogdet(r)[1]
    t_ml = n_obs * (np.linalg.slogdet(model)[1] + np.trace(r @ model_inv) - log_r - p)
    t_null = -n_obs * log_r
    i = np.array([a for a, _ in pairs])
    j = np.array([b for _, b in pairs])
    v = (
        model_inv[np.ix_(i, i)] * model_inv[np.ix_(j, j)]
        + model_inv[np.ix_(i, j)] * model_inv[np.ix_(j, i)]
    )
    n_gamma = n_obs * gamma_r
    # U = I − D K with D = Δ_s (sparse) and K = bread_s DᵀW; with V and NΓ symmetric,
    # tr(UᵀVUNΓ) = Σ V∘NΓ − 2·Σ (DᵀV)∘(K NΓ) + Σ (DᵀVD)∘(K NΓ Kᵀ): every product goes through
    # the sparse D, none is a dense (pairs x pairs x pairs) product
    w_delta_t = delta_s.T.multiply(w_rho[None, :]).tocsr()  # DᵀW
    k = np.asarray(bread_s @ w_delta_t.toarray())
    kg = bread_s @ np.asarray(w_delta_t @ n_gamma)  # K NΓ
    dv = np.asarray(delta_s.T @ v)  # DᵀV
    dvd = np.asarray(delta_s.T @ dv.T)  # DᵀVD (V symmetric)
    c = (
        float(np.sum(v * n_gamma)) - 2.0 * float(np.sum(dv * kg)) + float(np.sum(dvd * (kg @ k.T)))
    ) / df
    df0 = len(pairs)
    c0 = float(np.trace(n_gamma)) / df0
    excess = t_ml - c * df
    excess0 = t_null - c0 * df0
    denominator = max(excess, excess0, 0.0)
    return {
        "cfi_robust": 1.0 - max(excess, 0.0) / denominator if denominator > 0 else 1.0,
        "tli_robust": 1.0 - (excess / df) / (excess0 / df0),
        "rmsea_robust": float(np.sqrt(max(excess / ((n_obs - 1) * df), 0.0))),
    }


def _u_gamma_traces(
    gamma: np.ndarray, weights: np.ndarray, q: np.ndarray, bread: np.ndarray, meat: np.ndarray
) -> tuple[float, float]:
    """tr(UΓ) and tr((UΓ)²) for UΓ = WΓ − WΔ·bread·Qᵀ (Q = ΓWΔ, meat = (WΔ)ᵀQ, W = diag(weights)),
    without forming UΓ: with M = bread·meat, tr(UΓ) = tr(WΓ) − tr(M) and
    tr((UΓ)²) = Σ (WΓW)∘Γ − 2·Σ_i w_i (Q·bread)_i·Q_i + Σ M∘Mᵀ."""
    m = bread @ meat
    tr1 = float(weights @ np.diag(gamma)) - float(np.trace(m))
    tr2 = (
        float(weights @ (gamma * gamma) @ weights)
        - 2.0 * float(np.einsum("i,ij,ij->", weights, q @ bread, q))
        + float(np.sum(m * m.T))
    )
    return tr1, tr2


def _scaled_shifted(ug: np.ndarray, df: int) -> tuple[float, float]:
    """a and b of the scaled-and-shifted statistic a·T + b from the eigen-structure of UΓ."""
    return _scaled_shifted_traces(float(np.trace(ug)), float(np.sum(ug * ug.T)), df)


def _scaled_shifted_traces(tr1: float, tr2: float, df: int) -> tuple[float, float]:
    """a and b of the scaled-and-shifted statistic a·T + b from tr(UΓ) and tr((UΓ)²)."""
    if df <= 0:
        return 1.0, 0.0
    a = float(np.sqrt(df / tr2))
    return a, df - a * tr1
