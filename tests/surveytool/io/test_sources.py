"""``surveytool.io.sources.read_source``: every format and dialect, one policy for the cells.

The cohort fixtures in tests/fixtures/cohort are made by make_fixtures.py there (committed;
invented people). The scoring fixtures are in tests/fixtures/scoring.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyreadstat
import pytest
from click.testing import CliRunner

from surveytool.cli import cli
from surveytool.instrument.registry import load_instrument
from surveytool.io.sources import FORMATS, SourceError, detect_format, read_source

TESTS = Path(__file__).resolve().parents[2]
FIXTURES = TESTS / "fixtures" / "cohort"
SCORING = TESTS / "fixtures" / "scoring"
PPAI = load_instrument("ppai@1.0.0")  # the fixtures hold its items


# ---------------------------------------------------------------------------------------------
# formats (moved from tests/test_cohort_import.py)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "fmt", "variant"),
    [
        ("qualtrics_ppai.csv", "qualtrics", "three header rows"),
        ("qualtrics_ppai.tsv", "qualtrics", "three header rows"),
        ("qualtrics_legacy.csv", "qualtrics", "legacy two header rows"),
        ("redcap_raw.csv", "redcap", "raw"),
        ("redcap_labels.csv", "redcap", "labels"),
        ("spss_ppai.sav", "sav", ""),
        ("xlsx_ppai.xlsx", "xlsx", ""),
        ("plain_mini.csv", "csv", ""),
        ("plain_mini.tsv", "tsv", ""),
        ("plain_mini.parquet", "parquet", ""),
    ],
)
def test_formats_are_detected_and_said(name: str, fmt: str, variant: str) -> None:
    found = detect_format(FIXTURES / name)
    assert (found.format, found.variant) == (fmt, variant)
    assert found.reason


def test_cli_format_choices_match_the_library() -> None:
    import click

    from analysis.cli import cohort

    (option,) = [p for p in cohort.commands["import"].params if p.name == "source_format"]
    assert isinstance(option.type, click.Choice)
    assert tuple(option.type.choices) == FORMATS


def test_qualtrics_export_headers_and_previews() -> None:
    table = read_source(FIXTURES / "qualtrics_ppai.csv")
    assert table.rows_read == 13
    assert table.excluded == {"Survey Preview": 1}
    assert len(table.frame) == 12
    assert table.import_ids["Q1_1"] == "QID1_1"
    assert table.question_text["Q1_1"].endswith(PPAI.item_by_id["FF1"].text)
    assert table.default_id_column == "ResponseId"
    assert "RecipientEmail" in table.metadata_columns
    assert "\n" in "".join(table.frame["Q22_TEXT"].dropna())  # a quoted answer over two lines
    # the UTF-16 TSV export reads the same
    tsv = read_source(FIXTURES / "qualtrics_ppai.tsv")
    pd.testing.assert_frame_equal(tsv.frame, table.frame)


def test_xlsx_sheet_choice() -> None:
    assert len(read_source(FIXTURES / "xlsx_ppai.xlsx", sheet="Responses").frame) == 15
    assert len(read_source(FIXTURES / "xlsx_ppai.xlsx", sheet=0).frame) == 15
    with pytest.raises(SourceError, match="no data rows"):
        read_source(FIXTURES / "xlsx_ppai.xlsx", sheet="Notes")
    with pytest.raises(SourceError, match=r"no sheet 'Data'.*'Responses', 'Notes'"):
        read_source(FIXTURES / "xlsx_ppai.xlsx", sheet="Data")


def test_xlsx_leading_zero_ids_and_date_cells() -> None:
    # moved from tests/test_cohort_import.py (the import of the same workbook stays there)
    table = read_source(FIXTURES / "xlsx_ppai.xlsx")
    ids = table.frame["participant_id"].tolist()
    assert ids[:4] == ["00001", "00002", "00003", "00004"]  # text cells and 00000-formatted numbers
    assert table.frame["visit_date"].iloc[0] == "2026-02-01"
    assert table.frame["date_of_birth"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()


# ---------------------------------------------------------------------------------------------
# one policy: the cells are the same whichever command reads the file
# ---------------------------------------------------------------------------------------------
def _cli_sav(path: Path) -> None:
    """tests/fixtures/scoring/cli.yaml's items, value labels, and 8 declared missing on Q3."""
    frame = pd.DataFrame(
        {
            "pid": ["a1", "a2", "b1", "b2", "c1", "c2"],
            "site": ["A", "A", "B", "B", "A", "C"],
            "Q1": [1.0, 2, 3, 4, 5, np.nan],
            "Q2": [1.0, 4, 3, np.nan, 5, 2],
            "Q3": [2.0, 3, 8, 4, 5, 99],
            "Q4": [5.0, 2, 3, 1, np.nan, 4],
        }
    )
    scale = load_instrument(SCORING / "cli.yaml").scale_of("Q1")
    labels: dict[int | float, str] = {code: str(text) for code, text in scale.labels.items()}
    value_labels: dict[str, dict[int | float, str]] = {q: dict(labels) for q in ("Q1", "Q2", "Q4")}
    value_labels["Q3"] = {**labels, 8: "Refused", 99: "Not asked"}
    pyreadstat.write_sav(
        frame,
        str(path),
        variable_value_labels=value_labels,
        missing_ranges={"Q3": [8, {"lo": 90, "hi": 99}]},
    )


