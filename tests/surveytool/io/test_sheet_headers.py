"""Workbook header rows: blank header cells and a sheet without a header row."""

from __future__ import annotations

from pathlib import Path

import openpyxl

from surveytool.io.sources import read_source


def _book(path: Path, rows: list[list[object]]) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def test_a_blank_header_cell_is_named_unnamed(tmp_path: Path) -> None:
    path = _book(tmp_path / "a.xlsx", [["id", "M1", None, "M3"], ["r1", 1, 2, 3]])
    table = read_source(path)
    assert list(table.frame.columns) == ["id", "M1", "Unnamed: 2", "M3"]
    assert "<NA>" not in table.frame.columns


def test_a_sheet_without_header_row_is_said(tmp_path: Path) -> None:
    path = _book(tmp_path / "b.xlsx", [[1, 3, 4, 2], [2, 2, 5, 1], [3, 1, 1, 4]])
    table = read_source(path)
    assert table.rows_read == 2
    assert any(
        "no header row, its first respondent was read as the header" in n for n in table.notes
    )
    named = _book(tmp_path / "c.xlsx", [["id", "M1"], [1, 3]])
    assert not any("no header row" in n for n in read_source(named).notes)
