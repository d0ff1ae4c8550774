"""One problem type and one code list (surveytool.problems)."""

from __future__ import annotations

import pandas as pd

from surveytool.problems import (
    CODES,
    IMPORT_CODES,
    INSTRUMENT_CODES,
    INTERCHANGE_CODES,
    ISSUE_COLUMNS,
    MAPPING_CODES,
    RESPONSE_CODES,
    RESPONSE_KIND,
    Problem,
    Report,
    concat_issues,
    flatten,
    issue_frame,
    issue_lines,
    issue_problems,
    issue_record,
)


def test_one_code_list_without_clashes():
    lists = (INSTRUMENT_CODES, RESPONSE_CODES, MAPPING_CODES, IMPORT_CODES, INTERCHANGE_CODES)
    assert sum(len(codes) for codes in lists) == len(CODES)  # no code in two lists
    assert all(hint.strip() for hint in CODES.values())
    assert set(RESPONSE_CODES) <= set(RESPONSE_KIND) <= set(CODES)


def test_issue_frame_has_the_documented_columns_and_types():
    empty = issue_frame()
    assert tuple(empty.columns) == ISSUE_COLUMNS
    assert str(empty["row"].dtype) == "Int64"
    frame = issue_frame(
        [
            issue_record("off_scale", "off the scale 1..5", row=2, column="Q1", value="7"),
            issue_record("unmatched_column", "matches no item", column="extra"),
        ]
    )
    assert frame["kind"].tolist() == ["cell", "column"]
    assert flatten(frame) == [("off_scale", 2, "Q1"), ("unmatched_column", None, "extra")]
    both = concat_issues([frame, issue_frame(), frame])
    assert len(both) == 4 and str(both["row"].dtype) == "Int64"
    assert tuple(concat_issues([]).columns) == ISSUE_COLUMNS


def test_issues_as_problems_carry_code_where_and_hint():
    frame = issue_frame(
        [issue_record("not_an_answer", "not a label", row=3, column="Q2", value="lots")]
    )
    (found,) = issue_problems(frame, file="r.csv")
    assert found == Problem(
        code="not_an_answer",
        message="not a label",
        hint=CODES["not_an_answer"],
        file="r.csv",
        row=3,
        field="Q2",
        value="lots",
    )
    assert found.as_dict()["row"] == 3


def test_issue_lines_show_counts_and_codes():
    frame = issue_frame([issue_record("off_scale", "off the scale 1..5", row=2, column="Q1")])
    lines = issue_lines(frame)
    assert lines[0] == "1 issue(s): 1 cell, 0 row, 0 column"
    assert "[off_scale]" in lines[1]


def test_report_collects_problems():
    report = Report(file="x.yaml")
    assert report.ok and report.format_text() == "x.yaml: ok"
    report.problems.append(Problem(code="yaml_syntax", message="bad", line=3, column=1))
    assert report.codes() == ["yaml_syntax"]
    assert "x.yaml:3:1: [yaml_syntax]" in report.format_text()
    assert isinstance(pd.DataFrame(report.as_dict()["problems"]), pd.DataFrame)
