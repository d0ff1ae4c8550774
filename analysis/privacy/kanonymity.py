"""k-anonymity over the quasi-identifiers.

**k-anonymity** over the declared quasi-identifiers: the smallest equivalence class (respondents
sharing every quasi-identifier value, missing counted as a value; the waves of one respondent
count once) is reported; with ``k`` every record in a smaller class is suppressed and counted.
In R, for one row per respondent: ``sdcMicro::kAnon`` finds the same classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


def class_ids(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """Equivalence class number of each row over ``columns`` (missing is a value of its own)."""
    if not columns or frame.empty:
        return np.zeros(len(frame), dtype=np.int64)
    keys = frame[list(columns)].astype(object)
    keys = keys.where(keys.notna(), "\x00<NA>").astype(str)
    ids: np.ndarray = keys.groupby(list(columns), sort=False).ngroup().to_numpy(dtype=np.int64)
    return ids


def class_sizes(
    frame: pd.DataFrame, columns: Sequence[str], respondent: str | None = None
) -> np.ndarray:
    """Size of each row's equivalence class over ``columns``.

    With ``respondent`` (a column of respondent keys), a class counts respondents, not rows: two
    waves of one person are one person, so they cannot make a class of two.
    """
    ids = class_ids(frame, columns)
    if not len(ids):
        return np.zeros(0, dtype=np.int64)
    if respondent is None:
        counts: np.ndarray = np.bincount(ids)[ids].astype(np.int64)
        return counts
    who = frame[respondent].astype(object).where(frame[respondent].notna(), "\x00<NA>")
    people: np.ndarray = (
        pd.Series(who.to_numpy(), dtype=object)
        .groupby(ids)
        .transform("nunique")
        .to_numpy(dtype=np.int64)
    )
    return people


@dataclass(frozen=True)
class KAnonymity:
    """The equivalence classes over the quasi-identifiers, before and after suppression."""

    quasi_identifiers: tuple[str, ...]
    k_requested: int | None
    smallest_before: int | None
    smallest: int | None
    classes: int
    suppressed: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "quasi_identifiers": list(self.quasi_identifiers),
            "k_requested": self.k_requested,
            "smallest_class_before_suppression": self.smallest_before,
            "smallest_class": self.smallest,
            "equivalence_classes": self.classes,
            "suppressed": self.suppressed,
        }


def enforce_k(
    frame: pd.DataFrame, columns: Sequence[str], k: int | None, respondent: str | None = None
) -> tuple[np.ndarray, np.ndarray, KAnonymity]:
    """Which rows to keep so every class over ``columns`` has at least ``k`` respondents.

    Classes count distinct values of ``respondent`` when given (else rows). Records in smaller
    classes are suppressed whole; removing them never shrinks another class, so one pass reaches
    k. Returns (keep mask, each row's class size before, the summary).
    """
    if k is not None and k < 1:
        raise ValueError("k must be at least 1")
    sizes = class_sizes(frame, columns, respondent)
    keep = np.ones(len(frame), dtype=bool) if k is None else sizes >= k
    before = int(sizes.min()) if len(sizes) else None
    after_sizes = sizes[keep]
    n_classes = len(np.unique(class_ids(frame, columns)[keep])) if keep.any() else 0
    summary = KAnonymity(
        quasi_identifiers=tuple(columns),
        k_requested=k,
        smallest_before=before,
        smallest=int(after_sizes.min()) if len(after_sizes) else None,
        classes=n_classes,
        suppressed=int((~keep).sum()),
    )
    return keep, sizes, summary
