"""The server under load, as properties rather than timings: a slow request (a PDF printing)
does not hold up a quick one (the event loop stays free); a full PDF queue is a 503 with
Retry-After, at once; ``serve --workers`` is refused on SQLite and, on PostgreSQL, keeps
sessions, CSRF, login throttling and the audit chain right across the worker processes."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from surveytool.cli import cli
from surveytool.clinic import audit
from surveytool.clinic.administrations import record_administration
from surveytool.clinic.clients import get_client
from surveytool.clinic.models import IN_PERSON, Client, LoginAttempt
from surveytool.clinic.report import MAX_PDF_QUEUE, PDF_RETRY_AFTER
from surveytool.clinic.store import ClinicStore, resolve_url
from surveytool.instrument.registry import load_instrument
from tests.surveytool.clinic.helpers import PASSWORD, mood_answers
from tests.surveytool.web.servers import (
    CHROMIUM,
    ROOT,
    ClinicServer,
    add_client,
    csrf,
    free_port,
    login,
    seed_clinician,
)

PG_URL = os.environ.get("SURVEYTOOL_TEST_DATABASE_URL")
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason="chromium is not installed")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClinicServer]:
    """A clinic server whose client C-LONG has 40 administrations (a long PDF report)."""
    folder = tmp_path_factory.mktemp("load")
    store = ClinicStore(f"sqlite:///{folder / 'clinic.sqlite3'}")
    store.ensure_ready()
    seed_clinician(store)
    running = ClinicServer(folder)
    running.start()  # writes mood.yaml
    client = add_client(store, "C-LONG")
    mood = load_instrument(running.mood_path)
    with store.write() as session:
        for k in range(40):
            record_administration(
                session,
                get_client(session, client.id),
                mood,
                str(running.mood_path),
                mood_answers(1 + k % 5, 1 + (k + 2) % 5),
                form=None,
                mode=IN_PERSON,
                clinician=None,
                actor="test",
            )
    store.dispose()
    yield running
    running.stop()


def long_client(server: ClinicServer) -> int:
    with server.store().read() as session:
        found = session.execute(sa.select(Client).where(Client.code == "C-LONG")).scalar_one()
        return found.id


def pdf_request(alice: httpx.Client, client_id: int) -> httpx.Response:
    return alice.post(
        f"/clinic/clients/{client_id}/report", data={"csrf": csrf(alice), "format": "pdf"}
    )


@needs_chromium
def test_quick_requests_are_answered_while_a_pdf_prints(server: ClinicServer) -> None:
    """The order of completion: every health and static request sent while the PDF prints
    (in the threadpool) comes back before the PDF does."""
    alice = login(server)
    client_id = long_client(server)
    order: list[str] = []
    started = threading.Event()

    def slow() -> None:
        started.set()
        response = pdf_request(alice, client_id)
        assert response.status_code == 200 and response.content.startswith(b"%PDF")
        order.append("pdf")

    thread = threading.Thread(target=slow)
    thread.start()
    started.wait()
    time.sleep(0.3)  # the PDF request is in flight (rendering, then printing for seconds)
    with httpx.Client(base_url=server.url, timeout=30) as quick:
        for k in range(5):
            assert quick.get("/healthz").text == "ok"
            assert quick.get("/clinic/static/clinic.css").status_code == 200
            order.append(f"quick{k}")
    thread.join()
    assert order == [*(f"quick{k}" for k in range(5)), "pdf"]


@needs_chromium
def test_a_full_pdf_queue_is_a_503_with_retry_after_at_once(server: ClinicServer) -> None:
    """More PDF requests at once than the shared browser's queue holds: those past it are
    refused with 503 and Retry-After (before the queued ones are printed), the others print."""
    alice = login(server)
    client_id = long_client(server)
    many = MAX_PDF_QUEUE + 5
    results: list[tuple[float, httpx.Response]] = []
    lock = threading.Lock()
    start = threading.Barrier(many)

    def one() -> None:
        with httpx.Client(base_url=server.url, cookies=alice.cookies, timeout=300) as http:
            start.wait()
            response = pdf_request(http, client_id)
            with lock:
                results.append((time.monotonic(), response))

    threads = [threading.Thread(target=one) for _ in range(many)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    refused = [(at, r) for at, r in results if r.status_code == 503]
    printed = [(at, r) for at, r in results if r.status_code == 200]
    assert len(refused) + len(printed) == many
    assert refused, [r.status_code for _, r in results]
    assert len(printed) <= MAX_PDF_QUEUE + 1 and len(printed) >= 1
    for _, r in refused:
        assert r.headers["Retry-After"] == str(PDF_RETRY_AFTER)
        assert "try again in" in r.text and "HTML report" in r.text
    for _, r in printed:
        assert r.content.startswith(b"%PDF")
    # refused at once: every refusal came back before the last PDF was printed
    assert max(at for at, _ in refused) < max(at for at, _ in printed)
    # and the queue drains: one more request prints
    assert pdf_request(alice, client_id).content.startswith(b"%PDF")


def test_workers_are_refused_on_sqlite(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["serve", "--workers", "2", "--data-dir", str(tmp_path / "data")]
    )
    assert result.exit_code != 0
    assert "--workers 2 needs PostgreSQL" in result.output
    assert "takes one writer at a time" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "data" / "clinic.sqlite3").exists()  # nothing was started


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL schema, named in the URL's options (every worker connects there)."""
    if PG_URL is None:
        pytest.skip("set SURVEYTOOL_TEST_DATABASE_URL (make test-postgres)")
    schema = f"w_{secrets.token_hex(6)}"
    admin = sa.create_engine(resolve_url(PG_URL))
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


