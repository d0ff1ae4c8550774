"""Writing files safely: atomic file and folder writers, secret files (mode 0600), signals.

Atomic: the data goes to a temporary file (or folder) beside the target, is flushed to disk
(``fsync``), and replaces the target with :func:`os.replace` only when complete; on any error the
temporary file is removed and the old target is left as it was. A crash never leaves a
half-written file under the target's name. An error names the target, never the temporary file.

Signals (SIGINT, SIGTERM), in the main thread: a handler is installed *before* the temporary
file is created and the previous one restored only *after* the rename, so there is no moment
where a signal's default action could leave a temporary file behind. A signal while the data is
being written removes every temporary file of the process and exits with 128 + the signal's
number (130 for Ctrl-C); a signal during the rename itself is held until the rename is done,
then the same. Other threads (the web server's) install nothing: Python lets only the main
thread handle signals, and they get the same atomic writes through ``finally`` blocks. SIGKILL
cannot be handled: the target is still intact, a hidden ``.<name>.<pid>-<tag>.<random>.tmp``
may remain, and the next atomic write to that target removes it once its owner (by pid) is no
longer running (:func:`remove_stale_temporaries`).

Permissions never touch the process-wide umask (reading it means setting it, which races with
every other thread of a web server): an ordinary file or folder is created with ``open``'s modes
0666 / 0777, which the kernel narrows by the umask just as for a plain ``open()``; a secret file
(anything holding personal data: scores, quarantine reports, cohorts, reports, clinic exports and
backups) is created 0600 from its first byte (``os.open`` with mode 0600, then ``fchmod``), a
secret folder 0700.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
import shutil
import signal
import socket
import stat
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from surveytool.errors import SurveytoolError

#: Mode of a secret file: read and write for its owner only.
SECRET_MODE = 0o600
#: Mode of a secret folder: its owner only.
SECRET_FOLDER_MODE = 0o700
_FILE_MODE = 0o666  # narrowed by the umask, like open()
_FOLDER_MODE = 0o777  # narrowed by the umask, like mkdir()
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class PathCollisionError(SurveytoolError):
    """An output would replace (or delete) an input, a key file or another output."""


# ---------------------------------------------------------------------------------------------
# signals
# ---------------------------------------------------------------------------------------------


class _SignalGuard:
    """The process's unfinished outputs, and the handler that removes them on a signal.

    Only the main thread touches it (Python runs signal handlers in the main thread, and only it
    may install them), so no lock is needed, and the handler never waits for one.
    """

    def __init__(self) -> None:
        self.depth = 0  # nested writes in progress
        self.live: dict[Path, bool] = {}  # unfinished path -> is a folder
        self.committing = 0  # inside a rename: signals are held
        self.pending: int | None = None
        self.previous: dict[int, Any] = {}
        self.done: list[str] = []  # what a held block completes (said when its signal acts)

    @staticmethod
    def active() -> bool:
        return threading.current_thread() is threading.main_thread()

    def enter(self) -> None:
        if self.depth == 0:
            for signum in _SIGNALS:
                before = signal.getsignal(signum)
                if before is signal.SIG_IGN:  # ignored (a background job): keep ignoring it
                    continue
                self.previous[signum] = before
                signal.signal(signum, self._handle)
        self.depth += 1

    def leave(self) -> None:
        self.depth -= 1
        if self.depth == 0:
            self.live.clear()
            for signum, before in self.previous.items():
                signal.signal(signum, before)  # a signal from here on: nothing is unfinished
            self.previous.clear()

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.committing:
            self.pending = signum  # finish the rename first; commit() ends the process after
            return
        self.abandon(signum)

    def abandon(self, signum: int) -> None:
        """Remove every unfinished output and end the process with 128 + ``signum`` (the
        message says outputs were removed only when there were any: a signal held during a
        rename arrives once the output is complete)."""
        removed = bool(self.live)
        for path, is_folder in list(self.live.items()):
            if is_folder:
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    path.unlink()
        self.live.clear()
        name = signal.Signals(signum).name
        # os.write, not print: the handler may interrupt a print to the same stream
        with contextlib.suppress(OSError):
            if removed:
                what = ": unfinished output removed"
            elif self.done:
                what = f" after {self.done[-1]} (kept)"
            else:
                what = ""
            os.write(2, f"\ninterrupted ({name}){what}\n".encode())
        raise SystemExit(128 + signum)

    @contextlib.contextmanager
    def committing_section(self) -> Iterator[None]:
        """Signals are held while the block runs (a rename), then acted on."""
        self.committing += 1
        try:
            yield
        finally:
            self.committing -= 1
        if self.pending is not None and not self.committing:
            signum, self.pending = self.pending, None
            self.abandon(signum)


_GUARD = _SignalGuard()


@contextlib.contextmanager
def _guarded() -> Iterator[_SignalGuard | None]:
    """The guard for the main thread (installed for the block), None in other threads."""
    if not _GUARD.active():
        yield None
        return
    _GUARD.enter()
    try:
        yield _GUARD
    finally:
        _GUARD.leave()


@contextlib.contextmanager
def _commit(guard: _SignalGuard | None) -> Iterator[None]:
    if guard is None:
        yield
        return
    with guard.committing_section():
        yield


@contextlib.contextmanager
def held_signals(done: str = "") -> Iterator[None]:
    """SIGINT and SIGTERM held while the block runs, then acted on (exit 128 + signal).

    For outputs that belong together (a cohort, its ledger and its disclosure and quarantine
    reports): a signal during them ends the process only once all are written, so no file
    describes a state the others do not; ``done`` says what the block completes ("the import
    was written"), in the one line a held signal prints (``interrupted (SIGINT) after the
    import was written (kept)``), so nobody takes it for cancelled. In other threads: the block
    runs as it is (signals reach the main thread only)."""
    with _guarded() as guard:
        if guard is not None and done:
            guard.done.append(done)
        try:
            with _commit(guard):
                yield
        finally:
            if guard is not None and done:
                guard.done.pop()


def _track(guard: _SignalGuard | None, path: Path, *, folder: bool = False) -> None:
    if guard is not None:
        guard.live[path] = folder


def _untrack(guard: _SignalGuard | None, path: Path) -> None:
    if guard is not None:
        guard.live.pop(path, None)


# ---------------------------------------------------------------------------------------------
# atomic writers
# ---------------------------------------------------------------------------------------------


def _owner_tag() -> str:
    """Where a pid means this process: a hash of the host's name and the pid namespace.

    A folder may be shared by other hosts (a network file system) or containers (another pid
    namespace), where the same pid is another process: their temporaries carry another tag,
    and are never taken for ours.
    """
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:  # not Linux: the host alone
        namespace = ""
    digest = hashlib.sha256(f"{socket.gethostname()}\0{namespace}".encode()).hexdigest()
    return digest[:8]


_OWNER = _owner_tag()


def _temporary_name(target: Path, kind: str = "tmp") -> Path:
    """``.<name>.<pid>-<owner tag>.<random>.<kind>``: the writing process can be told."""
    return target.with_name(f".{target.name}.{os.getpid()}-{_OWNER}.{secrets.token_hex(6)}.{kind}")


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists (of this host and pid namespace)."""
    if pid <= 0:
        return True  # not a pid we wrote: never taken for a dead owner's
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    except OSError:  # pragma: no cover - cannot tell: assume alive
        return True
    return True


