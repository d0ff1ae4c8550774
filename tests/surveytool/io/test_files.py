"""``surveytool.io.files`` and ``surveytool.io.tables``: atomic writes, secret files, no umask.

The process umask is never read or set (setting it is the only way to read it, and it is shared
by every thread of a web server): ``os.umask`` is replaced by a function that fails the test.
The ``no_umask`` fixture is in conftest.py.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest

import surveytool.io.tables
from surveytool.io.files import (
    atomic_folder,
    atomic_path,
    create_secret_file,
    write_text_atomic,
)
from surveytool.io.tables import read_metadata, write_table


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_secret_and_atomic_files_keep_the_umask_and_are_0600(tmp_path: Path, no_umask: int) -> None:
    secret = create_secret_file(tmp_path / "keys" / "a.key", b"secret\n")
    assert _mode(secret) == 0o600 and secret.read_bytes() == b"secret\n"
    assert _mode(secret.parent) == 0o700 & ~no_umask
    progress = write_text_atomic(tmp_path / "progress.json", "{}", secret=True)
    assert _mode(progress) == 0o600
    plain = write_text_atomic(tmp_path / "plain.txt", "hello")
    assert _mode(plain) == 0o666 & ~no_umask  # what open() gives under this umask
    tables = write_table(pd.DataFrame({"a": [1]}), tmp_path / "t.csv", metadata={"k": 1})
    assert [_mode(p) for p in tables] == [0o600] * 2  # tables hold personal data by default
    public = write_table(pd.DataFrame({"a": [1]}), tmp_path / "p.csv", secret=False)
    assert [_mode(p) for p in public] == [0o666 & ~no_umask]
    with atomic_folder(tmp_path / "report") as folder:
        (folder / "x.txt").write_text("x", "utf-8")
    assert _mode(tmp_path / "report") == 0o700  # a secret folder by default ...
    assert _mode(tmp_path / "report" / "x.txt") == 0o600  # ... and what is in it
    with atomic_folder(tmp_path / "open", secret=False) as folder:
        (folder / "x.txt").write_text("x", "utf-8")
    assert _mode(tmp_path / "open") == 0o777 & ~no_umask  # what mkdir gives under this umask
    assert _leftovers(tmp_path) == []


def test_a_secret_is_never_overwritten(tmp_path: Path) -> None:
    path = create_secret_file(tmp_path / "a.key", b"first")
    with pytest.raises(FileExistsError):
        create_secret_file(path, b"second")
    assert path.read_bytes() == b"first"


def test_a_secret_rewritten_by_its_writer_stays_0600(tmp_path: Path, no_umask: int) -> None:
    target = tmp_path / "p.json"
    with atomic_path(target, secret=True) as tmp:
        tmp.unlink()  # a writer that replaces the file instead of writing into it
        tmp.write_text("{}", "utf-8")
    assert _mode(target) == 0o600


def test_a_failed_atomic_write_leaves_no_temp_file_and_the_old_target(tmp_path: Path) -> None:
    target = tmp_path / "scores.csv"
    target.write_text("old\n", "utf-8")
    with pytest.raises(RuntimeError, match="disk full"), atomic_path(target) as tmp:
        tmp.write_text("half of the new", "utf-8")
        raise RuntimeError("disk full")
    assert target.read_text("utf-8") == "old\n"
    assert _leftovers(tmp_path) == []


def test_a_failed_table_write_leaves_no_temp_file_and_the_old_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "scores.parquet"
    write_table(pd.DataFrame({"a": [1, 2]}), target, metadata={"v": 1})
    before = target.read_bytes()

    def crash(*_args: object, **_kwargs: object) -> None:
        raise OSError("disk full")

    import pyarrow.parquet as pq

    monkeypatch.setattr(pq, "write_table", crash)
    with pytest.raises(OSError, match="disk full"):
        write_table(pd.DataFrame({"a": [3]}), target, metadata={"v": 2})
    assert target.read_bytes() == before
    assert read_metadata(target) == {"v": 1}
    assert _leftovers(tmp_path) == []
    assert surveytool.io.tables.write_table is write_table


def test_a_failed_folder_write_leaves_the_old_folder(tmp_path: Path) -> None:
    target = tmp_path / "report"
    with atomic_folder(target) as folder:
        (folder / "a.txt").write_text("old", "utf-8")
    with pytest.raises(RuntimeError), atomic_folder(target) as folder:
        (folder / "a.txt").write_text("new", "utf-8")
        raise RuntimeError("crash")
    assert (target / "a.txt").read_text("utf-8") == "old"
    assert _leftovers(tmp_path) == []
    with atomic_folder(target) as folder:  # a complete write replaces the folder as a whole
        (folder / "b.txt").write_text("new", "utf-8")
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]
    assert _leftovers(tmp_path) == []


def test_writers_in_threads_do_not_disturb_each_others_modes(tmp_path: Path, no_umask: int) -> None:
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for j in range(20):
                secret = write_text_atomic(tmp_path / f"s{i}-{j}", "x", secret=True)
                plain = write_text_atomic(tmp_path / f"p{i}-{j}", "x")
                assert _mode(secret) == 0o600 and _mode(plain) == 0o666 & ~no_umask
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_writers_in_threads_install_no_signal_handler(tmp_path: Path) -> None:
    import signal

    before = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    seen: list[object] = []

    def work() -> None:
        with atomic_path(tmp_path / "t.csv", secret=True) as tmp:
            tmp.write_text("x", "utf-8")
            seen.append(signal.getsignal(signal.SIGINT))  # the process's handler, untouched

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen == [before[0]] and (tmp_path / "t.csv").read_text("utf-8") == "x"
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_a_secret_file_appears_whole_or_not_at_all(tmp_path: Path) -> None:
    """Written aside, then hard-linked: of two creators one wins, the other is refused, and the
    file never holds part of a key."""
    path = tmp_path / "k.key"
    results: list[object] = []

    def create(data: bytes) -> None:
        try:
            results.append(create_secret_file(path, data))
        except FileExistsError as exc:
            results.append(exc)

    threads = [threading.Thread(target=create, args=(bytes([65 + i]) * 100_000,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(isinstance(r, Path) for r in results) == 1
    assert sum(isinstance(r, FileExistsError) for r in results) == 3
    data = path.read_bytes()
    assert len(data) == 100_000 and len(set(data)) == 1 and _mode(path) == 0o600
    assert _leftovers(tmp_path) == []


_HOLD = """
import sys, time
from pathlib import Path
from surveytool.io.files import atomic_path, atomic_folder
target = Path(sys.argv[1])
writer = atomic_folder(target) if sys.argv[2] == "folder" else atomic_path(target, secret=True)
with writer as tmp:
    print(tmp.name, flush=True)
    time.sleep(600)
