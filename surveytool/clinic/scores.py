"""Scoring stored answers: the checked answers of a form, their scores and critical-item flags.

Scores come only from :func:`surveytool.scoring.engine.score_responses` on the stored answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from surveytool.clinic.errors import ClinicError
from surveytool.clinic.instruments import form_items
from surveytool.clinic.models import Alert, Score, utcnow
from surveytool.instrument.model import Instrument
from surveytool.safety.checks import CriticalHit
from surveytool.scoring.engine import score_responses
from surveytool.scoring.result import PersonScores, ScaleScore


def score_answers(
    inst: Instrument, form: str | None, answers: Mapping[str, int | None]
) -> PersonScores:
    """Score stored answers with :func:`score_responses` (the only scoring path): the typed record
    of the one person, whose scales and critical hits are stored as they are."""
    item_ids = form_items(inst, form)
    row: dict[str, object] = {i: answers.get(i) for i in item_ids}
    return score_responses(inst, row, form=form).person(0)


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


def score_row(adm_id: int, scale: ScaleScore, inst_hash: str) -> Score:
    """The stored row of one scale's score (the band only when the scale is scored)."""
    return Score(
        administration_id=adm_id,
        scale_id=scale.id,
        kind=scale.kind,
        value=scale.score,
        n_answered=scale.answered,
        status=scale.status.value,
        band=scale.band if scale.ok else None,
        t_score=scale.t,
        percentile=scale.percentile,
        instrument_hash=inst_hash,
        computed_at=utcnow(),
    )


def alert_row(adm_id: int | None, client_id: int, hit: CriticalHit, at: datetime) -> Alert:
    """The stored alert of one check met at level alert (open until a clinician acknowledges
    it), with the item's text, the answer's label and the rule as they are now."""
    return Alert(
        administration_id=adm_id,
        client_id=client_id,
        check_id=hit.check,
        item_id=hit.item,
        item_text=hit.item_text,
        answer=hit.answer,
        answer_label=hit.answer_label,
        rule=hit.rule,
        reason=hit.reason,
        message=hit.message,
        created_at=at,
    )
