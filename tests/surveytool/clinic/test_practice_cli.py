"""``surveytool clinic settings | accounts | assign | notify | audit-head`` on a real SQLite file:
what a practice admin runs from the terminal, and its mistakes (one line, exit 1)."""

from __future__ import annotations

import pexpect  # type: ignore[import-untyped]
import pyotp
import sqlalchemy as sa

from surveytool.clinic import auth
from surveytool.clinic.models import AuditEntry, Client, Clinician, LoginSession
from surveytool.clinic.store import ClinicStore
from tests.surveytool.clinic.helpers import add_test_clinician
from tests.surveytool.clinic.test_cli import fails, ok, spawn


def _store(env: dict[str, str]) -> ClinicStore:
    return ClinicStore(env["SURVEYTOOL_DATABASE_URL"])


def test_settings_are_checked_and_audited(clinic: dict[str, str]) -> None:
    shown = ok(clinic, "settings", "show")
    assert "smtp_host = (not set)" in shown and "review_time = (not set)" in shown
    assert "escalation_minutes = 90" in ok(clinic, "settings", "set", "escalation_minutes", "90")
    ok(clinic, "settings", "set", "review_time", "within  one working day ")
    assert "review_time = within one working day" in ok(clinic, "settings", "show")
    for key, value, match in (
        (
            "escalation_minutes",
            "soon",
            "cannot set escalation_minutes to 'soon': it is not a whole",
        ),
        ("mail_from", "alerts", "it is not a mail address"),
        ("base_url", "clinic.example.org", "use the address of the clinician pages"),
        ("smtp_security", "ssl", "use one of: starttls, tls, none"),
        ("colour", "blue", "unknown setting 'colour'"),
    ):
        fails(clinic, "settings", "set", key, value, match=match)
    assert "review_time removed" in ok(clinic, "settings", "set", "review_time", "")
    store = _store(clinic)
    with store.read() as session:
        actions = [e.action for e in session.execute(sa.select(AuditEntry)).scalars()]
    assert actions.count("setting.set") == 2 and actions.count("setting.unset") == 1
    store.dispose()


def test_accounts_from_the_terminal(clinic: dict[str, str]) -> None:
    store = _store(clinic)
    with store.write() as session:
        add_test_clinician(session, "bob", role="clinician")
    listed = ok(clinic, "accounts", "list")
    assert "alice: admin, active, no mail address, no second factor" in listed
    assert "bob: clinician, active" in listed
    fails(clinic, "accounts", "deactivate", "alice", match="only active admin")
    fails(clinic, "accounts", "role", "alice", "clinician", match="only active admin")
    ok(clinic, "accounts", "role", "bob", "admin")
    ok(clinic, "accounts", "role", "alice", "clinician")
    ok(clinic, "accounts", "role", "alice", "admin")
    ok(clinic, "accounts", "email", "bob", "bob@practice.example")
    fails(clinic, "accounts", "email", "bob", "bob-at-home", match="not a mail address")
    # deactivation ends the sessions at once
    with store.write() as session:
        bob = session.execute(sa.select(Clinician).where(Clinician.username == "bob")).scalar_one()
        auth.start_session(session, bob)
    assert "bob is deactivated" in ok(clinic, "accounts", "deactivate", "bob")
    with store.read() as session:
        assert session.execute(sa.select(LoginSession)).first() is None
    ok(clinic, "accounts", "reactivate", "bob")
    code = (
        ok(clinic, "accounts", "reset-password", "bob").split("reset code for bob: ")[1].split()[0]
    )
    assert len(code) == 20
    store.dispose()


def test_second_factor_from_the_terminal(clinic: dict[str, str]) -> None:
    """Through a real pseudo-terminal: the key is printed, the app's code turns it on."""
    fails(
        clinic,
        "accounts",
        "totp",
        "alice",
        "--code-stdin",
        input="123456\n",
        match="does not match",
    )
    child, log = spawn(clinic, "accounts", "totp", "alice")
    child.expect(r"key: ([A-Z2-7]{16,})")
    secret = child.match.group(1)
    child.expect("otpauth://totp/")
    child.expect("Code shown by the app")
    child.sendline(pyotp.TOTP(secret).now())
    child.expect("alice: second factor on")
    child.expect(pexpect.EOF)
    assert "Traceback" not in log.getvalue()
    assert "second factor on" in ok(clinic, "accounts", "list")
    store = _store(clinic)
    with store.read() as session:
        alice = session.execute(
            sa.select(Clinician).where(Clinician.username == "alice")
        ).scalar_one()
        assert alice.totp_secret == secret
    store.dispose()
    assert "alice: second factor off" in ok(clinic, "accounts", "totp", "alice", "--off")


def test_assign_and_audit_head(clinic: dict[str, str]) -> None:
    store = _store(clinic)
    with store.write() as session:
        add_test_clinician(session, "bob", role="clinician")
    assert "client C-001 assigned to bob" in ok(clinic, "assign", "C-001", "bob")
    with store.read() as session:
        client = session.execute(sa.select(Client)).scalar_one()
        bob = session.execute(sa.select(Clinician).where(Clinician.username == "bob")).scalar_one()
        assert client.clinician_id == bob.id
    assert "assigned to nobody" in ok(clinic, "assign", "C-001", "--nobody")
    fails(clinic, "assign", "C-001", match="give a USERNAME, or --nobody")
    fails(clinic, "assign", "C-404", "bob", match="no client 'C-404'")
    head = ok(clinic, "audit-head")
    assert '"hash":"' in head and "clinic.sqlite3.audit-head" in head
    assert "nothing to send" not in ok(clinic, "notify")  # no mail server: it says so
    assert "no mail server configured" in ok(clinic, "notify")
    store.dispose()
