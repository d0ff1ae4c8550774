"""Signals at any moment of a real ``surveytool score``: nothing half-written, nothing lost.

A real subprocess scores a simulated file while an earlier run's output sits at the target; a
SIGINT (or SIGTERM) arrives at moments spread over the whole run, from interpreter start to exit.
Whatever the moment, the output is either the old file or the complete new one (byte for byte
the uninterrupted run's), the input is unchanged, no hidden temporary file is left, and the exit
status is 0 (finished first), 130 / 143 (interrupted) or, for a signal before Python installed
its handlers, death by that signal.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from surveytool.cli import cli

SURVEYTOOL = [sys.executable, "-m", "surveytool"]
OLD = b"an earlier run's scores\n"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes, bytes, float]:
    """A responses file, the scores and quarantine of an uninterrupted run, and its duration."""
    folder = tmp_path_factory.mktemp("reference")
    responses = folder / "r.csv"
    made = CliRunner().invoke(cli, ["simulate", "ppai", "--n", "3000", "-o", str(responses)])
    assert made.exit_code == 0, made.output
    start = time.monotonic()
    run = subprocess.run(
        [*SURVEYTOOL, "score", "-i", "ppai", str(responses), "-o", str(folder / "s.csv")],
        capture_output=True,
        text=True,
        check=False,
    )
    duration = time.monotonic() - start
    assert run.returncode == 0, run.stderr
    return (
        responses,
        (folder / "s.csv").read_bytes(),
        (folder / "s.quarantine.csv").read_bytes(),
        duration,
    )


def _interrupt(
    tmp_path: Path, scored: tuple[Path, bytes, bytes, float], signum: int, delay: float
) -> int:
    responses_ref, scores, quarantine, _ = scored
    folder = tmp_path / f"{signum}-{delay:.3f}"
    folder.mkdir()
    responses = folder / "r.csv"
    responses.write_bytes(responses_ref.read_bytes())
    before = _sha(responses)
    output = folder / "s.csv"
    output.write_bytes(OLD)
    proc = subprocess.Popen(
        [*SURVEYTOOL, "score", "-i", "ppai", str(responses), "-o", str(output)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(delay)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    rc = proc.returncode
    assert rc in (0, 128 + signum, -signum), (rc, err)
    if rc > 0:  # our handler ran: a message, never a traceback
        assert "Traceback" not in err, err
    assert _sha(responses) == before  # the input is never touched
    assert output.read_bytes() in (OLD, scores)  # the old file, or the complete new one
    side = folder / "s.quarantine.csv"
    assert not side.exists() or side.read_bytes() == quarantine
    assert _hidden(folder) == []  # no temporary file left behind
    if rc == 0:
        assert output.read_bytes() == scores and side.read_bytes() == quarantine
    return rc


def test_sigint_at_any_moment_loses_nothing(
    tmp_path: Path, scored: tuple[Path, bytes, bytes, float]
) -> None:
    duration = scored[3]
    moments = [duration * f for f in (0.02, 0.1, 0.3, 0.5, 0.65, 0.8, 0.9, 0.95, 1.0, 1.1)]
    codes = [_interrupt(tmp_path, scored, signal.SIGINT, m) for m in moments]
    assert 130 in codes  # some moments did interrupt a run (the test is not vacuous)


def test_sigterm_at_any_moment_loses_nothing(
    tmp_path: Path, scored: tuple[Path, bytes, bytes, float]
) -> None:
    duration = scored[3]
    for m in (duration * f for f in (0.2, 0.6, 0.85, 0.95, 1.05)):
        _interrupt(tmp_path, scored, signal.SIGTERM, m)


def test_a_signal_while_writing_removes_the_temporary_and_exits_130(tmp_path: Path) -> None:
    from surveytool.io.files import atomic_path

    target = tmp_path / "s.csv"
    target.write_bytes(OLD)
    with pytest.raises(SystemExit) as stopped, atomic_path(target, secret=True) as tmp:
        tmp.write_bytes(b"half of the new scores")
        os.kill(os.getpid(), signal.SIGINT)  # handled at the next bytecode
        time.sleep(5)  # never reached
    assert stopped.value.code == 130
    assert target.read_bytes() == OLD and _hidden(tmp_path) == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored after


INSTRUMENT = Path(__file__).resolve().parents[2] / "fixtures" / "scoring" / "cli.yaml"


def _command(kind: str, folder: Path, source: Path) -> tuple[list[str], Path]:
    """The command line of a ``score`` or ``cohort import`` run in ``folder``, and its target."""
    if kind == "score":
        target = folder / "s.csv"
        return [*SURVEYTOOL, "score", "-i", "ppai", str(source), "-o", str(target)], target
    target = folder / "c.parquet"
    keys = folder / "keys"
    keys.mkdir(mode=0o700, exist_ok=True)
    return [
        *SURVEYTOOL, "cohort", "import", str(source), "-i", "ppai",
        "--key-file", str(keys / "k.key"), "-o", str(target),
    ], target  # fmt: skip


def _temporaries(folder: Path, target: Path) -> list[Path]:
    return sorted(folder.glob(f".{target.name}.*.tmp"))


@pytest.mark.parametrize("kind", ["score", "cohort import"])
def test_sigkill_mid_write_leaves_a_temporary_the_next_run_removes(
    tmp_path: Path, kind: str
) -> None:
    """SIGKILL cannot be handled: the temporary stays, named with the dead process's pid; the
    next run writing that target removes it and writes a complete file."""
    source = tmp_path / "r.csv"
    made = CliRunner().invoke(cli, ["simulate", "ppai", "--n", "20000", "-o", str(source)])
    assert made.exit_code == 0, made.output
    for attempt in range(5):  # the write is a short window: try again if the run got past it
        folder = tmp_path / f"run{attempt}"
        folder.mkdir()
        args, target = _command(kind, folder, source)
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while proc.poll() is None and not _temporaries(folder, target):
            time.sleep(0.0005)
        proc.kill()
        proc.wait()
        left = _temporaries(folder, target)
        if left:
            break
    else:
        pytest.fail("the run never got to write its output within five attempts")
    assert all(f".{proc.pid}-" in p.name for p in left)  # the owner can be told
    rerun = subprocess.run(args, capture_output=True, text=True, check=False)
    assert rerun.returncode == 0, rerun.stderr
    assert _temporaries(folder, target) == []
    frame = pd.read_csv(target) if kind == "score" else pd.read_parquet(target)
    assert len(frame) == 20000  # complete, and readable
