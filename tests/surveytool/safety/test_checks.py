"""Critical checks by hand: threshold, answer set, missing code and skip rules; the hit names what
a clinician needs; a check never changes a score.

Fixture (CHECKS_YAML): scale s5 = 1..5 with missing code 9 "Prefer not to say"; mood = prorated sum of X1, X2 (reverse), X3.
- ``low``   on X1: at_or_above 4, level alert,   on_skip support, on_missing_code support
- ``calm``  on X2: at_or_below 2, level support, on_skip none,    on_missing_code alert
- ``pick``  on D1 (scored: false): answers [1, 5], level alert, on_skip alert, on_missing_code none
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import surveytool
from surveytool.instrument.load import load_text
from surveytool.instrument.model import Level
from surveytool.safety.checks import check_answer, check_answers

CHECKS_YAML = """
id: checks
version: "1.0.0"
title: Checks fixture
response_scales:
  s5:
    min: 1
    max: 5
    labels: {1: Never, 2: Rarely, 3: Sometimes, 4: Often, 5: Always}
    missing_codes: {9: Prefer not to say}
items:
  - {id: X1, text: "I felt low.", scale: s5}
  - {id: X2, text: "I felt calm.", scale: s5, reverse: true}
  - {id: X3, text: "I slept well.", scale: s5}
  - {id: D1, text: "Getting through the day was hard.", scale: s5, scored: false,
     timeframe: "Over the last two weeks"}
subscales:
  - {id: mood, label: Mood, items: [X1, X2, X3], method: prorated_sum}
checks:
  - {id: low, item: X1, rule: {at_or_above: 4}, message: "Please look at the support below."}
  - {id: calm, item: X2, rule: {at_or_below: 2}, level: support, on_skip: none,
     on_missing_code: alert}
  - {id: pick, item: D1, rule: {answers: [1, 5]}, on_skip: alert, on_missing_code: none}
short_forms:
  - {id: brief, label: Brief, items: [X1, X3]}
