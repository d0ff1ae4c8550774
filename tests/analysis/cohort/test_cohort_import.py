"""``surveytool cohort import``: every source format, mapping, warnings, validation, the ledger.

The fixtures in tests/fixtures/cohort are made by make_fixtures.py there (committed; invented
people). Each test imports real files into a temporary folder; nothing is mocked.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import analysis
from analysis.errors import CohortFileError, MappingError
from analysis.mapping import load_mapping, mapping_template
from surveytool.cli import cli
from surveytool.errors import InvalidResponsesError
from surveytool.instrument.registry import load_instrument
from surveytool.io.sources import detect_format, read_source
from surveytool.io.tables import read_metadata
from surveytool.scoring.engine import score_responses
from tests import frames

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cohort"
PPAI = load_instrument("ppai@1.0.0")
MINI = load_instrument(FIXTURES / "mini.yaml")
ITEMS = [i.id for i in PPAI.items]
QUALTRICS_MAP = FIXTURES / "qualtrics_ppai.map.yaml"


def _identity(report: analysis.ImportReport) -> None:
    assert report.rows_read == report.rows_imported + report.rows_quarantined + report.duplicates
    assert report.rows_quarantined == (
        report.rows_excluded
        + report.rows_unanswered
        + report.rows_invalid_id
        + report.rows_suppressed
    )


def _write_yaml(path: Path, text: str) -> Path:
    path.write_text(text, "utf-8")
    return path


# ---------------------------------------------------------------------------------------------
# formats
# ---------------------------------------------------------------------------------------------
def test_cli_format_choices_match_the_library() -> None:
    import click

    from analysis.cli import cohort
    from surveytool.io.sources import FORMATS

    for name in ("import", "map-template"):
        (option,) = [p for p in cohort.commands[name].params if p.name == "source_format"]
        assert isinstance(option.type, click.Choice)
        assert tuple(option.type.choices) == FORMATS


def test_qualtrics_import_choice_text_previews_and_identifiers(tmp_path: Path, key: Path) -> None:
    table = read_source(FIXTURES / "qualtrics_ppai.csv")
    mapping = _write_yaml(tmp_path / "map.yaml", mapping_template(table, PPAI))
    result = analysis.import_cohort(
        FIXTURES / "qualtrics_ppai.csv",
        "ppai@1.0.0",
        mapping=mapping,
        key_file=key,
        output=tmp_path / "c.parquet",
    )
    report = result.report
    _identity(report)
    assert (report.rows_read, report.rows_imported, report.rows_excluded) == (13, 12, 1)
    assert report.excluded_by_status == {"Survey Preview": 1}
    assert report.format == "qualtrics"
    # choice text became codes: the source's first answer was a label of the scale
    source = table.frame
    first = str(frames.cell(source, 0, "Q1_1"))
    expected = {v: k for k, v in PPAI.scale_of("FF1").labels.items()}[first]
    assert result.frame.loc[0, "FF1"] == expected
    dropped = {d.column for d in result.disclosure.dropped}
    assert {"RecipientEmail", "RecipientFirstName", "RecipientLastName", "IPAddress"} <= dropped
    assert {"LocationLatitude", "LocationLongitude", "Q22_TEXT", "ExternalReference"} <= dropped
    assert list(result.frame.columns) == ["pseudonym", *ITEMS, "import_batch"]
    # the invalid choice text is reported like the scoring engine reports it, on the source row
    cell = report.issues[report.issues["kind"] == "cell"]
    assert cell[["row", "column", "value"]].values.tolist() == [[4, "FF3", "Sometimes"]]
    assert cell["reason"].iloc[0] == "not a number and not a label of scale 'like_me'"
    assert cell["respondent_id"].iloc[0] == result.frame.loc[3, "pseudonym"]
    preview = report.issues[report.issues["column"] == "Status"]
    assert preview["row"].tolist() == [6]


def test_qualtrics_keep_status_keeps_the_preview(tmp_path: Path, key: Path) -> None:
    mapping = load_mapping(QUALTRICS_MAP).mapping.model_dump(exclude_unset=True)
    mapping["qualtrics"] = {"keep_status": ["Survey Preview"]}
    result = analysis.import_cohort(
        FIXTURES / "qualtrics_ppai.csv", "ppai@1.0.0", mapping=mapping, key_file=key
    )
    assert result.report.rows_excluded == 0
    assert result.report.rows_read == 13
    _identity(result.report)


def test_legacy_qualtrics_zero_based_codes(tmp_path: Path, key: Path) -> None:
    table = read_source(FIXTURES / "qualtrics_legacy.csv")
    assert table.frame.columns[0] == "ResponseID"
    assert table.excluded == {"1": 1}  # numeric Status 1: a preview
    template = mapping_template(table, PPAI)
    assert "offset: 1" in template
    # without the offset every item warns (observed 0..4 on 1..5)
    plain = {"items": load_mapping(_write_yaml(tmp_path / "m.yaml", template)).mapping.items}
    result = analysis.import_cohort(
        FIXTURES / "qualtrics_legacy.csv", "ppai@1.0.0", mapping=plain, key_file=key
    )
    off = [w for w in result.report.warnings if w.code == "off_by_one"]
    zero = {
        item
        for col, item in plain["items"].items()
        if pd.to_numeric(table.frame[col], errors="coerce").min() == 0
    }
    assert {w.column for w in off} == zero
    assert len(zero) > 40  # an item never answered at the bottom cannot tell
    assert "offset: +1" in off[0].message
    assert (result.report.issues["reason"] == "off the scale 1..5").any()
    # with the template's offset, the codes land on the scale
    fixed = analysis.import_cohort(
        FIXTURES / "qualtrics_legacy.csv", "ppai@1.0.0", mapping=tmp_path / "m.yaml", key_file=key
    )
    assert not [w for w in fixed.report.warnings if w.code == "off_by_one"]
    assert not (fixed.issues["kind"] == "cell").any()
    raw = pd.to_numeric(table.frame["Q1_1"], errors="coerce").to_numpy()
    np.testing.assert_array_equal(fixed.frame["FF1"].to_numpy(), raw + 1)


def test_redcap_raw_and_labels_give_the_same_cohort(tmp_path: Path, key: Path) -> None:
    raw_table = read_source(FIXTURES / "redcap_raw.csv")
    assert "race" in raw_table.frame.columns  # checkbox options collapsed
    assert "race___1" not in raw_table.frame.columns
    assert raw_table.wave_columns == ("redcap_event_name",)
    raw = analysis.import_cohort(
        FIXTURES / "redcap_raw.csv",
        "ppai@1.0.0",
        mapping={"groups": ["redcap_data_access_group"]},
        key_file=key,
    )
    _identity(raw.report)
    assert raw.report.rows_imported == 17  # ten records, seven with a follow-up: no "duplicates"
    assert raw.report.id_column == "record_id"
    assert set(raw.frame["redcap_event_name"]) == {"baseline_arm_1", "followup_arm_1"}
    assert set(raw.frame["redcap_data_access_group"]) == {"site_a", "site_b"}
    dropped = {d.column: d for d in raw.disclosure.dropped}
    assert dropped["ppai_complete"].role == "metadata"
    assert dropped["email"].role == "identifier"
    assert dropped["phone"].role == "identifier"
    # the scale's missing code 9 is missing, not an answer
    assert raw.frame["DW2"].isna().sum() >= 1

    labels_table = read_source(FIXTURES / "redcap_labels.csv")
    template = _write_yaml(tmp_path / "labels.yaml", mapping_template(labels_table, PPAI))
    assert len(load_mapping(template).mapping.items) == len(ITEMS)  # matched by question text
    labels = analysis.import_cohort(
        FIXTURES / "redcap_labels.csv", "ppai@1.0.0", mapping=template, key_file=key
    )
    _identity(labels.report)
    assert labels.report.rows_imported == 17
    a = raw.frame[["pseudonym", *ITEMS]].reset_index(drop=True)
    b = labels.frame[["pseudonym", *ITEMS]].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)  # same record ids, same key: same pseudonyms


def test_redcap_repeating_instruments_are_waves(tmp_path: Path, key: Path) -> None:
    rows = [
        {"record_id": "1", "redcap_repeat_instrument": "", "redcap_repeat_instance": "", "M1": "2"},
        {
            "record_id": "1",
            "redcap_repeat_instrument": "mood",
            "redcap_repeat_instance": "1",
            "M1": "3",
        },
        {
            "record_id": "1",
            "redcap_repeat_instrument": "mood",
            "redcap_repeat_instance": "2",
            "M1": "4",
        },
        {
            "record_id": "2",
            "redcap_repeat_instrument": "mood",
            "redcap_repeat_instance": "1",
            "M1": "5",
        },
        {
            "record_id": "2",
            "redcap_repeat_instrument": "mood",
            "redcap_repeat_instance": "1",
            "M1": "1",
        },
    ]
    path = tmp_path / "repeat.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    assert detect_format(path).format == "redcap"
    result = analysis.import_cohort(path, MINI, key_file=key, output=tmp_path / "c.parquet")
    report = result.report
    _identity(report)
    assert (report.rows_imported, report.rows_invalid_id) == (4, 1)  # the last row repeats 2/mood/1
    assert list(result.frame.columns[:3]) == [
        "pseudonym",
        "redcap_repeat_instrument",
        "redcap_repeat_instance",
    ]
    repeated = report.issues[report.issues["kind"] == "row"]
    assert repeated["row"].tolist() == [5]
    assert repeated["respondent_id"].iloc[0].endswith("@mood/1")
    assert result.frame["pseudonym"].nunique() == 2


def test_spss_value_labels_and_user_missing(tmp_path: Path, key: Path) -> None:
    import pyreadstat

    source, meta = pyreadstat.read_sav(str(FIXTURES / "spss_ppai.sav"), user_missing=True)
    assert meta.missing_ranges["FF1"]  # the fixture declares 99 missing
    result = analysis.import_cohort(
        FIXTURES / "spss_ppai.sav",
        "ppai@1.0.0",
        mapping={"groups": ["sex"], "quasi_identifiers": {"age": {"generalize": "age_band"}}},
        key_file=key,
    )
    report = result.report
    _identity(report)
    assert report.id_column == "resp_id"  # guessed: named like an id, unique, leading zeros kept
    assert not [w for w in report.warnings if w.code == "off_by_one"]
    assert "SPSS value labels" in report.recoded["FF1"]
    # codes 0..4 labelled with the scale's labels are read through the labels: 1..5
    expected = source["FF1"].where(source["FF1"] != 99) + 1
    np.testing.assert_array_equal(result.frame["FF1"].to_numpy(), expected.to_numpy())
    assert result.frame["FF1"].isna().sum() == 2  # declared missing (99), not invalid
    assert not (report.issues["kind"] == "cell").any()
    assert set(result.frame["sex"]) == {"Female", "Male"}  # value labels of a group column
    assert "email" in {d.column for d in result.disclosure.dropped}
    assert any("SPSS declared missing" in n for n in report.notes)


def test_spss_labels_that_are_not_the_scales_are_mapped_by_text(tmp_path: Path, key: Path) -> None:
    import pyreadstat

    frame = pd.DataFrame({"pid": ["a1", "a2", "a3"], "M1": [1.0, 2.0, 3.0], "M2": [3.0, 2.0, 8.0]})
    labels = {1.0: "Never", 2.0: "Sometimes", 3.0: "Always", 8.0: "Refused"}
    path = tmp_path / "freq.sav"
    pyreadstat.write_sav(frame, path, variable_value_labels={"M1": labels, "M2": labels})
    rule = {
        "items": "all",
        "map": {"Never": 1, "Sometimes": 3, "Always": 5},
        "missing": ["Refused"],
    }
    result = analysis.import_cohort(
        path, MINI, mapping={"id_column": "pid", "recode": [rule]}, key_file=key
    )
    assert result.frame["M1"].tolist() == [1.0, 3.0, 5.0]
    assert result.frame["M2"].tolist()[:2] == [5.0, 3.0]
    assert np.isnan(result.frame["M2"].iloc[2])
    assert "recoded by the mapping" in result.report.recoded["M1"]


def test_xlsx_leading_zero_ids_and_date_cells(tmp_path: Path, key: Path) -> None:
    # how the workbook's cells are read: tests/surveytool/io/test_sources.py
    result = analysis.import_cohort(
        FIXTURES / "xlsx_ppai.xlsx",
        "ppai@1.0.0",
        mapping={"groups": ["site"], "quasi_identifiers": {"visit_date": {"generalize": "year"}}},
        key_file=key,
    )
    _identity(result.report)
    assert result.report.id_column == "participant_id"
    assert set(result.frame["visit_date"]) == {"2026"}
    dob = {d.column: d for d in result.disclosure.dropped}["date_of_birth"]
    assert "dates of birth" in dob.reason
    key_hex = [p for p in result.frame["pseudonym"]]
    assert len(set(key_hex)) == 15


def test_csv_tsv_and_parquet_give_the_same_cohort(key: Path) -> None:
    frames = []
    for name in ("plain_mini.csv", "plain_mini.tsv", "plain_mini.parquet"):
        result = analysis.import_cohort(
            FIXTURES / name, MINI, mapping={"groups": ["site"]}, key_file=key
        )
        _identity(result.report)
        assert result.report.rows_imported == 40
        assert {"full_name", "email"} <= {d.column for d in result.disclosure.dropped}
        frames.append(result.frame)
    for other in frames[1:]:
        pd.testing.assert_frame_equal(frames[0], other)


# ---------------------------------------------------------------------------------------------
# validation: exactly as the scoring engine reports it
# ---------------------------------------------------------------------------------------------
def _broken_csv(tmp_path: Path) -> Path:
    frame = pd.read_csv(FIXTURES / "plain_mini.csv", dtype=str)
    frame.loc[1, "M1"] = "7"  # off the scale
    frame.loc[2, "M2"] = "2.5"  # not whole
    frame.loc[3, "M3"] = "often"  # not a label
    frame.loc[4, "M4"] = "Agree"  # a label: fine
    frame.loc[5, "M1"] = "9"  # the missing code: fine
    frame.loc[6, "respondent_id"] = ""  # empty id: row quarantined
    frame.at[7, "respondent_id"] = str(frame.at[8, "respondent_id"])  # repeated id
    path = tmp_path / "broken.csv"
    frame.to_csv(path, index=False)
    return path


def test_invalid_cells_are_reported_as_the_scoring_engine_does(tmp_path: Path, key: Path) -> None:
    path = _broken_csv(tmp_path)
    result = analysis.import_cohort(
        path, MINI, mapping={"groups": ["site"], "drop": ["age"]}, key_file=key
    )
    scored = score_responses(
        MINI,
        pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""]),
        id_column="respondent_id",
        group_columns=["site"],
        ignore_columns=["age", "full_name", "email"],
    )
    columns = ["kind", "row", "column", "reason"]
    ours = result.issues[columns].sort_values(["row", "column"]).reset_index(drop=True)
    theirs = scored.issues[columns].sort_values(["row", "column"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(ours, theirs)
    cells = result.issues[result.issues["kind"] == "cell"]
    assert (
        cells["value"].tolist() == scored.issues[scored.issues["kind"] == "cell"]["value"].tolist()
    )
    # ids in the report are pseudonyms, never the source's ids
    source_ids = set(pd.read_csv(path, dtype=str)["respondent_id"].dropna())
    reported = set(result.issues["respondent_id"].dropna()) | set(result.issues["value"].dropna())
    assert not source_ids & reported
    report = result.report
    _identity(report)
    assert report.rows_invalid_id == 2
    assert (report.rows_imported, report.rows_quarantined) == (38, 2)


def test_strict_imports_nothing_and_writes_the_quarantine(tmp_path: Path, key: Path) -> None:
    path = _broken_csv(tmp_path)
    out = tmp_path / "strict.parquet"
    with pytest.raises(InvalidResponsesError) as caught:
        analysis.import_cohort(
            path,
            MINI,
            mapping={"groups": ["site"], "drop": ["age"]},
            key_file=key,
            output=out,
            strict=True,
        )
    assert not out.exists()
    quarantine = pd.read_csv(tmp_path / "strict.quarantine.csv")
    assert isinstance(caught.value.issues, pd.DataFrame)
    assert len(quarantine) == len(caught.value.issues) == 5


def test_unmatched_columns_are_warned_and_reported(key: Path) -> None:
    result = analysis.import_cohort(FIXTURES / "plain_mini.csv", MINI, key_file=key)
    unmatched = {w.column for w in result.report.warnings if w.code == "unmatched_column"}
    assert unmatched == {"site", "age"}
    column_issues = result.issues[result.issues["kind"] == "column"]
    assert set(column_issues["column"]) == {"site", "age"}
    assert column_issues["reason"].str.contains("matches no item of mini; ignored").all()


def test_off_by_one_warning(key: Path) -> None:
    result = analysis.import_cohort(FIXTURES / "offbyone_mini.csv", MINI, key_file=key)
    off = {w.column: w.message for w in result.report.warnings if w.code == "off_by_one"}
    assert set(off) == {"M1", "M2", "M3", "M4"}
    assert "observed 0..4 on a 1..5 scale" in off["M1"]
    fixed = analysis.import_cohort(
        FIXTURES / "offbyone_mini.csv",
        MINI,
        mapping={"recode": [{"items": "all", "offset": 1}]},
        key_file=key,
    )
    assert not [w for w in fixed.report.warnings if w.code == "off_by_one"]
    plain = analysis.import_cohort(FIXTURES / "plain_mini.csv", MINI, key_file=key)
    np.testing.assert_array_equal(
        fixed.frame[["M1", "M2", "M3", "M4"]], plain.frame[["M1", "M2", "M3", "M4"]]
    )


def test_unreversed_item_warning(key: Path) -> None:
    result = analysis.import_cohort(FIXTURES / "unreversed_ppai.csv", "ppai@1.0.0", key_file=key)
    negative = [w for w in result.report.warnings if w.code == "negative_item_rest"]
    assert [w.column for w in negative] == ["FF4"]
    assert "reversed twice" in negative[0].message
    assert "fault_finding" in negative[0].message


def test_recode_map_of_labels_and_missing(tmp_path: Path, key: Path) -> None:
    frame = pd.DataFrame(
        {
            "id": ["a1", "a2", "a3", "a4"],
            "q1": ["Totally", "Not really", "Refused", "3"],
            "M2": ["1", "2", "3", "4"],
        }
    )
    path = tmp_path / "labels.csv"
    frame.to_csv(path, index=False)
    mapping = {
        "id_column": "id",
        "items": {"q1": "M1"},
        "recode": [
            {"items": ["M1"], "map": {"Totally": 5, "not really": 2}, "missing": ["Refused"]}
        ],
    }
    result = analysis.import_cohort(path, MINI, mapping=mapping, key_file=key)
    assert result.frame["M1"].tolist()[:2] == [5.0, 2.0]
    assert np.isnan(result.frame["M1"].iloc[2])
    assert result.frame["M1"].iloc[3] == 3.0
    assert "M1" in result.report.recoded


# ---------------------------------------------------------------------------------------------
# the cohort file and its ledger
# ---------------------------------------------------------------------------------------------
def test_cohort_file_metadata(tmp_path: Path, key: Path) -> None:
    out = tmp_path / "c.parquet"
    analysis.import_cohort(
        FIXTURES / "plain_mini.csv", MINI, key_file=key, output=out, mapping={"groups": ["site"]}
    )
    meta = read_metadata(out)
    assert meta is not None
    assert meta["kind"] == "surveytool.cohort"
    assert (meta["instrument_id"], meta["instrument_version"], meta["instrument_hash"]) == (
        "mini",
        "1.0.0",
        MINI.content_hash,
    )
    entry = meta["ledger"]["imports"][0]
    assert entry["sha256"] == read_source(FIXTURES / "plain_mini.csv").sha256
    assert entry["rows_read"] == 40
    assert len(meta["ledger"]["respondents"]) == 40
    assert meta["disclosure"]["k_anonymity"]["quasi_identifiers"] == []
    frame = pd.read_parquet(out)
    assert frame["M1"].dtype == np.float64
    assert json.loads((tmp_path / "c.disclosure.json").read_text())["rows"] == 40
    assert "Dropped columns" in (tmp_path / "c.disclosure.txt").read_text()


def test_second_import_of_the_same_file_adds_nothing(tmp_path: Path, key: Path) -> None:
    out = tmp_path / "c.parquet"
    first = analysis.import_cohort(
        FIXTURES / "qualtrics_ppai.csv",
        "ppai@1.0.0",
        mapping=QUALTRICS_MAP,
        key_file=key,
        output=out,
    )
    before = out.read_bytes()
    second = analysis.import_cohort(
        FIXTURES / "qualtrics_ppai.csv",
        "ppai@1.0.0",
        mapping=QUALTRICS_MAP,
        key_file=key,
        output=out,
    )
    report = second.report
    _identity(report)
    assert report.already_imported
    assert report.rows_imported == 0
    assert report.duplicates == first.report.rows_imported == 12
    assert report.rows_quarantined == first.report.rows_quarantined
    assert out.read_bytes() == before
    assert len(pd.read_parquet(out)) == 12


def test_appending_adds_new_respondents_only(tmp_path: Path, key: Path) -> None:
    source = pd.read_csv(FIXTURES / "plain_mini.csv", dtype=str)
    first, second = tmp_path / "wave_a.csv", tmp_path / "wave_b.csv"
    source.iloc[:25].to_csv(first, index=False)
    source.iloc[15:].to_csv(second, index=False)  # rows 15-24 are in both files
    out = tmp_path / "c.parquet"
    a = analysis.import_cohort(
        first, MINI, key_file=key, output=out, mapping={"drop": ["site", "age"]}
    )
    b = analysis.import_cohort(
        second, MINI, key_file=key, output=out, mapping={"drop": ["site", "age"]}
    )
    _identity(b.report)
    assert (a.report.rows_imported, b.report.rows_imported, b.report.duplicates) == (25, 15, 10)
    cohort = pd.read_parquet(out)
    assert len(cohort) == 40
    assert cohort["pseudonym"].is_unique
    assert cohort["import_batch"].value_counts().to_dict() == {1: 25, 2: 15}
    meta = read_metadata(out)
    assert meta is not None
    assert [e["batch"] for e in meta["ledger"]["imports"]] == [1, 2]
    whole = analysis.import_cohort(
        FIXTURES / "plain_mini.csv", MINI, key_file=key, mapping={"drop": ["site", "age"]}
    )
    assert sorted(cohort["pseudonym"]) == sorted(whole.frame["pseudonym"])


def test_appending_refuses_another_key_or_layout(tmp_path: Path, key: Path) -> None:
    out = tmp_path / "c.parquet"
    analysis.import_cohort(FIXTURES / "plain_mini.csv", MINI, key_file=key, output=out)
    with pytest.raises(CohortFileError, match="another pseudonym key"):
        analysis.import_cohort(
            FIXTURES / "plain_mini.csv", MINI, key_file=tmp_path / "other.key", output=out
        )
    with pytest.raises(CohortFileError, match="group columns"):
        analysis.import_cohort(
            FIXTURES / "plain_mini.csv",
            MINI,
            key_file=key,
            output=out,
            mapping={"groups": ["site"]},
        )
    with pytest.raises(CohortFileError, match="holds mini"):
        analysis.import_cohort(
            FIXTURES / "unreversed_ppai.csv", "ppai@1.0.0", key_file=key, output=out
        )


def test_output_that_is_not_a_cohort_is_left_alone(tmp_path: Path, key: Path) -> None:
    out = tmp_path / "other.parquet"
    pd.DataFrame({"x": [1, 2]}).to_parquet(out)
    before = out.read_bytes()
    with pytest.raises(CohortFileError, match="not a surveytool cohort"):
        analysis.import_cohort(FIXTURES / "plain_mini.csv", MINI, key_file=key, output=out)
    assert out.read_bytes() == before
    with pytest.raises(CohortFileError, match="Parquet"):
        analysis.import_cohort(
            FIXTURES / "plain_mini.csv", MINI, key_file=key, output=tmp_path / "c.csv"
        )


@pytest.mark.parametrize(
    ("name", "mapping", "k"),
    [
        ("qualtrics_ppai.csv", "qualtrics_ppai.map.yaml", None),
        ("qualtrics_ppai.csv", "qualtrics_ppai.map.yaml", 2),
        ("qualtrics_legacy.csv", "qualtrics_legacy.map.yaml", None),
        ("redcap_raw.csv", None, None),
        ("spss_ppai.sav", None, None),
        ("plain_mini.csv", {"quasi_identifiers": {"age": {"generalize": "age_band"}}}, 3),
        (
            "plain_mini.csv",
            {"quasi_identifiers": {"age": {"generalize": "age_band", "width": 5}}},
            4,
        ),
    ],
)
def test_row_count_identity(
    tmp_path: Path, key: Path, name: str, mapping: dict[str, Any] | str | None, k: int | None
) -> None:
    instrument = MINI if "mini" in name else PPAI
    if isinstance(mapping, str):
        mapping = load_mapping(FIXTURES / mapping).mapping.model_dump(exclude_unset=True)
    out = tmp_path / "c.parquet"
    result = analysis.import_cohort(
        FIXTURES / name, instrument, mapping=mapping, key_file=key, k=k, output=out
    )
    _identity(result.report)
    assert len(pd.read_parquet(out)) == result.report.rows_imported
    assert result.report.counts_line().startswith(f"rows read {result.report.rows_read} = ")
    again = analysis.import_cohort(
        FIXTURES / name, instrument, mapping=mapping, key_file=key, k=k, output=out
    )
    _identity(again.report)
    assert again.report.rows_imported == 0


# ---------------------------------------------------------------------------------------------
# the mapping file
# ---------------------------------------------------------------------------------------------
def test_mapping_errors_are_located(tmp_path: Path) -> None:
    path = _write_yaml(
        tmp_path / "bad.yaml",
        "items:\n  q1: M1\nrecode:\n  - items: all\ncolour: blue\nquasi_identifiers:\n"
        "  age: {generalize: age_band, min_count: 3}\n",
    )
    with pytest.raises(MappingError) as caught:
        load_mapping(path)
    text = str(caught.value)
    assert f"{path}:4:" in text and "offset, map or missing" in text
    assert f"{path}:5:" in text and "unknown_field" in text
    assert f"{path}:7:" in text and "min_count does not apply" in text


def test_an_emptied_list_key_means_an_empty_list(tmp_path: Path) -> None:
    """The README's step "list `site` under `groups:`" done by moving the only entry of `drop:`
    leaves `drop:` with nothing under it (YAML null): that is an empty list, not a "valid tuple"
    error. A key holding the wrong kind of value is still refused, in words, not pydantic's."""
    path = _write_yaml(tmp_path / "m.yaml", "groups:\n  - site\ndrop:\nidentifiers:\n")
    mapping = load_mapping(path).mapping
    assert mapping.groups == ("site",) and mapping.drop == () and mapping.identifiers == ()
    bad = _write_yaml(tmp_path / "bad.yaml", "groups:\n  - site\ndrop: 5\n")
    with pytest.raises(MappingError) as caught:
        load_mapping(bad)
    text = str(caught.value)
    assert f"{bad}:3:" in text and "[wrong_type] at drop: should be a list" in text
    assert "tuple" not in text and "drop: drop:" not in text


