"""``cohort import`` and ``map-template`` on ids, names and numbers that used to go wrong
(issue 12, finding 12). Real files in a temporary folder, through the command line.

Instrument: tests/fixtures/cohort/mini.yaml (M1..M4 on a 1..5 scale, M4 reversed, subscale calm).
"""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from surveytool.cli import cli
from surveytool.problems import flatten

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cohort"
MINI = FIXTURES / "mini.yaml"


def run(*args: str | Path) -> Result:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


def _import(tmp_path: Path, source: Path, *more: str | Path, out: str = "c.parquet") -> Result:
    return run(
        "cohort", "import", source, "-i", MINI, "--key-file", tmp_path / "k.key",
        "-o", tmp_path / out, *more,
    )  # fmt: skip


def _quarantine(tmp_path: Path, stem: str = "c") -> pd.DataFrame:
    return pd.read_csv(tmp_path / f"{stem}.quarantine.csv", dtype=str)


def test_an_exact_item_id_wins_over_a_column_named_alike(tmp_path: Path) -> None:
    source = tmp_path / "r.csv"
    source.write_text("respondent_id,m1,M1,M2,M3,M4\na,5,1,2,3,4\nb,5,2,3,4,5\n", "utf-8")
    result = _import(tmp_path, source)
    assert result.exit_code == 0, result.output
    cohort = pd.read_parquet(tmp_path / "c.parquet")
    assert cohort["M1"].tolist() == [1.0, 2.0]  # M1, not m1
    # the dropped m1 is explained by the item and the column it is taken from (was "named
    # like item 'm1', which is mapped from None")
    assert "m1: named like item 'M1', which is mapped from column 'M1'" in result.output
    template = run("cohort", "map-template", source, "-i", MINI, "-o", tmp_path / "m.yaml")
    assert template.exit_code == 0, template.output
    text = (tmp_path / "m.yaml").read_text("utf-8")
    assert '"M1": "M1"' in text or "M1: M1" in text, text


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".xlsx"])
def test_float_ids_are_one_respondent_in_every_format(tmp_path: Path, suffix: str) -> None:
    rows = {"respondent_id": ["1", "1.0", "2"], "M1": [1, 2, 3], "M2": [1, 2, 3]}
    source = tmp_path / f"r{suffix}"
    if suffix == ".csv":
        source.write_text("respondent_id,M1,M2\n1,1,1\n1.0,2,2\n2,3,3\n", "utf-8")
    elif suffix == ".parquet":
        pd.DataFrame({**rows, "respondent_id": [1.0, 1.0, 2.0]}).to_parquet(source)
    else:
        book = openpyxl.Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.append(["respondent_id", "M1", "M2"])
        for values in ([1.0, 1, 1], ["1.0", 2, 2], [2, 3, 3]):  # a number, then text
            sheet.append(values)
        book.save(source)
    result = _import(tmp_path, source)
    assert result.exit_code == 0, result.output
    dup = [f for f in flatten(_quarantine(tmp_path)) if f[0] == "duplicate_respondent_id"]
    assert [(code, row) for code, row, _ in dup] == [("duplicate_respondent_id", 2)]
    assert "first at row 1" in _quarantine(tmp_path)["reason"].str.cat()


def test_ids_keep_their_leading_zeros(tmp_path: Path) -> None:
    source = tmp_path / "r.csv"
    source.write_text("respondent_id,M1\n007,1\n7,2\n7.0,3\n", "utf-8")
    result = _import(tmp_path, source)
    assert result.exit_code == 0, result.output
    dup = [f for f in flatten(_quarantine(tmp_path)) if f[0] == "duplicate_respondent_id"]
    assert [row for _, row, _ in dup] == [3]  # 7.0 repeats 7; 007 is another respondent


def test_a_group_column_named_like_a_score_column_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "r.csv"
    source.write_text("respondent_id,M1,M2,calm\na,1,2,x\nb,2,3,y\n", "utf-8")
    mapping = tmp_path / "m.yaml"
    mapping.write_text("instrument: mini\ngroups: [calm]\n", "utf-8")
    result = _import(tmp_path, source, "--map", mapping)
    assert result.exit_code == 1
    assert "calm" in result.output and "scale calm" in result.output
    assert not (tmp_path / "c.parquet").exists()


