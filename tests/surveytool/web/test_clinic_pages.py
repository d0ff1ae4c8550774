"""The clinician pages and the questionnaire-by-link flow, against real server processes.

Each server is a separate process (uvicorn serving ``create_app``, or ``surveytool serve`` itself)
on a free loopback port, with its own SQLite file; requests go over HTTP with httpx. Checked:
CSRF on every state-changing request, single-use links, Host allow-list, security headers on
every page with client data, login rate limiting that cannot lock a clinician out from another
address, the whole flow, and that no client data or token reaches the server's logs.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from surveytool.clinic import audit, auth, links
from surveytool.clinic.administrations import record_administration
from surveytool.clinic.auth import LoginLimiter
from surveytool.clinic.clients import get_client
from surveytool.clinic.models import (
    Administration,
    Alert,
    AuditEntry,
    Client,
    ItemAnswer,
    Link,
    LoginAttempt,
    LoginSession,
    Note,
    utcnow,
)
from surveytool.clinic.store import ClinicStore
from surveytool.instrument.registry import load_instrument
from tests.surveytool.clinic.helpers import PASSWORD, mood_answers
from tests.surveytool.web.servers import (
    ClinicServer,
    add_client,
    answer_all,
    csrf,
    csrf_of,
    login,
    make_link,
    open_link,
    seed_clinician,
)


def counts(store: ClinicStore) -> dict[str, int]:
    models = (Administration, ItemAnswer, Alert, AuditEntry, Client, Note, Link, LoginSession)
    with store.read() as session:
        return {
            m.__name__: int(session.execute(sa.select(sa.func.count()).select_from(m)).scalar_one())
            for m in models
        }


@pytest.fixture(scope="module")
def alice(clinic_server: ClinicServer) -> Iterator[httpx.Client]:
    client = login(clinic_server)
    yield client
    client.close()


# ---------------------------------------------------------------------------------------------
# the whole flow over HTTP
# ---------------------------------------------------------------------------------------------


def test_link_flow_records_scores_alert_and_support(
    clinic_server: ClinicServer, alice: httpx.Client
) -> None:
    store = clinic_server.store()
    made = alice.post(
        "/clinic/clients", data={"csrf": csrf(alice), "code": "C-FLOW", "display_name": "Flo"}
    )
    assert made.status_code == 303
    client_id = int(made.headers["location"].rsplit("/", 1)[1])
    url = make_link(clinic_server, alice, client_id, "mood", results=False)
    token = url.rsplit("/", 1)[1]
    assert len(token) >= 43
    with store.read() as session:  # only the hash is kept
        assert (
            session.execute(sa.select(Link.token_hash))
            .scalars()
            .all()
            .count(auth.token_hash(token))
            == 1
        )
    visit = open_link(url)
    assert visit.intro.status_code == 200 and "Mood check" in visit.intro.text
    assert token not in visit.intro.text
    done = answer_all(visit, mood_answers(5, 2))
    assert done.status_code == 303 and done.headers["location"] == "/q/done"
    # the critical answer brought the support page before the answers were sent
    (support,) = visit.support_pages
    assert "Support, first" in support and "hopeless all the time" in support
    assert "Nobody watches your answers as you give them" in support
    assert "this is not an emergency service" in support
    assert "Stop here and send my answers so far" in support
    thanks = visit.http.get("/q/done")
    assert "Thank you" in thanks.text and "Support, first" in thanks.text
    assert "hopeless all the time" in thanks.text  # the critical item's message, at once
    assert "Your results" not in thanks.text  # the clinician did not choose to show them
    with store.read() as session:
        (adm,) = session.execute(
            sa.select(Administration).where(Administration.client_id == client_id)
        ).scalars()
        assert adm.mode == "link" and adm.instrument_id == "mood"
        assert {a.item_id: a.value for a in adm.answers} == mood_answers(5, 2)
        assert {s.scale_id: s.value for s in adm.scores} == {"low": 5.0, "wellbeing": 2.0}
        (alert,) = adm.alerts
        assert alert.item_id == "D3" and alert.acknowledged_at is None
        # the alert names the item's text, the answer's label and the rule
        assert (alert.item_text, alert.answer, alert.rule, alert.reason) == (
            "I felt hopeless.",
            5,
            "answer at or above 5 (Always)",
            "rule",
        )
    # the clinician sees the administration and the open alert, until acknowledged
    dashboard = alice.get("/clinic").text
    assert "Open alerts" in dashboard and f'id="alert-{alert.id}"' in dashboard
    page = alice.get(f"/clinic/clients/{client_id}").text
    assert 'data-scale="low"><strong>5.00</strong>' in page and "Marked" in page
    assert "I felt hopeless." in page and 'class="flagged"' in page
    ack = alice.post(
        f"/clinic/alerts/{alert.id}/ack",
        data={"csrf": csrf(alice), "note": "phoned", "next": f"/clinic/clients/{client_id}"},
    )
    assert ack.status_code == 303 and ack.headers["location"] == f"/clinic/clients/{client_id}"
    assert f'id="alert-{alert.id}"' not in alice.get("/clinic").text
    with store.read() as session:
        done_alert = session.get(Alert, alert.id)
        assert done_alert is not None and done_alert.acknowledgement_note == "phoned"
        last = session.execute(
            sa.select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)
        ).scalar_one()
        assert (last.action, last.actor) == ("alert.acknowledge", "clinician:alice")
        assert audit.verify(session).ok
    # the link is used up (and says so); the client session cannot send twice
    used = httpx.get(url)
    assert used.status_code == 410 and "Your answers have been sent" in used.text
    again = visit.http.post(
        "/q/answer",
        data={"csrf": csrf_of(visit.intro.text), "page": "0", "action": "finish", "a_D1": "1"},
    )
    assert again.status_code == 303 and again.headers["location"] == "/q/done"
    with store.read() as session:
        n = session.execute(
            sa.select(sa.func.count())
            .select_from(Administration)
            .where(Administration.client_id == client_id)
        ).scalar_one()
    assert n == 1
    store.dispose()


def test_client_sees_results_when_the_clinician_chose_so(
    clinic_server: ClinicServer, alice: httpx.Client
) -> None:
    client = add_client(clinic_server.store(), "C-RESULTS")
    visit = open_link(make_link(clinic_server, alice, client.id, "ppai:screen", results=True))
    screen = load_instrument("ppai").short_form_by_id["screen"].items
    assert "15 statements" in visit.intro.text
    done = answer_all(visit, dict.fromkeys(screen, 2))
    assert done.status_code == 303
    thanks = visit.http.get("/q/done").text
    assert "Your results" in thanks and "Your profile" in thanks and "data-score=" in thanks
    assert "Support, first" not in thanks  # nothing critical


def test_pages_are_the_self_assessment_pages(
    clinic_server: ClinicServer, alice: httpx.Client
) -> None:
    client = add_client(clinic_server.store(), "C-PAGES")
    visit = open_link(make_link(clinic_server, alice, client.id, "ppai", results=False))
    token = csrf_of(visit.intro.text)
    first = visit.http.post("/q/answer", data={"csrf": token, "page": "-1", "action": "next"})
    html = first.text
    assert 'action="/q/answer"' in html and "/i/ppai/answer" not in html
    assert 'class="item" id="q-FF1"' in html and "Page 1 of 9" in html
    assert '<link rel="stylesheet" href="/static/style.css">' in html
    # the next page carries the answers given so far in hidden fields (and the store keeps
    # them as the link's progress); no administration is recorded yet
    second = visit.http.post(
        "/q/answer", data={"csrf": token, "page": "0", "action": "next", "a_FF1": "4"}
    )
    assert "Page 2 of 9" in second.text and 'name="a_FF1" value="4"' in second.text
    with clinic_server.store().read() as session:
        assert (
            session.execute(
                sa.select(Administration).where(Administration.client_id == client.id)
            ).first()
            is None
        )


def test_reliable_change_between_chosen_administrations(
    clinic_server: ClinicServer, alice: httpx.Client
) -> None:
    store = clinic_server.store()
    client = add_client(store, "C-CHANGE")
    mood = load_instrument(clinic_server.mood_path)
    ids = []
    for low, well in ((5, 2), (5, 3), (2, 4)):
        with store.write() as session:
            adm = record_administration(
                session,
                get_client(session, client.id),
                mood,
                str(clinic_server.mood_path),
                mood_answers(low, well),
                form=None,
                mode="in_person",
                clinician=None,
                actor="test",
            )
            ids.append(adm.id)
    default = alice.get(f"/clinic/clients/{client.id}").text  # the last two: 5 -> 2
    row = re.search(r'<tr data-change="low">(.*?)</tr>', default, re.S)
    assert row and "<td>5.00</td><td>2.00</td>" in row.group(1)
    assert "reliable improvement" in row.group(1)
    chosen = alice.get(f"/clinic/clients/{client.id}", params={"a": ids[0], "b": ids[1]}).text
    row = re.search(r'<tr data-change="low">(.*?)</tr>', chosen, re.S)
    assert row and "<td>5.00</td><td>5.00</td>" in row.group(1)
    assert "no reliable change" in row.group(1)
    assert "<svg" in chosen and 'class="trend"' in chosen and "<polyline" in chosen
    # PPAI has no norms: the change is shown, its classification honestly withheld
    ppai = load_instrument("ppai")
    for value in (4, 2):
        with store.write() as session:
            record_administration(
                session,
                get_client(session, client.id),
                ppai,
                "ppai",
                {i.id: value for i in ppai.items},
                form=None,
                mode="in_person",
                clinician=None,
                actor="test",
            )
    page = alice.get(f"/clinic/clients/{client.id}").text
    assert "cannot be judged: no SD and reliability" in page
    store.dispose()


def test_notes_links_and_reports(clinic_server: ClinicServer, alice: httpx.Client) -> None:
    client = add_client(clinic_server.store(), "C-NOTES", "<script>alert(1)</script>")
    note = alice.post(
        f"/clinic/clients/{client.id}/notes",
        data={"csrf": csrf(alice), "text": "Talked about <b>sleep</b>."},
    )
    assert note.status_code == 303
    page = alice.get(f"/clinic/clients/{client.id}").text
    assert "Talked about &lt;b&gt;sleep&lt;/b&gt;." in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    url = make_link(clinic_server, alice, client.id, "mood", results=False)
    with clinic_server.store().read() as session:
        link = session.execute(sa.select(Link).where(Link.client_id == client.id)).scalar_one()
    cancel = alice.post(f"/clinic/links/{link.id}/revoke", data={"csrf": csrf(alice)})
    assert cancel.status_code == 303
    cancelled = httpx.get(url)
    assert cancelled.status_code == 410 and "This link was cancelled" in cancelled.text
    assert 'data-link-state="revoked"' in alice.get(f"/clinic/clients/{client.id}").text
    report = alice.post(
        f"/clinic/clients/{client.id}/report", data={"csrf": csrf(alice), "format": "html"}
    )
    assert report.status_code == 200
    assert "attachment" in report.headers["content-disposition"]
    assert "Clinician report: client C-NOTES" in report.text
    assert "alert(1)" not in report.text  # the display name stays in the database


# ---------------------------------------------------------------------------------------------
# security
# ---------------------------------------------------------------------------------------------


def _post_routes() -> list[str]:
    """Every POST route of the whole app (self-assessment and clinic), from the app itself."""
    from surveytool.web.app import create_app

    app = create_app(clinic_database_url="sqlite:////nonexistent/never-opened.sqlite3")
    paths = []
    pending = list(app.routes)
    while pending:
        route = pending.pop()
        inner = getattr(route, "original_router", None)  # an included router
        if inner is not None:
            pending.extend(inner.routes)
            continue
        methods = getattr(route, "methods", None) or set()
        if methods & {"POST", "PUT", "DELETE", "PATCH"}:
            paths.append(str(getattr(route, "path", "")))
    return sorted(paths)


def test_every_state_changing_request_needs_the_csrf_token(
    clinic_server: ClinicServer, alice: httpx.Client
) -> None:
    store = clinic_server.store()
    client = add_client(store, "C-CSRF")
    mood = load_instrument(clinic_server.mood_path)
    with store.write() as session:
        adm = record_administration(
            session,
            get_client(session, client.id),
            mood,
            "mood",
            mood_answers(5, 2),
            form=None,
            mode="in_person",
            clinician=None,
            actor="test",
        )
        alert_id = adm.alerts[0].id
        new = links.create_link(
            session,
            get_client(session, client.id),
            mood,
            str(clinic_server.mood_path),
            form=None,
            show_results=False,
            expires_in=timedelta(hours=1),
            clinician=None,
            actor="test",
        )
    visit = open_link(clinic_server.url + new.path())  # a client session, for /q/answer
    assert visit.intro.status_code == 200
    ids = {"client_id": client.id, "link_id": new.link.id, "alert_id": alert_id, "inst_id": "ppai"}
    ids["token"] = new.token
    ids["clinician_id"] = 1
    routes = _post_routes()
    assert "/clinic/login" in routes and "/q/answer" in routes and len(routes) >= 12
    before = counts(store)
    for path in routes:
        url = path.format(**ids)
        http = visit.http if url.startswith("/q") else alice
        if url == "/clinic/login":
            http = httpx.Client(base_url=clinic_server.url, timeout=30)
            http.get("/clinic/login")  # has a CSRF cookie, sends no token
        form = {
            "username": "alice",
            "password": PASSWORD,
            "code": "C-NEW",
            "text": "x",
            "questionnaire": "mood",
            "expires_hours": "72",
            "format": "html",
            "page": "0",
            "action": "finish",
            "a_D1": "1",
        }
        for token in (None, "forged-" + secrets.token_urlsafe(16), ""):
            data = dict(form) if token is None else dict(form, csrf=token)
            response = http.post(url, data=data)
            assert response.status_code == 403, (url, token, response.status_code)
            assert "security token" in response.text
    assert counts(store) == before
    with store.read() as session:
        assert session.get(Link, new.link.id).completed_at is None  # type: ignore[union-attr]
    store.dispose()


def test_clinic_pages_need_a_login(clinic_server: ClinicServer) -> None:
    anonymous = httpx.Client(base_url=clinic_server.url, follow_redirects=False)
    anonymous.get("/clinic/login")
    for path in ("/clinic", "/clinic/clients/1"):
        response = anonymous.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/clinic/login"
    token = anonymous.cookies["st_csrf"]
    for path in ("/clinic/clients", "/clinic/clients/1/notes", "/clinic/alerts/1/ack"):
        response = anonymous.post(path, data={"csrf": token, "code": "X-1", "text": "x"})
        assert response.status_code == 303 and response.headers["location"] == "/clinic/login"
    forged = httpx.Client(base_url=clinic_server.url, follow_redirects=False)
    forged.cookies.set("st_session", secrets.token_urlsafe(32))
    assert forged.get("/clinic").status_code == 303


def test_login_session_cookie_and_logout(clinic_server: ClinicServer) -> None:
    http = httpx.Client(base_url=clinic_server.url, follow_redirects=False, timeout=30)
    page = http.get("/clinic/login")
    response = http.post(
        "/clinic/login",
        data={"csrf": csrf_of(page.text), "username": "alice", "password": PASSWORD},
    )
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("st_session=") and "HttpOnly" in cookie
    assert "SameSite=strict" in cookie and "Path=/" in cookie
    token = http.cookies["st_session"]
    with clinic_server.store().read() as session:
        hashes = session.execute(sa.select(LoginSession.token_hash)).scalars().all()
    assert auth.token_hash(token) in hashes and token not in hashes
    assert http.get("/clinic").status_code == 200
    out = http.post("/clinic/logout", data={"csrf": http.cookies["st_csrf"]})
    assert out.status_code == 303
    http.cookies.set("st_session", token)  # the old token is worthless now
    assert http.get("/clinic").status_code == 303
    wrong = http.post(
        "/clinic/login",
        data={"csrf": http.cookies["st_csrf"], "username": "alice", "password": "nope" * 4},
    )
    assert wrong.status_code == 401 and "Wrong username or password" in wrong.text


def test_used_expired_revoked_and_guessed_links_are_rejected(
    clinic_server: ClinicServer, alice: httpx.Client
) -> None:
    store = clinic_server.store()
    client = add_client(store, "C-LINKS")
    used = make_link(clinic_server, alice, client.id, "mood", results=False)
    assert answer_all(open_link(used), mood_answers(2, 3)).status_code == 303
    expired = make_link(clinic_server, alice, client.id, "mood", results=False)
    revoked = make_link(clinic_server, alice, client.id, "mood", results=False)
    with store.write() as session:
        session.execute(
            sa.update(Link)
            .where(Link.token_hash == auth.token_hash(expired.rsplit("/", 1)[1]))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        session.execute(
            sa.update(Link)
            .where(Link.token_hash == auth.token_hash(revoked.rsplit("/", 1)[1]))
            .values(revoked_at=utcnow())
        )
    # a real link that has done its work, expired or was cancelled says so, and whom to ask
    for url, title, status in (
        (used, "Your answers have been sent", 410),
        (expired, "This link has expired", 410),
        (revoked, "This link was cancelled", 410),
    ):
        for _ in range(2):  # looking is harmless
            response = httpx.get(url)
            assert response.status_code == status, url
            assert f"<h1>{title}</h1>" in response.text
            assert "Dr Alice" in response.text  # the clinician who sent it
            assert "st_client" not in response.headers.get("set-cookie", "")
        begin = httpx.post(url, data={"csrf": "x"}, cookies={"st_csrf": "x"})
        assert begin.status_code == status and "st_client" not in begin.headers.get(
            "set-cookie", ""
        )
    guessed = f"{clinic_server.url}/q/{secrets.token_urlsafe(32)}"
    bodies = set()
    for url in (guessed, f"{clinic_server.url}/q/short"):
        response = httpx.get(url)
        assert response.status_code == 404, url
        assert "st_client" not in response.headers.get("set-cookie", "")
        bodies.add(re.sub(r'value="[^"]+"', "", response.text))
    assert len(bodies) == 1  # one answer for every unknown token: nothing to learn by guessing
    # no client session: the questionnaire pages refuse
    stranger = httpx.Client(base_url=clinic_server.url, follow_redirects=False)
    assert stranger.get("/q").status_code == 403
    stranger.cookies.set("st_client", secrets.token_urlsafe(32), path="/q")
    assert stranger.get("/q/done").status_code == 403
    store.dispose()


def test_host_header_not_allowed_is_rejected(
    clinic_server: ClinicServer, alice: httpx.Client
) -> None:
    client = add_client(clinic_server.store(), "C-HOST")
    url = make_link(clinic_server, alice, client.id, "mood", results=False)
    path = url.removeprefix(clinic_server.url)
    targets = (("GET", "/clinic"), ("GET", path), ("POST", path), ("POST", "/clinic/login"))
    for method, target in targets:
        response = alice.request(
            method, target, headers={"Host": f"evil.example:{clinic_server.port}"}
        )
        assert response.status_code == 400 and "Invalid host header" in response.text
    open_link(url)  # the refused requests did not touch the link: it can be begun


def _headers_ok(response: httpx.Response) -> None:
    csp = response.headers.get("content-security-policy", "")
    assert csp and "unsafe-inline" not in csp and "default-src 'none'" in csp, csp
    assert response.headers.get("x-content-type-options") == "nosniff"
    assert response.headers.get("referrer-policy") == "no-referrer"
    assert response.headers.get("cache-control") == "no-store"


def test_pages_with_client_data_carry_the_security_headers(
    clinic_server: ClinicServer, alice: httpx.Client
) -> None:
    client = add_client(clinic_server.store(), "C-HEADERS")
    url = make_link(clinic_server, alice, client.id, "ppai:screen", results=True)
    responses = [
        alice.get("/clinic"),
        alice.get(f"/clinic/clients/{client.id}"),
        alice.get("/clinic/static/clinic.css"),
        alice.post(
            f"/clinic/clients/{client.id}/report", data={"csrf": csrf(alice), "format": "html"}
        ),
        httpx.get(url),
    ]
    visit = open_link(make_link(clinic_server, alice, client.id, "ppai:screen", results=True))
    responses.append(visit.intro)
    token = csrf_of(visit.intro.text)
    responses.append(
        visit.http.post("/q/answer", data={"csrf": token, "page": "-1", "action": "next"})
    )
    screen = load_instrument("ppai").short_form_by_id["screen"].items
    responses.append(answer_all(visit, dict.fromkeys(screen, 5)))
    responses.append(visit.http.get("/q/done"))
    assert "Your results" in responses[-1].text
    for response in responses:
        _headers_ok(response)


def test_login_limit_cannot_lock_a_clinician_out_from_elsewhere(
    clinic_server: ClinicServer,
) -> None:
    attacker = httpx.Client(
        base_url=clinic_server.url,
        follow_redirects=False,
        timeout=30,
        transport=httpx.HTTPTransport(local_address="127.0.0.2"),
    )
    token = csrf_of(attacker.get("/clinic/login").text)
    statuses = []
    for _ in range(5):
        response = attacker.post(
            "/clinic/login", data={"csrf": token, "username": "alice", "password": "guess" * 3}
        )
        statuses.append(response.status_code)
    assert statuses[:4] == [401, 401, 401, 401] and statuses[4] == 429
    assert "Too many attempts" in response.text
    # the right password from the attacker's address is refused too while blocked ...
    blocked = attacker.post(
        "/clinic/login", data={"csrf": token, "username": "alice", "password": PASSWORD}
    )
    assert blocked.status_code == 429
    # ... but alice, from her own address, logs in at once
    login(clinic_server).close()


def test_login_limiter_rules(tmp_path: Path) -> None:
    """The limiter's rules, read from the login_attempts table (a real SQLite file)."""
    store = ClinicStore(f"sqlite:///{tmp_path / 'clinic.sqlite3'}")
    store.ensure_ready()
    t0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    now = [t0]

    def wait(limiter: LoginLimiter, name: str, address: str) -> float:
        with store.read() as session:
            return limiter.retry_after(session, name, address, now=now[0])

    def fail(limiter: LoginLimiter, name: str, address: str, ok: bool = False) -> None:
        with store.write() as session:
            limiter.record(session, name, address, succeeded=ok, now=now[0])

    limiter = LoginLimiter()
    for _ in range(3):
        assert wait(limiter, "alice", "10.0.0.9") == 0
        fail(limiter, "alice", "10.0.0.9")
    assert wait(limiter, "alice", "10.0.0.9") == 0
    fail(limiter, "alice", "10.0.0.9")  # fourth failure: 1 s
    assert wait(limiter, "alice", "10.0.0.9") == pytest.approx(1.0)
    now[0] += timedelta(seconds=1.5)
    assert wait(limiter, "alice", "10.0.0.9") == 0
    fail(limiter, "alice", "10.0.0.9")  # fifth: 2 s, then 4 s ... (exponential back-off)
    assert wait(limiter, "alice", "10.0.0.9") == pytest.approx(2.0)
    assert wait(limiter, "alice", "10.0.0.1") == 0  # another address is not affected
    # a success clears the pair
    now[0] += timedelta(seconds=3)
    fail(limiter, "alice", "10.0.0.9", ok=True)
    fail(limiter, "alice", "10.0.0.9")
    assert wait(limiter, "alice", "10.0.0.9") == 0
    # the rules hold across "restarts": a new limiter reads the same table
    assert wait(LoginLimiter(), "alice", "10.0.0.9") == 0
    # per address: 5 attempts a minute whatever the usernames (password spraying)
    spray = LoginLimiter(per_address=5, window=60)
    now[0] += timedelta(hours=1)
    for name in ("a1", "a2", "a3", "a4", "a5"):
        assert wait(spray, name, "10.0.0.7") == 0
        fail(spray, name, "10.0.0.7")
    assert wait(spray, "a6", "10.0.0.7") > 0
    assert wait(spray, "a6", "10.0.0.6") == 0
    now[0] += timedelta(seconds=61)
    assert wait(spray, "a6", "10.0.0.7") == 0
    big = LoginLimiter()
    for _ in range(40):
        fail(big, "bob", "10.0.0.8")
    assert wait(big, "bob", "10.0.0.8") == pytest.approx(900.0)  # capped at 15 minutes
    # attempts older than a day are forgotten as new ones come in
    now[0] += timedelta(days=2)
    fail(big, "carol", "10.0.0.5")
    with store.read() as session:
        assert session.execute(sa.select(sa.func.count()).select_from(LoginAttempt)).scalar() == 1
    assert auth.wait_text(1.2) == "2 seconds" and auth.wait_text(900) == "15 minutes"
    store.dispose()