def remove_stale_temporaries(target: str | Path) -> list[Path]:
    """Remove the temporaries of ``target`` that a dead process left (returns them).

    A process killed outright (SIGKILL, a power cut, the OOM killer) cannot remove its hidden
    ``.<name>.<pid>-<tag>.<random>.tmp`` (or an old folder moved aside, ``….old``); the next
    atomic write to ``target`` removes those whose owner, by pid, is no longer running on this
    host and pid namespace (the tag). A live process's temporary, another host's or container's,
    a name of any other form, and an old folder while ``target`` is missing (the process died
    between its two renames: that folder is the only copy) are left alone.
    """
    target = Path(target)
    pattern = re.compile(
        rf"\.{re.escape(target.name)}\.(\d+)-{_OWNER}\.[0-9a-f]{{12}}\.(tmp|old)",
        re.DOTALL,
    )
    removed: list[Path] = []
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return removed
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None:
            continue
        pid = int(match.group(1))
        if pid == os.getpid() or _alive(pid):
            continue
        if match.group(2) == "old" and not os.path.lexists(target):
            continue  # killed between its two renames: the old folder is the only copy
        path = Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                path.unlink()
        removed.append(path)
    return removed


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


def _new_temporary_file(target: Path, mode: int, guard: _SignalGuard | None) -> Path:
    for _ in range(100):
        tmp = _temporary_name(target)
        _track(guard, tmp)  # before it exists: a signal right after creation removes it
        try:
            os.close(_create_exclusive(tmp, mode))
        except FileExistsError:  # pragma: no cover - 48 random bits
            _untrack(guard, tmp)
            continue
        return tmp
    raise FileExistsError(f"{target.parent}: cannot find a free temporary name")  # pragma: no cover


