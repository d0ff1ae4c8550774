"""Two ``cohort import`` runs into one cohort at once: both batches land, none is lost.

Real processes (``python -m surveytool``), started together on different respondents with the
same key. Before the lock, both said "rows imported" and the cohort kept one batch. The lock is
an OS lock (``LockFile``) held from reading the cohort's ledger to writing it; while another
import holds it, an import says it waits, or fails clearly after ``--lock-timeout``. Its lock
file exists only while it is held: none is left beside the cohort.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.cohort import open_cohort
from analysis.cohort.paths import lock_path
from surveytool.io.files import LockFile

INSTRUMENT = Path(__file__).resolve().parents[2] / "fixtures" / "scoring" / "cli.yaml"
SURVEYTOOL = [sys.executable, "-m", "surveytool"]


def _source(path: Path, prefix: str, n: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"Q{k}": rng.integers(1, 6, n) for k in range(1, 8)})
    frame.insert(0, "pid", [f"{prefix}{i}" for i in range(n)])
    frame.to_csv(path, index=False)
    return path


def _start(source: Path, cohort: Path, key: Path, *extra: str) -> subprocess.Popen[str]:
    args = [str(source), "-i", str(INSTRUMENT), "--key-file", str(key), "-o", str(cohort)]
    return subprocess.Popen(
        [*SURVEYTOOL, "cohort", "import", *args, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("form", ["c.parquet", "dataset"])
def test_two_imports_at_once_both_land(tmp_path: Path, form: str) -> None:
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    key = keys / "study.key"
    cohort = tmp_path / form
    first = _source(tmp_path / "wave_a.csv", "a", 1500, 1)
    second = _source(tmp_path / "wave_b.csv", "b", 1500, 2)
    runs = [_start(first, cohort, key), _start(second, cohort, key)]
    results = [p.communicate(timeout=300) for p in runs]
    for proc, (out, err) in zip(runs, results, strict=True):
        assert proc.returncode == 0, err
        assert "Traceback" not in err
        assert "rows imported 1500" in out, out
    opened = open_cohort(cohort)
    assert opened.rows == 3000  # both batches
    assert len(opened.ledger.imports) == 2  # and both ledger entries
    assert opened.ledger.respondents == 3000
    assert sorted(e.rows_imported for e in opened.ledger.imports) == [1500, 1500]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no lock


def test_an_import_waits_for_the_lock_and_says_so(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    cohort = tmp_path / "c.parquet"
    source = _source(tmp_path / "wave_a.csv", "a", 50, 1)
    with LockFile(lock_path(cohort)):  # another import is writing
        refused = _start(source, cohort, keys / "k.key", "--lock-timeout", "0.5")
        out, err = refused.communicate(timeout=120)
        assert refused.returncode == 1, err
        assert "waiting for it to finish (at most 0.5 s)" in err
        errors = [line for line in err.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "another import is still writing" in errors[0]
        assert "--lock-timeout" in errors[0] and "Traceback" not in err
        assert not cohort.exists()  # nothing imported
        waiting = _start(source, cohort, keys / "k.key")
        assert waiting.stderr is not None
        said = ""  # read until it says it waits (however slow the machine is to get there)
        while "another import is writing" not in said and (line := waiting.stderr.readline()):
            said += line
        assert "another import is writing" in said, said
        time.sleep(0.5)
        assert waiting.poll() is None  # still waiting while the lock is held
    out, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, said + err
    assert "rows imported 50" in out
    assert open_cohort(cohort).rows == 50
    assert not lock_path(cohort).exists()  # removed by the import that held it last


def test_a_lock_that_cannot_be_made_names_the_cohort(tmp_path: Path) -> None:
    """A folder where nothing can be written (read-only, or here a regular file in the way):
    the error named the hidden lock file (``ro/.c.parquet.lock: Read-only file system``); now
    the cohort, and that nothing was imported."""
    from click.testing import CliRunner

    from surveytool.cli import cli

    source = _source(tmp_path / "a.csv", "A", 5, 1)
    (tmp_path / "afile").write_text("x", "utf-8")
    cohort = tmp_path / "afile" / "c.parquet"
    args = ["cohort", "import", str(source), "-i", "ppai", "--key-file", str(tmp_path / "k.key")]
    result = CliRunner().invoke(cli, [*args, "-o", str(cohort)])
    assert result.exit_code == 1, result.output
    assert f"error: {cohort}: " in result.output and "nothing was imported" in result.output
    assert ".lock" not in result.output and "Traceback" not in result.output


SIGNAL_AFTER_COHORT = """
import os, signal, sys
import surveytool.io.files as files
real, sent = os.replace, []
def replace(a, b):  # a signal the moment the cohort is in place, before its reports
    real(a, b)
    if os.path.basename(str(b)) == "c.parquet" and not sent:
        sent.append(1)
        os.kill(os.getpid(), signal.SIGINT)
files.os.replace = replace
sys.argv = ["surveytool", *sys.argv[1:]]
from surveytool.cli import main
main()
"""


def test_a_signal_once_the_cohort_is_written_waits_for_its_reports(tmp_path: Path) -> None:
    # the cohort, its disclosure report and its quarantine report are written together: a
    # signal after the cohort's rename ends the import only once the reports describe it too
    import json

    from surveytool.io.tables import read_metadata

    key, cohort = tmp_path / "keys" / "k.key", tmp_path / "c.parquet"
    key.parent.mkdir(mode=0o700)
    first = _start(_source(tmp_path / "a.csv", "a", 50, 1), cohort, key)
    assert first.wait(timeout=120) == 0, first.communicate()
    before = (tmp_path / "c.disclosure.json").read_text()
    args = [str(_source(tmp_path / "b.csv", "b", 60, 2)), "-i", str(INSTRUMENT)]
    args += ["--key-file", str(key), "-o", str(cohort)]
    done = subprocess.run(
        [sys.executable, "-c", SIGNAL_AFTER_COHORT, "cohort", "import", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 130, done.stderr
    # said so: the import was not cancelled
    last = done.stderr.strip().splitlines()[-1]
    assert last == "interrupted (SIGINT) after the import was written (kept)"
    assert "Traceback" not in done.stderr
    opened = open_cohort(cohort)
    assert opened.rows == 110 and len(opened.ledger.imports) == 2
    disclosure = (tmp_path / "c.disclosure.json").read_text()
    assert disclosure != before  # rewritten for the second import
    metadata = read_metadata(cohort)
    assert metadata is not None and json.loads(disclosure) == metadata["disclosure"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
