"""The scoring kernel: an item matrix -> subscale and composite scores (FORMULAS.md).

Every user path (the terminal, the web pages, clinician records, cohorts) scores through
:func:`surveytool.scoring.engine.score_responses`; the kernel :func:`score_matrix` here is
vectorised numpy over the whole table.

Conventions (psych ``scoreItems(keys, items, impute = "none", min =, max =)`` for ``mean``):

- reverse keying on the declared range: x' = (min + max) − x;
- ``mean`` = Σ w·x / Σ w over answered items; ``sum`` = Σ w·x, only when every item is answered;
  ``prorated_sum`` = mean × k (k of the full form);
- below ``min_answered`` the score is missing and the status ``insufficient``;
- composites combine subscale (or composite) scores by mean or sum, with their own min_answered.

With unit weights every sum of integer answers is exact in float64 and divided once, so ``mean``
equals R's ``rowMeans`` to the last digit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from surveytool.errors import ScoringError
from surveytool.instrument.model import Band, Instrument, Method, required_count
from surveytool.scoring.plan import ScoringPlan


@dataclass(frozen=True)
class MatrixScores:
    """Scores of every subscale and composite, as arrays (NaN = not scorable)."""

    score: dict[str, np.ndarray]
    answered: dict[str, np.ndarray]


#: Rows scored per block: small enough for the block's temporaries to stay in the CPU cache.
CHUNK_ROWS = 4096


def _item_matrices(plan: ScoringPlan) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Item x subscale matrices: membership, weights, signed weights and reverse constants.

    Reverse keying is folded into the products: for a reversed item w·x' = w·(min + max) − w·x,
    so Σ w·x' over answered items = (answered @ w·(min+max)) + (x @ −w); no reversed copy of the
    data is made.
    """
    n_items, n_subs = len(plan.item_ids), len(plan.subscales)
    member = np.zeros((n_items, n_subs), dtype=np.float64)
    weight = np.zeros((n_items, n_subs), dtype=np.float64)
    for s, sub in enumerate(plan.subscales):
        member[sub.columns, s] = 1.0
        weight[sub.columns, s] = sub.weights
    sign = np.where(plan.reverse, -1.0, 1.0)[:, None]
    constant = np.where(plan.reverse, plan.low + plan.high, 0.0)[:, None] * weight
    return member, weight, weight * sign, constant


def score_matrix(plan: ScoringPlan, values: np.ndarray) -> MatrixScores:
    """Score an N x I matrix of raw answers (NaN = missing), columns in ``plan.item_ids`` order.

    Per block of rows: answered mask A, zero-filled answers X₀; counts = A·M, totals = X₀·W± + A·K
    (M membership, W± signed weights, K reverse constants), weight sums = A·W. Integer answers
    with unit weights give exact sums, so the mean is one correctly rounded division.

    Each block's scores are finished while its counts and totals are in the cache (the division,
    the prorating factor, the sums, the answers needed), into the N x S scores and counts: no
    table-sized counts or totals are kept (on 1M x 58 items that was 0.22 GB more at the peak).
    """
    values = np.asarray(values, dtype=np.float64)
    n = values.shape[0]
    member, weight, signed, constant = _item_matrices(plan)
    n_subs = member.shape[1]
    unit = bool(np.all((weight == 0.0) | (weight == 1.0)))
    has_reverse = bool(plan.reverse.any())
    # Counts and reverse constants are small integers with unit weights: float32 products are
    # exact (< 2**24) and halve the memory traffic; otherwise stay in float64.
    exact32 = unit and float(np.abs(constant).sum()) < 2.0**20
    mask_type = np.float32 if exact32 else np.float64
    member_m = member.astype(mask_type)
    constant_m = constant.astype(mask_type)
    subs = plan.subscales
    is_sum = np.array([sub.method is Method.sum for sub in subs], dtype=bool)
    any_sum = bool(is_sum.any())
    needed = np.array([sub.needed for sub in subs], dtype=np.float64)
    size = np.array([len(sub.columns) for sub in subs], dtype=np.float64)
    prorated = [s for s, sub in enumerate(subs) if sub.method is Method.prorated_sum]
    k_full = np.array([subs[s].k_full for s in prorated], dtype=np.float64)
    # column-major: each subscale's column is contiguous, and given out as it is
    scores_all = np.empty((n, n_subs), dtype=np.float64, order="F")
    answered_all = np.empty((n, n_subs), dtype=np.int64, order="F")
    with np.errstate(invalid="ignore", divide="ignore"):
        for start in range(0, n, CHUNK_ROWS):
            block = values[start : start + CHUNK_ROWS]
            missing = np.isnan(block)
            answered = (~missing).astype(mask_type)
            zeroed = np.where(missing, 0.0, block)
            counts = (answered @ member_m).astype(np.float64)
            totals = zeroed @ signed
            if has_reverse:
                totals += answered @ constant_m
            weight_sums = counts if unit else answered @ weight
            result = totals / weight_sums  # mean; prorated below; sums take the totals
            if prorated:
                result[:, prorated] *= k_full
            enough = counts >= needed
            if any_sum:
                result[:, is_sum] = totals[:, is_sum]
                enough[:, is_sum] &= counts[:, is_sum] == size[is_sum]
            result[~enough] = np.nan
            rows = slice(start, start + len(block))
            scores_all[rows] = result
            answered_all[rows] = counts
    scores: dict[str, np.ndarray] = {sub.id: scores_all[:, s] for s, sub in enumerate(subs)}
    answered_counts: dict[str, np.ndarray] = {
        sub.id: answered_all[:, s] for s, sub in enumerate(subs)
    }
    _score_composites(plan.instrument, scores, answered_counts, n)
    return MatrixScores(score=scores, answered=answered_counts)