def fsync_file(path: Path) -> None:
    """Flush a written file to the disk (an error, such as a full or failing disk, is raised)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_folder(folder: Path) -> None:
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


def _naming_target(exc: OSError, target: Path, tmp: Path | None = None) -> OSError:
    """The same error about ``target`` (a full disk, a read-only folder ...), not the temporary."""
    if exc.errno is None:
        reason = str(exc)
        if tmp is not None:
            reason = reason.replace(str(tmp), str(target))
        return OSError(reason)
    reason = exc.strerror or os.strerror(exc.errno)
    if exc.errno == errno.ENOSPC:
        reason = "no space left on the device; nothing was written (an old file is intact)"
    return OSError(exc.errno, reason, str(target))


def _ensure_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _naming_target(exc, folder) from None


def _link_new(tmp: Path, target: Path, mode: int) -> None:
    """``target`` as a new name of ``tmp``; FileExistsError when ``target`` exists."""
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise
    except OSError:  # no hard links here (FAT, some network file systems): exclusive create
        fd = _create_exclusive(target, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(tmp.read_bytes())
            handle.flush()
            os.fsync(handle.fileno())


@contextlib.contextmanager
def _atomic_file(target: Path, *, secret: bool, replace: bool) -> Iterator[Path]:
    _ensure_folder(target.parent)
    remove_stale_temporaries(target)
    with _guarded() as guard:
        tmp: Path | None = None
        try:
            tmp = _new_temporary_file(target, SECRET_MODE if secret else _FILE_MODE, guard)
            yield tmp
            if secret:  # a writer may have replaced the file: the mode must still be 0600
                os.chmod(tmp, SECRET_MODE)
            fsync_file(tmp)
            with _commit(guard):
                if replace:
                    os.replace(tmp, target)
                    _untrack(guard, tmp)
                else:
                    _link_new(tmp, target, SECRET_MODE if secret else _FILE_MODE)
            fsync_folder(target.parent)
        except OSError as exc:
            raise _naming_target(exc, target, tmp) from exc
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(
    target: str | Path, *, secret: bool = False, overwrite: bool = True
) -> Iterator[Path]:
    """A temporary path beside ``target`` that replaces it only if the block completes.

    Write the file at the yielded path (any writer that takes a path: pandas, pyarrow, ...). The
    file exists, empty, when the block starts; it gets the permissions a plain ``open()`` would
    give, or 0600 with ``secret`` (from creation). On an error inside the block the temporary
    file is removed and ``target`` is untouched; an :class:`OSError` is raised again naming
    ``target``. ``overwrite=False``: the file is put in place only if ``target`` does not exist
    then (:class:`FileExistsError` otherwise, checked at the last moment, so of two processes
    writing one new file exactly one wins). SIGINT/SIGTERM in the main thread: see the module's
    notes.
    """
    with _atomic_file(Path(target), secret=secret, replace=overwrite) as tmp:
        yield tmp


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
def atomic_folder(target: str | Path, *, secret: bool = True) -> Iterator[Path]:
    """A temporary folder beside ``target`` that replaces it only if the block completes.

    ``secret`` (the default: a folder of results holds personal data): the folder is created
    0700, and every file in it made 0600 before the rename (nobody else could open them before:
    the folder admits its owner only). Otherwise it gets the permissions a plain ``mkdir`` would
    give. An existing ``target`` is moved aside, the new folder renamed into place (signals held
    between the two renames), then the old one removed; on an error inside the block the
    temporary folder is removed and ``target`` is untouched. Whether an existing ``target`` may
    be replaced at all is the caller's decision, made before.
    """
    target = Path(target)
    _ensure_folder(target.parent)
    remove_stale_temporaries(target)
    with _guarded() as guard:
        tmp: Path | None = None
        try:
            for _ in range(100):
                candidate = _temporary_name(target)
                _track(guard, candidate, folder=True)
                try:
                    os.mkdir(candidate, SECRET_FOLDER_MODE if secret else _FOLDER_MODE)
                except FileExistsError:  # pragma: no cover
                    _untrack(guard, candidate)
                    continue
                tmp = candidate
                break
            else:  # pragma: no cover
                raise FileExistsError(f"{target.parent}: cannot find a free temporary name")
            yield tmp
            for path in tmp.rglob("*"):
                if path.is_file() and not path.is_symlink():
                    if secret:
                        os.chmod(path, SECRET_MODE)
                    fsync_file(path)
                elif secret and path.is_dir() and not path.is_symlink():
                    os.chmod(path, SECRET_FOLDER_MODE)
            old = _temporary_name(target, "old")
            with _commit(guard):
                moved = False
                if target.exists() or target.is_symlink():
                    os.replace(target, old)
                    moved = True
                os.replace(tmp, target)
                _untrack(guard, tmp)
                if moved:
                    _track(guard, old, folder=True)  # garbage now: a signal may remove it
            fsync_folder(target.parent)
            if moved:
                shutil.rmtree(old, ignore_errors=True)
        except OSError as exc:
            raise _naming_target(exc, target) from exc
        finally:
            if tmp is not None and tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)


def create_secret_file(path: str | Path, data: bytes) -> Path:
    """Create ``path`` holding ``data``, mode 0600 from creation, flushed to disk.

    Refuses (:class:`FileExistsError`) when ``path`` exists: a secret is never overwritten. The
    folder is created (mode 0700) when missing. The data is written to a temporary file first
    and hard-linked to ``path`` (which fails when ``path`` exists, so of two processes creating
    the same key one wins and the other reads it), so ``path`` never holds part of a key; a
    failed or interrupted write leaves nothing.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=SECRET_FOLDER_MODE)
    with _atomic_file(path, secret=True, replace=False) as tmp:
        tmp.write_bytes(data)
    return path