def test_mapping_checked_against_source_and_instrument(tmp_path: Path, key: Path) -> None:
    path = _write_yaml(
        tmp_path / "m.yaml",
        "id_column: respondent_id\nitems:\n  M1x: M1\n  M2: M9\ngroups: [sitee]\n",
    )
    with pytest.raises(MappingError) as caught:
        analysis.import_cohort(FIXTURES / "plain_mini.csv", MINI, mapping=path, key_file=key)
    problems = {(p.code, p.line) for p in caught.value.report.problems}
    assert problems == {("unknown_column", 3), ("unknown_item", 4), ("unknown_column", 5)}
    assert "Did you mean 'site'?" in str(caught.value)


def test_yaml_syntax_error_is_located(tmp_path: Path) -> None:
    path = _write_yaml(tmp_path / "m.yaml", "items:\n  q1: M1\n  q2 M2\ngroups: [a\n")
    with pytest.raises(MappingError, match=r"m\.yaml:\d+:\d+: \[yaml_syntax\]"):
        load_mapping(path)


def test_map_template_round_trip(tmp_path: Path, key: Path) -> None:
    for name in ("qualtrics_ppai.csv", "redcap_raw.csv", "spss_ppai.sav", "xlsx_ppai.xlsx"):
        table = read_source(FIXTURES / name)
        path = _write_yaml(tmp_path / f"{name}.yaml", mapping_template(table, PPAI))
        mapping = load_mapping(path).mapping
        assert len(mapping.items) + sum(
            1 for c in table.frame.columns if c in PPAI.item_by_id
        ) >= len(ITEMS)
        result = analysis.import_cohort(FIXTURES / name, PPAI, mapping=path, key_file=key)
        _identity(result.report)
        assert not [
            w for w in result.report.warnings if w.code in ("off_by_one", "unmatched_column")
        ]


