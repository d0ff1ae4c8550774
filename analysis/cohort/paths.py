"""The files of one ``cohort import``, checked before any work: no output may be an input.

The outputs are the cohort, its disclosure reports (JSON, text), its quarantine report and its
lock file; the inputs the source, the mapping, a REDCap dictionary, a Qualtrics definition, an
instrument file and the pseudonym key file. An output equal to an input (by any spelling, a
symlink or a hard link) would destroy it: a source named ``<cohort>.quarantine.csv`` would be
overwritten by the quarantine report (or deleted after a clean run), a key file given as ``-o``
would be replaced by the cohort. Each is refused with one line, before anything is read or
written (:class:`surveytool.io.files.PathCollisionError`).

Two imports into one cohort at once are serialized by :func:`cohort_lock`: an exclusive lock
(:class:`surveytool.io.files.LockFile`, an OS lock released even when the process dies, whose
hidden ``.<cohort>.lock`` file exists only while an import holds it) held from reading the
cohort and its ledger to writing them, so both batches land, or one is refused after its
timeout; none is lost.

A key file that does not exist yet is not created where other users could replace it (a folder
they may write to, without the sticky bit), nor beside the cohort in a folder other users can
read: a key belongs apart from the data it protects.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

from analysis.cohort.result import sidecar_paths
from analysis.errors import AnalysisError, Param, Phrase
from surveytool.io.files import (
    LockFile,
    PathCollisionError,
    open_to_others,
    refuse_collisions,
    same_file,
)


def lock_path(output: Path) -> Path:
    """The lock file of a cohort (held while its ledger is read and the cohort written)."""
    return output.with_name(f".{output.name}.lock")


class CohortLockedError(AnalysisError):
    """Another import held the cohort's lock for longer than the timeout."""


@contextlib.contextmanager
def cohort_lock(
    output: Path | None,
    *,
    timeout: float | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold the cohort's exclusive lock for the block (nothing to lock without an output).

    When another import holds it, ``on_wait`` is told so (once) and the import waits: until it
    is free (``timeout`` None) or for ``timeout`` seconds, then :class:`CohortLockedError`.
    """
    if output is None:
        yield
        return
    path = lock_path(output)
    lock = LockFile(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        free = lock.acquire(timeout=0)
    except OSError as exc:  # a read-only folder: name the cohort, not its hidden lock file
        reason = exc.strerror or str(exc)
        raise OSError(exc.errno, f"{reason}; nothing was imported", str(output)) from None
    if not free:
        limit = "" if timeout is None else f" (at most {timeout:g} s)"
        if on_wait is not None:
            on_wait(f"another import is writing {output}; waiting for it to finish{limit}")
        if not lock.acquire(timeout=timeout):
            raise CohortLockedError(
                Phrase(
                    f"{output}: another import is still writing this cohort after "
                    f"{timeout:g} s; nothing was imported; try again when it is done, or give a "
                    "longer ",
                    Param("lock_timeout"),
                )
            )
    try:
        yield
    finally:
        lock.release()


def refuse_path_collisions(
    *,
    source: Path,
    output: Path | None,
    key_file: Path | None,
    mapping: Path | None = None,
    dictionary: Path | None = None,
    qsf: Path | None = None,
    instrument: Path | None = None,
) -> None:
    """Refuse an import whose outputs would replace one of its inputs, or each other."""
    inputs: dict[str, Path | None] = {
        "source": source,
        "mapping": mapping,
        "REDCap dictionary": dictionary,
        "Qualtrics definition": qsf,
        "instrument file": instrument,
        "pseudonym key file": key_file,
    }
    if key_file is not None and same_file(key_file, source):
        raise PathCollisionError(
            Phrase(
                f"{key_file}: the pseudonym key file is the source; give another ",
                Param("key_file"),
            )
        )
    if output is None:
        return
    if output.is_dir() or not output.suffix:  # a cohort dataset: a folder of our files
        inside = Path(os.path.realpath(output))
        for label, path in inputs.items():
            if path is not None and inside in Path(os.path.realpath(path)).parents:
                raise PathCollisionError(
                    f"{path}: the {label} is inside the cohort folder {output}, which the "
                    "import rewrites; move it out first"
                )
    paths = sidecar_paths(output)
    refuse_collisions(
        {
            "cohort": output,
            "disclosure report": paths["disclosure_json"],
            "disclosure text": paths["disclosure_text"],
            "quarantine report": paths["quarantine"],
            "columns file": paths["columns"],
            "cohort lock": lock_path(output),
        },
        inputs,
    )
    if key_file is not None and not key_file.exists():
        _refuse_key_folder(key_file, output)


def _refuse_key_folder(key_file: Path, output: Path) -> None:
    folder = key_file.parent if str(key_file.parent) else Path(".")
    if not folder.is_dir():
        return  # created (0700) with the key
    if open_to_others(folder):
        raise PathCollisionError(
            Phrase(
                f"{key_file}: other users may replace files in {folder}; create the key in a "
                "folder only you can write to (or leave out ",
                Param("key_file"),
                " for the default)",
            )
        )
    readable = os.stat(folder).st_mode & (stat.S_IRGRP | stat.S_IROTH)
    if readable and same_file(folder, output.parent if str(output.parent) else Path(".")):
        raise PathCollisionError(
            Phrase(
                f"{key_file}: a new key would sit beside the cohort in {folder}, which other "
                "users can list and which travels with the data; keep the key apart (another "
                "folder, or leave out ",
                Param("key_file"),
                " for one in your user data folder)",
            )
        )
