"""The scoring engine: validated answers -> subscale and composite scores (FORMULAS.md).

Every user path (the terminal, the web pages, clinician records, cohorts) scores through
:func:`score_responses`; the kernel :func:`score_matrix` is vectorised numpy over the whole table.

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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from surveytool.errors import InvalidResponsesError, ScoringError
from surveytool.instrument import Band, Instrument, Method, required_count
from surveytool.registry import load_instrument
from surveytool.responses import Responses, answers_frame, critical_hits, read_responses

STATUS_OK = "ok"
STATUS_INSUFFICIENT = "insufficient"
CRITICAL_COLUMN = "critical_items"


@dataclass(frozen=True)
class _SubscalePlan:
    id: str
    columns: np.ndarray  # positions in the item matrix
    weights: np.ndarray
    method: Method
    needed: int
    k_full: int


@dataclass(frozen=True)
class ScoringPlan:
    """What :func:`score_matrix` needs, precomputed once per instrument and form."""

    instrument: Instrument
    form: str | None
    item_ids: tuple[str, ...]
    low: np.ndarray
    high: np.ndarray
    reverse: np.ndarray
    subscales: tuple[_SubscalePlan, ...]

    @classmethod
    def build(cls, instrument: Instrument, form: str | None = None) -> ScoringPlan:
        chosen = instrument.form_items(form)
        position = {item_id: j for j, item_id in enumerate(chosen)}
        subs = []
        for sub in instrument.subscales:
            members = [i for i in sub.items if i in position]
            if not members:
                continue  # a short form may leave a subscale out entirely
            subs.append(
                _SubscalePlan(
                    id=sub.id,
                    columns=np.array([position[i] for i in members], dtype=np.intp),
                    weights=np.array([instrument.item_by_id[i].weight for i in members]),
                    method=sub.method,
                    needed=min(required_count(sub.min_answered, len(members)), len(members)),
                    k_full=len(sub.items),
                )
            )
        scales = [instrument.scale_of(i) for i in chosen]
        return cls(
            instrument=instrument,
            form=form,
            item_ids=tuple(chosen),
            low=np.array([s.min for s in scales], dtype=np.float64),
            high=np.array([s.max for s in scales], dtype=np.float64),
            reverse=np.array([instrument.item_by_id[i].reverse for i in chosen], dtype=bool),
            subscales=tuple(subs),
        )


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
    """
    values = np.asarray(values, dtype=np.float64)
    n = values.shape[0]
    member, weight, signed, constant = _item_matrices(plan)
    n_subs = member.shape[1]
    unit = bool(np.all((weight == 0.0) | (weight == 1.0)))
    has_reverse = bool(plan.reverse.any())
    # column-major: each subscale's column is contiguous for the per-subscale work below
    counts = np.empty((n, n_subs), dtype=np.float64, order="F")
    totals = np.empty((n, n_subs), dtype=np.float64, order="F")
    weight_sums = counts if unit else np.empty((n, n_subs), dtype=np.float64, order="F")
    # Counts and reverse constants are small integers with unit weights: float32 products are
    # exact (< 2**24) and halve the memory traffic; otherwise stay in float64.
    exact32 = unit and float(np.abs(constant).sum()) < 2.0**20
    mask_type = np.float32 if exact32 else np.float64
    member_m = member.astype(mask_type)
    constant_m = constant.astype(mask_type)
    for start in range(0, n, CHUNK_ROWS):
        block = values[start : start + CHUNK_ROWS]
        missing = np.isnan(block)
        answered = (~missing).astype(mask_type)
        zeroed = np.where(missing, 0.0, block)
        rows = slice(start, start + len(block))
        counts[rows] = answered @ member_m
        totals[rows] = zeroed @ signed
        if has_reverse:
            totals[rows] += answered @ constant_m
        if not unit:
            weight_sums[rows] = answered @ weight
    scores: dict[str, np.ndarray] = {}
    answered_counts: dict[str, np.ndarray] = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        for s, sub in enumerate(plan.subscales):
            count = counts[:, s]
            enough = count >= sub.needed
            if sub.method is Method.sum:
                enough &= count == len(sub.columns)
                result = totals[:, s].copy()
            else:
                result = totals[:, s] / weight_sums[:, s]
                if sub.method is Method.prorated_sum:
                    result = result * sub.k_full
            result[~enough] = np.nan
            scores[sub.id] = result
            answered_counts[sub.id] = count.astype(np.int64)
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


