"""Measurement invariance across groups: configural, metric, scalar and strict multi-group CFA.

The same factor structure (one factor per subscale, the first loading of each factor fixed to 1)
is fitted in every group by maximum likelihood with a mean structure, with more and more
parameters held equal across groups (lavaan's ``group.equal``):

=========== ==================================== ===============================================
model       equal across groups                   free in every group
=========== ==================================== ===============================================
configural  nothing                               loadings, intercepts, residual variances, Φ
metric      loadings                              intercepts, residual variances, Φ
scalar      loadings, intercepts                  residual variances, Φ, latent means (0 in the
                                                  first group)
strict      loadings, intercepts, residual vars   Φ, latent means (0 in the first group)
=========== ==================================== ===============================================

Partial invariance: parameters named in ``partial`` (lavaan syntax: ``"x3 ~ 1"`` an intercept,
``"visual =~ x3"`` a loading, ``"x3 ~~ x3"`` a residual variance) stay free in every group.

Estimation: per group g with N_g complete rows, covariance S_g (divisor N_g) and means m_g,
F_g = ln|Σ_g| + tr(S_gΣ_g⁻¹) − ln|S_g| − p + (m_g − μ_g)ᵀΣ_g⁻¹(m_g − μ_g), Σ_g = Λ_gΦ_gΛ_gᵀ + Θ_g,
μ_g = ν_g + Λ_gα_g; θ̂ minimizes χ² = Σ_g N_g F_g (L-BFGS-B with the analytic gradient).
df = G·(p(p + 1)/2 + p) − #θ. Baseline: every group's independence model (free means and
variances), χ²₀ = Σ_g N_g (Σ_i ln s_ii − ln|S_g|), df₀ = G·p(p − 1)/2. CFI and TLI as for one
group; RMSEA = √G · √max(χ²/(N·df) − 1/N, 0) with N = Σ N_g (lavaan's multi-group RMSEA); SRMR
the N_g-weighted mean of each group's SRMR (Bentler's: residuals divided by the sample standard
deviations) over its p(p + 1)/2 covariance residuals and p mean residuals.

The comparison of each model with the previous one: Δχ², Δdf and its p value (the likelihood
ratio test, ``lavaan::lavTestLRT``), ΔCFI, ΔRMSEA, ΔSRMR, and two verdicts by stated cut-offs:
Chen (2007): metric holds when ΔCFI ≥ −.010, ΔRMSEA ≤ .015 and ΔSRMR ≤ .030; scalar and strict
when ΔCFI ≥ −.010, ΔRMSEA ≤ .015 and ΔSRMR ≤ .010. Cheung & Rensvold (2002): ΔCFI ≥ −.01.

In R: ``lavaan::cfa(model, data, group = "g", group.equal = c(...), group.partial = c(...))``,
``fitMeasures(fit, c("chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr", "npar"))`` and
``lavTestLRT(configural, metric, scalar, strict)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Unpack

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.stats._fit import ml_fit
from analysis.stats._input import ReadOptions, validated
from analysis.stats._matrix import keyed_matrix, one_blas_thread
from analysis.stats._result import Result
from surveytool.instrument.model import Instrument
from surveytool.responses import Responses

MODELS = ("configural", "metric", "scalar", "strict")
_EQUAL = {
    "configural": frozenset(),
    "metric": frozenset({"loadings"}),
    "scalar": frozenset({"loadings", "intercepts"}),
    "strict": frozenset({"loadings", "intercepts", "residuals"}),
}
#: Chen (2007) cut-offs: (ΔCFI at least, ΔRMSEA at most, ΔSRMR at most), by model.
CHEN_2007 = {
    "metric": (-0.010, 0.015, 0.030),
    "scalar": (-0.010, 0.015, 0.010),
    "strict": (-0.010, 0.015, 0.010),
}
#: Cheung & Rensvold (2002): ΔCFI at least.
CHEUNG_RENSVOLD_2002 = -0.01

#: The "outside the model" value of an ML discrepancy (Σ not positive definite): a wall, finite so
#: that the line search of L-BFGS-B backs off from it.
WALL = 1e15


_PARTIAL = re.compile(r"^\s*(\w+)\s*(=~|~~|~)\s*(\w+)\s*$")


@dataclass(frozen=True)
class GroupFit:
    """One multi-group model: its fit and estimates."""

    name: str
    fit: pd.Series
    parameters: pd.DataFrame
    converged: bool


@dataclass(frozen=True, repr=False)
class InvarianceResult(Result):
    """The invariance sequence: ``table`` (one row per model: ``chisq``, ``df``, ``pvalue``,
    ``cfi``, ``tli``, ``rmsea``, ``srmr``, ``npar``, then against the previous model
    ``chisq_diff``, ``df_diff``, ``p_diff``, ``cfi_diff``, ``rmsea_diff``, ``srmr_diff``,
    ``holds_chen2007``, ``holds_cheung_rensvold2002``), each model's :class:`GroupFit`, the groups
    and their sizes."""

    table: pd.DataFrame
    models: dict[str, GroupFit]
    groups: tuple[str, ...]
    n_per_group: dict[str, int]
    partial: tuple[str, ...] = field(default=())

    def summary(self) -> pd.DataFrame:
        return self.table


@dataclass
class _Layout:
    """Where each free parameter sits: per group, the θ index of every matrix element."""

    p: int
    m: int
    n_groups: int
    lam: np.ndarray  # (G, p, m) index into theta, -1 fixed (value in lam_fixed)
    lam_fixed: np.ndarray  # (p, m) 1 for markers, 0 elsewhere
    phi: np.ndarray  # (G, m, m) symmetric
    theta: np.ndarray  # (G, p, p) symmetric: residual variances, and covariances where free
    nu: np.ndarray  # (G, p)
    alpha: np.ndarray  # (G, m) -1 fixed at 0
    labels: list[tuple[str, str, str, str]]  # (group, lhs, op, rhs) of each θ entry
    size: int
    # per group, what every objective evaluation reads: (free, θ index) of each matrix, and the
    # free entries and θ indices of the gradient's matrices (one triangle of the symmetric ones)
    _reads: dict[int, tuple[list[tuple[np.ndarray, np.ndarray]], list[np.ndarray]]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def reads(self, g: int) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[np.ndarray]]:
        if g not in self._reads:
            indices = (self.lam[g], self.phi[g], self.theta[g], self.nu[g], self.alpha[g])
            taken = [(index >= 0, np.clip(index, 0, None)) for index in indices]
            upper = [
                self.lam[g],
                np.triu(self.phi[g] + 1) - 1,
                np.triu(self.theta[g] + 1) - 1,
                self.nu[g],
                self.alpha[g],
            ]
            self._reads[g] = (taken, upper)
        return self._reads[g]


_PARTIAL_HINT = (
    "write 'item ~ 1' (an intercept), 'factor =~ item' (a loading) or 'item ~~ item' (a "
    "residual variance)"
)


def parse_partial(
    partial: Sequence[str], pattern: re.Pattern[str] = _PARTIAL, hint: str = _PARTIAL_HINT
) -> set[tuple[str, str, str]]:
    """The (lhs, op, rhs) of each parameter named in lavaan syntax, by ``pattern``."""
    out = set()
    for text in partial:
        match = pattern.match(text)
        if match is None:
            raise AnalysisError(f"partial: cannot read {text!r}; {hint}")
        lhs, op, rhs = match.groups()
        out.add((lhs, op, rhs))
    return out


def blank_indices(
    n_groups: int, p: int, m: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Λ, Λ's fixed values, Φ, Θ, ν and α of a layout (:class:`_Layout`) of ``n_groups``
    groups, ``p`` items and ``m`` factors with nothing free yet: every index −1, Λ fixed at 0."""
    lam = np.full((n_groups, p, m), -1, dtype=np.int64)
    lam_fixed = np.zeros((p, m))
    phi = np.full((n_groups, m, m), -1, dtype=np.int64)
    theta = np.full((n_groups, p, p), -1, dtype=np.int64)
    nu = np.full((n_groups, p), -1, dtype=np.int64)
    alpha = np.full((n_groups, m), -1, dtype=np.int64)
    return lam, lam_fixed, phi, theta, nu, alpha


