"""Bundled instruments, their versions, and resolving "an id, an id@version or a path".

Several versions of one instrument can be bundled, so that results made with an older version
re-score exactly as they did. A bundled file is named ``<id>.yaml`` or ``<id>@<version>.yaml``;
its content decides its id and version (a name that disagrees with its content is refused by the
bundled-instrument tests).

References:

- ``ppai``: the newest bundled version (the one offered on the start page and in listings);
- ``ppai@1.0.0``: exactly that version (older versions are kept for re-scoring and are not
  offered for new answers);
- a path to a YAML file: that file.

Stored records (clinic administrations, links, saved personal results) keep the versioned
reference (:func:`versioned_ref`) or their provenance's version, so re-scoring uses the version
the answers were given with.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from surveytool.errors import InstrumentNotFoundError
from surveytool.instrument.load import load_path
from surveytool.instrument.model import Instrument

#: ``<id>@<version>``: the separator between an instrument id and a version in a reference.
VERSION_SEPARATOR = "@"


def bundled_dir() -> Path:
    """Folder of the bundled instrument files.

    In an installed wheel they sit in ``surveytool/_bundled_instruments``; in a source checkout, in
    the top-level ``instruments/`` folder.
    """
    package = Path(__file__).resolve().parent.parent
    packaged = package / "_bundled_instruments"
    if packaged.is_dir():
        return packaged
    return package.parent / "instruments"


@lru_cache(maxsize=32)
def _load_cached(path: str, mtime_ns: int) -> Instrument:
    return load_path(path)


def _load_file(path: Path) -> Instrument:
    return _load_cached(str(path.resolve()), path.stat().st_mtime_ns)


def version_key(version: str) -> tuple[int, int, int, int, str]:
    """Sort key of a semantic version: numbers compared as numbers, a pre-release before its
    release (``2.0.0-rc.1`` < ``2.0.0``); build metadata ignored.

    >>> sorted(["10.0.0", "2.0.0", "2.0.0-rc.1"], key=version_key)
    ['2.0.0-rc.1', '2.0.0', '10.0.0']
    """
    core, _, pre = version.split("+", 1)[0].partition("-")
    major, minor, patch = (int(part) for part in core.split("."))
    return (major, minor, patch, 0 if pre else 1, pre)


@dataclass(frozen=True)
class BundledVersion:
    """One bundled file: the instrument's id and version, and where it lies."""

    id: str
    version: str
    path: Path

    @property
    def ref(self) -> str:
        return f"{self.id}{VERSION_SEPARATOR}{self.version}"


def bundled_versions() -> dict[str, list[BundledVersion]]:
    """Every bundled file by instrument id, oldest version first (ids in name order)."""
    folder = bundled_dir()
    if not folder.is_dir():
        return {}
    found: dict[str, list[BundledVersion]] = {}
    for path in sorted(folder.glob("*.yaml")):
        inst = _load_file(path)
        found.setdefault(inst.id, []).append(BundledVersion(inst.id, inst.version, path))
    for versions in found.values():
        versions.sort(key=lambda v: version_key(v.version))
    return dict(sorted(found.items()))


def bundled_paths() -> dict[str, Path]:
    """The offered bundled instruments: the newest version's file, by instrument id.

    Older bundled versions are left out (they stay loadable as ``id@version``, see
    :func:`bundled_versions`).
    """
    return {inst_id: versions[-1].path for inst_id, versions in bundled_versions().items()}


def split_ref(text: str) -> tuple[str, str | None]:
    """``"ppai@1.0.0"`` -> ``("ppai", "1.0.0")``; ``"ppai"`` -> ``("ppai", None)``."""
    inst_id, sep, version = text.partition(VERSION_SEPARATOR)
    return (inst_id, version if sep else None)


def _looks_like_ref(text: str) -> bool:
    return re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]*(@[0-9A-Za-z.+-]+)?", text) is not None


def bundled_ref_path(text: str) -> Path | None:
    """The bundled file a reference names (``id`` or ``id@version``), None when it names none."""
    inst_id, version = split_ref(text)
    versions = bundled_versions().get(inst_id)
    if not versions:
        return None
    if version is None:
        return versions[-1].path
    for entry in versions:
        if entry.version == version:
            return entry.path
    return None


def bundled_file(ref: str) -> Path:
    """The bundled file of ``id`` or ``id@version``; InstrumentNotFoundError when there is none."""
    path = bundled_ref_path(ref)
    if path is None:
        load_instrument(ref)  # raises with the message that names the bundled versions
        raise InstrumentNotFoundError(f"{ref!r} is not a bundled instrument")
    return path


def load_instrument(id_or_path: str | Path | Instrument) -> Instrument:
    """An instrument from a bundled id (``ppai``: the newest version), an id and version
    (``ppai@1.0.0``), a file path, or an Instrument as is."""
    if isinstance(id_or_path, Instrument):
        return id_or_path
    text = str(id_or_path)
    bundled = None if isinstance(id_or_path, Path) else bundled_ref_path(text)
    if bundled is not None:
        return _load_file(bundled)
    path = Path(text)
    if path.is_file():
        return _load_file(path)
    inst_id, version = split_ref(text)
    versions = bundled_versions()
    if version is not None and inst_id in versions:
        known = ", ".join(v.ref for v in versions[inst_id])
        raise InstrumentNotFoundError(
            f"no version {version!r} of the bundled instrument {inst_id!r}; bundled versions: "
            f"{known} (give one of them, or {inst_id!r} alone for the newest)"
        )
    known = ", ".join(versions) or "(none)"
    what = "not a bundled id" if _looks_like_ref(text) else "not a bundled id or id@version"
    raise InstrumentNotFoundError(
        f"no instrument {text!r}: {what} ({known}) and not a file; give a bundled id, "
        "an id@version such as ppai@1.0.0, or the path to a YAML instrument file"
    )


def bundled_file_ref(path: Path) -> str | None:
    """``id@version`` of a bundled file (any version), None for a file of one's own."""
    resolved = path.resolve()
    for versions in bundled_versions().values():
        for entry in versions:
            if entry.path.resolve() == resolved:
                return entry.ref
    return None


def offered_sources(refs: Iterable[str]) -> dict[str, Path]:
    """The files to offer for references (bundled id, id@version or path), by instrument id;
    two references to the same id are refused."""
    sources: dict[str, Path] = {}
    for ref in refs:
        path = None if Path(ref).is_file() else bundled_ref_path(ref)
        inst = load_instrument(path or ref)
        if inst.id in sources:
            raise InstrumentNotFoundError(
                f"{ref!r}: an instrument {inst.id!r} is offered already; offer one version of it"
            )
        sources[inst.id] = path or Path(ref)
    return sources


def versioned_ref(instrument: Instrument) -> str | None:
    """``id@version`` when the instrument is that bundled version exactly (same content), else
    None (a file of one's own, or a bundled file edited since)."""
    path = bundled_ref_path(f"{instrument.id}{VERSION_SEPARATOR}{instrument.version}")
    if path is None or _load_file(path).content_hash != instrument.content_hash:
        return None
    return f"{instrument.id}{VERSION_SEPARATOR}{instrument.version}"


def list_bundled(*, all_versions: bool = False) -> list[Instrument]:
    """The bundled instruments, loaded and validated: the newest version of each, or with
    ``all_versions`` every bundled version (oldest first within an id)."""
    if not all_versions:
        return [_load_file(path) for path in bundled_paths().values()]
    return [_load_file(v.path) for versions in bundled_versions().values() for v in versions]
