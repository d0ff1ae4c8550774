"""Hand-computed scoring cases (FORMULAS.md, "Scoring one respondent").

Every expected number is worked out in the comment above its assertion, from the fixture
instruments in tests/fixtures/scoring/ (methods.yaml, norms.yaml). Scales used below:

- agree5: 1..5, missing code 9 "Prefer not to say"; reverse x' = (1 + 5) - x = 6 - x
- freq4:  0..3, missing code 8 "Don't know";        reverse x' = (0 + 3) - x = 3 - x
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import surveytool
from surveytool import problems
from surveytool.errors import InvalidResponsesError, ScoringError
from surveytool.instrument.model import Band, Instrument, required_count
from surveytool.instrument.registry import load_instrument
from surveytool.problems import flatten
from surveytool.scoring.kernel import band_labels
from surveytool.scoring.result import CHECK_SUFFIX
from tests.frames import num

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "scoring"
SUBSCALES = ["mean_s", "sum_s", "pro_s", "w_s", "one_s"]
COMPOSITES = ["comp_mean", "comp_sum", "comp_top", "comp_half"]


def one(instrument: Instrument, form: str | None = None, **answers: Any) -> pd.Series:
    """Score one respondent given as item=answer keywords; items not given are missing."""
    table = surveytool.score(instrument, answers, form=form)
    assert len(table) == 1
    return table.iloc[0]


def is_missing(value: object) -> bool:
    return problems.is_missing(value)


# ---------------------------------------------------------------------------------------------
# output shape
# ---------------------------------------------------------------------------------------------


def test_score_columns_are_named_by_scale_id(methods):
    table = surveytool.score(methods, pd.DataFrame({"pid": ["a"], "M1": [3]}), id_column="pid")
    expected = ["pid"]
    for scale_id in SUBSCALES + COMPOSITES:
        expected += [scale_id, f"{scale_id}_n", f"{scale_id}_status", f"{scale_id}_band"]
    expected += [f"M1{CHECK_SUFFIX}", f"S1{CHECK_SUFFIX}"]  # one column per check, file order
    assert list(table.columns) == expected
    assert table.attrs == {}  # a plain frame: the issues and provenance are in ScoreResult
    result = surveytool.score_responses(
        methods, pd.DataFrame({"pid": ["a"], "M1": [3]}), id_column="pid"
    )
    assert result.provenance.instrument_id == "methods"
    assert result.provenance.instrument_version == "1.0.0"
    assert result.provenance.instrument_hash == methods.content_hash


def test_without_id_column_rows_are_numbered(methods):
    table = surveytool.score(methods, pd.DataFrame({"M1": [1, 2, 3]}))
    assert table.columns[0] == "row"
    assert table["row"].tolist() == [1, 2, 3]


def test_score_responses_gives_counts_issues_and_provenance(methods):
    frame = pd.DataFrame({"pid": ["a", "b", "a"], "M1": [3, 7, 2], "extra": [0, 0, 0]})
    result = surveytool.score_responses(methods, frame, id_column="pid")
    assert (result.rows_read, result.rows_scored, result.rows_quarantined) == (3, 2, 1)
    assert result.counts_line() == "rows read 3 = rows scored 2 + rows quarantined 1"
    assert result.provenance.instrument_hash == methods.content_hash
    assert result.provenance.form is None
    issues = result.issues
    cell = issues[issues["kind"] == "cell"]
    assert cell[["row", "column", "value"]].values.tolist() == [[2, "M1", "7"]]
    assert sorted(f for f in flatten(issues) if f[0] != "missing_item") == [
        ("duplicate_respondent_id", 3, "pid"),
        ("off_scale", 2, "M1"),
        ("unmatched_column", None, "extra"),
    ]
    assert issues.loc[issues["column"] == "extra", "kind"].tolist() == ["column"]
    assert issues.loc[issues["kind"] == "row", "row"].tolist() == [3]


def test_strict_raises_with_every_issue(methods):
    frame = pd.DataFrame({"M1": [3, 7], "M2": ["agree", "sort of"]})
    with pytest.raises(InvalidResponsesError) as caught:
        surveytool.score(methods, frame, strict=True)
    issues = caught.value.issues
    assert isinstance(issues, pd.DataFrame)
    cells = issues[issues["kind"] == "cell"]
    assert sorted(cells[["row", "column"]].values.tolist()) == [[2, "M1"], [2, "M2"]]
    assert sorted(flatten(cells)) == [("not_an_answer", 2, "M2"), ("off_scale", 2, "M1")]


# ---------------------------------------------------------------------------------------------
# methods
# ---------------------------------------------------------------------------------------------


def test_mean_with_reverse_keyed_item(methods):
    # M1..M4 = 4, 2, 3, 1; M4 reversed: 6 - 1 = 5; mean = (4 + 2 + 3 + 5) / 4 = 14 / 4 = 3.5
    row = one(methods, M1=4, M2=2, M3=3, M4=1)
    assert row["mean_s"] == 3.5
    assert row["mean_s_n"] == 4
    assert row["mean_s_status"] == "ok"


def test_mean_min_answered_fraction_is_ceiling(methods):
    assert required_count(0.6, 4) == 3  # ceil(0.6 * 4) = ceil(2.4) = 3, not round(2.4) = 2
    # three answered: M1 = 5, M2 = 4, M4 = 2 -> 6 - 2 = 4; mean = (5 + 4 + 4) / 3 = 13 / 3
    row = one(methods, M1=5, M2=4, M4=2)
    assert row["mean_s"] == 13 / 3
    assert row["mean_s_n"] == 3
    # two answered (2 < 3): no score, status insufficient, count still reported
    row = one(methods, M1=5, M2=4)
    assert math.isnan(row["mean_s"])
    assert row["mean_s_n"] == 2
    assert row["mean_s_status"] == "insufficient"
    assert is_missing(row["mean_s_band"])


def test_sum_needs_every_item(methods):
    # S1, S2, S3 = 1, 2, 5; S3 reversed: 6 - 5 = 1; sum = 1 + 2 + 1 = 4
    row = one(methods, S1=1, S2=2, S3=5)
    assert row["sum_s"] == 4.0
    assert row["sum_s_n"] == 3
    assert row["sum_s_band"] == "low"  # [3, 9)
    # S3 missing: a sum is defined only when every item is answered
    row = one(methods, S1=1, S2=2)
    assert math.isnan(row["sum_s"])
    assert row["sum_s_n"] == 2
    assert row["sum_s_status"] == "insufficient"


def test_prorated_sum_is_mean_times_k(methods):
    # P1..P3 = 0, 3, 2, P4 missing; P2 reversed: 3 - 3 = 0
    # mean of answered = (0 + 0 + 2) / 3 = 2/3; prorated = 2/3 * 4 = 8/3
    row = one(methods, P1=0, P2=3, P3=2)
    assert row["pro_s"] == pytest.approx(8 / 3, rel=1e-15)
    assert row["pro_s_n"] == 3
    # exactly min_answered (2): P1 = 3, P3 = 1 -> mean 2 -> 2 * 4 = 8
    row = one(methods, P1=3, P3=1)
    assert row["pro_s"] == 8.0
    assert row["pro_s_status"] == "ok"
    # one answered, min_answered is the count 2 -> insufficient
    row = one(methods, P1=3)
    assert math.isnan(row["pro_s"])
    assert row["pro_s_n"] == 1
    assert row["pro_s_status"] == "insufficient"


def test_prorated_sum_equals_plain_sum_when_complete(methods):
    # P1..P4 = 1, 2, 3, 0; P2 reversed: 3 - 2 = 1; sum = 1 + 1 + 3 + 0 = 5; 5 / 4 * 4 = 5
    row = one(methods, P1=1, P2=2, P3=3, P4=0)
    assert row["pro_s"] == 5.0
    assert row["pro_s_n"] == 4


def test_weighted_mean(methods):
    # W1 = 5 (w 2), W2 = 3 (w 1), W3 = 1 reversed -> 5 (w 0.5)
    # Σwx = 2*5 + 1*3 + 0.5*5 = 10 + 3 + 2.5 = 15.5; Σw = 3.5; 15.5 / 3.5 = 31/7
    # (the unweighted mean would be (5 + 3 + 5) / 3 = 13/3)
    row = one(methods, W1=5, W2=3, W3=1)
    assert row["w_s"] == pytest.approx(31 / 7, rel=1e-15)
    # W1 missing: Σwx = 3 + 2.5 = 5.5, Σw = 1.5 over the answered items only -> 11/3
    row = one(methods, W2=3, W3=1)
    assert row["w_s"] == pytest.approx(11 / 3, rel=1e-15)
    assert row["w_s_n"] == 2


def test_reverse_keying_uses_declared_range_not_observed(methods):
    # M4 is only ever answered 2 or 3 here (observed range 2..3). Declared range 1..5:
    # M4 = 2 -> 6 - 2 = 4 (observed-range keying would give 2 + 3 - 2 = 3)
    # row 1: (3 + 3 + 3 + 4) / 4 = 13/4 = 3.25; row 2: M4 = 3 -> 3: (3 + 3 + 3 + 3) / 4 = 3
    # freq4 item P2 on 0..3: P2 = 1 -> 3 - 1 = 2 (observed 1..2 would give 2); P2 = 2 -> 1
    frame = pd.DataFrame(
        {"M1": [3, 3], "M2": [3, 3], "M3": [3, 3], "M4": [2, 3], "P1": [2, 2], "P2": [1, 2]}
    )
    table = surveytool.score(methods, frame)
    assert table["mean_s"].tolist() == [3.25, 3.0]
    # pro_s: row 1 (2 + 2) / 2 * 4 = 8; row 2 (2 + 1) / 2 * 4 = 6
    assert table["pro_s"].tolist() == [8.0, 6.0]


def test_missing_codes_and_labels_count_as_not_answered(methods):
    # M2 = 9 (agree5's missing code), M3 = its label in another case: both not answered
    # mean of M1 = 4, M4 = 2 -> 4, plus ... only 2 answered < 3 needed -> insufficient
    result = surveytool.score_responses(
        methods, {"M1": 4, "M2": 9, "M3": "prefer NOT to say", "M4": 2}
    )
    row = result.scores.iloc[0]
    assert row["mean_s_n"] == 2
    assert row["mean_s_status"] == "insufficient"
    assert (result.issues["kind"] == "cell").sum() == 0  # missing, not invalid
    # freq4's missing code 8 and label "Don't know": P1 = 8, P2 = "don't know", P3 = 3, P4 = 1
    # -> answered P3, P4: (3 + 1) / 2 * 4 = 8
    row = one(methods, P1=8, P2="don't know", P3=3, P4=1)
    assert row["pro_s"] == 8.0
    assert row["pro_s_n"] == 2


def test_another_scales_missing_code_is_invalid_not_missing(methods):
    # 9 is agree5's missing code but lies off freq4's 0..3: reported, then treated as missing
    result = surveytool.score_responses(methods, {"P1": 9, "P2": 1, "P3": 2})
    cells = result.issues[result.issues["kind"] == "cell"]
    assert cells[["row", "column", "value"]].values.tolist() == [[1, "P1", "9"]]
    assert flatten(cells) == [("off_scale", 1, "P1")]
    # P2 = 1 -> 2, P3 = 2: (2 + 2) / 2 * 4 = 8
    assert result.scores["pro_s"].iloc[0] == 8.0


def test_labels_as_answers_any_case_outer_spaces(methods):
    # "Strongly agree" = 5, " AGREE " = 4, "neither agree nor disagree" = 3, "DISAGREE" = 2 -> 6 - 2 = 4
    # mean = (5 + 4 + 3 + 4) / 4 = 16 / 4 = 4
    row = one(
        methods, M1="Strongly agree", M2=" AGREE ", M3="neither agree nor disagree", M4="DISAGREE"
    )
    assert row["mean_s"] == 4.0
    assert row["mean_s_n"] == 4
    # numbers given as text count as numbers: "4" and " 2 "
    row = one(methods, M1="4", M2=" 2 ", M3=3, M4=" strongly DISAGREE")
    # (4 + 2 + 3 + (6 - 1)) / 4 = 14 / 4 = 3.5
    assert row["mean_s"] == 3.5
    # freq4 labels: NEVER = 0, always = 3 -> 3 - 3 = 0, Often = 2, sometimes = 1 -> sum 3 -> 3
    row = one(methods, P1="NEVER", P2="always", P3="Often", P4="sometimes")
    assert row["pro_s"] == 3.0


def test_labels_ignore_inner_spaces(methods):
    result = surveytool.score_responses(
        methods, {"M1": "Strongly  agree", "M2": "strongly   agree"}
    )
    assert (result.issues["kind"] == "cell").sum() == 0
    assert result.responses.values[0, :2].tolist() == [5.0, 5.0]


def test_unknown_label_text_and_fraction_are_reported(methods):
    result = surveytool.score_responses(
        methods, {"M1": "Sometimes", "M2": "lots", "M3": 2.5, "M4": 0}
    )
    cells = result.issues[result.issues["kind"] == "cell"]
    got = dict(zip(cells["column"], zip(cells["value"], cells["code"], strict=True), strict=True))
    assert got["M1"] == ("Sometimes", "not_an_answer")
    assert got["M2"] == ("lots", "not_an_answer")
    assert got["M3"] == ("2.5", "not_whole_number")
    assert got["M4"] == ("0", "off_scale")
    row = result.scores.iloc[0]
    assert row["mean_s_n"] == 0 and math.isnan(row["mean_s"])


def test_all_missing(methods):
    frame = pd.DataFrame({item.id: [np.nan, None] for item in methods.items}, dtype=object)
    table = surveytool.score(methods, frame)
    for scale_id in SUBSCALES + COMPOSITES:
        assert table[scale_id].isna().all(), scale_id
        assert table[f"{scale_id}_n"].tolist() == [0, 0], scale_id
        assert table[f"{scale_id}_status"].tolist() == ["insufficient"] * 2, scale_id
        assert table[f"{scale_id}_band"].isna().all(), scale_id
    # the fixture's checks say a skip means nothing (on_skip: none)
    assert table["M1_check"].tolist() == table["S1_check"].tolist() == ["none", "none"]


def test_one_item_subscale(methods):
    row = one(methods, O1=4)
    assert row["one_s"] == 4.0
    assert row["one_s_n"] == 1
    row = one(methods, O1=9)  # missing code
    assert math.isnan(row["one_s"])
    assert row["one_s_status"] == "insufficient"


# ---------------------------------------------------------------------------------------------
# composites
# ---------------------------------------------------------------------------------------------

FULL: dict[str, Any] = {  # mean_s = 3.5, sum_s = 4, pro_s = 5, w_s = 31/7, one_s = 2
    "M1": 4,
    "M2": 2,
    "M3": 3,
    "M4": 1,
    "S1": 1,
    "S2": 2,
    "S3": 5,
    "P1": 1,
    "P2": 2,
    "P3": 3,
    "P4": 0,
    "W1": 5,
    "W2": 3,
    "W3": 1,
    "O1": 2,
}


def test_composites_mean_sum_and_of_composites(methods):
    row = one(methods, **FULL)
    assert row["mean_s"] == 3.5
    assert row["sum_s"] == 4.0
    assert row["pro_s"] == 5.0
    assert row["w_s"] == pytest.approx(31 / 7, rel=1e-15)
    assert row["one_s"] == 2.0
    # comp_mean = (3.5 + 31/7) / 2 = (49/14 + 62/14) / 2 = 111/28
    assert row["comp_mean"] == pytest.approx(111 / 28, rel=1e-15)
    assert row["comp_mean_n"] == 2
    # comp_sum = 4 + 5 = 9
    assert row["comp_sum"] == 9.0
    assert row["comp_sum_band"] == "low"  # [3, 10)
    # comp_top = (comp_mean + one_s) / 2 = (111/28 + 56/28) / 2 = 167/56
    assert row["comp_top"] == pytest.approx(167 / 56, rel=1e-15)
    assert row["comp_top_n"] == 2
    # comp_half = (3.5 + 31/7 + 2) / 3 = (49/14 + 62/14 + 28/14) / 3 = 139/42
    assert row["comp_half"] == pytest.approx(139 / 42, rel=1e-15)
    assert row["comp_half_n"] == 3


def test_composite_min_answered_count_fraction_and_default(methods):
    # w_s and one_s missing: mean_s = 3.5 only
    answers = {k: v for k, v in FULL.items() if not k.startswith(("W", "O"))}
    row = one(methods, **answers)
    # comp_mean: min_answered 1 (a count) -> the one component present: 3.5
    assert row["comp_mean"] == 3.5
    assert row["comp_mean_n"] == 1
    # comp_half: min_answered 0.5 of 3 -> ceil(1.5) = 2 > 1 present -> insufficient
    assert math.isnan(row["comp_half"])
    assert row["comp_half_n"] == 1
    assert row["comp_half_status"] == "insufficient"
    # comp_top: default min_answered 1.0 = every component; one_s is missing -> insufficient
    assert math.isnan(row["comp_top"])
    assert row["comp_top_n"] == 1
    assert row["comp_top_status"] == "insufficient"
    # with one_s back, comp_half has 2 of 3: (3.5 + 2) / 2 = 2.75
    row = one(methods, **answers, O1=2)
    assert row["comp_half"] == 2.75
    assert row["comp_half_n"] == 2


def test_composite_sum_needs_every_component(methods):
    answers = {k: v for k, v in FULL.items() if k != "S3"}  # sum_s missing
    row = one(methods, **answers)
    assert math.isnan(row["sum_s"])
    assert math.isnan(row["comp_sum"])
    assert row["comp_sum_n"] == 1
    assert row["comp_sum_status"] == "insufficient"


# ---------------------------------------------------------------------------------------------
# bands
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "score", "band"),
    [
        # M1, M2, M3, M4 (reversed: 6 - M4)
        ((1, 1, 1, 5), 1.0, "low"),  # (1 + 1 + 1 + 1) / 4 = 1: lowest bound, [1, 2)
        ((2, 2, 1, 5), 1.5, "low"),  # (2 + 2 + 1 + 1) / 4 = 1.5
        ((2, 2, 2, 4), 2.0, "mid"),  # (2 + 2 + 2 + 2) / 4 = 2: lower bound of [2, 3.5)
        ((4, 3, 3, 3), 3.25, "mid"),  # (4 + 3 + 3 + 3) / 4 = 3.25
        ((4, 4, 3, 3), 3.5, "high"),  # (4 + 4 + 3 + 3) / 4 = 3.5: lower bound of [3.5, 5]
        ((5, 5, 5, 1), 5.0, "high"),  # top of the top band, closed
    ],
)
def test_bands_half_open_top_closed(methods, answers, score, band):
    row = one(methods, **dict(zip(["M1", "M2", "M3", "M4"], answers, strict=True)))
    assert row["mean_s"] == score
    assert row["mean_s_band"] == band


@pytest.mark.parametrize(
    ("sums", "pros", "total", "band"),
    [
        # S1, S2, S3 (reversed)     P1, P2 (reversed), P3, P4
        ((1, 1, 5), (0, 3, 0, 0), 3.0, "low"),  # 3 + 0 = 3: bottom of the range
        ((2, 2, 4), (1, 2, 1, 1), 10.0, "mid"),  # (2+2+2) + (1+1+1+1) = 6 + 4 = 10
        ((4, 4, 2), (2, 1, 2, 2), 20.0, "high"),  # (4+4+4) + (2+2+2+2) = 12 + 8 = 20
        ((5, 5, 1), (3, 0, 3, 3), 27.0, "high"),  # 15 + 12 = 27: top, closed
    ],
)
def test_composite_bands_at_bounds(methods, sums, pros, total, band):
    answers = dict(zip(["S1", "S2", "S3"], sums, strict=True))
    answers.update(zip(["P1", "P2", "P3", "P4"], pros, strict=True))
    row = one(methods, **answers)
    assert row["comp_sum"] == total
    assert row["comp_sum_band"] == band


def test_band_labels_direct():
    bands = [
        Band(lower=10, upper=20, label="b"),
        Band(lower=0, upper=10, label="a"),  # given out of order
        Band(lower=20, upper=30, label="c"),
    ]
    scores = np.array([0.0, 9.999, 10.0, 19.999, 20.0, 30.0, 30.5, -0.5, np.nan])
    got = band_labels(bands, scores)
    assert [None if pd.isna(x) else x for x in got] == [
        "a",
        "a",
        "b",
        "b",
        "c",
        "c",  # top band closed
        None,  # above the range: no band
        None,  # below the range: no band
        None,
    ]


# ---------------------------------------------------------------------------------------------
# short forms
# ---------------------------------------------------------------------------------------------


def test_short_form_restricts_subscales_and_prorates_to_full_k(methods):
    # brief = M1, M2, M4, P1, P3, O1
    # mean_s on M1, M2, M4: needed ceil(0.6 * 3) = 2; (4 + 2 + (6 - 5)) / 3 = 7/3
    # pro_s on P1, P3: (3 + 1) / 2 = 2, prorated to the FULL k = 4 -> 8 (not 2 * 2 = 4)
    # sum_s and w_s have no item in the form: no columns (comp_sum keeps its pro_s part)
    # comp_mean = mean of the components present (mean_s only) = 7/3
    # comp_top = (7/3 + 4) / 2 = 19/6
    # M3 is in the data but not in the form: ignored (reported), so it does not count
    result = surveytool.score_responses(
        methods, {"M1": 4, "M2": 2, "M3": 1, "M4": 5, "P1": 3, "P3": 1, "O1": 4}, form="brief"
    )
    row = result.scores.iloc[0]
    assert row["mean_s"] == 7 / 3
    assert row["mean_s_n"] == 3
    assert row["pro_s"] == 8.0
    assert row["pro_s_n"] == 2
    assert row["comp_mean"] == 7 / 3
    assert row["comp_top"] == pytest.approx(19 / 6, rel=1e-15)
    for absent in ("sum_s", "w_s"):
        assert absent not in result.scores.columns
    assert result.provenance.form == "brief"
    m3 = result.issues[result.issues["column"] == "M3"]
    assert flatten(m3) == [("item_not_in_form", None, "M3")]


def test_short_form_min_answered_on_form_items(methods):
    # mean_s on brief needs 2 of its 3 items: M1 = 4, M4 = 3 -> (4 + 3) / 2 = 3.5
    row = one(methods, form="brief", M1=4, M4=3)
    assert row["mean_s"] == 3.5
    row = one(methods, form="brief", M1=4)
    assert math.isnan(row["mean_s"])
    assert row["mean_s_status"] == "insufficient"


def test_unknown_short_form(methods):
    with pytest.raises(ScoringError, match="no short form 'nope'"):
        surveytool.score(methods, {"M1": 1}, form="nope")


# ---------------------------------------------------------------------------------------------
# norms: stratified look-up, T-score, percentile
# ---------------------------------------------------------------------------------------------

NORMED = pd.DataFrame(
    {
        "pid": ["f1", "f2", "f3", "m1", "x1", "n1"],
        "sex": ["F", "F", "F", "M", "X", None],
        # dep = sum of D1..D4
        "D1": [1, 2, 1, 3, 4, 5],
        "D2": [1, 2, 1, 3, 4, 5],
        "D3": [2, 2, 1, 3, 4, 5],
        "D4": [2, 4, 1, 3, 4, 5],
        "H1": [3, 4, 3, 2, 5, 1],
        "H2": [3, 4, 3, 3, 5, 1],
        "X1": [2, 3, None, 4, 1, 5],
        "X2": [2, 3, None, 4, 1, 5],
        "U1": [1, 2, 3, 4, 5, 1],
    }
)


def test_stratified_norms_t_scores_and_percentiles(normed):
    table = surveytool.score(normed, NORMED, id_column="pid", group_columns=["sex"])
    t = table.set_index("pid")
    # dep sums: f1 6, f2 10, f3 4, m1 12, x1 16, n1 20
    assert t["dep"].tolist() == [6.0, 10.0, 4.0, 12.0, 16.0, 20.0]
    # f1: sex=F entry (mean 10, sd 4): T = 50 + 10 * (6 - 10) / 4 = 40;
    #     percentile table point (6, 5) -> 5
    assert t.loc["f1", "dep_t"] == 40.0
    assert t.loc["f1", "dep_percentile"] == 5.0
    assert t.loc["f1", "dep_percentile_source"] == "table"
    assert t.loc["f1", "dep_norm_group"] == "sex=F"
    # f2: T = 50 + 10 * 0 / 4 = 50; between (8, 20) and (12, 60): 20 + (10 - 8) / 4 * 40 = 40
    assert t.loc["f2", "dep_t"] == 50.0
    assert t.loc["f2", "dep_percentile"] == pytest.approx(40.0, abs=1e-12)
    # f3: 4 is below the table's first point (6, 5): held at 5; T = 50 + 10 * (4 - 10) / 4 = 35
    assert t.loc["f3", "dep_t"] == 35.0
    assert t.loc["f3", "dep_percentile"] == 5.0
    # m1: sex=M entry (mean 12, sd 5), no table: T = 50, normal model Φ(0) * 100 = 50
    assert t.loc["m1", "dep_t"] == 50.0
    assert t.loc["m1", "dep_percentile"] == pytest.approx(50.0, abs=1e-12)
    assert t.loc["m1", "dep_percentile_source"] == "normal"
    assert t.loc["m1", "dep_norm_group"] == "sex=M"
    # x1: no entry for sex=X -> fallback (mean 11, sd 5): T = 50 + 10 * 5 / 5 = 60;
    #     Φ(1) * 100 = 84.13447460685429
    assert t.loc["x1", "dep_t"] == 60.0
    assert t.loc["x1", "dep_percentile"] == pytest.approx(84.13447460685429, rel=1e-12)
    assert t.loc["x1", "dep_norm_group"] == "all"
    # n1: sex missing -> fallback: T = 50 + 10 * 9 / 5 = 68; Φ(1.8) * 100 = 96.40696808870742
    assert t.loc["n1", "dep_t"] == 68.0
    assert t.loc["n1", "dep_percentile"] == pytest.approx(96.40696808870742, rel=1e-12)
    assert t.loc["n1", "dep_norm_group"] == "all"


def test_scale_without_norm_for_a_group_gets_nan(normed):
    table = surveytool.score(normed, NORMED, id_column="pid", group_columns=["sex"])
    t = table.set_index("pid")
    # anx has only a sex=F entry (mean 2.5, sd 1) and no fallback
    # f1: anx = 2 -> T = 50 + 10 * (2 - 2.5) / 1 = 45; Φ(-0.5) * 100 = 30.853753872598688
    assert t.loc["f1", "anx_t"] == 45.0
    assert t.loc["f1", "anx_percentile"] == pytest.approx(30.853753872598688, rel=1e-12)
    # f3: anx not answered -> no T or percentile although its group has a norm
    assert math.isnan(num(t, "f3", "anx"))
    assert math.isnan(num(t, "f3", "anx_t"))
    assert math.isnan(num(t, "f3", "anx_percentile"))
    # m1, x1, n1: no entry for their group and no fallback -> NaN, no source, no group
    for pid in ("m1", "x1", "n1"):
        assert not math.isnan(num(t, pid, "anx"))
        assert math.isnan(num(t, pid, "anx_t")), pid
        assert math.isnan(num(t, pid, "anx_percentile")), pid
        assert is_missing(t.loc[pid, "anx_percentile_source"]), pid
        assert is_missing(t.loc[pid, "anx_norm_group"]), pid
    # a scale without any norm has no norm columns at all
    assert "unnormed_t" not in table.columns
    # well: fallback only (mean 3, sd 0.5): f2 well = 4 -> T = 50 + 10 * 1 / 0.5 = 70
    assert t.loc["f2", "well_t"] == 70.0
    assert t.loc["f2", "well_percentile"] == pytest.approx(97.72498680518208, rel=1e-12)


def test_norms_without_group_columns_use_the_fallback(normed):
    table = surveytool.score(normed, NORMED.drop(columns="sex"), id_column="pid")
    # every dep score against mean 11, sd 5: T = 50 + 2 * (dep - 11)
    assert table["dep_t"].tolist() == [40.0, 48.0, 36.0, 52.0, 60.0, 68.0]
    assert set(table["dep_norm_group"]) == {"all"}
    assert set(table["dep_percentile_source"]) == {"normal"}
    # anx has no fallback
    assert table["anx_t"].isna().all()


def test_norm_columns_order(normed):
    table = surveytool.score(normed, NORMED, id_column="pid", group_columns=["sex"])
    assert list(table.columns[:12]) == [
        "pid",
        "sex",
        "dep",
        "dep_n",
        "dep_status",
        "dep_band",
        "dep_t",
        "dep_percentile",
        "dep_percentile_source",
        "dep_norm_group",
        "well",
        "well_n",
    ]


# ---------------------------------------------------------------------------------------------
# critical items
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("m1", "s1", "flags"),
    [
        (4, 3, "M1"),  # M1 at_or_above 4: exactly at the threshold is flagged
        (5, 3, "M1"),
        (3, 3, ""),  # just below: not flagged; S1 = 3 is above its at_or_below threshold 2
        (3, 2, "S1"),  # S1 at_or_below 2: exactly at the threshold is flagged
        (3, 1, "S1"),
        (5, 1, "M1;S1"),
        (None, None, ""),  # missing is never flagged
        (9, 9, ""),  # missing codes are not answers
    ],
)
def test_critical_items(methods, m1, s1, flags):
    row = one(methods, M1=m1, S1=s1)
    met = ";".join(c for c in ("M1", "S1") if row[f"{c}{CHECK_SUFFIX}"] == "alert")
    assert met == flags


def test_critical_items_flagged_whatever_the_scores(methods):
    # M1 = 5 alone: mean_s is insufficient, the critical answer is still flagged; S1 answered
    # with an invalid value is not an answer and is not flagged
    result = surveytool.score_responses(
        methods, pd.DataFrame({"M1": [5, 1], "M2": ["junk", 1], "S1": [7, 2]})
    )
    assert result.scores["mean_s_status"].tolist() == ["insufficient", "insufficient"]
    assert result.scores["M1_check"].tolist() == ["alert", "none"]
    assert result.scores["S1_check"].tolist() == ["none", "alert"]


# ---------------------------------------------------------------------------------------------
# smoke test on the real instrument, when present
# ---------------------------------------------------------------------------------------------


def test_bundled_ppai_smoke():
    path = Path(__file__).resolve().parents[3] / "instruments" / "ppai.yaml"
    if not path.is_file():
        pytest.skip("instruments/ppai.yaml is not written yet")
    try:
        instrument = load_instrument(path)
    except Exception as exc:  # being written right now: a broken draft is not this file's concern
        pytest.skip(f"instruments/ppai.yaml does not load yet: {exc}")
    answers = {item.id: instrument.scale_of(item.id).min for item in instrument.items}
    table = surveytool.score(instrument, answers)
    assert len(table) == 1
    for scale_id in instrument.scored_ids():
        assert scale_id in table.columns


# --- safety of critical answers, whatever happens to the row --------------------------------

CRITICAL_YAML = """
id: crit
version: "1.0.0"
title: Critical fixture
response_scales:
  s5: {min: 1, max: 5}
