"""The instrument files the clinic names: what to store to find one again, and loading it as
it is now (as a clinic error when it cannot be loaded)."""

from __future__ import annotations

from pathlib import Path

from surveytool.clinic.errors import ClinicError
from surveytool.errors import ScoringError, SurveytoolError
from surveytool.instrument import Instrument
from surveytool.registry import bundled_paths, load_instrument


def instrument_source(id_or_path: str | Path) -> str:
    """What to store to find an instrument again: a bundled id as is, a file as its full path."""
    text = str(id_or_path)
    if text in bundled_paths():
        return text
    return str(Path(text).resolve())


def load_source(source: str) -> Instrument:
    """The instrument file an administration or link names, as it is now."""
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
