"""Reliable change between two administrations (Jacobson & Truax 1991; FORMULAS.md).

    S_diff = √2 · SD · √(1 − r_xx),   RCI = (x₂ − x₁) / S_diff,   |RCI| ≥ 1.96 is reliable.

Whether a rise is improvement or deterioration follows each scale's declared ``better``. SD and
r_xx come from the caller, else from the instrument's norms (the entry for the respondent's group,
else the fallback entry); the result says which.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from surveytool.errors import ScoringError
from surveytool.instrument import Better, Instrument
from surveytool.norms import entry_for

CRITICAL_RCI = 1.96


class Change(StrEnum):
    improvement = "reliable improvement"
    no_change = "no reliable change"
    deterioration = "reliable deterioration"


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


def reliable_change_index(before: float, after: float, sd: float, reliability: float) -> float:
    """RCI = (after − before) / (√2 · sd · √(1 − r_xx)).

    In R: ``(x2 - x1) / (sqrt(2) * sd * sqrt(1 - rxx))`` (no psych function; Jacobson & Truax 1991).
    """
    if sd <= 0 or not 0 < reliability < 1:
        raise ScoringError(
            f"reliable change needs sd > 0 and 0 < reliability < 1 (got {sd}, {reliability})"
        )
    return (after - before) / (math.sqrt(2.0) * sd * math.sqrt(1.0 - reliability))


def classify(rci: float, better: Better) -> Change:
    """Improvement or deterioration by the scale's direction of better; |RCI| < 1.96: no change."""
    if abs(rci) < CRITICAL_RCI:
        return Change.no_change
    rising = rci > 0
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
        given_sd = (sd or {}).get(scale_id)
        given_r = (reliability or {}).get(scale_id)
        entry = entry_for(instrument, scale_id, dict(group or {}))
        if given_sd is not None and given_r is not None:
            the_sd, the_r, source = given_sd, given_r, "given by the caller"
        elif entry is not None and entry.reliability is not None:
            the_sd = given_sd if given_sd is not None else entry.sd
            the_r = given_r if given_r is not None else entry.reliability
            where = ",".join(f"{k}={v}" for k, v in sorted(entry.group.items())) or "all"
            source = f"norms ({where}, n={entry.n})"
        else:
            out.append(
                ReliableChange(
                    scale_id,
                    x1,
                    x2,
                    x2 - x1,
                    math.nan,
                    math.nan,
                    None,
                    "no SD and reliability: not in the norms, not given",
                )
            )
            continue
        rci = reliable_change_index(x1, x2, the_sd, the_r)
        s_diff = math.sqrt(2.0) * the_sd * math.sqrt(1.0 - the_r)
        out.append(
            ReliableChange(
                scale_id, x1, x2, x2 - x1, s_diff, rci, classify(rci, definition.better), source
            )
        )
    return out