# ---------------------------------------------------------------------------------------------
# the command line
# ---------------------------------------------------------------------------------------------
def test_cli_import_and_map_template(tmp_path: Path) -> None:
    runner = CliRunner()
    mapping = tmp_path / "m.yaml"
    result = runner.invoke(
        cli,
        [
            "cohort",
            "map-template",
            str(FIXTURES / "qualtrics_ppai.csv"),
            "-i",
            "ppai@1.0.0",
            "-o",
            str(mapping),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "matched 58 of 58 items" in result.output
    out = tmp_path / "c.parquet"
    args = [
        "cohort",
        "import",
        str(FIXTURES / "qualtrics_ppai.csv"),
        "-i",
        "ppai@1.0.0",
        "--map",
        str(mapping),
    ]
    args += ["--key-file", str(tmp_path / "k.key"), "-o", str(out)]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "format: qualtrics (three header rows)" in result.output
    assert "rows read 13 = rows imported 12 + rows quarantined 1" in result.output
    assert "RecipientEmail" in result.output
    assert (tmp_path / "c.disclosure.json").is_file() and (tmp_path / "c.quarantine.csv").is_file()
    again = runner.invoke(cli, args)
    assert again.exit_code == 0
    assert "duplicates 12" in again.output and "(unchanged)" in again.output
    refused = runner.invoke(
        cli,
        [
            "cohort",
            "map-template",
            str(FIXTURES / "qualtrics_ppai.csv"),
            "-i",
            "ppai@1.0.0",
            "-o",
            str(mapping),
        ],
    )
    assert refused.exit_code == 1 and "--force" in refused.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["missing.csv", "-i", "{fx}/mini.yaml"], "no such file"),
        (["{fx}/plain_mini.csv", "-i", "nope"], "no instrument 'nope'"),
        (["{fx}/plain_mini.csv", "-i", "{fx}/mini.yaml", "--map", "{tmp}/bad.yaml"], "bad.yaml:2:"),
        (
            ["{fx}/plain_mini.csv", "-i", "{fx}/mini.yaml", "--map", "{tmp}/none.yaml"],
            "cannot read the mapping",
        ),
        (["{fx}/mini.yaml", "-i", "{fx}/mini.yaml"], "cannot tell the format"),
        (["{fx}/plain_mini.csv", "-i", "{fx}/mini.yaml", "--strict"], "--strict"),
        (["{tmp}/latin1.csv", "-i", "{fx}/mini.yaml"], "not UTF-8"),
        (["{fx}/qualtrics_ppai.csv", "-i", "ppai@1.0.0"], "cohort map-template"),
        (["{fx}/plain_mini.csv", "-i", "{fx}/mini.yaml", "--format", "xlsx"], "Excel workbook"),
    ],
)
def test_cli_bad_input_has_no_traceback(tmp_path: Path, args: list[str], expected: str) -> None:
    (tmp_path / "bad.yaml").write_text("groups: [site]\nitems: [1, 2]\n")
    (tmp_path / "latin1.csv").write_bytes("respondent_id,M1\nJos\xe9,3\n".encode("latin-1"))
    filled = [a.format(fx=FIXTURES, tmp=tmp_path) for a in args]
    filled += ["--key-file", str(tmp_path / "k.key"), "-o", str(tmp_path / "c.parquet")]
    result = CliRunner().invoke(cli, ["cohort", "import", *filled])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    assert expected in result.output