def _score_composites(
    instrument: Instrument, scores: dict[str, np.ndarray], answered: dict[str, np.ndarray], n: int
) -> None:
    done = set(scores)
    pending = list(instrument.composites)
    while pending:
        ready = [
            c
            for c in pending
            if all(x in done or x in instrument.subscale_by_id for x in c.components)
        ]
        if not ready:  # a cycle: validation rejects it, so only a hand-built model gets here
            raise ScoringError(f"composites {[c.id for c in pending]} depend on each other")
        for comp in ready:
            pending.remove(comp)
            done.add(comp.id)
            parts = [scores[x] for x in comp.components if x in scores]
            if not parts or (comp.method == "sum" and len(parts) < len(comp.components)):
                continue  # left out by the short form (a sum of fewer parts is another scale)
            stacked = np.column_stack(parts)
            present = ~np.isnan(stacked)
            count = present.sum(axis=1)
            needed = min(required_count(comp.min_answered, len(parts)), len(parts))
            total = np.where(present, stacked, 0.0).sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                if comp.method == "sum":
                    result = np.where(count == len(parts), total, np.nan)
                else:
                    result = total / count
            result[count < needed] = np.nan
            scores[comp.id] = result
            answered[comp.id] = count.astype(np.int64)


def band_labels(bands: Sequence[Band], scores: np.ndarray) -> pd.Categorical[str]:
    """Band label of each score: half-open [lower, upper), the top band closed."""
    ordered = sorted(bands, key=lambda b: b.lower)
    labels = [b.label for b in ordered]
    categories = list(dict.fromkeys(labels))
    # the codes in the smallest type that holds them (what the Categorical keeps: no recast)
    code_type: type[np.signedinteger[Any]] = np.int8 if len(categories) < 127 else np.int32
    codes: np.ndarray[tuple[int], np.dtype[np.signedinteger[Any]]] = np.full(
        len(scores), -1, dtype=code_type
    )
    if ordered:
        lowers = np.array([b.lower for b in ordered])
        top = ordered[-1].upper
        idx = np.searchsorted(lowers, scores, side="right") - 1
        ok = ~np.isnan(scores) & (idx >= 0) & (scores <= top + 1e-12)
        label_code = np.array([categories.index(lbl) for lbl in labels], dtype=code_type)
        codes[ok] = label_code[idx[ok]]
    # codes are -1 or a label's position by construction
    return pd.Categorical.from_codes(codes, categories=pd.Index(categories), validate=False)
