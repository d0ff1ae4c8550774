"""XLSForm: sheets, lossless round trip, and the form validated by pyxform with ODK Validate."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from pyxform.xls2xform import convert

from surveytool.instrument.model import Instrument
from surveytool.interchange import xlsform
from tests.surveytool.interchange.conftest import (
    HERE,
    answer_dicts,
    answers,
    assert_same_scores,
    our_scores,
)


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
    scored = {i.scale for i in instrument.items if i.scored}
    for scale_id in instrument.response_scales:
        # every scale is offered as a choice list; a scored item's weights are looked up in it
        assert f"instance('{scale_id}')/root/item" in converted.xform
        if scale_id in scored:
            assert f"instance('{scale_id}')/root/item[name=" in converted.xform
    assert not [w for w in converted.warnings if "error" in w.lower()]


def _odk_validate_jar() -> Path:
    import pyxform

    jar = Path(pyxform.__file__).parent / "validators" / "odk_validate" / "bin" / "ODK_Validate.jar"
    assert jar.is_file(), "pyxform ships ODK Validate; reinstall pyxform"
    return jar


def test_odk_engine_gives_our_scores_for_1000_respondents(instrument: Instrument, tmp_path: Path):
    """JavaRosa (ODK Collect's engine, inside pyxform's ODK Validate jar) fills the converted
    form for each respondent; its calculates (text) read as numbers equal our scores, and are
    blank exactly where ours are insufficient."""
    java = shutil.which("java")
    assert java is not None, "a Java runtime is needed: run `make java`"
    path = tmp_path / "form.xlsx"
    path.write_bytes(xlsform.workbook_bytes(instrument))
    xform = tmp_path / "form.xml"
    xform.write_text(convert(xlsform=str(path), validate=False).xform, encoding="utf-8")
    items = answers(instrument, n=1000)
    ours = our_scores(instrument, items)
    lines = [
        ",".join("" if v is None else str(v) for v in row.values()) for row in answer_dicts(items)
    ]
    scored = instrument.scored_ids()
    done = subprocess.run(
        [
            java,
            "-cp",
            str(_odk_validate_jar()),
            str(HERE / "javarosa" / "EvaluateXForm.java"),
            str(xform),
            ",".join(items.columns),
            ",".join(scored),
            ",".join(dict.fromkeys(s.items[0] for s in instrument.subscales)),
        ],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = done.stdout.splitlines()
    theirs = [
        {s: (float(v) if v else None) for s, v in zip(scored, row.split("\t"), strict=True)}
        for row in rows
    ]
    assert_same_scores(instrument, ours, theirs)


def test_import_of_a_form_written_by_others(tmp_path: Path):
    """An XLSForm in the shape ODK's and Kobo's documentation show: language columns, a group,
    lists scored by their names, a text list, a plain-sum calculate and another calculate."""
    from openpyxl import Workbook

    book = Workbook()
    survey = book.active
    assert survey is not None
    survey.title = "survey"
    survey.append(["type", "name", "label::English (en)", "label::Français (fr)", "calculation"])
    survey.append(["start", "start", "", "", ""])
    survey.append(["begin_group", "week", "This week", "Cette semaine", ""])
    survey.append(["select_one often", "w1", "I slept well", "J'ai bien dormi", ""])
    survey.append(["select_one often", "w2", "I ate well", "J'ai bien mangé", ""])
    survey.append(["select_one yn", "w3", "I went out", "Je suis sorti", ""])
    survey.append(["text", "w4", "Anything else?", "Autre chose ?", ""])
    survey.append(["end_group", "", "", "", ""])
    survey.append(["calculate", "total", "", "", "${w1} + ${w2}"])
    survey.append(["calculate", "double", "", "", "${w1} * 2"])
    choices = book.create_sheet("choices")
    choices.append(["list_name", "name", "label::English (en)", "label::Français (fr)"])
    for code, label in [(0, "Never"), (1, "Sometimes"), (2, "Often"), (3, "Always")]:
        choices.append(["often", code, label, label])
    choices.append(["yn", "yes", "Yes", "Oui"])
    choices.append(["yn", "no", "No", "Non"])
    settings = book.create_sheet("settings")
    settings.append(["form_title", "form_id", "version"])
    settings.append(["Week check", "week_check", "2024061101"])
    path = tmp_path / "theirs.xlsx"
    book.save(path)
    result = xlsform.import_workbook(path)
    assert result.ok, result.report.format_text()
    inst = result.instrument
    assert inst is not None
    assert (inst.id, inst.title) == ("week_check", "Week check")
    assert [i.id for i in inst.items] == ["w1", "w2"]
    assert inst.items[0].text == "I slept well"
    scale = inst.response_scales["often"]
    assert (scale.min, scale.max, scale.labels[3]) == (0, 3, "Always")
    (total,) = inst.subscales
    assert (total.id, total.method.value, list(total.items)) == ("total", "sum", ["w1", "w2"])
    messages = " ".join(p.message for p in result.not_mapped)
    assert "'yes'" in messages  # a list whose names are no numbers
    assert "'w4'" in messages  # a text question
    assert "'double'" in messages  # not a plain sum
