"""Accounts a practice can run, against real server processes: login throttling that a client
cannot dodge with X-Forwarded-For, forwarded headers believed only from a configured proxy,
the Origin check by scheme, host and port, and failed logins in the audit."""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx
import sqlalchemy as sa

from surveytool.clinic.models import AuditEntry
from surveytool.clinic.store import ClinicStore
from tests.surveytool.clinic.helpers import PASSWORD
from tests.surveytool.web.servers import ClinicServer, csrf_of, free_port, login, seed_clinician


def _server(folder: Path, *extra: str) -> ClinicServer:
    store = ClinicStore(f"sqlite:///{folder / 'clinic.sqlite3'}")
    store.ensure_ready()
    seed_clinician(store)
    store.dispose()
    return ClinicServer(folder, cli=True, extra=extra).start()


def _guess(http: httpx.Client, token: str, headers: dict[str, str]) -> int:
    response = http.post(
        "/clinic/login",
        data={"csrf": token, "username": "alice", "password": "guess" * 3},
        headers=headers,
    )
    return response.status_code


def test_forwarded_for_does_not_dodge_the_throttle(tmp_path: Path) -> None:
    server = _server(tmp_path)
    try:
        http = httpx.Client(base_url=server.url, follow_redirects=False, timeout=30)
        token = csrf_of(http.get("/clinic/login").text)
        statuses = [
            _guess(http, token, {"X-Forwarded-For": f"203.0.113.{k}"}) for k in range(1, 41)
        ]
        # the peer is 127.0.0.1 whatever the header says: blocked after three free failures
        assert statuses[:4] == [401] * 4 and set(statuses[4:]) == {429}, statuses
        with server.store().read() as session:
            failed = session.execute(
                sa.select(AuditEntry).where(AuditEntry.action == "login.failed")
            ).scalars()
            addresses = {e.details for e in failed}
        assert addresses and all('"address":"127.0.0.1"' in d for d in addresses)
        assert all("203.0.113" not in d for d in addresses)
    finally:
        server.stop()


def test_forwarded_for_is_believed_only_from_the_trusted_proxy(tmp_path: Path) -> None:
    server = _server(tmp_path, "--trusted-proxy", "127.0.0.1")
    try:
        http = httpx.Client(base_url=server.url, follow_redirects=False, timeout=30)
        token = csrf_of(http.get("/clinic/login").text)
        # through the trusted proxy, each forwarded client address has its own counter
        statuses = [_guess(http, token, {"X-Forwarded-For": f"198.51.100.{k}"}) for k in range(8)]
        assert statuses == [401] * 8
        same = [_guess(http, token, {"X-Forwarded-For": "198.51.100.77"}) for _ in range(5)]
        assert same[:4] == [401] * 4 and same[4] == 429
        with server.store().read() as session:
            details = [
                e.details
                for e in session.execute(
                    sa.select(AuditEntry).where(AuditEntry.action == "login.failed")
                ).scalars()
            ]
        assert any('"address":"198.51.100.77"' in d for d in details)
    finally:
        server.stop()
    bad = ClinicServer(tmp_path / "bad", cli=True, extra=("--trusted-proxy", "my-proxy"))
    try:
        bad.start()
    except RuntimeError as exc:
        assert "--trusted-proxy 'my-proxy' is not an IP address" in str(exc)
        assert "Traceback" not in str(exc)
    else:  # pragma: no cover
        bad.stop()
        raise AssertionError("a bad --trusted-proxy was accepted")


def test_origin_must_match_scheme_host_and_port(tmp_path: Path) -> None:
    server = _server(tmp_path)
    try:
        http = httpx.Client(base_url=server.url, follow_redirects=False, timeout=30)
        token = csrf_of(http.get("/clinic/login").text)
        data = {"csrf": token, "username": "alice", "password": PASSWORD}
        other = free_port()
        for origin in (
            f"http://127.0.0.1:{other}",  # another program on this computer
            f"https://127.0.0.1:{server.port}",  # another scheme
            "http://127.0.0.1",  # port 80
            f"http://localhost:{server.port}",  # another host name
        ):
            refused = http.post("/clinic/login", data=data, headers={"Origin": origin})
            assert refused.status_code == 403, origin
            assert "Cross-origin request refused" in refused.text
        accepted = http.post(
            "/clinic/login", data=data, headers={"Origin": f"http://127.0.0.1:{server.port}"}
        )
        assert accepted.status_code == 303
    finally:
        server.stop()


def test_failed_and_successful_logins_are_audited(tmp_path: Path) -> None:
    server = _server(tmp_path)
    try:
        http = httpx.Client(base_url=server.url, follow_redirects=False, timeout=30)
        token = csrf_of(http.get("/clinic/login").text)
        nobody = "nobody" + secrets.token_hex(2)
        for name in ("alice", nobody):
            http.post(
                "/clinic/login",
                data={"csrf": token, "username": name, "password": "wrong" * 3},
            )
        login(server).close()
        with server.store().read() as session:
            rows = list(session.execute(sa.select(AuditEntry).order_by(AuditEntry.id)).scalars())
        actions = [(e.action, e.actor) for e in rows if e.action.startswith("login")]
        assert actions == [
            ("login.failed", "login"),  # a wrong password reveals nothing about the account
            ("login.failed", "login"),
            ("login", "clinician:alice"),
        ]
        assert f'"username":"{nobody}"' in rows[-2].details or any(
            f'"username":"{nobody}"' in e.details for e in rows
        )
        assert all(PASSWORD not in e.details and "wrong" not in e.details for e in rows)
    finally:
        server.stop()