def check_partial(
    partial: Sequence[str], names: Sequence[str], factors: Mapping[str, Sequence[str]]
) -> set[tuple[str, str, str]]:
    """The parameters ``partial`` frees (:func:`parse_partial`), each of an item or factor of
    the model."""
    parsed = parse_partial(partial)
    known = set(names) | set(factors)
    for lhs, _, rhs in parsed:
        if lhs not in known or (rhs != "1" and rhs not in known):
            raise AnalysisError(f"partial: {lhs} or {rhs} is not an item or factor of the model")
    return parsed


def _layout(
    names: Sequence[str],
    factors: Mapping[str, Sequence[str]],
    groups: Sequence[str],
    equal: frozenset[str],
    partial: set[tuple[str, str, str]],
) -> _Layout:
    p, m, n_groups = len(names), len(factors), len(groups)
    position = {n: j for j, n in enumerate(names)}
    factor_names = list(factors)
    lam, lam_fixed, phi, theta, nu, alpha = blank_indices(n_groups, p, m)
    labels: list[tuple[str, str, str, str]] = []

    def new(label: tuple[str, str, str, str]) -> int:
        labels.append(label)
        return len(labels) - 1

    for f, (factor, items) in enumerate(factors.items()):
        for i, item in enumerate(items):
            j = position[item]
            if i == 0:
                lam_fixed[j, f] = 1.0
                continue
            shared = "loadings" in equal and (factor, "=~", item) not in partial
            if shared:
                k = new(("all", factor, "=~", item))
                lam[:, j, f] = k
            else:
                for g, group in enumerate(groups):
                    lam[g, j, f] = new((group, factor, "=~", item))
    for g, group in enumerate(groups):
        for f in range(m):
            for h in range(f, m):
                k = new((group, factor_names[f], "~~", factor_names[h]))
                phi[g, f, h] = phi[g, h, f] = k
    for j, item in enumerate(names):
        if "residuals" in equal and (item, "~~", item) not in partial:
            theta[:, j, j] = new(("all", item, "~~", item))
        else:
            for g, group in enumerate(groups):
                theta[g, j, j] = new((group, item, "~~", item))
        if "intercepts" in equal and (item, "~", "1") not in partial:
            nu[:, j] = new(("all", item, "~1", ""))
        else:
            for g, group in enumerate(groups):
                nu[g, j] = new((group, item, "~1", ""))
    if "intercepts" in equal:
        for g, group in enumerate(groups[1:], start=1):
            for f in range(m):
                alpha[g, f] = new((group, factor_names[f], "~1", ""))
    return _Layout(p, m, n_groups, lam, lam_fixed, phi, theta, nu, alpha, labels, len(labels))


