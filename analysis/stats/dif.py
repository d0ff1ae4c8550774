"""Differential item functioning by ordinal logistic regression (Swaminathan & Rogers 1990;
Zumbo 1999), as lordif reports it.

For each item, with a matching variable θ (the respondent's standing on the scale: by default the
graded response model's EAP score of the scale, :mod:`analysis.stats.irt`, or the mean of the
other items, ``matching="rest"``) and the group g, three proportional-odds models (logit):

    M1: item ~ θ       M2: item ~ θ + g       M3: item ~ θ + g + θ·g

Uniform DIF: χ²₁₂ = 2(ℓ₂ − ℓ₁) on G − 1 df; non-uniform: χ²₂₃ on G − 1 df; either: χ²₁₃ on
2(G − 1) df. Effect sizes: the changes in McFadden's pseudo-R² (R² = 1 − ℓ/ℓ₀, ℓ₀ the
thresholds-only model), ΔR²₁₂, ΔR²₂₃, ΔR²₁₃. An item is flagged when the Holm-adjusted p of χ²₁₃
is below ``alpha`` (0.01, lordif's default); its size is classified by ΔR²₁₃ with the thresholds
of Jodoin & Gierl (2001): negligible below .035, moderate to .070, large above; and of Zumbo &
Thomas (1997): negligible below .13, moderate to .26, large above.

The regressions are proportional-odds (cumulative logit) models, fitted by Newton–Raphson and
checked against statsmodels' ``OrderedModel`` (BSD) in the tests. In R (reference): ``lordif::lordif(x,
group, criterion = "Chisqr", alpha = 0.01)`` (its ``$stats``), which matches on IRT θ with
iterative purification; here θ comes from one calibration on all items (no purification).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal, Unpack

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.stats._adjust import holm
from analysis.stats._input import ReadOptions, validated
from analysis.stats._matrix import keyed_matrix
from analysis.stats._options import check_option
from analysis.stats._result import Problems, Result
from surveytool.instrument.model import Instrument
from surveytool.responses import Responses

Matching = Literal["irt", "rest"]
#: ΔR² thresholds: (moderate from, large from).
JODOIN_GIERL_2001 = (0.035, 0.070)
ZUMBO_THOMAS_1997 = (0.13, 0.26)


@dataclass(frozen=True, repr=False)
class DIFResult(Result):
    """DIF per item: ``items`` with ``n``, ``chisq_12``, ``p_12``, ``chisq_13``, ``p_13``,
    ``chisq_23``, ``p_23``, ``p_13_holm``, ``r2_1``, ``r2_2``, ``r2_3``, ``delta_r2_12``,
    ``delta_r2_13``, ``delta_r2_23``, ``flagged``, ``size_jodoin_gierl``, ``size_zumbo_thomas``;
    ``groups``; ``matching``; ``alpha``."""

    items: pd.DataFrame
    groups: tuple[str, ...]
    matching: str
    alpha: float

    def summary(self) -> pd.DataFrame:
        return self.items


def _size(delta: float, cuts: tuple[float, float]) -> str:
    if np.isnan(delta):
        return "not computed"
    if delta < cuts[0]:
        return "negligible"
    return "moderate" if delta < cuts[1] else "large"


def _ordered_llf(y: np.ndarray, exog: np.ndarray, weight: np.ndarray | None = None) -> float:
    """Maximum log-likelihood of the proportional-odds (cumulative logit) model of ``y``
    (categories 0..K−1) on ``exog``: P(y ≤ k) = σ(c_k − xβ); ``weight``: how often each row
    occurs (distinct rows once with their counts give the same likelihood), default 1 each.

    The same model and likelihood as statsmodels' ``OrderedModel(y, exog, distr="logit")``
    (the tests compare the two to 1e-6); fitted here by Newton–Raphson with the analytic
    gradient and Hessian, because the report fits it for every item and group (statsmodels'
    generic distribution calls made that the slowest step of the report).
    """
    m, q = exog.shape
    weight = np.ones(m) if weight is None else np.asarray(weight, dtype=np.float64)
    k = int(y.max()) + 1
    counts = np.bincount(y, weights=weight, minlength=k)
    cum = np.cumsum(counts)[:-1] / counts.sum()
    cuts = np.log(np.clip(cum, 1e-6, 1 - 1e-6) / np.clip(1 - cum, 1e-6, 1))
    params = np.concatenate([cuts, np.zeros(q)])
    onehot_upper = np.zeros((m, k - 1))
    onehot_lower = np.zeros((m, k - 1))
    upper_ok = y < k - 1
    lower_ok = y > 0
    onehot_upper[np.flatnonzero(upper_ok), y[upper_ok]] = 1.0
    onehot_lower[np.flatnonzero(lower_ok), y[lower_ok] - 1] = 1.0
    jac_up = np.hstack([onehot_upper, -exog])
    jac_lo = np.hstack([onehot_lower, -exog])

    def pieces(theta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        c, beta = theta[: k - 1], theta[k - 1 :]
        eta = exog @ beta
        # upper and lower cumulative probabilities of each row's category
        z_up = onehot_upper @ c - eta
        z_lo = onehot_lower @ c - eta
        f_up = np.where(upper_ok, 1.0 / (1.0 + np.exp(-z_up)), 1.0)
        f_lo = np.where(lower_ok, 1.0 / (1.0 + np.exp(-z_lo)), 0.0)
        prob = np.clip(f_up - f_lo, 1e-300, None)
        d_up = np.where(upper_ok, f_up * (1 - f_up), 0.0)
        d_lo = np.where(lower_ok, f_lo * (1 - f_lo), 0.0)
        # derivatives of prob: in c (through the onehots) and in beta (minus the same)
        g_c = (onehot_upper * d_up[:, None] - onehot_lower * d_lo[:, None]) / prob[:, None]
        g_b = -((d_up - d_lo) / prob)[:, None] * exog
        scores = np.hstack([g_c, g_b])
        loglik = float(weight @ np.log(prob))
        # the Hessian: the score's derivative; second derivatives of the logistic
        s_up = np.where(upper_ok, d_up * (1 - 2 * f_up), 0.0)
        s_lo = np.where(lower_ok, d_lo * (1 - 2 * f_lo), 0.0)
        second = (jac_up * (weight * s_up / prob)[:, None]).T @ jac_up - (
            jac_lo * (weight * s_lo / prob)[:, None]
        ).T @ jac_lo
        hessian = second - (scores * weight[:, None]).T @ scores
        return loglik, weight @ scores, hessian

    value, grad, hess = pieces(params)
    for _ in range(100):
        try:
            step = np.linalg.solve(hess, -grad)
        except np.linalg.LinAlgError:
            break
        scale = 1.0
        for _half in range(40):
            trial = params + scale * step
            if np.all(np.diff(trial[: k - 1]) > 0):
                new_value, new_grad, new_hess = pieces(trial)
                if new_value >= value - 1e-12:
                    break
            scale /= 2.0
        else:
            break
        params, value, grad, hess = trial, new_value, new_grad, new_hess
        if float(np.max(np.abs(scale * step))) < 1e-10:
            break
    return value


_holm = holm  # the name irt_dif and the tests import


def _group_dummies(group: pd.Series) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    """The groups (in order of appearance), whether each row has one, and the dummy columns of
    every group but the first (DIF needs at least two groups)."""
    labels = group.astype("string")
    groups = tuple(str(v) for v in pd.unique(labels.dropna()))
    if len(groups) < 2:
        raise AnalysisError("DIF needs at least two groups")
    dummies = np.column_stack([(labels == g).to_numpy(dtype=float) for g in groups[1:]])
    return groups, labels.notna().to_numpy(), dummies


def _item_row(
    name: str, y: np.ndarray, theta: np.ndarray, has_group: np.ndarray, dummies: np.ndarray
) -> dict[str, object]:
    """The three nested models of one item (see the module docstring): its row of the table.

    Respondents with the same answer, matching value and group enter the models once, weighted
    by their number (the same likelihoods; a rest score takes few values).
    """
    from scipy import stats

    k = dummies.shape[1]
    keep = ~np.isnan(y) & ~np.isnan(theta) & has_group
    yk, tk, gk = y[keep], theta[keep], dummies[keep]
    levels = np.unique(yk)
    row: dict[str, object] = {"item": str(name), "n": int(keep.sum())}
    if len(levels) < 2 or keep.sum() < 20 or np.any(gk.sum(axis=0) == 0):
        row.update({c: np.nan for c in ("chisq_12", "p_12", "chisq_13", "p_13", "chisq_23")})
        row.update({"p_23": np.nan, "r2_1": np.nan, "r2_2": np.nan, "r2_3": np.nan})
        return row
    codes = np.searchsorted(levels, yk)
    counts = np.bincount(codes)
    ll0 = float(np.sum(counts[counts > 0] * np.log(counts[counts > 0] / counts.sum())))
    t = (tk - tk.mean()) / (tk.std() or 1.0)
    # one row per distinct (answer, matching value, group)
    _, t_code = np.unique(t, return_inverse=True)
    g_code = gk @ (2.0 ** np.arange(k)) if k else np.zeros(len(t))
    _, g_code = np.unique(g_code, return_inverse=True)
    key = (codes * (int(t_code.max()) + 1) + t_code) * (int(g_code.max()) + 1) + g_code
    _, first, weight = np.unique(key, return_index=True, return_counts=True)
    yd, td, gd = codes[first], t[first, None], gk[first]
    ll1 = _ordered_llf(yd, td, weight)
    ll2 = _ordered_llf(yd, np.column_stack([td, gd]), weight)
    ll3 = _ordered_llf(yd, np.column_stack([td, gd, gd * td]), weight)
    chi12, chi13, chi23 = 2 * (ll2 - ll1), 2 * (ll3 - ll1), 2 * (ll3 - ll2)
    r2 = [1 - ll / ll0 for ll in (ll1, ll2, ll3)]
    row.update(
        chisq_12=max(chi12, 0.0),
        p_12=float(stats.chi2.sf(max(chi12, 0.0), k)),
        chisq_13=max(chi13, 0.0),
        p_13=float(stats.chi2.sf(max(chi13, 0.0), 2 * k)),
        chisq_23=max(chi23, 0.0),
        p_23=float(stats.chi2.sf(max(chi23, 0.0), k)),
        r2_1=r2[0],
        r2_2=r2[1],
        r2_3=r2[2],
    )
    return row


def _item_table(rows: list[dict[str, object]], alpha: float) -> pd.DataFrame:
    table = pd.DataFrame(rows).set_index("item")
    table["delta_r2_12"] = table["r2_2"] - table["r2_1"]
    table["delta_r2_13"] = table["r2_3"] - table["r2_1"]
    table["delta_r2_23"] = table["r2_3"] - table["r2_2"]
    table["p_13_holm"] = _holm(table["p_13"].to_numpy(dtype=float))
    table["flagged"] = table["p_13_holm"] < alpha
    table["size_jodoin_gierl"] = [_size(float(v), JODOIN_GIERL_2001) for v in table["delta_r2_13"]]
    table["size_zumbo_thomas"] = [_size(float(v), ZUMBO_THOMAS_1997) for v in table["delta_r2_13"]]
    return table


def dif_model(
    items: pd.DataFrame,
    group: pd.Series,
    matching: pd.Series,
    *,
    alpha: float = 0.01,
) -> DIFResult:
    """DIF of every column of ``items`` (ordered answers, NaN missing) across ``group``, matched
    on ``matching`` (one value per row). See the module docstring."""
    if not 0 < alpha < 1:
        raise AnalysisError("alpha must be between 0 and 1")
    groups, has_group, dummies = _group_dummies(group)
    theta = matching.to_numpy(dtype=float)
    rows = [
        _item_row(str(name), items[name].to_numpy(dtype=float), theta, has_group, dummies)
        for name in items.columns
    ]
    return DIFResult(items=_item_table(rows, alpha), groups=groups, matching="given", alpha=alpha)


def scale_items(
    instrument: Instrument | str,
    responses: pd.DataFrame | Responses,
    group_column: str,
    scale: str,
    **read: Unpack[ReadOptions],
) -> tuple[pd.DataFrame, pd.Series, Problems]:
    """One subscale's keyed items (a frame, columns the item ids), each row's group and the
    problems validation found, for the DIF functions."""
    options: ReadOptions = {**read}
    groups = list(options.get("group_columns", ()))
    options["group_columns"] = groups if group_column in groups else [*groups, group_column]
    plan, answers, problems = validated(instrument, responses, **options)
    subscales = {sub.id: [int(j) for j in sub.columns] for sub in plan.subscales}
    if scale not in subscales:
        raise AnalysisError(f"no subscale {scale!r}; choose one of {', '.join(subscales)}")
    columns = subscales[scale]
    keyed = keyed_matrix(plan, answers.values)[:, columns]
    frame = pd.DataFrame(keyed, columns=[plan.item_ids[j] for j in columns])
    return frame, pd.Series(answers.groups[group_column].to_numpy()), problems


def dif(
    instrument: Instrument | str,
    responses: pd.DataFrame | Responses,
    group_column: str,
    *,
    scale: str,
    matching: Matching = "irt",
    alpha: float = 0.01,
    **read: Unpack[ReadOptions],
) -> DIFResult:
    """DIF of one subscale's keyed items across ``group_column`` (a group column of the
    responses), matched on the scale's GRM EAP score (``matching="irt"``) or on each item's rest
    score, the mean of the scale's other answered items (``"rest"``)."""
    from analysis.stats.irt import grm_model

    check_option("matching", matching, Matching)
    frame, group, problems = scale_items(instrument, responses, group_column, scale, **read)
    if matching == "irt":
        fitted = grm_model(frame)
        theta = fitted.scores(frame)["theta"].reset_index(drop=True)
        result = dif_model(frame, group, theta, alpha=alpha)
    else:
        if not 0 < alpha < 1:
            raise AnalysisError("alpha must be between 0 and 1")
        _, has_group, dummies = _group_dummies(group)
        # each item's rest score: the mean of the scale's other answered items (integer sums,
        # so the same numbers as the mean of the other columns)
        values = frame.to_numpy(dtype=np.float64)
        answered = ~np.isnan(values)
        total = np.where(answered, values, 0.0).sum(axis=1)
        count = answered.sum(axis=1)
        rows = []
        for j, name in enumerate(frame.columns):
            own = answered[:, j]
            with np.errstate(invalid="ignore", divide="ignore"):
                rest = (total - np.where(own, values[:, j], 0.0)) / (count - own)
            rows.append(_item_row(str(name), values[:, j], rest, has_group, dummies))
        result = DIFResult(
            items=_item_table(rows, alpha),
            groups=tuple(pd.unique(group.dropna().astype(str))),
            matching="rest",
            alpha=alpha,
        )
    return dataclasses.replace(result, matching=matching, problems=problems)
