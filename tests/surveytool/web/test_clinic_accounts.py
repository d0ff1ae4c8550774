"""Accounts a practice can run, against real server processes: login throttling that a client
cannot dodge with X-Forwarded-For, forwarded headers believed only from a configured proxy,
the Origin check by scheme, host and port, and failed logins in the audit."""

from __future__ import annotations

import secrets
from datetime import timedelta
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


def _client_routes(client_id: int, alert_id: int, link_id: int) -> list[tuple[str, str]]:
    """Every route that reaches one client's record, with its method."""
    base = f"/clinic/clients/{client_id}"
    return [
        ("GET", base),
        ("POST", base + "/notes"),
        ("POST", base + "/links"),
        ("POST", base + "/report"),
        ("POST", base + "/assign"),
        ("POST", f"/clinic/alerts/{alert_id}/ack"),
        ("GET", f"/clinic/alerts/{alert_id}"),
        ("POST", f"/clinic/links/{link_id}/revoke"),
    ]


def test_a_clinician_sees_only_their_clients(tmp_path: Path) -> None:
    from surveytool.clinic import links
    from surveytool.clinic.accounts import assign
    from surveytool.clinic.administrations import record_administration
    from surveytool.clinic.clients import add_client, get_client
    from surveytool.clinic.models import Clinician, Note
    from surveytool.instrument.registry import load_instrument
    from tests.surveytool.clinic.helpers import mood_answers
    from tests.surveytool.web.servers import csrf

    folder = tmp_path
    store = ClinicStore(f"sqlite:///{folder / 'clinic.sqlite3'}")
    store.ensure_ready()
    seed_clinician(store)  # alice: the practice admin
    bob_id = seed_clinician(store, "bob", role="clinician")
    seed_clinician(store, "carol", role="clinician")
    server = ClinicServer(folder).start()
    mood = load_instrument(server.mood_path)
    try:
        with store.write() as session:
            bob = session.get(Clinician, bob_id)
            theirs = add_client(
                session, "C-BOBS", display_name="Bob's client", clinician=bob, actor="t"
            )
            other = add_client(session, "C-OTHER", display_name=None, clinician=None, actor="t")
            adm = record_administration(
                session,
                get_client(session, theirs.id),
                mood,
                str(server.mood_path),
                mood_answers(5, 2),
                form=None,
                mode="in_person",
                clinician=None,
                actor="t",
            )
            alert_id = adm.alerts[0].id
            link = links.create_link(
                session,
                get_client(session, theirs.id),
                mood,
                str(server.mood_path),
                form=None,
                show_results=False,
                expires_in=timedelta(hours=1),
                clinician=bob,
                actor="t",
            )
            link_id = link.link.id
            assert other.clinician_id is None
        forms = {"csrf": "", "text": "x", "questionnaire": "mood", "expires_hours": "72"}
        carol = login(server, "carol")
        forms["csrf"] = csrf(carol)
        dashboard = carol.get("/clinic").text
        assert "C-BOBS" not in dashboard and "C-OTHER" not in dashboard
        assert f'id="alert-{alert_id}"' not in dashboard
        for method, path in _client_routes(theirs.id, alert_id, link_id):
            response = carol.request(method, path, data=forms if method == "POST" else None)
            assert response.status_code == 404, (method, path, response.status_code)
            assert "C-BOBS" not in response.text and "Bob&#39;s client" not in response.text
        assert carol.get("/clinic/admin").status_code == 404  # not an admin
        with store.read() as session:  # nothing was written for carol
            assert session.execute(sa.select(Note)).first() is None
        # bob sees his client (and its alert) but not the unassigned one
        bob_http = login(server, "bob")
        page = bob_http.get("/clinic").text
        assert "C-BOBS" in page and "C-OTHER" not in page and f'id="alert-{alert_id}"' in page
        assert bob_http.get(f"/clinic/clients/{theirs.id}").status_code == 200
        assert bob_http.get(f"/clinic/clients/{other.id}").status_code == 404
        mail_link = bob_http.get(f"/clinic/alerts/{alert_id}")
        assert mail_link.status_code == 303
        assert mail_link.headers["location"] == f"/clinic/clients/{theirs.id}#alert-{alert_id}"
        # alice, the admin, sees everyone and assigns the other client to carol
        alice = login(server)
        page = alice.get("/clinic").text
        assert "C-BOBS" in page and "C-OTHER" in page
        carol_id = bob_id + 1
        done = alice.post(
            f"/clinic/clients/{other.id}/assign", data={"csrf": csrf(alice), "clinician": carol_id}
        )
        assert done.status_code == 303
        assert carol.get(f"/clinic/clients/{other.id}").status_code == 200
        assert "Assigned to Dr Carol" in carol.get(f"/clinic/clients/{other.id}").text
        with store.read() as session:
            assert session.execute(
                sa.select(AuditEntry).where(AuditEntry.action == "client.assign")
            ).first()
        _ = assign  # the act behind the admin's form
    finally:
        server.stop()
        store.dispose()


