"""Fixtures of the cohort import tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def key(tmp_path: Path) -> Path:
    """Where the import creates its pseudonym key (a folder that does not exist yet)."""
    return tmp_path / "keys" / "cohort.key"
