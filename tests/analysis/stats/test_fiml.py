"""CFA by full-information ML against lavaan 0.6-14 (``Rscript tests/golden/make_golden_fiml.R``):
HolzingerSwineford1939 with planted missingness, ``lavaan::cfa(model, x, missing = "ml")``.
Tolerances: χ² and fit indices 1e-6, estimates 1e-4 (achieved ~1e-6)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import analysis
from analysis.errors import AnalysisError
from analysis.stats.fiml import fiml_cfa_model
from surveytool.instrument.registry import load_instrument
from tests.frames import num

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
FIML = GOLDEN / "fiml"
FACTORS = {"visual": ["x1", "x2", "x3"], "textual": ["x4", "x5", "x6"], "speed": ["x7", "x8", "x9"]}


def test_fit_and_estimates_match_lavaan_missing_ml() -> None:
    data = pd.read_csv(FIML / "hs_missing.csv")
    result = fiml_cfa_model(data, FACTORS)
    assert result.converged
    assert result.n_obs == 301  # every row kept; listwise would keep far fewer
    assert int((data.notna().all(axis=1)).sum()) < 150
    fit = pd.read_csv(FIML / "hs_fiml_fit.csv", index_col="measure")
    # fitMeasures(fit, c("chisq", "df", "cfi", "tli", "rmsea", "srmr", "npar", "baseline.chisq"))
    for key, theirs in (
        ("chisq", "chisq"), ("df", "df"), ("pvalue", "pvalue"), ("cfi", "cfi"), ("tli", "tli"),
        ("rmsea", "rmsea"), ("srmr", "srmr"), ("npar", "npar"),
        ("baseline_chisq", "baseline.chisq"), ("baseline_df", "baseline.df"), ("n_obs", "ntotal"),
    ):  # fmt: skip
        assert float(result.fit[key]) == pytest.approx(num(fit, theirs, "value"), abs=1e-6), key
    # parameterEstimates(fit): loadings, (co)variances, intercepts
    expected = pd.read_csv(FIML / "hs_fiml_parameters.csv", keep_default_na=False)
    params = result.parameters
    checked = 0
    for lhs, op, rhs, est in zip(
        expected["lhs"], expected["op"], expected["rhs"], expected["est"], strict=True
    ):
        rhs = "" if op == "~1" else rhs
        match = params[(params.lhs == lhs) & (params.op == op) & (params.rhs == rhs)]
        if match.empty:
            continue  # fixed: the markers (1) and the latent means (0)
        value = match["estimate"].to_numpy(dtype=float)[0]
        assert value == pytest.approx(float(est), abs=1e-4), (lhs, op, rhs)
        checked += 1
    assert checked == len(params)


def test_through_cfa_with_missing_ml() -> None:
    inst = load_instrument(GOLDEN / "bfi.yaml")
    table = pd.read_csv(GOLDEN / "bfi_planted_items.csv").iloc[:600]
    # scattered missingness: listwise deletion runs out of rows, FIML keeps every respondent
    with pytest.raises(AnalysisError, match="too few"):
        analysis.cfa(inst, table, id_column="id", ignore_columns=["gender", "age"])
    full = analysis.cfa(inst, table, missing="ml", id_column="id", ignore_columns=["gender", "age"])
    assert full.converged
    assert full.n_obs == int(table.iloc[:, 1:26].notna().any(axis=1).sum())
    assert np.isfinite(float(full.fit["cfi"]))
    with pytest.raises(AnalysisError, match="continuous"):
        analysis.cfa(inst, table, ordered=True, missing="ml", id_column="id",  # type: ignore[call-overload]
                     ignore_columns=["gender", "age"])  # fmt: skip
    with pytest.raises(AnalysisError, match="missing"):
        analysis.cfa(inst, table, missing="pairwise", id_column="id",  # type: ignore[call-overload]
                     ignore_columns=["gender", "age"])  # fmt: skip