# ---------------------------------------------------------------------------------------------
# logs
# ---------------------------------------------------------------------------------------------


def _flow_for_logs(
    clinic_server: ClinicServer, choice: str, answers: dict[str, int | None]
) -> list[str]:
    """A whole visit with recognisable client data; returns what must not reach the log."""
    secret_name = "Zebulon Quaxley"
    code = "C-LOG" + secrets.token_hex(3).upper()
    note = "note-" + secrets.token_hex(8)
    alice = login(clinic_server)
    made = alice.post(
        "/clinic/clients", data={"csrf": csrf(alice), "code": code, "display_name": secret_name}
    )
    client_id = int(made.headers["location"].rsplit("/", 1)[1])
    alice.post(f"/clinic/clients/{client_id}/notes", data={"csrf": csrf(alice), "text": note})
    url = make_link(clinic_server, alice, client_id, choice, results=True)
    visit = open_link(url)
    assert answer_all(visit, answers).status_code == 303
    assert "Thank you" in visit.http.get("/q/done").text
    alice.get(f"/clinic/clients/{client_id}")
    client_token = visit.http.cookies["st_client"]
    session_token = alice.cookies["st_session"]
    return [url.rsplit("/", 1)[1], client_token, session_token, secret_name, code, note, PASSWORD]