# ---------------------------------------------------------------------------------------------
# locks
# ---------------------------------------------------------------------------------------------


class LockFile:
    """An exclusive lock held through a lock file, which exists only while it is held.

    The usual safe protocol for removable lock files (``flock`` is released by the kernel when
    its holder dies, even by SIGKILL): open (creating it) and ``flock`` the file, then check
    that the locked descriptor is still the file at the path (``fstat`` against ``stat``: a
    holder may have unlinked it meanwhile, and the lock of an unlinked file excludes nobody),
    and try again if not; on release, unlink the path *while still holding the lock*, then
    close. So a lock file left behind is only ever one whose holder died (SIGKILL, a power
    cut), and the next holder removes it. (The ``filelock`` library keeps its lock files
    forever by design, as it does not verify the inode.) Usage::

        lock = LockFile(path)
        if not lock.acquire(timeout=0):   # held by another process
            ...
        try: ... finally: lock.release()

    or ``with LockFile(path): ...`` (waits as long as it takes). Between processes only: one
    process must not take one lock twice.
    """

    def __init__(self, path: str | Path, *, poll: float = 0.05) -> None:
        self.path = Path(path)
        self._poll = poll
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, timeout: float | None = None) -> bool:
        """Take the lock: waiting without limit (``timeout`` None), for ``timeout`` seconds, or
        not at all (0). False when another process still held it then."""
        import fcntl
        import time

        if self._fd is not None:
            raise RuntimeError(f"{self.path}: this lock is held already")
        deadline = None if timeout is None else time.monotonic() + timeout
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        while True:
            try:
                fd = os.open(self.path, flags, SECRET_MODE)
            except FileNotFoundError:  # the folder is gone, or a network file system's race
                if not self.path.parent.is_dir():
                    raise
                continue
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | (0 if deadline is None else fcntl.LOCK_NB))
                except BlockingIOError:
                    os.close(fd)
                    if deadline is not None and time.monotonic() >= deadline:
                        return False
                    time.sleep(self._poll)
                    continue
                held, current = os.fstat(fd), None
                with contextlib.suppress(FileNotFoundError):
                    current = os.stat(self.path, follow_symlinks=False)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.close(fd)
                raise
            if current is not None and (current.st_dev, current.st_ino) == (
                held.st_dev,
                held.st_ino,
            ):
                self._fd = fd
                return True
            os.close(fd)  # its holder removed it after we opened it: lock the file there now

    def release(self) -> None:
        """Remove the lock file (still holding the lock), then let go of the lock."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
        finally:
            os.close(fd)  # closing releases the flock

    def __enter__(self) -> LockFile:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


# ---------------------------------------------------------------------------------------------
# collisions: no output may be an input, a key file, or another output
# ---------------------------------------------------------------------------------------------


def _identity(path: Path) -> tuple[str, tuple[int, int] | None]:
    """The resolved spelling of ``path`` and, when it exists, its (device, inode)."""
    resolved = os.path.normcase(os.path.realpath(path))
    try:
        st = os.stat(path)
    except OSError:
        return resolved, None
    return resolved, (st.st_dev, st.st_ino)


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether ``a`` and ``b`` name one file: the same resolved path (symlinks, ``..``, another
    spelling) or the same existing file (a hard link)."""
    ra, ia = _identity(Path(a))
    rb, ib = _identity(Path(b))
    return ra == rb or (ia is not None and ia == ib)


