"""Reliability and SD per scale for reliable change, supplied by the practice, with their source.

Reliable change (Jacobson & Truax; :mod:`surveytool.scoring.change`) needs, per scale, the SD of
scores and their reliability. An instrument's norms may carry them; the bundled self-assessment
has no norms, so its change "cannot be judged" until the practice supplies them:

- **published values** (a manual, an article): the practice types them in with the source
  (``surveytool clinic reliability set`` or a CSV file for ``reliability import``);
- **its own data**: reliability (Cronbach's alpha) and SD estimated from each client's *first*
  administration of the full form (one per client, so no client counts twice and no score is
  shaped by earlier sessions), once there are at least :data:`MIN_PRACTICE_N` of them: below
  that an SD or an alpha moves too much from one client to the next (the 95 % interval of an SD
  from 30 people spans about ±25 % of it). These are labelled *practice-based estimates*, never
  norms.

Whatever the clinician page and the report show, they say which source each RCI used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from surveytool.clinic import audit
from surveytool.clinic.errors import ClinicError
from surveytool.clinic.models import Administration, ScaleReference, utcnow
from surveytool.instrument.model import Instrument
from surveytool.scoring.norms import entry_for

MIN_PRACTICE_N = 30
PUBLISHED = "published"
PRACTICE = "practice"
COLUMNS = ("instrument", "scale", "reliability", "sd", "source")


@dataclass(frozen=True)
class Reference:
    """SD and reliability of one scale, and where they come from (for the RCI's label)."""

    sd: float
    reliability: float
    label: str


def _check(scale_id: str, reliability: float, sd: float, source: str) -> str:
    if not (math.isfinite(reliability) and 0 < reliability < 1):
        raise ClinicError(
            f"scale {scale_id}: the reliability must be between 0 and 1 (got {reliability})"
        )
    if not (math.isfinite(sd) and sd > 0):
        raise ClinicError(f"scale {scale_id}: the SD must be above 0 (got {sd})")
    cleaned = " ".join(source.split())
    if not cleaned:
        raise ClinicError(
            f"scale {scale_id}: say where the values come from (the source: an article, a "
            "manual, or the practice's own data)"
        )
    if len(cleaned) > 500:
        raise ClinicError(f"scale {scale_id}: the source is longer than 500 characters")
    return cleaned


def set_reference(
    session: Session,
    inst: Instrument,
    scale_id: str,
    *,
    reliability: float,
    sd: float,
    source: str,
    actor: str,
) -> ScaleReference:
    """Store (or replace) one scale's published reliability and SD with its source."""
    if scale_id not in inst.scored_ids():
        raise ClinicError(
            f"{inst.id} has no scale {scale_id!r}; its scales are: {', '.join(inst.scored_ids())}"
        )
    cleaned = _check(scale_id, reliability, sd, source)
    row = session.execute(
        sa.select(ScaleReference).where(
            ScaleReference.instrument_id == inst.id, ScaleReference.scale_id == scale_id
        )
    ).scalar_one_or_none()
    if row is None:
        row = ScaleReference(instrument_id=inst.id, scale_id=scale_id)
        session.add(row)
    row.reliability = float(reliability)
    row.sd = float(sd)
    row.source = cleaned
    row.added_at = utcnow()
    row.added_by = actor
    session.flush()
    audit.append(
        session,
        actor,
        "reference.set",
        f"instrument:{inst.id}",
        {"scale": scale_id, "reliability": row.reliability, "sd": row.sd, "source": cleaned},
    )
    return row


def import_references(
    session: Session, path: Path, instruments: dict[str, Instrument], *, actor: str
) -> int:
    """Every row of a CSV file (columns instrument, scale, reliability, sd, source); all rows or
    none (a mistake names its row and column)."""
    import csv

    try:
        text = path.read_text("utf-8-sig")
    except OSError as exc:
        raise ClinicError(f"cannot read {path}: {exc.strerror}") from None
    rows = list(csv.DictReader(text.splitlines()))
    if not rows:
        raise ClinicError(f"{path}: no rows; the columns are {', '.join(COLUMNS)}")
    missing = [c for c in COLUMNS if c not in (rows[0].keys() if rows else ())]
    if missing:
        raise ClinicError(
            f"{path}: missing column(s) {', '.join(missing)}; the columns are {', '.join(COLUMNS)}"
        )
    for number, row in enumerate(rows, start=2):
        where = f"{path}, row {number}"
        inst = instruments.get((row["instrument"] or "").strip())
        if inst is None:
            raise ClinicError(
                f"{where}, column instrument: no instrument {row['instrument']!r} "
                f"(known: {', '.join(sorted(instruments))})"
            )
        values = {}
        for column in ("reliability", "sd"):
            try:
                values[column] = float((row[column] or "").strip())
            except ValueError:
                raise ClinicError(
                    f"{where}, column {column}: {row[column]!r} is not a number"
                ) from None
        try:
            set_reference(
                session,
                inst,
                (row["scale"] or "").strip(),
                reliability=values["reliability"],
                sd=values["sd"],
                source=row["source"] or "",
                actor=actor,
            )
        except ClinicError as exc:
            raise ClinicError(f"{where}: {exc}") from None
    return len(rows)


def references_for(session: Session, inst: Instrument) -> dict[str, Reference]:
    """The practice's values for this instrument's scales, by scale: supplied values first,
    then (for scales the instrument's norms leave without values) practice-based estimates where
    there are enough first administrations."""
    out: dict[str, Reference] = {}
    for row in session.execute(
        sa.select(ScaleReference).where(ScaleReference.instrument_id == inst.id)
    ).scalars():
        out[row.scale_id] = Reference(
            row.sd, row.reliability, f"the practice's values ({row.source})"
        )
    # a practice-based estimate only where the instrument's norms have nothing
    for scale_id, ref in practice_estimates(session, inst).items():
        entry = entry_for(inst, scale_id, {})
        normed = entry is not None and entry.sd is not None and entry.reliability is not None
        if not normed:
            out.setdefault(scale_id, ref)
    return out


def practice_estimates(session: Session, inst: Instrument) -> dict[str, Reference]:
    """Alpha and SD per subscale from each client's first full-form administration, when at
    least :data:`MIN_PRACTICE_N` clients have one (else nothing: no estimate is shown)."""
    adms = session.execute(
        sa.select(Administration)
        .where(Administration.instrument_id == inst.id, Administration.form.is_(None))
        .options(selectinload(Administration.answers), selectinload(Administration.scores))
        .order_by(Administration.client_id, Administration.administered_at, Administration.id)
    ).scalars()
    first: dict[int, Administration] = {}
    for adm in adms:
        first.setdefault(adm.client_id, adm)
    if len(first) < MIN_PRACTICE_N:
        return {}
    out: dict[str, Reference] = {}
    for scale in inst.subscales:
        items = list(scale.items)
        rows = []
        for adm in first.values():
            answers = {a.item_id: a.value for a in adm.answers}
            values = [answers.get(i) for i in items]
            # a skipped item or a missing code ("prefer not to say") leaves the client out
            if all(
                v is not None and v in inst.scale_of(i).points
                for i, v in zip(items, values, strict=True)
            ):
                rows.append([_keyed(inst, i, v) for i, v in zip(items, values, strict=True)])
        scores = [
            s.value
            for adm in first.values()
            for s in adm.scores
            if s.scale_id == scale.id and s.value is not None
        ]
        if len(rows) < MIN_PRACTICE_N or len(scores) < MIN_PRACTICE_N or len(items) < 2:
            continue
        alpha = cronbach_alpha(rows)
        sd = _sd(scores)
        if not (0 < alpha < 1) or sd <= 0:
            continue
        out[scale.id] = Reference(
            sd,
            alpha,
            f"practice-based estimate from {len(rows)} clients' first administrations (not a norm)",
        )
    return out


def _keyed(inst: Instrument, item_id: str, value: int | None) -> float:
    """An answer in the scale's scoring direction (reverse-keyed items folded)."""
    assert value is not None
    item = inst.item_by_id[item_id]
    scale = inst.scale_of(item_id)
    if item.reverse:
        return float(min(scale.points) + max(scale.points) - value)
    return float(value)


def _sd(values: list[float]) -> float:
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def cronbach_alpha(rows: list[list[float]]) -> float:
    """α = k/(k−1) · (1 − Σ var(item) / var(total)), sample variances (n − 1).

    In R: ``psych::alpha(x)$total$raw_alpha`` (the same formula; no psych code is used).
    """
    k = len(rows[0])
    columns = list(zip(*rows, strict=True))
    item_var = sum(_sd(list(c)) ** 2 for c in columns)
    total_var = _sd([sum(r) for r in rows]) ** 2
    if total_var == 0:
        return math.nan
    return k / (k - 1) * (1 - item_var / total_var)