def test_a_number_is_read_from_its_decimal_text(tmp_path: Path) -> None:
    source = tmp_path / "r.csv"
    source.write_text(
        "respondent_id,M1,M2,M3\na,2.9999999999999999,3,3.0\nb,3.0000000000000001,1e0,2\n", "utf-8"
    )
    result = _import(tmp_path, source)
    assert result.exit_code == 0, result.output
    bad = [(c, r, col) for c, r, col in flatten(_quarantine(tmp_path)) if col == "M1"]
    assert bad == [("not_whole_number", 1, "M1"), ("not_whole_number", 2, "M1")]
    cohort = pd.read_parquet(tmp_path / "c.parquet")
    assert cohort["M3"].tolist() == [3.0, 2.0] and cohort["M2"].tolist() == [3.0, 1.0]


def test_a_duplicate_id_in_a_qualtrics_export_points_at_the_first_row(tmp_path: Path) -> None:
    header = "StartDate,EndDate,Status,ResponseId,Finished,M1,M2\n"
    text = "Start Date,End Date,Response Type,Response ID,Finished,First,Second\n"
    blobs = ",".join(f'"{{""ImportId"":""{n}""}}"' for n in ("a", "b", "c", "d", "e", "f", "g"))
    rows = [
        "2026-01-01,2026-01-01,Survey Preview,R_p,True,1,1",
        "2026-01-01,2026-01-01,IP Address,R_a,True,2,2",
        "2026-01-01,2026-01-01,IP Address,R_b,True,3,3",
        "2026-01-01,2026-01-01,IP Address,R_a,True,4,4",
    ]
    source = tmp_path / "q.csv"
    source.write_text(header + text + blobs + "\n" + "\n".join(rows) + "\n", "utf-8")
    result = _import(tmp_path, source)
    assert result.exit_code == 0, result.output
    quarantine = _quarantine(tmp_path)
    dup = quarantine[quarantine["code"] == "duplicate_respondent_id"]
    assert dup["row"].tolist() == ["4"]
    assert "first at row 2" in dup["reason"].iloc[0], dup["reason"].iloc[0]
    excluded = quarantine[quarantine["code"] == "row_excluded"]
    assert excluded["row"].tolist() == ["1"]


def test_the_ledger_and_report_agree_on_counts_after_float_ids(tmp_path: Path) -> None:
    source = tmp_path / "r.csv"
    source.write_text("respondent_id,M1\n1,1\n1.0,2\n", "utf-8")
    assert _import(tmp_path, source).exit_code == 0
    again = tmp_path / "r2.parquet"
    pd.DataFrame({"respondent_id": [1.0], "M1": [3]}).to_parquet(again)
    result = _import(tmp_path, again)
    assert result.exit_code == 0, result.output
    assert "rows imported 0" in result.output, result.output  # the same respondent 1
    meta = json.loads(json.dumps(pd.read_parquet(tmp_path / "c.parquet").shape))
    assert meta[0] == 1


def test_many_dropped_columns_are_listed_up_to_a_limit(tmp_path: Path) -> None:
    """A file of 10^6 columns printed 10^6 "dropped" lines and as many warnings (126 MB on the
    terminal); now the first 20 of each and how many more (the disclosure report has all)."""
    extra = [f"x{i}" for i in range(45)]
    source = tmp_path / "r.csv"
    source.write_text(
        ",".join(["respondent_id", "M1", "M2", "M3", "M4", *extra]) + "\n"
        + ",".join(["a", "1", "2", "3", "4", *["1"] * len(extra)]) + "\n",
        "utf-8",
    )  # fmt: skip
    result = _import(tmp_path, source)
    assert result.exit_code == 0, result.output
    assert "dropped 45 column(s)" in result.output
    assert "  ... and 25 more in the disclosure report" in result.output
    assert "x19: " in result.output and "x20: " not in result.output
    assert "x44" in (tmp_path / "c.disclosure.txt").read_text("utf-8")  # every one is there


