"""Reliability (alpha family, omega) against R's psych, on bfi and on a simulated instrument.

Every expected number was made by ``Rscript tests/golden/make_golden_analysis.R`` (R and package
versions in tests/golden/analysis/README.md) and is read from tests/golden/analysis/; the R call
that made it is quoted next to each comparison. Tolerances: 1e-6 for alpha and the item
statistics (achieved: ~1e-15), 1e-5 for the one-factor omega_total (an optimiser's result;
achieved ~2e-7), 1e-4 for the Schmid–Leiman omegas and 1e-3 for its loadings (achieved ~1e-6).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

import analysis
from analysis.errors import AnalysisError, ResponseProblemsWarning
from analysis.stats import Result
from surveytool.instrument.model import Instrument
from surveytool.instrument.registry import load_instrument
from surveytool.responses import read_responses
from surveytool.scoring.simulate import SimulationSpec, simulate
from tests.frames import cell, num

if TYPE_CHECKING:
    from tests.analysis.stats.conftest import Dataset

ANALYSIS = Path(__file__).resolve().parents[2] / "golden" / "analysis"
ALPHA_TOL = 1e-6
OMEGA_TOL = 1e-5


# column of our .scales -> the psych::alpha output it is compared with
SCALE_CALLS = {
    "n_rows": "nrow(x)",
    "raw_alpha": "psych::alpha(x)$total$raw_alpha",
    "std_alpha": "psych::alpha(x)$total$std.alpha",
    "g6": 'psych::alpha(x)$total[["G6(smc)"]]',
    "average_r": "psych::alpha(x)$total$average_r",
    "median_r": "psych::alpha(x)$total$median_r",
    "s_n": 'psych::alpha(x)$total[["S/N"]]',
    "ase": "psych::alpha(x)$total$ase",
    "alpha_ci_lower": "psych::alpha(x)$feldt$lower.ci",
    "alpha_ci_upper": "psych::alpha(x)$feldt$upper.ci",
    "mean": "psych::alpha(x)$total$mean",
    "sd": "psych::alpha(x)$total$sd",
}
ITEM_CALLS = {
    "n": "psych::alpha(x)$item.stats$n",
    "mean": "psych::alpha(x)$item.stats$mean",
    "sd": "psych::alpha(x)$item.stats$sd",
    "raw_r": "psych::alpha(x)$item.stats$raw.r",
    "std_r": "psych::alpha(x)$item.stats$std.r",
    "r_cor": "psych::alpha(x)$item.stats$r.cor",
    "r_drop": "psych::alpha(x)$item.stats$r.drop",
    "alpha_if_deleted": "psych::alpha(x)$alpha.drop$raw_alpha",
}


@pytest.mark.parametrize("use", ["pairwise", "listwise"])
@pytest.mark.parametrize("name", ["bfi", "sim"])
def test_alpha_matches_psych(name: str, use: str, request: pytest.FixtureRequest) -> None:
    inst, table, kw = request.getfixturevalue(name)
    rel = analysis.reliability(inst, table, use=use, **kw)  # type: ignore[arg-type]
    suffix = "_listwise" if use == "listwise" else ""
    # R: for each scale, x <- keyed[, items] (x <- na.omit(keyed[, items]) for listwise)
    scales = pd.read_csv(ANALYSIS / f"{name}_alpha{suffix}_scales.csv", index_col="subscale")
    items = pd.read_csv(
        ANALYSIS / f"{name}_alpha{suffix}_items.csv", index_col=["subscale", "item"]
    )
    assert list(rel.scales.index) == list(scales.index)
    assert list(rel.items.index) == list(items.index)
    for column, call in SCALE_CALLS.items():
        # R: see SCALE_CALLS[column], e.g. psych::alpha(x)$total$raw_alpha
        np.testing.assert_allclose(
            rel.scales[column].to_numpy(float),
            scales[column].to_numpy(float),
            rtol=ALPHA_TOL,
            atol=ALPHA_TOL,
            err_msg=f"{name} {use} {column}: {call}",
        )
    for column, call in ITEM_CALLS.items():
        # R: see ITEM_CALLS[column], e.g. psych::alpha(x)$item.stats$r.drop
        np.testing.assert_allclose(
            rel.items[column].to_numpy(float),
            items[column].to_numpy(float),
            rtol=ALPHA_TOL,
            atol=ALPHA_TOL,
            err_msg=f"{name} {use} {column}: {call}",
        )
    # R: f <- psych::fa(cov2cor(cov(x, use = "pairwise")), 1, fm = "minres");
    #    sum(f$loadings)^2 / (sum(f$loadings)^2 + sum(1 - f$loadings^2))
    np.testing.assert_allclose(
        rel.scales["omega_total"].to_numpy(float),
        scales["omega_total"].to_numpy(float),
        atol=OMEGA_TOL,
    )


def test_bfi_alpha_spot_values(bfi: Dataset) -> None:
    inst, table, kw = bfi
    rel = analysis.reliability(inst, table, **kw)
    agree = rel.scales.loc["agree"]
    # R: psych::alpha(keyed[, c("A1","A2","A3","A4","A5")])$total  (A1 reversed as 7 - A1)
    assert agree["raw_alpha"] == pytest.approx(0.70301844605730412, abs=1e-12)
    assert agree["std_alpha"] == pytest.approx(0.71302857867127178, abs=1e-12)
    assert agree["ase"] == pytest.approx(0.0089517744263948474, abs=1e-12)
    # R: psych::alpha(...)$feldt: lower.ci 0.68526..., upper.ci 0.72006...
    assert agree["alpha_ci_lower"] == pytest.approx(0.68526432588639818, abs=1e-12)
    assert agree["alpha_ci_upper"] == pytest.approx(0.72006338989943208, abs=1e-12)
    a1 = ("agree", "A1")
    # R: psych::alpha(...)$item.stats["A1", c("n", "raw.r", "r.drop")]: 2784, 0.5806903, 0.3084177
    assert num(rel.items, a1, "n") == 2784
    assert num(rel.items, a1, "raw_r") == pytest.approx(0.5806903, abs=5e-8)
    assert num(rel.items, a1, "r_drop") == pytest.approx(0.3084177, abs=5e-8)
    assert bool(cell(rel.items, a1, "reverse")) is True


def test_sums_of_parts_add_up(sim: Dataset) -> None:
    inst, table, kw = sim
    whole = analysis.sufficient_statistics(inst, table, **kw)
    first = analysis.sufficient_statistics(inst, table.iloc[:400], **kw)
    second = analysis.sufficient_statistics(inst, table.iloc[400:], **kw)
    added = first + second
    assert added.n_obs == whole.n_obs == len(table)
    a = analysis.reliability(inst, added)
    b = analysis.reliability(inst, whole)
    pd.testing.assert_frame_equal(a.scales, b.scales, rtol=1e-12)
    pd.testing.assert_frame_equal(a.items, b.items, rtol=1e-12)
    # the integer parts of the sums are exact, whatever the order of summation
    for x, y in zip(added.blocks, whole.blocks, strict=True):
        np.testing.assert_array_equal(x.part("a", "a"), y.part("a", "a"))
        np.testing.assert_array_equal(x.part("y1", "y1"), y.part("y1", "y1"))


def test_inputs_agree_and_threads_do_not_change_results(sim: Dataset) -> None:
    inst, table, kw = sim
    from_table = analysis.reliability(inst, table, **kw)
    validated = read_responses(inst, table, id_column="id", group_columns=["site", "sex"])
    from_validated = analysis.reliability(inst, validated)
    pd.testing.assert_frame_equal(from_table.scales, from_validated.scales)
    from analysis.stats._matrix import item_sums, subscale_blocks
    from surveytool.scoring.plan import ScoringPlan

    plan = ScoringPlan.build(inst)
    threaded = item_sums(plan, validated.values, subscale_blocks(plan), chunk_rows=64, workers=3)
    single = item_sums(plan, validated.values, subscale_blocks(plan), workers=1)
    for x, y in zip(threaded.blocks, single.blocks, strict=True):
        np.testing.assert_allclose(x.gram, y.gram, rtol=1e-12, atol=1e-9)
    with pytest.raises(AnalysisError, match="use='pairwise'"):
        analysis.reliability(inst, single, use="listwise")


def test_scale_reliability_of_a_keyed_table_equals_the_instrument_path(bfi: Dataset) -> None:
    inst, table, kw = bfi
    rel = analysis.reliability(inst, table, **kw)
    keyed = analysis.keyed_items(inst, table, **kw)
    one = analysis.scale_reliability(keyed[["N1", "N2", "N3", "N4", "N5"]], name="neuroticism")
    pd.testing.assert_series_equal(
        one.scales.loc[["neuroticism"]].iloc[0], rel.scales.loc[["neuroticism"]].iloc[0], rtol=1e-12
    )


def test_reverse_keying_uses_the_declared_range() -> None:
    """A 1..7 scale whose answers only reach 2..6: psych's keys would reverse as 8 - x."""
    inst = Instrument.model_validate(
        {
            "id": "narrow",
            "version": "1.0.0",
            "title": "Narrow answers",
            "response_scales": {"seven": {"min": 1, "max": 7}},
            "items": [
                {"id": "a", "text": "a", "scale": "seven"},
                {"id": "b", "text": "b", "scale": "seven"},
                {"id": "c", "text": "c", "scale": "seven", "reverse": True},
            ],
            "subscales": [{"id": "s", "label": "s", "items": ["a", "b", "c"]}],
        }
    )
    table = pd.DataFrame(
        {"a": [2, 3, 4, 5, 6, 4], "b": [3, 3, 4, 6, 5, 5], "c": [6, 5, 4, 3, 2, 3]}
    )
    rel = analysis.reliability(inst, table)
    # keyed c = 8 - c (declared 1..7); the observed range 2..6 would give 8 - c as well here,
    # so check the keyed mean directly: (2+3+4+5+6+5)/6 = 25/6
    assert rel.items.loc[("s", "c"), "mean"] == pytest.approx(25 / 6)
    keyed = pd.DataFrame({"a": table["a"], "b": table["b"], "c": 8 - table["c"]})
    direct = analysis.scale_reliability(keyed, name="s")
    assert rel.scales.loc["s", "raw_alpha"] == pytest.approx(direct.scales.loc["s", "raw_alpha"])


