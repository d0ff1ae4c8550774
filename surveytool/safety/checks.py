"""Critical checks: which answers meet an instrument's ``checks:``, and what that means.

A check (:class:`~surveytool.instrument.model.Check`) looks at one item's raw answer (before
reverse keying) and gives a :class:`~surveytool.instrument.model.Level` for each person:

==============================  ===========================================================
the answer                      level
==============================  ===========================================================
a scale point meeting the rule  ``check.level`` (``support`` or ``alert``)
a scale point not meeting it    ``none``
a declared missing code         ``check.on_missing_code`` ("prefer not to say")
nothing (or an invalid answer)  ``check.on_skip``
the item is not in the form     ``none`` (a short form without it: the check does not apply)
the form has it, the file not   empty (NaN): not assessed, and the ``missing_item`` issue says
                                that the check could not be made
==============================  ===========================================================

One implementation serves every path: :func:`check_answer` for one answer as it is given (the
web pages and the terminal show support before the next item), :func:`evaluate` for whole tables
(the scoring engine, hence the clinic, the results page and cohorts). A check never changes a score.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from surveytool.instrument.model import Check, Instrument, Level

if TYPE_CHECKING:
    from surveytool.responses import Responses

Reason = Literal["rule", "skip", "missing_code"]

#: The categories of a scores table's ``<check>_check`` column, in code order (``none`` is 0).
LEVEL_CATEGORIES: tuple[str, ...] = (Level.none.value, Level.support.value, Level.alert.value)
_CODE = {Level.none: 0, Level.support: 1, Level.alert: 2}
#: The level code of a check that could not be made: its item is in the form, but the data has
#: no column for it (an empty cell of the ``<check>_check`` column, never ``none``).
NOT_ASSESSED = -1

#: What a hit names for an answer that was not given.
NO_ANSWER = "no answer"


@dataclass(frozen=True)
class CriticalHit:
    """A check met by one person's answer: everything a clinician (and the support page) needs.

    ``answer`` is the code given (a scale point or a declared missing code), None when the item
    was skipped; ``answer_label`` its label ("Mostly like me", "Prefer not to say", "no answer");
    ``reason`` why the check was met; ``rule`` the rule in words; ``level`` ``support`` (a gentle
    pointer to the support page) or ``alert`` (support first, and a clinic alert); ``message`` the
    check's own words, for a met rule only (a skip gets the support page's gentle text).
    """

    check: str
    item: str
    item_text: str
    answer: int | None
    answer_label: str
    reason: Reason
    rule: str
    level: Level
    message: str = ""

    @property
    def alert(self) -> bool:
        return self.level is Level.alert

    def summary(self) -> str:
        """One line for a clinician: the item, the answer and why it was flagged."""
        if self.reason == "rule":
            label = f" ({self.answer_label})" if self.answer_label else ""
            what = f"answered {self.answer}{label}, which meets the rule {self.rule}"
        elif self.reason == "missing_code":
            what = f"chose \u201c{self.answer_label or self.answer}\u201d (not answered)"
        else:
            what = "skipped it"
        return f"{self.item} \u201c{self.item_text}\u201d: {what}"


def _label(instrument: Instrument, item_id: str, answer: int | None) -> str:
    if answer is None:
        return NO_ANSWER
    scale = instrument.scale_of(item_id)
    return scale.labels.get(answer) or scale.missing_codes.get(answer) or ""


def _hit(instrument: Instrument, check: Check, answer: int | None, reason: Reason) -> CriticalHit:
    level = {"rule": check.level, "skip": check.on_skip, "missing_code": check.on_missing_code}[
        reason
    ]
    item = instrument.item_by_id[check.item]
    return CriticalHit(
        check=check.id,
        item=check.item,
        item_text=item.text,
        answer=answer,
        answer_label=_label(instrument, check.item, answer),
        reason=reason,
        rule=check.rule.describe(instrument.scale_of(check.item)),
        level=Level(level),
        message=check.message if reason == "rule" else "",
    )


def outcome(instrument: Instrument, check: Check, answer: int | None) -> CriticalHit | None:
    """The hit of one answer (a scale point, a missing code, or None = skipped), or None."""
    scale = instrument.scale_of(check.item)
    if answer is None or not scale.accepts(answer):
        reason: Reason = "skip"
        answer = None
    elif answer in scale.missing_codes:
        reason = "missing_code"
    elif check.rule.met(answer):
        reason = "rule"
    else:
        return None
    hit = _hit(instrument, check, answer, reason)
    return None if hit.level is Level.none else hit


def check_answer(
    instrument: Instrument, item_id: str, answer: int | None
) -> tuple[CriticalHit, ...]:
    """The hits of one answer as it is given (every check on the item); empty when none is met."""
    hits = (outcome(instrument, check, answer) for check in instrument.checks_of(item_id))
    return tuple(h for h in hits if h is not None)


def check_answers(
    instrument: Instrument, answers: Mapping[str, int | None]
) -> tuple[CriticalHit, ...]:
    """The hits of the answers to the items given (asked) in ``answers``, in check order."""
    hits = (
        outcome(instrument, check, answers[check.item])
        for check in instrument.checks
        if check.item in answers
    )
    return tuple(h for h in hits if h is not None)


def support_first(hits: tuple[CriticalHit, ...]) -> bool:
    """Whether the support page comes next: any hit (``support`` or ``alert``)."""
    return bool(hits)


@dataclass(frozen=True)
class CheckOutcomes:
    """Every check of a table: per check the level codes of each row (0 none, 1 support, 2
    alert; see :data:`LEVEL_CATEGORIES`), and per row its hits."""

    levels: Mapping[str, np.ndarray]
    hits: tuple[tuple[CriticalHit, ...], ...]

    def column(self, check_id: str) -> pd.Categorical[str]:
        """The ``<check>_check`` column of the scores table."""
        return pd.Categorical.from_codes(
            self.levels[check_id], categories=pd.Index(list(LEVEL_CATEGORIES))
        )


def level_codes(check: Check, values: np.ndarray, coded_missing: np.ndarray) -> np.ndarray:
    """Level codes (see :data:`LEVEL_CATEGORIES`) of raw answers: ``values`` NaN where no scale
    point was given, ``coded_missing`` the declared missing code given (NaN where none)."""
    rule = check.rule
    answered = ~np.isnan(values)
    with np.errstate(invalid="ignore"):
        if rule.at_or_above is not None:
            met = values >= rule.at_or_above
        elif rule.at_or_below is not None:
            met = values <= rule.at_or_below
        else:
            met = np.isin(values, list(rule.answers or ()))
    out = np.zeros(len(values), dtype=np.int8)
    out[answered & met] = _CODE[Level(check.level)]
    missing = ~answered & ~np.isnan(coded_missing)
    out[missing] = _CODE[check.on_missing_code]
    out[~answered & ~missing] = _CODE[check.on_skip]
    return out


def evaluate_matrix(
    instrument: Instrument,
    item_ids: tuple[str, ...],
    values: np.ndarray,
    coded_missing: Mapping[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Level codes of every check: of its item's answers where the item was asked (a column of
    the data: its key in ``coded_missing``); ``none`` (0) where the item is not among the
    ``item_ids`` read (a short form without it); :data:`NOT_ASSESSED` (-1, an empty cell of the
    check's column) where it is, but the data has no column for it."""
    position = {item_id: j for j, item_id in enumerate(item_ids)}
    out: dict[str, np.ndarray] = {}
    for check in instrument.checks:
        if check.item not in position:
            out[check.id] = np.zeros(values.shape[0], dtype=np.int8)
            continue
        if check.item not in coded_missing:
            out[check.id] = np.full(values.shape[0], NOT_ASSESSED, dtype=np.int8)
            continue
        out[check.id] = level_codes(
            check, values[:, position[check.item]], coded_missing[check.item]
        )
    return out


