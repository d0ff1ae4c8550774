"""FHIR R4 Questionnaire: structure (fhir.resources), lossless round trip, and the exported
calculatedExpressions evaluated by HL7's fhirpath.js give exactly our scores."""

from __future__ import annotations

import json
from pathlib import Path

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from surveytool.instrument.model import Instrument
from surveytool.interchange import fhir
from tests.surveytool.interchange.conftest import (
    answer_dicts,
    answers,
    assert_same_scores,
    evaluate_fhirpath,
    our_scores,
)


def test_questionnaire_is_valid_r4_with_scores_under_both_names(instrument: Instrument):
    data = fhir.questionnaire(instrument)
    model = Questionnaire.model_validate(data)
    assert model.url == fhir.canonical(instrument)
    assert model.version == instrument.version
    questions = [i for i in data["item"] if i["type"] == "choice"]
    assert [q["linkId"] for q in questions] == [i.id for i in instrument.items]
    for question in questions:
        item = instrument.item_by_id[question["linkId"]]
        scale = instrument.response_scales[item.scale]
        scored = [o for o in question["answerOption"] if "extension" in o]
        unscored = [o for o in question["answerOption"] if "extension" not in o]
        assert [int(o["valueCoding"]["code"]) for o in scored] == scale.points
        for option in scored:
            urls = {e["url"]: e["valueDecimal"] for e in option["extension"]}
            code = int(option["valueCoding"]["code"])
            assert urls == {fhir.ORDINAL_VALUE: code, fhir.ITEM_WEIGHT: code}
        assert [int(o["valueCoding"]["code"]) for o in unscored] == list(scale.missing_codes)
    scores = next(i for i in data["item"] if i["linkId"] == "scores")["item"]
    assert [s["linkId"] for s in scores] == [f"score.{x}" for x in instrument.scored_ids()]
    assert all(s["readOnly"] and s["type"] == "decimal" for s in scores)
    kinds = [{e["url"] for e in s["extension"]} for s in scores]
    assert all({fhir.CALCULATED, fhir.TARGET_CONSTRAINT} <= k for k in kinds)


def test_round_trip_gives_the_same_instrument(instrument: Instrument):
    text = fhir.questionnaire_json(instrument)
    result = fhir.import_questionnaire(json.loads(text), "q.json")
    assert result.ok, result.report.format_text()
    assert result.not_mapped == []
    assert result.instrument is not None
    assert result.instrument.model_dump() == instrument.model_dump()
    assert result.instrument.content_hash == instrument.content_hash


def test_fhirpath_js_gives_our_scores_for_1000_respondents(
    instrument: Instrument, fhirpath_js: Path
):
    items = answers(instrument, n=1000)
    ours = our_scores(instrument, items)
    responses = [
        fhir.questionnaire_response(instrument, row, response_id=f"r{n}")
        for n, row in enumerate(answer_dicts(items))
    ]
    results = evaluate_fhirpath(fhirpath_js, fhir.questionnaire(instrument), responses)
    theirs = []
    for result in results:
        row = {}
        for scale_id in instrument.scored_ids():
            values = result[f"score.{scale_id}"]
            assert len(values) <= 1
            row[scale_id] = float(values[0]) if values else None
        theirs.append(row)
    assert_same_scores(instrument, ours, theirs)


def test_responses_and_bundles_are_valid_and_read_back(instrument: Instrument):
    items = answers(instrument, n=5, seed=3)
    rows = answer_dicts(items)
    responses = [
        fhir.questionnaire_response(instrument, row, response_id=f"r{n}", subject="Patient/p1")
        for n, row in enumerate(rows)
    ]
    for response in responses:
        QuestionnaireResponse.model_validate(response)
        assert response["questionnaire"] == f"{fhir.canonical(instrument)}|{instrument.version}"
    bundle = fhir.bundle(responses, "b1")
    Bundle.model_validate(bundle)
    back = fhir.response_rows(bundle)
    assert [r["id"] for r in back] == [f"r{n}" for n in range(5)]
    for row, original in zip(back, rows, strict=True):
        assert {k: int(str(v)) for k, v in row.items() if k in original} == {
            k: v for k, v in original.items() if v is not None
        }