def test_small_subscales_give_nan_not_errors() -> None:
    inst = Instrument.model_validate(
        {
            "id": "small",
            "version": "1.0.0",
            "title": "Small",
            "response_scales": {"five": {"min": 1, "max": 5}},
            "items": [{"id": i, "text": i, "scale": "five"} for i in ("a", "b", "c")],
            "subscales": [
                {"id": "one", "label": "one", "items": ["a"]},
                {"id": "two", "label": "two", "items": ["b", "c"]},
            ],
        }
    )
    rng = np.random.default_rng(3)
    table = pd.DataFrame(rng.integers(1, 6, size=(50, 3)), columns=["a", "b", "c"])
    rel = analysis.reliability(inst, table)
    assert np.isnan(num(rel.scales, "one", "raw_alpha"))
    assert not np.isnan(num(rel.scales, "two", "raw_alpha"))
    assert np.isnan(num(rel.items, ("two", "b"), "alpha_if_deleted"))
    assert np.isnan(num(rel.scales, "two", "omega_total"))  # a factor needs three items


def test_omega_schmid_leiman_matches_psych(bfi: Dataset) -> None:
    inst, table, kw = bfi
    om = analysis.omega(inst, table, n_factors=5, **kw)
    expected = pd.read_csv(ANALYSIS / "bfi_omega.csv", index_col="quantity")["value"]
    # R: psych::omega(keyed, nfactors = 5, fm = "minres")$omega_h   -> 0.46170960344241563
    assert om.omega_h == pytest.approx(expected["omega_h"], abs=1e-4)
    # R: psych::omega(keyed, nfactors = 5, fm = "minres")$omega.tot -> 0.87480951097186144
    assert om.omega_total == pytest.approx(expected["omega_total"], abs=1e-4)
    # R: psych::omega(keyed, nfactors = 5, fm = "minres")$alpha     -> 0.81883830134473456
    assert om.alpha == pytest.approx(expected["alpha"], abs=1e-10)
    sl = pd.read_csv(ANALYSIS / "bfi_omega_sl.csv", index_col="id")
    # R: psych::omega(...)$schmid$sl[, c("g", "h2", "u2")]
    for column in ("g", "h2", "u2"):
        np.testing.assert_allclose(om.loadings[column], sl[column], atol=1e-3, err_msg=column)
    # group factors: up to order and sign
    ours = om.loadings[[f"F{i}*" for i in range(1, 6)]]
    theirs = sl[[f"F{i}*" for i in range(1, 6)]]
    aligned, _, _ = analysis.match_factors(ours, theirs)
    np.testing.assert_allclose(aligned.to_numpy(), theirs.to_numpy(), atol=1e-3)
    # psych flips the items with a negative general loading (here the neuroticism items)
    assert {"N1", "N2", "N3", "N4", "N5"} <= set(om.flipped)

    three = analysis.omega(inst, table, n_factors=3, **kw)
    expected3 = pd.read_csv(ANALYSIS / "bfi_omega3.csv", index_col="quantity")["value"]
    # R: psych::omega(keyed, nfactors = 3, fm = "minres")$omega_h   -> 0.43624865085436548
    assert three.omega_h == pytest.approx(expected3["omega_h"], abs=1e-4)
    # R: psych::omega(keyed, nfactors = 3, fm = "minres")$omega.tot -> 0.85481096614566865
    assert three.omega_total == pytest.approx(expected3["omega_total"], abs=1e-4)