def test_a_wide_file_names_some_dropped_columns_counts_the_rest_and_lists_all_apart(
    tmp_path: Path,
) -> None:
    """10^6 unmatched columns were 10^6 warnings, quarantine lines and disclosure entries (in
    the Parquet metadata too: minutes, gigabytes). Now each report names COLUMNS_LISTED of each
    reason and counts the rest; the columns file has every column. The counts add up, and no
    name that looks like an identifier or a formula reaches a report as it is."""
    from analysis.privacy.disclosure import COLUMNS_LISTED

    extra = [f"x{i}" for i in range(COLUMNS_LISTED + 150)]
    extra[3] = "jane.doe@example.com"  # a header that is an address: named, redacted
    extra[-1] = "=HYPERLINK(1)"  # past the limit: only the columns file names it, escaped
    header = ["respondent_id", "M1", "M2", "M3", "M4", "email", *extra]
    rows = [
        ["a", "1", "2", "3", "4", "a@example.org", *["1"] * len(extra)],
        ["b", "2", "3", "4", "5", "b@example.org", *["2"] * len(extra)],
    ]
    source = tmp_path / "r.csv"
    source.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n", "utf-8")
    result = _import(tmp_path, source)
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert f"dropped {len(extra) + 1} column(s)" in flat
    assert "jane.doe" not in result.output and "HYPERLINK" not in result.output
    assert "more in c.columns.csv" in flat

    disclosure = json.loads((tmp_path / "c.disclosure.json").read_text("utf-8"))
    listed = disclosure["dropped_columns"]
    left = disclosure["dropped_not_listed"]
    assert disclosure["dropped_count"] == len(extra) + 1
    assert len(listed) + sum(r["count"] for r in left) == disclosure["dropped_count"]
    assert left == [
        {"role": "unmatched", "reason": "matches no item and is not declared", "count": 150}
    ]
    assert [d["column"] for d in listed if d["role"] == "identifier"] == ["email"]
    names = [d["column"] for d in listed if d["role"] == "unmatched"]
    assert len(names) == COLUMNS_LISTED and names[:3] == ["x0", "x1", "x2"]
    assert names[3].startswith("<redacted: looks like e-mail")
    assert disclosure["columns_file"] == "c.columns.csv"
    text = (tmp_path / "c.disclosure.txt").read_text("utf-8")
    assert "... and 150 more: matches no item and is not declared" in text
    assert "c.columns.csv" in text
    for report in (text, json.dumps(disclosure)):
        assert "jane.doe" not in report and "HYPERLINK" not in report

    # the columns file: every source column once, in order, formulas escaped
    columns = pd.read_csv(tmp_path / "c.columns.csv", dtype=str, keep_default_na=False)
    assert columns["column"].tolist()[:-1] == header[:-1]
    assert columns["column"].iat[-1] == "'=HYPERLINK(1)"
    assert (columns["role"] == "unmatched").sum() == len(extra)
    assert columns.loc[columns["column"] == "email", "detected"].item().startswith("e-mail")

    # the warnings and the quarantine: COLUMNS_LISTED by name, one line for the rest
    stored = json.loads(pq.read_schema(tmp_path / "c.parquet").metadata[b"surveytool"])
    warnings = [w for w in stored["last_import"]["warnings"] if w["code"] == "unmatched_column"]
    assert len(warnings) == COLUMNS_LISTED + 1
    assert [w["column"] for w in warnings[:3]] == ["x0", "x1", "x2"]
    assert warnings[-1]["column"] is None and warnings[-1]["message"].startswith("150 more")
    assert stored["last_import"]["columns"] == {"read": len(header), "unmatched": len(extra)}
    assert stored["disclosure"]["dropped_count"] == len(extra) + 1
    quarantine = _quarantine(tmp_path)
    unmatched = quarantine[quarantine["code"] == "unmatched_column"]
    named = unmatched[unmatched["column"].notna()]
    assert len(named) == COLUMNS_LISTED and named["column"].iat[0] == "x0"
    assert "jane.doe" not in quarantine.to_csv()
    rest = unmatched[unmatched["column"].isna()]
    assert rest["value"].tolist() == ["150"]
    assert len(named) + int(rest["value"].item()) == len(extra)


