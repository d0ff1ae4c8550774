"""Outputs that cannot lose, leak or inject: 0600, collisions refused first, formulas escaped.

Real commands (click's runner), real files. Each refusal is one line, exit 1, and nothing is
written or deleted: the files in the folder are the same bytes after as before.
"""

from __future__ import annotations

import csv
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from surveytool.cli import cli
from surveytool.io.files import escape_formula, unescape_formula

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "scoring"
INSTRUMENT = FIXTURES / "cli.yaml"
HEADER = "pid,site,Q1,Q2,Q3,Q4,Q5,Q6,Q7\n"
HOSTILE = [
    '=HYPERLINK("http://x","y")',
    "=cmd|' /C calc'!A0",
    "+1+1",
    "@SUM(A1)",
    "-2+3",
    "\t=1",
    "\r=1",
    "'=already",
]


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() if p.is_file() else b"<dir>"
        for p in sorted(folder.rglob("*"))
    }


def _refused(folder: Path, args: list[str | Path], match: str) -> None:
    """The command exits 1 with one ``error:`` line matching ``match``; no file changed."""
    before = _snapshot(folder)
    result = run(*args)
    assert result.exit_code == 1, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and match in errors[0], result.stderr
    assert "Traceback" not in result.output
    assert _snapshot(folder) == before


def _responses(path: Path, rows: list[str]) -> Path:
    path.write_text(HEADER + "".join(r + "\n" for r in rows), "utf-8")
    return path


def _score(source: Path, out: Path) -> Result:
    return run(
        "score", "-i", INSTRUMENT, source, "--id-column", "pid", "--group-columns", "site",
        "-o", out,
    )  # fmt: skip


def test_score_outputs_are_0600_from_creation(tmp_path: Path) -> None:
    source = _responses(tmp_path / "r.csv", ["a,A,1,2,3,4,5,1,2", "b,A,7,2,3,4,5,1,2"])
    result = _score(source, tmp_path / "s.csv")
    assert result.exit_code == 0, result.output
    written = [tmp_path / "s.csv", tmp_path / "s.csv.meta.json", tmp_path / "s.quarantine.csv"]
    assert [_mode(p) for p in written] == [0o600] * 3
    result = _score(source, tmp_path / "s.parquet")
    assert result.exit_code == 0 and _mode(tmp_path / "s.parquet") == 0o600


def test_score_refuses_an_input_named_like_its_quarantine_report(tmp_path: Path) -> None:
    clean = _responses(tmp_path / "s.quarantine.csv", ["a,A,1,2,3,4,5,1,2"])  # a clean run
    _refused(tmp_path, ["score", "-i", INSTRUMENT, clean, "-o", tmp_path / "s.csv"], "quarantine")
    dirty = _responses(tmp_path / "t.quarantine.csv", ["a,A,9,9,9,9,9,9,77"])  # issues
    _refused(tmp_path, ["score", "-i", INSTRUMENT, dirty, "-o", tmp_path / "t.csv"], "quarantine")


def test_score_refuses_an_output_that_is_the_input_by_another_name(tmp_path: Path) -> None:
    source = _responses(tmp_path / "r.csv", ["a,A,1,2,3,4,5,1,2"])
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.csv").symlink_to(source)
    os.link(source, tmp_path / "hard.csv")
    for out in [tmp_path / "sub" / ".." / "r.csv", tmp_path / "link.csv", tmp_path / "hard.csv"]:
        _refused(tmp_path, ["score", "-i", INSTRUMENT, source, "-o", out], "overwrite")
    _refused(tmp_path, ["score", "-i", INSTRUMENT, source, "-o", INSTRUMENT], "format")


def test_map_template_force_never_replaces_its_source(tmp_path: Path) -> None:
    source = _responses(tmp_path / "raw.csv", ["a,A,1,2,3,4,5,1,2"])
    args: list[str | Path] = ["cohort", "map-template", source, "-i", INSTRUMENT, "--force"]
    _refused(tmp_path, [*args, "-o", source], "would overwrite the source")
    _refused(tmp_path, [*args, "-o", tmp_path / "." / "raw.csv"], "would overwrite the source")


def _import(source: Path, out: Path, *extra: str | Path) -> list[str | Path]:
    return ["cohort", "import", source, "-i", INSTRUMENT, "-o", out, *extra]


