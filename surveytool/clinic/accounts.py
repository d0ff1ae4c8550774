"""Accounts a practice runs: roles, who sees which client, deactivation.

- A practice **admin** sees every client, assigns clients to clinicians and runs the accounts
  (role, deactivate and reactivate, one-time password-reset codes, second factor).
- A **clinician** sees only the clients assigned to them: every client page, note, link,
  alert and report of another clinician's client answers "not found", as if it did not exist.
- A deactivated account cannot log in, and its sessions end at once; its records stay.
  The last active admin cannot be deactivated or made a clinician (someone must run the
  practice).

Every change is audited.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from surveytool.clinic import audit
from surveytool.clinic.auth import EMAIL_ADDRESS as EMAIL
from surveytool.clinic.auth import end_sessions
from surveytool.clinic.errors import ClinicError, NotFoundError
from surveytool.clinic.models import ADMIN, ROLES, Alert, Client, Clinician, Link


def can_see(me: Clinician, client: Client) -> bool:
    return me.is_admin or client.clinician_id == me.id


def visible(me: Clinician) -> sa.ColumnElement[bool]:
    """A WHERE clause on :class:`Client`: the clients ``me`` may see."""
    return sa.true() if me.is_admin else Client.clinician_id == me.id


def client_of(session: Session, me: Clinician, client_id: int) -> Client:
    """A client ``me`` may see; another's (or none) is :class:`NotFoundError`."""
    client = session.get(Client, client_id)
    if client is None or not can_see(me, client):
        raise NotFoundError(f"no client with id {client_id}")
    return client


def alert_of(session: Session, me: Clinician, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None or not can_see(me, alert.client):
        raise NotFoundError(f"no alert {alert_id}")
    return alert


def link_of(session: Session, me: Clinician, link_id: int) -> Link:
    link = session.get(Link, link_id)
    if link is None or not can_see(me, link.client):
        raise NotFoundError("no such link")
    return link


def _active_admins(session: Session) -> int:
    return int(
        session.execute(
            sa.select(sa.func.count())
            .select_from(Clinician)
            .where(Clinician.role == ADMIN, Clinician.active.is_(True))
        ).scalar_one()
    )


def _keep_an_admin(session: Session, target: Clinician) -> None:
    if target.is_admin and target.active and _active_admins(session) <= 1:
        raise ClinicError(
            f"{target.username} is the practice's only active admin; make another account an "
            "admin first (surveytool clinic accounts role USERNAME admin)"
        )


def set_role(session: Session, target: Clinician, role: str, *, actor: str) -> None:
    if role not in ROLES:
        raise ClinicError(f"unknown role {role!r}; use {' or '.join(ROLES)}")
    if role == target.role:
        return
    if role != ADMIN:
        _keep_an_admin(session, target)
    target.role = role
    audit.append(session, actor, "clinician.role", f"clinician:{target.id}", {"role": role})


def set_active(session: Session, target: Clinician, active: bool, *, actor: str) -> None:
    if target.active == active:
        return
    if not active:
        _keep_an_admin(session, target)
        end_sessions(session, target)
    target.active = active
    action = "clinician.reactivate" if active else "clinician.deactivate"
    audit.append(session, actor, action, f"clinician:{target.id}")


def set_email(session: Session, target: Clinician, email: str | None, *, actor: str) -> None:
    cleaned = (email or "").strip() or None
    if cleaned is not None and (not EMAIL.match(cleaned) or len(cleaned) > 254):
        raise ClinicError(f"{email!r} is not a mail address (name@example.org)")
    target.email = cleaned
    audit.append(session, actor, "clinician.email", f"clinician:{target.id}")


def assign(session: Session, client: Client, clinician: Clinician | None, *, actor: str) -> None:
    """Assign a client to a clinician (None: to nobody; only admins then see the client)."""
    if clinician is not None and not clinician.active:
        raise ClinicError(f"{clinician.username} is deactivated; reactivate the account first")
    client.clinician_id = None if clinician is None else clinician.id
    audit.append(
        session,
        actor,
        "client.assign",
        f"client:{client.id}",
        {"clinician": None if clinician is None else clinician.id},
    )


def clinicians(session: Session) -> list[Clinician]:
    return list(session.execute(sa.select(Clinician).order_by(Clinician.username)).scalars())


def get_clinician(session: Session, clinician_id: int) -> Clinician:
    found = session.get(Clinician, clinician_id)
    if found is None:
        raise NotFoundError(f"no account with id {clinician_id}")
    return found