def test_one_spss_file_gives_the_same_cells_to_score_and_cohort_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import analysis
    import analysis.cohort.stages
    import surveytool.scoring.engine

    source = tmp_path / "r.sav"
    _cli_sav(source)
    seen: dict[str, pd.DataFrame] = {}

    real_score = surveytool.scoring.engine.score_responses

    def score_spy(inst: Any, frame: pd.DataFrame, **kwargs: Any) -> Any:
        seen["score"] = frame.copy()
        return real_score(inst, frame, **kwargs)

    real_read = read_source

    def read_spy(*args: Any, **kwargs: Any) -> Any:
        table = real_read(*args, **kwargs)
        seen["cohort import"] = table.frame.copy()
        return table

    monkeypatch.setattr(surveytool.scoring.engine, "score_responses", score_spy)
    monkeypatch.setattr(analysis.cohort.stages, "read_source", read_spy)
    instrument = str(SCORING / "cli.yaml")
    scored = CliRunner().invoke(
        cli,
        ["score", "-i", instrument, str(source), "--id-column", "pid", "--group-columns", "site",
         "-o", str(tmp_path / "s.csv")],
    )  # fmt: skip
    assert scored.exit_code == 0, scored.output
    assert "SPSS declared missing values read as missing: 2 cell(s)" in scored.stderr
    analysis.import_cohort(
        source, instrument, mapping={"id_column": "pid", "groups": ["site"]},
        key_file=tmp_path / "k.key",
    )  # fmt: skip
    by_score, by_import = seen["score"], seen["cohort import"]
    assert list(by_score.columns) == list(by_import.columns)
    for col in by_score.columns:
        assert [None if pd.isna(v) else v for v in by_score[col]] == [
            None if pd.isna(v) else v for v in by_import[col]
        ], col
    # declared missing 8 and 90..99 are missing in both; nothing else is
    assert by_score["Q3"].isna().tolist() == [False, False, True, False, False, True]
    assert by_score["Q1"].tolist()[:5] == [1.0, 2.0, 3.0, 4.0, 5.0]


def test_spss_declared_missing_counted_and_labels_kept(tmp_path: Path) -> None:
    source = tmp_path / "r.sav"
    _cli_sav(source)
    table = read_source(source)
    assert table.missing_declared == {"Q3": 2}
    scale = load_instrument(SCORING / "cli.yaml").scale_of("Q3")
    # the declared-missing codes 8 and 99 have no label of an answer
    assert table.value_labels["Q3"] == {float(k): v for k, v in scale.labels.items()}
    assert any("SPSS declared missing" in n for n in table.notes)


def test_text_columns_are_text_in_every_format(tmp_path: Path) -> None:
    frame = pd.DataFrame({"pid": [7, 10, 3], "site": [1.0, 2.0, np.nan], "Q1": [1, 2, 3]})
    paths: dict[str, Callable[[Path], object]] = {
        ".csv": lambda p: p.write_text("pid,site,Q1\n7,1,1\n10,2,2\n3,,3\n", "utf-8"),
        ".parquet": lambda p: frame.to_parquet(p, index=False),
        ".jsonl": lambda p: frame.to_json(p, orient="records", lines=True),
        ".sav": lambda p: pyreadstat.write_sav(frame, str(p)),
    }
    for suffix, write in paths.items():
        path = tmp_path / f"r{suffix}"
        write(path)
        got = read_source(path, text_columns=["pid", "site"]).frame
        assert got["pid"].tolist() == ["7", "10", "3"], suffix
        assert got["site"].tolist()[:2] == ["1", "2"], suffix
        assert pd.isna(got["site"].iloc[2]), suffix