def test_the_template_of_a_very_wide_file_says_unmatched_drop_and_loads_back(
    tmp_path: Path,
) -> None:
    """map-template listed every undeclared column under drop: (10^6 columns: a 40 MB mapping,
    over the size a mapping may have, so it could not be read back). Past TEMPLATE_LISTED it
    writes unmatched: drop, and the import drops them without a warning or a quarantine line
    each, counting them."""
    from analysis.mapping.template import TEMPLATE_LISTED
    from analysis.privacy.identifiers import UNMATCHED_DROPPED

    extra = [f"x{i}" for i in range(TEMPLATE_LISTED + 5)]
    source = tmp_path / "r.csv"
    source.write_text(
        ",".join(["respondent_id", "M1", "M2", "M3", "M4", "email", "age", *extra]) + "\n"
        + "\n".join(
            ",".join([who, "1", "2", "3", "4", f"{who}@example.org", "40", *["1"] * len(extra)])
            for who in ("a", "b")
        ) + "\n",
        "utf-8",
    )  # fmt: skip
    mapping = tmp_path / "m.yaml"
    made = run("cohort", "map-template", source, "-i", MINI, "-o", mapping)
    assert made.exit_code == 0, made.output
    text = mapping.read_text("utf-8")
    assert len(text) < 5000 and '"x7"' not in text.split("unmatched:")[0]
    assert f"unmatched: drop   # the {len(extra) + 1:,} other columns" in text
    assert '- "email"' in text  # identifiers are still listed, one by one
    assert '#   "age": {generalize: age_band' in text  # and quasi-identifier candidates

    result = _import(tmp_path, source, "--map", mapping)
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert f"{len(extra) + 1:,} column(s) that match no item of mini were dropped" in flat
    assert "unmatched_column" not in flat
    quarantine = tmp_path / "c.quarantine.csv"
    assert not quarantine.exists() or "unmatched_column" not in quarantine.read_text("utf-8")
    disclosure = json.loads((tmp_path / "c.disclosure.json").read_text("utf-8"))
    listed = disclosure["dropped_columns"]
    assert disclosure["dropped_count"] == len(extra) + 2  # and email, age
    assert len(listed) + sum(r["count"] for r in disclosure["dropped_not_listed"]) == len(extra) + 2
    assert {d["role"] for d in listed if d["reason"] == UNMATCHED_DROPPED} == {"drop"}
    assert (tmp_path / "c.columns.csv").is_file()


def test_a_mapping_says_warn_or_drop_for_unmatched_columns(tmp_path: Path) -> None:
    source = tmp_path / "r.csv"
    source.write_text("respondent_id,M1,M2,M3,M4,site\na,1,2,3,4,x\nb,2,3,4,5,y\n", "utf-8")
    mapping = tmp_path / "m.yaml"
    mapping.write_text("unmatched: keep\n", "utf-8")
    refused = _import(tmp_path, source, "--map", mapping)
    assert refused.exit_code != 0
    assert "m.yaml" in refused.output and "unmatched" in refused.output, refused.output
    for how, warned in (("warn", True), ("drop", False)):
        mapping.write_text(f"unmatched: {how}\n", "utf-8")
        result = _import(tmp_path, source, "--map", mapping, out=f"{how}.parquet")
        assert result.exit_code == 0, result.output
        assert ("column 'site' matches no item" in " ".join(result.output.split())) == warned
        dropped = json.loads((tmp_path / f"{how}.disclosure.json").read_text("utf-8"))
        assert [d["column"] for d in dropped["dropped_columns"]] == ["site"]


