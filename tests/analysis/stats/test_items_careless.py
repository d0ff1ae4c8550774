"""Item statistics and careless-responding indices against R.

Expected numbers: ``Rscript tests/golden/make_golden_analysis.R`` (tests/golden/analysis/). Item
statistics are psych::describe(type = 3) and answer counts of the *raw* answers (tolerance 1e-6,
achieved ~1e-14; counts exact). The careless indices are the careless package's definitions
written in base R in the script (long-string exact, the rest 1e-6).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

import analysis
from analysis.stats.careless import even_odd, irv, longstring
from surveytool.instrument.model import Instrument
from surveytool.problems import is_missing
from tests.frames import cell

if TYPE_CHECKING:
    from tests.analysis.stats.conftest import Dataset

ANALYSIS = Path(__file__).resolve().parents[2] / "golden" / "analysis"
TOL = 1e-6


DESCRIBE_CALLS = {
    "n": "psych::describe(raw, type = 3)$n",
    "mean": "psych::describe(raw, type = 3)$mean",
    "sd": "psych::describe(raw, type = 3)$sd",
    "median": "psych::describe(raw, type = 3)$median",
    "min": "psych::describe(raw, type = 3)$min",
    "max": "psych::describe(raw, type = 3)$max",
    "skew": "psych::describe(raw, type = 3)$skew",
    "kurtosis": "psych::describe(raw, type = 3)$kurtosis",
    "missing": "colSums(is.na(raw))",
}


@pytest.mark.parametrize("name", ["bfi", "sim"])
def test_item_statistics_match_psych_describe(name: str, request: pytest.FixtureRequest) -> None:
    inst, table, kw = request.getfixturevalue(name)
    stats = analysis.item_statistics(inst, table, **kw)
    expected = pd.read_csv(ANALYSIS / f"{name}_item_statistics.csv", index_col="item")
    assert list(stats.items.index) == list(expected.index)
    for column, call in DESCRIBE_CALLS.items():
        # R: see DESCRIBE_CALLS[column]
        np.testing.assert_allclose(
            stats.items[column].to_numpy(float),
            expected[column].to_numpy(float),
            rtol=TOL,
            atol=TOL,
            err_msg=f"{name} {column}: {call}",
        )
    counts = expected[[c for c in expected.columns if c.startswith("n_")]]
    # R: sapply(1:K, function(v) colSums(raw == v, na.rm = TRUE))  -- exact counts
    np.testing.assert_array_equal(stats.frequencies.to_numpy(), counts.to_numpy())
    n = expected["n"].to_numpy(float)
    np.testing.assert_allclose(stats.items["floor"], counts.iloc[:, 0] / n)
    np.testing.assert_allclose(stats.items["ceiling"], counts.iloc[:, -1] / n)
    np.testing.assert_allclose(stats.items["missing_rate"], expected["missing"] / len(table))
    np.testing.assert_allclose(stats.shares.sum(axis=1), 1.0)


def test_bfi_item_spot_values(bfi: Dataset) -> None:
    inst, table, kw = bfi
    stats = analysis.item_statistics(inst, table, **kw)
    a1 = stats.items.loc["A1"]
    # R: psych::describe(psychTools::bfi$A1, type = 3): n 2784, mean 2.413434, sd 1.407737,
    #    skew 0.8250436, kurtosis -0.3076395 (sprintf("%.17g"): see bfi_item_statistics.csv)
    assert a1["n"] == 2784
    assert a1["mean"] == pytest.approx(2.413433908045977, abs=1e-12)
    assert a1["sd"] == pytest.approx(1.407737150521484, abs=1e-12)
    assert a1["skew"] == pytest.approx(0.82504355998879197, abs=1e-12)
    assert a1["kurtosis"] == pytest.approx(-0.30763946571270662, abs=1e-12)
    # R: table(psychTools::bfi$A1): 922 818 402 337 223 82
    assert stats.frequencies.loc[["A1"]].iloc[0].tolist() == [922, 818, 402, 337, 223, 82]
    assert a1["subscale"] == "agree"
    assert bool(a1["reverse"]) is True


def _wide_instrument(points: int) -> Instrument:
    return Instrument.model_validate(
        {
            "id": "wide",
            "version": "1.0.0",
            "title": "Wide",
            "response_scales": {"s": {"min": 0, "max": points - 1}},
            "items": [
                {"id": "a", "text": "a", "scale": "s"},
                {"id": "b", "text": "b", "scale": "s", "reverse": True},
                {"id": "c", "text": "c", "scale": "s"},
            ],
            "subscales": [{"id": "x", "label": "x", "items": ["a", "b"]}],
        }
    )


@pytest.mark.parametrize("points", [2, 11, 21])
def test_frequencies_exact_for_narrow_and_wide_scales(points: int) -> None:
    """≤ 11 points: recovered from power sums; wider: counted. Item c is in no subscale."""
    rng = np.random.default_rng(points)
    table = pd.DataFrame(rng.integers(0, points, size=(3000, 3)), columns=["a", "b", "c"])
    table = table.astype("float64").mask(rng.random(table.shape) < 0.1)
    stats = analysis.item_statistics(_wide_instrument(points), table)
    for item in "abc":
        counts = table[item].value_counts().reindex(range(points), fill_value=0)
        np.testing.assert_array_equal(stats.frequencies.loc[item].to_numpy(), counts.to_numpy())
        x = table[item].dropna()
        assert stats.items.loc[item, "skew"] == pytest.approx(
            float(((x - x.mean()) ** 3).mean() / x.std() ** 3), abs=1e-9
        )
    assert is_missing(cell(stats.items, "c", "subscale"))


def test_careless_indices_match_r(sim: Dataset) -> None:
    inst, table, kw = sim
    result = analysis.careless_responding(inst, table, **kw)
    expected = pd.read_csv(ANALYSIS / "sim_careless.csv", index_col="id")
    got = result.table.loc[expected.index]
    # R: apply(raw, 1, function(v) { r <- rle(v); max(r$lengths[!is.na(r$values)]) })
    np.testing.assert_array_equal(got["longstring"].to_numpy(), expected["longstring"].to_numpy())
    # R: apply(raw, 1, sd, na.rm = TRUE)  (careless::irv)
    np.testing.assert_allclose(got["irv"], expected["irv"], rtol=TOL, atol=TOL)
    # R: 2r/(1 + r), r = cor(odd half means, even half means) across subscales (careless's
    #    evenodd without its sign); compared as r = eo/(2 - eo), since eo is unbounded near r = -1
    ours = got["even_odd"].to_numpy(float)
    theirs = expected["even_odd"].to_numpy(float)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    both = ~np.isnan(theirs)

    def uncorrected(eo: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return np.where(np.isinf(eo), -1.0, eo / (2 - eo))

    np.testing.assert_allclose(uncorrected(ours[both]), uncorrected(theirs[both]), atol=TOL)
    # R: stats::mahalanobis(x, colMeans(x), cov(x)) on complete rows; pchisq(d2, 15, lower = FALSE)
    np.testing.assert_allclose(got["mahalanobis"], expected["mahalanobis"], rtol=TOL)
    np.testing.assert_allclose(
        got["mahalanobis_p"], expected["mahalanobis_p"], rtol=TOL, atol=1e-12
    )


def test_planted_straight_liners_are_flagged(sim: Dataset) -> None:
    inst, table, kw = sim
    result = analysis.careless_responding(inst, table, **kw)
    planted = pd.read_csv(ANALYSIS / "sim_careless_rows.csv", index_col="id")
    straight = result.table.loc[planted.index[planted["kind"] == "straightline"]]
    assert (straight["irv"] == 0).all()
    assert straight["flag_irv"].all()
    # half of 15 items is 8: straight-liners with at most 7 answers left are not flagged
    assert (straight["flag_longstring"] == (straight["longstring"] >= 8)).all()
    assert result.cutoffs["longstring_at_least"] == 8
    careful = result.table.drop(planted.index)
    assert careful["flag_longstring"].mean() < 0.01
    assert careful["flag_mahalanobis"].mean() < 0.01


def test_index_helpers_on_small_cases() -> None:
    x = np.array(
        [
            [1, 1, 1, np.nan, 1, 2],
            [3, 3, 4, 4, 4, 4],
            [np.nan] * 6,
            [5, np.nan, 5, 5, 2, 2],
        ]
    )
    np.testing.assert_array_equal(longstring(x), [3, 4, np.nan, 2])
    np.testing.assert_allclose(
        irv(x)[:2], [np.std([1, 1, 1, 1, 2], ddof=1), np.std([3, 3, 4, 4, 4, 4], ddof=1)]
    )
    assert np.isnan(irv(x)[2])
    # three subscales of two items, perfectly consistent halves: r = 1, Spearman-Brown 1
    keyed = np.array([[1, 1, 3, 3, 5, 5], [1, 2, 3, 4, 5, 6]], dtype=float)
    value, pairs = even_odd(keyed, [np.array([0, 1]), np.array([2, 3]), np.array([4, 5])])
    np.testing.assert_allclose(value, [1.0, 1.0])
    np.testing.assert_array_equal(pairs, [3, 3])


def test_keyed_items_reverse_on_the_declared_range(bfi: Dataset) -> None:
    inst, table, kw = bfi
    keyed = analysis.keyed_items(inst, table, **kw)
    assert keyed.index.name == "id"
    np.testing.assert_array_equal(keyed["A1"].to_numpy(), 7 - table["A1"].to_numpy(float))
    np.testing.assert_array_equal(keyed["A2"].to_numpy(), table["A2"].to_numpy(float))