def test_workers_on_postgresql_share_sessions_throttling_and_the_audit_chain(
    pg_url: str, tmp_path: Path
) -> None:
    store = ClinicStore(pg_url)
    store.ensure_ready()
    seed_clinician(store)
    store.dispose()
    port = free_port()
    log = tmp_path / "serve.log"
    args = [sys.executable, "-m", "surveytool", "serve", "--port", str(port), "--workers", "2"]
    args += ["--database-url", pg_url, "--data-dir", str(tmp_path / "data")]
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        assert "with 2 worker processes" in log.read_text()
        workers = subprocess.run(
            ["pgrep", "-P", str(proc.pid)], capture_output=True, text=True
        ).stdout.split()
        assert len(workers) >= 2, workers  # the worker processes (uvicorn's children)
        server = ClinicServer(tmp_path, port=port)
        alice = login(server)
        # the login session and the CSRF cookie hold on whichever worker answers
        for k in range(20):
            assert alice.get("/clinic").status_code == 200
            added = alice.post("/clinic/clients", data={"csrf": csrf(alice), "code": f"C-W{k:02d}"})
            assert added.status_code == 303, added.text
        # login throttling counts the failures of every worker: the 4th failure is throttled
        failing = httpx.Client(base_url=base, timeout=30)
        page = failing.get("/clinic/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token
        statuses = []
        for _ in range(6):
            response = failing.post(
                "/clinic/login",
                data={"csrf": token.group(1), "username": "alice", "password": "wrong " * 3},
            )
            statuses.append(response.status_code)
        assert 429 in statuses, statuses
        # the right password is still refused from the throttled pair, on any worker
        assert (
            failing.post(
                "/clinic/login",
                data={"csrf": token.group(1), "username": "alice", "password": PASSWORD},
            ).status_code
            == 429
        )
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    store = ClinicStore(pg_url)
    with store.read() as session:
        result = audit.verify(session)
        assert result.ok, result
        clients = session.execute(sa.select(sa.func.count()).select_from(Client)).scalar_one()
        assert clients == 20
        failures = session.execute(
            sa.select(sa.func.count())
            .select_from(LoginAttempt)
            .where(LoginAttempt.succeeded.is_(False))
        ).scalar_one()
        assert failures >= 3
    store.dispose()


def test_only_the_health_check_runs_on_the_event_loop(tmp_path: Path) -> None:
    """Every page is a plain ``def`` (FastAPI runs it in the threadpool), and so is every
    dependency but reading the form and the write transaction's (whose commit runs in a thread
    pool of its own: tests/surveytool/web/test_concurrent_writes.py); the one ``async`` endpoint,
    /healthz, does no work."""
    import inspect

    from surveytool.personal_store import PersonalStore
    from surveytool.web.app import create_app
    from tests.surveytool.web.test_csrf import api_routes

    app = create_app(store=PersonalStore(tmp_path), notify=False)
    on_loop: list[str] = []
    routes = api_routes(app)
    assert len(routes) >= 30
    for route in routes:
        if inspect.iscoroutinefunction(route.endpoint):
            on_loop.append(route.path)
        for dep in route.dependant.dependencies:
            call = dep.call
            if call is not None and (
                inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call)
            ):
                allowed = ("form_fields", "require_csrf", "write_session")
                assert call.__name__ in allowed, (route.path, call)
    assert on_loop == ["/healthz"]
