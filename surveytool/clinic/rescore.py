"""Rescoring: recompute every stored score from its answers with the instrument file as it is
now, and say what changed."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from surveytool.clinic import audit, record
from surveytool.clinic.errors import ClinicError
from surveytool.clinic.instruments import form_items, load_source
from surveytool.clinic.models import Administration, utcnow
from surveytool.clinic.scores import alert_row, score_answers, score_row
from surveytool.instrument.model import Instrument


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
    touched: list[int] = []  # administrations whose scores or alerts were written
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
        person = score_answers(inst, adm.form, {k: v for k, v in answers.items() if k in valid})
        old = {s.scale_id: s for s in adm.scores}
        new = {scale.id: scale for scale in person.scales}
        changed = False
        rewritten = False
        for scale_id, value in new.items():
            before = old.get(scale_id)
            if before is None:
                summary.added_scales += 1
                changed = True
                if apply:
                    session.add(score_row(adm.id, value, inst.content_hash))
                continue
            band = value.band if value.ok else None
            differs = not _same(before.value, value.score) or before.band != band
            if differs:
                summary.changes.append(
                    ScoreChange(
                        adm.id,
                        adm.client.code,
                        scale_id,
                        before.value,
                        value.score,
                        before.band,
                        band,
                    )
                )
            row_differs = (
                differs
                or before.status != value.status.value
                or before.n_answered != value.answered
            )
            changed = changed or row_differs
            if apply and (row_differs or before.instrument_hash != inst.content_hash):
                rewritten = True
                before.value = value.score
                before.band = band
                before.status = value.status.value
                before.n_answered = value.answered
                before.t_score = value.t
                before.percentile = value.percentile
                before.instrument_hash = inst.content_hash
                before.computed_at = utcnow()
        for scale_id, row in old.items():
            if scale_id not in new:
                summary.removed_scales += 1
                changed = True
                if apply:
                    session.delete(row)
        # an alert stored before checks had ids (revision 0004) is known by its item
        alerted = {a.check_id or a.item_id for a in adm.alerts}
        alerted_items = {a.item_id for a in adm.alerts}
        new_alerts_here = False
        for hit in person.alerts:
            if hit.check not in alerted and hit.item not in alerted_items:
                summary.new_alerts += 1
                new_alerts_here = True
                if apply:
                    session.add(alert_row(adm.id, adm.client_id, hit, utcnow()))
        if apply and (changed or new_alerts_here or rewritten):
            touched.append(adm.id)
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
                audit.RECORD: record.of_administrations(session, touched) if touched else {},
            },
        )
    return summary
