"""Delimited text of every separator (issue 12, finding 15): ``surveytool score`` on a ``.csv``
separated by ``|`` exited 0 with every score empty. ``score`` and ``cohort import`` read through
the one reader, whose :func:`~surveytool.io.sources.sniff_delimiter` tells ``,``, tab, ``;`` and
``|`` from the first row (quotes respected); a file that still reads as one column while the
instrument has many items is refused with what to do, not scored as missing.

Instruments: tests/fixtures/scoring/cli.yaml (Q1..Q7) for score and tests/fixtures/cohort/mini.yaml
(M1..M4) for cohort import; the data are one small table holding the items of both.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from surveytool.cli import cli
from surveytool.io.sources import detect_format, read_source, sniff_delimiter

TESTS = Path(__file__).resolve().parents[2]
SCORING = TESTS / "fixtures" / "scoring" / "cli.yaml"
MINI = TESTS / "fixtures" / "cohort" / "mini.yaml"
TABLE = pd.DataFrame(
    {
        "pid": ["a1", "a2", "b1", "b2"],
        "note": ["x, y; z", "plain", "x|y", "tab\there"],  # separators inside quoted cells
        **{f"Q{k}": [1 + (i + k) % 5 for i in range(4)] for k in range(1, 8)},
        **{f"M{k}": [1 + (i * k) % 5 for i in range(4)] for k in range(1, 5)},
    }
)
SEPARATORS = {"comma": ",", "tab": "\t", "semicolon": ";", "pipe": "|"}


def run(*args: str | Path) -> Result:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


def _write(path: Path, sep: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    TABLE.to_csv(path, index=False, sep=sep, quoting=csv.QUOTE_MINIMAL)
    return path


def _score(source: Path, out: Path) -> Result:
    return run(
        "score", "-i", SCORING, source, "--id-column", "pid", "--ignore-columns", "note,M1,M2,M3,M4",
        "-o", out,
    )  # fmt: skip


def _import(source: Path, out: Path) -> Result:
    keys = out.parent / "keys"
    keys.mkdir(mode=0o700, exist_ok=True)
    return run("cohort", "import", source, "-i", MINI, "--key-file", keys / "k.key", "-o", out)


@pytest.mark.parametrize("name", list(SEPARATORS))
def test_every_separator_is_told_and_read_alike(tmp_path: Path, name: str) -> None:
    sep = SEPARATORS[name]
    source = _write(tmp_path / name / "answers.csv", sep)
    assert sniff_delimiter(source.read_text("utf-8")) == sep
    assert detect_format(source).reason == f"extension .csv and {name}-separated text"
    table = read_source(source)
    assert list(table.frame.columns) == list(TABLE.columns)
    assert table.frame["note"].tolist() == TABLE["note"].tolist()


@pytest.mark.parametrize("name", ["tab", "semicolon", "pipe"])
def test_score_reads_every_separator_as_a_comma_file(tmp_path: Path, name: str) -> None:
    expected_out = tmp_path / "comma.scores.csv"
    assert _score(_write(tmp_path / "comma" / "answers.csv", ","), expected_out).exit_code == 0
    out = tmp_path / f"{name}.scores.csv"
    result = _score(_write(tmp_path / name / "answers.csv", SEPARATORS[name]), out)
    assert result.exit_code == 0, result.output
    assert "rows read 4 = rows scored 4 + rows quarantined 0" in result.stdout
    assert not (tmp_path / f"{name}.scores.quarantine.csv").exists()  # nothing missing
    scores = pd.read_csv(out, dtype={"pid": str})
    pd.testing.assert_frame_equal(scores, pd.read_csv(expected_out, dtype={"pid": str}))
    assert scores["alpha"].notna().all() and scores["beta"].notna().all()


@pytest.mark.parametrize("name", ["tab", "semicolon", "pipe"])
def test_cohort_import_reads_every_separator_as_a_comma_file(tmp_path: Path, name: str) -> None:
    expected = tmp_path / "comma" / "c.parquet"
    assert _import(_write(tmp_path / "comma" / "answers.csv", ","), expected).exit_code == 0
    out = tmp_path / name / "c.parquet"
    result = _import(_write(tmp_path / name / "answers.csv", SEPARATORS[name]), out)
    assert result.exit_code == 0, result.output
    assert "rows read 4 = rows imported 4" in result.output
    items = [f"M{k}" for k in range(1, 5)]
    got = pd.read_parquet(out)[items].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, pd.read_parquet(expected)[items].reset_index(drop=True))
    assert got.notna().all().all()


@pytest.mark.parametrize("command", ["score", "cohort import"])
def test_a_file_read_as_one_column_is_refused(tmp_path: Path, command: str) -> None:
    """``:`` is no separator we tell: the whole line is one column, and nothing is written."""
    source = tmp_path / "in" / "answers.csv"
    source.parent.mkdir()
    source.write_text(TABLE.drop(columns="note").to_csv(index=False, sep=":"), "utf-8")
    out = tmp_path / "out"
    out.mkdir()
    if command == "score":
        result = run("score", "-i", SCORING, source, "-o", out / "s.csv")
        instrument = "clifix has 7 items"
    else:
        result = _import(source, out / "c.parquet")
        instrument = "mini has 4 items"
    assert result.exit_code == 1, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {source}: its first line reads as one column ('pid:Q1:Q2:")
    assert instrument in line
    assert "separate the columns with commas, tabs, semicolons or '|'" in line
    assert [p for p in out.rglob("*") if p.is_file() and p.suffix != ".lock"] == []


def test_a_short_form_names_its_own_items(tmp_path: Path) -> None:
    source = tmp_path / "answers.csv"
    source.write_text("pid:Q1:Q2\na:1:2\n", "utf-8")
    result = run("score", "-i", SCORING, source, "--form", "short", "-o", tmp_path / "s.csv")
    assert result.exit_code == 1
    assert "clifix's form 'short' has 5 items" in result.stderr


def test_one_item_column_is_a_table_not_a_separator_problem(tmp_path: Path) -> None:
    """A file holding one item column (and nothing else) is read and scored with the rest
    missing, as before: one column that is an item says nothing about separators."""
    source = tmp_path / "answers.csv"
    source.write_text("Q1\n1\n2\n", "utf-8")
    result = run("score", "-i", SCORING, source, "-o", tmp_path / "s.csv")
    assert result.exit_code == 0, result.output
    assert "rows read 2 = rows scored 2" in result.stdout


def test_a_quoted_header_cell_does_not_decide_the_separator() -> None:
    assert sniff_delimiter('"a,b,c";d;e\n1;2;3\n') == ";"
    assert sniff_delimiter('id|"x;y"|z\n1|2|3\n') == "|"
    assert sniff_delimiter("single\n1\n", default="\t") == "\t"
