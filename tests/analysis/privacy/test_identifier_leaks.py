"""Identifiers that used to reach cohort outputs (issue 12, findings 7, 8 and 9).

Through the command line, with real files: the quarantine file redacts single given names,
phone numbers inside text and postcodes; a source file's name is reduced to a keyed hash and a
safe basename in the cohort's metadata, its report and ledger; declared group columns holding
person names (however often each repeats) or postcodes are dropped.
Instrument: tests/fixtures/cohort/mini.yaml (M1..M4 on a 1..5 scale).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from analysis.privacy.identifiers import redact, safe_file_name, value_findings
from analysis.privacy.pseudonyms import PseudonymKey
from surveytool.cli import cli
from surveytool.io.tables import read_metadata
from surveytool.privacy import CATEGORY_LABELS

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cohort"
MINI = FIXTURES / "mini.yaml"
N = 24


def run(*args: str | Path) -> Result:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


def _answers(n: int = N) -> dict[str, list[int]]:
    return {f"M{j}": [1 + (i * j) % 5 for i in range(n)] for j in range(1, 5)}


def _all_text(folder: Path) -> str:
    return "\n".join(
        p.read_bytes().decode("utf-8", errors="replace") for p in folder.rglob("*") if p.is_file()
    )


def test_the_quarantine_redacts_names_phones_and_postcodes(tmp_path: Path) -> None:
    frame = pd.DataFrame({"respondent_id": [f"p{i}" for i in range(7)], **_answers(7)})
    frame["M1"] = frame["M1"].astype(object)
    frame.loc[:, "M1"] = [
        "Maria", "call 07700900123", "SW1A 2AA", "9x", "Gonzalez, Maria", "m.g@example.org",
        "10.1.2.3",
    ]  # fmt: skip
    source = tmp_path / "r.csv"
    frame.to_csv(source, index=False)
    result = run(
        "cohort", "import", source, "-i", MINI, "--key-file", tmp_path / "k.key",
        "-o", tmp_path / "c.parquet",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    text = (tmp_path / "c.quarantine.csv").read_text("utf-8")
    for secret in ("Maria", "07700900123", "SW1A", "Gonzalez", "example.org", "10.1.2"):
        assert secret not in text
        assert secret not in result.output
    assert "9x" in text  # an ordinary bad answer stays visible
    for category in ("person_name", "phone", "postal_code", "email", "ip_address"):
        assert f"<redacted: looks like {CATEGORY_LABELS[category]}>" in text
    # every bad cell is still listed, in its row; the counts add up
    quarantine = pd.read_csv(tmp_path / "c.quarantine.csv", dtype=str)
    cells = quarantine[quarantine["kind"] == "cell"]
    assert sorted(cells["row"].astype(int)) == list(range(1, 8))
    assert set(cells["column"]) == {"M1"}
    assert "rows read 7 = rows imported 7 + rows quarantined 0" in result.output


def test_a_source_file_name_is_a_keyed_hash_and_a_safe_basename(tmp_path: Path) -> None:
    frame = pd.DataFrame({"respondent_id": [f"p{i}" for i in range(N)], **_answers()})
    source = tmp_path / "jane.doe@example.com_wave1.csv"
    frame.to_csv(source, index=False)
    cohort = tmp_path / "c.parquet"
    result = run(
        "cohort", "import", source, "-i", MINI, "--key-file", tmp_path / "k.key", "-o", cohort
    )
    assert result.exit_code == 0, result.output
    report = tmp_path / "report"
    done = run(
        "cohort", "report", cohort, "-i", MINI, "--no-figures", "--min-cell", "5", "-o", report
    )
    assert done.exit_code == 0, done.output
    metadata = str(read_metadata(cohort))
    outputs = _all_text(report) + metadata
    for part in ("jane", "jane.doe", "example.com", "doe@", "doe_"):
        assert part not in outputs, part
    key = PseudonymKey.from_file(tmp_path / "k.key", create=False)
    label = safe_file_name(source.name, key)
    assert label.startswith("wave1-") and label.endswith(".csv")
    assert label in metadata and label in (report / "imports.csv").read_text("utf-8")


def test_a_file_name_keeps_no_identifier() -> None:
    key = PseudonymKey.from_secret(b"k" * 32)
    for name, start in [
        ("jane_doe_wave1.csv", "wave1-"),
        ("Maria_Gonzalez_2026-01-01.xlsx", "source-"),
        ("export 07700900123.csv", "export-"),
        ("SW1A 2AA survey.sav", "survey-"),
        ("plain_mini.csv", "plain_mini-"),
    ]:
        label = safe_file_name(name, key)
        assert label.startswith(start), (name, label)
    # keyed: another key, another label; the same key, the same label
    assert safe_file_name("a.csv", key) == safe_file_name("a.csv", key)
    assert safe_file_name("a.csv", key) != safe_file_name(
        "a.csv", PseudonymKey.from_secret(b"o" * 32)
    )


@pytest.mark.parametrize(
    ("values", "category"),
    [
        (["Maria", "John", "Maria", "Maria", "John", "Maria"] * 4, "person_name"),  # few distinct
        (["Maria Gonzalez"] * 12 + ["Site B"] * 12, "person_name"),
        (["SW1A 2AA", "EC1A 1BB", "SW1A 2AA"] * 8, "postal_code"),
        (["call 07700900123", "a"] * 6, "phone"),
    ],
)
def test_value_checks_find_names_postcodes_and_phones(values: list[str], category: str) -> None:
    assert category in value_findings(pd.Series(values))


@pytest.mark.parametrize(
    "values",
    [
        ["control", "treatment"] * 12,
        ["Control", "Treatment"] * 12,
        ["North", "South", "East", "West"] * 6,
        ["Urban", "Rural"] * 12,
        ["Strongly Agree", "Agree"] * 12,
        ["a", "b", "c"] * 8,
        ["1", "2", "3"] * 8,
    ],
)
def test_ordinary_group_values_are_not_identifiers(values: list[str]) -> None:
    assert value_findings(pd.Series(values)) == []


@pytest.mark.parametrize(
    ("column", "values"),
    [
        ("therapist", ["Maria", "John", "Maria", "Ahmed"]),
        ("home", ["SW1A 2AA", "EC1A 1BB", "M1 1AE", "SW1A 2AA"]),
    ],
)
def test_declared_group_columns_with_names_or_postcodes_are_dropped(
    tmp_path: Path, column: str, values: list[str]
) -> None:
    frame = pd.DataFrame({"respondent_id": [f"p{i}" for i in range(N)], **_answers()})
    frame[column] = (values * N)[:N]
    source = tmp_path / "r.csv"
    frame.to_csv(source, index=False)
    mapping = tmp_path / "m.yaml"
    mapping.write_text(f"instrument: mini\ngroups: [{column}]\n", "utf-8")
    cohort = tmp_path / "c.parquet"
    result = run(
        "cohort", "import", source, "-i", MINI, "--map", mapping, "--key-file",
        tmp_path / "k.key", "-o", cohort,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "declared_column_dropped" in result.output or "was dropped" in result.output
    assert column not in pd.read_parquet(cohort).columns
    for value in values:
        assert value not in cohort.read_bytes().decode("latin-1")
    refused = run(
        "cohort", "report", cohort, "-i", MINI, "--group", column, "--no-figures",
        "-o", tmp_path / "report",
    )  # fmt: skip
    assert refused.exit_code == 1  # the column is not in the cohort
    norms = run("cohort", "norms", cohort, "-i", MINI, "--group", column, "-o", tmp_path / "n.yaml")
    assert norms.exit_code == 1


def test_redact_keeps_ordinary_answers() -> None:
    for value in ("3", "9x", "Agree", "Never", "Control", "x", "1234567"):
        assert redact(value) == value
