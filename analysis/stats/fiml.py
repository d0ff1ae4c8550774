"""Confirmatory factor analysis with missing answers by full-information maximum likelihood.

Every respondent's answered items enter the likelihood (no listwise deletion): with the rows
grouped by their pattern of answered items o, each pattern's n_o rows, means m_o and covariance
S_o (divisor n_o) contribute n_o·(ln|Σ_oo| + tr(Σ_oo⁻¹(S_o + (m_o − μ_o)(m_o − μ_o)ᵀ))) to
−2ℓ (up to a constant), where Σ_oo and μ_o are the model's covariance and means restricted to the
pattern's items. Model: one factor per subscale (first loading 1), factor (co)variances,
residual variances and item intercepts free (the mean structure lavaan adds with missing =
"ml"). θ̂ minimizes −2ℓ by L-BFGS-B with the analytic gradient.

Fit as lavaan defines it under missing data: the saturated model (unrestricted means and
covariance) is estimated by EM; χ² = −2ℓ(θ̂) − (−2ℓ_saturated), df = p(p + 1)/2 + p − #θ; the
baseline (independence: free means and variances) likewise, so CFI and TLI use (χ², χ²₀);
RMSEA = √max(χ²/(N·df) − 1/N, 0) with N every row that answered something; SRMR (Bentler) from
the EM moments against the model's, covariances and means, divided by the EM standard deviations.

In R: ``lavaan::cfa(model, data, missing = "ml")`` and ``fitMeasures(fit, c("chisq", "df",
"cfi", "tli", "rmsea", "srmr"))``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.stats._fit import ml_fit
from analysis.stats._matrix import one_blas_thread
from analysis.stats._result import Result
from analysis.stats.invariance import (
    WALL,
    _Group,
    _layout,
    _matrices,
    _start,
    implied,
    minimize_ml,
    symmetric_gradient,
)


@dataclass(frozen=True, repr=False)
class FIMLResult(Result):
    """A CFA fitted by FIML: ``fit`` (``chisq``, ``df``, ``pvalue``, ``cfi``, ``tli``, ``rmsea``,
    ``srmr``, ``npar``, ``baseline_chisq``, ``baseline_df``, ``n_obs``, ``n_patterns``),
    ``parameters`` (every free parameter) and ``loadings``."""

    fit: pd.Series
    parameters: pd.DataFrame
    loadings: pd.DataFrame
    converged: bool
    n_obs: int

    def summary(self) -> pd.DataFrame:
        return self.fit.to_frame().T


@dataclass
class _Pattern:
    columns: np.ndarray  # observed item positions
    n: int
    mean: np.ndarray
    cov: np.ndarray  # divisor n


def _patterns(values: np.ndarray) -> list[_Pattern]:
    seen = ~np.isnan(values)
    keys, inverse = np.unique(seen, axis=0, return_inverse=True)
    out = []
    for k, key in enumerate(keys):
        if not key.any():
            continue
        rows = values[inverse.ravel() == k][:, key]
        mean = rows.mean(axis=0)
        centered = rows - mean
        out.append(
            _Pattern(
                columns=np.flatnonzero(key),
                n=rows.shape[0],
                mean=mean,
                cov=centered.T @ centered / rows.shape[0],
            )
        )
    return out


def _minus2ll(
    patterns: Sequence[_Pattern], mu: np.ndarray, sigma: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """−2ℓ (without the 2π constant) and its gradient in Σ (symmetric-matrix derivative) and μ."""
    total = 0.0
    g_sigma = np.zeros_like(sigma)
    g_mu = np.zeros_like(mu)
    for pat in patterns:
        o = pat.columns
        s_oo = sigma[np.ix_(o, o)]
        sign, logdet = np.linalg.slogdet(s_oo)
        if sign <= 0:
            return WALL, g_sigma, g_mu
        inv = np.linalg.inv(s_oo)
        d = pat.mean - mu[o]
        w = pat.cov + np.outer(d, d)
        total += pat.n * (logdet + float(np.sum(w * inv)))
        g_sigma[np.ix_(o, o)] += pat.n * (inv - inv @ w @ inv)
        g_mu[o] += -2.0 * pat.n * (inv @ d)
    return total, g_sigma, g_mu


def _em_saturated(
    values: np.ndarray, patterns: Sequence[_Pattern], max_iter: int = 5000
) -> tuple[np.ndarray, np.ndarray]:
    """Means and covariance of the saturated model under missingness (EM, Dempster et al. 1977)."""
    p = values.shape[1]
    mu = np.nanmean(values, axis=0)
    sigma = np.diag(np.nanvar(values, axis=0))
    n = sum(pat.n for pat in patterns)
    previous = np.inf
    for _ in range(max_iter):
        t1 = np.zeros(p)
        t2 = np.zeros((p, p))
        for pat in patterns:
            o = pat.columns
            m = np.setdiff1d(np.arange(p), o)
            # expected complete-data sufficient statistics of this pattern's rows
            x_o = pat.mean
            full_mean = np.empty(p)
            full_mean[o] = x_o
            cross = np.zeros((p, p))
            cross[np.ix_(o, o)] = pat.cov + np.outer(x_o, x_o)
            if len(m):
                s_oo_inv = np.linalg.inv(sigma[np.ix_(o, o)])
                beta = sigma[np.ix_(m, o)] @ s_oo_inv  # regression of missing on observed
                resid = sigma[np.ix_(m, m)] - beta @ sigma[np.ix_(o, m)]
                # E[x_m | x_o] = mu_m + beta (x_o - mu_o), averaged over the rows
                full_mean[m] = mu[m] + beta @ (x_o - mu[o])
                e_om = (pat.cov + np.outer(x_o, x_o)) @ beta.T + np.outer(x_o, mu[m] - beta @ mu[o])
                cross[np.ix_(o, m)] = e_om
                cross[np.ix_(m, o)] = e_om.T
                mean_m = mu[m] - beta @ mu[o]
                e_mm = (
                    resid
                    + beta @ (pat.cov + np.outer(x_o, x_o)) @ beta.T
                    + np.outer(beta @ x_o, mean_m)
                    + np.outer(mean_m, beta @ x_o)
                    + np.outer(mean_m, mean_m)
                )
                cross[np.ix_(m, m)] = e_mm
            t1 += pat.n * full_mean
            t2 += pat.n * cross
        mu = t1 / n
        sigma = t2 / n - np.outer(mu, mu)
        value, _, _ = _minus2ll(patterns, mu, sigma)
        if abs(previous - value) < 1e-10 * max(1.0, abs(value)):
            break
        previous = value
    return mu, sigma


@one_blas_thread
def fiml_cfa_model(data: pd.DataFrame, factors: Mapping[str, Sequence[str]]) -> FIMLResult:
    """CFA of ``factors`` (factor → items, the first its marker) on ``data`` (numbers, NaN
    missing) by FIML, every row with at least one answer kept. See the module docstring."""

    names = [n for items in factors.values() for n in items]
    if len(set(names)) != len(names):
        raise AnalysisError("an item is in two factors; the CFA needs a simple structure")
    missing = [n for n in names if n not in data.columns]
    if missing:
        raise AnalysisError(f"no column for {', '.join(missing)}")
    values = data[names].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    values = values[~np.isnan(values).all(axis=1)]
    n_obs, p = values.shape
    if n_obs <= p:
        raise AnalysisError(f"{n_obs} respondents are too few for {p} items")
    patterns = _patterns(values)
    if any(np.nansum(~np.isnan(values[:, j])) < 2 for j in range(p)):
        raise AnalysisError("an item has fewer than two answers")
    mu_h1, sigma_h1 = _em_saturated(values, patterns)
    h1, _, _ = _minus2ll(patterns, mu_h1, sigma_h1)

    lay = _layout(names, factors, ("all",), frozenset(), set())
    start_group = _Group(n=n_obs, cov=sigma_h1, mean=mu_h1, logdet=0.0)
    x0 = _start(lay, [start_group], factors)

    def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
        sigma, mu = implied(lay, x, 0)
        value, g_sigma, g_mu = _minus2ll(patterns, mu, sigma)
        return value, symmetric_gradient(lay, 0, g_sigma, g_mu, x)

    x = minimize_ml(objective, x0)
    h0, gradient = objective(x)
    converged = bool(h0 < WALL / 10 and np.max(np.abs(gradient)) < 1e-4 * max(1.0, h0))

    # baseline: independent items, each with its own mean and variance (closed form per item)
    base_mu = np.nanmean(values, axis=0)
    base_var = np.nanvar(values, axis=0)
    base, _, _ = _minus2ll(patterns, base_mu, np.diag(base_var))
    chisq = h0 - h1
    df = p * (p + 1) // 2 + p - lay.size
    base_chisq = base - h1
    base_df = p * (p - 1) // 2
    lam, phi, _, _, _ = _matrices(lay, x, 0)
    sigma, nu = implied(lay, x, 0)
    sd = np.sqrt(np.diag(sigma_h1))
    resid = (sigma_h1 - sigma) / np.outer(sd, sd)
    mean_resid = (mu_h1 - nu) / sd
    iu = np.triu_indices(p)
    srmr = float(np.sqrt(np.mean(np.concatenate([resid[iu] ** 2, mean_resid**2]))))
    fit = pd.Series(
        {
            **ml_fit(chisq, df, base_chisq, base_df, n_obs=n_obs, srmr=srmr, npar=lay.size),
            "n_patterns": float(len(patterns)),
        }
    )
    parameters = pd.DataFrame(lay.labels, columns=["group", "lhs", "op", "rhs"]).drop(
        columns="group"
    )
    parameters["estimate"] = x
    factor_names = list(factors)
    rows = []
    for f, items in enumerate(factors.values()):
        for item in items:
            j = names.index(item)
            rows.append(
                {
                    "item": item,
                    "factor": factor_names[f],
                    "estimate": float(lam[j, f]),
                    "std_all": float(lam[j, f] * np.sqrt(phi[f, f]) / np.sqrt(sigma[j, j])),
                }
            )
    return FIMLResult(
        fit=fit,
        parameters=parameters,
        loadings=pd.DataFrame(rows).set_index("item"),
        converged=converged,
        n_obs=n_obs,
    )