def test_cohort_import_refuses_to_write_over_its_inputs(tmp_path: Path) -> None:
    source = _responses(tmp_path / "raw.csv", ["a,A,1,2,3,4,5,1,2"])
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    cohort = tmp_path / "c.parquet"
    # the key file given as the cohort: the key would be replaced by the cohort
    _refused(tmp_path, _import(source, cohort, "--key-file", cohort), "pseudonym key file")
    # the key file is the source
    _refused(tmp_path, _import(source, cohort, "--key-file", source), "key file is the source")
    # sources named like the cohort's side files
    named = _responses(tmp_path / "c.quarantine.csv", ["a,A,1,2,3,4,5,1,2"])
    _refused(tmp_path, _import(named, cohort, "--key-file", keys / "k"), "quarantine report")
    named = _responses(tmp_path / "c.disclosure.txt", ["a,A,1,2,3,4,5,1,2"])
    _refused(tmp_path, _import(named, cohort, "--key-file", keys / "k"), "disclosure text")
    # an input inside a cohort dataset (a folder the import rewrites)
    (tmp_path / "ds").mkdir()
    inside = _responses(tmp_path / "ds" / "raw.csv", ["a,A,1,2,3,4,5,1,2"])
    _refused(tmp_path, _import(inside, tmp_path / "ds", "--key-file", keys / "k"), "inside")
    # the cohort given as the source
    _refused(tmp_path, _import(source, source.with_suffix(".parquet"), "--key-file", source), "key")


def test_a_new_key_is_not_created_where_others_could_swap_or_list_it(tmp_path: Path) -> None:
    source = _responses(tmp_path / "raw.csv", ["a,A,1,2,3,4,5,1,2"])
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    _refused(tmp_path, _import(source, tmp_path / "c.parquet", "--key-file", shared / "k.key"),
             "other users may replace files")  # fmt: skip
    study = tmp_path / "study"
    study.mkdir()
    study.chmod(0o755)
    raw = _responses(study / "raw.csv", ["a,A,1,2,3,4,5,1,2"])
    _refused(tmp_path, _import(raw, study / "c.parquet", "--key-file", study / "k.key"),
             "beside the cohort")  # fmt: skip
    sticky = tmp_path / "sticky"  # like /tmp: others cannot remove or rename our files
    sticky.mkdir()
    sticky.chmod(0o1777)
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    result = run(*_import(source, tmp_path / "c.parquet", "--key-file", keys / "k.key"))
    assert result.exit_code == 0, result.output
    assert _mode(tmp_path / "c.parquet") == 0o600 and _mode(keys / "k.key") == 0o600
    assert _mode(tmp_path / "c.disclosure.json") == 0o600


@pytest.mark.parametrize("value", HOSTILE)
def test_escape_formula_is_recoverable(value: str) -> None:
    escaped = escape_formula(value)
    assert isinstance(escaped, str) and escaped.startswith("'")
    assert unescape_formula(escaped) == value


def test_numbers_and_plain_text_are_left_alone() -> None:
    for value in [-1, 2.5, "-1", "+2.5e3", "+", "-", "abc", "", "a=b", "'quoted"]:
        assert escape_formula(value) == value
        assert unescape_formula(escape_formula(value)) == value


def test_scores_and_quarantine_csv_escape_cells_a_spreadsheet_would_run(tmp_path: Path) -> None:
    source = tmp_path / "r.csv"
    with source.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER.strip().split(","))
        for i, value in enumerate(HOSTILE):
            writer.writerow([value, "@grp" if i % 2 else "-1", 1, 2, 3, 4, 5, 1, 2])
        writer.writerow(["=evil()", "A", "=cmd|' /C calc'!A0", 2, 3, 4, 5, 1, 2])  # invalid
    result = _score(source, tmp_path / "s.csv")
    assert result.exit_code == 0, result.output
    with (tmp_path / "s.csv").open(newline="", encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    ids = [r["pid"] for r in table]
    for cell in [*ids, *(r["site"] for r in table)]:
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")) or cell == "-1", cell
    recovered = [unescape_formula(i) for i in ids]
    assert set(recovered) >= {v.strip() for v in HOSTILE if v.strip()} - {"=1", "'=already"}
    assert {r["site"] for r in table} == {"-1", "'@grp", "A"}  # the number -1 untouched
    with (tmp_path / "s.quarantine.csv").open(newline="", encoding="utf-8") as handle:
        report = list(csv.reader(handle))
    cells = [c for row in report for c in row]
    assert not any(c.startswith(("=", "+", "@", "\t", "\r")) for c in cells), cells