def test_deactivate_reset_and_change_password(tmp_path: Path) -> None:
    from tests.surveytool.web.servers import csrf

    store = ClinicStore(f"sqlite:///{tmp_path / 'clinic.sqlite3'}")
    store.ensure_ready()
    seed_clinician(store)
    seed_clinician(store, "bob", role="clinician")
    server = ClinicServer(tmp_path).start()
    try:
        alice = login(server)
        bob = login(server, "bob")
        admin = alice.get("/clinic/admin").text
        assert 'id="account-bob"' in admin
        bob_id = int(
            admin.split('id="account-bob"')[1].split("/clinic/admin/accounts/")[1].split('"')[0]
        )
        act = f"/clinic/admin/accounts/{bob_id}"
        # deactivated: bob's session ends at once, and he cannot log in
        assert alice.post(act, data={"csrf": csrf(alice), "act": "deactivate"}).status_code == 303
        assert bob.get("/clinic").status_code == 303  # to the login page
        again = httpx.Client(base_url=server.url, timeout=30)
        token = csrf_of(again.get("/clinic/login").text)
        refused = again.post(
            "/clinic/login", data={"csrf": token, "username": "bob", "password": PASSWORD}
        )
        assert refused.status_code == 401
        # alice cannot deactivate herself: she is the only admin
        alice_id = int(
            admin.split('id="account-alice"')[1].split("/clinic/admin/accounts/")[1].split('"')[0]
        )
        only = alice.post(
            f"/clinic/admin/accounts/{alice_id}", data={"csrf": csrf(alice), "act": "deactivate"}
        )
        assert only.status_code == 400 and "only active admin" in only.text
        # reactivated, then a reset code: the old password stops working, the code works once
        assert alice.post(act, data={"csrf": csrf(alice), "act": "reactivate"}).status_code == 303
        issued = alice.post(act, data={"csrf": csrf(alice), "act": "reset"})
        code = issued.text.split("Reset code: ")[1].split(".")[0]
        assert len(code) == 20
        assert (
            again.post(
                "/clinic/login", data={"csrf": token, "username": "bob", "password": PASSWORD}
            ).status_code
            == 401
        )
        new = "a new long password"
        form = {"csrf": token, "username": "bob", "code": code, "new": new, "repeat": new}
        assert again.post("/clinic/reset", data=form).status_code == 200
        assert again.post("/clinic/reset", data=form).status_code == 400  # once only
        logged = again.post(
            "/clinic/login", data={"csrf": token, "username": "bob", "password": new}
        )
        assert logged.status_code == 303
        # bob changes his own password; his sessions end, the new one works
        newer = "an even newer password"
        changed = again.post(
            "/clinic/account/password",
            data={"csrf": token, "current": new, "new": newer, "repeat": newer},
        )
        assert changed.status_code == 303 and changed.headers["location"] == "/clinic/login"
        assert again.get("/clinic").status_code == 303
        assert (
            again.post(
                "/clinic/login", data={"csrf": token, "username": "bob", "password": newer}
            ).status_code
            == 303
        )
        with store.read() as session:
            actions = [e.action for e in session.execute(sa.select(AuditEntry)).scalars()]
        for action in ("clinician.deactivate", "clinician.reactivate", "password.reset_issued"):
            assert action in actions
        assert actions.count("password.change") == 2
    finally:
        server.stop()
        store.dispose()


def test_totp_login_and_a_practice_that_requires_it(tmp_path: Path) -> None:
    import pyotp

    from surveytool.clinic import settings

    store = ClinicStore(f"sqlite:///{tmp_path / 'clinic.sqlite3'}")
    store.ensure_ready()
    seed_clinician(store)
    seed_clinician(store, "bob", role="clinician")
    with store.write() as session:
        settings.set_setting(session, "require_totp", "yes", actor="test")
    server = ClinicServer(tmp_path).start()
    try:
        http = httpx.Client(base_url=server.url, timeout=30, follow_redirects=False)
        token = csrf_of(http.get("/clinic/login").text)
        form = {"csrf": token, "username": "alice", "password": PASSWORD}
        # required, not set up: refused, with what to do
        refused = http.post("/clinic/login", data=form)
        assert refused.status_code == 401 and "requires a second factor" in refused.text
        with store.write() as session:
            settings.set_setting(session, "require_totp", "no", actor="test")
        alice = login(server)
        page = alice.get("/clinic/account").text
        secret = page.split('id="totp-secret">')[1].split("<")[0]
        from tests.surveytool.web.servers import csrf

        wrong = alice.post(
            "/clinic/account/totp", data={"csrf": csrf(alice), "secret": secret, "code": "000000"}
        )
        assert wrong.status_code == 400 and "does not match" in wrong.text
        on = alice.post(
            "/clinic/account/totp",
            data={"csrf": csrf(alice), "secret": secret, "code": pyotp.TOTP(secret).now()},
        )
        assert on.status_code == 303
        with store.write() as session:
            settings.set_setting(session, "require_totp", "yes", actor="test")
        assert http.post("/clinic/login", data=form).status_code == 401  # no code
        assert http.post("/clinic/login", data=dict(form, code="123456")).status_code == 401
        done = http.post("/clinic/login", data=dict(form, code=pyotp.TOTP(secret).now()))
        assert done.status_code == 303
        with store.read() as session:
            reasons = [
                e.details
                for e in session.execute(
                    sa.select(AuditEntry).where(AuditEntry.action == "login.failed")
                ).scalars()
            ]
        assert any('"reason":"totp_not_set"' in r for r in reasons)
        assert any('"reason":"code"' in r for r in reasons)
    finally:
        server.stop()
        store.dispose()