def refuse_collisions(
    outputs: Mapping[str, str | Path | None], inputs: Mapping[str, str | Path | None]
) -> None:
    """Refuse, before any work, an output that is an input or another output.

    ``outputs`` and ``inputs`` map what a file is (``"scores"``, ``"quarantine report"``, ``"key
    file"``...) to its path (None: not used). Raises :class:`PathCollisionError`, one line
    naming both, when any output would replace an input (by any spelling, symlink or hard link)
    or two outputs are one file. ``--force`` never overrides it.
    """
    outs = [(label, Path(p)) for label, p in outputs.items() if p is not None]
    ins = [(label, Path(p)) for label, p in inputs.items() if p is not None]
    for i, (label, path) in enumerate(outs):
        for other_label, other in ins:
            if same_file(path, other):
                raise PathCollisionError(
                    f"{path}: the {label} would overwrite the {other_label} ({other}); "
                    "choose another output name (nothing was written)"
                )
        for other_label, other in outs[i + 1 :]:
            if same_file(path, other):
                raise PathCollisionError(
                    f"{path}: the {label} and the {other_label} ({other}) would be one file; "
                    "choose other names (nothing was written)"
                )


def refuse_folder_replacement(
    folder: str | Path,
    label: str,
    *,
    ours: Callable[[str], bool],
    inputs: Sequence[str | Path] = (),
) -> None:
    """Refuse, before any work, to replace ``folder`` (an output written whole, as a Parquet
    dataset) when it holds anything but what an earlier run of ours wrote there (entries whose
    names ``ours`` accepts), or when an input lies inside it: replacing the folder would delete
    them. A missing folder passes; a file of that name is refused too.
    """
    path = Path(os.path.abspath(folder))
    if not path.exists():
        return
    if not path.is_dir():
        raise PathCollisionError(
            f"{folder}: a file is there, and the {label} is a folder; remove the file or "
            "choose another name (nothing was written)"
        )
    for given in inputs:
        inside = Path(os.path.abspath(given))
        if inside == path or path in inside.parents:
            raise PathCollisionError(
                f"{folder}: the {label} would replace the folder that holds {given}; choose "
                "another output folder (nothing was written)"
            )
    foreign = sorted(e.name for e in path.iterdir() if not ours(e.name))
    if foreign:
        shown = ", ".join(foreign[:3]) + (
            f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
        )
        raise PathCollisionError(
            f"{folder}: the folder holds other files ({shown}), which writing the {label} "
            "there would delete; choose a new or empty folder (nothing was written)"
        )


