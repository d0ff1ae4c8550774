"""``surveytool score``: every input and output format, the quarantine report, --strict, errors.

Instrument: tests/fixtures/scoring/cli.yaml (agree5 1..5 with missing code 9 "Prefer not to say";
alpha = mean of Q1..Q4 with Q4 reversed, min_answered 2; beta = sum of Q5..Q7 with Q7 reversed;
total = alpha + beta; critical Q5 >= 5; norms for alpha by site: A mean 3 sd 1, fallback 2.5/0.5).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest
from click.testing import CliRunner, Result

import surveytool
from surveytool.cli import cli
from surveytool.instrument.registry import load_instrument
from surveytool.io.sources import read_source
from surveytool.io.tables import read_metadata
from tests.frames import num

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "scoring"
INSTRUMENT = FIXTURES / "cli.yaml"
ITEMS = [f"Q{k}" for k in range(1, 8)]
COUNTS = re.compile(r"rows read (\d+) = rows scored (\d+) \+ rows quarantined (\d+)")

# The logical content every input format below encodes (numbers; NaN = not answered).
CLEAN = pd.DataFrame(
    {
        "pid": ["a1", "a2", "b1", "b2", "c1", "c2"],
        "site": ["A", "A", "B", "B", "A", "C"],
        "Q1": [1, 2, 3, 4, 5, np.nan],
        "Q2": [1, 4, 3, np.nan, 5, 2],
        "Q3": [2, 3, np.nan, 4, 5, 1],
        "Q4": [5, 2, 3, 1, np.nan, 4],
        "Q5": [5, 4, 3, 2, 1, 5],
        "Q6": [1, 2, 3, 4, 5, 3],
        "Q7": [1, 2, 3, 4, 5, np.nan],
    }
)


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def score_cli(source: Path, out: Path, *extra: str) -> Result:
    """``surveytool score`` with the fixture instrument, id column pid and group column site."""
    return run(
        "score", "-i", INSTRUMENT, source, "--id-column", "pid", "--group-columns", "site", *extra,
        "-o", out,
    )  # fmt: skip


def counts(stdout: str) -> tuple[int, int, int]:
    match = COUNTS.search(stdout)
    assert match, stdout
    read, scored, quarantined = (int(g) for g in match.groups())
    assert read == scored + quarantined
    return read, scored, quarantined


def python_scores(frame: pd.DataFrame = CLEAN, **kwargs: object) -> pd.DataFrame:
    kwargs.setdefault("id_column", "pid")
    kwargs.setdefault("group_columns", ["site"])
    return surveytool.score(str(INSTRUMENT), frame, **kwargs)  # type: ignore[call-overload,no-any-return]


def read_scores(path: Path) -> pd.DataFrame:
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype={"pid": str})
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".json":
        return pd.DataFrame(json.loads(path.read_text("utf-8"))["records"])
    raise AssertionError(path)


def assert_same_numbers(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Same columns, same ids, and every number bit-for-bit equal (NaN where NaN)."""
    assert list(got.columns) == list(expected.columns)
    assert len(got) == len(expected)
    for col in expected.columns:
        exp = expected[col]
        if pd.api.types.is_numeric_dtype(exp.dtype):
            np.testing.assert_array_equal(
                pd.to_numeric(got[col]).to_numpy(dtype=float),
                exp.to_numpy(dtype=float),
                err_msg=col,
            )
        else:
            as_text = [
                "" if x is None or (not isinstance(x, str) and pd.isna(x)) else str(x)
                for x in got[col]
            ]
            exp_text = ["" if pd.isna(x) else str(x) for x in exp]
            assert as_text == exp_text, col


