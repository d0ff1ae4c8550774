"""Fuzz: hypothesis drives the real commands on generated names, contents and options.

``score`` and ``cohort import`` run (click's runner, real files in a fresh folder each time) on
files with random names (spaces, unicode, leading dashes behind ``./``, names of the output's
side files), random cells (answers, off-scale and missing codes, formulas, ids that look like
numbers, blanks, control characters, ragged rows) and random options (output format,
``--strict``, an earlier output present). Whatever the input:

- the exit status is 0 or 1, and never a traceback (a user mistake is one ``error:`` line);
- no file is lost: every input keeps its bytes, and no hidden temporary file stays behind;
- what is written is complete and owner-only (0600), and the counts add up
  (rows read = scored + quarantined, or imported + quarantined + duplicates);
- no CSV cell written can run as a spreadsheet formula.

Bounded: a few dozen examples per property and no deadline (a loaded machine is slow, not
wrong).
"""

from __future__ import annotations

import csv
import re
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from surveytool.cli import cli

INSTRUMENT = Path(__file__).resolve().parents[2] / "fixtures" / "scoring" / "cli.yaml"
ITEMS = [f"Q{k}" for k in range(1, 8)]
SCORE_COUNTS = re.compile(r"rows read (\d+) = rows scored (\d+) \+ rows quarantined (\d+)")
IMPORT_COUNTS = re.compile(r"rows read (\d+)")
FORMULA = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")

CELLS = st.one_of(
    st.sampled_from(["1", "2", "3", "4", "5", "9", "0", "6", "", "3.0", "2.9999999999999999"]),
    st.sampled_from(["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", '=HYPERLINK("x")', "'=q", "-"]),
    st.sampled_from(["Maria", "call 07700900123", "SW1A 2AA", "a@b.org", "NA", "n/a", " 4 "]),
    st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=6),
)
NAMES = st.one_of(
    st.sampled_from(["r.csv", "my data.csv", "-dash.csv", "ünï çødé.csv", "s.quarantine.csv"]),
    st.from_regex(r"[A-Za-z0-9 _.\-]{1,12}\.csv", fullmatch=True),
)
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _rows(draw: st.DrawFn) -> list[list[str]]:
    n = draw(st.integers(min_value=0, max_value=8))
    header = draw(
        st.one_of(
            st.just(["pid", "site", *ITEMS]),
            st.permutations(["pid", "site", *ITEMS, "extra"]).map(list),
            st.lists(st.sampled_from(["pid", "site", *ITEMS, "q1", "Q1"]), min_size=1, max_size=9),
        )
    )
    rows = [header]
    for i in range(n):
        width = draw(st.sampled_from([len(header), len(header), max(1, len(header) - 1)]))
        cells = [draw(CELLS) for _ in range(width)]
        if "pid" in header and draw(st.booleans()):
            cells[header.index("pid") % width] = draw(st.sampled_from([f"p{i}", "1", "1.0", ""]))
        rows.append(cells)
    return rows


@st.composite
def sources(draw: st.DrawFn) -> tuple[str, bytes]:
    """A file name and its bytes (usually CSV; now and then not text at all)."""
    name = draw(NAMES)
    if draw(st.integers(0, 9)) == 0:
        return name, draw(st.binary(max_size=64))
    lines = []
    for row in _rows(draw):
        out = []
        for cell in row:
            quoted = any(c in cell for c in ',"\n\r') or draw(st.booleans())
            out.append('"' + cell.replace('"', '""') + '"' if quoted else cell)
        lines.append(",".join(out))
    return name, ("\n".join(lines) + "\n").encode("utf-8")


def _hidden(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".*"))  # lock files too


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _no_traceback(result: Result) -> None:
    event(f"exit {result.exit_code}")
    assert result.exit_code in (0, 1), (result.exit_code, result.output)
    if result.exception is not None:
        assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    if result.exit_code == 1:
        assert any(line.startswith("error:") for line in result.stderr.splitlines()), result.stderr


def _no_executable_cell(path: Path, sep: str = ",") -> None:
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.reader(handle, delimiter=sep):
            for cell in row:
                if cell.startswith(FORMULA):
                    assert cell in ("+", "-") or NUMBER.fullmatch(cell), (path.name, cell)


@FUZZ
@given(
    source=sources(),
    fmt=st.sampled_from([".csv", ".parquet", ".json", ".tsv"]),
    strict=st.booleans(),
    earlier=st.booleans(),
    id_column=st.sampled_from([None, "pid"]),
)
def test_score_never_loses_a_file_or_shows_a_traceback(
    source: tuple[str, bytes], fmt: str, strict: bool, earlier: bool, id_column: str | None
) -> None:
    name, data = source
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        responses = folder / name
        responses.write_bytes(data)
        output = folder / f"s{fmt}"
        if earlier:
            output.write_bytes(b"an earlier file\n")
        inputs = _snapshot(folder)
        args = ["score", "-i", str(INSTRUMENT), str(responses), "-o", str(output)]
        args += ["--strict"] if strict else []
        args += ["--id-column", id_column] if id_column else []
        result = CliRunner().invoke(cli, args)
        _no_traceback(result)
        after = _snapshot(folder)
        assert {k: after.get(k) for k in inputs if k != output.name} == {
            k: v for k, v in inputs.items() if k != output.name
        }  # every input kept its bytes
        assert [h for h in _hidden(folder) if h not in inputs] == []  # no temporary left
        if result.exit_code == 0:
            match = SCORE_COUNTS.search(result.stdout)
            assert match, result.stdout
            read, scored, quarantined = (int(g) for g in match.groups())
            assert read == scored + quarantined
            assert stat.S_IMODE(output.stat().st_mode) == 0o600
            if fmt in (".csv", ".tsv"):
                _no_executable_cell(output, "," if fmt == ".csv" else "\t")
            side = output.with_name(f"{output.stem}.quarantine.csv")
            if side.exists():
                assert stat.S_IMODE(side.stat().st_mode) == 0o600
                _no_executable_cell(side)
        elif earlier and output.exists():
            assert output.read_bytes() == b"an earlier file\n"  # never half-replaced