def test_surveytool_help_does_not_import_analysis() -> None:
    # the cohort group is analysis' own (analysis.cli, loaded by name): `surveytool --help` lists
    # it without importing analysis; `cohort --help` is tested in tests/surveytool/cli
    code = (
        "import sys\nfrom surveytool.cli import cli\n"
        "try:\n    cli(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('analysis' in sys.modules, 'pandas' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False False"


def test_parquet_metadata_holds_the_disclosure_report(tmp_path: Path, key: Path) -> None:
    out = tmp_path / "c.parquet"
    analysis.import_cohort(FIXTURES / "redcap_raw.csv", "ppai@1.0.0", key_file=key, output=out)
    schema = pq.read_schema(out)
    meta = json.loads(schema.metadata[b"surveytool"])
    dropped = {d["column"] for d in meta["disclosure"]["dropped_columns"]}
    assert {"first_name", "last_name", "email", "phone", "dob"} <= dropped
    assert meta["wave_columns"] == ["redcap_event_name"]


def test_the_quarantine_keeps_every_import(tmp_path: Path, key: Path) -> None:
    """Each import adds its lines (import_batch, source), a refused one with no batch; a report
    written before import_batch existed is kept as the last import's; a formula-like cell stays
    escaped once."""
    from analysis.cohort.records import read_quarantine

    mapping = {"groups": ["site"], "drop": ["age"]}
    broken = _broken_csv(tmp_path)
    frame = pd.read_csv(broken, dtype=str)
    frame["respondent_id"] = [f"B{v}" for v in frame["respondent_id"]]
    frame.loc[3, "M3"] = "=cmd()"  # not a label, and a formula to a spreadsheet
    second = tmp_path / "second.csv"
    frame.to_csv(second, index=False)
    out = tmp_path / "c.parquet"
    quarantine = tmp_path / "c.quarantine.csv"
    first = analysis.import_cohort(broken, MINI, mapping=mapping, key_file=key, output=out)
    assert list(read_quarantine(quarantine)["import_batch"]) == ["1"] * len(first.issues)
    # as an older version wrote it: the last import's issues only, no import_batch column
    old = read_quarantine(quarantine).drop(columns=["import_batch", "source"])
    old.to_csv(quarantine, index=False)
    with pytest.raises(InvalidResponsesError):
        analysis.import_cohort(second, MINI, mapping=mapping, key_file=key, output=out, strict=True)
    again = analysis.import_cohort(second, MINI, mapping=mapping, key_file=key, output=out)
    lines = read_quarantine(quarantine)
    n1, n2 = len(first.issues), len(again.issues)
    assert lines["import_batch"].tolist() == ["1"] * n1 + [""] * n2 + ["2"] * n2
    assert lines["source"].tolist() == [first.report.source] * n1 + [again.report.source] * 2 * n2
    assert (lines["value"] == "=cmd()").sum() == 2  # read back as written, escaped in the file
    assert quarantine.read_text().count("'=cmd()") == 2
    assert "''=" not in quarantine.read_text()
    from analysis.cohort import open_cohort

    for entry in open_cohort(out).ledger.imports:
        batch = lines[lines["import_batch"] == str(entry.batch)]
        assert (batch["kind"] == "row").sum() == entry.rows_quarantined
    # the same file once more changes nothing: no lines added
    analysis.import_cohort(second, MINI, mapping=mapping, key_file=key, output=out)
    assert len(read_quarantine(quarantine)) == len(lines)