def test_ids_keep_leading_zeros_and_na_strings_are_missing(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("pid,Q1,Q2\n007,1,NA\n010,N/A,\n", "utf-8")
    frame = read_source(path).frame
    assert frame["pid"].tolist() == ["007", "010"]
    assert frame["Q1"].iloc[0] == "1"  # text files: every cell is text
    assert frame[["Q1", "Q2"]].isna().to_numpy().tolist() == [[False, True], [True, True]]


@pytest.mark.parametrize("text", ["site\nNA\n", "a,b\nNA,\n,N/A\n", "a\n \n\n"])
def test_a_table_with_every_cell_missing(text: str, tmp_path: Path) -> None:
    """Every cell missing: no distinct value at all (found by the fuzz test in CI, where
    ``site\\nNA`` raised IndexError in the missing-cell check)."""
    path = tmp_path / "r.csv"
    path.write_text(text, "utf-8")
    if text.strip() == "a":  # a header and blank lines only: no row
        with pytest.raises(SourceError):
            read_source(path)
        return
    frame = read_source(path).frame
    assert len(frame) > 0
    assert frame.isna().to_numpy().all()


def test_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text('{"pid": "a", "Q1": 3}\n{"pid": "b", "Q1": null}\n', "utf-8")
    assert detect_format(path).format == "jsonl"
    table = read_source(path)
    assert table.frame["pid"].tolist() == ["a", "b"]
    assert table.frame["Q1"].iloc[0] == 3 and pd.isna(table.frame["Q1"].iloc[1])
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{oops\n", "utf-8")
    with pytest.raises(SourceError, match=r"bad\.jsonl: cannot read it as JSON lines"):
        read_source(bad)


def test_excel_formula_cells_are_read_as_their_values(tmp_path: Path) -> None:
    import openpyxl

    path = tmp_path / "r.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["pid", "Q1", "Q2"])
    sheet.append(["a", 2, "=B2+1"])
    book.save(path)
    # openpyxl writes the formula without a cached value: a formula cell never reads as its text
    frame = read_source(path).frame
    assert frame["Q1"].tolist() == ["2"]
    assert pd.isna(frame["Q2"].iloc[0])


def test_library_messages_name_parameters_not_flags(tmp_path: Path) -> None:
    path = tmp_path / "r.data"
    path.write_text("a,b\n1,2\n", "utf-8")
    with pytest.raises(SourceError, match="cannot tell the format") as info:
        read_source(path)
    assert "--" not in str(info.value)
    with pytest.raises(SourceError, match="no sheet") as sheet:
        read_source(FIXTURES / "xlsx_ppai.xlsx", sheet="Data")
    assert "--" not in str(sheet.value)


# ---------------------------------------------------------------------------------------------
# wide tables: the csv-module reader gives what pandas' reader gives
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "a,b\n1,2\n\n3,4\n",  # a blank line
        "a,b\n1,2\n   \n3,4\n",  # a line of spaces
        "a\n1\n  \n2\n",  # one column
        "a,b\r1,2\r",  # old Mac line ends
        'a,b\r\n1,"x\r\ny"\r\n',  # a quoted line break kept as it is
        'a,b\n"1"x,2\n"say ""hi""",\n',  # text after a quote; doubled quotes
        "a,b\n NA ,NA\nN/A,null\n,\n",  # NA strings exactly, not padded ones
        "a;b\n1;2,5\n",
        "a,b\n1,2",  # no final line end
        "a,NA,\n1,2,3\n",  # missing names
    ],
)
def test_regular_text_is_read_as_pandas_reads_it(text: str, tmp_path: Path) -> None:
    from surveytool.io.sources import _parse_rows, _parse_rows_pandas, _regular_rows

    sep = ";" if ";" in text else ","
    assert _regular_rows(text, sep) is not None  # the fast reader reads it
    fast = _parse_rows(tmp_path / "t.csv", text, sep)
    slow = _parse_rows_pandas(tmp_path / "t.csv", text, sep)
    assert fast.shape == slow.shape
    assert fast.astype(str).equals(slow.astype(str))  # pd.NA as "<NA>" on both sides
    assert fast._mgr.nblocks == 1  # one block, however wide


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b\n1,2,3\n", "Expected 2 fields in line 2, saw 3"),
        ('a,b\n1,"open\n', "EOF inside string"),
    ],
)
def test_irregular_text_is_left_to_pandas(text: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(text, "utf-8")
    with pytest.raises(SourceError, match=message):
        read_source(path)


def test_short_rows_are_padded_with_missing_cells(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a,b,c\n1\n4,5,6\n", "utf-8")
    frame = read_source(path).frame
    assert frame.iloc[0].tolist() == ["1", pd.NA, pd.NA]
    assert frame.iloc[1].tolist() == ["4", "5", "6"]
