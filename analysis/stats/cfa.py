"""Confirmatory factor analysis of an instrument's own subscale structure.

The model: one factor per subscale measured by its (keyed) items, factors free to correlate,
residuals uncorrelated, the first loading of each factor fixed to 1 (lavaan's default marker
identification). Estimation: maximum likelihood on the covariance matrix with divisor N of the
complete respondents (listwise deletion, lavaan's default), by L-BFGS-B on the discrepancy's
analytic gradient (the fitter of :mod:`analysis.stats.invariance`, one group, means saturated);
semopy (objective ``MLW``, SLSQP) when an item loads on two factors or that fit does not converge.

Fit indices are computed here, exactly as lavaan 0.6 reports them for ML (FORMULAS.md):

- F_ML = ln|Σ̂| + tr(S Σ̂⁻¹) − ln|S| − p; χ² = N·F_ML (N, not N − 1); df = p(p + 1)/2 − q;
- baseline (independence) model: χ²₀ = N·(Σ ln s_ii − ln|S|), df₀ = p(p − 1)/2;
- CFI = 1 − max(χ² − df, 0)/max(χ² − df, χ²₀ − df₀, 0) (1 when that maximum is 0);
  TLI = (χ²₀/df₀ − χ²/df)/(χ²₀/df₀ − 1) (missing when χ²₀ = df₀);
- RMSEA = √max(χ²/(N·df) − 1/N, 0); its 90% interval from the noncentrality λ with
  P(χ²_df(λ) ≤ χ²) = 0.95 (lower) and 0.05 (upper), √(λ/(N·df)), found by root-finding as
  lavaan's ``lav_fit_rmsea_ci``;
- SRMR (Bentler): √(mean of ((s_ij − σ̂_ij)/√(s_ii s_jj))² over i ≤ j), diagonal included.

Standardized loadings are lavaan's ``std.all``: λ·√φ_ff/√σ̂_ii.
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Unpack, overload

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.stats._fit import ml_fit
from analysis.stats._input import ReadOptions
from analysis.stats._matrix import one_blas_thread
from analysis.stats._options import check_option
from analysis.stats._result import Result
from analysis.stats.items import keyed_answers
from surveytool.instrument.model import Instrument
from surveytool.instrument.registry import load_instrument
from surveytool.responses import Responses
from surveytool.scoring.plan import ScoringPlan

if TYPE_CHECKING:
    from analysis.stats.fiml import FIMLResult
    from analysis.stats.moments import Moments
    from analysis.stats.ordinal_cfa import OrdinalCFAResult

FIT_COLUMNS = (
    "chisq",
    "df",
    "pvalue",
    "cfi",
    "tli",
    "rmsea",
    "rmsea_ci_lower",
    "rmsea_ci_upper",
    "srmr",
    "baseline_chisq",
    "baseline_df",
    "n_obs",
    "n_parameters",
)


@dataclass(frozen=True, repr=False)
class CFAResult(Result):
    """A fitted CFA.

    ``fit``: the indices of :data:`FIT_COLUMNS` (see the module docstring);
    ``loadings`` (index: factor, item): ``estimate`` (unstandardized) and ``std_all``;
    ``factor_correlations``: the standardized factor covariance matrix;
    ``model``: the model in lavaan syntax; ``converged``: the optimiser's verdict;
    ``skipped``: factors left out (fewer than two items); ``n_obs``: the complete respondents
    the model was fitted on; ``problems``: what validating the answers found.
    """

    fit: pd.Series
    loadings: pd.DataFrame
    factor_correlations: pd.DataFrame
    model: str
    converged: bool
    n_obs: int
    skipped: tuple[str, ...] = ()

    def summary(self) -> pd.DataFrame:
        """The fit indices as one row (lavaan's names with ``_`` for ``.``)."""
        return self.fit.to_frame().T.reset_index(drop=True)


def _rmsea_interval(chisq: float, df: int, n: int, level: float = 0.90) -> tuple[float, float]:
    """lavaan's root-finding interval for RMSEA (``lav_fit_rmsea_ci``)."""
    from scipy import optimize, stats

    upper_p = 1 - (1 - level) / 2
    lower_p = (1 - level) / 2

    def cdf(ncp: float) -> float:
        if ncp <= 0:
            return float(stats.chi2.cdf(chisq, df))
        return float(stats.ncx2.cdf(chisq, df, ncp))

    if df < 1 or cdf(0.0) - upper_p < 0:
        lower = 0.0
    else:
        lam = optimize.brentq(lambda x: cdf(x) - upper_p, 0.0, chisq, xtol=1e-12)
        lower = float(np.sqrt(lam / (n * df)))
    top = max(n, chisq * 4)
    if df < 1 or cdf(top) - lower_p > 0 or cdf(0.0) - lower_p < 0:
        upper = 0.0
    else:
        lam = optimize.brentq(lambda x: cdf(x) - lower_p, 0.0, top, xtol=1e-12)
        upper = float(np.sqrt(lam / (n * df)))
    return lower, upper


def fit_indices(
    sample: np.ndarray, implied: np.ndarray, n_obs: int, n_parameters: int
) -> pd.Series:
    """lavaan's ML fit indices from S (divisor N), Σ̂, N and the number of free parameters.

    In R: ``lavaan::fitMeasures(fit, c("chisq", "df", "pvalue", "cfi", "tli", "rmsea",
    "rmsea.ci.lower", "rmsea.ci.upper", "srmr", "baseline.chisq", "baseline.df"))``.
    """
    p = sample.shape[0]
    _, logdet_s = np.linalg.slogdet(sample)
    _, logdet_sigma = np.linalg.slogdet(implied)
    f_ml = logdet_sigma + float(np.trace(sample @ np.linalg.inv(implied))) - logdet_s - p
    chisq = n_obs * f_ml
    df = p * (p + 1) // 2 - n_parameters
    base_chisq = n_obs * (float(np.sum(np.log(np.diag(sample)))) - logdet_s)
    base_df = p * (p - 1) // 2
    lower, upper = _rmsea_interval(chisq, df, n_obs)
    sd = np.sqrt(np.diag(sample))
    residual = (sample - implied) / np.outer(sd, sd)
    srmr = float(np.sqrt(np.mean(residual[np.tril_indices(p)] ** 2)))
    measures = ml_fit(chisq, df, base_chisq, base_df, n_obs=n_obs, srmr=srmr, npar=n_parameters)
    return pd.Series(
        {
            **measures,
            "rmsea_ci_lower": lower,
            "rmsea_ci_upper": upper,
            "n_parameters": float(n_parameters),
        }
    )[list(FIT_COLUMNS)]


def lavaan_syntax(factors: Mapping[str, Sequence[str]]) -> str:
    """The model in lavaan syntax, ``factor =~ item1 + item2 + ...`` per line."""
    return "\n".join(f"{f} =~ {' + '.join(items)}" for f, items in factors.items())


def _ml_estimates(
    values: np.ndarray, factors: Mapping[str, Sequence[str]], observed: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int] | None:
    """:func:`_ml_estimates_of` the rows' covariance (divisor N), means and N."""
    return _ml_estimates_of(
        np.cov(values, rowvar=False, bias=True), values.mean(axis=0), len(values), factors, observed
    )


def _ml_estimates_of(
    sample: np.ndarray,
    means: np.ndarray,
    n_obs: int,
    factors: Mapping[str, Sequence[str]],
    observed: Sequence[str],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int] | None:
    """The ML estimates by the analytic-gradient fitter of :mod:`analysis.stats.invariance` (one
    group, means saturated): (implied Σ, Λ, Φ, free parameters of the covariance model), or None
    when it does not converge or an item is in two factors (then semopy fits the model).

    The same model and the same optimum as semopy's (lavaan's marker parameterization), in a
    tenth of the time, without importing semopy (and sympy) at all.
    """
    from analysis.stats.invariance import (
        WALL,
        _Group,
        _layout,
        _matrices,
        _objective,
        _start,
        minimize_ml,
    )
    from analysis.stats.invariance import implied as implied_moments

    if sum(len(items) for items in factors.values()) != len(observed):
        return None
    sign, logdet = np.linalg.slogdet(sample)
    if sign <= 0:
        return None
    groups = [_Group(n=n_obs, cov=sample, mean=means, logdet=float(logdet))]
    lay = _layout(observed, factors, ("all",), frozenset(), set())
    x = minimize_ml(lambda x: _objective(lay, groups, x), _start(lay, groups, factors))
    x = _newton_polish(lambda x: _objective(lay, groups, x), x)
    chisq, gradient = _objective(lay, groups, x)
    if not (chisq < WALL / 10 and np.max(np.abs(gradient)) < 1e-6 * max(1.0, chisq)):
        return None
    sigma, _ = implied_moments(lay, x, 0)
    lam, phi, _, _, _ = _matrices(lay, x, 0)
    return sigma, lam, phi, lay.size - lay.p  # the p intercepts are the means, saturated


def _newton_polish(
    objective: Callable[[np.ndarray], tuple[float, np.ndarray]], x: np.ndarray, steps: int = 4
) -> np.ndarray:
    """Newton steps from the optimiser's estimate (the Hessian by central differences of the
    analytic gradient), kept while they shrink the gradient: L-BFGS-B stops where the
    discrepancy is flat to its tolerance, about 1e-8 from the optimum in the parameters, so two
    nearly equal covariance matrices (one partition's moments and the merged ones) could stop
    at estimates that differ there; polished, both are the optimum to about 1e-13 (and the
    rows' fit, :func:`cfa_model`, equals the fit of their merged moments)."""
    value, gradient = objective(x)
    hessian: np.ndarray | None = None
    for _ in range(steps):
        size = np.max(np.abs(gradient))
        if not size > 1e-14 * max(1.0, abs(value)):
            break
        if hessian is None:
            # once: this close to the optimum the Hessian barely changes between the steps, so
            # they reuse it (each costs 2 x parameters gradients; the report's CFA has 265)
            h = 1e-5 * np.maximum(1.0, np.abs(x))
            hessian = np.empty((len(x), len(x)))
            for j in range(len(x)):
                e = np.zeros(len(x))
                e[j] = h[j]
                hessian[:, j] = (objective(x + e)[1] - objective(x - e)[1]) / (2.0 * h[j])
            hessian = (hessian + hessian.T) / 2.0
        try:
            dx = np.linalg.solve(hessian, gradient)
        except np.linalg.LinAlgError:
            break
        if not np.all(np.isfinite(dx)):
            break
        new_value, new_gradient = objective(x - dx)
        if not (new_value <= value + 1e-9 * max(1.0, abs(value))) or not (
            np.max(np.abs(new_gradient)) < size
        ):
            break
        x, value, gradient = x - dx, new_value, new_gradient
    return x


@one_blas_thread
def cfa_model(data: pd.DataFrame, factors: Mapping[str, Sequence[str]]) -> CFAResult:
    """Fit a CFA (ML, listwise) of ``data`` with the given factors and report lavaan's indices.

    Parameters
    ----------
    data
        One column per observed variable (NaN = missing; incomplete rows are left out).
    factors
        Factor name → its indicators (columns of ``data``). The first indicator is the marker.

    Returns
    -------
    CFAResult

    Notes
    -----
    In R: ``lavaan::cfa(model, data)`` with ``model`` = :func:`lavaan_syntax` of ``factors``.
    Fitted by L-BFGS-B on the analytic gradient of the ML discrepancy
    (:func:`analysis.stats.invariance.minimize_ml`); semopy (SLSQP) when that does not converge
    or an item loads on two factors.
    """
    usable, skipped, observed = _usable(factors)
    missing = [c for c in observed if c not in data.columns]
    if missing:
        raise AnalysisError(f"the data lack the columns {', '.join(missing)}")
    values = data[observed].to_numpy(dtype=np.float64, na_value=np.nan)
    values = values[~np.isnan(values).any(axis=1)]
    n_obs = len(values)
    if n_obs <= len(observed):
        raise AnalysisError(f"{n_obs} complete respondents are too few for {len(observed)} items")
    centred = values - values.mean(axis=0)
    sample = centred.T @ centred / n_obs
    own = _ml_estimates(values, usable, observed)
    if own is not None:
        implied, lam, phi, n_parameters = own
        converged = True
    else:
        implied, lam, phi, n_parameters, converged = _semopy_estimates(
            values, sample, usable, observed
        )
    return _result(sample, implied, lam, phi, n_parameters, converged, n_obs, usable, skipped)


def _usable(
    factors: Mapping[str, Sequence[str]],
) -> tuple[dict[str, list[str]], tuple[str, ...], list[str]]:
    """The factors with two or more items, those left out, and the observed items in order."""
    usable = {f: list(items) for f, items in factors.items() if len(items) >= 2}
    skipped = tuple(f for f in factors if f not in usable)
    if not usable:
        raise AnalysisError("a CFA needs at least one factor with two or more items")
    observed = list(dict.fromkeys(i for items in usable.values() for i in items))
    return usable, skipped, observed


class NeedsRows(AnalysisError):
    """A CFA the covariance alone does not fit (:func:`cfa_from_moments`): fit it on the rows."""


def cfa_observed(factors: Mapping[str, Sequence[str]]) -> list[str]:
    """The items a CFA of ``factors`` fits (of the factors with two or more), in order."""
    return _usable(factors)[2]


@one_blas_thread
def cfa_from_moments(complete: Moments, factors: Mapping[str, Sequence[str]]) -> CFAResult:
    """:func:`cfa_model` from the moments of the complete rows (listwise) of its items.

    ``complete``: :func:`analysis.stats.moments.moments` of the rows with every item of
    :func:`cfa_observed` answered (merged over partitions, the whole cohort's): ML needs only
    S (divisor N) and N, so the fit is that of the rows. The fitter is the analytic-gradient
    one of :func:`cfa_model`; a model it does not fit (an item in two factors, no convergence)
    needs the rows (semopy), and is :class:`NeedsRows` here.
    """
    usable, skipped, observed = _usable(factors)
    missing = [c for c in observed if c not in complete.columns]
    if missing:
        raise AnalysisError(f"the moments lack the columns {', '.join(missing)}")
    m = complete.select(observed)
    n_obs = int(m.n_rows)
    if n_obs <= len(observed) or not (np.diag(m.n) == n_obs).all():
        raise AnalysisError(f"{n_obs} complete respondents are too few for {len(observed)} items")
    sample = m.comoment / n_obs
    own = _ml_estimates_of(sample, np.diag(m.mean).copy(), n_obs, usable, observed)
    if own is None:
        raise NeedsRows(
            "the model did not converge from the covariance alone (or an item is in two "
            "factors); fit it on the rows"
        )
    implied, lam, phi, n_parameters = own
    return _result(sample, implied, lam, phi, n_parameters, True, n_obs, usable, skipped)


def _result(
    sample: np.ndarray,
    implied: np.ndarray,
    lam: np.ndarray,
    phi: np.ndarray,
    n_parameters: int,
    converged: bool,
    n_obs: int,
    usable: Mapping[str, Sequence[str]],
    skipped: tuple[str, ...],
) -> CFAResult:
    observed = list(dict.fromkeys(i for items in usable.values() for i in items))
    fit = fit_indices(sample, implied, n_obs, n_parameters)
    sd_implied = np.sqrt(np.diag(implied))
    records = []
    for f_index, (f, items) in enumerate(usable.items()):
        variance = phi[f_index, f_index]
        for item in items:
            j = observed.index(item)
            estimate = lam[j, f_index]
            records.append(
                {
                    "factor": f,
                    "item": item,
                    "estimate": float(estimate),
                    "std_all": float(estimate * np.sqrt(variance) / sd_implied[j]),
                }
            )
    d = np.sqrt(np.diag(phi))
    names = list(usable)
    return CFAResult(
        fit=fit,
        loadings=pd.DataFrame(records).set_index(["factor", "item"]),
        factor_correlations=pd.DataFrame(phi / np.outer(d, d), index=names, columns=names),
        model=lavaan_syntax(usable),
        converged=converged,
        n_obs=n_obs,
        skipped=skipped,
    )


def _semopy_estimates(
    values: np.ndarray,
    sample: np.ndarray,
    usable: Mapping[str, Sequence[str]],
    observed: Sequence[str],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, bool]:
    """The ML estimates by semopy (SLSQP on its MLW objective): implied Σ, Λ and Φ in the order
    of ``observed`` and ``usable``, the number of free parameters, and whether it converged."""
    import semopy  # type: ignore[import-untyped]  # loads slowly; only when it fits the model

    # semopy's parser accepts plain names only: map items and factors to v0.., f0..
    item_name = {item: f"v{j}" for j, item in enumerate(observed)}
    factor_name = {f: f"f{j}" for j, f in enumerate(usable)}
    frame = pd.DataFrame(values, columns=[item_name[c] for c in observed])
    description = lavaan_syntax(
        {factor_name[f]: [item_name[i] for i in items] for f, items in usable.items()}
    )
    model = semopy.Model(description)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        previous = logging.getLogger().level
        logging.getLogger().setLevel(logging.ERROR)
        try:
            result = model.fit(
                frame,
                cov=pd.DataFrame(sample, index=frame.columns, columns=frame.columns),
                obj="MLW",
                solver="SLSQP",
                options={"ftol": 1e-12, "maxiter": 10_000},
            )
        finally:
            logging.getLogger().setLevel(previous)
    order = list(model.vars["observed"])
    position = [order.index(item_name[c]) for c in observed]
    implied = np.asarray(model.calc_sigma()[0], dtype=np.float64)[np.ix_(position, position)]
    rows, cols = model.names_lambda
    lam_all = np.asarray(model.mx_lambda, dtype=np.float64)
    psi_rows, _ = model.names_psi
    psi = np.asarray(model.mx_psi, dtype=np.float64)
    lam = np.zeros((len(observed), len(usable)))
    for f_index, f in enumerate(usable):
        for item in usable[f]:
            lam[observed.index(item), f_index] = lam_all[
                rows.index(item_name[item]), cols.index(factor_name[f])
            ]
    idx = [psi_rows.index(factor_name[f]) for f in usable]
    phi = psi[np.ix_(idx, idx)]
    converged = bool(getattr(result, "success", True))
    return implied, lam, phi, len(model.param_vals), converged


def subscale_factors(instrument: Instrument | str, form: str | None = None) -> dict[str, list[str]]:
    """The instrument's own structure: each subscale (of ``form``) → its items, in plan order
    (the factors of :func:`cfa`, for :func:`cfa_model` on keyed items already at hand)."""
    plan = ScoringPlan.build(load_instrument(instrument), form)
    return {sub.id: [plan.item_ids[j] for j in sub.columns] for sub in plan.subscales}


@overload
def cfa(
    instrument: Instrument | str,
    responses: pd.DataFrame | Responses,
    *,
    ordered: Literal[False] = False,
    missing: Literal["listwise"] = "listwise",
    **read: Unpack[ReadOptions],
) -> CFAResult: ...


@overload
def cfa(
    instrument: Instrument | str,
    responses: pd.DataFrame | Responses,
    *,
    ordered: Literal[False] = False,
    missing: Literal["ml"],
    **read: Unpack[ReadOptions],
) -> FIMLResult: ...


@overload
def cfa(
    instrument: Instrument | str,
    responses: pd.DataFrame | Responses,
    *,
    ordered: Literal[True],
    missing: Literal["listwise"] = "listwise",
    **read: Unpack[ReadOptions],
) -> OrdinalCFAResult: ...


def cfa(
    instrument: Instrument | str,
    responses: pd.DataFrame | Responses,
    *,
    ordered: bool = False,
    missing: Literal["listwise", "ml"] = "listwise",
    **read: Unpack[ReadOptions],
) -> CFAResult | OrdinalCFAResult | FIMLResult:
    """CFA of the instrument's subscale structure on keyed items (see the module docstring).

    ``missing="ml"`` keeps every respondent with an answer (full-information ML, see
    :mod:`analysis.stats.fiml`) instead of the complete rows only.
    ``ordered=True`` treats the items as ordered categories: DWLS on polychoric correlations with
    robust standard errors and the mean-and-variance adjusted test (WLSMV), see
    :mod:`analysis.stats.ordinal_cfa`.

    In R: ``lavaan::cfa("subscale =~ item1 + item2 + ...", data = keyed)``, or with
    ``ordered = TRUE, estimator = "WLSMV"``.
    """
    check_option("missing", missing, Literal["listwise", "ml"])
    if ordered and missing == "ml":
        raise AnalysisError(
            'missing="ml" is for continuous items; the ordinal CFA (ordered=True) uses the '
            "complete respondents"
        )
    keyed, problems = keyed_answers(instrument, responses, **read)
    factors = subscale_factors(instrument, read.get("form"))
    if missing == "ml":
        from analysis.stats.fiml import fiml_cfa_model

        return dataclasses.replace(fiml_cfa_model(keyed, factors), problems=problems)
    if ordered:
        from analysis.stats.ordinal_cfa import ordinal_cfa_model

        return dataclasses.replace(ordinal_cfa_model(keyed, factors), problems=problems)
    return dataclasses.replace(cfa_model(keyed, factors), problems=problems)