def _matrices(
    lay: _Layout, x: np.ndarray, g: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    taken, _ = lay.reads(g)
    fixed: list[np.ndarray | float] = [lay.lam_fixed, 0.0, 0.0, 0.0, 0.0]
    lam, phi, theta, nu, alpha = (
        np.where(free, x[index], value) for (free, index), value in zip(taken, fixed, strict=True)
    )
    return lam, phi, theta, nu, alpha


def implied(lay: _Layout, x: np.ndarray, g: int) -> tuple[np.ndarray, np.ndarray]:
    """The model's covariance matrix Σ = ΛΦΛᵀ + Θ and means μ = ν + Λα of group ``g``."""
    lam, phi, theta, nu, alpha = _matrices(lay, x, g)
    return lam @ phi @ lam.T + theta, nu + lam @ alpha


def symmetric_gradient(
    lay: _Layout, g: int, g_sigma: np.ndarray, g_mu: np.ndarray, x: np.ndarray
) -> np.ndarray:
    """The gradient in θ of a discrepancy from its derivatives in Σ (symmetric, ``g_sigma``) and
    in μ (``g_mu``), through group ``g``'s matrices (a symmetric pair of Φ or Θ counts twice)."""
    lam, phi, _, _, alpha = _matrices(lay, x, g)
    grad = np.zeros(lay.size)
    d_lam = 2.0 * g_sigma @ lam @ phi + np.outer(g_mu, alpha)
    d_phi = lam.T @ g_sigma @ lam
    d_phi = 2.0 * d_phi - np.diag(np.diag(d_phi))
    d_theta = 2.0 * g_sigma - np.diag(np.diag(g_sigma))
    _, upper = lay.reads(g)
    for index, values in zip(upper, (d_lam, d_phi, d_theta, g_mu, lam.T @ g_mu), strict=True):
        mask = index >= 0
        np.add.at(grad, index[mask], values[mask])
    return grad


@dataclass
class _Group:
    n: int
    cov: np.ndarray
    mean: np.ndarray
    logdet: float


def _objective(lay: _Layout, data: Sequence[_Group], x: np.ndarray) -> tuple[float, np.ndarray]:
    """χ² = Σ N_g F_g and its gradient in θ."""
    total = 0.0
    grad = np.zeros(lay.size)
    p = lay.p
    for g, grp in enumerate(data):
        sigma, mu = implied(lay, x, g)
        sign, logdet = np.linalg.slogdet(sigma)
        if sign <= 0:
            # outside the model (Σ not positive definite): a wall, finite for the line search
            return WALL, grad
        inv = np.linalg.inv(sigma)
        d = grp.mean - mu
        w = grp.cov + np.outer(d, d)
        f = logdet + float(np.sum(w * inv)) - grp.logdet - p
        total += grp.n * f
        g_sigma = grp.n * (inv - inv @ w @ inv)  # dF/dΣ (symmetric matrix derivative)
        g_mu = grp.n * (-2.0 * inv @ d)
        grad += symmetric_gradient(lay, g, g_sigma, g_mu, x)
    return total, grad


def _start(
    lay: _Layout, data: Sequence[_Group], factors: Mapping[str, Sequence[str]]
) -> np.ndarray:
    x = np.zeros(lay.size)
    count = np.zeros(lay.size)
    names_per_factor = list(factors.values())
    for g, grp in enumerate(data):
        lam = lay.lam_fixed.copy()
        cursor = 0
        for f, items in enumerate(names_per_factor):
            idx = list(range(cursor, cursor + len(items)))
            cursor += len(items)
            block = grp.cov[np.ix_(idx, idx)]
            _, vecs = np.linalg.eigh(block)
            vec = vecs[:, -1]
            if abs(vec[0]) < 1e-8:
                vec = np.ones(len(idx))
            lam[idx, f] = vec / vec[0]
        est_phi = np.zeros((lay.m, lay.m))
        cursor = 0
        for f, items in enumerate(names_per_factor):
            j = cursor
            cursor += len(items)
            est_phi[f, f] = max(0.5 * grp.cov[j, j], 0.05)
        values = {
            "lam": lam,
            "phi": est_phi,
            "theta": np.diag(0.5 * np.diag(grp.cov)),
            "nu": grp.mean,
            "alpha": np.zeros(lay.m),
        }
        for key, index in (
            ("lam", lay.lam[g]),
            ("phi", lay.phi[g]),
            ("theta", lay.theta[g]),
            ("nu", lay.nu[g]),
            ("alpha", lay.alpha[g]),
        ):
            mask = index >= 0
            np.add.at(x, index[mask], values[key][mask])
            np.add.at(count, index[mask], 1.0)
    return x / np.maximum(count, 1.0)


def minimize_ml(
    objective: Callable[[np.ndarray], tuple[float, np.ndarray]], x0: np.ndarray
) -> np.ndarray:
    """Minimize an ML discrepancy with its analytic gradient: L-BFGS-B (limited memory: cheap
    steps for the hundreds of parameters of a multi-group model), restarted from where it
    stopped until the gradient vanishes, and BFGS as a last resort."""
    from scipy.optimize import minimize

    x = x0
    value = WALL
    for _ in range(8):
        step = minimize(
            objective,
            x,
            jac=True,
            method="L-BFGS-B",
            options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 50_000, "maxcor": 30},
        )
        x = np.asarray(step.x, dtype=np.float64)
        value, gradient = objective(x)
        if value < WALL / 10 and np.max(np.abs(gradient)) < 1e-6 * max(1.0, value):
            return x
    step = minimize(objective, x, jac=True, method="BFGS", options={"gtol": 1e-9})
    return np.asarray(step.x, dtype=np.float64) if step.fun <= value else x


