"""Alerts of critical checks: what one says, how old it is, the open ones (oldest first), and
acknowledging one (with an optional note).

An alert is created from a check hit (:class:`~surveytool.safety.checks.CriticalHit`) in the same
transaction as the answers (:func:`surveytool.clinic.administrations.record_administration`);
delivery by mail is :mod:`surveytool.clinic.notify`'s.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from surveytool.clinic import audit, record
from surveytool.clinic.errors import ClinicError, NotFoundError
from surveytool.clinic.models import Alert, Client, Clinician, utcnow
from surveytool.clinic.notes import MAX_NOTE


def alert_text(alert: Alert) -> str:
    """What the alert says: the item and its text, the answer and its label, the rule it met.

    >>> a = Alert(item_id="LS5", item_text="I feel low.", answer=4, answer_label="Mostly like me",
    ...           rule="answer at or above 4 (Mostly like me)", reason="rule", message="")
    >>> alert_text(a)
    'Item LS5 \u201cI feel low.\u201d: answered 4 \u201cMostly like me\u201d, which meets the rule: answer at or above 4 (Mostly like me).'
    """
    item = f"Item {alert.item_id}" + (f" \u201c{alert.item_text}\u201d" if alert.item_text else "")
    label = f" \u201c{alert.answer_label}\u201d" if alert.answer_label else ""
    if alert.reason == "skip" or alert.answer is None:
        what = "left unanswered, which this check treats as an alert"
    elif alert.reason == "missing_code":
        what = f"answered{label or ' ' + str(alert.answer)} (not answered), which this check treats as an alert"
    elif alert.rule:
        what = f"answered {alert.answer}{label}, which meets the rule: {alert.rule}"
    else:  # stored before revision 0004: no rule was kept
        what = f"answered {alert.answer}{label}"
    return f"{item}: {what}."


def alert_age(alert: Alert, now: datetime | None = None) -> str:
    """How long the alert has been waiting, in words: 'under a minute', '5 minutes', '3 hours',
    '2 days'."""
    seconds = max(0.0, ((now or utcnow()) - alert.created_at).total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return "under a minute"


def open_alerts(
    session: Session, client: Client | None = None, me: Clinician | None = None
) -> list[Alert]:
    """Open alerts (of one client; of the clients ``me`` may see), the oldest first (it has
    waited longest)."""
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
