"""Instruments: the frozen model, loading located YAML, the semantic checks and the bundled files.

- :mod:`~surveytool.instrument.model`: what a questionnaire is (pydantic v2 models);
- :mod:`~surveytool.instrument.load`: YAML text or file -> :class:`Instrument`, every problem
  located by line (:class:`~surveytool.problems.Report`);
- :mod:`~surveytool.instrument.checks`: the semantic checks (a registry of generators);
- :mod:`~surveytool.instrument.registry`: bundled instruments and "an id or a path".
"""

from __future__ import annotations

from surveytool.instrument.load import load_path, load_text, validate_path, validate_text
from surveytool.instrument.model import Instrument, instrument_json_schema
from surveytool.instrument.registry import bundled_paths, list_bundled, load_instrument

__all__ = [
    "Instrument",
    "bundled_paths",
    "instrument_json_schema",
    "list_bundled",
    "load_instrument",
    "load_path",
    "load_text",
    "validate_path",
    "validate_text",
]