def test_a_wide_parquet_source_is_read_for_the_columns_an_import_needs(tmp_path: Path) -> None:
    """Every column of a wide Parquet file was read (pyarrow: 11 s at 10^5 columns); now the
    columns the mapping names or that are named like an item or an id, the others named from
    the schema and dropped as for a CSV (a column named like an identifier is read, so its
    values are checked too). The cohort is the
    CSV's."""
    from analysis.privacy.identifiers import UNMATCHED_REASON

    extra = [f"x{i}" for i in range(300)]
    frame = pd.DataFrame(
        [
            ["a", 1, 2, 3, 4, "a@example.org", "north", *[1] * len(extra)],
            ["b", 2, 3, 4, 5, "b@example.org", "south", *[2] * len(extra)],
            ["c", 3, 4, 5, 1, "c@example.org", "north", *[3] * len(extra)],
        ],
        columns=["respondent_id", "M1", "m2", "M3", "M4", "email", "site", *extra],
    )
    frame.to_parquet(tmp_path / "r.parquet", index=False)
    frame.to_csv(tmp_path / "r.csv", index=False)
    mapping = tmp_path / "m.yaml"
    mapping.write_text("groups: [site]\n", "utf-8")
    for suffix in ("parquet", "csv"):
        result = _import(
            tmp_path, tmp_path / f"r.{suffix}", "--map", mapping, out=f"{suffix}.parquet"
        )
        assert result.exit_code == 0, result.output
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "parquet.parquet"), pd.read_parquet(tmp_path / "csv.parquet")
    )
    cohort = pd.read_parquet(tmp_path / "parquet.parquet")
    assert "email" not in cohort.columns and cohort["site"].tolist() == ["north", "south", "north"]
    columns = pd.read_csv(tmp_path / "parquet.columns.csv", dtype=str, keep_default_na=False)
    read = ["respondent_id", "M1", "m2", "M3", "M4", "email", "site"]  # then the rest
    assert columns["column"].tolist() == [*read, *extra]  # every column, read or not
    email = columns[columns["column"] == "email"].iloc[0]
    assert email["role"] == "identifier"  # named like one: read, its values checked too
    assert email["detected"].startswith("e-mail addresses (column name, values)")
    assert set(columns.loc[columns["column"].isin(extra), "reason"]) == {UNMATCHED_REASON}
    disclosure = json.loads((tmp_path / "parquet.disclosure.json").read_text("utf-8"))
    assert disclosure["dropped_count"] == len(extra) + 1
    quarantine = _quarantine(tmp_path, "parquet")
    unmatched = quarantine[quarantine["code"] == "unmatched_column"]
    assert unmatched["column"].dropna().tolist()[:2] == ["x0", "x1"]
    assert unmatched["value"].dropna().tolist() == [str(len(extra) - 100)]


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_a_repeated_column_is_reported_as_repeated_by_score_and_import(
    tmp_path: Path, suffix: str
) -> None:
    # M1 twice: the first is read, and the copy is called a repeat of M1 (it was an unknown
    # column 'M1.1' that "matches no item")
    source = tmp_path / f"r{suffix}"
    header: list[object] = ["respondent_id", "M1", "M2", "M3", "M4", "M1"]
    rows: list[list[object]] = [["a", 1, 2, 3, 4, 5], ["b", 2, 3, 4, 5, 1]]
    if suffix == ".csv":
        source.write_text("\n".join(",".join(map(str, r)) for r in [header, *rows]) + "\n")
    else:
        book = openpyxl.Workbook()
        for r in [header, *rows]:
            book.active.append(r)
        book.save(source)
    scored = run(
        "score", source, "-i", MINI, "--id-column", "respondent_id", "-o", tmp_path / "s.csv"
    )
    assert scored.exit_code == 0, scored.output
    assert "column 'M1': column appears twice; the first is used" in scored.output
    assert "M1.1" not in scored.output
    report = pd.read_csv(tmp_path / "s.quarantine.csv", dtype=str)
    assert report.loc[report["code"] == "duplicate_column", "column"].tolist() == ["M1"]
    assert "unmatched_column" not in set(report["code"])
    imported = _import(tmp_path, source)
    assert imported.exit_code == 0, imported.output
    flat = " ".join(imported.output.split())
    assert "column 'M1' appears twice (the copy is read as 'M1.1'); the first is used" in flat
    assert "matches no item" not in flat
    cohort = pd.read_parquet(tmp_path / "c.parquet")
    assert cohort["M1"].tolist() == [1.0, 2.0] and "M1.1" not in cohort.columns