"""


@pytest.fixture(scope="module")
def inst() -> surveytool.Instrument:
    return load_text(CHECKS_YAML)


def levels(inst: surveytool.Instrument, check: str, item: str, answers: list[object]) -> list[str]:
    frame = pd.DataFrame({item: answers}, dtype=object)
    return [str(v) for v in surveytool.score(inst, frame)[f"{check}_check"]]


@pytest.mark.parametrize(
    ("answer", "level"),
    [(1, "none"), (3, "none"), (4, "alert"), (5, "alert"), (9, "support"), (None, "support")],
)
def test_threshold_at_or_above(inst: surveytool.Instrument, answer: int | None, level: str) -> None:
    # 4 is exactly the threshold: met; 3 just below: not; "prefer not to say" and a skip: support
    assert levels(inst, "low", "X1", [answer]) == [level]
    hits = check_answer(inst, "X1", answer)
    assert [h.level.value for h in hits] == ([] if level == "none" else [level])


@pytest.mark.parametrize(
    ("answer", "level"),
    [(1, "support"), (2, "support"), (3, "none"), (5, "none"), (9, "alert"), (None, "none")],
)
def test_threshold_at_or_below_on_the_raw_answer(
    inst: surveytool.Instrument, answer: int | None, level: str
) -> None:
    # X2 is reverse keyed: the rule reads the raw answer (2 = "Rarely"), not the scored 6 - 2
    assert levels(inst, "calm", "X2", [answer]) == [level]


@pytest.mark.parametrize(
    ("answer", "level"),
    [(1, "alert"), (2, "none"), (4, "none"), (5, "alert"), (9, "none"), (None, "alert")],
)
def test_answer_set(inst: surveytool.Instrument, answer: int | None, level: str) -> None:
    assert levels(inst, "pick", "D1", [answer]) == [level]


def test_labels_and_invalid_answers(inst: surveytool.Instrument) -> None:
    # a label is the same answer as its code; an invalid cell is not an answer: a skip
    assert levels(inst, "low", "X1", ["Often", "prefer not to say", "7", "x"]) == [
        "alert",
        "support",
        "support",
        "support",
    ]


def test_the_hit_names_what_a_clinician_needs(inst: surveytool.Instrument) -> None:
    person = surveytool.score_responses(inst, {"X1": 4, "X2": 9, "X3": 3, "D1": None}).person(0)
    by_check = {h.check: h for h in person.critical}
    low = by_check["low"]
    assert (low.item, low.item_text, low.answer, low.answer_label) == (
        "X1",
        "I felt low.",
        4,
        "Often",
    )
    assert (low.reason, low.rule, low.level) == (
        "rule",
        "answer at or above 4 (Often)",
        Level.alert,
    )
    assert low.message == "Please look at the support below."
    calm = by_check["calm"]
    assert (calm.answer, calm.answer_label, calm.reason, calm.level) == (
        9,
        "Prefer not to say",
        "missing_code",
        Level.alert,
    )
    assert calm.message == ""  # the check's words are for a met rule, not for a missing code
    pick = by_check["pick"]
    assert (pick.answer, pick.answer_label, pick.reason, pick.rule) == (
        None,
        "no answer",
        "skip",
        "answer 1 (Never) or 5 (Always)",
    )
    assert [h.check for h in person.alerts] == ["low", "calm", "pick"]
    assert low.summary() == (
        "X1 \u201cI felt low.\u201d: answered 4 (Often), which meets the rule answer at or above "
        "4 (Often)"
    )


def test_one_answer_and_a_table_agree(inst: surveytool.Instrument) -> None:
    rng = np.random.default_rng(7)
    values: list[object] = [None, 9, *range(1, 6)]
    frame = pd.DataFrame(
        {
            i: [values[k] for k in rng.integers(0, len(values), 300)]
            for i in ("X1", "X2", "X3", "D1")
        },
        dtype=object,
    )
    result = surveytool.score_responses(inst, frame)
    records = frame.to_dict("records")
    for r, person in enumerate(result.people()):
        row = {str(k): (None if v is None else int(v)) for k, v in records[r].items()}
        assert person.critical == check_answers(inst, row), r


def test_a_check_never_changes_a_score(inst: surveytool.Instrument) -> None:
    # the unscored item D1 and every check outcome leave every score as it is: the same answers
    # scored with no checks at all (and without D1) give the same table of scores
    without = load_text(
        CHECKS_YAML.split("checks:\n")[0].replace(
            '  - {id: D1, text: "Getting through the day was hard.", scale: s5, scored: false,\n'
            '     timeframe: "Over the last two weeks"}\n',
            "",
        )
        + "short_forms:\n  - {id: brief, label: Brief, items: [X1, X3]}\n"
    )
    assert without.checks == () and "D1" not in without.item_by_id
    rng = np.random.default_rng(11)
    values: list[object] = [None, 9, *range(1, 6)]
    frame = pd.DataFrame(
        {i: [values[k] for k in rng.integers(0, len(values), 500)] for i in ("X1", "X2", "X3")},
        dtype=object,
    )
    for d1 in (1, 5, 9, None):
        with_d1 = frame.assign(D1=d1)
        scored = surveytool.score(inst, with_d1)
        plain = surveytool.score(without, frame)
        for col in plain.columns:
            pd.testing.assert_series_equal(scored[col], plain[col], check_names=True)
    # by hand: X1 = 5, X2 = 1 (reverse: 5), X3 = 2 -> sum 12, whatever D1 and the checks say
    one = surveytool.score(inst, {"X1": 5, "X2": 1, "X3": 2, "D1": 5})
    assert one["mood"].tolist() == [12.0]
    assert [one[f"{c}_check"].iloc[0] for c in ("low", "calm", "pick")] == [
        "alert",
        "support",
        "alert",
    ]


def test_a_check_on_an_item_outside_the_form_applies_only_when_asked(
    inst: surveytool.Instrument,
) -> None:
    # the brief form asks X1 and X3: the checks on X2 and D1 were not asked, so no skip outcome
    result = surveytool.score_responses(inst, {"X1": 2, "X3": 2}, form="brief")
    assert result.person(0).critical == ()
    assert result.scores["pick_check"].tolist() == ["none"]
    # but a column of the data for an item outside the form is still read and checked
    result = surveytool.score_responses(inst, {"X1": 2, "X3": 2, "D1": 5}, form="brief")
    assert [h.check for h in result.person(0).critical] == ["pick"]


def test_quarantined_rows_report_alerts_only(inst: surveytool.Instrument) -> None:
    frame = pd.DataFrame(
        {"pid": ["a", "a", "a"], "X1": [1, 4, None], "X2": [3, 3, 3], "D1": [2, 2, 2]}
    )
    result = surveytool.score_responses(inst, frame, id_column="pid")
    flagged = result.issues[result.issues["code"] == "critical_in_quarantine"]
    # row 2 meets "low" (an alert); row 3's skip of X1 is only a gentle support: not flagged
    assert flagged[["row", "column", "value"]].values.tolist() == [[2, "X1", "4"]]


def test_unscored_item_keeps_its_timeframe(inst: surveytool.Instrument) -> None:
    item = inst.item_by_id["D1"]
    assert (item.scored, item.timeframe) == (False, "Over the last two weeks")
    assert all("D1" not in s.items for s in inst.subscales)
    assert not math.isnan(surveytool.score(inst, {"X1": 1, "X2": 1, "X3": 1})["mood"].iloc[0])


def test_bundled_ppai_check() -> None:
    ppai = surveytool.load_instrument("ppai@1.0.0")
    (check,) = ppai.checks
    assert (check.item, check.rule.at_or_above, check.level) == ("LS5", 4, Level.alert)
    assert (check.on_skip, check.on_missing_code) == (Level.support, Level.support)
    # 1.0.0 keeps its scoring: LS5 stays inside low self-esteem
    assert "LS5" in ppai.subscale_by_id["low_self_esteem"].items
    assert ppai.version == "1.0.0"


def test_a_check_whose_column_the_file_lacks_is_not_assessed_and_says_so(
    inst: surveytool.Instrument,
) -> None:
    # the whole form asks D1 (pick: on_skip alert), but the file has no D1 column: the check
    # could not be made. Its column is empty (never "none", which would read "checked, nothing
    # met"), there is no hit, and the missing_item issue names the check.
    frame = pd.DataFrame({"X1": [1, 5], "X2": [4, 4], "X3": [3, 3]})
    result = surveytool.score_responses(inst, frame)
    assert result.scores["pick_check"].isna().all()
    assert list(result.scores["pick_check"].cat.categories) == ["none", "support", "alert"]
    assert result.scores["low_check"].tolist() == ["none", "alert"]
    assert [h.check for h in result.person(1).critical] == ["low"]
    missing = result.issues[result.issues["code"] == "missing_item"]
    assert missing["column"].tolist() == ["D1"]
    assert "check 'pick' cannot be made" in missing["reason"].iloc[0]
    # a blank D1 column is a skip: on_skip alert, as before
    frame["D1"] = None
    result = surveytool.score_responses(inst, frame)
    assert result.scores["pick_check"].tolist() == ["alert", "alert"]