def test_omega_defaults_to_one_factor_per_subscale(sim: Dataset) -> None:
    inst, table, kw = sim
    om = analysis.omega(inst, table, **kw)
    assert om.n_factors == 3
    assert 0 < om.omega_h < om.omega_total < 1


def test_off_scale_answers_are_reported_not_dropped_silently() -> None:
    """20 answers of 99 in one item of 50 rows: counted (count and codes) and warned about."""
    inst = load_instrument("ppai@1.0.0")
    table = simulate(inst, SimulationSpec(n=50, seed=4)).drop(columns="respondent_id")
    item = inst.subscales[0].items[0]
    table.loc[table.index[:20], item] = 99
    with pytest.warns(
        ResponseProblemsWarning, match=r"reliability: .*20 problem\(s\) \(20 off_scale\)"
    ):
        rel = analysis.reliability("ppai@1.0.0", table)
    assert rel.problems.count == 20
    assert dict(rel.problems.codes) == {"off_scale": 20}
    assert set(rel.problems.table["kind"]) == {"cell"}
    flattened = rel.problems.table[["code", "row", "column"]].to_records(index=False).tolist()
    assert flattened == [("off_scale", row, item) for row in range(1, 21)]
    assert rel.items.loc[(inst.subscales[0].id, item), "n"] == 30  # 99 entered as missing
    # validated once by the caller: the same problems travel with the result, no second warning
    responses = read_responses(inst, table)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResponseProblemsWarning)
        again = analysis.reliability(inst, responses)
    assert again.problems.count == 20 and dict(again.problems.codes) == {"off_scale": 20}
    pd.testing.assert_frame_equal(again.scales, rel.scales)
    # partitions: the sums add their problems up
    with pytest.warns(ResponseProblemsWarning, match="sufficient_statistics"):
        first = analysis.sufficient_statistics(inst, table.iloc[:10])
    with pytest.warns(ResponseProblemsWarning, match=r"10 problem\(s\)"):
        second = analysis.sufficient_statistics(inst, table.iloc[10:])
    assert analysis.reliability(inst, first + second).problems.codes == {"off_scale": 20}


