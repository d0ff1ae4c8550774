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

The regressions are statsmodels' ``OrderedModel`` (BSD). In R (reference): ``lordif::lordif(x,
group, criterion = "Chisqr", alpha = 0.01)`` (its ``$stats``), which matches on IRT θ with
iterative purification; here θ comes from one calibration on all items (no purification).
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from typing import Literal, Unpack

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.stats._input import ReadOptions, validated
from analysis.stats._matrix import keyed_matrix
from analysis.stats._options import check_option
from analysis.stats._result import Result
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


def _ordered_llf(y: np.ndarray, exog: np.ndarray) -> float:
    from statsmodels.miscmodels.ordinal_model import OrderedModel  # type: ignore[import-untyped]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = OrderedModel(y, exog, distr="logit")
        fit = model.fit(method="bfgs", disp=False, maxiter=2000, gtol=1e-8)
    return float(fit.llf)


def _holm(p: np.ndarray) -> np.ndarray:
    from statsmodels.stats.multitest import multipletests  # type: ignore[import-untyped]

    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method="holm")[1]
    return out


def dif_model(
    items: pd.DataFrame,
    group: pd.Series,
    matching: pd.Series,
    *,
    alpha: float = 0.01,
) -> DIFResult:
    """DIF of every column of ``items`` (ordered answers, NaN missing) across ``group``, matched
    on ``matching`` (one value per row). See the module docstring."""
    from scipy import stats

    if not 0 < alpha < 1:
        raise AnalysisError("alpha must be between 0 and 1")
    labels = group.astype("string")
    groups = tuple(str(v) for v in pd.unique(labels.dropna()))
    if len(groups) < 2:
        raise AnalysisError("DIF needs at least two groups")
    dummies = np.column_stack([(labels == g).to_numpy(dtype=float) for g in groups[1:]])
    rows = []
    k = len(groups) - 1
    for name in items.columns:
        y = items[name].to_numpy(dtype=float)
        theta = matching.to_numpy(dtype=float)
        keep = ~np.isnan(y) & ~np.isnan(theta) & labels.notna().to_numpy()
        yk, tk, gk = y[keep], theta[keep], dummies[keep]
        levels = np.unique(yk)
        row: dict[str, object] = {"item": str(name), "n": int(keep.sum())}
        if len(levels) < 2 or keep.sum() < 20 or np.any(gk.sum(axis=0) == 0):
            row.update({c: np.nan for c in ("chisq_12", "p_12", "chisq_13", "p_13", "chisq_23")})
            row.update({"p_23": np.nan, "r2_1": np.nan, "r2_2": np.nan, "r2_3": np.nan})
            rows.append(row)
            continue
        codes = np.searchsorted(levels, yk)
        counts = np.bincount(codes)
        ll0 = float(np.sum(counts[counts > 0] * np.log(counts[counts > 0] / counts.sum())))
        t = (tk - tk.mean()) / (tk.std() or 1.0)
        ll1 = _ordered_llf(codes, t[:, None])
        ll2 = _ordered_llf(codes, np.column_stack([t, gk]))
        ll3 = _ordered_llf(codes, np.column_stack([t, gk, gk * t[:, None]]))
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
        rows.append(row)
    table = pd.DataFrame(rows).set_index("item")
    table["delta_r2_12"] = table["r2_2"] - table["r2_1"]
    table["delta_r2_13"] = table["r2_3"] - table["r2_1"]
    table["delta_r2_23"] = table["r2_3"] - table["r2_2"]
    table["p_13_holm"] = _holm(table["p_13"].to_numpy(dtype=float))
    table["flagged"] = table["p_13_holm"] < alpha
    table["size_jodoin_gierl"] = [_size(float(v), JODOIN_GIERL_2001) for v in table["delta_r2_13"]]
    table["size_zumbo_thomas"] = [_size(float(v), ZUMBO_THOMAS_1997) for v in table["delta_r2_13"]]
    return DIFResult(items=table, groups=groups, matching="given", alpha=alpha)


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
    group = pd.Series(answers.groups[group_column].to_numpy())
    if matching == "irt":
        fitted = grm_model(frame)
        theta = fitted.scores(frame)["theta"].reset_index(drop=True)
        result = dif_model(frame, group, theta, alpha=alpha)
    else:
        tables = []
        for name in frame.columns:
            rest = frame.drop(columns=name).mean(axis=1)
            tables.append(dif_model(frame[[name]], group, rest, alpha=alpha).items)
        table = pd.concat(tables)
        table["p_13_holm"] = _holm(table["p_13"].to_numpy(dtype=float))
        table["flagged"] = table["p_13_holm"] < alpha
        result = DIFResult(
            items=table,
            groups=tuple(pd.unique(group.dropna().astype(str))),
            matching="rest",
            alpha=alpha,
        )
    return dataclasses.replace(result, matching=matching, problems=problems)