def open_to_others(folder: str | Path) -> bool:
    """Whether users other than the owner may create, rename or remove files in ``folder``
    (writable by group or others, without the sticky bit that stops them)."""
    try:
        mode = os.stat(folder).st_mode
    except OSError:
        return False
    return bool(mode & (stat.S_IWGRP | stat.S_IWOTH)) and not mode & stat.S_ISVTX


# ---------------------------------------------------------------------------------------------
# bounded reads
# ---------------------------------------------------------------------------------------------

#: Largest source file (responses, cohort sources) read, in bytes: 2 GiB. Larger: split it, or
#: convert it to Parquet.
MAX_SOURCE_BYTES = 2 * 1024**3
#: Longest line of a delimited text file, in bytes (16 MiB).
MAX_LINE_BYTES = 16 * 1024**2
#: Most cells of a delimited text file read into memory: the header's width times the file's
#: lines, checked before the rows are parsed. 400 million: some 3.2 GB for the cells' pointers
#: alone, and what the 2 GiB byte limit allows at about 5 bytes a cell. A bound on memory, not on
#: the width: reading costs time in proportion to the cells (10**6 columns x 5 rows take
#: seconds), and a short row is padded to the header's width (which a header of a million names
#: over a million short lines would make 10**12 cells). Larger: keep the columns the survey
#: needs, split the rows into files, or convert the data to Parquet.
MAX_CELLS = 400_000_000
#: Most cells of a workbook sheet (openpyxl holds each as a Python object).
MAX_WORKBOOK_CELLS = 10_000_000
#: Largest instrument, mapping, dictionary or survey definition file, in bytes (8 MiB).
MAX_DEFINITION_BYTES = 8 * 1024**2


class FileTooLargeError(SurveytoolError):
    """A file is larger (in bytes, line length, columns or cells) than the documented limit."""


def regular_file(
    path: str | Path, what: str = "file", error: type[Exception] = SurveytoolError
) -> Path:
    """``path`` if it is a regular file (a symlink to one is fine); refuses FIFOs, devices,
    sockets and folders, which would hang or never end, with one clear line (an ``error``)."""
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise error(f"{path}: no such {what}; check the path") from None
    except OSError as exc:
        raise error(f"{path}: cannot read the {what}: {exc.strerror}") from None
    if stat.S_ISDIR(mode):
        raise error(f"{path}: is a folder, not a {what}")
    if not stat.S_ISREG(mode):
        kind = "a pipe (FIFO)" if stat.S_ISFIFO(mode) else "a device or socket"
        raise error(f"{path}: is {kind}, not a regular {what}; save the data to a file first")
    return path


def too_large(path: str | Path, what: str, limit: int) -> str:
    """The message for a file over ``limit`` bytes."""
    return (
        f"{path}: the {what} is larger than the limit of {limit:,} bytes; split it into "
        "smaller files (or, for data, convert it to Parquet)"
    )


