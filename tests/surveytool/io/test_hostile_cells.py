"""Hostile cells and damaged files through the command line (issue 12, findings 6, 12 and 13).

Instrument: tests/fixtures/cohort/mini.yaml (M1..M4 on a 1..5 scale, M4 reversed).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from surveytool.cli import cli
from surveytool.problems import flatten

TESTS = Path(__file__).resolve().parents[2]
MINI = TESTS / "fixtures" / "cohort" / "mini.yaml"
XLSX = TESTS / "fixtures" / "cohort" / "xlsx_ppai.xlsx"


def run(*args: str | Path):
    return CliRunner().invoke(cli, [str(a) for a in args])


def _formula_book(path: Path) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["respondent_id", "M1", "M2", "M3", "M4", "site"])
    sheet.append(["a", 2, "=B2+1", 3, 4, "x"])
    sheet.append(['=CONCAT("b","1")', 1, 2, 3, "=SUM(B3:D3)", "y"])
    sheet.append(["c", 5, 4, 3, 2, "=A1"])
    book.save(path)  # openpyxl writes formulas without a cached value
    return path


def test_score_reports_formulas_without_a_value(tmp_path: Path) -> None:
    source = _formula_book(tmp_path / "r.xlsx")
    out = tmp_path / "s.csv"
    result = run(
        "score", "-i", MINI, source, "--id-column", "respondent_id", "--group-columns", "site",
        "-o", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    quarantine = pd.read_csv(tmp_path / "s.quarantine.csv", dtype=str, keep_default_na=False)
    formulas = quarantine[quarantine["code"] == "formula_without_value"]
    assert sorted((r, c) for _, r, c in flatten(formulas)) == [
        (1, "M2"),
        (2, "M4"),
        (2, "respondent_id"),
        (3, "site"),
    ]
    assert set(formulas["kind"]) == {"cell"}
    assert "=B2+1" in formulas["value"].str.lstrip("'").tolist()
    # the row whose id is a formula has no id: quarantined, and said so
    assert ("empty_respondent_id", 2, "respondent_id") in flatten(quarantine)
    assert "rows read 3 = rows scored 2 + rows quarantined 1" in result.output
    scores = pd.read_csv(out)
    assert scores["calm_n"].tolist() == [3, 4]  # the formula counts as missing


def test_strict_score_stops_on_a_formula_without_a_value(tmp_path: Path) -> None:
    source = _formula_book(tmp_path / "r.xlsx")
    result = run("score", "-i", MINI, source, "--strict", "-o", tmp_path / "s.csv")
    assert result.exit_code == 1
    assert "formula_without_value" in result.output
    assert not (tmp_path / "s.csv").exists()


def test_cohort_import_reports_formulas_without_a_value(tmp_path: Path) -> None:
    source = _formula_book(tmp_path / "r.xlsx")
    mapping = tmp_path / "m.yaml"
    mapping.write_text("instrument: mini\nid_column: respondent_id\ngroups: [site]\n", "utf-8")
    out = tmp_path / "c.parquet"
    result = run(
        "cohort", "import", source, "-i", MINI, "--map", mapping, "--key-file",
        tmp_path / "k.key", "-o", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    quarantine = pd.read_csv(tmp_path / "c.quarantine.csv", dtype=str, keep_default_na=False)
    formulas = quarantine[quarantine["code"] == "formula_without_value"]
    assert sorted((r, c) for _, r, c in flatten(formulas)) == [
        (1, "M2"),
        (2, "M4"),
        (2, "respondent_id"),
        (3, "site"),
    ]


def _damaged_copy(path: Path, cut_member: str | None, drop: str | None = None) -> Path:
    with zipfile.ZipFile(XLSX) as src, zipfile.ZipFile(path, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if drop and drop in name:
                continue
            if cut_member and cut_member in name:
                data = data[: len(data) // 2]
            dst.writestr(name, data)
    return path


@pytest.mark.parametrize(
    "make",
    [
        lambda p: p.write_text("respondent_id,M1\na,1\n", "utf-8"),  # a CSV named .xlsx
        lambda p: p.write_bytes(XLSX.read_bytes()[:3000]),  # cut short
        lambda p: _damaged_copy(p, "worksheets/sheet1"),  # its sheet's XML cut in half
        lambda p: p.write_bytes(b"PK\x03\x04" + b"\x00" * 64),  # a zip header and nothing else
    ],
)
@pytest.mark.parametrize("command", ["import", "map-template", "score"])
def test_damaged_workbooks_are_one_clear_line(tmp_path: Path, make, command: str) -> None:
    source = tmp_path / "r.xlsx"
    make(source)
    out = tmp_path / ("m.yaml" if command == "map-template" else "c.parquet")
    args: list[str | Path]
    if command == "score":
        args = ["score", "-i", "ppai", source, "-o", tmp_path / "s.csv"]
    else:
        args = ["cohort", command, source, "-i", "ppai", "-o", out]
        if command == "import":
            args += ["--key-file", tmp_path / "k.key"]
    result = run(*args)
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert "r.xlsx: cannot read it as an Excel workbook" in result.output, result.output
