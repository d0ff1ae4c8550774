"""Recording administrations (answers, scores and alerts with their audit row, in the caller's
transaction) and reading a client's history and the change between two administrations."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from surveytool.clinic import audit, record
from surveytool.clinic.alerts import raise_alerts
from surveytool.clinic.errors import ClinicError
from surveytool.clinic.models import (
    BY_LINK,
    COMPLETE,
    IN_PERSON,
    PARTIAL,
    Administration,
    Alert,
    Client,
    Clinician,
    ItemAnswer,
    Link,
    utcnow,
)
from surveytool.clinic.references import Reference
from surveytool.clinic.scores import check_answers, score_answers, score_row
from surveytool.instrument.model import Instrument
from surveytool.scoring.change import ReliableChange, reliable_change
from surveytool.scoring.engine import provenance
from surveytool.scoring.result import PersonScores


@dataclass(frozen=True)
class Scored:
    """Answers checked and scored ahead of the transaction that records them
    (:func:`score_for_record`): scoring is the slow part of recording, and a write transaction
    need not hold the database while it runs."""

    inst_hash: str
    form: str | None
    checked: dict[str, int | None]
    person: PersonScores


def score_for_record(
    inst: Instrument, form: str | None, answers: Mapping[str, int | None]
) -> Scored:
    """Check and score answers for :func:`record_administration` (its ``scored``)."""
    checked = check_answers(inst, form, answers)
    return Scored(inst.content_hash, form, checked, score_answers(inst, form, checked))


def record_administration(
    session: Session,
    client: Client,
    inst: Instrument,
    source: str,
    answers: Mapping[str, int | None],
    *,
    form: str | None,
    mode: str,
    clinician: Clinician | None,
    actor: str,
    started_at: datetime | None = None,
    link: Link | None = None,
    scored: Scored | None = None,
) -> Administration:
    """Store one administration: answers, scores and critical-item alerts, with its audit row.

    All in the caller's transaction, so a crash leaves either all of it or none of it. By a
    ``link``, the alerts the link raised when its pages were saved
    (:func:`surveytool.clinic.alerts.raise_link_alerts`) are attached to the administration; a
    check met now that the link has not alerted yet gets its alert here.

    ``scored``: the answers checked and scored already (:func:`score_for_record`, outside the
    transaction); refused unless they are these answers of this instrument and form.
    """
    if mode not in (IN_PERSON, BY_LINK):
        raise ClinicError(f"unknown mode {mode!r}")
    checked = check_answers(inst, form, answers)
    if scored is None:
        person = score_answers(inst, form, checked)
    elif (scored.inst_hash, scored.form, scored.checked) != (inst.content_hash, form, checked):
        raise ClinicError("the scores given are not of these answers; nothing was recorded")
    else:
        person = scored.person
    now = utcnow()
    adm = Administration(
        client_id=client.id,
        **provenance(inst, form).record_fields(),
        instrument_source=source,
        clinician_id=None if clinician is None else clinician.id,
        actor=actor,
        started_at=started_at,
        administered_at=now,
        mode=mode,
        status=PARTIAL if any(v is None for v in checked.values()) else COMPLETE,
    )
    session.add(adm)
    session.flush()
    session.add_all(
        ItemAnswer(administration_id=adm.id, item_id=item_id, position=k, value=value)
        for k, (item_id, value) in enumerate(checked.items())
    )
    session.add_all(score_row(adm.id, scale, inst.content_hash) for scale in person.scales)
    # on a link, the alerts raised when the pages were saved are attached, not raised again
    new, earlier = raise_alerts(
        session, client.id, person.alerts, at=now, administration_id=adm.id, link=link
    )
    alerts = sorted(new + earlier, key=lambda a: a.id)
    if link is not None:
        link.administration_id = adm.id
    session.flush()
    audit.append(
        session,
        actor,
        "administration.record",
        f"client:{client.id}",
        {
            "administration": adm.id,
            "instrument": inst.id,
            "version": inst.version,
            "hash": inst.content_hash,
            "form": form,
            "mode": mode,
            "status": adm.status,
            "alerts": [a.id for a in alerts],
            "link": None if link is None else link.id,
            audit.RECORD: record.of_administrations(session, [adm.id]),
        },
    )
    return adm


def administrations_of(session: Session, client: Client) -> list[Administration]:
    """A client's administrations, oldest first, with answers, scores and alerts loaded."""
    return list(
        session.execute(
            sa.select(Administration)
            .where(Administration.client_id == client.id)
            .options(
                selectinload(Administration.answers),
                selectinload(Administration.scores),
                selectinload(Administration.alerts).selectinload(Alert.acknowledged_by),
            )
            .order_by(Administration.administered_at, Administration.id)
        ).scalars()
    )


def score_map(adm: Administration) -> dict[str, float]:
    return {s.scale_id: s.value for s in adm.scores if s.value is not None}


def change_between(
    inst: Instrument,
    before: Administration,
    after: Administration,
    references: Mapping[str, Reference] | None = None,
) -> list[ReliableChange]:
    """Reliable change (Jacobson–Truax) per scale between two stored administrations.

    SD and reliability come from the practice's values (``references``, see
    :mod:`surveytool.clinic.references`: published values with their source, or practice-based
    estimates), else from the instrument's norms; without either each scale's RCI is NaN and its
    ``source`` says why (nothing is invented). Each result's ``source`` names where its values
    came from.
    """
    if before.instrument_id != after.instrument_id:
        raise ClinicError("reliable change compares two administrations of the same instrument")
    refs = references or {}
    rows = reliable_change(
        inst,
        score_map(before),
        score_map(after),
        sd={k: r.sd for k, r in refs.items()},
        reliability={k: r.reliability for k, r in refs.items()},
    )
    # the SD and reliability given for a scale are the practice's: say which they are
    return [
        replace(row, source=f"SD and reliability from {refs[row.scale].label}")
        if row.scale in refs
        else row
        for row in rows
    ]
