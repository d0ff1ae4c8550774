"""Fixtures of the clinic command tests: a data folder and database per test, and one with
clinician alice and client C-001."""

from __future__ import annotations

from pathlib import Path

import pytest

from surveytool.clinic.store import ClinicStore
from tests.surveytool.clinic.helpers import add_test_clinician
from tests.surveytool.clinic.test_cli import ok


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "SURVEYTOOL_DATA_DIR": str(tmp_path / "data"),
        "SURVEYTOOL_DATABASE_URL": f"sqlite:///{tmp_path / 'clinic.sqlite3'}",
        "SURVEYTOOL_CLINICIAN": "",
        "COLUMNS": "200",
        "NO_COLOR": "1",
    }


@pytest.fixture
def clinic(env: dict[str, str]) -> dict[str, str]:
    """An initialised database with clinician alice and client C-001."""
    ok(env, "init")
    store = ClinicStore(env["SURVEYTOOL_DATABASE_URL"])
    with store.write() as session:  # the account, without paying argon2id's cost again
        add_test_clinician(session)
    store.dispose()
    assert ok(env, "clients", "add", "C-001", "--name", "Jane Roe").strip() == "C-001"
    return env
