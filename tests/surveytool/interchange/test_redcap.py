"""REDCap data dictionaries: the 18 columns, lossless round trip, calc formulas evaluated by a
small evaluator of REDCap's syntax give our scores, and imports of dictionaries written by others."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from surveytool.instrument.model import Instrument
from surveytool.interchange import redcap
from tests.surveytool.interchange.conftest import (
    FIXTURES,
    answer_dicts,
    answers,
    assert_same_scores,
    our_scores,
)
from tests.surveytool.interchange.redcap_calc import Formula, evaluate


def test_dictionary_has_redcaps_columns_and_rows(instrument: Instrument):
    text = redcap.data_dictionary(instrument)
    assert not text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == redcap.COLUMNS and len(rows[0]) == 18
    body = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    assert body[0]["Variable / Field Name"] == "record_id"
    assert {r["Form Name"] for r in body} == {redcap.variable(instrument.id)}
    radios = [r for r in body if r["Field Type"] == "radio"]
    assert len(radios) == len(instrument.items)
    for row, item in zip(radios, instrument.items, strict=True):
        scale = instrument.response_scales[item.scale]
        codes = [
            int(c) for c, _ in redcap.parse_choices(row["Choices, Calculations, OR Slider Labels"])
        ]
        assert codes == [*scale.points, *scale.missing_codes]
        assert row["Matrix Group Name"].startswith(redcap.variable(item.scale))
    calcs = [r for r in body if r["Field Type"] == "calc"]
    assert len(calcs) == len(instrument.scored_ids())
    assert all(r["Field Annotation"].startswith("@HIDDEN-SURVEY") for r in calcs)


def test_round_trip_gives_the_same_instrument(instrument: Instrument):
    result = redcap.import_dictionary(redcap.data_dictionary(instrument), "dd.csv")
    assert result.ok, result.report.format_text()
    assert result.not_mapped == []
    assert result.instrument is not None
    assert result.instrument.model_dump() == instrument.model_dump()


def test_calc_formulas_give_our_scores_for_1000_respondents(instrument: Instrument):
    items = answers(instrument, n=1000)
    ours = our_scores(instrument, items)
    rows = redcap.dictionary_rows(instrument)
    calcs = [
        (r["Variable / Field Name"], Formula(r["Choices, Calculations, OR Slider Labels"]))
        for r in rows
        if r["Field Type"] == "calc"
    ]
    names = dict(zip(instrument.scored_ids(), (name for name, _ in calcs), strict=True))
    fields = {i.id: redcap.variable(i.id) for i in instrument.items}
    theirs = []
    for answer in answer_dicts(items):
        record: dict[str, float | None] = {
            fields[k]: (None if v is None else float(v)) for k, v in answer.items()
        }
        for name, formula in calcs:  # REDCap evaluates calc fields in dictionary order
            record[name] = formula(record)
        theirs.append({scale_id: record[names[scale_id]] for scale_id in instrument.scored_ids()})
    assert_same_scores(instrument, ours, theirs)


def test_import_of_a_dictionary_written_by_others():
    path: Path = FIXTURES / "redcap_dictionary_others.csv"
    result = redcap.import_dictionary(
        path.read_text(encoding="utf-8"), str(path), form="mood_check"
    )
    assert result.ok, result.report.format_text()
    inst = result.instrument
    assert inst is not None
    assert [i.id for i in inst.items] == ["mc_1", "mc_2", "mc_3", "mc_4"]
    assert inst.items[1].text == "I felt calm, even on busy days"
    scale = inst.response_scales[inst.items[0].scale]
    assert (scale.min, scale.max) == (0, 3)
    assert scale.labels[3] == "Nearly every day, or more"
    assert scale.missing_codes == {-99: "Prefer not to answer"}
    assert inst.items[0].scale == "mood_grid"
    assert [(s.id, s.method.value, list(s.items)) for s in inst.subscales] == [
        ("mc_mean", "mean", ["mc_1", "mc_2", "mc_3"]),
        ("mc_total", "sum", ["mc_1", "mc_2", "mc_3", "mc_4"]),
    ]
    codes = sorted(p.code for p in result.not_mapped)
    messages = " ".join(p.message for p in result.not_mapped)
    assert codes == ["not_mapped"] * 3
    assert "'mc_when'" in messages  # a text field
    assert "'mc_title'" in messages  # legacy choices without codes are no scale
    assert "'mc_weird'" in messages  # a calc formula that is not mean/sum


def test_a_form_that_is_not_there_is_reported():
    path = FIXTURES / "redcap_dictionary_others.csv"
    result = redcap.import_dictionary(path.read_text(encoding="utf-8"), str(path), form="nope")
    assert not result.ok
    assert result.report.codes() == ["unknown_form"]
    assert "mood_check" in result.report.problems[0].message


def test_the_test_evaluator_is_strict_about_blanks():
    """A formula that leans on how REDCap treats blanks fails here instead of passing by luck."""
    import pytest

    from tests.surveytool.interchange.redcap_calc import BlankArithmetic

    record = {"a": 2.0, "b": None, "c": 4.0}
    assert evaluate("mean([a],[b],[c])", record) == 3.0  # mean() ignores blanks, as documented
    assert evaluate('if([b]="",0,[b]+1)', record) == 0.0  # if() evaluates one branch only
    assert evaluate('if([a]>=1 and [a]<=5,[a]*2,"")', record) == 4.0
    assert evaluate('if([a]>5,1,"")', record) is None
    with pytest.raises(BlankArithmetic):
        evaluate("[a]+[b]", record)
    with pytest.raises(BlankArithmetic):
        evaluate("[b]>=1", record)
