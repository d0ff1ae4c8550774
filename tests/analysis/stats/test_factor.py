"""Exploratory and confirmatory factor analysis against R's psych (with GPArotation) and lavaan.

Expected numbers: ``Rscript tests/golden/make_golden_analysis.R`` (tests/golden/analysis/). Loadings
are compared up to column order and sign with tolerance 1e-3 (achieved ~2e-5), CFA fit indices
and standardized loadings with 1e-3 (achieved ~1e-6), correlations, eigenvalues, KMO and Bartlett
with 1e-6.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

import analysis
from analysis.errors import AnalysisError
from analysis.stats.cfa import fit_indices

if TYPE_CHECKING:
    from tests.analysis.stats.conftest import Dataset

ANALYSIS = Path(__file__).resolve().parents[2] / "golden" / "analysis"
LOADING_TOL = 1e-3
FIT_TOL = 1e-3


def test_pairwise_correlations_match_r(bfi_keyed: pd.DataFrame) -> None:
    keyed = bfi_keyed
    # R: cor(keyed, use = "pairwise")
    expected = pd.read_csv(ANALYSIS / "bfi_cor_pairwise.csv", index_col="id")
    got = analysis.correlation_matrix(keyed)
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), atol=1e-12)


EFA_CASES = {
    # golden prefix: (keyword arguments, the R call)
    "bfi_fa_minres_oblimin_kaiser": (
        {},
        'psych::fa(keyed, 5, fm = "minres", rotate = "oblimin", normalize = TRUE)',
    ),
    "bfi_fa_minres_oblimin_raw": (
        {"normalize": False},
        'psych::fa(keyed, 5, fm = "minres", rotate = "oblimin")',
    ),
    "bfi_fa_pa_oblimin_kaiser": (
        {"method": "pa"},
        'psych::fa(keyed, 5, fm = "pa", rotate = "oblimin", normalize = TRUE)',
    ),
    "bfi_fa_minres_none": (
        {"rotation": "none"},
        'psych::fa(keyed, 5, fm = "minres", rotate = "none")',
    ),
}


@pytest.mark.parametrize("case", sorted(EFA_CASES))
def test_efa_matches_psych(bfi_keyed: pd.DataFrame, case: str) -> None:
    keyed = bfi_keyed
    kwargs, call = EFA_CASES[case]
    result = analysis.efa(keyed, 5, **kwargs)  # type: ignore[arg-type]
    # R: <call>$loadings
    expected = pd.read_csv(ANALYSIS / f"{case}_loadings.csv", index_col="id")
    aligned, order, signs = analysis.match_factors(result.loadings, expected)
    assert sorted(order) == list(range(5))
    np.testing.assert_allclose(
        aligned.to_numpy(), expected.to_numpy(), atol=LOADING_TOL, err_msg=f"{call}$loadings"
    )
    # R: <call>$communality, $uniquenesses
    comm = pd.read_csv(ANALYSIS / f"{case}_communalities.csv", index_col="id")
    np.testing.assert_allclose(
        result.communalities["communality"],
        comm["communality"],
        atol=LOADING_TOL,
        err_msg=f"{call}$communality",
    )
    np.testing.assert_allclose(
        result.communalities["uniqueness"],
        comm["uniqueness"],
        atol=LOADING_TOL,
        err_msg=f"{call}$uniquenesses",
    )
    # R: t(<call>$Vaccounted)  (SS loadings, Proportion Var, ..., in R's factor order)
    variance = pd.read_csv(ANALYSIS / f"{case}_variance.csv", index_col="id")
    ours = result.variance.iloc[order]
    np.testing.assert_allclose(
        ours["ss_loadings"],
        variance["SS loadings"],
        atol=LOADING_TOL,
        err_msg=f"{call}$Vaccounted['SS loadings', ]",
    )
    np.testing.assert_allclose(
        ours["proportion_var"],
        variance["Proportion Var"],
        atol=LOADING_TOL,
    )
    phi_file = ANALYSIS / f"{case}_phi.csv"
    if phi_file.exists():
        # R: <call>$Phi
        phi = pd.read_csv(phi_file, index_col="id").to_numpy()
        ours_phi = result.phi.to_numpy()[np.ix_(order, order)] * np.outer(signs, signs)
        np.testing.assert_allclose(ours_phi, phi, atol=LOADING_TOL, err_msg=f"{call}$Phi")
    assert result.converged


def test_efa_values_and_orders(bfi_keyed: pd.DataFrame) -> None:
    keyed = bfi_keyed
    result = analysis.efa(keyed, 5)
    # factors come ordered by variance accounted for, column sums positive (psych)
    ss = result.variance["ss_loadings"].to_numpy()
    assert (np.diff(ss) <= 1e-12).all()
    assert (result.loadings.sum(axis=0) > 0).all()
    np.testing.assert_allclose(result.structure, result.loadings.to_numpy() @ result.phi.to_numpy())
    # R: psych::fa.parallel(keyed)$pc.values are the eigenvalues of R
    parallel = pd.read_csv(ANALYSIS / "bfi_parallel.csv")
    np.testing.assert_allclose(result.eigenvalues["eigenvalue"], parallel["pc_values"], atol=1e-10)


def test_parallel_analysis_matches_psych(bfi_keyed: pd.DataFrame) -> None:
    keyed = bfi_keyed
    pa = analysis.parallel_analysis(keyed, random_state=11)
    expected = pd.read_csv(ANALYSIS / "bfi_parallel.csv")
    # R: psych::fa.parallel(keyed, fa = "both", n.iter = 20)$pc.values
    np.testing.assert_allclose(pa.eigenvalues["pc"], expected["pc_values"], atol=1e-10)
    # R: psych::fa.parallel(keyed, fa = "both", n.iter = 20)$fa.values (one-factor minres)
    np.testing.assert_allclose(pa.eigenvalues["fa"], expected["fa_values"], atol=1e-5)
    # random data: the simulated means agree in distribution, not digit by digit
    np.testing.assert_allclose(pa.eigenvalues["sim_pc_mean"], expected["sim_pc_mean"], atol=0.03)
    np.testing.assert_allclose(pa.eigenvalues["sim_fa_mean"], expected["sim_fa_mean"], atol=0.03)
    suggested = pd.read_csv(ANALYSIS / "bfi_parallel_suggested.csv", index_col="quantity")
    # R: psych::fa.parallel(...)$nfact -> 6, $ncomp -> 6
    assert pa.n_factors == suggested.loc["nfact", "value"] == 6
    assert pa.n_components == suggested.loc["ncomp", "value"] == 6
    again = analysis.parallel_analysis(keyed, random_state=11)
    pd.testing.assert_frame_equal(pa.eigenvalues, again.eigenvalues)


def test_kmo_and_bartlett_match_psych(bfi_keyed: pd.DataFrame) -> None:
    keyed = bfi_keyed
    scalars = pd.read_csv(ANALYSIS / "bfi_kmo_bartlett.csv", index_col="quantity")["value"]
    result = analysis.kmo(keyed)
    # R: psych::KMO(keyed)$MSA -> 0.8458974925603906
    assert result.overall == pytest.approx(scalars["kmo"], abs=1e-10)
    # R: psych::KMO(keyed)$MSAi
    items = pd.read_csv(ANALYSIS / "bfi_kmo_items.csv", index_col="id")
    np.testing.assert_allclose(result.items, items["msa"], atol=1e-10)
    bart = analysis.bartlett_sphericity(keyed)
    # R: psych::cortest.bartlett(cor(keyed, use = "pairwise"), n = 2800)$chisq -> 20163.788564775223
    assert bart.statistic == pytest.approx(scalars["bartlett_chisq"], rel=1e-10)
    # R: psych::cortest.bartlett(...)$df -> 300
    assert bart.df == scalars["bartlett_df"] == 300


FIT_NAMES = {
    # ours: lavaan::fitMeasures(fit, <name>)
    "chisq": "chisq",
    "df": "df",
    "pvalue": "pvalue",
    "cfi": "cfi",
    "tli": "tli",
    "rmsea": "rmsea",
    "rmsea_ci_lower": "rmsea.ci.lower",
    "rmsea_ci_upper": "rmsea.ci.upper",
    "srmr": "srmr",
    "baseline_chisq": "baseline.chisq",
    "baseline_df": "baseline.df",
    "n_obs": "ntotal",
}


def _assert_fit(result: analysis.CFAResult, prefix: str) -> None:
    expected = pd.read_csv(ANALYSIS / f"{prefix}_fit.csv", index_col="quantity")["value"]
    for ours, theirs in FIT_NAMES.items():
        # R: lavaan::fitMeasures(lavaan::cfa(model, data), theirs)
        assert result.fit[ours] == pytest.approx(expected[theirs], rel=FIT_TOL, abs=1e-9), (
            f"lavaan::fitMeasures(fit, '{theirs}')"
        )
    loadings = pd.read_csv(ANALYSIS / f"{prefix}_loadings.csv").set_index(["factor", "item"])
    # R: lavaan::standardizedSolution(fit)$est.std for the "=~" rows
    np.testing.assert_allclose(
        result.loadings.loc[loadings.index, "std_all"], loadings["est_std"], atol=FIT_TOL
    )
    correlations = pd.read_csv(ANALYSIS / f"{prefix}_factor_cor.csv")
    for lhs, rhs, value in correlations.itertuples(index=False):
        # R: lavaan::standardizedSolution(fit)$est.std for "f1 ~~ f2"
        assert result.factor_correlations.loc[lhs, rhs] == pytest.approx(value, abs=FIT_TOL)


def test_cfa_holzinger_swineford_matches_lavaan() -> None:
    data = pd.read_csv(ANALYSIS / "holzinger_swineford.csv")
    three = {
        "visual": ["x1", "x2", "x3"],
        "textual": ["x4", "x5", "x6"],
        "speed": ["x7", "x8", "x9"],
    }
    result = analysis.cfa_model(data, three)
    # R: lavaan::cfa("visual =~ x1 + x2 + x3 ...", HolzingerSwineford1939): chisq 85.306, df 24,
    #    cfi 0.931, tli 0.896, rmsea 0.092 [0.071, 0.114], srmr 0.065
    _assert_fit(result, "hs_cfa")
    assert result.fit["chisq"] == pytest.approx(85.3055217699727, abs=1e-4)
    assert result.converged
    assert result.model.splitlines()[0] == "visual =~ x1 + x2 + x3"
    one = analysis.cfa_model(data, {"g": [f"x{i}" for i in range(1, 10)]})
    # R: lavaan::cfa("g =~ x1 + ... + x9", HolzingerSwineford1939)
    _assert_fit(one, "hs_cfa_one")


def test_cfa_of_the_instrument_structure_matches_lavaan(bfi: Dataset) -> None:
    inst, table, kw = bfi
    result = analysis.cfa(inst, table, **kw)
    # R: lavaan::cfa("agree =~ A1 + ... \n ...", data = keyed)  (listwise: 2436 rows)
    _assert_fit(result, "bfi_cfa")
    assert result.fit["n_obs"] == 2436


def test_fit_indices_of_a_saturated_model() -> None:
    sample = np.array([[1.0, 0.5], [0.5, 1.0]])
    fit = fit_indices(sample, sample, n_obs=100, n_parameters=3)
    assert fit["chisq"] == pytest.approx(0.0, abs=1e-12)
    assert fit["df"] == 0
    assert fit["srmr"] == pytest.approx(0.0, abs=1e-12)


def test_factor_errors_are_explained(bfi_keyed: pd.DataFrame) -> None:
    keyed = bfi_keyed
    with pytest.raises(AnalysisError, match="n_factors"):
        analysis.efa(keyed, 0)
    with pytest.raises(AnalysisError, match="unknown rotation"):
        analysis.efa(keyed, 2, rotation="promax")  # type: ignore[call-overload]
    with pytest.raises(AnalysisError, match="two or more items"):
        analysis.cfa_model(keyed, {"lonely": ["A1"]})


def test_cfa_fitter_and_semopy_reach_the_same_optimum() -> None:
    """cfa_model fits by the analytic-gradient ML fitter (the invariance module's); semopy,
    kept for an item on two factors, finds the same estimates on the same data."""
    from analysis.stats.cfa import _semopy_estimates

    data = pd.read_csv(ANALYSIS / "holzinger_swineford.csv")
    three = {
        "visual": ["x1", "x2", "x3"],
        "textual": ["x4", "x5", "x6"],
        "speed": ["x7", "x8", "x9"],
    }
    ours = analysis.cfa_model(data, three)
    observed = [i for items in three.values() for i in items]
    values = data[observed].to_numpy(dtype=np.float64)
    sample = np.cov(values, rowvar=False, bias=True)
    implied, lam, phi, n_parameters, converged = _semopy_estimates(values, sample, three, observed)
    assert converged and n_parameters == ours.fit["n_parameters"]
    theirs = fit_indices(sample, implied, len(values), n_parameters)
    assert ours.fit["chisq"] <= theirs["chisq"] + 1e-9
    assert ours.fit["chisq"] == pytest.approx(theirs["chisq"], rel=1e-8)
    estimates = ours.loadings["estimate"].to_numpy()
    assert estimates == pytest.approx(lam[lam != 0], rel=1e-5)
    d = np.sqrt(np.diag(phi))
    assert ours.factor_correlations.to_numpy() == pytest.approx(phi / np.outer(d, d), abs=1e-6)
    # an item on two factors: semopy fits it
    cross = analysis.cfa_model(data, {**three, "speed": ["x7", "x8", "x9", "x1"]})
    assert cross.converged and cross.fit["df"] == 23
