"""Real REDCap and Qualtrics exports (tests/fixtures/real, sources in its README) through the CLI.

Each test runs the commands a researcher runs (``cohort map-template``, ``cohort import``) and
checks the row accounting and a few cells read by hand from the file.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner, Result

from surveytool.cli import cli
from surveytool.io.sources import read_redcap_dictionary, read_source

REAL = Path(__file__).resolve().parents[2] / "fixtures" / "real"
LONG = REAL / "redcapr_longitudinal"
VOB = str(REAL / "vob.yaml")
QUALTRICS = REAL / "qualtrics"


def run(*args: object) -> Result:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


def _template(tmp_path: Path, source: Path, instrument: str, *extra: object) -> dict[str, Any]:
    out = tmp_path / f"{source.stem}.map.yaml"
    result = run("cohort", "map-template", source, "-i", instrument, "-o", out, *extra)
    assert result.exit_code == 0, result.output
    loaded: dict[str, Any] = yaml.safe_load(out.read_text("utf-8"))
    return loaded


def _import(
    tmp_path: Path, source: Path, instrument: str, mapping: dict[str, object] | None, *extra: object
) -> tuple[Result, pd.DataFrame | None, pd.DataFrame | None]:
    args: list[object] = ["cohort", "import", source, "-i", instrument]
    if mapping is not None:
        path = tmp_path / f"{source.stem}.used.yaml"
        path.write_text(yaml.safe_dump(mapping, sort_keys=False), "utf-8")
        args += ["--map", path]
    out = tmp_path / f"{source.stem}.parquet"
    result = run(*args, "--key-file", tmp_path / "cohort.key", "-o", out, *extra)
    quarantine = out.with_name(f"{out.stem}.quarantine.csv")
    frame = pd.read_parquet(out) if out.exists() else None
    issues = pd.read_csv(quarantine, dtype=str) if quarantine.exists() else None
    return result, frame, issues


VOB_ITEMS = [f"vob{i}" for i in (1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13)]


def test_redcap_longitudinal_raw_keeps_every_visit_and_leaves_out_events_not_collected(
    tmp_path: Path,
) -> None:
    mapping = _template(tmp_path, LONG / "data.csv", VOB, "--dictionary", LONG / "dictionary.csv")
    assert mapping["waves"] == ["redcap_event_name"]
    flagged = {"first_name", "last_name", "telephone_1", "email", "dob"}  # "Identifier?" = y
    assert flagged <= set(mapping["identifiers"])
    result, cohort, issues = _import(tmp_path, LONG / "data.csv", VOB, mapping)
    assert result.exit_code == 0, result.output
    # 3 records x their arm's 6 events = 18 rows; the form is filled at 6 of them
    assert "rows read 18 = rows imported 6 + rows quarantined 12 (12 with no item answered)" in (
        result.output
    )
    assert cohort is not None and issues is not None
    assert cohort["redcap_event_name"].tolist() == [
        "visit_1_arm_1",
        "visit_2_arm_1",
        "visit_1_arm_1",
        "visit_2_arm_1",
        "first_visit_arm_2",
        "final_visit_arm_2",
    ]
    assert cohort["pseudonym"].nunique() == 3
    # record 100, visit 1 (data row 3): 0,0,1,0,1,0 | 0,0,1,0,1,0
    assert cohort[VOB_ITEMS].iloc[0].tolist() == [0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 1, 0]
    # record 304's final visit (row 17) answered vob2, vob12 and vob13 only
    assert int(cohort[VOB_ITEMS].iloc[5].isna().sum()) == 9
    left_out = issues[issues["code"] == "row_unanswered"]
    assert left_out["row"].astype(int).tolist() == [1, 2, 4, 6, 7, 8, 10, 12, 13, 14, 15, 18]
    assert "enrollment_arm_1" in left_out["reason"].iloc[0]
    for column in ("first_name", "email", "dob", "redcap_arm"):
        assert column not in cohort.columns


def test_redcap_arms_are_separated_from_events() -> None:
    table = read_source(LONG / "data.csv")
    assert table.frame["redcap_arm"].tolist()[:6] == ["1"] * 6
    assert table.frame["redcap_arm"].tolist()[12:] == ["2"] * 6
    assert "redcap_arm" in table.suggested_groups  # two arms: a group to compare
    labels = read_source(LONG / "data_labels.csv")
    assert labels.frame["Arm"].iloc[0] == "Arm 1: Drug A"
    assert labels.frame["Event Name"].iloc[2] == "Visit 1 (Arm 1: Drug A)"


def test_redcap_complete_status_filters_rows(tmp_path: Path) -> None:
    mapping = _template(tmp_path, LONG / "data.csv", VOB, "--dictionary", LONG / "dictionary.csv")
    mapping["redcap"] = {"dictionary": str(LONG / "dictionary.csv"), "complete": ["Complete"]}
    result, cohort, issues = _import(tmp_path, LONG / "data.csv", VOB, mapping)
    assert result.exit_code == 0, result.output
    assert "rows imported 2 + rows quarantined 16" in result.output
    assert cohort is not None and issues is not None
    assert cohort["redcap_event_name"].tolist() == ["visit_2_arm_1", "first_visit_arm_2"]
    excluded = issues[issues["code"] == "row_excluded"]
    assert excluded["row"].astype(int).tolist() == [3, 9, 11, 17]
    assert set(excluded["column"]) == {"visit_observed_behavior_complete"}
    assert "Incomplete" in excluded["reason"].iloc[0]
    assert (issues["code"] == "row_unanswered").sum() == 12


def test_redcap_labels_export_keeps_the_event_name_wave(tmp_path: Path) -> None:
    statements = ["nervous?", "worried?", "scared?", "fidgety?", "crying?", "screaming?"]
    items = {s: f"vob{i}" for i, s in enumerate(statements, 1)}
    items |= {f"{s}.1": f"vob{i}" for i, s in enumerate(statements, 8)}
    mapping: dict[str, object] = {
        "instrument": "vob",
        "id_column": "Study ID",
        "items": items,
        "waves": ["Event Name"],
    }
    result, cohort, _ = _import(tmp_path, LONG / "data_labels.csv", VOB, mapping)
    assert result.exit_code == 0, result.output
    assert "rows read 18 = rows imported 6 + rows quarantined 12" in result.output
    assert "duplicates 0" in result.output
    assert cohort is not None
    assert cohort["Event Name"].tolist()[:2] == [
        "Visit 1 (Arm 1: Drug A)",
        "Visit 2 (Arm 1: Drug A)",
    ]
    (tmp_path / "raw").mkdir()
    raw_result, raw, _ = _import(
        tmp_path / "raw",
        LONG / "data.csv",
        VOB,
        {"instrument": "vob", "waves": ["redcap_event_name"]},
        "--key-file",
        tmp_path / "cohort.key",
    )
    assert raw_result.exit_code == 0, raw_result.output
    assert raw is not None
    pd.testing.assert_frame_equal(  # the same records with the same key: the same pseudonyms
        cohort[["pseudonym", *VOB_ITEMS]], raw[["pseudonym", *VOB_ITEMS]]
    )


def test_redcap_repeating_instrument_rows_are_waves_and_empty_rows_no_respondents(
    tmp_path: Path,
) -> None:
    source = REAL / "redcapr_repeating" / "data.csv"
    result, cohort, issues = _import(tmp_path, source, str(REAL / "bp.yaml"), None)
    assert result.exit_code == 0, result.output
    # two records: their demographics rows hold no bp reading; four bp instances do
    assert "rows read 6 = rows imported 4 + rows quarantined 2 (2 with no item answered)" in (
        result.output
    )
    assert cohort is not None and issues is not None
    assert cohort["redcap_repeat_instance"].tolist() == ["1", "2", "3", "1"]
    assert cohort["bp_diastolic"].tolist() == [100, 101, 102, 104]
    assert issues.loc[issues["code"] == "row_unanswered", "row"].astype(int).tolist() == [1, 5]


def test_redcap_dictionary_labels_choices_identifiers_and_forms() -> None:
    fields = read_redcap_dictionary(LONG / "dictionary.csv")
    assert fields["vob1"].form == "visit_observed_behavior"
    assert fields["ethnicity"].choices == {
        "0": "Hispanic or Latino",
        "1": "NOT Hispanic or Latino",
        "2": "Unknown / Not Reported",
    }
    assert fields["given_birth"].choices == {"1": "Yes", "0": "No"}  # yesno: fixed choices
    assert fields["gym"].field_type == "checkbox"
    assert [n for n, f in fields.items() if f.identifier] == [
        "first_name",
        "last_name",
        "telephone_1",
        "email",
        "dob",
    ]
    table = read_source(LONG / "data.csv", dictionary=LONG / "dictionary.csv")
    assert table.question_text["vob8"] == "nervous?"
    assert table.value_labels["pmq4"] == {0.0: "not open", 1.0: "undecided", 2.0: "very open"}
    assert table.field_forms["pmq1"] == "patient_morale_questionnaire"


def test_redcap_checkbox_codes_negative_and_from_the_dictionary(tmp_path: Path) -> None:
    # REDCap writes code -99 of race as race____99 (FORMATS.md); no public test file has one
    data = tmp_path / "export.csv"
    data.write_text(
        "record_id,race___1,race___2,race____99,q1,survey_complete\n1,1,0,0,3,2\n2,0,0,1,4,2\n",
        "utf-8",
    )
    table = read_source(data)
    assert "race" in table.frame.columns and "race_" not in table.frame.columns
    assert table.frame["race"].tolist() == ["1", "-99"]
    assert any("race____99 -> race code -99" in n for n in table.notes)
    dictionary = tmp_path / "dictionary.csv"
    with dictionary.open("w", newline="", encoding="utf-8-sig") as f:  # with a BOM, as REDCap
        writer = csv.writer(f)
        writer.writerow(
            ["Variable / Field Name", "Form Name", "Section Header", "Field Type", "Field Label",
             "Choices, Calculations, OR Slider Labels", "Field Note",
             "Text Validation Type OR Show Slider Number", "Text Validation Min",
             "Text Validation Max", "Identifier?"]
        )  # fmt: skip
        writer.writerow(["record_id", "survey", "", "text", "Record ID", "", "", "", "", "", ""])
        writer.writerow(
            ["race", "survey", "", "checkbox", "<b>Race</b>",
             "1, White | 2, Black, or African American | -99, Prefer not to say",
             "", "", "", "", ""]
        )  # fmt: skip
        writer.writerow(
            ["q1", "survey", "", "radio", "Q one", "1, a|2, b|3, c|4, d", "", "", "", "", ""]
        )
    fields = read_redcap_dictionary(dictionary)
    assert fields["race"].label == "Race"  # HTML removed
    assert fields["race"].choices["2"] == "Black, or African American"  # commas in labels
    assert fields["q1"].choices == {"1": "a", "2": "b", "3": "c", "4": "d"}  # no space after |
    table = read_source(data, dictionary=dictionary)
    assert table.frame["race"].tolist() == ["1", "-99"]
    assert not any("->" in n for n in table.notes)  # nothing guessed


def test_qualtrics_2017_2020_export_keeps_its_import_ids(tmp_path: Path) -> None:
    source = QUALTRICS / "sample_2019.csv"
    table = read_source(source)
    assert table.variant == "three header rows, 2017-2020"
    assert table.rows_read == 1  # the ImportId row is a header, not a response
    assert table.import_ids["Q1"] == "QID1"
    instrument = str(QUALTRICS / "qsample.yaml")
    mapping = _template(tmp_path, source, instrument)
    assert mapping["items"] == {"Q1": "QID1"}  # matched through the ImportId
    result, cohort, _ = _import(tmp_path, source, instrument, mapping)
    assert result.exit_code == 0, result.output
    assert "rows read 1 = rows imported 1" in result.output
    assert cohort is not None and cohort["QID1"].tolist() == [2]


@pytest.mark.parametrize("name", ["sample.csv", "sample_2019.csv", "sample_legacy.csv"])
def test_every_qualtrics_vintage_gives_the_same_answer(tmp_path: Path, name: str) -> None:
    instrument = str(QUALTRICS / "qsample.yaml")
    mapping = _template(tmp_path, QUALTRICS / name, instrument)
    result, cohort, _ = _import(tmp_path, QUALTRICS / name, instrument, mapping)
    assert result.exit_code == 0, result.output
    assert "rows read 1 = rows imported 1 + rows quarantined 0 + duplicates 0" in result.output
    assert cohort is not None and cohort["QID1"].tolist() == [2]


def _qualtrics_variant(tmp_path: Path, **cells: str) -> Path:
    """qualtRics' sample.csv with cells of its one response changed (column -> value)."""
    with (QUALTRICS / "sample.csv").open(newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    for column, value in cells.items():
        rows[3][header.index(column)] = value
    path = tmp_path / "export.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return path


def test_qualtrics_file_of_previews_only_fails_loudly(tmp_path: Path) -> None:
    source = _qualtrics_variant(tmp_path, Status="1")  # a survey preview
    instrument = str(QUALTRICS / "qsample.yaml")
    result, cohort, issues = _import(tmp_path, source, instrument, {"items": {"Q1": "QID1"}})
    assert result.exit_code == 1
    assert "nothing to import from export.csv: none of its 1 row(s) is a respondent" in (
        result.output
    )
    assert cohort is None  # no empty cohort written
    assert issues is not None
    assert issues.loc[issues["kind"] == "row", "code"].tolist() == ["row_excluded"]


def test_qualtrics_filters_and_seen_but_unanswered(tmp_path: Path) -> None:
    instrument = str(QUALTRICS / "qsample.yaml")
    unfinished = _qualtrics_variant(tmp_path, Finished="0", Progress="40")
    result, _, issues = _import(
        tmp_path,
        unfinished,
        instrument,
        {"items": {"Q1": "QID1"}, "qualtrics": {"finished": True, "min_progress": 90}},
    )
    assert result.exit_code == 1 and "nothing to import" in result.output
    assert issues is not None
    assert issues.loc[issues["kind"] == "row", "column"].tolist() == ["Finished"]
    seen = _qualtrics_variant(tmp_path, Q1="-99")
    table = read_source(seen)
    assert table.seen_unanswered == {"Q1": 1}
    assert pd.isna(table.frame["Q1"].iloc[0])
    assert any("seen but unanswered (-99): 1 cell(s)" in n for n in table.notes)


def test_template_leaves_a_statement_shared_by_several_columns_to_the_researcher(
    tmp_path: Path,
) -> None:
    # a Qualtrics layout where one matrix statement is asked about four people
    header = ["ResponseId", "StartDate", "Status", "Q1_1", "Q2_1", "Q3_1", "Q4_1", "Q5"]
    text = ["Response ID", "Start Date", "Response Type"]
    text += [f"About {who} - I feel calm most days." for who in ("you", "mum", "dad", "a friend")]
    text += ["I can settle my mind when I need to - most of the time"]
    ids = [json_blob(c) for c in header]
    rows = [header, text, ids, ["R_1", "2024-01-01", "0", "1", "2", "3", "4", "5"]]
    source = tmp_path / "shared.csv"
    with source.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    mini = str(REAL.parent / "cohort" / "mini.yaml")
    out = tmp_path / "m.yaml"
    made = run("cohort", "map-template", source, "-i", mini, "-o", out)
    assert made.exit_code == 0, made.output
    text_out = out.read_text("utf-8")
    mapping = yaml.safe_load(text_out)
    assert "M1" not in mapping["items"].values()  # not silently the first of the four
    assert '# M1: its text is the statement of 4 columns ("Q1_1", "Q2_1", "Q3_1", "Q4_1")' in (
        text_out
    )
    # the whole question text counts, not only the part after " - "
    assert mapping["items"].get("Q5") == "M2"


def json_blob(column: str) -> str:
    return '{"ImportId":"' + column + '"}'


def test_words_that_only_contain_phone_or_birth_are_no_identifiers() -> None:
    from analysis.privacy.identifiers import name_findings

    assert name_findings("Smartphone") == [] and name_findings("uses_smartphone") == []
    assert name_findings("given_birth") == []  # "has the patient given birth before?"
    assert name_findings("telephone_1") == ["phone"] and name_findings("Phone number") == ["phone"]
    assert name_findings("date_of_birth") == ["date_of_birth"]
    assert name_findings("birthyear") == ["date_of_birth"] and name_findings("DOB") == [
        "date_of_birth"
    ]


def test_redcap_labels_export_with_its_dictionary_reads_as_the_raw_export(tmp_path: Path) -> None:
    dictionary = LONG / "dictionary.csv"
    mapping = _template(tmp_path, LONG / "data_labels.csv", VOB, "--dictionary", dictionary)
    assert mapping["items"] == {v: v for v in VOB_ITEMS}  # headers read as the field names
    assert mapping["id_column"] == "study_id" and mapping["waves"] == ["Event Name"]
    mapping["redcap"] = {"dictionary": str(dictionary), "complete": ["Complete"]}
    result, cohort, _ = _import(tmp_path, LONG / "data_labels.csv", VOB, mapping)
    assert result.exit_code == 0, result.output
    assert "rows imported 2 + rows quarantined 16" in result.output  # the same form statuses
    assert cohort is not None
    assert cohort["Event Name"].tolist() == [
        "Visit 2 (Arm 1: Drug A)",
        "First visit (Arm 2: Drug B)",
    ]
    assert cohort[VOB_ITEMS].iloc[0].tolist() == [0, 1, 0, 1, 0, 0, 0, 1, 0, 1, 0, 1]


def test_qualtrics_survey_definition_gives_question_text_and_choice_recodes(
    tmp_path: Path,
) -> None:
    from surveytool.io.sources import read_qsf

    qsf = QUALTRICS / "sp_test.qsf"
    columns = read_qsf(qsf)
    assert "Q2" not in columns  # in the trash block
    assert columns["Q1"].text == "Single answer"
    # a matrix with ChoiceDataExportTags: one column per row, named by its tag
    statement = columns["statement2"]
    assert statement.question_id == "QID5"
    assert statement.text == "Matrix single response per row - Click to write Statement 2"
    assert statement.labels[4.0] == "n/a"
    assert columns["Q6_1"].text.startswith("MaxDiff - ")  # rows without tags: <tag>_<row>
    # an export of that matrix, numeric codes; the instrument's scale labels are the choices
    header = ["ResponseId", "Status", "statement1", "statement2", "statement3"]
    rows = [
        header,
        ["Response ID", "Response Type", "a", "b", "c"],
        [json_blob(c) for c in header],
        ["R_1", "0", "1", "2", "4"],
        ["R_2", "0", "3", "3", "1"],
    ]
    source = tmp_path / "matrix.csv"
    with source.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    instrument = tmp_path / "matrix.yaml"
    instrument.write_text(
        "id: matrix\nversion: '1.0.0'\ntitle: Matrix\nresponse_scales:\n"
        "  points:\n    min: 1\n    max: 3\n    labels: {1: Click to write Scale point 1, "
        "2: Click to write Scale point 2, 3: Click to write Scale point 3}\n"
        "    missing_codes: {4: n/a}\n"
        "items:\n"
        + "".join(
            f"  - {{id: S{i}, text: 'Click to write Statement {i}', scale: points}}\n"
            for i in (1, 2, 3)
        )
        + "subscales:\n  - {id: all, label: All, items: [S1, S2, S3], method: mean, "
        "min_answered: 1}\n",
        "utf-8",
    )
    mapping = _template(tmp_path, source, str(instrument), "--qsf", qsf)
    assert mapping["items"] == {"statement1": "S1", "statement2": "S2", "statement3": "S3"}
    assert mapping["qualtrics"]["qsf"]
    result, cohort, _ = _import(tmp_path, source, str(instrument), mapping)
    assert result.exit_code == 0, result.output
    assert cohort is not None
    assert cohort["S3"].isna().tolist() == [True, False]  # 4 = "n/a" in the survey: missing
    assert cohort["S1"].tolist() == [1, 3]
