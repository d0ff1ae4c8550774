"""k-anonymity over the quasi-identifiers.

**k-anonymity** over the declared quasi-identifiers: the smallest equivalence class (respondents
sharing every quasi-identifier value, missing counted as a value; the waves of one respondent
count once) is reported. With ``k``, records in smaller classes are first protected by **local
suppression** (as ``sdcMicro::localSuppression`` does): single quasi-identifier values are blanked,
each round the quasi-identifier whose blanking leaves the fewest records in small classes, until
every record matches ``k`` respondents, a blanked (missing) value matching any value of its column
(:func:`matching_sizes`, sdcMicro's measure); only records that no blanking protects are suppressed whole
(``method="records"`` suppresses whole records at once, the former rule). Every blanked value and
every category that disappears from a quasi-identifier is counted and reported.
In R, for one row per respondent: ``sdcMicro::kAnon`` finds the same classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

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
    frame: pd.DataFrame,
    columns: Sequence[str],
    respondent: str | None = None,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Size of each row's equivalence class over ``columns``.

    With ``respondent`` (a column of respondent keys), a class counts respondents, not rows: two
    waves of one person are one person, so they cannot make a class of two. With ``weights``
    (no ``respondent``), each row stands for that many rows (a table of classes and their counts,
    as the Dask import gathers it).
    """
    ids = class_ids(frame, columns)
    if not len(ids):
        return np.zeros(0, dtype=np.int64)
    if respondent is None:
        counts: np.ndarray = np.bincount(ids, weights=weights)[ids].astype(np.int64)
        return counts
    who = frame[respondent].astype(object).where(frame[respondent].notna(), "\x00<NA>")
    people: np.ndarray = (
        pd.Series(who.to_numpy(), dtype=object)
        .groupby(ids)
        .transform("nunique")
        .to_numpy(dtype=np.int64)
    )
    return people


