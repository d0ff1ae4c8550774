"""Writing files safely: atomic file and folder writers, and secret files (mode 0600).

Atomic: the data goes to a temporary file (or folder) beside the target, is flushed to disk
(``fsync``), and replaces the target with :func:`os.replace` only when complete; on any error the
temporary file is removed and the old target is left as it was. A crash never leaves a
half-written file under the target's name.

Permissions never touch the process-wide umask (reading it means setting it, which races with
every other thread of a web server): an ordinary file or folder is created with ``open``'s modes
0666 / 0777, which the kernel narrows by the umask just as for a plain ``open()``; a secret file
is created 0600 from its first byte (``os.open`` with mode 0600, then ``fchmod`` to 0600).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

#: Mode of a secret file: read and write for its owner only.
SECRET_MODE = 0o600
_FILE_MODE = 0o666  # narrowed by the umask, like open()
_FOLDER_MODE = 0o777  # narrowed by the umask, like mkdir()


def _temporary_name(target: Path) -> Path:
    return target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")


def _create_exclusive(path: Path, mode: int) -> int:
    """A new file opened for writing; ``mode`` 0600 is enforced, others follow the umask."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    if mode == SECRET_MODE:
        try:
            os.fchmod(fd, SECRET_MODE)
        except BaseException:
            os.close(fd)
            raise
    return fd


def _new_temporary_file(target: Path, mode: int) -> Path:
    for _ in range(100):
        tmp = _temporary_name(target)
        try:
            os.close(_create_exclusive(tmp, mode))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"{target.parent}: cannot find a free temporary name")  # pragma: no cover


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (where the platform lets a folder be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - file systems that refuse fsync on folders
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(target: str | Path, *, secret: bool = False) -> Iterator[Path]:
    """A temporary path beside ``target`` that replaces it only if the block completes.

    Write the file at the yielded path (any writer that takes a path: pandas, pyarrow, ...). The
    file exists, empty, when the block starts; it gets the permissions a plain ``open()`` would
    give, or 0600 with ``secret``. On an error inside the block the temporary file is removed and
    ``target`` is untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _new_temporary_file(target, SECRET_MODE if secret else _FILE_MODE)
    try:
        yield tmp
        if secret:  # a writer may have replaced the file: the mode must still be 0600
            os.chmod(tmp, SECRET_MODE)
        _fsync_file(tmp)
        os.replace(tmp, target)
        _fsync_folder(target.parent)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(target: str | Path, text: str, *, secret: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``target`` atomically; returns the path."""
    return write_bytes_atomic(target, text.encode("utf-8"), secret=secret)


def write_bytes_atomic(target: str | Path, data: bytes, *, secret: bool = False) -> Path:
    """Write ``data`` to ``target`` atomically; returns the path."""
    target = Path(target)
    with atomic_path(target, secret=secret) as tmp:
        tmp.write_bytes(data)
    return target


@contextlib.contextmanager
def atomic_folder(target: str | Path) -> Iterator[Path]:
    """A temporary folder beside ``target`` that replaces it only if the block completes.

    The folder gets the permissions a plain ``mkdir`` would give. An existing ``target`` is moved
    aside, the new folder renamed into place, then the old one removed; on an error inside the
    block the temporary folder is removed and ``target`` is untouched. Whether an existing
    ``target`` may be replaced at all is the caller's decision, made before.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(100):
        tmp = _temporary_name(target)
        try:
            os.mkdir(tmp, _FOLDER_MODE)
        except FileExistsError:  # pragma: no cover
            continue
        break
    else:  # pragma: no cover
        raise FileExistsError(f"{target.parent}: cannot find a free temporary name")
    try:
        yield tmp
        for path in tmp.rglob("*"):
            if path.is_file():
                _fsync_file(path)
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}.old-{secrets.token_hex(6)}")
            os.replace(target, old)
        os.replace(tmp, target)
        _fsync_folder(target.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def create_secret_file(path: str | Path, data: bytes) -> Path:
    """Create ``path`` holding ``data``, mode 0600 from creation, flushed to disk.

    Refuses (:class:`FileExistsError`) when ``path`` exists: a secret is never overwritten. The
    folder is created (mode 0700) when missing. A failed write removes the partial file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = _create_exclusive(path, SECRET_MODE)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)
    return path
