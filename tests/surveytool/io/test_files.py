"""``surveytool.io.files`` and ``surveytool.io.tables``: atomic writes, secret files, no umask.

The process umask is never read or set (setting it is the only way to read it, and it is shared
by every thread of a web server): ``os.umask`` is replaced by a function that fails the test.
The ``no_umask`` fixture is in conftest.py.
"""

from __future__ import annotations

import stat
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
