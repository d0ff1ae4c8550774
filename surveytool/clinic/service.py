"""What the clinic does, one function per act: add clients, record administrations, rescore,
acknowledge alerts, take notes, export. The CLI and the web pages both call these.

Every function works inside the caller's transaction (a :meth:`ClinicStore.write` session), and
every change appends its audit row in that same transaction: the answers, the scores, the
critical-item alerts and the audit row of an administration are committed together or not at
all. Scores come only from :func:`surveytool.scoring.engine.score_responses` on the stored
answers.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from surveytool.clinic import audit
from surveytool.clinic.errors import ClinicError, NotFoundError
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
    Note,
    Score,
    utcnow,
)
from surveytool.errors import ScoringError, SurveytoolError
from surveytool.instrument.model import Instrument
from surveytool.instrument.registry import bundled_paths, load_instrument
from surveytool.scoring.change import ReliableChange, reliable_change
from surveytool.scoring.engine import score_responses
from surveytool.scoring.result import Provenance

CODE_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9_.-]{1,39}$")
_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base 32: no I, L, O, U
MAX_NOTE = 10_000
MAX_NAME = 200


# ---------------------------------------------------------------------------------------------
# Instruments
# ---------------------------------------------------------------------------------------------


def instrument_source(id_or_path: str | Path) -> str:
    """What to store to find an instrument again: a bundled id as is, a file as its full path."""
    text = str(id_or_path)
    if text in bundled_paths():
        return text
    return str(Path(text).resolve())


def load_source(source: str) -> Instrument:
    """The instrument file an administration or link names, as it is now."""
    try:
        return load_instrument(source)
    except SurveytoolError as exc:
        raise ClinicError(f"cannot load the instrument {source!r}: {exc}") from None


def form_items(inst: Instrument, form: str | None) -> list[str]:
    """The items of a form, as a clinic error when the form does not exist."""
    try:
        return inst.form_items(form)
    except ScoringError as exc:
        raise ClinicError(str(exc)) from None


# ---------------------------------------------------------------------------------------------
# Clinicians and clients
# ---------------------------------------------------------------------------------------------


def actor_of(clinician: Clinician | None, fallback: str) -> str:
    return f"clinician:{clinician.username}" if clinician is not None else fallback


def find_clinician(session: Session, username: str) -> Clinician:
    clinician = session.execute(
        sa.select(Clinician).where(Clinician.username == username.strip().lower())
    ).scalar_one_or_none()
    if clinician is None:
        raise NotFoundError(
            f"no clinician {username!r}; create the account with "
            "`surveytool clinic add-clinician USERNAME`"
        )
    return clinician


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


def list_clients(session: Session) -> list[Client]:
    return list(session.execute(sa.select(Client).order_by(Client.code)).scalars())


# ---------------------------------------------------------------------------------------------
# Scoring and recording
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreValue:
    scale_id: str
    kind: str
    value: float | None
    n_answered: int
    status: str
    band: str | None
    t_score: float | None = None
    percentile: float | None = None


@dataclass(frozen=True)
class Flag:
    item_id: str
    answer: int
    message: str


@dataclass(frozen=True)
class Scored:
    scores: tuple[ScoreValue, ...]
    flags: tuple[Flag, ...]
    issues: int
    provenance: Provenance


def score_answers(inst: Instrument, form: str | None, answers: Mapping[str, int | None]) -> Scored:
    """Score stored answers with :func:`score_responses` (the only scoring path)."""
    item_ids = form_items(inst, form)
    row: dict[str, object] = {i: answers.get(i) for i in item_ids}
    result = score_responses(inst, row, form=form)
    person = result.person(0)
    values = tuple(
        ScoreValue(
            scale_id=s.id,
            kind=s.kind,
            value=s.score,
            n_answered=s.answered,
            status=s.status.value,
            band=s.band if s.ok else None,
            t_score=s.t,
            percentile=s.percentile,
        )
        for s in person.scales
    )
    flags = tuple(Flag(hit.item, hit.answer, hit.message) for hit in person.critical)
    return Scored(values, flags, len(result.issues), result.provenance)


def check_answers(
    inst: Instrument, form: str | None, answers: Mapping[str, int | None]
) -> dict[str, int | None]:
    """Answers in form order, each a scale point, a missing code or None; refuses anything else."""
    item_ids = form_items(inst, form)
    unknown = sorted(set(answers) - set(item_ids))
    if unknown:
        raise ClinicError(f"not items of this form: {', '.join(unknown[:10])}")
    out: dict[str, int | None] = {}
    for item_id in item_ids:
        value = answers.get(item_id)
        if value is not None:
            scale = inst.scale_of(item_id)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ClinicError(f"{item_id}: the answer must be a whole number, not {value!r}")
            if not scale.accepts(value):
                raise ClinicError(
                    f"{item_id}: {value} is not on the scale {scale.min}..{scale.max}"
                )
        out[item_id] = value
    return out


def _score_row(adm_id: int, value: ScoreValue, inst_hash: str) -> Score:
    return Score(
        administration_id=adm_id,
        scale_id=value.scale_id,
        kind=value.kind,
        value=value.value,
        n_answered=value.n_answered,
        status=value.status,
        band=value.band,
        t_score=value.t_score,
        percentile=value.percentile,
        instrument_hash=inst_hash,
        computed_at=utcnow(),
    )


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
) -> Administration:
    """Store one administration: answers, scores and critical-item alerts, with its audit row.

    All in the caller's transaction, so a crash leaves either all of it or none of it.
    """
    if mode not in (IN_PERSON, BY_LINK):
        raise ClinicError(f"unknown mode {mode!r}")
    checked = check_answers(inst, form, answers)
    scored = score_answers(inst, form, checked)
    now = utcnow()
    adm = Administration(
        client_id=client.id,
        **scored.provenance.record_fields(),
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
    session.add_all(_score_row(adm.id, v, inst.content_hash) for v in scored.scores)
    alerts = [
        Alert(
            administration_id=adm.id,
            client_id=client.id,
            item_id=flag.item_id,
            answer=flag.answer,
            message=flag.message,
            created_at=now,
        )
        for flag in scored.flags
    ]
    session.add_all(alerts)
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
        },
    )
    return adm


# ---------------------------------------------------------------------------------------------
# Rescoring
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreChange:
    administration_id: int
    client_code: str
    scale_id: str
    before: float | None
    after: float | None
    band_before: str | None
    band_after: str | None


@dataclass
class RescoreSummary:
    """What a rescore found (and, unless it was a dry run, changed)."""

    applied: bool
    checked: int = 0
    unchanged: int = 0
    changed_administrations: int = 0
    changes: list[ScoreChange] = field(default_factory=list)
    added_scales: int = 0
    removed_scales: int = 0
    new_alerts: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)
    instruments: dict[str, str] = field(default_factory=dict)

    def lines(self) -> list[str]:
        verb = "rescored" if self.applied else "would rescore (dry run, nothing changed)"
        out = [
            f"{verb}: {self.checked} administration(s) checked, {self.changed_administrations} "
            f"changed, {self.unchanged} unchanged, {len(self.skipped)} skipped"
        ]
        out += [f"instrument {k}: {v}" for k, v in sorted(self.instruments.items())]
        if self.changes:
            bands = sum(c.band_before != c.band_after for c in self.changes)
            out.append(f"{len(self.changes)} score(s) changed, {bands} of them changed band")
            for c in self.changes[:50]:
                out.append(
                    f"  administration {c.administration_id} ({c.client_code}) {c.scale_id}: "
                    f"{_fmt(c.before)} -> {_fmt(c.after)}"
                    + (
                        f" (band {c.band_before} -> {c.band_after})"
                        if c.band_before != c.band_after
                        else ""
                    )
                )
            if len(self.changes) > 50:
                out.append(f"  ... and {len(self.changes) - 50} more")
        if self.added_scales or self.removed_scales:
            out.append(
                f"scales added: {self.added_scales}, scales no longer scored: {self.removed_scales}"
            )
        if self.new_alerts:
            out.append(f"new critical-item alerts: {self.new_alerts} (open until acknowledged)")
        for adm_id, reason in self.skipped[:20]:
            out.append(f"  skipped administration {adm_id}: {reason}")
        return out


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def rescore(
    session: Session,
    *,
    instrument: Instrument | None = None,
    source: str | None = None,
    apply: bool = True,
    actor: str,
) -> RescoreSummary:
    """Recompute every stored score from its answers with the instrument file as it is now.

    ``instrument`` (with its ``source``): rescore only that instrument's administrations, with
    that file; otherwise each administration's own instrument file. Scores that changed are
    updated (``apply``) and listed; critical items newly flagged get alerts.
    """
    summary = RescoreSummary(applied=apply)
    query = (
        sa.select(Administration)
        .options(
            selectinload(Administration.answers),
            selectinload(Administration.scores),
            selectinload(Administration.alerts),
            selectinload(Administration.client),
        )
        .order_by(Administration.id)
    )
    if instrument is not None:
        query = query.where(Administration.instrument_id == instrument.id)
    cache: dict[str, Instrument | str] = {}
    for adm in session.execute(query).scalars():
        summary.checked += 1
        if instrument is not None:
            inst: Instrument | str = instrument
        else:
            if adm.instrument_source not in cache:
                try:
                    cache[adm.instrument_source] = load_source(adm.instrument_source)
                except ClinicError as exc:
                    cache[adm.instrument_source] = str(exc)
            inst = cache[adm.instrument_source]
        if isinstance(inst, str):
            summary.skipped.append((adm.id, inst))
            continue
        if adm.form is not None and adm.form not in inst.short_form_by_id:
            summary.skipped.append((adm.id, f"the instrument has no short form {adm.form!r} now"))
            continue
        summary.instruments[inst.id] = f"{inst.version} (hash {inst.content_hash[:12]})"
        answers = {a.item_id: a.value for a in adm.answers}
        valid = set(form_items(inst, adm.form))
        scored = score_answers(inst, adm.form, {k: v for k, v in answers.items() if k in valid})
        old = {s.scale_id: s for s in adm.scores}
        new = {v.scale_id: v for v in scored.scores}
        changed = False
        for scale_id, value in new.items():
            before = old.get(scale_id)
            if before is None:
                summary.added_scales += 1
                changed = True
                if apply:
                    session.add(_score_row(adm.id, value, inst.content_hash))
                continue
            differs = not _same(before.value, value.value) or before.band != value.band
            if differs:
                summary.changes.append(
                    ScoreChange(
                        adm.id,
                        adm.client.code,
                        scale_id,
                        before.value,
                        value.value,
                        before.band,
                        value.band,
                    )
                )
            row_differs = (
                differs or before.status != value.status or before.n_answered != value.n_answered
            )
            changed = changed or row_differs
            if apply and (row_differs or before.instrument_hash != inst.content_hash):
                before.value = value.value
                before.band = value.band
                before.status = value.status
                before.n_answered = value.n_answered
                before.t_score = value.t_score
                before.percentile = value.percentile
                before.instrument_hash = inst.content_hash
                before.computed_at = utcnow()
        for scale_id, row in old.items():
            if scale_id not in new:
                summary.removed_scales += 1
                changed = True
                if apply:
                    session.delete(row)
        alerted = {a.item_id for a in adm.alerts}
        for flag in scored.flags:
            if flag.item_id not in alerted:
                summary.new_alerts += 1
                if apply:
                    session.add(
                        Alert(
                            administration_id=adm.id,
                            client_id=adm.client_id,
                            item_id=flag.item_id,
                            answer=flag.answer,
                            message=flag.message,
                            created_at=utcnow(),
                        )
                    )
        if changed:
            summary.changed_administrations += 1
        else:
            summary.unchanged += 1
    if apply:
        session.flush()
        audit.append(
            session,
            actor,
            "rescore",
            "instrument:" + (instrument.id if instrument is not None else "*"),
            {
                "checked": summary.checked,
                "changed_administrations": summary.changed_administrations,
                "changed_scores": len(summary.changes),
                "new_alerts": summary.new_alerts,
                "skipped": len(summary.skipped),
                "instruments": summary.instruments,
            },
        )
    return summary


# ---------------------------------------------------------------------------------------------
# Reading: history, change, alerts, notes
# ---------------------------------------------------------------------------------------------


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
    inst: Instrument, before: Administration, after: Administration
) -> list[ReliableChange]:
    """Reliable change (Jacobson–Truax) per scale between two stored administrations.

    SD and reliability come from the instrument's norms; without them each scale's RCI is NaN and
    its ``source`` says why (nothing is invented).
    """
    if before.instrument_id != after.instrument_id:
        raise ClinicError("reliable change compares two administrations of the same instrument")
    return reliable_change(inst, score_map(before), score_map(after))


def open_alerts(session: Session, client: Client | None = None) -> list[Alert]:
    query = (
        sa.select(Alert)
        .where(Alert.acknowledged_at.is_(None))
        .options(selectinload(Alert.client))
        .order_by(Alert.created_at, Alert.id)
    )
    if client is not None:
        query = query.where(Alert.client_id == client.id)
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
        {"alert": alert.id, "administration": alert.administration_id},
    )
    return alert


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
    audit.append(session, actor, "note.add", f"client:{client.id}", {"note": note.id})
    return note


def notes_of(session: Session, client: Client) -> list[Note]:
    return list(
        session.execute(
            sa.select(Note).where(Note.client_id == client.id).order_by(Note.created_at, Note.id)
        ).scalars()
    )


def links_of(session: Session, client: Client) -> list[Link]:
    return list(
        session.execute(
            sa.select(Link).where(Link.client_id == client.id).order_by(Link.created_at.desc())
        ).scalars()
    )


def clinician_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(
        sa.select(Clinician.id, Clinician.username, Clinician.display_name).where(
            Clinician.id.in_(wanted)
        )
    )
    return {r.id: r.display_name or r.username for r in rows}


# ---------------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------------

EXPORT_FORMAT = "surveytool-clinic-export/1"


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def export_client(session: Session, client: Client, *, actor: str) -> dict[str, Any]:
    """Everything stored about one client, as JSON-ready data (the export is audited).

    Link and session token hashes are left out: they are secrets of the store, not the client's
    data.
    """
    administrations = administrations_of(session, client)
    names = clinician_names(
        session,
        [a.clinician_id for a in administrations]
        + [al.acknowledged_by_id for a in administrations for al in a.alerts],
    )
    now = utcnow()
    data: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "exported_at": _iso(now),
        "client": {
            "code": client.code,
            "display_name": client.display_name,
            "created_at": _iso(client.created_at),
        },
        "administrations": [
            {
                "id": a.id,
                "instrument": {
                    "id": a.instrument_id,
                    "version": a.instrument_version,
                    "hash": a.instrument_hash,
                    "source": a.instrument_source,
                },
                "form": a.form,
                "mode": a.mode,
                "status": a.status,
                "by": a.actor,
                "clinician": names.get(a.clinician_id or -1),
                "started_at": _iso(a.started_at),
                "administered_at": _iso(a.administered_at),
                "answers": {ans.item_id: ans.value for ans in a.answers},
                "scores": [
                    {
                        "scale": s.scale_id,
                        "kind": s.kind,
                        "value": s.value,
                        "n_answered": s.n_answered,
                        "status": s.status,
                        "band": s.band,
                        "t_score": s.t_score,
                        "percentile": s.percentile,
                        "instrument_hash": s.instrument_hash,
                        "computed_at": _iso(s.computed_at),
                    }
                    for s in a.scores
                ],
                "alerts": [
                    {
                        "id": al.id,
                        "item": al.item_id,
                        "answer": al.answer,
                        "message": al.message,
                        "created_at": _iso(al.created_at),
                        "acknowledged_at": _iso(al.acknowledged_at),
                        "acknowledged_by": names.get(al.acknowledged_by_id or -1),
                        "acknowledgement_note": al.acknowledgement_note,
                    }
                    for al in a.alerts
                ],
            }
            for a in administrations
        ],
        "notes": [
            {"id": n.id, "at": _iso(n.created_at), "by": n.actor, "text": n.text}
            for n in notes_of(session, client)
        ],
        "links": [
            {
                "id": link.id,
                "instrument": link.instrument_id,
                "form": link.form,
                "show_results": link.show_results,
                "created_at": _iso(link.created_at),
                "expires_at": _iso(link.expires_at),
                "used_at": _iso(link.used_at),
                "completed_at": _iso(link.completed_at),
                "revoked_at": _iso(link.revoked_at),
                "state": link.state(now),
                "administration": link.administration_id,
            }
            for link in links_of(session, client)
        ],
    }
    entry = audit.append(session, actor, "client.export", f"client:{client.id}")
    data["audit"] = [
        {
            "id": e.id,
            "at": _iso(e.at),
            "actor": e.actor,
            "action": e.action,
            "details": e.details,
            "hash": e.hash,
        }
        for e in audit.entries_for(session, [f"client:{client.id}"])
        if e.id <= entry.id
    ]
    return data
