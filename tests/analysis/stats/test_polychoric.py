"""Polychoric correlations, thresholds and ordinal alpha/omega against R's lavaan and psych.

Every expected number was made by ``Rscript tests/golden/make_golden_ordinal.R`` (versions in
tests/golden/ordinal/VERSIONS) and is read from tests/golden/ordinal/; the R call is next to each
comparison. Tolerances: thresholds 1e-12 (closed form; achieved ~2e-15); lavaan's correlations
1e-6 (lavaan stops its nlminb search near 1e-8; achieved ~3e-8); psych's 1e-4 (psych's
``optimize`` stops at its default tolerance, ~1e-4; achieved ~2e-5); ordinal alpha 1e-6 and the
Schmid–Leiman ordinal omegas 1e-5.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import multivariate_normal

import analysis
from analysis.errors import AnalysisError
from analysis.stats.polychoric import bivariate_normal_cdf, polychoric_matrix
from surveytool.instrument.registry import load_instrument
from surveytool.responses import read_responses
from tests.frames import num

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
ORDINAL = GOLDEN / "ordinal"


def golden(name: str) -> pd.DataFrame:
    return pd.read_csv(ORDINAL / name, index_col=0)


def worst(ours: pd.DataFrame, theirs: pd.DataFrame) -> float:
    a = ours.loc[theirs.index, theirs.columns].to_numpy(dtype=float)
    b = theirs.to_numpy(dtype=float)
    assert np.array_equal(np.isnan(a), np.isnan(b))
    return float(np.nanmax(np.abs(a - b)))


@pytest.fixture(scope="module")
def bfi() -> pd.DataFrame:
    return pd.read_csv(GOLDEN / "bfi_items.csv").iloc[:, 1:26]


@pytest.fixture(scope="module")
def sim() -> pd.DataFrame:
    return pd.read_csv(ORDINAL / "sim_ordinal.csv").drop(columns="id")


def test_bivariate_normal_cdf_is_exact_including_zero_and_infinite_bounds() -> None:
    rng = np.random.default_rng(7)
    h, k = rng.normal(size=300), rng.normal(size=300)
    rho = rng.uniform(-0.98, 0.98, size=300)
    h[:10] = 0.0
    k[5:15] = 0.0
    ours = bivariate_normal_cdf(h, k, rho)
    theirs = np.array(
        [
            multivariate_normal(mean=[0, 0], cov=[[1, r], [r, 1]]).cdf([a, b])
            for a, b, r in zip(h, k, rho, strict=True)
        ]
    )
    assert np.abs(ours - theirs).max() < 1e-9

    def one(h: float, k: float, rho: float) -> float:
        return float(bivariate_normal_cdf(np.array([h]), np.array([k]), np.array([rho]))[0])

    assert one(np.inf, 0.3, 0.5) == pytest.approx(0.617911422188953, abs=1e-15)
    assert one(-np.inf, 0.3, 0.5) == 0.0
    assert one(0.0, 0.0, 0.5) == pytest.approx(1 / 3, abs=1e-15)


def test_bfi_matches_lavaan_lavcor_pairwise(bfi: pd.DataFrame) -> None:
    result = polychoric_matrix(bfi)
    assert result.converged
    # lavaan::lavCor(x, ordered = names(x), missing = "pairwise")
    assert worst(result.rho, golden("bfi_lavcor_rho.csv")) < 1e-6
    # lavaan::lavCor(x, ordered = names(x), missing = "pairwise", output = "th")
    assert worst(result.thresholds, golden("bfi_lavcor_th.csv")) < 1e-12
    assert result.n_obs == 2800
    # pairwise complete: A1 has 16 missing answers, A2 27, and rows missing both are counted once
    both = int((bfi["A1"].notna() & bfi["A2"].notna()).sum())
    assert result.n_pairs.loc["A1", "A2"] == both


def test_bfi_matches_psych_polychoric_without_correction(bfi: pd.DataFrame) -> None:
    result = polychoric_matrix(bfi, method="psych")
    # psych::polychoric(x, correct = 0)$rho and $tau
    assert worst(result.rho, golden("bfi_psych_rho.csv")) < 1e-4
    tau = golden("bfi_psych_tau.csv")
    tau.columns = [f"t{c}" for c in tau.columns]  # psych names them 1..5
    assert worst(result.thresholds, tau) < 1e-12


def test_simulated_uneven_categories_with_missingness(sim: pd.DataFrame) -> None:
    lav = polychoric_matrix(sim)
    # lavaan::lavCor(sim, ordered = names(sim), missing = "pairwise") (and output = "th")
    assert worst(lav.rho, golden("sim_lavcor_rho.csv")) < 1e-6
    assert worst(lav.thresholds, golden("sim_lavcor_th.csv")) < 1e-12
    assert lav.categories["Q2"] == (1.0, 2.0, 3.0)
    assert np.isnan(num(lav.thresholds, "Q2", "t3"))
    # psych::polychoric(sim, correct = 0)$rho: psych itself switches to each pair's own
    # margins ("global set to FALSE") because the items' highest answers differ
    psy = polychoric_matrix(sim, method="psych")
    assert worst(psy.rho, golden("sim_psych_rho.csv")) < 1e-4
    assert not np.allclose(psy.rho.to_numpy(), lav.rho.to_numpy(), atol=1e-6)


def test_binary_tables_with_empty_cells_follow_lavaan() -> None:
    binary = pd.read_csv(ORDINAL / "binary_zero.csv").drop(columns="id")
    result = polychoric_matrix(binary)
    # lavaan::lavCor(b, ordered = names(b)): one empty cell +0.5 keeping the margins, two empty
    # cells rho = 1, an odds ratio of 1 rho = 0, both thresholds 0 the closed form -cos(2 pi p11)
    expected = golden("binary_lavcor_rho.csv")
    assert worst(result.rho, expected) < 1e-6
    assert num(result.rho, "B1", "B3") == 1.0
    assert num(result.rho, "B2", "B6") == 0.0


def test_keyed_items_ordinal_alpha_and_omega_match_r(bfi: pd.DataFrame) -> None:
    inst = load_instrument(GOLDEN / "bfi.yaml")
    responses = read_responses(inst, bfi)
    poly = analysis.polychoric(inst, responses)
    # keyed on the declared range (7 - x), then lavaan::lavCor(keyed, ordered = names(keyed),
    # missing = "pairwise")
    assert worst(poly.rho, golden("bfi_keyed_lavcor_rho.csv")) < 1e-6
    raw = analysis.polychoric(inst, responses, keyed=False)
    assert num(raw.rho, "A1", "A2") == pytest.approx(-num(poly.rho, "A1", "A2"), abs=1e-9)

    rel = analysis.ordinal_reliability(inst, responses)
    expected = pd.read_csv(ORDINAL / "bfi_ordinal_alpha.csv", index_col="scale")
    for scale in expected.index:
        # psych::alpha(lavCor(keyed[, items], ordered = items, missing = "pairwise"))$total$raw_alpha
        theirs = num(expected, scale, "ordinal_alpha")
        assert num(rel.scales, scale, "ordinal_alpha") == pytest.approx(theirs, abs=1e-6)
    assert (rel.scales["ordinal_omega_total"] >= rel.scales["ordinal_alpha"] - 0.05).all()

    omega = analysis.ordinal_omega(poly, 5)
    ref = pd.read_csv(ORDINAL / "bfi_ordinal_omega.csv")
    # psych::omega(rho_all, nfactors = 5, fm = "minres")$omega_h, $omega.tot, $alpha
    assert omega.omega_h == pytest.approx(num(ref, 0, "omega_h"), abs=1e-5)
    assert omega.omega_total == pytest.approx(num(ref, 0, "omega_total"), abs=1e-5)
    assert omega.alpha == pytest.approx(num(ref, 0, "alpha"), abs=1e-6)


def test_raw_table_problems_are_kept_and_bad_options_refused(bfi: pd.DataFrame) -> None:
    inst = load_instrument(GOLDEN / "bfi.yaml")
    table = bfi.copy()
    table.loc[:9, "A1"] = 99
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = analysis.polychoric(inst, table)
    assert caught
    assert result.problems.count == 10
    assert result.categories["A1"] == (1.0, 2.0, 3.0, 4.0, 5.0, 6.0)
    with pytest.raises(AnalysisError, match="method"):
        polychoric_matrix(bfi, method="spearman")  # type: ignore[arg-type]
    with pytest.raises(AnalysisError, match="not in the instrument"):
        analysis.polychoric(inst, read_responses(inst, bfi), items=["A1", "Z9"])


def test_a_constant_item_or_an_empty_pair_gives_nan_not_an_error() -> None:
    data = pd.DataFrame(
        {
            "a": [1, 2, 3, 1, 2, 3, np.nan, np.nan],
            "b": [2, 2, 2, 2, 2, 2, 2, 2],
            "c": [np.nan] * 6 + [1, 2],
        }
    )
    result = polychoric_matrix(data)
    assert np.isnan(num(result.rho, "a", "b"))
    assert np.isnan(num(result.rho, "b", "b"))
    assert np.isnan(num(result.rho, "a", "c"))
    assert result.n_pairs.loc["a", "c"] == 0