def evaluate(instrument: Instrument, responses: Responses) -> CheckOutcomes:
    """Every check on validated responses: level columns and each row's hits.

    A hit depends only on the check, the answer and why it was met, so each distinct one is made
    once, and rows with the same hits share one tuple (a cohort has hundreds of thousands of rows
    but a few dozen distinct hits).
    """
    levels = evaluate_matrix(
        instrument, responses.item_ids, responses.values, responses.coded_missing
    )
    n = len(responses.rows)
    hits: list[tuple[CriticalHit, ...]] = [()] * n
    if not levels:
        return CheckOutcomes(levels=levels, hits=tuple(hits))
    position = {item_id: j for j, item_id in enumerate(responses.item_ids)}
    checks = list(instrument.checks)
    made: list[CriticalHit] = []
    which = np.full((n, len(checks)), -1, dtype=np.int64)  # the hit of each row and check
    for c, check in enumerate(checks):
        met = np.flatnonzero(levels[check.id] > 0)  # (not assessed, -1: no hit)
        if not len(met):
            continue
        value = responses.values[met, position[check.item]].astype(np.float64)
        code = responses.coded_missing[check.item][met].astype(np.float64)
        given = ~np.isnan(value)
        coded = ~given & ~np.isnan(code)
        kind = np.where(given, 0, np.where(coded, 1, 2))
        answer = np.where(given, value, np.where(coded, code, 0.0))
        distinct, inverse = np.unique(np.column_stack([kind, answer]), axis=0, return_inverse=True)
        for k, a in distinct:
            if k == 0:
                made.append(_hit(instrument, check, int(a), "rule"))
            elif k == 1:
                made.append(_hit(instrument, check, int(a), "missing_code"))
            else:
                made.append(_hit(instrument, check, None, "skip"))
        which[met, c] = len(made) - len(distinct) + inverse.reshape(-1)
    any_hit = np.logical_or.reduce([codes > 0 for codes in levels.values()])
    rows = np.flatnonzero(any_hit)
    if len(rows):
        patterns, inverse = np.unique(which[rows], axis=0, return_inverse=True)
        shared = [tuple(made[i] for i in pattern if i >= 0) for pattern in patterns.tolist()]
        for r, k in zip(rows.tolist(), inverse.reshape(-1).tolist(), strict=True):
            hits[r] = shared[k]
    return CheckOutcomes(levels=levels, hits=tuple(hits))