def test_no_client_data_or_token_in_the_logs_even_with_access_log_on(tmp_path: Path) -> None:
    store = ClinicStore(f"sqlite:///{tmp_path / 'clinic.sqlite3'}")
    store.ensure_ready()
    seed_clinician(store)
    store.dispose()
    server = ClinicServer(tmp_path, verbose=True).start()
    try:
        secrets_shown = _flow_for_logs(server, "mood", mood_answers(5, 1))
    finally:
        server.stop()
    log = server.log_text()
    assert '"GET /q/[redacted] HTTP/1.1" 200' in log  # the access log was on, and redacted
    assert '"POST /q/[redacted] HTTP/1.1" 303' in log
    assert "POST /q/answer" in log
    for value in secrets_shown:
        assert value not in log, value


def test_no_client_data_or_token_in_the_logs_of_surveytool_serve(tmp_path: Path) -> None:
    store = ClinicStore(f"sqlite:///{tmp_path / 'clinic.sqlite3'}")
    store.ensure_ready()
    seed_clinician(store)
    store.dispose()
    server = ClinicServer(tmp_path, cli=True).start()
    screen = load_instrument("ppai").short_form_by_id["screen"].items
    try:
        secrets_shown = _flow_for_logs(server, "ppai:screen", dict.fromkeys(screen, 5))
    finally:
        server.stop()
    log = server.log_text()
    assert "surveytool is running" in log
    for value in secrets_shown:
        assert value not in log, value
    assert os.stat(tmp_path / "clinic.sqlite3").st_mode & 0o777 == 0o600


def test_an_older_database_gives_one_clear_page(tmp_path: Path) -> None:
    store = ClinicStore(f"sqlite:///{tmp_path / 'clinic.sqlite3'}")
    store.upgrade("0001")
    store.dispose()
    server = ClinicServer(tmp_path).start(ready=503)
    try:
        response = httpx.get(server.url + "/clinic/login")
        assert response.status_code == 503
        assert "surveytool clinic init" in response.text and "revision 0001" in response.text
        _headers_ok(response)
        assert httpx.get(server.url + "/").status_code == 200  # the self-assessment still works
    finally:
        server.stop()
    assert "Traceback" not in server.log_text()
