"""``surveytool instruments export | import`` and ``surveytool score`` of QuestionnaireResponses."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from surveytool.cli import cli
from surveytool.instrument.registry import load_instrument
from surveytool.interchange import fhir
from tests.surveytool.interchange.conftest import EVERY_FEATURE, answer_dicts, answers, our_scores


@pytest.mark.parametrize(
    ("target", "suffix"), [("fhir", "json"), ("redcap", "csv"), ("xlsform", "xlsx")]
)
def test_export_then_import_gives_the_same_instrument(target: str, suffix: str, tmp_path: Path):
    runner = CliRunner()
    exported = tmp_path / f"form.{suffix}"
    done = runner.invoke(
        cli, ["instruments", "export", str(EVERY_FEATURE), "--to", target, "-o", str(exported)]
    )
    assert done.exit_code == 0, done.output
    back = tmp_path / "back.yaml"
    done = runner.invoke(cli, ["instruments", "import", str(exported), "-o", str(back)])
    assert done.exit_code == 0, done.output
    assert "0 part(s) not imported" in done.output
    again = load_instrument(back)
    assert again.model_dump() == load_instrument(str(EVERY_FEATURE)).model_dump()


def test_export_refuses_a_wrong_extension(tmp_path: Path):
    done = CliRunner().invoke(
        cli, ["instruments", "export", "ppai", "--to", "redcap", "-o", str(tmp_path / "x.json")]
    )
    assert done.exit_code == 1
    assert "--to redcap writes a .csv file" in done.output
    assert "Traceback" not in done.output
    assert not (tmp_path / "x.json").exists()


def test_import_of_no_instrument_writes_nothing(tmp_path: Path):
    source = tmp_path / "patient.json"
    source.write_text(json.dumps({"resourceType": "Patient"}), encoding="utf-8")
    out = tmp_path / "out.yaml"
    done = CliRunner().invoke(cli, ["instruments", "import", str(source), "-o", str(out)])
    assert done.exit_code == 1
    assert "not_an_instrument" in done.output and "nothing was written" in done.output
    assert not out.exists()


def test_import_reports_what_it_could_not_map(tmp_path: Path):
    source = Path(__file__).parents[2] / "fixtures" / "interchange" / "sdc_style_questionnaire.json"
    out = tmp_path / "energy.yaml"
    done = CliRunner().invoke(cli, ["instruments", "import", str(source), "-o", str(out)])
    assert done.exit_code == 0, done.output
    assert "not imported at item.mood" in done.output
    assert "Not imported (see the import report)" in out.read_text(encoding="utf-8")
    assert load_instrument(out).id == "EnergyScale"


def test_score_reads_a_bundle_of_questionnaire_responses(tmp_path: Path):
    inst = load_instrument(str(EVERY_FEATURE))
    items = answers(inst, n=40, seed=11)
    responses = [
        fhir.questionnaire_response(inst, row, response_id=f"resp-{n}")
        for n, row in enumerate(answer_dicts(items))
    ]
    bundle = tmp_path / "responses.json"
    bundle.write_text(json.dumps(fhir.bundle(responses)), encoding="utf-8")
    out = tmp_path / "scores.csv"
    done = CliRunner().invoke(
        cli, ["score", "--instrument", str(EVERY_FEATURE), str(bundle), "-o", str(out)]
    )
    assert done.exit_code == 0, done.output
    assert "quarantine report" not in done.output
    scores = pd.read_csv(out)
    assert scores["id"].tolist() == [f"resp-{n}" for n in range(40)]
    expected = our_scores(inst, items)
    for scale_id in inst.scored_ids():
        pd.testing.assert_series_equal(
            scores[scale_id], expected[scale_id].astype(float), check_names=False
        )
