"""Longitudinal measurement invariance (one CFA of the waves, correlated residuals) against
lavaan 0.6-14.

Expected values: ``Rscript tests/golden/make_golden_longitudinal.R``: ``lavaan::cfa(model,
data = wide, meanstructure = TRUE)`` with the labelled models written out in the script,
``fitMeasures(...)``, ``parameterEstimates(...)`` and ``lavTestLRT(configural, metric, scalar,
strict)``, on simulated data (800 people × 3 waves) with a planted intercept drift of y3 at wave 3
(full, and with y3's intercept free). Tolerances: χ² and the fit indices 1e-6 (achieved ~1e-8),
estimates 1e-5.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import analysis
from analysis.errors import AnalysisError
from analysis.stats.longitudinal import longitudinal_invariance_model
from tests.frames import num

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "longitudinal"
FACTORS = {"F": ["y1", "y2", "y3", "y4"]}
WAVES = ("w1", "w2", "w3")


@pytest.fixture(scope="module")
def long() -> pd.DataFrame:
    return pd.read_csv(GOLDEN / "waves_long.csv")


@pytest.mark.parametrize(("name", "partial"), [("waves", ()), ("waves_partial", ("y3 ~ 1",))])
def test_sequence_matches_lavaan(long: pd.DataFrame, name: str, partial: tuple[str, ...]) -> None:
    result = longitudinal_invariance_model(long, FACTORS, "wave", "id", partial=partial)
    assert all(fit.converged for fit in result.models.values())
    assert result.groups == WAVES
    expected = pd.read_csv(GOLDEN / f"{name}_fit.csv", index_col="model")
    for model in expected.index:
        for column in ("df", "npar"):
            assert num(result.table, model, column) == num(expected, model, column)
        # fitMeasures(fit, c("chisq", "pvalue", "cfi", "tli", "rmsea", "srmr"))
        for column in ("chisq", "pvalue", "cfi", "tli", "rmsea", "srmr"):
            assert num(result.table, model, column) == pytest.approx(
                num(expected, model, column), abs=1e-6
            ), (model, column)
    # lavTestLRT(configural, metric, scalar, strict)
    lrt = pd.read_csv(GOLDEN / f"{name}_lrt.csv", index_col="model")
    for model in ("metric", "scalar", "strict"):
        for column, ours in (("chisq_diff", "chisq_diff"), ("df_diff", "df_diff"), ("p", "p_diff")):
            assert num(result.table, model, ours) == pytest.approx(
                num(lrt, model, column), abs=1e-6
            ), (model, column)


def test_scalar_estimates_match_lavaan(long: pd.DataFrame) -> None:
    result = longitudinal_invariance_model(long, FACTORS, "wave", "id")
    ours = result.models["scalar"].parameters
    # parameterEstimates(scalar): loadings F1 =~ y2_w1 ... and the factor means F2 ~ 1, F3 ~ 1
    expected = pd.read_csv(GOLDEN / "waves_scalar_parameters.csv", keep_default_na=False)
    keys = expected["lhs"] + expected["op"] + expected["rhs"]
    estimates = dict(zip(keys, expected["est"], strict=True))
    loading = ours[(ours["op"] == "=~") & (ours["rhs"] == "y3")]["estimate"]
    assert len(loading) == 1  # one loading for every wave
    assert float(loading.iloc[0]) == pytest.approx(float(estimates["F1=~y3_w1"]), abs=1e-5)
    means = ours[ours["op"] == "~1"].set_index("group")["estimate"]
    assert float(means["w2"]) == pytest.approx(float(estimates["F2~1"]), abs=1e-5)
    assert float(means["w3"]) == pytest.approx(float(estimates["F3~1"]), abs=1e-5)
    # each item's residuals correlate across the three pairs of waves
    covariances = ours[(ours["op"] == "~~") & ours["group"].str.contains("~")]
    assert len(covariances) == 4 * 3


def test_planted_drift_is_found(long: pd.DataFrame) -> None:
    full = longitudinal_invariance_model(long, FACTORS, "wave", "id").table
    partial = longitudinal_invariance_model(long, FACTORS, "wave", "id", partial=("y3 ~ 1",)).table
    assert full.loc["metric", "holds_chen2007"] is True
    assert full.loc["scalar", "holds_chen2007"] is False
    assert num(full, "scalar", "p_diff") < 1e-20
    assert partial.loc["scalar", "holds_chen2007"] is True


def test_people_missing_a_wave_are_left_out(long: pd.DataFrame) -> None:
    dropped = long[~((long["wave"] == "w2") & (long["id"].isin(["p001", "p002"])))]
    result = longitudinal_invariance_model(dropped, FACTORS, "wave", "id", models=("configural",))
    assert result.n_per_group == {"w1": 798, "w2": 798, "w3": 798}


def test_bad_input_is_refused(long: pd.DataFrame) -> None:
    with pytest.raises(AnalysisError, match="person 'p001' has two rows at wave 'w1'"):
        longitudinal_invariance_model(
            pd.concat([long, long.head(1)]), FACTORS, "wave", "id", models=("configural",)
        )
    with pytest.raises(AnalysisError, match="no rows of wave w9"):
        longitudinal_invariance_model(long, FACTORS, "wave", "id", waves=("w1", "w9"))
    with pytest.raises(AnalysisError, match="fewer than two waves"):
        longitudinal_invariance_model(long[long["wave"] == "w1"], FACTORS, "wave", "id")
    with pytest.raises(AnalysisError, match="no id column 'who'"):
        longitudinal_invariance_model(long, FACTORS, "wave", "who")


def test_longitudinal_invariance_of_an_instrument(tmp_path: Path, long: pd.DataFrame) -> None:
    inst = tmp_path / "four.yaml"
    items = "\n".join(
        f"  - {{id: y{j}, text: 'Statement {j}.', scale: agree}}" for j in range(1, 5)
    )
    inst.write_text(
        "id: four\nversion: 1.0.0\ntitle: Four\n"
        "response_scales:\n  agree: {min: 1, max: 5, labels: {1: 'No', 5: 'Yes'}}\n"
        f"items:\n{items}\n"
        "subscales:\n  - {id: F, label: Four, items: [y1, y2, y3, y4], method: mean}\n",
        encoding="utf-8",
    )
    rounded = long.copy()
    for j in range(1, 5):
        rounded[f"y{j}"] = np.clip(np.round(rounded[f"y{j}"]), 1, 5)
    result = analysis.longitudinal_invariance(
        str(inst), rounded, "wave", "id", models=("configural", "metric")
    )
    direct = longitudinal_invariance_model(
        rounded, FACTORS, "wave", "id", models=("configural", "metric")
    )
    assert result.groups == WAVES
    assert result.problems.count == 0
    for column in ("chisq", "df", "cfi", "rmsea"):
        assert num(result.table, "metric", column) == pytest.approx(
            num(direct.table, "metric", column), rel=1e-8
        )
