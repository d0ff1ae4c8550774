"""Reliable change between two administrations (Jacobson & Truax 1991; FORMULAS.md).

    S_diff = √2 · SD · √(1 − r_xx),   RCI = (x₂ − x₁) / S_diff,   |RCI| ≥ 1.96 is reliable.

Whether a rise is improvement or deterioration follows each scale's declared ``better``; a
``neutral`` scale's reliable change is an increase or a decrease, never called better or worse. A
scale declared ``track_change: false`` (its timeframe is "in general" or a history) gets no RCI,
with ``source`` saying so. SD and
r_xx come from the caller, else from the instrument's norms (the entry for the respondent's group,
else the fallback entry); the result says which.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from surveytool.errors import ScoringError
from surveytool.instrument.model import Better, Instrument
from surveytool.scoring.norms import entry_for

CRITICAL_RCI = 1.96

#: ``ReliableChange.source`` of a scale whose timeframe does not allow reading change.
NOT_TRACKED = (
    "change not tracked: the scale asks how things are in general, so a difference between two "
    "attempts is not read as change"
)


class Change(StrEnum):
    improvement = "reliable improvement"
    no_change = "no reliable change"
    deterioration = "reliable deterioration"
    increase = "reliable increase"
    decrease = "reliable decrease"


@dataclass(frozen=True)
class ReliableChange:
    """Reliable change of one scale between two scores."""

    scale: str
    before: float
    after: float
    difference: float
    s_diff: float
    rci: float
    classification: Change | None
    source: str

    def as_dict(self) -> dict[str, object]:
        return {
            "scale": self.scale,
            "before": self.before,
            "after": self.after,
            "difference": self.difference,
            "s_diff": self.s_diff,
            "rci": self.rci,
            "classification": None if self.classification is None else self.classification.value,
            "source": self.source,
        }

    @classmethod
    def unread(cls, scale: str, before: float, after: float, source: str) -> ReliableChange:
        """A change with no RCI and no classification (NaN), ``source`` saying why."""
        return cls(scale, before, after, after - before, math.nan, math.nan, None, source)


def s_diff(sd: float, reliability: float) -> float:
    """Standard error of a difference: S_diff = √(2 · (1 − r_xx)) · SD (= √2 · SD · √(1 − r_xx)).

    Written with one square root so that, e.g., SD 1 and r 0.5 give exactly 1.
    """
    if sd <= 0 or not 0 < reliability < 1:
        raise ScoringError(
            f"reliable change needs sd > 0 and 0 < reliability < 1 (got {sd}, {reliability})"
        )
    return math.sqrt(2.0 * (1.0 - reliability)) * sd


def reliable_change_index(before: float, after: float, sd: float, reliability: float) -> float:
    """RCI = (after − before) / S_diff.

    In R: ``(x2 - x1) / (sqrt(2 * (1 - rxx)) * sd)`` (no psych function; Jacobson & Truax 1991).
    """
    return (after - before) / s_diff(sd, reliability)


def classify(rci: float, better: Better) -> Change:
    """Improvement or deterioration by the scale's direction of better (increase or decrease for
    a neutral scale); |RCI| < 1.96: no change."""
    if abs(rci) < CRITICAL_RCI:
        return Change.no_change
    rising = rci > 0
    if better is Better.NEUTRAL:
        return Change.increase if rising else Change.decrease
    improved = rising if better is Better.HIGHER else not rising
    return Change.improvement if improved else Change.deterioration


def reliable_change(
    instrument: Instrument,
    before: Mapping[str, float],
    after: Mapping[str, float],
    *,
    sd: Mapping[str, float] | None = None,
    reliability: Mapping[str, float] | None = None,
    group: Mapping[str, str] | None = None,
) -> list[ReliableChange]:
    """Reliable change for every scale scored in both administrations.

    A scale without an SD and reliability (neither given nor in the norms) gets ``rci`` NaN and no
    classification, with ``source`` saying why: a number is never invented.
    """
    out = []
    for scale_id in instrument.scored_ids():
        x1, x2 = before.get(scale_id), after.get(scale_id)
        if x1 is None or x2 is None or math.isnan(x1) or math.isnan(x2):
            continue
        definition = instrument.subscale_by_id.get(scale_id) or instrument.composite_by_id[scale_id]
        if not definition.track_change:
            out.append(ReliableChange.unread(scale_id, x1, x2, NOT_TRACKED))
            continue
        given_sd = (sd or {}).get(scale_id)
        given_r = (reliability or {}).get(scale_id)
        entry = entry_for(instrument, scale_id, dict(group or {}))
        norm = ""
        if entry is not None:
            where = ",".join(f"{k}={v}" for k, v in sorted(entry.group.items())) or "all"
            norm = f"norms ({where}, n={entry.n})"
        the_sd = given_sd if given_sd is not None else (entry.sd if entry else None)
        the_r = given_r if given_r is not None else (entry.reliability if entry else None)
        if the_sd is None or the_r is None:
            missing = " and ".join(
                x for x, v in (("SD", the_sd), ("reliability", the_r)) if v is None
            )
            why = f"no {missing}: not in the norms and not given"
            out.append(ReliableChange.unread(scale_id, x1, x2, why))
            continue
        sd_from = "the caller" if given_sd is not None else norm
        r_from = "the caller" if given_r is not None else norm
        source = (
            f"SD and reliability from {sd_from}"
            if sd_from == r_from
            else f"SD from {sd_from}; reliability from {r_from}"
        )
        out.append(
            ReliableChange(
                scale_id,
                x1,
                x2,
                x2 - x1,
                s_diff(the_sd, the_r),
                reliable_change_index(x1, x2, the_sd, the_r),
                classify(reliable_change_index(x1, x2, the_sd, the_r), definition.better),
                source,
            )
        )
    return out
