"""Ordinal CFA (WLSMV) against lavaan 0.6-14.

Expected values: ``Rscript tests/golden/make_golden_ordinal.R`` (section d), from
``lavaan::cfa(model, data, ordered = names(data), estimator = "WLSMV")`` on the complete rows of
ten bfi items (two factors, raw keying: the agreeableness marker A1 is reversed, so the other
loadings are negative) and of the simulated ordinal items (uneven categories). Tolerances: 1e-5
for estimates and standard errors (lavaan's nlminb stops near 1e-6 relative; achieved ~1e-6),
1e-5 for the statistics and fit indices (achieved ~1e-8 relative).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import analysis
from analysis.errors import AnalysisError
from analysis.stats.ordinal_cfa import ordinal_cfa_model
from surveytool.instrument.registry import load_instrument
from surveytool.responses import read_responses
from tests.frames import num

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
ORDINAL = GOLDEN / "ordinal"
BFI10 = ["A1", "A2", "A3", "A4", "A5", "C1", "C2", "C3", "C4", "C5"]

# our fit key -> lavaan's fitMeasures name
FIT_CALLS = {
    "chisq": "chisq",
    "df": "df",
    "chisq_scaled": "chisq.scaled",
    "chisq_scaling_factor": "chisq.scaling.factor",
    "chisq_shift": "chisq.shift",  # fit@test[[2]]$shift.parameter
    "baseline_chisq": "baseline.chisq",
    "baseline_chisq_scaled": "baseline.chisq.scaled",
    "cfi": "cfi",
    "tli": "tli",
    "rmsea": "rmsea",
    "cfi_scaled": "cfi.scaled",
    "tli_scaled": "tli.scaled",
    "rmsea_scaled": "rmsea.scaled",
    "cfi_robust": "cfi.robust",
    "tli_robust": "tli.robust",
    "rmsea_robust": "rmsea.robust",
    "srmr": "srmr",
    "n_obs": "ntotal",
}


def cases() -> list[tuple[str, pd.DataFrame, dict[str, list[str]]]]:
    bfi = pd.read_csv(GOLDEN / "bfi_items.csv")[BFI10].dropna()
    sim = pd.read_csv(ORDINAL / "sim_ordinal.csv").drop(columns="id").dropna()
    return [
        ("bfi", bfi, {"agree": BFI10[:5], "consc": BFI10[5:]}),
        ("sim", sim, {"f1": ["Q1", "Q2", "Q3", "Q4"], "f2": ["Q5", "Q6", "Q7", "Q8"]}),
    ]


@pytest.mark.parametrize("case", cases(), ids=lambda c: c[0])
def test_estimates_standard_errors_and_fit_match_lavaan_wlsmv(
    case: tuple[str, pd.DataFrame, dict[str, list[str]]],
) -> None:
    name, data, factors = case
    result = ordinal_cfa_model(data, factors)
    assert result.converged
    expected = pd.read_csv(ORDINAL / f"{name}_wlsmv_parameters.csv")
    # parameterEstimates(fit): loadings (=~), thresholds (|), factor (co)variances (~~)
    loadings = expected[expected.op == "=~"]
    ours = result.loadings.loc[loadings.rhs]
    assert np.abs(ours["estimate"].to_numpy() - loadings.est.to_numpy()).max() < 1e-5
    assert np.abs(ours["se"].to_numpy() - loadings.se.to_numpy()).max() < 1e-5
    thresholds = expected[expected.op == "|"]
    assert np.abs(result.thresholds["estimate"].to_numpy() - thresholds.est.to_numpy()).max() < 1e-9
    assert np.abs(result.thresholds["se"].to_numpy() - thresholds.se.to_numpy()).max() < 1e-5
    latent = expected[(expected.op == "~~")].merge(
        result.parameters[result.parameters.op == "~~"], on=["lhs", "op", "rhs"]
    )
    assert len(latent) == len(factors) * (len(factors) + 1) // 2
    assert np.abs(latent["estimate"] - latent["est"]).max() < 1e-5
    assert np.abs(latent["se_x"] - latent["se_y"]).max() < 1e-5

    fit = pd.read_csv(ORDINAL / f"{name}_wlsmv_fit.csv", index_col="measure")
    for ours_key, lavaan_key in FIT_CALLS.items():
        theirs = num(fit, lavaan_key, "value")
        assert float(result.fit[ours_key]) == pytest.approx(theirs, rel=1e-5, abs=1e-7), ours_key


def test_through_the_instrument_with_keyed_items_and_problems_kept() -> None:
    inst = load_instrument(GOLDEN / "bfi.yaml")
    table = pd.read_csv(GOLDEN / "bfi_items.csv")
    responses = read_responses(inst, table, id_column="id", ignore_columns=["gender", "age"])
    result = analysis.cfa(inst, responses, ordered=True)
    # keyed items: every loading positive, five factors, listwise complete rows
    assert (result.loadings["estimate"] > 0).all()
    assert set(result.loadings["factor"]) == {s.id for s in inst.subscales}
    assert result.n_obs == int(table[[i.id for i in inst.items]].notna().all(axis=1).sum())
    assert 0.0 < float(result.fit["cfi_robust"]) < 1.0
    # the ordinal model's fit differs from the ML model's on the same rows
    ml = analysis.cfa(inst, responses)
    assert float(ml.fit["cfi"]) != pytest.approx(float(result.fit["cfi_scaled"]), abs=1e-3)


def test_bad_models_are_refused_with_a_message() -> None:
    data = pd.DataFrame({"a": [1, 2, 3, 1, 2, 3], "b": [1, 1, 2, 2, 3, 3], "c": [3, 2, 1, 2, 1, 3]})
    with pytest.raises(AnalysisError, match="two factors"):
        ordinal_cfa_model(data, {"f": ["a", "b"], "g": ["b", "c"]})
    with pytest.raises(AnalysisError, match="no column"):
        ordinal_cfa_model(data, {"f": ["a", "b", "z"]})
    with pytest.raises(AnalysisError, match="too few"):
        ordinal_cfa_model(data.iloc[:3], {"f": ["a", "b", "c"]})