def _warm_start(lay: _Layout, previous: GroupFit, x0: np.ndarray) -> np.ndarray:
    """Start a more constrained model from the previous model's estimates: a parameter now shared
    across groups starts at the mean of its groups' estimates."""
    table = previous.parameters
    values: dict[tuple[str, str, str], list[float]] = {}
    exact: dict[tuple[str, str, str, str], float] = {}
    estimates = table["estimate"].to_numpy(dtype=np.float64)
    for group, lhs, op, rhs, estimate in zip(
        table["group"], table["lhs"], table["op"], table["rhs"], estimates, strict=True
    ):
        key = (str(lhs), str(op), str(rhs))
        values.setdefault(key, []).append(float(estimate))
        exact[(str(group), *key)] = float(estimate)
    x = x0.copy()
    for k, (group, lhs, op, rhs) in enumerate(lay.labels):
        if (group, lhs, op, rhs) in exact:
            x[k] = exact[(group, lhs, op, rhs)]
        elif (lhs, op, rhs) in values:
            x[k] = float(np.mean(values[(lhs, op, rhs)]))
    return x


def _fit_one(
    name: str,
    names: Sequence[str],
    factors: Mapping[str, Sequence[str]],
    groups: Sequence[str],
    data: Sequence[_Group],
    partial: set[tuple[str, str, str]],
    previous: GroupFit | None = None,
) -> GroupFit:
    return fit_layout(
        name, _layout(names, factors, groups, _EQUAL[name], partial), factors, data, previous
    )


