"""Measurement invariance of ordinal items: multi-group WLSMV with thresholds and scale factors.

The ordinal counterpart of :mod:`analysis.stats.invariance`. In each group g the answers to item
j are a latent continuous response y*ⱼ cut at thresholds τⱼ₁ < … < τⱼ,K−1; y* = Λη + ε with factor
covariances Ψ_g and factor means α_g. Each group's sample statistics s_g = (τ̂_g, ρ̂_g) — the
thresholds and polychoric correlations on the latent responses' unit scale — and their asymptotic
covariance Γ_g come from :mod:`analysis.stats.ordinal_cfa` (Muthén 1984). The model implies, with
the scale factors Δ_g (diag; 1/Δⱼ is the standard deviation of y*ⱼ) and S_g = ΛΨ_gΛᵀ,

    τ*_g,jk = Δ_g,j (τⱼₖ − (Λα_g)ⱼ),        ρ*_g,ab = Δ_g,a Δ_g,b (S_g)_ab,

lavaan's delta parameterization (its default). The models follow lavaan's ``group.equal``
conventions for ordered data:

=========== ============================ ======================================================
model       equal across groups           free, besides
=========== ============================ ======================================================
configural  nothing                       per group: thresholds, loadings, Ψ; α = 0, Δ = 1
metric      loadings                      per group: thresholds, Ψ; α = 0, Δ = 1
scalar      loadings, thresholds          Ψ per group; α and Δ free from the second group on
strict      loadings, thresholds,         as scalar, in the theta parameterization: residual
            residual variances (= 1)      variances fixed to 1 in every group, so
                                          Δ_g,j = ((S_g)ⱼⱼ + 1)^−½
=========== ============================ ======================================================

(In the delta parameterization residual variances are not parameters, and lavaan's
``group.equal = "residuals"`` changes nothing; the strict model is therefore fitted as lavaan's
``parameterization = "theta"``, whose loadings and factor variances are on the residuals' scale.)
Partial invariance: ``"factor =~ item"`` (a loading), ``"item | t2"`` (a threshold) and, in the
strict model, ``"item ~~ item"`` (a residual variance) stay free in every group.

Estimation: θ̂ minimizes Σ_g (s_g − σ_g(θ))ᵀ W_g (s_g − σ_g(θ)) with W_g = diag(Γ_g)⁻¹
(Levenberg–Marquardt, central-difference Jacobian). As for one group, the statistic is
T = Σ_g (N_g − 1)/N_g · r_gᵀW_g r_g; standard errors V = (ΔᵀWΔ)⁻¹ΔᵀWΓWΔ(ΔᵀWΔ)⁻¹ over the stacked
groups (Γ block diagonal, each block times N_g/(N_g − 1)); the scaled-and-shifted statistic from
UΓ over the stacked groups (Asparouhov & Muthén 2010); the baseline model is every group's
independence model (thresholds free, correlations 0). CFI and TLI from (T, T₀) and (T*, T₀*);
RMSEA = √G · √max(T/((N − G)·df) − 1/(N − G), 0) with N = Σ N_g; SRMR the N_g-weighted mean of
the groups' SRMRs over the correlation residuals.

In R: ``lavaan::cfa(model, data, ordered = TRUE, estimator = "WLSMV", group = "g",
group.equal = c("loadings", "thresholds"), group.partial = ...)`` (the strict model with
``parameterization = "theta"`` and ``"residuals"`` added), ``fitMeasures(fit, c("chisq", "df",
"chisq.scaled", "cfi", "tli", "rmsea", "cfi.scaled", "tli.scaled", "rmsea.scaled", "srmr"))``,
and ``lavTestLRT(m1, m2, method = "satorra.2000")`` for the scaled difference tests.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.stats._fit import ordered_srmr, scaled_fit
from analysis.stats._matrix import one_blas_thread
from analysis.stats.invariance import (
    MODELS,
    GroupFit,
    InvarianceResult,
    check_model_inputs,
    complete_groups,
    parse_partial,
    sequence_table,
)
from analysis.stats.ordinal_cfa import _model, _Moments, _moments, _scaled_shifted, _start_values
from analysis.stats.polychoric import polychoric_matrix

_PARTIAL = re.compile(r"^\s*(\w+)\s*(=~|~~|\|)\s*(\w+)\s*$")
_PARTIAL_HINT = (
    "write 'factor =~ item' (a loading), 'item | t1' (a threshold) or 'item ~~ item' (a "
    "residual variance, strict model)"
)
_STEP = 1e-6  # central differences of the implied statistics


@dataclass
class _Group:
    name: str
    n: int
    moments: _Moments
    weights: np.ndarray  # diag(Γ)⁻¹


@dataclass
class _Layout:
    """θ index of every parameter per group (−1: fixed)."""

    p: int
    m: int
    lam: np.ndarray  # (G, p, m)
    lam_fixed: np.ndarray  # (p, m)
    tau: np.ndarray  # (G, n_th)
    psi: np.ndarray  # (G, m, m)
    alpha: np.ndarray  # (G, m), fixed 0
    delta: np.ndarray  # (G, p), fixed 1 (delta parameterization)
    resid: np.ndarray  # (G, p), fixed 1 (theta parameterization)
    theta_mode: bool
    labels: list[tuple[str, str, str, str]]
    start: list[float]


@dataclass
class _Extras:
    """What the difference tests need of a fitted model."""

    x: np.ndarray
    layout: _Layout
    delta: np.ndarray
    w: np.ndarray
    gamma: np.ndarray
    bread: np.ndarray


def _layout(
    model: str,
    names: Sequence[str],
    factors: Mapping[str, Sequence[str]],
    groups: Sequence[_Group],
    partial: set[tuple[str, str, str]],
    start: np.ndarray,
) -> _Layout:
    """The parameters of ``model``, with start values (``start``: one group's structure)."""
    equal = {
        "configural": set(),
        "metric": {"loadings"},
        "scalar": {"loadings", "thresholds"},
        "strict": {"loadings", "thresholds", "residuals"},
    }[model]
    n_groups, p, m = len(groups), len(names), len(factors)
    factor_names = list(factors)
    structure = _model(names, factors)
    th_item = groups[0].moments.th_item
    n_th = len(th_item)
    th_rank = np.zeros(n_th, dtype=np.int64)
    for t in range(1, n_th):
        th_rank[t] = th_rank[t - 1] + 1 if th_item[t] == th_item[t - 1] else 0
    lam = np.full((n_groups, p, m), -1, dtype=np.int64)
    lam_fixed = np.zeros((p, m))
    for j, f in structure.fixed:
        lam_fixed[j, f] = 1.0
    tau = np.full((n_groups, n_th), -1, dtype=np.int64)
    psi = np.full((n_groups, m, m), -1, dtype=np.int64)
    alpha = np.full((n_groups, m), -1, dtype=np.int64)
    delta = np.full((n_groups, p), -1, dtype=np.int64)
    resid = np.full((n_groups, p), -1, dtype=np.int64)
    labels: list[tuple[str, str, str, str]] = []
    values: list[float] = []
    shared: dict[tuple[str, str, str], int] = {}

    def new(label: tuple[str, str, str, str], value: float) -> int:
        labels.append(label)
        values.append(value)
        return len(labels) - 1

    n_free = len(structure.free)
    for g, group in enumerate(groups):
        gname = group.name
        for k, (j, f) in enumerate(structure.free):
            key = (factor_names[f], "=~", names[j])
            if "loadings" in equal and key not in partial:
                if key not in shared:
                    shared[key] = new(("", *key), float(start[k]))
                lam[g, j, f] = shared[key]
            else:
                lam[g, j, f] = new((gname, *key), float(start[k]))
        for t in range(n_th):
            key = (names[th_item[t]], "|", f"t{th_rank[t] + 1}")
            sample = float(group.moments.s[t])
            if "thresholds" in equal and key not in partial:
                if key not in shared:
                    shared[key] = new(("", *key), sample)
                tau[g, t] = shared[key]
            else:
                tau[g, t] = new((gname, *key), sample)
        for k, (f, h) in enumerate(structure.phi):
            index = new((gname, factor_names[f], "~~", factor_names[h]), float(start[n_free + k]))
            psi[g, f, h] = psi[g, h, f] = index
        if g > 0 and "thresholds" in equal:
            for f in range(m):
                alpha[g, f] = new((gname, factor_names[f], "~1", ""), 0.0)
            if "residuals" not in equal:
                for j in range(p):
                    delta[g, j] = new((gname, names[j], "~*~", names[j]), 1.0)
        if "residuals" in equal and g > 0:
            for j in range(p):
                if (names[j], "~~", names[j]) in partial:
                    resid[g, j] = new((gname, names[j], "~~", names[j]), 1.0)
    layout = _Layout(
        p=p,
        m=m,
        lam=lam,
        lam_fixed=lam_fixed,
        tau=tau,
        psi=psi,
        alpha=alpha,
        delta=delta,
        resid=resid,
        theta_mode="residuals" in equal,
        labels=labels,
        start=values,
    )
    if layout.theta_mode:
        _theta_start(layout, groups)
    return layout


def _theta_start(layout: _Layout, groups: Sequence[_Group]) -> None:
    """Start values on the theta parameterization's scale: λ/√(1 − λᵀΨλ) for the loadings
    (a unit residual variance), thresholds scaled the same way."""
    x = np.asarray(layout.start)
    lam, psi, _, _ = _matrices(layout, x, 0)
    s = lam @ psi @ lam.T
    communality = np.clip(np.diag(s), 0.05, 0.9)
    scale = 1.0 / np.sqrt(1.0 - communality)
    th_item = groups[0].moments.th_item
    for g in range(layout.lam.shape[0]):
        for (j, f), index in np.ndenumerate(layout.lam[g]):
            if index >= 0 and layout.lam_fixed[j, f] == 0:
                x[index] = layout.start[index] * scale[j] / scale[_marker(layout, f)]
        for t, index in enumerate(layout.tau[g]):
            x[index] = groups[g].moments.s[t] * scale[th_item[t]]
        for (f, h), index in np.ndenumerate(layout.psi[g]):
            if index >= 0:
                x[index] = (
                    layout.start[index] * scale[_marker(layout, f)] * scale[_marker(layout, h)]
                )
    layout.start = list(x)


def _marker(layout: _Layout, f: int) -> int:
    return int(np.flatnonzero(layout.lam_fixed[:, f])[0])


def _matrices(
    layout: _Layout, x: np.ndarray, g: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    def take(index: np.ndarray, fixed: np.ndarray | float) -> np.ndarray:
        return np.where(index >= 0, x[np.maximum(index, 0)], fixed)

    lam = take(layout.lam[g], layout.lam_fixed)
    psi = take(layout.psi[g], 0.0)
    alpha = take(layout.alpha[g], 0.0)
    tau = take(layout.tau[g], 0.0)
    return lam, psi, alpha, tau


def _scale(layout: _Layout, x: np.ndarray, g: int, s: np.ndarray) -> np.ndarray:
    if layout.theta_mode:
        resid = np.where(layout.resid[g] >= 0, x[np.maximum(layout.resid[g], 0)], 1.0)
        return np.asarray(1.0 / np.sqrt(np.clip(np.diag(s) + resid, 1e-12, None)))
    return np.asarray(np.where(layout.delta[g] >= 0, x[np.maximum(layout.delta[g], 0)], 1.0))


def _implied(layout: _Layout, x: np.ndarray, g: int, group: _Group) -> np.ndarray:
    lam, psi, alpha, tau = _matrices(layout, x, g)
    s = lam @ psi @ lam.T
    scale = _scale(layout, x, g, s)
    th_item = group.moments.th_item
    thresholds = scale[th_item] * (tau - (lam @ alpha)[th_item])
    rows = np.array([a for a, _ in group.moments.pairs])
    cols = np.array([b for _, b in group.moments.pairs])
    corr = scale[rows] * scale[cols] * s[rows, cols]
    return np.concatenate([thresholds, corr])


def _stacked(layout: _Layout, x: np.ndarray, groups: Sequence[_Group]) -> np.ndarray:
    return np.concatenate([_implied(layout, x, g, grp) for g, grp in enumerate(groups)])


def _jacobian(layout: _Layout, x: np.ndarray, groups: Sequence[_Group]) -> np.ndarray:
    """∂σ/∂θ of the stacked statistics, by central differences (each column two evaluations)."""
    columns = []
    for k in range(len(x)):
        step = _STEP * max(1.0, abs(float(x[k])))
        up, down = x.copy(), x.copy()
        up[k] += step
        down[k] -= step
        columns.append((_stacked(layout, up, groups) - _stacked(layout, down, groups)) / (2 * step))
    return np.column_stack(columns)


def _fit(
    model: str,
    names: Sequence[str],
    factors: Mapping[str, Sequence[str]],
    groups: Sequence[_Group],
    partial: set[tuple[str, str, str]],
    start: np.ndarray,
    baseline: tuple[float, float, float],
) -> tuple[GroupFit, _Extras]:
    from scipy.optimize import least_squares

    layout = _layout(model, names, factors, groups, partial, start)
    s = np.concatenate([grp.moments.s for grp in groups])
    w = np.concatenate([grp.weights for grp in groups])
    root_w = np.sqrt(w)

    def residuals(x: np.ndarray) -> np.ndarray:
        return np.asarray(root_w * (s - _stacked(layout, x, groups)))

    def jac(x: np.ndarray) -> np.ndarray:
        return np.asarray(-root_w[:, None] * _jacobian(layout, x, groups))

    fitted = least_squares(
        residuals,
        np.asarray(layout.start),
        jac=jac,
        method="lm",
        xtol=1e-15,
        ftol=1e-15,
        gtol=1e-15,
    )
    x = fitted.x
    delta = _jacobian(layout, x, groups)
    sizes = [grp.n for grp in groups]
    n_total = sum(sizes)
    lengths = [len(grp.moments.s) for grp in groups]
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    # per group: N_g/(N_g − 1) on Γ_g (the estimates' covariance), (N_g − 1)/N_g on the statistic
    gamma = np.zeros((len(s), len(s)))
    factor = np.zeros(len(s))
    for g, grp in enumerate(groups):
        block = slice(bounds[g], bounds[g + 1])
        gamma[block, block] = grp.moments.gamma
        factor[block] = (grp.n - 1) / grp.n
    w_delta = delta * w[:, None]
    bread = np.linalg.inv(delta.T @ w_delta)
    meat = w_delta.T @ (gamma / np.sqrt(factor[:, None] * factor[None, :])) @ w_delta
    cov = bread @ meat @ bread
    se = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    r = s - _stacked(layout, x, groups)
    chisq = float(np.sum(factor * w * r * r))
    df = len(s) - len(x)
    ug = w[:, None] * gamma - w_delta @ (bread @ (w_delta.T @ gamma))
    scaling = _scaled_shifted(ug, df)
    n_groups = len(groups)
    srmr = 0.0
    for g, grp in enumerate(groups):
        n_th = grp.moments.n_thresholds
        resid_r = r[bounds[g] + n_th : bounds[g + 1]]
        srmr += grp.n / n_total * ordered_srmr(resid_r, len(names))
    fit = pd.Series(
        {
            **scaled_fit(chisq, df, scaling, baseline, n=n_total - n_groups, groups=n_groups),
            "srmr": srmr,
            "npar": float(len(x)),
            "n_obs": float(n_total),
        }
    )
    parameters = pd.DataFrame(
        [
            {"group": grp, "lhs": lhs, "op": op, "rhs": rhs, "estimate": x[k], "se": se[k]}
            for k, (grp, lhs, op, rhs) in enumerate(layout.labels)
        ]
    )
    extras = _Extras(x=x, layout=layout, delta=delta, w=w, gamma=gamma, bread=bread)
    return GroupFit(
        name=model, fit=fit, parameters=parameters, converged=bool(fitted.success)
    ), extras


def _baseline(groups: Sequence[_Group]) -> tuple[float, float, float]:
    """Every group's independence model: T₀, its scaled-and-shifted T₀* and df₀."""
    t0 = 0.0
    blocks = []
    weights = []
    df0 = 0
    for grp in groups:
        n_th = grp.moments.n_thresholds
        rho = grp.moments.s[n_th:]
        w_rho = grp.weights[n_th:]
        t0 += (grp.n - 1) / grp.n * float(rho @ (w_rho * rho))
        blocks.append(grp.moments.gamma[n_th:, n_th:])
        weights.append(w_rho)
        df0 += len(rho)
    size = sum(len(w) for w in weights)
    ug = np.zeros((size, size))
    at = 0
    for w_rho, gamma in zip(weights, blocks, strict=True):
        k = len(w_rho)
        ug[at : at + k, at : at + k] = w_rho[:, None] * gamma
        at += k
    a, b = _scaled_shifted(ug, df0)
    return t0, a * t0 + b, float(df0)


@one_blas_thread
def ordinal_invariance_model(
    data: pd.DataFrame,
    factors: Mapping[str, Sequence[str]],
    group: str,
    *,
    partial: Sequence[str] = (),
    models: Sequence[str] = MODELS,
) -> InvarianceResult:
    """The ordinal (WLSMV) invariance sequence of ``factors`` (factor → items, the first its
    marker) across the values of ``data[group]``; rows with a missing item are left out
    (listwise, lavaan's default for ordered data). See the module docstring.

    In R: ``lavaan::cfa(model, data, ordered = TRUE, estimator = "WLSMV", group = group,
    group.equal = ...)``.
    """
    names = check_model_inputs(data, factors, {"group": group}, models)
    parsed = parse_partial(partial, _PARTIAL, _PARTIAL_HINT)
    for lhs, op, rhs in parsed:
        known = (lhs in factors and rhs in names) if op == "=~" else lhs in names
        if not known:
            raise AnalysisError(f"partial: {lhs} {op} {rhs} is not a parameter of the model")
    values, labels, found = complete_groups(data, names, group)
    groups_found = list(found)
    prepared: list[_Group] = []
    categories: dict[str, tuple[float, ...]] | None = None
    for value in groups_found:
        block = values[labels == value].to_numpy(dtype=np.float64)
        if block.shape[0] <= len(names):
            raise AnalysisError(
                f"group {value!r} has {block.shape[0]} complete rows, too few for "
                f"{len(names)} items"
            )
        poly = polychoric_matrix(pd.DataFrame(block, columns=names))
        if poly.rho.isna().to_numpy().any():
            raise AnalysisError(
                f"group {value!r}: an item has a single answer among the complete rows"
            )
        if categories is None:
            categories = poly.categories
        else:
            for name in names:
                if poly.categories[name] != categories[name]:
                    raise AnalysisError(
                        f"item {name}: the answers seen differ between groups "
                        f"({list(categories[name])} in {groups_found[0]!r}, "
                        f"{list(poly.categories[name])} in {value!r}); thresholds can only be "
                        "compared when every group uses the same categories (merge rare "
                        "categories first)"
                    )
        moments = _moments(block, poly)
        prepared.append(
            _Group(
                name=value,
                n=block.shape[0],
                moments=moments,
                weights=1.0 / np.diag(moments.gamma),
            )
        )
    first = prepared[0]
    structure = _model(names, factors)
    n_th = first.moments.n_thresholds
    rho0 = np.eye(len(names))
    for k, (a, b) in enumerate(first.moments.pairs):
        rho0[a, b] = rho0[b, a] = first.moments.s[n_th + k]
    start = _start_values(structure, rho0, factors, names)
    baseline = _baseline(prepared)
    fits: dict[str, GroupFit] = {}
    extras: dict[str, _Extras] = {}
    for name in models:
        fits[name], extras[name] = _fit(name, names, factors, prepared, parsed, start, baseline)

    def difference(previous: str, model: str) -> float:
        return _difference(
            extras[previous],
            extras[model],
            float(fits[previous].fit["chisq"]),
            float(fits[model].fit["chisq"]),
            int(fits[model].fit["df"] - fits[previous].fit["df"]),
        )

    table = sequence_table(models, fits, difference, cfi="cfi_scaled", rmsea="rmsea_scaled")
    return InvarianceResult(
        table=table,
        models=fits,
        groups=tuple(groups_found),
        n_per_group={grp.name: grp.n for grp in prepared},
        partial=tuple(partial),
    )


def _difference(
    full: _Extras, restricted: _Extras, t_full: float, t_restricted: float, m: int
) -> float:
    """The scaled-and-shifted difference statistic of two nested models (Satorra 2000).

    A spans the restrictions in the larger model's parameters: with Δ₁, Δ₀ the models'
    Jacobians, H = Δ₁⁺Δ₀ and A the orthogonal complement of H's columns (lavaan's
    ``A.method = "delta"``); with P = Δ₁ᵀWΔ₁, U = WΔ₁P⁻¹Aᵀ(AP⁻¹Aᵀ)⁺AP⁻¹Δ₁ᵀW over the stacked
    groups, a = √(m / tr((UΓ)²)), b = m − a·tr(UΓ) and T_d = a·(T₀ − T₁) + b on m degrees of
    freedom. In R: ``lavaan::lavTestLRT(m1, m0)`` (``method = "satorra.2000"``, the default
    for a scaled-and-shifted test).
    """
    from scipy.linalg import null_space

    h = np.linalg.pinv(full.delta) @ restricted.delta
    a_mat = null_space(h.T).T
    p_inv = full.bread
    apa = a_mat @ p_inv @ a_mat.T
    middle = p_inv @ a_mat.T @ np.linalg.pinv(apa) @ a_mat @ p_inv
    w_delta = full.w[:, None] * full.delta
    ug = w_delta @ middle @ (w_delta.T @ full.gamma)
    tr1 = float(np.trace(ug))
    tr2 = float(np.sum(ug * ug.T))
    a = float(np.sqrt(m / tr2))
    b = m - a * tr1
    return a * (t_restricted - t_full) + b
