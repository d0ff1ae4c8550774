"""ODK Central / Briefcase and KoboToolbox CSV exports in ``cohort import``: group prefixes,
instance ids as respondent ids, select_multiple answers, and 0- vs 1-based codes.

The files are written here in the shapes those systems publish (made-up answers)."""

from __future__ import annotations

import csv
from pathlib import Path

from analysis import import_cohort
from surveytool.io.sources import read_source, ungrouped
from tests.surveytool.interchange.conftest import EVERY_FEATURE

ITEMS_A = ["A1", "A2", "A3", "A4"]
ITEMS_B = ["B1", "B2", "B3"]
ITEMS_C = ["C1", "C2", "C3"]


def _write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _odk_central(path: Path) -> Path:
    header = [
        "SubmissionDate",
        "start",
        "end",
        *(f"part_a-{i}" for i in ITEMS_A),
        *(f"part_b-inner-{i}" for i in ITEMS_B),
        *ITEMS_C,
        "services",
        "meta-instanceID",
        "KEY",
        "SubmitterID",
        "SubmitterName",
        "AttachmentsPresent",
        "AttachmentsExpected",
        "Status",
        "ReviewState",
        "DeviceID",
        "Edits",
        "FormVersion",
    ]
    rows = []
    for n in range(12):
        key = f"uuid:0000{n:04d}-aaaa-bbbb-cccc-ddddeeeeffff"
        a = [str(1 + (n + j) % 5) for j in range(4)]
        b = [str((n + j) % 4) for j in range(3)]
        c = [str(1 + (n * 2 + j) % 5) for j in range(3)]
        if n == 3:
            a[1] = ""
        rows.append(
            [
                "2026-11-30T10:00:00.000Z",
                "2026-11-30T09:50:00.000+01:00",
                "2026-11-30T09:58:00.000+01:00",
                *a,
                *b,
                *c,
                "1 3" if n % 2 else "2",
                key,
                key,
                "7",
                "field-worker",
                "0",
                "0",
                "",
                "received",
                "collect:abc",
                "0",
                "2.1.0",
            ]
        )
    return _write(path, header, rows)


def _kobo(path: Path) -> Path:
    header = [
        "start",
        "end",
        *(f"part_a/{i}" for i in ITEMS_A),
        *(f"part_b/{i}" for i in ITEMS_B),
        *(f"part_c/{i}" for i in ITEMS_C),
        "_id",
        "_uuid",
        "_submission_time",
        "_validation_status",
        "_notes",
        "_status",
        "_submitted_by",
        "__version__",
        "_tags",
        "_index",
    ]
    rows = []
    for n in range(12):
        a = [str(1 + (n + j) % 5) for j in range(4)]
        b = [str(1 + (n + j) % 4) for j in range(3)]  # Kobo choices from 1 on a 0..3 scale
        c = [str(1 + (n * 3 + j) % 5) for j in range(3)]
        rows.append(
            [
                "2026-11-30T09:50:00.000+01:00",
                "2026-11-30T09:58:00.000+01:00",
                *a,
                *b,
                *c,
                str(1000 + n),
                f"1111{n:04d}-2222-3333-4444-555566667777",
                "2026-11-30T09:59:00",
                "",
                "",
                "submitted_via_web",
                "",
                "vabc123",
                "",
                str(n + 1),
            ]
        )
    return _write(path, header, rows)


def test_odk_central_export_is_read_with_its_ids_groups_and_select_multiple(tmp_path: Path):
    table = read_source(_odk_central(tmp_path / "odk.csv"))
    assert (table.format, table.variant) == ("odk", "ODK Central/Briefcase")
    assert table.default_id_column == "KEY"
    assert {"SubmissionDate", "meta-instanceID", "ReviewState", "start"} <= set(
        table.metadata_columns
    )
    assert ungrouped(table, "part_b-inner-B2", {"B2"}) == "B2"
    assert ungrouped(table, "part_b-inner-B2", {"A1"}) is None
    assert table.frame["services"].tolist()[:2] == ["2", "1;3"]
    result = import_cohort(tmp_path / "odk.csv", str(EVERY_FEATURE), key=b"k" * 32)
    report = result.report
    assert report.id_column == "KEY"
    assert report.items["B2"] == "part_b-inner-B2" and report.items["A1"] == "part_a-A1"
    assert set(report.items) == set(ITEMS_A + ITEMS_B + ITEMS_C)
    assert report.rows_read == report.rows_imported == 12
    assert not [w for w in report.warnings if w.code == "off_by_one"]


def test_kobo_export_is_read_and_one_based_codes_are_caught(tmp_path: Path):
    table = read_source(_kobo(tmp_path / "kobo.csv"))
    assert (table.format, table.variant) == ("odk", "KoboToolbox")
    assert table.default_id_column == "_uuid"
    assert {"_id", "_submission_time", "__version__", "_index"} <= set(table.metadata_columns)
    result = import_cohort(tmp_path / "kobo.csv", str(EVERY_FEATURE), key=b"k" * 32)
    report = result.report
    assert report.id_column == "_uuid"
    assert report.items["C3"] == "part_c/C3"
    shifted = {w.column for w in report.warnings if w.code == "off_by_one"}
    assert shifted == set(ITEMS_B)  # 1..4 on the 0..3 scale: the user is told the offset
