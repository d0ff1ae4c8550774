"""Hostile cells and damaged files through the command line (issue 12, findings 6, 12 and 13).

Instrument: tests/fixtures/cohort/mini.yaml (M1..M4 on a 1..5 scale, M4 reversed).
"""

from __future__ import annotations

import json
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


def _formula_issues(quarantine: pd.DataFrame) -> pd.DataFrame:
    """The formula issues of a quarantine report: one per formula cell of _formula_book."""
    formulas = quarantine[quarantine["code"] == "formula_without_value"]
    assert sorted((r, c) for _, r, c in flatten(formulas)) == [
        (1, "M2"),
        (2, "M4"),
        (2, "respondent_id"),
        (3, "site"),
    ]
    return formulas


def test_score_reports_formulas_without_a_value(tmp_path: Path) -> None:
    source = _formula_book(tmp_path / "r.xlsx")
    out = tmp_path / "s.csv"
    result = run(
        "score", "-i", MINI, source, "--id-column", "respondent_id", "--group-columns", "site",
        "-o", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    quarantine = pd.read_csv(tmp_path / "s.quarantine.csv", dtype=str)
    formulas = _formula_issues(quarantine)
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
    _formula_issues(pd.read_csv(tmp_path / "c.quarantine.csv", dtype=str))


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


def test_strict_after_a_good_run_leaves_no_old_scores(tmp_path: Path) -> None:
    good = tmp_path / "good.csv"
    good.write_text("respondent_id,M1,M2,M3,M4\na,1,2,3,4\n", "utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text("respondent_id,M1,M2,M3,M4\na,1,2,3,9x\n", "utf-8")
    out = tmp_path / "s.csv"
    assert run("score", "-i", MINI, good, "-o", out).exit_code == 0
    assert out.exists() and (tmp_path / "s.csv.meta.json").exists()
    result = run("score", "-i", MINI, bad, "--strict", "-o", out)
    assert result.exit_code == 1
    assert (tmp_path / "s.quarantine.csv").exists()
    assert not out.exists() and not (tmp_path / "s.csv.meta.json").exists()
    # a file that is not a scores file is never removed
    other = tmp_path / "notes.csv"
    other.write_text("mine\n", "utf-8")
    assert run("score", "-i", MINI, bad, "--strict", "-o", other).exit_code == 1
    assert other.read_text("utf-8") == "mine\n"


def test_score_reads_numbers_and_ids_exactly(tmp_path: Path) -> None:
    source = tmp_path / "r.csv"
    source.write_text(
        "rid,M1,M2,M3,M4\n1,1,2,3,4\n1.0,2,3,4,5\n2,2.9999999999999999,3,3,3\n3,1e400,3,3,3\n",
        "utf-8",
    )
    out = tmp_path / "s.csv"
    result = run("score", "-i", MINI, source, "--id-column", "rid", "-o", out)
    assert result.exit_code == 0, result.output
    quarantine = pd.read_csv(tmp_path / "s.quarantine.csv", dtype=str)
    assert sorted(flatten(quarantine)) == [
        ("duplicate_respondent_id", 2, "rid"),
        ("not_whole_number", 3, "M1"),
        ("off_scale", 4, "M1"),
    ]
    assert "rows read 4 = rows scored 3 + rows quarantined 1" in result.output


def test_score_refuses_a_group_column_named_like_a_score_column(tmp_path: Path) -> None:
    source = tmp_path / "r.csv"
    source.write_text("respondent_id,M1,M2,calm_n\na,1,2,x\n", "utf-8")
    out = tmp_path / "s.csv"
    result = run("score", "-i", MINI, source, "--group-columns", "calm_n", "-o", out)
    assert result.exit_code == 1
    assert "calm_n" in result.output and "scale calm" in result.output
    assert not out.exists()


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_take_refuses_an_answers_file_with_an_item_twice(tmp_path: Path, suffix: str) -> None:
    answers = tmp_path / f"a{suffix}"
    if suffix == ".json":
        answers.write_text('{"M1": 1, "M2": 2, "M1": 5}', "utf-8")
    else:
        answers.write_text("M1: 1\nM2: 2\nM1: 5\n", "utf-8")
    result = run("take", MINI, "--answers", answers)
    assert result.exit_code == 1
    assert "'M1' appears twice" in result.output and "give each item once" in result.output


def _instrument(path: Path, items: list[str], subscales: list[str]) -> Path:
    lines = [
        "id: folded",
        'version: "1.0.0"',
        "title: Folded ids",
        "response_scales:",
        "  s: {min: 1, max: 5}",
        "items:",
        *[f"  - {{id: {i}, text: Statement {i}, scale: s}}" for i in items],
        "subscales:",
        *[
            f"  - {{id: {s}, label: Scale {s}, items: [{', '.join(items)}], method: mean, "
            "min_answered: 1}"
            for s in subscales
        ],
    ]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def test_instruments_validate_refuses_ids_that_differ_only_in_case(tmp_path: Path) -> None:
    path = _instrument(tmp_path / "f.yaml", ["A1", "a1", "A-1"], ["up", "UP"])
    result = run("instruments", "validate", path, "--json")
    assert result.exit_code == 1
    found = [
        (p["code"], p["path"])
        for report in json.loads(result.output)["files"]
        for p in report["problems"]
    ]
    assert ("folded_duplicate_id", "items[1].id") in found
    assert ("folded_duplicate_id", "items[2].id") in found
    assert ("folded_duplicate_id", "subscales[1].id") in found
    fine = _instrument(tmp_path / "ok.yaml", ["A1", "A2"], ["up"])
    assert run("instruments", "validate", fine).exit_code == 0


def test_a_formula_whose_value_is_empty_text_is_a_value(tmp_path: Path) -> None:
    # Excel saves =IF(..., "", ...) as <c t="str"><f>..</f><v></v></c>: a computed empty text,
    # an unanswered cell and no formula problem (openpyxl writes <v/> without t: not computed)
    plain = _formula_book(tmp_path / "plain.xlsx")
    source = tmp_path / "excel.xlsx"
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(source, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "xl/worksheets/sheet1.xml":
                data = data.replace(
                    b'<c r="C2"><f>B2+1</f><v /></c>',
                    b'<c r="C2" t="str"><f>IF(B2&gt;9,1,"")</f><v></v></c>',
                )
                assert b'<c r="C2" t="str">' in data
            dst.writestr(name, data)
    out = tmp_path / "s.csv"
    result = run("score", "-i", MINI, source, "--id-column", "respondent_id", "-o", out)
    assert result.exit_code == 0, result.output
    quarantine = pd.read_csv(tmp_path / "s.quarantine.csv", dtype=str)
    formulas = quarantine[quarantine["code"] == "formula_without_value"]
    assert sorted((r, c) for _, r, c in flatten(formulas)) == [(2, "M4"), (2, "respondent_id")]


def test_score_quotes_a_group_value_holding_a_carriage_return(tmp_path: Path) -> None:
    """A group value ``\\r=2+2`` went into the scores CSV unquoted: the csv module quotes only
    ``\\n``, so a spreadsheet (and any CSV reader) ended the row at the ``\\r`` and read ``=2+2``
    as the first cell of a new row, a formula. Now the cell is quoted and escaped, one row."""
    import csv

    source = tmp_path / "r.csv"
    pd.DataFrame(
        {"respondent_id": ["a", "b"], "M1": [1, 2], "M2": [2, 3], "M3": [3, 4], "M4": [4, 5]}
        | {"site": ["\r=2+2", "x\ry"]}
    ).to_csv(source, index=False, quoting=csv.QUOTE_ALL)
    out = tmp_path / "s.csv"
    result = run(
        "score",
        "-i",
        MINI,
        source,
        "--id-column",
        "respondent_id",
        "--group-columns",
        "site",
        "-o",
        out,
    )
    assert result.exit_code == 0, result.output
    with out.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert len(rows) == 3  # the header and two respondents, no row split at a \r
    assert [r[rows[0].index("site")] for r in rows[1:]] == ["'\r=2+2", "x\ry"]
    assert not any(c.startswith(("=", "+", "@")) for r in rows for c in r)
    assert pd.read_csv(out)["site"].tolist() == ["'\r=2+2", "x\ry"]