def band_labels(bands: Sequence[Band], scores: np.ndarray) -> pd.Categorical:
    """Band label of each score: half-open [lower, upper), the top band closed."""
    ordered = sorted(bands, key=lambda b: b.lower)
    labels = [b.label for b in ordered]
    categories = list(dict.fromkeys(labels))
    codes = np.full(len(scores), -1, dtype=np.int64)
    if ordered:
        lowers = np.array([b.lower for b in ordered])
        top = ordered[-1].upper
        idx = np.searchsorted(lowers, scores, side="right") - 1
        ok = ~np.isnan(scores) & (idx >= 0) & (scores <= top + 1e-12)
        label_code = np.array([categories.index(lbl) for lbl in labels])
        codes[ok] = label_code[idx[ok]]
    return pd.Categorical.from_codes(codes, categories=categories)


def critical_flags(instrument: Instrument, responses: Responses) -> pd.Series:
    """Critical items each respondent triggered (raw answer at or beyond the threshold), ``;``-joined."""
    n = len(responses.rows)
    out = np.full(n, "", dtype=object)
    position = {item_id: j for j, item_id in enumerate(responses.item_ids)}
    hits = []
    for crit in instrument.critical_items:
        j = position.get(crit.item)
        if j is None:
            continue
        hits.append((crit.item, critical_hits(crit, responses.values[:, j])))
    if hits:
        any_hit = np.logical_or.reduce([h for _, h in hits])
        for r in np.flatnonzero(any_hit):
            out[r] = ";".join(item for item, h in hits if h[r])
    return pd.Series(out, name=CRITICAL_COLUMN, dtype=object)


@dataclass(frozen=True)
class ScoreResult:
    """Scores with everything needed to trust them.

    ``scores``: one row per scored respondent: the id column, group columns, then per subscale and
    composite ``<id>``, ``<id>_n``, ``<id>_status``, ``<id>_band`` (and with norms ``<id>_t``,
    ``<id>_percentile``, ``<id>_percentile_source``, ``<id>_norm_group``), then ``critical_items``.
    ``issues``: every invalid cell, unknown or missing column and quarantined row.
    """

    scores: pd.DataFrame
    issues: pd.DataFrame
    provenance: dict[str, Any]
    rows_read: int
    rows_scored: int
    rows_quarantined: int
    responses: Responses = field(repr=False)

    def counts_line(self) -> str:
        return (
            f"rows read {self.rows_read} = rows scored {self.rows_scored} + rows quarantined "
            f"{self.rows_quarantined}"
        )


def provenance(instrument: Instrument, form: str | None = None) -> dict[str, Any]:
    """Instrument id, version, content hash and form: enough to trace and re-score."""
    from surveytool import __version__

    return {
        "instrument_id": instrument.id,
        "instrument_version": instrument.version,
        "instrument_hash": instrument.content_hash,
        "form": form,
        "surveytool_version": __version__,
    }