items:
  - {id: X1, text: one, scale: s5}
  - {id: X2, text: two, scale: s5}
  - {id: X3, text: three, scale: s5}
subscales:
  - {id: a, label: A, items: [X1, X2], method: sum}
  - {id: b, label: B, items: [X3], method: sum}
composites:
  - {id: total, label: Total, components: [a, b], method: sum}
checks:
  - {id: X3, item: X3, rule: {at_or_above: 5}, on_skip: none, on_missing_code: none, message: "Please reach out for support."}
short_forms:
  - {id: brief, label: Brief, items: [X1, X2]}
"""


@pytest.fixture
def critical_instrument():
    from surveytool.instrument.load import load_text

    return load_text(CRITICAL_YAML)


def test_critical_answer_in_a_quarantined_row_is_reported(critical_instrument):
    # row 2 repeats id p1 and holds X3 = 5: quarantined, but the critical answer is reported
    frame = pd.DataFrame({"pid": ["p1", "p1"], "X1": [1, 2], "X2": [1, 2], "X3": [1, 5]})
    result = surveytool.score_responses(critical_instrument, frame, id_column="pid")
    assert result.rows_read == result.rows_scored + result.rows_quarantined == 2
    flagged = result.issues[result.issues["code"] == "critical_in_quarantine"]
    assert flagged[["kind", "row", "column", "value"]].values.tolist() == [["row", 2, "X3", "5"]]


def test_critical_item_outside_the_short_form_is_still_flagged(critical_instrument):
    frame = pd.DataFrame({"X1": [1, 2], "X2": [1, 2], "X3": [5, 1]})
    result = surveytool.score_responses(critical_instrument, frame, form="brief")
    assert result.scores["X3_check"].tolist() == ["alert", "none"]
    # X3 is read for safety only: no "not in the short form" column issue for it
    assert "X3" not in set(result.issues["column"])


def test_sum_composite_is_not_scored_when_the_form_leaves_out_a_component(critical_instrument):
    frame = pd.DataFrame({"X1": [1], "X2": [2], "X3": [3]})
    full = surveytool.score(critical_instrument, frame)
    assert full["total"].tolist() == [6.0]  # a = 1 + 2, b = 3; total = a + b
    brief = surveytool.score(critical_instrument, frame, form="brief")
    assert "total" not in brief.columns and brief["a"].tolist() == [3.0]


def test_a_misspelt_option_is_refused_not_ignored() -> None:
    """The options live in one TypedDict (``ScoreKeywords``); a name outside it is an error, as a
    keyword argument outside a signature is."""
    answers = {"FF1": 4}
    with pytest.raises(TypeError, match=r"unexpected option\(s\) 'idcolumn'; the options are "):
        surveytool.score("ppai", answers, idcolumn="respondent_id")  # type: ignore[call-overload]
    with pytest.raises(TypeError, match=r"'strikt'"):
        surveytool.score_responses("ppai", answers, strikt=True)  # type: ignore[call-overload]
    # the options that exist are taken, by score as by score_responses
    with pytest.raises(InvalidResponsesError):
        surveytool.score("ppai", {"FF1": 9}, strict=True)
    assert surveytool.score("ppai", {"FF1": 9}, strict=False)["distancing"].isna().all()


def test_a_score_result_and_its_responses_have_a_one_line_repr() -> None:
    inst = surveytool.load_instrument("ppai")
    frame = surveytool.simulate(
        inst, surveytool.SimulationSpec(n=500, seed=1, group_column="site", groups=("a", "b"))
    )
    frame["DS1"] = frame["DS1"].astype(object)
    frame.loc[:3, "DS1"] = 99
    result = surveytool.score_responses(
        inst, frame, id_column="respondent_id", group_columns=["site"], form=None
    )
    text = repr(result)
    assert "\n" not in text and len(text) < 200, text
    assert text.startswith(f"ScoreResult(ppai {inst.version}: rows read 500 = rows scored 500")
    assert text.endswith("issues 4 (4 off_scale))")
    shown = repr(result.responses)
    assert "\n" not in shown and len(shown) < 200, shown
    assert shown.startswith(f"Responses(500 respondents x {len(inst.items)} items, groups ['site']")
