"""Clients under pseudonymous codes: add, find, list."""

from __future__ import annotations

import re
import secrets

import sqlalchemy as sa
from sqlalchemy.orm import Session

from surveytool.clinic import audit
from surveytool.clinic.errors import ClinicError, NotFoundError
from surveytool.clinic.models import Client, Clinician, utcnow

CODE_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9_.-]{1,39}$")
_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base 32: no I, L, O, U
MAX_NAME = 200


def normalize_code(code: str) -> str:
    cleaned = code.strip().upper()
    if not CODE_PATTERN.match(cleaned):
        raise ClinicError(
            f"invalid client code {code!r}: use 2-40 letters, digits, '.', '_' or '-', starting "
            "with a letter or digit (a pseudonym, not the client's name)"
        )
    return cleaned


def new_client_code(session: Session) -> str:
    """A random pseudonymous code such as ``C-7KQ2XM`` that is not taken yet."""
    for _ in range(100):
        code = "C-" + "".join(secrets.choice(_CODE_ALPHABET) for _ in range(6))
        if session.execute(sa.select(Client.id).where(Client.code == code)).first() is None:
            return code
    raise ClinicError("could not find a free client code")  # pragma: no cover


def add_client(
    session: Session,
    code: str | None,
    *,
    display_name: str | None,
    clinician: Clinician | None,
    actor: str,
) -> Client:
    """A new client under a pseudonymous code (generated when not given)."""
    cleaned = normalize_code(code) if code else new_client_code(session)
    name = (display_name or "").strip() or None
    if name is not None and len(name) > MAX_NAME:
        raise ClinicError(f"the display name is too long (at most {MAX_NAME} characters)")
    taken = session.execute(sa.select(Client.id).where(Client.code == cleaned)).first()
    if taken is not None:
        raise ClinicError(f"a client {cleaned!r} already exists; choose another code")
    client = Client(
        code=cleaned,
        display_name=name,
        created_at=utcnow(),
        created_by_id=None if clinician is None else clinician.id,
        # a clinician's new client is theirs; an admin's too, until assigned to another
        clinician_id=None if clinician is None else clinician.id,
    )
    session.add(client)
    session.flush()
    # the audit row names the pseudonymous code only, never the display name
    audit.append(session, actor, "client.add", f"client:{client.id}", {"code": cleaned})
    return client


def find_client(session: Session, code: str) -> Client:
    cleaned = code.strip().upper()
    client = session.execute(sa.select(Client).where(Client.code == cleaned)).scalar_one_or_none()
    if client is None:
        raise NotFoundError(
            f"no client {code!r}; see the codes with `surveytool clinic clients list`"
        )
    return client


def get_client(session: Session, client_id: int) -> Client:
    client = session.get(Client, client_id)
    if client is None:
        raise NotFoundError(f"no client with id {client_id}")
    return client


def list_clients(session: Session, me: Clinician | None = None) -> list[Client]:
    """Every client, or those ``me`` may see (an admin: all; a clinician: their own)."""
    query = sa.select(Client).order_by(Client.code)
    if me is not None and not me.is_admin:
        query = query.where(Client.clinician_id == me.id)
    return list(session.execute(query).scalars())
