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


def _children(pid: int) -> set[int]:
    """Every living descendant of ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                parents[int(entry.name)] = int(fields[1])
    found, todo = set(), [pid]
    while todo:
        here = todo.pop()
        for child, parent in parents.items():
            if parent == here and child not in found:
                found.add(child)
                todo.append(child)
    return found


def _is_worker(pid: int) -> bool:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"spawn_main" in command and b"resource_tracker" not in command


def test_ctrl_c_while_the_local_cluster_starts(tmp_path: Path) -> None:
    """SIGINT to the process group while the worker processes are being spawned (the start takes
    seconds): status 130, one line, no traceback, and no process left behind."""
    inst = surveytool.load_instrument("ppai")
    frame = surveytool.simulate(inst, surveytool.SimulationSpec(n=2_000, seed=4))
    folder = write_parquet_dataset(frame, tmp_path / "ds", files=2, row_group_rows=1_000)
    command = [
        sys.executable, "-c", "from surveytool.cli import main; main()",
        "score", "-i", "ppai", str(folder), "-o", str(tmp_path / "scores"),
        "--engine", "dask", "--workers", "2",
    ]  # fmt: skip
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    seen: set[int] = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        seen |= _children(proc.pid)
        if any(_is_worker(p) for p in seen):
            break  # a worker is being spawned: the cluster is starting, not started
        time.sleep(0.01)
    assert proc.poll() is None, proc.communicate()
    workers = {p for p in seen if _is_worker(p)}
    os.killpg(proc.pid, signal.SIGINT)
    sent = time.monotonic()
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, (stdout, stderr)
    assert "Traceback" not in stderr, stderr
    assert stderr.strip().splitlines()[-1].startswith("interrupted"), stderr
    assert time.monotonic() - sent < 30
    assert not (tmp_path / "scores").exists()
    left = set()
    for _ in range(100):  # the workers end with the cluster (the tracker with its parent)
        left = {p for p in seen | workers if _alive(p)}
        if not left:
            break
        time.sleep(0.1)
    assert not left, [Path(f"/proc/{p}/cmdline").read_bytes() for p in left]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