def fit_layout(
    name: str,
    lay: _Layout,
    factors: Mapping[str, Sequence[str]],
    data: Sequence[_Group],
    previous: GroupFit | None = None,
) -> GroupFit:
    """Fit the model laid out by ``lay`` to each group's moments (``factors``: the items of
    each factor in ``lay``'s item order, for the start values), warm-started from ``previous``."""

    x0 = _start(lay, data, factors)
    if previous is not None:
        x0 = _warm_start(lay, previous, x0)

    def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
        return _objective(lay, data, x)

    x = minimize_ml(objective, x0)
    chisq, gradient = _objective(lay, data, x)
    # converged: the gradient of χ² vanishes (the optimizers' own flags also report a loss of
    # precision near the optimum, where no step can improve χ² any more)
    converged = bool(chisq < WALL / 10 and np.max(np.abs(gradient)) < 1e-4 * max(1.0, chisq))
    p, n_groups = lay.p, lay.n_groups
    df = n_groups * (p * (p + 1) // 2 + p) - lay.size
    n_total = sum(grp.n for grp in data)
    base = sum(grp.n * (float(np.sum(np.log(np.diag(grp.cov)))) - grp.logdet) for grp in data)
    base_df = n_groups * p * (p - 1) // 2
    srmr = 0.0
    for g, grp in enumerate(data):
        sigma, mu = implied(lay, x, g)
        sd = np.sqrt(np.diag(grp.cov))
        resid = (grp.cov - sigma) / np.outer(sd, sd)
        iu = np.triu_indices(p)
        mean_resid = (grp.mean - mu) / sd
        squares = np.concatenate([resid[iu] ** 2, mean_resid**2])
        srmr += grp.n / n_total * float(np.sqrt(np.mean(squares)))
    fit = pd.Series(
        ml_fit(chisq, df, base, base_df, n_obs=n_total, srmr=srmr, npar=lay.size, groups=n_groups)
    )
    parameters = pd.DataFrame(lay.labels, columns=["group", "lhs", "op", "rhs"])
    parameters["estimate"] = x
    return GroupFit(name=name, fit=fit, parameters=parameters, converged=converged)


@one_blas_thread
def invariance_model(
    data: pd.DataFrame,
    factors: Mapping[str, Sequence[str]],
    group: str,
    *,
    partial: Sequence[str] = (),
    models: Sequence[str] = MODELS,
) -> InvarianceResult:
    """The invariance sequence of ``factors`` (factor → items, the first its marker) across the
    values of ``data[group]``; rows with a missing item are left out (listwise, per group).

    In R: ``lavaan::cfa(model, data, group = group, group.equal = ...)`` for each model and
    ``lavaan::lavTestLRT(...)``; see the module docstring.
    """

    names = check_model_inputs(data, factors, {"group": group}, models)
    parsed = check_partial(partial, names, factors)
    values, labels, groups = complete_groups(data, names, group)
    prepared = []
    sizes = {}
    for value in groups:
        block = values[labels == value].to_numpy(dtype=np.float64)
        n = block.shape[0]
        sizes[value] = n
        if n <= len(names):
            raise AnalysisError(
                f"group {value!r} has {n} complete rows, too few for {len(names)} items"
            )
        mean = block.mean(axis=0)
        cov = np.cov(block, rowvar=False, bias=True)
        sign, logdet = np.linalg.slogdet(cov)
        if sign <= 0:
            raise AnalysisError(f"group {value!r}: the items' covariance matrix is singular")
        prepared.append(_Group(n=n, cov=cov, mean=mean, logdet=float(logdet)))
    fits: dict[str, GroupFit] = {}
    last: GroupFit | None = None
    for name in models:
        last = fits[name] = _fit_one(name, names, factors, groups, prepared, parsed, last)
    table = sequence_table(models, fits)
    return InvarianceResult(
        table=table,
        models=fits,
        groups=groups,
        n_per_group=sizes,
        partial=tuple(partial),
    )


def check_model_inputs(
    data: pd.DataFrame,
    factors: Mapping[str, Sequence[str]],
    columns: Mapping[str, str],
    models: Sequence[str],
    *,
    needs: str = "the invariance models need",
) -> list[str]:
    """The items of ``factors``, after checking the models, the structure (``needs``: who needs
    a simple one, in the message), the ``columns`` (role -> column: ``{"group": group}``) and
    the items' columns."""
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise AnalysisError(
            f"models: unknown {', '.join(unknown)}; choose from {', '.join(MODELS)}"
        )
    names = [n for items in factors.values() for n in items]
    if len(set(names)) != len(names):
        raise AnalysisError(f"an item is in two factors; {needs} a simple structure")
    for role, column in columns.items():
        if column not in data.columns:
            raise AnalysisError(f"no {role} column {column!r}")
    missing = [n for n in names if n not in data.columns]
    if missing:
        raise AnalysisError(f"no column for {', '.join(missing)}")
    return names


def complete_groups(
    data: pd.DataFrame, names: Sequence[str], group: str
) -> tuple[pd.DataFrame, pd.Series, tuple[str, ...]]:
    """The complete rows (every item and the group answered; listwise), their group labels as
    text and the groups in order of first appearance (lavaan's order); two groups at least."""
    values = data[list(names)].apply(pd.to_numeric, errors="coerce")
    labels = data[group]
    keep = values.notna().all(axis=1) & labels.notna()
    values, labels = values[keep], labels[keep].astype(str)
    groups = tuple(dict.fromkeys(labels))
    if len(groups) < 2:
        raise AnalysisError(f"{group!r} has fewer than two groups among the complete rows")
    return values, labels, groups


def sequence_table(
    models: Sequence[str],
    fits: Mapping[str, GroupFit],
    difference: Callable[[str, str], float] | None = None,
    *,
    cfi: str = "cfi",
    rmsea: str = "rmsea",
) -> pd.DataFrame:
    """One row per model: its fit, then against the previous model the difference test (Δχ² by
    default, or ``difference(previous, model)``), ΔCFI, ΔRMSEA, ΔSRMR (of the ``cfi`` and
    ``rmsea`` columns named) and the verdicts of Chen (2007) and Cheung & Rensvold (2002)."""
    from scipy import stats

    rows = []
    previous: str | None = None
    for name in models:
        current = fits[name]
        row: dict[str, object] = {"model": name}
        row.update({str(key): value for key, value in current.fit.items()})
        if previous is None:
            row.update(
                chisq_diff=np.nan,
                df_diff=np.nan,
                p_diff=np.nan,
                cfi_diff=np.nan,
                rmsea_diff=np.nan,
                srmr_diff=np.nan,
                holds_chen2007=None,
                holds_cheung_rensvold2002=None,
            )
        else:
            a, b = fits[previous].fit, current.fit
            d_df = float(b["df"] - a["df"])
            if difference is not None and d_df > 0:
                d_chi = difference(previous, name)
            else:
                d_chi = float(b["chisq"] - a["chisq"])
            d_cfi = float(b[cfi] - a[cfi])
            d_rmsea = float(b[rmsea] - a[rmsea])
            d_srmr = float(b["srmr"] - a["srmr"])
            cfi_cut, rmsea_cut, srmr_cut = CHEN_2007.get(name, CHEN_2007["scalar"])
            row.update(
                chisq_diff=d_chi,
                df_diff=d_df,
                p_diff=float(stats.chi2.sf(d_chi, d_df)) if d_df > 0 else np.nan,
                cfi_diff=d_cfi,
                rmsea_diff=d_rmsea,
                srmr_diff=d_srmr,
                holds_chen2007=bool(
                    d_cfi >= cfi_cut and d_rmsea <= rmsea_cut and d_srmr <= srmr_cut
                ),
                holds_cheung_rensvold2002=bool(d_cfi >= CHEUNG_RENSVOLD_2002),
            )
        rows.append(row)
        previous = name
    return pd.DataFrame(rows).set_index("model")


def measurement_invariance(
    instrument: Instrument | str,
    responses: pd.DataFrame | Responses,
    group_column: str,
    *,
    partial: Sequence[str] = (),
    models: Sequence[str] = MODELS,
    ordered: bool = False,
    **read: Unpack[ReadOptions],
) -> InvarianceResult:
    """Measurement invariance of the instrument's subscale structure (keyed items) across the
    groups of ``group_column`` (a group column of the responses; for waves, the wave column —
    each wave then counts as an independent group, which ignores that the same people answer
    again).

    ``ordered=True``: the items as ordered categories, multi-group WLSMV with thresholds and
    scale factors (:func:`analysis.stats.ordinal_invariance.ordinal_invariance_model`); the
    partial parameters then read ``"factor =~ item"``, ``"item | t1"`` or ``"item ~~ item"``.

    In R: ``lavaan::cfa("subscale =~ item1 + ...", data = keyed, group = group_column,
    group.equal = ...)`` (with ``ordered = TRUE, estimator = "WLSMV"`` for ``ordered``).
    """
    from surveytool.instrument.registry import load_instrument
    from surveytool.scoring.plan import ScoringPlan

    options: ReadOptions = {**read}
    groups = list(options.get("group_columns", ()))
    options["group_columns"] = groups if group_column in groups else [*groups, group_column]
    plan, answers, problems = validated(instrument, responses, **options)
    if group_column not in answers.groups.columns:
        raise AnalysisError(f"no group column {group_column!r} in the responses")
    inst = load_instrument(instrument)
    full = ScoringPlan.build(inst, read.get("form"))
    factors = {sub.id: [full.item_ids[j] for j in sub.columns] for sub in full.subscales}
    keyed = keyed_matrix(plan, answers.values)
    frame = pd.DataFrame(keyed, columns=list(plan.item_ids))
    frame[group_column] = answers.groups[group_column].to_numpy()
    if ordered:
        from analysis.stats.ordinal_invariance import ordinal_invariance_model

        result = ordinal_invariance_model(
            frame, factors, group_column, partial=partial, models=models
        )
    else:
        result = invariance_model(frame, factors, group_column, partial=partial, models=models)
    import dataclasses

    return dataclasses.replace(result, problems=problems)