def matching_sizes(
    frame: pd.DataFrame,
    columns: Sequence[str],
    respondent: str | None = None,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Respondents each row cannot be told apart from, a missing value matching any value.

    The risk measure of local suppression (``sdcMicro``'s: a blanked value could be any value of
    its column): a row's count is the number of respondents (rows without ``respondent``; rows
    times their ``weights`` with weights) whose values equal the row's wherever both are present.
    Computed over the distinct value patterns.
    """
    n = len(frame)
    if not columns or n == 0:
        total = n if weights is None else int(np.sum(weights))
        return np.full(n, total, dtype=np.int64)
    keys = frame[list(columns)].astype(object)
    present = keys.notna().to_numpy()
    codes = np.full(keys.shape, -1, dtype=np.int64)
    for j, col in enumerate(columns):
        values = keys[col]
        codes[present[:, j], j] = pd.factorize(values[present[:, j]])[0]
    patterns, row_pattern = np.unique(codes, axis=0, return_inverse=True)
    row_pattern = row_pattern.reshape(-1)
    weight = np.bincount(row_pattern, weights=weights, minlength=len(patterns)).astype(np.int64)
    who = (
        pd.factorize(frame[respondent].astype(object).where(frame[respondent].notna(), "\x00"))[0]
        if respondent is not None
        else None
    )
    sizes = np.zeros(len(patterns), dtype=np.int64)
    for i, pattern in enumerate(patterns):
        both = (pattern[None, :] >= 0) & (patterns >= 0)
        compatible = ~np.any(both & (patterns != pattern[None, :]), axis=1)
        if who is None:
            sizes[i] = int(weight[compatible].sum())
        else:
            rows = np.isin(row_pattern, np.flatnonzero(compatible))
            sizes[i] = len(np.unique(who[rows]))
    out: np.ndarray = sizes[row_pattern]
    return out


@dataclass(frozen=True)
class KAnonymity:
    """The equivalence classes over the quasi-identifiers, before and after suppression."""

    quasi_identifiers: tuple[str, ...]
    k_requested: int | None
    smallest_before: int | None
    smallest: int | None
    classes: int
    suppressed: int
    method: str = "records"
    blanked: dict[str, int] = field(default_factory=dict)  # values blanked per quasi-identifier
    lost_categories: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "quasi_identifiers": list(self.quasi_identifiers),
            "k_requested": self.k_requested,
            "method": self.method,
            "smallest_class_before_suppression": self.smallest_before,
            "smallest_class": self.smallest,
            "equivalence_classes": self.classes,
            "values_blanked": dict(self.blanked),
            "suppressed": self.suppressed,
            "categories_lost": {c: list(v) for c, v in self.lost_categories.items()},
        }


KSuppression = Literal["local", "records"]


def _blank_locally(
    frame: pd.DataFrame,
    columns: Sequence[str],
    k: int,
    respondent: str | None,
    weights: np.ndarray | None = None,
) -> pd.DataFrame:
    """Blank single quasi-identifier values of records in classes under ``k`` (greedy rounds).

    Each round blanks, in the records still in small classes, the quasi-identifier that leaves
    the fewest of them (ties: the fewest values blanked); every round blanks at least one value,
    so the rounds end.
    """
    out = frame.copy()
    for col in columns:
        out[col] = out[col].astype(object)
    w = np.ones(len(frame), dtype=np.int64) if weights is None else np.asarray(weights)
    while True:
        small = matching_sizes(out, columns, respondent, weights) < k
        if not small.any():
            break
        best: tuple[int, int, str] | None = None
        for col in columns:
            hit = small & out[col].notna().to_numpy(dtype=bool)
            if not hit.any():
                continue
            trial = out.copy()
            trial.loc[hit, col] = None
            left = int(w[matching_sizes(trial, columns, respondent, weights) < k].sum())
            candidate = (left, int(w[hit].sum()), col)
            if best is None or candidate < best:
                best = candidate
        if best is None:
            break
        col = best[2]
        out.loc[small & out[col].notna().to_numpy(dtype=bool), col] = None
    return out


def enforce_k(
    frame: pd.DataFrame,
    columns: Sequence[str],
    k: int | None,
    respondent: str | None = None,
    *,
    method: KSuppression = "local",
    weights: np.ndarray | None = None,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, KAnonymity]:
    """Protect every class over ``columns`` to at least ``k`` respondents (module docstring).

    Classes count distinct values of ``respondent`` when given (else rows). Returns the frame
    (with the values local suppression blanked), which rows to keep (records no blanking could
    protect are suppressed; removing them never shrinks another class, so one pass reaches k),
    each row's class size before any suppression, and the summary.

    ``weights`` (without ``respondent``): each row of ``frame`` stands for that many rows with
    its values (the class table of the Dask import: one row per class and its count). Every
    decision depends on a row's values only, so the result is the one for the rows expanded,
    and the summary's counts are weighted.
    """
    if k is not None and k < 1:
        raise ValueError("k must be at least 1")
    if weights is not None and respondent is not None:
        raise ValueError("weights count rows: give no respondent column with them")
    w = np.ones(len(frame), dtype=np.int64) if weights is None else np.asarray(weights)
    sizes = class_sizes(frame, columns, respondent, weights)
    out = frame
    local = method == "local"
    if k is not None and local and columns and (sizes < k).any():
        out = _blank_locally(frame, columns, k, respondent, weights)
    after = (matching_sizes if local else class_sizes)(out, columns, respondent, weights)
    keep = np.ones(len(frame), dtype=bool) if k is None else after >= k
    blanked: dict[str, int] = {}
    for col in columns:  # values blanked in the records kept (suppressed ones are gone anyway)
        hit = frame[col].notna().to_numpy(dtype=bool) & out[col].isna().to_numpy() & keep
        n = int(w[hit].sum())
        if n:
            blanked[col] = n
    before = int(sizes.min()) if len(sizes) else None
    after_sizes = after[keep]
    n_classes = len(np.unique(class_ids(out, columns)[keep])) if keep.any() else 0
    lost: dict[str, tuple[str, ...]] = {}
    for col in columns:
        had = set(frame[col].dropna().astype(str))
        still = set(out.loc[keep, col].dropna().astype(str))
        if had - still:
            lost[col] = tuple(sorted(had - still))
    summary = KAnonymity(
        quasi_identifiers=tuple(columns),
        k_requested=k,
        smallest_before=before,
        smallest=int(after_sizes.min()) if len(after_sizes) else None,
        classes=n_classes,
        suppressed=int(w[~keep].sum()),
        method=method,
        blanked=blanked,
        lost_categories=lost,
    )
    return out, keep, sizes, summary