def score_responses(
    instrument: Instrument | str,
    responses: pd.DataFrame | Mapping[str, object],
    *,
    id_column: str | None = None,
    form: str | None = None,
    group_columns: Sequence[str] = (),
    ignore_columns: Sequence[str] = (),
    strict: bool = False,
) -> ScoreResult:
    """Validate and score responses; see :class:`ScoreResult`.

    Parameters
    ----------
    instrument
        An :class:`Instrument`, a bundled id or a path to an instrument file.
    responses
        One row per respondent, one column per item id (numbers or scale labels), or one person's
        answers as a mapping item id -> answer.
    id_column, group_columns, ignore_columns
        See :func:`surveytool.responses.read_responses`.
    form
        Score a short form: each subscale on its items in the form (prorated sums to the full k).
    strict
        Raise :class:`InvalidResponsesError` (with the issues) if any cell, row or column is bad.
    """
    inst = load_instrument(instrument)
    frame = responses if isinstance(responses, pd.DataFrame) else answers_frame(responses)
    plan = ScoringPlan.build(inst, form)
    # critical items outside a short form are still read and flagged when the data has them
    extra = [
        c.item
        for c in inst.critical_items
        if c.item not in plan.item_ids and c.item in frame.columns
    ]
    validated = read_responses(
        inst,
        frame,
        item_ids=[*plan.item_ids, *dict.fromkeys(extra)],
        id_column=id_column,
        group_columns=group_columns,
        ignore_columns=ignore_columns,
    )
    if strict and len(validated.issues):
        raise InvalidResponsesError(
            f"{len(validated.issues)} problem(s) in the responses; nothing was scored",
            validated.issues,
        )
    matrix = score_matrix(plan, validated.values[:, : len(plan.item_ids)])
    table = _assemble(inst, plan, validated, matrix, id_column)
    return ScoreResult(
        scores=table,
        issues=validated.issues,
        provenance=provenance(inst, form),
        rows_read=validated.rows_read,
        rows_scored=len(validated.rows),
        rows_quarantined=validated.rows_quarantined,
        responses=validated,
    )


def _assemble(
    inst: Instrument,
    plan: ScoringPlan,
    validated: Responses,
    matrix: MatrixScores,
    id_column: str | None,
) -> pd.DataFrame:
    from surveytool.norms import norm_columns

    columns: dict[str, Any] = {}
    columns[id_column or "row"] = validated.ids.to_numpy()
    for col in validated.groups.columns:
        columns[col] = validated.groups[col].to_numpy()
    status_categories = [STATUS_OK, STATUS_INSUFFICIENT]
    for scale_id in inst.scored_ids():
        if scale_id not in matrix.score:
            continue
        values = matrix.score[scale_id]
        columns[scale_id] = values
        columns[f"{scale_id}_n"] = matrix.answered[scale_id]
        columns[f"{scale_id}_status"] = pd.Categorical.from_codes(
            np.isnan(values).astype(np.int8), categories=status_categories
        )
        definition = inst.subscale_by_id.get(scale_id) or inst.composite_by_id[scale_id]
        columns[f"{scale_id}_band"] = band_labels(definition.bands, values)
        if inst.norms is not None and any(e.scale == scale_id for e in inst.norms.entries):
            for key, col in norm_columns(inst, scale_id, values, validated.groups).items():
                columns[f"{scale_id}_{key}"] = col
    columns[CRITICAL_COLUMN] = critical_flags(inst, validated).to_numpy()
    return pd.DataFrame(columns)


def score(
    instrument: Instrument | str,
    responses: pd.DataFrame | Mapping[str, object],
    *,
    id_column: str | None = None,
    form: str | None = None,
    group_columns: Sequence[str] = (),
    ignore_columns: Sequence[str] = (),
    strict: bool = False,
) -> pd.DataFrame:
    """Score responses and return the scores table (see :func:`score_responses` for details).

    The table's ``attrs`` carry ``provenance`` (instrument id, version, content hash) and ``issues``
    (every invalid cell, column and quarantined row).

    Examples
    --------
    >>> import surveytool
    >>> scores = surveytool.score("ppai", {"FF1": 4, "FF2": "Somewhat like me"})  # doctest: +SKIP
    """
    result = score_responses(
        instrument,
        responses,
        id_column=id_column,
        form=form,
        group_columns=group_columns,
        ignore_columns=ignore_columns,
        strict=strict,
    )
    table = result.scores
    table.attrs["provenance"] = result.provenance
    table.attrs["issues"] = result.issues
    return table
