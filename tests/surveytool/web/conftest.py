"""Fixtures of the web tests: the servers (real processes on loopback ports) and the browser."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from surveytool.clinic.report import CHROMIUM_ARGS
from surveytool.clinic.store import ClinicStore
from tests.surveytool.web.servers import (
    CHROMIUM,
    OFFER_PPAI_1,
    AssessmentServer,
    ClinicServer,
    free_port,
    seed_clinician,
)


@pytest.fixture(scope="module")
def assessment_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AssessmentServer]:
    """``surveytool serve`` on a free port, with its own data folder."""
    folder = tmp_path_factory.mktemp("serve")
    port = free_port()
    log = folder / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "surveytool",
                "serve",
                "--port",
                str(port),
                "--data-dir",
                str(folder / "data"),
                *OFFER_PPAI_1,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "SURVEYTOOL_DATA_DIR": str(folder / "user-data")},
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                with urllib.request.urlopen(base + "/", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            assert time.monotonic() < deadline, "the server did not start: " + log.read_text()
            time.sleep(0.1)
        assert f"open http://127.0.0.1:{port}/" in log.read_text()
        yield AssessmentServer(base, folder / "data", log)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture(scope="module")
def clinic_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClinicServer]:
    """A clinic server with a migrated SQLite file and the clinician ``alice``."""
    folder = tmp_path_factory.mktemp("clinic")
    store = ClinicStore(f"sqlite:///{folder / 'clinic.sqlite3'}")
    store.ensure_ready()
    seed_clinician(store)
    store.dispose()
    running = ClinicServer(folder).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's headless chromium, with the flags of the PDF report (the tests using it skip
    when it is not installed)."""
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=30_000)
        try:
            yield b
        finally:
            b.close()
