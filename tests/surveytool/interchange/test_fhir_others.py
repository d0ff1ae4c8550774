"""Imports of Questionnaires written by others, in the shapes those systems publish (our own
made-up items: no copyrighted instrument is copied)."""

from __future__ import annotations

import json

from surveytool.interchange import fhir
from tests.surveytool.interchange.conftest import FIXTURES


def _import(name: str):
    path = FIXTURES / name
    return fhir.import_questionnaire(json.loads(path.read_text(encoding="utf-8")), str(path))


def test_lhc_forms_style_r4_with_ordinal_values_and_loinc_codes():
    result = _import("lhc_forms_style_questionnaire.json")
    assert result.ok, result.report.format_text()
    inst = result.instrument
    assert inst is not None
    assert [i.id for i in inst.items] == ["sleep-1", "sleep-2", "sleep-3"]
    assert inst.items[0].source is not None and inst.items[0].source.section == "Last week"
    assert "LOINC" in (inst.items[0].source.note or "")
    scale = inst.response_scales[inst.items[0].scale]
    assert (scale.min, scale.max) == (0, 3)
    assert scale.labels[0] == "Not at all"
    (total,) = inst.subscales
    assert total.method.value == "sum"
    assert list(total.items) == ["sleep-1", "sleep-2", "sleep-3"]
    # its options are LOINC answer codes, not the scores: reported
    assert any("differ from their scores" in p.message for p in result.not_mapped)
    assert inst.version == "1.0.0"


def test_sdc_style_with_codesystem_item_weight_and_weight_sum():
    result = _import("sdc_style_questionnaire.json")
    assert result.ok, result.report.format_text()
    inst = result.instrument
    assert inst is not None
    assert [i.id for i in inst.items] == ["q1", "q2", "q3", "q4"]
    assert len(inst.response_scales) == 1
    scale = next(iter(inst.response_scales.values()))
    assert (scale.min, scale.max) == (1, 4)
    assert scale.missing_codes == {9: "Rather not say"}
    (total,) = inst.subscales
    assert (total.id, total.method.value, list(total.items)) == (
        "total",
        "sum",
        ["q1", "q2", "q3", "q4"],
    )
    assert inst.version == "3.1.0"
    messages = [p.message for p in result.not_mapped]
    assert any("'mood'" in m and "expression" in m for m in messages)  # not a plain sum
    assert any("'comment'" in m for m in messages)  # a string question
    assert not any("band" in m.lower() for m in messages)  # no bands from free text, no noise
    assert all(s.bands == () for s in inst.subscales)


def test_a_json_that_is_no_questionnaire_is_refused():
    result = fhir.import_questionnaire({"resourceType": "Patient"}, "p.json")
    assert not result.ok
    assert result.report.codes() == ["not_an_instrument"]
