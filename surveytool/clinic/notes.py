"""A clinician's notes on a client."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from surveytool.clinic import audit, record
from surveytool.clinic.errors import ClinicError
from surveytool.clinic.models import Client, Clinician, Note, utcnow

MAX_NOTE = 10_000


def add_note(
    session: Session, client: Client, text: str, *, clinician: Clinician | None, actor: str
) -> Note:
    cleaned = text.strip()
    if not cleaned:
        raise ClinicError("the note is empty")
    if len(cleaned) > MAX_NOTE:
        raise ClinicError(f"the note is too long (at most {MAX_NOTE} characters)")
    note = Note(
        client_id=client.id,
        clinician_id=None if clinician is None else clinician.id,
        actor=actor,
        created_at=utcnow(),
        text=cleaned,
    )
    session.add(note)
    session.flush()
    audit.append(
        session,
        actor,
        "note.add",
        f"client:{client.id}",
        {"note": note.id, audit.RECORD: record.of_note(session, note)},
    )
    return note


def notes_of(session: Session, client: Client) -> list[Note]:
    return list(
        session.execute(
            sa.select(Note).where(Note.client_id == client.id).order_by(Note.created_at, Note.id)
        ).scalars()
    )
