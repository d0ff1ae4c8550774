"""Norms built from a cohort: numbers against R, the norms block in an instrument file, small cells.

Expected numbers: ``Rscript tests/golden/make_golden_analysis.R`` (sim_norms.csv: mean, sd, n per
scale and site x sex cell; sim_norm_percentiles.csv: mid-rank percentile of every distinct score).
Tolerance 1e-6 for mean and sd (achieved ~1e-15); percentiles 1e-9.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
import pandas as pd
import pytest

import analysis
import surveytool
from analysis.errors import AnalysisError
from analysis.stats.norms import REASON_COMPLEMENT, REASON_SMALL, percentile_points
from surveytool.instrument.load import load_text

if TYPE_CHECKING:
    from tests.analysis.stats.conftest import Dataset

ANALYSIS = Path(__file__).resolve().parents[2] / "golden" / "analysis"


@pytest.fixture(scope="module")
def built(golden_sim: Dataset) -> analysis.NormsResult:
    inst, table, _ = golden_sim
    return analysis.build_norms(
        inst, table, sample="simulated cohort", group_columns=["site", "sex"], id_column="id"
    )


def _cell(entry_group: dict[str, str]) -> str:
    return "all" if not entry_group else f"{entry_group['site']}|{entry_group['sex']}"


def test_norm_numbers_match_r(built: analysis.NormsResult) -> None:
    # R: per cell and scale, v <- scores[cell, scale]; length(v), mean(v), sd(v)
    expected = pd.read_csv(ANALYSIS / "sim_norms.csv").set_index(["cell", "scale"])
    entries = {(_cell(e.group), e.scale): e for e in built.norms.entries}
    assert set(entries) == set(expected.index)  # every cell of the simulation has n >= 10
    for key, row in expected.iterrows():
        entry = entries[cast(tuple[str, str], key)]
        assert entry.n == row["n"]
        # R: mean(v); sd(v)
        assert entry.mean == pytest.approx(row["mean"], abs=1e-6)
        assert entry.sd == pytest.approx(row["sd"], abs=1e-6)
    # R: mean(rowMeans(keyed[, calm], na.rm = TRUE), na.rm = TRUE) -> 4.1358585858585855
    assert entries[("all", "calm")].mean == pytest.approx(4.1358585858585855, abs=1e-12)


def test_percentile_tables_match_r(built: analysis.NormsResult) -> None:
    # R: u <- sort(unique(v)); 100 * (mean(v < u) + 0.5 * mean(v == u))
    expected = pd.read_csv(ANALYSIS / "sim_norm_percentiles.csv")
    checked = 0
    for entry in built.norms.entries:
        rows = expected[
            (expected["cell"] == _cell(entry.group)) & (expected["scale"] == entry.scale)
        ]
        if rows.empty:
            continue  # the composite: mean, sd and n only in the golden file
        points = [(p.score, p.percentile) for p in entry.percentiles]
        # the table is closed at the scale's range: (lowest score, 0) ... (highest score, 100)
        assert points[0][1] == 0.0 and points[-1][1] == 100.0
        ours = np.array(points[1:-1])
        # only the points with >= 10 respondents below and above are published
        n = next(
            e.n for e in built.norms.entries if e.scale == entry.scale and e.group == entry.group
        )
        pct = rows["percentile"].to_numpy()
        share_below = pct / 100.0  # mid-rank (below + half the ties) >= the share below
        safe_rows = rows[(share_below * n >= 10) & ((1 - pct / 100.0) * n >= 10)]
        theirs = rows.set_index("score")["percentile"]
        assert len(ours) > 0 and set(ours[:, 0]) <= set(rows["score"])
        assert len(ours) <= len(safe_rows)
        np.testing.assert_allclose(ours[:, 1], theirs.loc[ours[:, 0]].to_numpy(), atol=1e-9)
        checked += 1
    assert checked == 3 * 7


def test_reliability_goes_into_the_subscale_entries(
    sim: Dataset, built: analysis.NormsResult
) -> None:
    inst, table, _ = sim
    rel = analysis.reliability(inst, table, id_column="id", group_columns=["site", "sex"])
    for entry in built.norms.entries:
        if entry.scale == "total":
            assert entry.reliability is None  # composites: no alpha
        else:
            # R: psych::alpha(keyed[, items])$total$raw_alpha
            assert entry.reliability == pytest.approx(rel.scales.loc[entry.scale, "raw_alpha"])


def test_the_norms_block_loads_and_scores(sim: Dataset, built: analysis.NormsResult) -> None:
    inst, table, _ = sim
    text = (ANALYSIS / "sim.yaml").read_text(encoding="utf-8") + analysis.norms_yaml(built.norms)
    assert "&" not in text and "*id" not in text  # no YAML anchors or aliases
    from_file = load_text(text)  # runs every semantic check (percentile order, groups, ...)
    assert from_file.norms == built.norms  # numbers round-trip exactly
    copied = inst.model_copy(update={"norms": built.norms})
    scores = surveytool.score(copied, table, id_column="id", group_columns=["site", "sex"])
    first = scores.iloc[0]
    entry = next(
        e
        for e in built.norms.entries
        if e.scale == "calm" and e.group == {"site": first["site"], "sex": first["sex"]}
    )
    # T = 50 + 10 (raw - mean) / sd with the respondent's own group's norm
    assert first["calm_t"] == pytest.approx(50 + 10 * (first["calm"] - entry.mean) / entry.sd)
    assert first["calm_percentile_source"] == "table"
    observed = {p.score: p.percentile for p in entry.percentiles}
    assert first["calm_percentile"] == pytest.approx(observed[first["calm"]])
    assert scores["total_t"].notna().any()


def test_small_cells_are_suppressed_with_their_complements(bfi: Dataset) -> None:
    inst, table, _ = bfi
    table["age_band"] = pd.cut(
        table["age"], [0, 17, 29, 49, 64, 120], labels=["<18", "18-29", "30-49", "50-64", "65+"]
    ).astype("string")

    def build(min_cell: int) -> analysis.NormsResult:
        return analysis.build_norms(
            inst,
            table,
            sample="SAPA bfi",
            group_columns=["gender", "age_band"],
            id_column="id",
            ignore_columns=["age"],
            scales=["agree"],
            min_cell=min_cell,
        )

    # R: table(bfi$gender, cut(bfi$age, c(0, 17, 29, 49, 64, 120))): 65+ men 7, women 3;
    #    the next smallest cell is men 50-64 with 52
    result = build(10)
    cells = result.table.set_index("cell")
    assert cells.loc["1|65+", "reason"] == REASON_SMALL
    assert cells.loc["2|65+", "reason"] == REASON_SMALL
    # together they are 10 >= min_cell: subtracting the published cells from the total reveals
    # only their union, so nothing else needs to go
    assert (cells["reason"] == REASON_COMPLEMENT).sum() == 0
    assert all(e.n >= 10 for e in result.norms.entries)
    assert result.suppressed["n"].isna().all()  # the n of a suppressed cell is not reported

    # with min_cell 12 their union (10) would be exposed: the smallest published cell goes too
    stricter = build(12)
    cells = stricter.table.set_index("cell")
    complement = cells[cells["reason"] == REASON_COMPLEMENT]
    assert list(complement.index) == ["1|50-64"]
    published = {_group(e.group) for e in stricter.norms.entries}
    assert {"1|65+", "2|65+", "1|50-64"}.isdisjoint(published)
    assert "all" in published and len(published) == 1 + 10 - 3


def _group(group: dict[str, str]) -> str:
    return "all" if not group else f"{group['gender']}|{group['age_band']}"


def test_percentile_points_thin_out_many_distinct_scores() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=5000)
    points = percentile_points(x, max_points=51)
    assert 40 <= len(points) <= 53
    scores = [s for s, _ in points]
    assert scores == sorted(set(scores))
    # the extremes are not published: at least 10 respondents lie below and above every point
    assert (x < scores[0]).sum() >= 10 and (x > scores[-1]).sum() >= 10
    assert scores[0] != x.min() and scores[-1] != x.max()
    assert all(b[1] >= a[1] for a, b in itertools.pairwise(points))
    # brute force: every published point has >= 10 below and >= 10 above
    for s, _ in points:
        assert (x < s).sum() >= 10 and (x > s).sum() >= 10


def test_norms_need_enough_respondents(sim: Dataset) -> None:
    inst, table, _ = sim
    with pytest.raises(AnalysisError, match="nothing can be normed"):
        analysis.build_norms(
            inst, table.head(5), sample="too few", id_column="id", ignore_columns=["site", "sex"]
        )