def test_every_statistic_that_validates_reports_the_problems() -> None:
    inst = load_instrument("ppai@1.0.0")
    table = simulate(inst, SimulationSpec(n=120, seed=5)).drop(columns="respondent_id")
    table.loc[table.index[:3], inst.subscales[1].items[0]] = 0
    calls: dict[str, Callable[[], Result]] = {
        "item_statistics": lambda: analysis.item_statistics(inst, table),
        "careless_responding": lambda: analysis.careless_responding(inst, table),
        "omega": lambda: analysis.omega(inst, table, n_factors=3),
        "build_norms": lambda: analysis.build_norms(inst, table, sample="simulated"),
    }
    for name, call in calls.items():
        with pytest.warns(
            ResponseProblemsWarning, match=rf"{name}: .*3 problem\(s\) \(3 off_scale\)"
        ):
            result = call()
        assert result.problems.count == 3, name
        assert dict(result.problems.codes) == {"off_scale": 3}, name
    with pytest.warns(ResponseProblemsWarning, match="keyed_items"):
        keyed = analysis.keyed_items(inst, table)
    assert keyed[inst.subscales[1].items[0]].isna().sum() == 3


def test_options_are_checked_with_the_parameter_named(sim: Dataset) -> None:
    inst, table, kw = sim
    with pytest.raises(AnalysisError, match="unknown use 'complete': the parameter use takes"):
        analysis.reliability(inst, table, use="complete", **kw)  # type: ignore[arg-type]
    with pytest.raises(AnalysisError, match="the parameter use takes 'pairwise', 'listwise'"):
        analysis.omega(inst, table, use="all", **kw)  # type: ignore[arg-type]