"""


def _holder(target: Path, kind: str = "file") -> tuple[subprocess.Popen[str], str]:
    """A real process in the middle of an atomic write of ``target``, and its temporary's name."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(target), kind], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    name = proc.stdout.readline().strip()
    assert name.startswith(f".{target.name}.{proc.pid}-") and name.endswith(".tmp"), name
    return proc, name


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_a_killed_writers_temporary_is_removed_by_the_next_write_a_live_ones_kept(
    tmp_path: Path, kind: str
) -> None:
    target = tmp_path / ("scores.csv" if kind == "file" else "report")
    other = tmp_path / "other.csv"
    killed, stale = _holder(target, kind)
    other_writer, other_tmp = _holder(other)  # another target's: not this write's business
    live, running = _holder(target, kind)
    try:
        killed.kill()  # SIGKILL: nothing can remove its temporary
        killed.wait()
        other_writer.kill()
        other_writer.wait()
        assert {stale, running, other_tmp} <= set(_leftovers(tmp_path))
        if kind == "file":
            write_text_atomic(target, "new\n")
            assert target.read_text("utf-8") == "new\n"
        else:
            with atomic_folder(target) as folder:
                (folder / "a.txt").write_text("new", "utf-8")
        assert _leftovers(tmp_path) == sorted([running, other_tmp])  # the live writer's is kept
    finally:
        live.kill()
        live.wait()
    write_text_atomic(other, "x")
    if kind == "file":
        write_text_atomic(target, "again\n")
    else:
        with atomic_folder(target) as folder:
            (folder / "b.txt").write_text("again", "utf-8")
    assert _leftovers(tmp_path) == []  # its owner is gone now: removed too


