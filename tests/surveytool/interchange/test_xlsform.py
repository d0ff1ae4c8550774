"""XLSForm: sheets, lossless round trip, and the form validated by pyxform with ODK Validate."""

from __future__ import annotations

from pathlib import Path

from pyxform.xls2xform import convert

from surveytool.instrument.model import Instrument
from surveytool.interchange import xlsform


def test_sheets_hold_select_ones_weights_and_calculates(instrument: Instrument):
    sheets = xlsform.sheets(instrument)
    assert sheets["settings"][0][:3] == ["form_title", "form_id", "version"]
    assert sheets["settings"][1][:3] == [instrument.title, instrument.id, instrument.version]
    header, *rows = sheets["survey"]
    kinds = [r[header.index("type")] for r in rows]
    assert [k for k in kinds if k.startswith("select_one")] == [
        f"select_one {i.scale}" for i in instrument.items
    ]
    calculates = [r for r in rows if r[header.index("type")] == "calculate"]
    assert [r[header.index("name")] for r in calculates] == instrument.scored_ids()
    assert all("/weight" in r[header.index("calculation")] for r in calculates)
    choice_header, *choices = sheets["choices"]
    assert choice_header == ["list_name", "name", "label", "weight"]
    for scale_id, scale in instrument.response_scales.items():
        mine = [c for c in choices if c[0] == scale_id]
        assert [c[1] for c in mine] == [str(p) for p in (*scale.points, *scale.missing_codes)]
        assert [c[3] for c in mine] == [*scale.points, *[""] * len(scale.missing_codes)]


def test_round_trip_gives_the_same_instrument(instrument: Instrument, tmp_path: Path):
    path = tmp_path / "form.xlsx"
    path.write_bytes(xlsform.workbook_bytes(instrument))
    result = xlsform.import_workbook(path)
    assert result.ok, result.report.format_text()
    assert result.not_mapped == []
    assert result.instrument is not None
    assert result.instrument.model_dump() == instrument.model_dump()


def test_odk_validate_accepts_the_form(instrument: Instrument, tmp_path: Path):
    """pyxform converts the form and runs ODK Validate (JavaRosa, needs a Java runtime)."""
    path = tmp_path / "form.xlsx"
    path.write_bytes(xlsform.workbook_bytes(instrument))
    converted = convert(xlsform=str(path), validate=True)
    assert "<h:title>" in converted.xform
    for scale_id in instrument.response_scales:
        assert f"instance('{scale_id}')/root/item[name=" in converted.xform
    assert not [w for w in converted.warnings if "error" in w.lower()]
