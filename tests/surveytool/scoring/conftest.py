"""Fixtures of the scoring tests: the instruments in tests/fixtures/scoring/."""

from __future__ import annotations

from pathlib import Path

import pytest

from surveytool.instrument.model import Instrument
from surveytool.instrument.registry import load_instrument

SCORING_FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "scoring"


@pytest.fixture(scope="module")
def methods() -> Instrument:
    """methods.yaml: one subscale per scoring method, composites, a short form."""
    return load_instrument(SCORING_FIXTURES / "methods.yaml")


@pytest.fixture(scope="module")
def normed() -> Instrument:
    """norms.yaml: stratified norms with and without percentile tables."""
    return load_instrument(SCORING_FIXTURES / "norms.yaml")
