"""Bundled instruments, and resolving "an id or a path" to an instrument."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from surveytool.errors import InstrumentNotFoundError
from surveytool.instrument.load import load_path
from surveytool.instrument.model import Instrument


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


def bundled_paths() -> dict[str, Path]:
    """Bundled instrument files by file stem (which is also the instrument id)."""
    folder = bundled_dir()
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))}


@lru_cache(maxsize=32)
def _load_cached(path: str, mtime_ns: int) -> Instrument:
    return load_path(path)


def load_instrument(id_or_path: str | Path | Instrument) -> Instrument:
    """An instrument from a bundled id (``ppai``), a file path, or an Instrument as is."""
    if isinstance(id_or_path, Instrument):
        return id_or_path
    text = str(id_or_path)
    bundled = bundled_paths()
    if text in bundled:
        path = bundled[text]
    else:
        path = Path(text)
        if not path.is_file():
            known = ", ".join(bundled) or "(none)"
            raise InstrumentNotFoundError(
                f"no instrument {text!r}: not a bundled id ({known}) and not a file; "
                "give a bundled id or the path to a YAML instrument file"
            )
    return _load_cached(str(path.resolve()), path.stat().st_mtime_ns)


def list_bundled() -> list[Instrument]:
    """Every bundled instrument, loaded and validated."""
    return [load_instrument(path) for path in bundled_paths().values()]
