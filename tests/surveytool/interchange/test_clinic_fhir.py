"""``surveytool clinic export CLIENT --fhir``: a Bundle of QuestionnaireResponses (one per
administration) and an Observation per score, valid FHIR R4, and read back by ``score``."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from click.testing import CliRunner, Result
from fhir.resources.R4B.bundle import Bundle

from surveytool.cli import cli
from surveytool.clinic.store import ClinicStore
from tests.surveytool.clinic.helpers import add_test_clinician, mood_answers, write_mood


def _run(env: dict[str, str], *args: str) -> Result:
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def test_clinic_export_fhir_is_a_bundle_that_scores_back(tmp_path: Path) -> None:
    env = {
        "SURVEYTOOL_DATA_DIR": str(tmp_path / "data"),
        "SURVEYTOOL_DATABASE_URL": f"sqlite:///{tmp_path / 'clinic.sqlite3'}",
        "SURVEYTOOL_CLINICIAN": "",
        "NO_COLOR": "1",
    }
    _run(env, "clinic", "init")
    store = ClinicStore(env["SURVEYTOOL_DATABASE_URL"])
    with store.write() as session:
        add_test_clinician(session)
    store.dispose()
    _run(env, "clinic", "clients", "add", "C-001", "--name", "Jane Roe")
    mood = write_mood(tmp_path)
    for n, (low, well) in enumerate([(5, 2), (2, 4), (3, None)]):
        answers = tmp_path / f"answers-{n}.json"
        answers.write_text(json.dumps(mood_answers(low, well or 1, W1=well)), "utf-8")
        _run(env, "clinic", "administer", "C-001", str(mood), "--answers", str(answers))
    plain = json.loads(_run(env, "clinic", "export", "C-001").stdout)
    target = tmp_path / "c001.json"
    _run(env, "clinic", "export", "C-001", "--fhir", "-o", str(target))
    data = json.loads(target.read_text("utf-8"))
    Bundle.model_validate(data)
    kinds = [e["resource"]["resourceType"] for e in data["entry"]]
    n_scores = sum(len(a["scores"]) for a in plain["administrations"])
    assert kinds.count("QuestionnaireResponse") == 3
    assert kinds.count("Observation") == n_scores
    responses = [
        e for e in data["entry"] if e["resource"]["resourceType"] == "QuestionnaireResponse"
    ]
    assert all(r["resource"]["subject"]["identifier"]["value"] == "C-001" for r in responses)
    assert "Jane Roe" not in target.read_text("utf-8")  # the code names the client, not the name
    observations = [
        e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == "Observation"
    ]
    urls = {r["fullUrl"] for r in responses}
    assert all(o["derivedFrom"][0]["reference"] in urls for o in observations)
    scores = tmp_path / "scores.csv"
    _run(env, "score", "--instrument", str(mood), str(target), "-o", str(scores))
    table = pd.read_csv(scores)
    for row, admin in zip(table.to_dict(orient="records"), plain["administrations"], strict=True):
        for stored in admin["scores"]:
            value = row[stored["scale"]]
            if stored["value"] is None:
                assert pd.isna(value)
            else:
                assert value == stored["value"]
