"""Alerts of critical checks: raising them (the one place that does), what one says, how old it
is, the open ones (oldest first), and acknowledging one (with an optional note).

An alert is created from a check hit (:class:`~surveytool.safety.checks.CriticalHit`) at level
alert by :func:`raise_alerts`, in the same transaction as the answers that met it:

- in person, when the administration is recorded
  (:func:`surveytool.clinic.administrations.record_administration`);
- on a clinician's link, as soon as the page holding the answer is saved
  (:func:`raise_link_alerts`, from the page after it), so a client who meets a check and then
  leaves without sending still reaches the clinician. When the client sends the answers later,
  the alert is attached to the administration; no second alert is made (one per link and check,
  which a unique index also enforces).

Delivery by mail (and escalation) is :mod:`surveytool.clinic.notify`'s: its timer finds every
open alert, whether or not the answers were sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from surveytool.clinic import audit, record
from surveytool.clinic.errors import ClinicError, NotFoundError
from surveytool.clinic.models import Alert, Client, Clinician, Link, utcnow
from surveytool.clinic.notes import MAX_NOTE
from surveytool.clinic.scores import alert_row
from surveytool.safety.checks import CriticalHit


def raise_alerts(
    session: Session,
    client_id: int,
    hits: Iterable[CriticalHit],
    *,
    at: datetime,
    administration_id: int | None = None,
    link: Link | None = None,
) -> tuple[list[Alert], list[Alert]]:
    """The alerts of ``hits`` at level alert, in the caller's transaction: ``(new, earlier)``.

    Without a link, one new alert per hit. On a link (``link``, whose row the caller has locked
    or updated in this transaction, so two requests of one link take turns), a check that already
    has its alert on this link gets no second one: it is returned in ``earlier``. With an
    ``administration_id``, the new alerts and every earlier alert of the link that belongs to no
    administration yet are attached to it (the answers were sent).
    """
    link_id = None if link is None else link.id
    earlier: dict[str, Alert] = {}
    if link_id is not None:
        for alert in session.execute(
            sa.select(Alert).where(Alert.link_id == link_id).order_by(Alert.id)
        ).scalars():
            earlier[alert.check_id or alert.item_id] = alert
    new: list[Alert] = []
    for hit in hits:
        if not hit.alert or hit.check in earlier:
            continue
        alert = alert_row(administration_id, client_id, hit, at)
        alert.link_id = link_id
        new.append(alert)
        if link_id is not None:
            earlier[hit.check] = alert
    session.add_all(new)
    before = [a for a in earlier.values() if a not in new]
    if administration_id is not None:
        for alert in before:
            if alert.administration_id is None:
                alert.administration_id = administration_id
    session.flush()
    return new, before


def raise_link_alerts(
    session: Session, link: Link, hits: Iterable[CriticalHit], *, actor: str
) -> list[Alert]:
    """A page of a link was saved with answers meeting ``hits``: the alerts of those at level
    alert that this link has not raised yet, now (before the answers are sent), each with its
    audit row; returns the new ones.

    The link's row is locked first (``SELECT ... FOR UPDATE`` on PostgreSQL; a SQLite write
    transaction holds the database already), so two requests of one link, in two server
    processes, raise one alert per check.
    """
    wanted = [h for h in hits if h.alert]
    if not wanted:
        return []
    session.execute(sa.select(Link.id).where(Link.id == link.id).with_for_update()).one()
    new, _ = raise_alerts(session, link.client_id, wanted, at=utcnow(), link=link)
    for alert in new:
        audit.append(
            session,
            actor,
            "alert.raise",
            f"client:{link.client_id}",
            {
                "alert": alert.id,
                "check": alert.check_id,
                "link": link.id,
                audit.RECORD: record.of_alert(session, alert),
            },
        )
    return new


def alerts_of(session: Session, client: Client) -> list[Alert]:
    """Every alert of a client, the oldest first: those of its administrations and those raised
    on a link whose answers were not sent."""
    return list(
        session.execute(
            sa.select(Alert)
            .where(Alert.client_id == client.id)
            .options(selectinload(Alert.acknowledged_by))
            .order_by(Alert.created_at, Alert.id)
        ).scalars()
    )


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
