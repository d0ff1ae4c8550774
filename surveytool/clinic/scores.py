"""Scoring stored answers: the checked answers of a form, their scores and critical-item flags.

Scores come only from :func:`surveytool.scoring.engine.score_responses` on the stored answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from surveytool.clinic.errors import ClinicError
from surveytool.clinic.instruments import form_items
from surveytool.clinic.models import Alert, Score, utcnow
from surveytool.instrument.model import Instrument
from surveytool.scoring.engine import score_responses
from surveytool.scoring.result import Provenance


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
    """Score stored answers with :func:`score_responses` (the only scoring path), read from its
    typed record of the person."""
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


def score_row(adm_id: int, value: ScoreValue, inst_hash: str) -> Score:
    """The stored row of one scale's score."""
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


def alert_row(adm_id: int, client_id: int, flag: Flag, at: datetime) -> Alert:
    """The stored alert of one critical answer (open until a clinician acknowledges it)."""
    return Alert(
        administration_id=adm_id,
        client_id=client_id,
        item_id=flag.item_id,
        answer=flag.answer,
        message=flag.message,
        created_at=at,
    )