def test_an_old_folder_moved_aside_is_kept_while_it_is_the_only_copy(tmp_path: Path) -> None:
    """A writer killed between moving the old folder aside and renaming the new one in: the
    target is missing, and the moved-aside folder is the only copy of the old results."""
    import surveytool.io.files as files

    target = tmp_path / "report"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # its pid is no longer running
    aside = tmp_path / files._temporary_name(target, "old").name.replace(
        f".{os.getpid()}-", f".{dead.pid}-"
    )
    aside.mkdir()
    (aside / "a.txt").write_text("old", "utf-8")
    assert files.remove_stale_temporaries(target) == []  # the target is missing: kept
    target.mkdir()
    assert files.remove_stale_temporaries(target) == [aside] and not aside.exists()


_COUNT = """
import sys
from pathlib import Path
from surveytool.io.files import LockFile
lock, counter = Path(sys.argv[1]), Path(sys.argv[2])
for _ in range(int(sys.argv[3])):
    with LockFile(lock):
        counter.write_text(str(int(counter.read_text()) + 1))
"""


def test_a_lock_file_removed_on_release_still_excludes_every_other_process(
    tmp_path: Path,
) -> None:
    """Processes that unlink the lock file on every release: a waiter may lock the unlinked
    file, which must not count (the inode check), or increments would be lost."""
    lock, counter = tmp_path / ".c.lock", tmp_path / "count"
    counter.write_text("0")
    runs = [
        subprocess.Popen([sys.executable, "-c", _COUNT, str(lock), str(counter), "150"])
        for _ in range(4)
    ]
    assert [p.wait(timeout=120) for p in runs] == [0] * 4
    assert counter.read_text() == "600"  # no increment lost
    assert not lock.exists()  # and no lock file left


def test_a_lock_is_refused_while_held_and_its_file_removed_after(tmp_path: Path) -> None:
    from surveytool.io.files import LockFile

    path = tmp_path / ".c.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    lock = LockFile(path)
    assert lock.acquire(timeout=0) is False and lock.acquire(timeout=0.2) is False
    holder.kill()  # SIGKILL: the kernel lets go of the lock; the file stays
    holder.wait()
    assert path.exists()
    assert lock.acquire(timeout=5) is True  # the lock of a dead holder is free
    lock.release()
    assert not path.exists()


_HOLD_LOCK = """
import sys, time
from surveytool.io.files import LockFile
with LockFile(sys.argv[1]):
    print("held", flush=True)
    time.sleep(600)
"""


SIGNAL_IN_RENAME = """
import os, signal, sys
from pathlib import Path
import surveytool.io.files as files
real = os.replace
def replace(a, b):  # the signal arrives during the rename: held until the output is complete
    os.kill(os.getpid(), signal.SIGINT)
    real(a, b)
files.os.replace = replace
files.write_text_atomic(Path(sys.argv[1]), "complete\\n")
print("not reached")
"""


def test_a_signal_during_the_rename_keeps_the_complete_output_and_says_no_more(
    tmp_path: Path,
) -> None:
    # the output is complete when the held signal is acted on: it is kept, and the message does
    # not claim that unfinished output was removed (an import interrupted so said it was)
    target = tmp_path / "out.txt"
    done = subprocess.run(
        [sys.executable, "-c", SIGNAL_IN_RENAME, str(target)], capture_output=True, text=True
    )
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip().splitlines() == ["interrupted (SIGINT)"]
    assert "not reached" not in done.stdout
    assert target.read_text() == "complete\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
