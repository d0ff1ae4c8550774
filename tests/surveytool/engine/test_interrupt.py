"""Ctrl-C during ``surveytool score --engine dask``: the whole process group gets SIGINT, as from a
terminal; the command stops with status 130 and one line, and leaves neither a scores dataset nor
a temporary folder (an earlier run's scores stay as they were)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import surveytool
from tests.datasets import write_parquet_dataset


def test_ctrl_c_leaves_no_half_written_dataset(tmp_path: Path) -> None:
    inst = surveytool.load_instrument("ppai")
    frame = surveytool.simulate(inst, surveytool.SimulationSpec(n=160_000, seed=4))
    folder = write_parquet_dataset(frame, tmp_path / "ds", files=16, row_group_rows=10_000)
    out = tmp_path / "scores"
    out.mkdir()
    (out / "part-00000.parquet").write_bytes(b"an earlier run")
    command = [
        sys.executable, "-c", "from surveytool.cli import main; main()",
        "score", "-i", "ppai", str(folder), "--id-column", "respondent_id", "-o", str(out),
        "--engine", "dask", "--workers", "1",
    ]  # fmt: skip
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if any(p.name.startswith(".scores.") for p in tmp_path.iterdir()):
            break  # the temporary folder exists: the partitions are being written
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, (stdout, stderr)
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1].startswith("interrupted")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "scores"]
    assert [p.name for p in out.iterdir()] == ["part-00000.parquet"]
    assert (out / "part-00000.parquet").read_bytes() == b"an earlier run"
