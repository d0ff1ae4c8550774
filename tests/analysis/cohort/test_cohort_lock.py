"""Two ``cohort import`` runs into one cohort at once: both batches land, none is lost.

Real processes (``python -m surveytool``), started together on different respondents with the
same key. Before the lock, both said "rows imported" and the cohort kept one batch. The lock is
an OS lock (``filelock``) held from reading the cohort's ledger to writing it; while another
import holds it, an import says it waits, or fails clearly after ``--lock-timeout``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from filelock import FileLock

from analysis.cohort import open_cohort
from analysis.cohort.paths import lock_path

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


def test_an_import_waits_for_the_lock_and_says_so(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    cohort = tmp_path / "c.parquet"
    source = _source(tmp_path / "wave_a.csv", "a", 50, 1)
    held = FileLock(lock_path(cohort), thread_local=False)
    with held:  # another import is writing
        refused = _start(source, cohort, keys / "k.key", "--lock-timeout", "0.5")
        out, err = refused.communicate(timeout=120)
        assert refused.returncode == 1, err
        assert "waiting for it to finish (at most 0.5 s)" in err
        errors = [line for line in err.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "another import is still writing" in errors[0]
        assert "--lock-timeout" in errors[0] and "Traceback" not in err
        assert not cohort.exists()  # nothing imported
        waiting = _start(source, cohort, keys / "k.key")
        time.sleep(3)
        assert waiting.poll() is None  # still waiting while the lock is held
    out, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, err
    assert "another import is writing" in err and "rows imported 50" in out
    assert open_cohort(cohort).rows == 50