def quarantine_rows(path: Path) -> list[tuple[str, ...]]:
    """``(code, kind, row, column, respondent_id, value)`` of every issue: codes, not prose."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert list(frame.columns) == [
        "code", "kind", "row", "column", "respondent_id", "value", "reason",
    ]  # fmt: skip
    assert (frame["reason"] != "").all()  # every issue also says what is wrong, in words
    return sorted(tuple(r) for r in frame.drop(columns="reason").itertuples(index=False))


def one_line_error(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(
        result.exception, SystemExit
    ), repr(result.exception)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ")
    return lines[0]


# ---------------------------------------------------------------------------------------------
# input formats
# ---------------------------------------------------------------------------------------------


def write_csv(path: Path) -> None:
    CLEAN.to_csv(path, index=False)


def write_tsv(path: Path) -> None:
    CLEAN.to_csv(path, index=False, sep="\t")


def write_xlsx(path: Path) -> None:
    # Q2 as label text in mixed case, with a blank
    frame = CLEAN.astype(object)
    frame["Q2"] = ["Strongly disagree", "agree", "NEUTRAL", None, " Strongly Agree ", "disagree"]
    frame.to_excel(path, index=False)


def write_parquet(path: Path) -> None:
    CLEAN.to_parquet(path, index=False)


def write_sav(path: Path) -> None:
    # SPSS: value labels on the items, and 8 declared user-missing on Q3 (b1's Q3 is 8 -> missing;
    # 8 is not a code of the scale, so if it were read as a number it would be off the scale)
    frame = CLEAN.copy()
    frame.loc[frame["pid"] == "b1", "Q3"] = 8
    labels: dict[int | float, str] = {
        1: "Strongly disagree",
        2: "Disagree",
        3: "Neutral",
        4: "Agree",
        5: "Strongly agree",
    }
    value_labels = {q: labels for q in ITEMS}
    value_labels["Q3"] = {**labels, 8: "Refused"}
    pyreadstat.write_sav(
        frame,
        str(path),
        variable_value_labels=value_labels,
        missing_ranges={"Q3": [8]},
    )


def write_jsonl(path: Path) -> None:
    CLEAN.to_json(path, orient="records", lines=True)


WRITERS = {
    ".csv": write_csv,
    ".tsv": write_tsv,
    ".xlsx": write_xlsx,
    ".parquet": write_parquet,
    ".sav": write_sav,
    ".jsonl": write_jsonl,
}


@pytest.mark.parametrize("suffix", list(WRITERS))
def test_every_input_format_scores_like_python(tmp_path, suffix):
    source = tmp_path / f"responses{suffix}"
    WRITERS[suffix](source)
    out = tmp_path / "scores.csv"
    result = score_cli(source, out)
    assert result.exit_code == 0, result.output
    assert counts(result.stdout) == (6, 6, 0)
    assert not (tmp_path / "scores.quarantine.csv").exists(), result.stderr
    assert_same_numbers(read_scores(out), python_scores())


def test_sav_value_labels_and_user_missing_are_read_as_codes(tmp_path):
    source = tmp_path / "r.sav"
    write_sav(source)
    result = surveytool.score_responses(
        str(INSTRUMENT), read_source(source).frame, id_column="pid", group_columns=["site"]
    )
    assert len(result.issues) == 0  # 8 (user-missing) is missing, not off the scale
    b1 = result.scores.set_index("pid").loc["b1"]
    # b1: Q1 3, Q2 3, Q3 missing, Q4 3 -> 3: (3 + 3 + 3) / 3 = 3
    assert b1["alpha"] == 3.0
    assert b1["alpha_n"] == 3


def test_scores_by_hand_through_the_cli(tmp_path):
    out = tmp_path / "s.csv"
    source = tmp_path / "r.csv"
    write_csv(source)
    result = score_cli(source, out)
    assert result.exit_code == 0, result.output
    got = read_scores(out).set_index("pid")
    # a1: Q1..Q4 = 1, 1, 2, 5 -> 6 - 5 = 1: alpha = (1 + 1 + 2 + 1) / 4 = 1.25
    #     site A norm (3, 1): T = 50 + 10 * (1.25 - 3) = 32.5
    #     beta = 5 + 1 + (6 - 1) = 11; total = 12.25; Q5 = 5 -> critical
    assert got.loc["a1", "alpha"] == 1.25
    assert got.loc["a1", "alpha_band"] == "low"
    assert got.loc["a1", "alpha_t"] == 32.5
    assert got.loc["a1", "alpha_norm_group"] == "site=A"
    assert got.loc["a1", "beta"] == 11.0
    assert got.loc["a1", "total"] == 12.25
    assert got.loc["a1", "Q5_check"] == "alert"
    # b1: Q1, Q2 = 3, 3, Q3 missing, Q4 = 3 -> 3: alpha = 3; site B has no entry -> fallback
    #     (2.5, 0.5): T = 50 + 10 * 0.5 / 0.5 = 60
    assert got.loc["b1", "alpha"] == 3.0
    assert got.loc["b1", "alpha_band"] == "high"  # [3, 5]
    assert got.loc["b1", "alpha_t"] == 60.0
    assert got.loc["b1", "alpha_norm_group"] == "all"
    # c2: Q7 missing -> beta (a sum) insufficient, and so the total (a sum)
    assert np.isnan(num(got, "c2", "beta"))
    assert got.loc["c2", "beta_status"] == "insufficient"
    assert got.loc["c2", "total_status"] == "insufficient"


def test_short_form_through_the_cli(tmp_path):
    source = tmp_path / "r.csv"
    write_csv(source)
    out = tmp_path / "short.parquet"
    result = run(
        "score", "-i", INSTRUMENT, source, "--id-column", "pid", "--form", "short",
        "--ignore-columns", "site", "-o", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    expected = surveytool.score(
        str(INSTRUMENT), CLEAN.drop(columns="site"), id_column="pid", form="short"
    )
    assert_same_numbers(pd.read_parquet(out), expected)
    assert read_metadata(out)["form"] == "short"  # type: ignore[index]
    # the form leaves out Q3 and Q4, which the file has: reported, not scored
    report = quarantine_rows(tmp_path / "short.quarantine.csv")
    assert [r[3] for r in report] == ["Q3", "Q4"]
    assert all(r[0] == "item_not_in_form" for r in report)


# ---------------------------------------------------------------------------------------------
# output formats and metadata
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["scores.csv", "scores.parquet", "scores.json"])
def test_every_output_format_carries_metadata(tmp_path, name):
    source = tmp_path / "r.parquet"
    write_parquet(source)
    out = tmp_path / name
    result = score_cli(source, out)
    assert result.exit_code == 0, result.output
    inst = load_instrument(INSTRUMENT)
    meta = read_metadata(out)
    assert meta is not None
    assert meta["instrument_id"] == "clifix"
    assert meta["instrument_version"] == "0.3.1"
    assert meta["instrument_hash"] == inst.content_hash
    assert meta["form"] is None
    if out.suffix == ".csv":
        assert (tmp_path / "scores.csv.meta.json").is_file()
        assert str(tmp_path / "scores.csv.meta.json") in result.stdout


@pytest.mark.parametrize(
    "name",
    [
        "scores.csv",
        "scores.parquet",
        "scores.json",
    ],
)
def test_output_numbers_identical_to_python(tmp_path, name):
    source = tmp_path / "r.csv"
    write_csv(source)
    out = tmp_path / name
    result = score_cli(source, out)
    assert result.exit_code == 0, result.output
    expected = python_scores()
    # c2: (2 + 1 + (6 - 4)) / 3 = 5/3 = 1.6666666666666667 needs 17 significant digits
    assert 5 / 3 in expected["alpha"].tolist()
    assert_same_numbers(read_scores(out), expected)


def test_subprocess_python_m_surveytool(tmp_path):
    source = tmp_path / "r.tsv"
    write_tsv(source)
    out = tmp_path / "scores.csv"
    proc = subprocess.run(
        [sys.executable, "-m", "surveytool", "score", "--instrument", str(INSTRUMENT), str(source),
         "--id-column", "pid", "--group-columns", "site", "-o", str(out)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert counts(proc.stdout) == (6, 6, 0)
    assert_same_numbers(read_scores(out), python_scores())
    assert read_metadata(out)["instrument_id"] == "clifix"  # type: ignore[index]


# ---------------------------------------------------------------------------------------------
# broken files: the quarantine report and the row-count identity
# ---------------------------------------------------------------------------------------------

ISSUES_NO_EMPTY_ID = [
    ("unmatched_column", "column", "", "Q99", "", ""),
    ("duplicate_respondent_id", "row", "5", "pid", "p2", "p2"),
    ("off_scale", "cell", "2", "Q1", "p2", "6"),
    ("not_an_answer", "cell", "3", "Q1", "p3", "abc"),
    ("not_an_answer", "cell", "4", "Q2", "p4", "sometimes"),
]
EMPTY_ID_ISSUE = ("empty_respondent_id", "row", "6", "pid", "", "")


def check_broken_output(
    tmp_path: Path,
    result: Result,
    expected_issues: Sequence[tuple[str, ...]],
    rows: tuple[int, int, int],
) -> None:
    assert result.exit_code == 0, result.output
    assert counts(result.stdout) == rows
    assert quarantine_rows(tmp_path / "scores.quarantine.csv") == sorted(expected_issues)
    scores = read_scores(tmp_path / "scores.csv").set_index("pid")
    assert sorted(scores.index) == ["p1", "p2", "p3", "p4", "p7"]
    # p2 keeps its first row: Q1 = 6 is invalid -> missing: (2 + 3 + (6 - 4)) / 3 = 7/3
    assert scores.loc["p2", "alpha"] == 7 / 3
    assert scores.loc["p2", "alpha_n"] == 3
    # p4: Q1 "agree" = 4, Q2 invalid, Q3 3, Q4 4 -> 2: (4 + 3 + 2) / 3 = 3
    assert scores.loc["p4", "alpha"] == 3.0
    # p7: Q1 = 9 and Q2 "Prefer not to say" are missing codes; Q3 " STRONGLY agree " = 5,
    #     Q4 = 1 -> 5: (5 + 5) / 2 = 5; beta = 2 + 5 + (6 - 5) = 8
    assert scores.loc["p7", "alpha"] == 5.0
    assert scores.loc["p7", "alpha_n"] == 2
    assert scores.loc["p7", "beta"] == 8.0
    assert "issue(s)" in result.stderr


def test_broken_file_without_empty_id(tmp_path):
    out = tmp_path / "scores.csv"
    result = score_cli(FIXTURES / "broken_no_empty_id.csv", out)
    # rows read 6 = 5 scored + 1 quarantined (the second p2)
    check_broken_output(tmp_path, result, ISSUES_NO_EMPTY_ID, (6, 5, 1))


def test_empty_id_is_quarantined(tmp_path):
    out = tmp_path / "scores.csv"
    result = score_cli(FIXTURES / "empty_id.csv", out)
    assert result.exit_code == 0, result.output
    assert counts(result.stdout) == (3, 2, 1)
    assert quarantine_rows(tmp_path / "scores.quarantine.csv") == [
        ("empty_respondent_id", "row", "2", "pid", "", "")
    ]
    assert read_scores(out)["pid"].tolist() == ["p1", "p3"]


def test_broken_file_every_problem(tmp_path):
    out = tmp_path / "scores.csv"
    result = score_cli(FIXTURES / "broken.csv", out)
    # rows read 7 = 5 scored + 2 quarantined (the second p2, the empty id)
    check_broken_output(tmp_path, result, [*ISSUES_NO_EMPTY_ID, EMPTY_ID_ISSUE], (7, 5, 2))


def test_broken_file_every_problem_subprocess(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "surveytool", "score", "-i", str(INSTRUMENT),
         str(FIXTURES / "broken.csv"), "--id-column", "pid", "--group-columns", "site",
         "-o", str(tmp_path / "s.csv")],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 0
    assert counts(proc.stdout) == (7, 5, 2)


def test_strict_fails_and_writes_no_scores(tmp_path):
    out = tmp_path / "scores.csv"
    result = score_cli(FIXTURES / "broken_no_empty_id.csv", out, "--strict")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert not out.exists()
    assert not (tmp_path / "scores.csv.meta.json").exists()
    assert quarantine_rows(tmp_path / "scores.quarantine.csv") == sorted(ISSUES_NO_EMPTY_ID)
    assert "nothing was scored" in result.stderr
    assert "rows scored" not in result.stdout


def test_strict_on_a_clean_file_scores(tmp_path):
    source = tmp_path / "r.csv"
    write_csv(source)
    out = tmp_path / "scores.csv"
    result = score_cli(source, out, "--strict")
    assert result.exit_code == 0, result.output
    assert_same_numbers(read_scores(out), python_scores())


def test_a_clean_rerun_removes_the_old_quarantine_report(tmp_path):
    out = tmp_path / "scores.csv"
    score_cli(FIXTURES / "empty_id.csv", out)
    assert (tmp_path / "scores.quarantine.csv").exists()
    source = tmp_path / "r.csv"
    write_csv(source)
    result = score_cli(source, out)
    assert result.exit_code == 0
    assert not (tmp_path / "scores.quarantine.csv").exists()


#: Identifying text typed into item cells (issue 12, finding 7), one per respondent, and the
#: category the quarantine report names for each.
IDENTIFYING_CELLS = {
    "Maria": "personal names",
    "Gonzalez, Maria": "personal names",
    "call 07700900123": "phone numbers",
    "SW1A 2AA": "postal codes",
    "maria.gonzalez@example.org": "e-mail addresses",
    "192.168.20.7": "IP addresses",
}


def test_the_quarantine_redacts_identifiers_in_item_cells(tmp_path):
    frame = CLEAN.astype(object).copy()
    frame["Q2"] = list(IDENTIFYING_CELLS)
    frame.loc[0, "Q3"] = "9x"  # an ordinary wrong answer stays visible
    source = tmp_path / "r.csv"
    frame.to_csv(source, index=False)
    out = tmp_path / "scores.csv"
    result = score_cli(source, out)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    quarantine = tmp_path / "scores.quarantine.csv"
    text = quarantine.read_text("utf-8")
    for secret in [*IDENTIFYING_CELLS, "07700900123", "SW1A", "Gonzalez", "192.168"]:
        assert secret not in text, secret
        assert secret not in result.output, secret
    for label in set(IDENTIFYING_CELLS.values()):
        assert f"<redacted: looks like {label}>" in text
    rows = quarantine_rows(quarantine)
    # every bad cell is still listed, where it was: six in Q2 and the 9x in Q3
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in rows] == sorted(
        [("not_an_answer", "cell", str(i + 1), "Q2", pid) for i, pid in enumerate(CLEAN["pid"])]
        + [("not_an_answer", "cell", "1", "Q3", "a1")]
    )
    assert ("not_an_answer", "cell", "1", "Q3", "a1", "9x") in rows
    assert {r[5] for r in rows if r[3] == "Q2"} == {
        f"<redacted: looks like {label}>" for label in IDENTIFYING_CELLS.values()
    }
    assert counts(result.stdout) == (6, 6, 0)
    assert "7 issue(s): 7 cell" in result.stderr
    assert len(read_scores(out)) == 6


def test_the_quarantine_keeps_the_ids_the_scores_carry(tmp_path):
    source = tmp_path / "r.csv"
    source.write_text("pid,Q1,Q2,Q3,Q4,Q5,Q6,Q7\nMaria,1,2,3,4,1,2,3\nMaria,2,2,2,2,2,2,2\n")
    out = tmp_path / "scores.csv"
    result = run("score", "-i", INSTRUMENT, source, "--id-column", "pid", "-o", out)
    assert result.exit_code == 0, result.output
    assert counts(result.stdout) == (2, 1, 1)
    (row,) = quarantine_rows(tmp_path / "scores.quarantine.csv")
    assert row == ("duplicate_respondent_id", "row", "2", "pid", "Maria", "Maria")


def test_ids_are_kept_as_written(tmp_path):
    source = tmp_path / "ids.csv"
    source.write_text("pid,Q1,Q2\n007,1,2\n7,2,2\n010,3,3\n", "utf-8")
    out = tmp_path / "scores.csv"
    result = run("score", "-i", INSTRUMENT, source, "--id-column", "pid", "-o", out)
    assert result.exit_code == 0
    assert counts(result.stdout) == (3, 3, 0)
    assert pd.read_csv(out, dtype=str)["pid"].tolist() == ["007", "7", "010"]


def test_numeric_group_codes_find_their_norm(tmp_path):
    instrument = tmp_path / "numeric_sites.yaml"
    instrument.write_text(INSTRUMENT.read_text("utf-8").replace("site: A", 'site: "1"'), "utf-8")
    source = tmp_path / "r.csv"
    source.write_text("pid,site,Q1,Q2,Q3,Q4\na,1,3,3,3,3\nb,,3,3,3,3\n", "utf-8")
    out = tmp_path / "scores.csv"
    result = run(
        "score",
        "-i",
        instrument,
        source,
        "--id-column",
        "pid",
        "--group-columns",
        "site",
        "-o",
        out,
    )
    assert result.exit_code == 0, result.output
    got = pd.read_csv(out, dtype={"pid": str}).set_index("pid")
    # a: alpha 3, site "1" norm (3, 1): T = 50; b: no site -> fallback (2.5, 0.5): T = 60
    assert got.loc["a", "alpha_norm_group"] == "site=1"
    assert got.loc["a", "alpha_t"] == 50.0
    assert got.loc["b", "alpha_t"] == 60.0


# ---------------------------------------------------------------------------------------------
# files that cannot be read: one line, exit 1, no traceback
# ---------------------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    line = one_line_error(
        run("score", "-i", INSTRUMENT, tmp_path / "nope.csv", "-o", tmp_path / "s.csv")
    )
    assert "no such file" in line
    assert not (tmp_path / "s.csv").exists()


def test_garbage_xlsx(tmp_path):
    source = tmp_path / "bad.xlsx"
    source.write_bytes(b"PK\x03\x04 this is not a workbook")
    line = one_line_error(run("score", "-i", INSTRUMENT, source, "-o", tmp_path / "s.csv"))
    assert "bad.xlsx" in line and "xlsx" in line
    assert not (tmp_path / "s.csv").exists()


@pytest.mark.parametrize(("name", "content"), [("r.docx", b"a,b\n"), ("responses", b"a,b\n")])
def test_unknown_input_extension(tmp_path, name, content):
    source = tmp_path / name
    source.write_bytes(content)
    line = one_line_error(run("score", "-i", INSTRUMENT, source, "-o", tmp_path / "s.csv"))
    assert "cannot tell the format from the extension" in line


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("empty.csv", b""),
        ("bad.parquet", b"not parquet"),
        ("bad.jsonl", b"{oops\n"),
        ("bad.sav", b"xx"),
    ],
)
def test_other_unreadable_files(tmp_path, name, content):
    source = tmp_path / name
    source.write_bytes(content)
    line = one_line_error(run("score", "-i", INSTRUMENT, source, "-o", tmp_path / "s.csv"))
    assert name in line


def test_unknown_output_extension(tmp_path):
    source = tmp_path / "r.csv"
    write_csv(source)
    line = one_line_error(run("score", "-i", INSTRUMENT, source, "-o", tmp_path / "s.xlsx"))
    assert "'.xlsx'" in line


def test_id_column_not_in_file(tmp_path):
    source = tmp_path / "r.csv"
    write_csv(source)
    line = one_line_error(
        run(
            "score", "-i", INSTRUMENT, source, "--id-column", "respondent", "-o", tmp_path / "s.csv"
        )
    )
    assert "'respondent'" in line


def test_unreadable_file_subprocess(tmp_path):
    source = tmp_path / "bad.xlsx"
    source.write_bytes(b"garbage")
    proc = subprocess.run(
        [sys.executable, "-m", "surveytool", "score", "-i", str(INSTRUMENT), str(source),
         "-o", str(tmp_path / "s.csv")],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert proc.stderr.startswith("error: ")


def test_a_cohort_file_scores_by_its_pseudonyms(tmp_path: Path) -> None:
    """``score cohort.parquet``: the cohort's keyed pseudonyms are the respondent ids and its
    import_batch is the cohort's own column (not 'matches no item'), as when its answers were
    imported; the scores equal those of the source the cohort was imported from."""
    import analysis

    inst = load_instrument("ppai")
    frame = surveytool.simulate(inst, surveytool.SimulationSpec(n=60, seed=4))
    source = tmp_path / "raw.csv"
    frame.to_csv(source, index=False)
    cohort = tmp_path / "cohort.parquet"
    analysis.import_cohort(
        source,
        inst,
        output=cohort,
        mapping={"id_column": "respondent_id"},
        key_file=tmp_path / "k.key",
    )
    out = tmp_path / "s.csv"
    result = CliRunner().invoke(cli, ["score", "-i", "ppai", str(cohort), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "matches no item" not in result.output and "Traceback" not in result.output
    assert (
        "a cohort file (ppai" in result.output
        and "respondent ids from its 'pseudonym'" in result.output
    )
    scored = pd.read_csv(out)
    assert list(scored.columns[:1]) == ["pseudonym"] and "import_batch" not in scored.columns
    stored = pd.read_parquet(cohort)
    assert scored["pseudonym"].tolist() == stored["pseudonym"].tolist()
    direct = surveytool.score(inst, frame, id_column="respondent_id")
    np.testing.assert_allclose(scored["distancing"], direct["distancing"], rtol=0, atol=1e-12)