@FUZZ
@given(source=sources(), twice=st.booleans(), strict=st.booleans())
@example(source=("r.csv", b"site\nNA\n"), twice=False, strict=False)  # CI, 2026-12-01
def test_cohort_import_never_loses_a_file_or_shows_a_traceback(
    source: tuple[str, bytes], twice: bool, strict: bool
) -> None:
    name, data = source
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        keys = folder / "keys"
        keys.mkdir(mode=0o700)
        work = folder / "work"
        work.mkdir()
        (work / name).write_bytes(data)
        cohort = work / "c.parquet"
        inputs = _snapshot(work)
        args = [
            "cohort", "import", str(work / name), "-i", str(INSTRUMENT),
            "--key-file", str(keys / "k.key"), "-o", str(cohort),
        ]  # fmt: skip
        args += ["--strict"] if strict else []
        for _ in range(2 if twice else 1):
            result = CliRunner().invoke(cli, args)
            _no_traceback(result)
            after = _snapshot(work)
            for key, value in inputs.items():
                if not key.startswith("c."):
                    assert after.get(key) == value  # the source is never touched
            assert [h for h in _hidden(work) if h not in inputs] == []
            if result.exit_code == 0:
                match = re.search(
                    r"rows read (\d+) = rows imported (\d+) \+ rows quarantined (\d+)"
                    r"(?: \([^)]*\))?(?: \+ duplicates (\d+))?",
                    result.stdout,
                )
                assert match, result.stdout
                if match:
                    read, imported, quarantined, dup = (int(g or 0) for g in match.groups())
                    assert read == imported + quarantined + dup
                assert stat.S_IMODE(cohort.stat().st_mode) == 0o600
                side = work / "c.quarantine.csv"
                if side.exists():
                    _no_executable_cell(side)


# ---------------------------------------------------------------------------------------------
# signals: a real process, SIGINT or SIGTERM at a moment hypothesis chooses
# ---------------------------------------------------------------------------------------------

SURVEYTOOL = [sys.executable, "-m", "surveytool"]
SIGNAL_ROWS = 8000
EARLIER = b"an earlier run's output\n"


@pytest.fixture(scope="module")
def responses(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("signals") / "r.csv"
    made = CliRunner().invoke(cli, ["simulate", "ppai", "--n", str(SIGNAL_ROWS), "-o", str(path)])
    assert made.exit_code == 0, made.output
    return path


def _handles_sigterm(pid: int) -> bool:
    """Whether process ``pid`` has installed a SIGTERM handler (its program has started: a
    signal before would kill the interpreter in its own start, which no program can prevent)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True  # gone (it finished), or no /proc: the delay alone
    caught = next((ln.split()[1] for ln in status.splitlines() if ln.startswith("SigCgt:")), "0")
    return bool(int(caught, 16) >> (signal.SIGTERM - 1) & 1)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    command=st.sampled_from(["score", "cohort import", "cohort import (dataset)"]),
    signum=st.sampled_from([signal.SIGINT, signal.SIGTERM]),
    delay=st.floats(min_value=0.0, max_value=1.8),
    earlier=st.booleans(),
)
def test_a_signal_at_any_moment_leaves_the_old_file_or_the_complete_new_one(
    responses: Path, command: str, signum: signal.Signals, delay: float, earlier: bool
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if command == "score":
            target = folder / "s.csv"
            args = ["score", "-i", "ppai", str(responses), "-o", str(target)]
        else:  # a cohort file, or a cohort dataset (a folder, written as a new generation)
            target = folder / ("c.parquet" if command == "cohort import" else "cohort")
            (folder / "keys").mkdir(mode=0o700)
            args = ["cohort", "import", str(responses), "-i", "ppai"]
            args += ["--key-file", str(folder / "keys" / "k.key"), "-o", str(target)]
        if earlier and command == "score":  # (an import refuses a file that is no cohort)
            target.write_bytes(EARLIER)
        proc = subprocess.Popen(
            [*SURVEYTOOL, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        while proc.poll() is None and not _handles_sigterm(proc.pid):
            time.sleep(0.001)
        time.sleep(delay)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=120)
        event(f"{command} {signum.name} exit {proc.returncode}")
        assert proc.returncode in (0, 128 + signum), (proc.returncode, err)
        assert "Traceback" not in err and "Exception ignored" not in err, err
        if proc.returncode:
            assert err.strip().splitlines() == [
                f"interrupted ({signum.name})"
            ] or err.strip().splitlines()[-1] in (
                f"interrupted ({signum.name})",
                f"interrupted ({signum.name}): unfinished output removed",
                f"interrupted ({signum.name}) after the import was written (kept)",
            ), err  # one line (after any notes the run printed before)
        assert _hidden(folder) == []  # no temporary, no lock file left
        new = target.exists() and (target.is_dir() or target.read_bytes() != EARLIER)
        if new:  # the new one, complete
            if command == "score":
                assert len(pd.read_csv(target)) == SIGNAL_ROWS
            else:
                from analysis.cohort import open_cohort

                assert open_cohort(target).rows == SIGNAL_ROWS
        if proc.returncode == 0:
            assert new, out
