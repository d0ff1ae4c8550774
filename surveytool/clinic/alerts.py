"""Critical-item alerts: the open ones, and acknowledging one (with an optional note)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from surveytool.clinic import audit, record
from surveytool.clinic.errors import ClinicError, NotFoundError
from surveytool.clinic.models import Alert, Client, Clinician, utcnow
from surveytool.clinic.notes import MAX_NOTE


def open_alerts(
    session: Session, client: Client | None = None, me: Clinician | None = None
) -> list[Alert]:
    """Open alerts (of one client; of the clients ``me`` may see)."""
    query = (
        sa.select(Alert)
        .where(Alert.acknowledged_at.is_(None))
        .options(selectinload(Alert.client))
        .order_by(Alert.created_at, Alert.id)
    )
    if client is not None:
        query = query.where(Alert.client_id == client.id)
    if me is not None and not me.is_admin:
        query = query.where(Alert.client.has(Client.clinician_id == me.id))
    return list(session.execute(query).scalars())


def acknowledge_alert(
    session: Session, alert_id: int, *, clinician: Clinician | None, note: str | None, actor: str
) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFoundError(f"no alert {alert_id}")
    if alert.acknowledged_at is not None:
        return alert
    text = (note or "").strip() or None
    if text is not None and len(text) > MAX_NOTE:
        raise ClinicError(f"the note is too long (at most {MAX_NOTE} characters)")
    alert.acknowledged_at = utcnow()
    alert.acknowledged_by_id = None if clinician is None else clinician.id
    alert.acknowledgement_note = text
    session.flush()
    audit.append(
        session,
        actor,
        "alert.acknowledge",
        f"client:{alert.client_id}",
        {
            "alert": alert.id,
            "administration": alert.administration_id,
            audit.RECORD: record.of_alert(session, alert),
        },
    )
    return alert
