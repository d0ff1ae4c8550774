"""Scoring stored answers: the checked answers of a form, their scores and critical-item flags.

Scores come only from :func:`surveytool.scoring.score_responses` on the stored answers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from surveytool.clinic.errors import ClinicError
from surveytool.clinic.instruments import form_items
from surveytool.clinic.models import Alert, Score, utcnow
from surveytool.instrument import Instrument
from surveytool.scoring import score_responses


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


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def score_answers(inst: Instrument, form: str | None, answers: Mapping[str, int | None]) -> Scored:
    """Score stored answers with :func:`score_responses` (the only scoring path)."""
    item_ids = form_items(inst, form)
    row: dict[str, object] = {i: answers.get(i) for i in item_ids}
    result = score_responses(inst, row, form=form)
    table = result.scores.iloc[0]
    values: list[ScoreValue] = []
    for scale_id in inst.scored_ids():
        if scale_id not in table.index:
            continue
        value = _float(table[scale_id])
        band = table[f"{scale_id}_band"]
        values.append(
            ScoreValue(
                scale_id=scale_id,
                kind="subscale" if scale_id in inst.subscale_by_id else "composite",
                value=value,
                n_answered=int(table[f"{scale_id}_n"]),
                status=str(table[f"{scale_id}_status"]),
                band=None if value is None or not isinstance(band, str) else band,
                t_score=_float(table.get(f"{scale_id}_t")),
                percentile=_float(table.get(f"{scale_id}_percentile")),
            )
        )
    flagged = [x for x in str(table["critical_items"]).split(";") if x]
    flags = tuple(
        Flag(c.item, int(answers[c.item] or 0), c.message)
        for c in inst.critical_items
        if c.item in flagged and answers.get(c.item) is not None
    )
    return Scored(tuple(values), flags, len(result.issues))


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
