"""Alerts that reach someone: mail through a real local SMTP server that the test starts
(aiosmtpd), with no client data in it; escalation after the configured time (on a clock the test
moves); failures recorded and tried again; and the server's own timer sending without anyone
logged in."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from email.message import Message
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from surveytool.clinic import audit, notify
from surveytool.clinic.administrations import record_administration
from surveytool.clinic.alerts import acknowledge_alert
from surveytool.clinic.clients import add_client, get_client
from surveytool.clinic.models import Alert, AuditEntry, Client, Clinician, Notification
from surveytool.clinic.store import ClinicStore
from surveytool.instrument.registry import load_instrument
from tests.surveytool.clinic.helpers import MOOD_YAML, add_test_clinician, mood_answers
from tests.surveytool.clinic.mail import Inbox, configure, local_smtp
from tests.surveytool.web.servers import (
    SUPPORT_PAGE,
    ClinicServer,
    csrf_of,
    free_port,
    hidden_fields,
    login,
    make_link,
)
from tests.surveytool.web.servers import add_client as add_web_client


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with local_smtp() as running:
        yield running


SECRET_NAME = "Philippa Quinterno"


def a_critical_alert(store: ClinicStore, folder: Path) -> Alert:
    """Bob's client answers 'hopeless all the time' (the mood fixture's critical item)."""
    mood_path = folder / "mood.yaml"
    mood_path.write_text(MOOD_YAML, "utf-8")
    mood = load_instrument(mood_path)
    with store.write() as session:
        add_test_clinician(session, "alice", email="alice@practice.example")
        bob = add_test_clinician(session, "bob", role="clinician", email="bob@practice.example")
        client = add_client(session, "C-QX81", display_name=SECRET_NAME, clinician=bob, actor="t")
        adm = record_administration(
            session,
            get_client(session, client.id),
            mood,
            str(mood_path),
            mood_answers(5, 1),
            form=None,
            mode="in_person",
            clinician=None,
            actor="t",
        )
        (alert,) = adm.alerts
        return alert


def assert_no_client_data(mail: Message) -> None:
    text = mail.as_string()
    for secret in (SECRET_NAME, "C-QX81", "hopeless", "I felt", "D3", "answer 5"):
        assert secret not in text, secret


def test_the_assigned_clinician_is_told_and_the_lead_after_the_time(
    tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    store = ClinicStore(f"sqlite:///{tmp_path / 'clinic.sqlite3'}")
    alert = a_critical_alert(store, tmp_path)
    # nothing configured: nothing sent, and it says so
    assert notify.run_once(store).configured is False
    configure(store, port)
    start = alert.created_at
    first = notify.run_once(store, now=start + timedelta(minutes=1))
    assert [(j.kind, j.recipient) for j in first.sent] == [("notify", "bob@practice.example")]
    assert len(inbox.mails) == 1
    sender, recipients, mail = inbox.mails[0]
    assert sender == "alerts@practice.example" and recipients == ["bob@practice.example"]
    assert mail["Subject"] == f"Riverside Practice: an alert needs attention (reference {alert.id})"
    body = mail.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert f"https://clinic.practice.example/clinic/alerts/{alert.id}" in body
    assert "holds no client information" in body
    assert_no_client_data(mail)
    # sent once: the next runs send nothing until the escalation time
    assert notify.run_once(store, now=start + timedelta(minutes=2)).sent == []
    assert notify.run_once(store, now=start + timedelta(minutes=29)).sent == []
    assert len(inbox.mails) == 1
    late = notify.run_once(store, now=start + timedelta(minutes=30, seconds=1))
    assert [(j.kind, j.recipient) for j in late.sent] == [("escalate", "lead@practice.example")]
    _, recipients, escalation = inbox.mails[1]
    assert recipients == ["lead@practice.example"]
    assert "still open" in escalation["Subject"]
    assert "not been acknowledged within 30 minutes" in escalation.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert_no_client_data(escalation)
    assert notify.run_once(store, now=start + timedelta(hours=5)).sent == []
    with store.read() as session:
        rows = list(session.execute(sa.select(Notification).order_by(Notification.id)).scalars())
        assert [(r.kind, r.recipient, r.sent_at is not None) for r in rows] == [
            ("notify", "bob@practice.example", True),
            ("escalate", "lead@practice.example", True),
        ]
        actions = [
            (e.action, e.target)
            for e in session.execute(sa.select(AuditEntry).order_by(AuditEntry.id)).scalars()
        ]
        assert ("alert.notify", f"alert:{alert.id}") in actions
        assert ("alert.escalate", f"alert:{alert.id}") in actions


def test_an_acknowledged_alert_is_not_escalated(tmp_path: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    store = ClinicStore(f"sqlite:///{tmp_path / 'clinic.sqlite3'}")
    alert = a_critical_alert(store, tmp_path)
    configure(store, port)
    notify.run_once(store, now=alert.created_at)
    with store.write() as session:
        bob = session.execute(sa.select(Clinician).where(Clinician.username == "bob")).scalar_one()
        acknowledge_alert(session, alert.id, clinician=bob, note="called", actor="clinician:bob")
    assert notify.run_once(store, now=alert.created_at + timedelta(hours=2)).sent == []
    assert [m[1] for m in inbox.mails] == [["bob@practice.example"]]


def test_a_failed_attempt_is_recorded_and_tried_again(
    tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    store = ClinicStore(f"sqlite:///{tmp_path / 'clinic.sqlite3'}")
    alert = a_critical_alert(store, tmp_path)
    configure(store, free_port())  # nobody listens there
    failed = notify.run_once(store, now=alert.created_at)
    assert failed.sent == [] and len(failed.failed) == 1
    assert "Connection refused" in failed.failed[0][1] or "Errno" in failed.failed[0][1]
    # not again at once, but after the retry time, once the server is right
    configure(store, port)
    assert notify.run_once(store, now=alert.created_at + timedelta(minutes=1)).sent == []
    retried = notify.run_once(
        store, now=alert.created_at + notify.RETRY_AFTER + timedelta(seconds=1)
    )
    assert [j.kind for j in retried.sent] == ["notify"] and len(inbox.mails) == 1
    with store.read() as session:
        rows = list(session.execute(sa.select(Notification).order_by(Notification.id)).scalars())
        assert [(r.error is not None, r.sent_at is not None) for r in rows] == [
            (True, False),
            (False, True),
        ]


def test_an_unassigned_client_goes_to_the_admins(tmp_path: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    store = ClinicStore(f"sqlite:///{tmp_path / 'clinic.sqlite3'}")
    alert = a_critical_alert(store, tmp_path)
    with store.write() as session:
        session.execute(sa.update(Client).values(clinician_id=None))
    configure(store, port, escalation_email="")
    sent = notify.run_once(store, now=alert.created_at + timedelta(hours=3))
    assert [(j.kind, j.recipient) for j in sent.sent] == [("notify", "alice@practice.example")]
    assert [m[1] for m in inbox.mails] == [["alice@practice.example"]]


def test_the_server_timer_notifies_without_anyone_logged_in(
    tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    store = ClinicStore(f"sqlite:///{tmp_path / 'clinic.sqlite3'}")
    store.ensure_ready()
    with store.write() as session:
        add_test_clinician(session, "alice", email="alice@practice.example")
    configure(store, port, notify_every_seconds="1")
    client = add_web_client(store, "C-TIMER")
    store.dispose()
    server = ClinicServer(tmp_path).start()
    try:
        alice = login(server)
        url = make_link(server, alice, client.id, "mood", results=False)
        alice.post("/clinic/logout", data={"csrf": alice.cookies["st_csrf"]})
        # the client answers with a critical answer; nobody is logged in
        http = httpx.Client(follow_redirects=False, timeout=30)
        start = http.get(url)
        http.post(url, data={"csrf": csrf_of(start.text)})
        base = url.split("/q/")[0]
        data = {"csrf": csrf_of(start.text), "page": "0", "action": "finish"}
        data.update({f"a_{k}": str(v) for k, v in mood_answers(5, 1).items()})
        support = http.post(base + "/q/answer", data=data)
        # the critical answer brings the support page first; then the answers are sent
        assert support.status_code == 200 and SUPPORT_PAGE in support.text
        fields = hidden_fields(support.text)
        sent = http.post(base + "/q/answer", data={**fields, "action": fields["then"]})
        assert sent.status_code == 303
        thanks = http.get(base + "/q/done").text
        assert "Your clinician will see your answers" in thanks
        deadline = time.monotonic() + 30
        while not inbox.mails and time.monotonic() < deadline:
            time.sleep(0.2)
        assert [m[1] for m in inbox.mails] == [["alice@practice.example"]]
        assert_no_client_data(inbox.mails[0][2])
    finally:
        server.stop()


def test_a_client_who_leaves_after_a_critical_answer_still_reaches_the_clinician(
    tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    """On a link, the alert is raised as the page with the critical answer is saved: the client
    sees support and leaves without sending; the timer mails the clinician, the dashboard lists
    the alert in its place (oldest first). When the client comes back and sends, the alert is
    attached to the administration: no second alert, no second mail."""
    inbox, port = smtp
    store = ClinicStore(f"sqlite:///{tmp_path / 'clinic.sqlite3'}")
    store.ensure_ready()
    older = a_critical_alert(store, tmp_path)  # bob's client C-QX81, recorded in person
    configure(store, port, notify_every_seconds="1", escalation_email="")
    client = add_web_client(store, "C-LEAVE")  # assigned to nobody: the admins (alice) are told
    store.dispose()
    server = ClinicServer(tmp_path).start()
    try:
        alice = login(server)
        url = make_link(server, alice, client.id, "mood", results=False)
        http = httpx.Client(follow_redirects=False, timeout=30)
        start = http.get(url)
        assert "your clinician is told about that answer as soon as you go on" in start.text
        http.post(url, data={"csrf": csrf_of(start.text)})
        base = url.split("/q/")[0]
        data = {"csrf": csrf_of(start.text), "page": "0", "action": "finish"}
        data.update({f"a_{k}": str(v) for k, v in mood_answers(2, 3, D3=5).items()})
        support = http.post(base + "/q/answer", data=data)
        assert support.status_code == 200 and SUPPORT_PAGE in support.text
        assert "Because of this answer your clinician has been told already" in support.text
        http.close()  # the client leaves here, without sending
        with store.read() as session:
            (alert,) = session.execute(sa.select(Alert).where(Alert.client_id == client.id))
            raised = alert[0]
            assert raised.administration_id is None and raised.link_id is not None
            assert (raised.check_id, raised.answer, raised.answer_label) == (
                "hopeless",
                5,
                "Always",
            )
        # the server's timer mails the practice's admin, with no client data
        deadline = time.monotonic() + 30
        while len(inbox.mails) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        subjects = sorted(m[2]["Subject"] for m in inbox.mails)
        assert subjects == sorted(
            f"Riverside Practice: an alert needs attention (reference {i})"
            for i in (older.id, raised.id)
        )
        mine = [m for m in inbox.mails if f"reference {raised.id}" in m[2]["Subject"]]
        assert [m[1] for m in mine] == [["alice@practice.example"]]
        assert_no_client_data(mine[0][2])
        # the dashboard: both open alerts, the older first, and the clients in that order
        page = alice.get("/clinic").text
        assert page.index(f'id="alert-{older.id}"') < page.index(f'id="alert-{raised.id}"')
        assert page.index(">C-QX81</a></th>") < page.index(">C-LEAVE</a></th>")
        box = page[page.index(f'id="alert-{raised.id}"') :]
        assert (
            "Item D3 \u201cI felt hopeless.\u201d: answered 5 \u201cAlways\u201d, which meets "
            "the rule: answer at or above 5 (Always)."
        ) in box
        assert "the client has not sent the answers" in box
        # and at the top of the client's page
        client_page = alice.get(f"/clinic/clients/{client.id}").text
        assert f'id="alert-{raised.id}"' in client_page
        assert client_page.index("Open alerts") < client_page.index(f'id="alert-{raised.id}"')
        # the client comes back by the same link and sends: the same alert, attached
        again = httpx.Client(follow_redirects=False, timeout=30)
        start = again.get(url)
        again.post(url, data={"csrf": csrf_of(start.text)})
        support = again.post(base + "/q/answer", data={**data, "csrf": csrf_of(start.text)})
        assert SUPPORT_PAGE in support.text  # support again before sending, as now
        fields = hidden_fields(support.text)
        sent = again.post(base + "/q/answer", data={**fields, "action": fields["then"]})
        assert sent.status_code == 303 and sent.headers["location"].startswith("/q/done")
        with store.read() as session:
            alerts = list(session.execute(sa.select(Alert).where(Alert.client_id == client.id)))
            assert [a[0].id for a in alerts] == [raised.id]
            assert alerts[0][0].administration_id is not None
        assert notify.run_once(store).sent == []  # told once
        assert "the client has not sent the answers" not in alice.get("/clinic").text
    finally:
        server.stop()
        store.dispose()
    with store.read() as session:
        result = audit.verify(session)
        assert result.ok, result
        actions = [e.action for e in session.execute(sa.select(AuditEntry)).scalars()]
        assert actions.count("alert.raise") == 1
    store.dispose()


def test_without_a_mail_server_the_timer_says_that_open_alerts_go_unmailed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from surveytool.clinic.notify import Timer, run_once

    store = ClinicStore(f"sqlite:///{tmp_path / 'clinic.sqlite3'}")
    store.ensure_ready()
    a_critical_alert(store, tmp_path)
    summary = run_once(store)
    assert not summary.configured and summary.unsent_open == 1 and not summary.sent
    timer = Timer(lambda: store)
    with caplog.at_level("WARNING", logger="surveytool.notify"):
        timer.start()
        deadline = time.monotonic() + 30
        while not caplog.records and time.monotonic() < deadline:
            time.sleep(0.05)
        timer.stop()
    (record,) = caplog.records
    assert record.getMessage().startswith(
        "1 open alert(s) and no mail server configured: nobody is told by mail"
    )
    assert SECRET_NAME not in record.getMessage()
    store.dispose()