def read_bytes_bounded(
    path: str | Path, limit: int, what: str = "file", error: type[Exception] = FileTooLargeError
) -> bytes:
    """The bytes of a regular file ``path``, refused once more than ``limit`` bytes were *read*
    (not the size ``stat`` claims, which a growing file does not keep)."""
    path = regular_file(path, what, error)
    with open(path, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise error(too_large(path, what, limit))
    return data


def check_line_lengths(
    path: str | Path,
    data: bytes,
    limit: int = MAX_LINE_BYTES,
    error: type[Exception] = FileTooLargeError,
) -> None:
    """Refuse ``data`` (the bytes of ``path``) when a line is longer than ``limit`` bytes.

    Linear and in C: from each position, the last newline within the next ``limit + 1`` bytes is
    the next position (a window without any newline is a line too long), so a 2 GiB file takes
    about size / limit searches, not one per line.
    """
    pos, size = 0, len(data)
    while size - pos > limit:
        last = data.rfind(b"\n", pos, pos + limit + 1)
        if last < 0:
            line = data.count(b"\n", 0, pos) + 1
            raise error(
                f"{path}: line {line} is longer than the limit of {limit:,} bytes; "
                "is it really a table with one row per line?"
            )
        pos = last + 1


def check_cells(
    path: str | Path,
    columns: int,
    lines: int,
    limit: int = MAX_CELLS,
    error: type[Exception] = FileTooLargeError,
) -> None:
    """Refuse a table of ``path`` whose ``columns`` times ``lines`` (an upper bound of its
    rows) is more than ``limit`` cells."""
    cells = columns * lines
    if cells > limit:
        raise error(
            f"{path}: {columns:,} columns x {lines:,} lines = {cells:,} cells, more than the "
            f"limit of {limit:,}; keep the columns the survey needs (items, id, groups), split "
            "the rows into several files, or convert it to Parquet"
        )


# ---------------------------------------------------------------------------------------------
# spreadsheet formulas in CSV cells
# ---------------------------------------------------------------------------------------------

#: First characters a spreadsheet reads as the start of a formula (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def escape_formula(value: object) -> object:
    """A text cell a spreadsheet would execute, with a ``'`` in front; anything else as it is.

    Executed: text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return (OWASP's
    CSV-injection guidance). The leading apostrophe makes Excel, LibreOffice and Google Sheets
    show the text instead of evaluating it. Left alone: numbers (not text), and text that is a
    plain decimal number such as ``-1`` or ``+2.5e3``, which a spreadsheet reads as that number,
    and a lone ``+`` or ``-`` (a rating, a placeholder), which has nothing to execute.
    Recoverable: text that already starts with ``'`` before such a character gets one more
    ``'``, so :func:`unescape_formula` (drop one leading ``'``) gives back every value exactly.
    """
    if not isinstance(value, str) or not value:
        return value
    rest = value.lstrip("'")
    if not rest.startswith(FORMULA_STARTS):
        return value
    if len(rest) == len(value) and rest[0] in "+-" and (rest in "+-" or _NUMBER.fullmatch(rest)):
        return value  # a number, or a lone sign (a rating, a placeholder): nothing to execute
    return "'" + value


def unescape_formula(value: object) -> object:
    """The value :func:`escape_formula` was given (for reading our CSV files back)."""
    if isinstance(value, str) and value.startswith("'"):
        rest = value.lstrip("'")
        if rest.startswith(FORMULA_STARTS):
            return value[1:]
    return value


#: Text that :func:`escape_formula` may change (it starts, after any ``'``, as a formula does).
_RISKY = r"'*[=+\-@\t\r]"


def escape_formulas(frame: Any) -> Any:
    """A copy of a pandas DataFrame with every text cell and column name passed through
    :func:`escape_formula` (numeric columns are not looked at); ``frame`` itself when nothing
    needs escaping."""
    import pandas as pd

    changed: dict[Any, Any] = {}
    for position in range(frame.shape[1]):
        series = frame.iloc[:, position]
        if pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series):
            continue
        if isinstance(series.dtype, pd.StringDtype):  # text only: the few that may need it
            risky = series.str.match(_RISKY).to_numpy(dtype=bool, na_value=False)
            if not risky.any():
                continue
            escaped = series.copy()
            escaped[risky] = series[risky].map(escape_formula)
        else:
            escaped = series.map(escape_formula)
        if not escaped.equals(series):
            changed[position] = escaped
    names = [escape_formula(c) for c in frame.columns]
    if not changed and names == list(frame.columns):
        return frame
    out = frame.copy()
    for position, escaped in changed.items():
        out.isetitem(position, escaped)
    out.columns = names
    return out
