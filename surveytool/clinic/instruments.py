"""The instrument files the clinic names: what to store to find one again, and loading it as
it is now (as a clinic error when it cannot be loaded).

A bundled instrument is stored as ``id@version`` (``ppai@2.0.0``), so that a newer bundled
version never re-scores answers given with an older one; records made before versions were
stored name the bare id, and are found again through their administration's version.
"""

from __future__ import annotations

from pathlib import Path

from surveytool.clinic.errors import ClinicError
from surveytool.errors import ScoringError, SurveytoolError
from surveytool.instrument.model import Instrument
from surveytool.instrument.registry import (
    VERSION_SEPARATOR,
    bundled_paths,
    bundled_ref_path,
    load_instrument,
)


def instrument_source(id_or_path: str | Path) -> str:
    """What to store to find an instrument again: a bundled id or id@version as the versioned
    reference (``ppai`` is stored as the newest version's ``ppai@2.0.0``), a file as its full
    path."""
    text = str(id_or_path)
    if not isinstance(id_or_path, Path) and bundled_ref_path(text) is not None:
        inst = load_instrument(text)
        return f"{inst.id}{VERSION_SEPARATOR}{inst.version}"
    return str(Path(text).resolve())


def load_source(source: str, version: str | None = None) -> Instrument:
    """The instrument file an administration or link names, as it is now.

    ``version``: the version the record was made with; a record naming a bundled id without a
    version (made before versions were stored) loads that version of it.
    """
    if version is not None and VERSION_SEPARATOR not in source and source in bundled_paths():
        source = f"{source}{VERSION_SEPARATOR}{version}"
    try:
        return load_instrument(source)
    except SurveytoolError as exc:
        raise ClinicError(f"cannot load the instrument {source!r}: {exc}") from None


def form_items(inst: Instrument, form: str | None) -> list[str]:
    """The items of a form, as a clinic error when the form does not exist."""
    try:
        return inst.form_items(form)
    except ScoringError as exc:
        raise ClinicError(str(exc)) from None
