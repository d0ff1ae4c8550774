"""The JSON Schema of the instrument format: valid, accepts every good file, printed by the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from surveytool.cli import cli
from surveytool.instrument.checks import structural_problems
from surveytool.instrument.model import instrument_json_schema

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "instruments"
BUNDLED = sorted((ROOT / "instruments").glob("*.yaml"))
GOOD = [FIXTURES / "minimal.yaml", FIXTURES / "minimal_reformatted.yaml", FIXTURES / "full.yaml"]


def as_json(path: Path) -> Any:
    """YAML data as a JSON document would hold it (``1:`` keys become ``"1"``)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return json.loads(json.dumps(data))


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    return Draft202012Validator(instrument_json_schema())


def test_schema_is_valid_draft_2020_12():
    schema = instrument_json_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == "surveytool:instrument"
    assert schema["type"] == "object"
    required = schema["required"]
    assert isinstance(required, list)
    assert set(required) == {
        "id",
        "version",
        "title",
        "response_scales",
        "items",
        "subscales",
    }
    assert schema["additionalProperties"] is False


def test_schema_is_json_and_deterministic():
    first = json.dumps(instrument_json_schema(), sort_keys=True)
    assert json.dumps(instrument_json_schema(), sort_keys=True) == first
    assert json.loads(first) == instrument_json_schema()


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_good_fixtures_validate_against_the_schema(validator, path):
    errors = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(as_json(path))]
    assert errors == []


def test_ppai_is_there_to_check():
    if not (ROOT / "instruments" / "ppai.yaml").exists():
        pytest.skip("instruments/ppai.yaml is not written yet (it is being added in parallel)")


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
def test_bundled_instruments_validate_against_the_schema(validator, path):
    errors = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(as_json(path))]
    assert errors == []


def _parsed_bad_fixtures() -> list[Path]:
    out = []
    for path in sorted((FIXTURES / "bad").glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, yaml.YAMLError):
            continue
        if isinstance(data, dict):
            out.append(path)
    return [*out, FIXTURES / "many_problems.yaml"]


@pytest.mark.parametrize("path", _parsed_bad_fixtures(), ids=lambda p: p.name)
def test_schema_agrees_with_the_structural_pass(validator, path):
    """The schema rejects exactly the fixtures with shape or type problems.

    Cross-reference and range rules (bands, unknown ids...) are beyond a JSON Schema: files that
    break only those are valid against it.
    """
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    schema_ok = validator.is_valid(json.loads(json.dumps(data)))
    assert schema_ok == (structural_problems(data) == [])


def test_schema_rejects_what_the_format_forbids(validator):
    doc = as_json(FIXTURES / "minimal.yaml")
    assert validator.is_valid(doc)
    for key, value in [
        ("titel", "typo"),  # unknown field
        ("version", "1.0"),  # not a semantic version
        ("version", 1),  # not a string
        ("items", []),  # at least one item
        ("response_scales", {}),  # at least one scale
    ]:
        assert not validator.is_valid({**doc, key: value}), (key, value)
    assert not validator.is_valid({k: v for k, v in doc.items() if k != "title"})


def test_cli_schema_prints_the_same_schema():
    result = CliRunner().invoke(cli, ["instruments", "schema"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == instrument_json_schema()


def test_cli_schema_writes_a_file(tmp_path):
    out = tmp_path / "instrument.schema.json"
    result = CliRunner().invoke(cli, ["instruments", "schema", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert json.loads(out.read_text(encoding="utf-8")) == instrument_json_schema()
