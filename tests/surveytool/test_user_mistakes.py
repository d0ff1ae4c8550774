"""User mistakes get one clear line, lose nothing and never reach a traceback or a 500."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

import surveytool
from surveytool.cli import cli


def _responses(path: Path) -> Path:
    pd.DataFrame({"respondent_id": ["a", "b"], "FF1": [1, 5], "FF2": [2, 4]}).to_csv(
        path, index=False
    )
    return path


def test_output_that_is_a_folder_is_one_line_not_a_traceback(tmp_path):
    source = _responses(tmp_path / "r.csv")
    folder = tmp_path / "out.csv"
    folder.mkdir()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "surveytool",
            "score",
            "-i",
            "ppai@1.0.0",
            str(source),
            "-o",
            str(folder),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("error: ") and len(done.stderr.strip().splitlines()) == 1


def test_score_refuses_to_overwrite_its_input(tmp_path):
    source = _responses(tmp_path / "r.csv")
    before = source.read_bytes()
    result = CliRunner().invoke(cli, ["score", "-i", "ppai@1.0.0", str(source), "-o", str(source)])
    assert result.exit_code == 1
    assert "would overwrite the responses" in result.output
    assert source.read_bytes() == before


def test_na_text_is_missing_in_every_format(tmp_path):
    # FORMULAS.md: blank and NA count as not answered, whatever the file format
    for value in ("NA", "N/A", "", None):
        scored = surveytool.score_responses("ppai@1.0.0", {"FF1": value, "FF2": 4, "FF3": 4})
        assert scored.issues.query("kind == 'cell'").empty
        assert scored.scores["fault_finding_n"].tolist() == [2]
    lines = tmp_path / "r.jsonl"
    lines.write_text(json.dumps({"respondent_id": "a", "FF1": "NA", "FF2": 3}) + "\n", "utf-8")
    result = CliRunner().invoke(
        cli,
        [
            "score",
            "-i",
            "ppai@1.0.0",
            str(lines),
            "--id-column",
            "respondent_id",
            "-o",
            str(tmp_path / "s.csv"),
        ],
    )
    assert result.exit_code == 0, result.output
    quarantine = tmp_path / "s.quarantine.csv"
    if quarantine.exists():
        assert "cell" not in set(pd.read_csv(quarantine)["kind"])


def test_take_answers_file_names_every_invalid_answer(tmp_path, monkeypatch):
    monkeypatch.setenv("SURVEYTOOL_DATA_DIR", str(tmp_path / "data"))
    answers = tmp_path / "a.json"
    answers.write_text(json.dumps({"FF1": 7, "DW1": "x", "EC1": 3}), "utf-8")
    result = CliRunner().invoke(
        cli, ["take", "ppai@1.0.0", "--form", "screen", "--answers", str(answers)]
    )
    assert result.exit_code == 1
    assert "2 invalid answer(s)" in result.output
    assert "FF1: 7" in result.output and "DW1: 'x'" in result.output


def test_a_crafted_answer_value_is_ignored_not_a_server_error(tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    from surveytool.personal_store import PersonalStore
    from surveytool.web.app import create_app

    monkeypatch.setenv("SURVEYTOOL_DATA_DIR", str(tmp_path / "data"))
    client = TestClient(
        create_app(store=PersonalStore(tmp_path / "data")), base_url="http://127.0.0.1"
    )
    client.get("/")
    token = client.cookies.get("st_csrf")
    response = client.post(
        "/i/ppai/answer",
        data={"csrf": token, "page": "0", "form": "", "action": "next", "a_FF1": "²"},
    )
    assert response.status_code == 200


def test_default_cohort_keys_live_in_the_data_folder_one_per_cohort_path(tmp_path, monkeypatch):
    from analysis.privacy.pseudonyms import default_key_path

    monkeypatch.setenv("SURVEYTOOL_DATA_DIR", str(tmp_path / "data"))
    first = default_key_path(tmp_path / "study1" / "cohort.parquet")
    second = default_key_path(tmp_path / "study2" / "cohort.parquet")
    assert first.parent == tmp_path / "data" / "keys"
    assert first != second  # two studies' "cohort.parquet" never share a key
    assert first == default_key_path(tmp_path / "study1" / "cohort.parquet")  # waves link
