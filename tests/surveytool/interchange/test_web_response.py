"""The self-assessment results offer the answers as a FHIR QuestionnaireResponse download."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

from surveytool.errors import SurveytoolError
from surveytool.interchange import fhir
from surveytool.personal_store import PersonalStore
from surveytool.scoring.engine import score
from surveytool.web.app import create_app
from tests.surveytool.test_report import FULL, PPAI, SCREEN, random_answers
from tests.surveytool.web.test_self_assessment import BASE, PPAI_1, form_of, take


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("SURVEYTOOL_DATA_DIR", str(tmp_path / "user-data"))
    app = create_app(store=PersonalStore(tmp_path / "data"), instruments=PPAI_1)
    with TestClient(app, base_url=BASE) as c:
        yield c


def test_results_page_downloads_the_answers_as_a_questionnaire_response(
    client: TestClient, tmp_path: Path
) -> None:
    answers = random_answers(FULL, 3) | {"FF1": None, "FF2": 9}
    results = take(client, answers, "")
    assert 'formaction="/i/ppai/response"' in results.text
    form = form_of(results.text, "/report")
    response = client.post("/i/ppai/response", data=dict(form.fields))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    disposition = response.headers["content-disposition"]
    assert re.fullmatch(r'attachment; filename="ppai-answers-\d{8}-\d{4}\.fhir\.json"', disposition)
    data = response.json()
    QuestionnaireResponse.model_validate(data)
    assert data["questionnaire"] == f"{fhir.canonical(PPAI)}|{PPAI.version}"
    assert "subject" not in data  # nothing about the person but the answers
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    rows = fhir.response_rows(data)
    assert rows[0].get("FF1") is None and rows[0]["FF2"] == "9"
    read_back = {k: int(str(v)) for k, v in rows[0].items() if k in PPAI.item_by_id}
    given = {k: v for k, v in answers.items() if v is not None}
    assert read_back == given
    assert score(PPAI, read_back).equals(score(PPAI, given))


def test_a_short_form_response_records_its_form(client: TestClient) -> None:
    # the screen form asks 15 items: the download says so, so the items outside it read as not
    # asked (rather than skipped) and the answers score as the form
    answers = random_answers(SCREEN, 5)
    results = take(client, answers, "screen")
    form = form_of(results.text, "/report")
    data = client.post("/i/ppai/response", data=dict(form.fields)).json()
    QuestionnaireResponse.model_validate(data)
    assert data["extension"] == [{"url": fhir.EXT + "form", "valueCode": "screen"}]
    assert sorted(i["linkId"] for i in data["item"]) == sorted(
        k for k, v in answers.items() if v is not None
    )
    (row,) = fhir.response_rows(data)
    assert row["form"] == "screen"
    read_back = {k: int(str(v)) for k, v in row.items() if k in PPAI.item_by_id}
    assert score(PPAI, read_back, form="screen").equals(
        score(PPAI, {k: v for k, v in answers.items() if v is not None}, form="screen")
    )
    # the whole questionnaire: no form extension, an empty form column
    whole = fhir.questionnaire_response(PPAI, dict.fromkeys(FULL, 3))
    assert "extension" not in whole and fhir.response_rows(whole)[0]["form"] is None
    with pytest.raises(SurveytoolError, match="has no short form 'nope'"):
        fhir.questionnaire_response(PPAI, {}, form="nope")
