"""Scoring responses: validate with :func:`~surveytool.responses.read_responses`, run the kernel,
assemble the scores table and the typed records (:class:`~surveytool.scoring.result.ScoreResult`).

:func:`score_responses` is the one scoring path of every user (the terminal, the web pages,
clinician records, cohorts); :func:`score` is its short form that returns the table alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypedDict, Unpack, cast, overload

import numpy as np
import pandas as pd

from surveytool.errors import InvalidResponsesError, ResponsesError, ScoringError
from surveytool.instrument.model import Instrument
from surveytool.instrument.registry import load_instrument
from surveytool.responses import Responses, answers_frame, read_responses
from surveytool.safety.checks import CheckOutcomes, evaluate
from surveytool.scoring.kernel import MatrixScores, band_labels, score_matrix
from surveytool.scoring.plan import ScoringPlan
from surveytool.scoring.result import (
    CHECK_SUFFIX,
    STATUS_CATEGORIES,
    Provenance,
    ScaleColumns,
    ScoreResult,
)

if TYPE_CHECKING:
    import dask.dataframe as dd

    from surveytool.engine.scoring import DaskScoreResult


def is_dask(data: object) -> bool:
    """A Dask collection (checked without importing dask)."""
    return type(data).__module__.split(".")[0] == "dask" and hasattr(data, "map_partitions")


def provenance(instrument: Instrument, form: str | None = None) -> Provenance:
    """Instrument id, version, content hash and form: enough to trace and re-score."""
    from surveytool import __version__

    return Provenance(
        instrument_id=instrument.id,
        instrument_version=instrument.version,
        instrument_hash=instrument.content_hash,
        form=form,
        surveytool_version=__version__,
    )


#: Suffixes of the columns written for each scale (score, answered, status, band, norms).
_SCALE_SUFFIXES = ("", "_n", "_status", "_band", "_t", "_percentile", "_percentile_source")


def output_columns(instrument: Instrument) -> dict[str, str]:
    """Every column name a scores table of ``instrument`` may hold -> what it is (for messages)."""
    out: dict[str, str] = {"row": "the row number"}
    for scale_id in instrument.scored_ids():
        for suffix in _SCALE_SUFFIXES:
            out[f"{scale_id}{suffix}"] = f"a column of scale {scale_id}"
        out[f"{scale_id}_norm_group"] = f"a column of scale {scale_id}"
    for check in instrument.checks:
        out[f"{check.id}{CHECK_SUFFIX}"] = f"the column of check {check.id}"
    return out


def _check_carried_names(
    instrument: Instrument, id_column: str | None, group_columns: Sequence[str]
) -> None:
    """An id or group column named like a score column would be lost in the scores table."""
    taken = output_columns(instrument)
    for role, names in (
        ("id column", [id_column] if id_column else []),
        ("group column", group_columns),
    ):
        for name in names:
            if name in taken and not (role == "id column" and name == "row"):
                raise ResponsesError(
                    f"the {role} {name!r} has the name of {taken[name]} in the scores; rename "
                    "the column in the file (or leave it out) so that neither is lost"
                )
    repeated = [
        g for g in dict.fromkeys(group_columns) if group_columns.count(g) > 1 or g == id_column
    ]
    if repeated:
        raise ResponsesError(
            f"the column {repeated[0]!r} is given twice (as id and group column, or as two "
            "group columns); give each column once"
        )


class ScoreKeywords(TypedDict, total=False):
    """The keyword options of :func:`score_responses` and :func:`score` for every kind of table
    (one home for their names, types and defaults: see :func:`score_responses`). Not
    :class:`surveytool.engine.scoring.ScoreOptions`, the Dask engine's resolved options sent
    to its tasks."""

    id_column: str | None
    form: str | None
    group_columns: Sequence[str]
    ignore_columns: Sequence[str]
    strict: bool


def _known(options: ScoreKeywords) -> ScoreKeywords:
    """``options`` when each is one of :class:`ScoreKeywords` (a misspelt one is never ignored)."""
    unknown = sorted(set(options) - ScoreKeywords.__optional_keys__)
    if unknown:
        raise TypeError(
            f"unexpected option(s) {', '.join(map(repr, unknown))}; the options are "
            f"{', '.join(sorted(ScoreKeywords.__optional_keys__))}"
        )
    return options


@overload
def score_responses(
    instrument: Instrument | str,
    responses: pd.DataFrame | Mapping[str, object],
    *,
    formula_cells: Mapping[str, Sequence[tuple[int, str]]] | None = ...,
    row_numbers: Sequence[int] | np.ndarray | None = ...,
    unread_columns: Sequence[str] = ...,
    **options: Unpack[ScoreKeywords],
) -> ScoreResult: ...


@overload
def score_responses(
    instrument: Instrument | str, responses: dd.DataFrame, **options: Unpack[ScoreKeywords]
) -> DaskScoreResult: ...


def score_responses(
    instrument: Instrument | str,
    responses: pd.DataFrame | Mapping[str, object] | dd.DataFrame,
    *,
    formula_cells: Mapping[str, Sequence[tuple[int, str]]] | None = None,
    row_numbers: Sequence[int] | np.ndarray | None = None,
    unread_columns: Sequence[str] = (),
    **options: Unpack[ScoreKeywords],
) -> ScoreResult | DaskScoreResult:
    """Validate and score responses; see :class:`~surveytool.scoring.result.ScoreResult`.

    A Dask DataFrame is scored lazily, partition by partition, by
    :func:`surveytool.engine.scoring.score_responses_dask` (same parameters but
    ``formula_cells`` and ``row_numbers``).

    Parameters
    ----------
    instrument
        An :class:`Instrument`, a bundled id or a path to an instrument file.
    responses
        One row per respondent, one column per item id (numbers or scale labels), or one person's
        answers as a mapping item id -> answer.
    formula_cells, row_numbers, unread_columns
        See :func:`surveytool.responses.read_responses` (``row_numbers``: each row's number in
        its file, for the issues; the Dask engine numbers a partition's rows in the dataset).
    **options
        :class:`ScoreKeywords`:

        ``id_column``, ``group_columns``, ``ignore_columns`` (default None, (), ())
            See :func:`surveytool.responses.read_responses`.
        ``form`` (default None)
            Score a short form: each subscale on its items in the form (prorated sums to the
            full k).
        ``strict`` (default False)
            Raise :class:`InvalidResponsesError` (with the issues) if any cell, row or column
            is bad.
    """
    id_column = _known(options).get("id_column")
    form = options.get("form")
    group_columns = options.get("group_columns", ())
    if is_dask(responses):
        return _dask_result(instrument, responses, options)
    inst = load_instrument(instrument)
    _check_carried_names(inst, id_column, list(group_columns))
    frame = (
        responses
        if isinstance(responses, pd.DataFrame)
        else answers_frame(cast(Mapping[str, object], responses))
    )
    plan = ScoringPlan.build(inst, form)
    # checked items outside a short form are still read and checked when the data has them
    extra = [c.item for c in inst.checks if c.item not in plan.item_ids and c.item in frame.columns]
    validated = read_responses(
        inst,
        frame,
        item_ids=[*plan.item_ids, *dict.fromkeys(extra)],
        id_column=id_column,
        group_columns=group_columns,
        ignore_columns=options.get("ignore_columns", ()),
        formula_cells=formula_cells,
        row_numbers=row_numbers,
        unread_columns=unread_columns,
    )
    if options.get("strict", False) and len(validated.issues):
        raise InvalidResponsesError(
            f"{len(validated.issues)} problem(s) in the responses; nothing was scored",
            validated.issues,
        )
    values = validated.values[:, : len(plan.item_ids)]
    return _score_plan(inst, plan, validated, values, id_column, form)


def score_validated(
    instrument: Instrument | str, responses: Responses, *, form: str | None = None
) -> ScoreResult:
    """Score answers already validated by :func:`surveytool.responses.read_responses`.

    The same scores, bands, norms and checks as :func:`score_responses` gives for the table the
    ``responses`` were read from (validate once, then score and compute any statistic). The
    result's ``issues`` are the ones ``read_responses`` found. ``form`` scores a short form.
    """
    inst = load_instrument(instrument)
    plan = ScoringPlan.build(inst, form)
    position = {item_id: j for j, item_id in enumerate(responses.item_ids)}
    absent = [i for i in plan.item_ids if i not in position]
    if absent:
        raise ResponsesError(
            f"the validated responses lack the items {', '.join(absent)}; read them with "
            f"read_responses({inst.id!r}, ...) and the whole table"
        )
    columns = [position[i] for i in plan.item_ids]
    values = responses.values
    if columns != list(range(len(columns))):
        values = np.asfortranarray(values[:, columns])
    name = responses.ids.name
    id_column = str(name) if name is not None and name != "row" else None
    return _score_plan(inst, plan, responses, values[:, : len(columns)], id_column, form)


def _score_plan(
    inst: Instrument,
    plan: ScoringPlan,
    validated: Responses,
    values: np.ndarray,
    id_column: str | None,
    form: str | None = None,
) -> ScoreResult:
    """The scores, checks and result of validated answers (``values``: the plan's item columns)."""
    matrix = score_matrix(plan, values)
    scales = _scale_columns(inst, validated, matrix)
    checks = evaluate(inst, validated)
    return ScoreResult(
        scores=_assemble(validated, scales, checks, id_column),
        issues=validated.issues,
        provenance=provenance(inst, form),
        rows_read=validated.rows_read,
        rows_scored=len(validated.rows),
        rows_quarantined=validated.rows_quarantined,
        responses=validated,
        scales=scales,
        checks=checks,
    )


def _dask_result(
    instrument: Instrument | str, responses: Any, options: ScoreKeywords
) -> DaskScoreResult:
    from surveytool.engine.scoring import score_responses_dask

    if _known(options).get("strict", False):
        raise ScoringError(
            "strict scoring of a Dask DataFrame would need every partition scored first; score "
            "it, then look at the issues (or write it with the CLI's --strict)"
        )
    return score_responses_dask(
        instrument,
        responses,
        id_column=options.get("id_column"),
        form=options.get("form"),
        group_columns=options.get("group_columns", ()),
        ignore_columns=options.get("ignore_columns", ()),
    )


def _scale_columns(
    inst: Instrument, validated: Responses, matrix: MatrixScores
) -> tuple[ScaleColumns, ...]:
    from surveytool.scoring.norms import norm_columns

    out = []
    for scale_id in inst.scored_ids():
        if scale_id not in matrix.score:
            continue
        values = matrix.score[scale_id]
        sub = inst.subscale_by_id.get(scale_id)
        definition = sub or inst.composite_by_id[scale_id]
        norms = None
        if inst.norms is not None and any(e.scale == scale_id for e in inst.norms.entries):
            norms = norm_columns(inst, scale_id, values, validated.groups)
        out.append(
            ScaleColumns(
                id=scale_id,
                kind="subscale" if sub is not None else "composite",
                score=values,
                answered=matrix.answered[scale_id],
                band=band_labels(definition.bands, values),
                norms=norms,
            )
        )
    return tuple(out)


def _assemble(
    validated: Responses,
    scales: Sequence[ScaleColumns],
    checks: CheckOutcomes,
    id_column: str | None,
) -> pd.DataFrame:
    columns: dict[str, object] = {}
    ids = validated.ids
    # Arrow-backed ids stay in Arrow (the "str" dtype a frame would infer), not Python objects
    text_ids = isinstance(ids.dtype, pd.StringDtype) and ids.dtype.storage == "pyarrow"
    columns[id_column or "row"] = ids.astype("str").array if text_ids else ids.to_numpy()
    for col in validated.groups.columns:
        columns[col] = validated.groups[col].to_numpy(copy=True)  # never a view of the input
    for scale in scales:
        columns[scale.id] = scale.score
        columns[f"{scale.id}_n"] = scale.answered
        columns[f"{scale.id}_status"] = pd.Categorical.from_codes(  # codes 0/1 by construction
            np.isnan(scale.score).view(np.int8),
            categories=pd.Index(list(STATUS_CATEGORIES)),
            validate=False,
        )
        columns[f"{scale.id}_band"] = scale.band
        for key, values in (scale.norms or {}).items():
            columns[f"{scale.id}_{key}"] = values
    for check_id in checks.levels:
        columns[f"{check_id}{CHECK_SUFFIX}"] = checks.column(check_id)
    # the arrays are this result's own: the table takes them as they are (no copy, no
    # consolidation into 2-D blocks, which cost a second copy of every column)
    return pd.DataFrame(columns, copy=False)


@overload
def score(
    instrument: Instrument | str,
    responses: pd.DataFrame | Mapping[str, object],
    **options: Unpack[ScoreKeywords],
) -> pd.DataFrame: ...


@overload
def score(
    instrument: Instrument | str, responses: dd.DataFrame, **options: Unpack[ScoreKeywords]
) -> dd.DataFrame: ...


def score(
    instrument: Instrument | str,
    responses: pd.DataFrame | Mapping[str, object] | dd.DataFrame,
    **options: Unpack[ScoreKeywords],
) -> pd.DataFrame | dd.DataFrame:
    """Score responses and return the scores table alone, a plain DataFrame (empty ``attrs``).

    A Dask DataFrame gives a Dask DataFrame of scores (lazy), scored partition by partition
    (:mod:`surveytool.engine.scoring`). ``options``: :class:`ScoreKeywords`, as
    :func:`score_responses` takes them.

    :func:`score_responses` gives the same table with the issues (coded), the provenance and
    each person's typed record.

    Examples
    --------
    >>> import surveytool
    >>> scores = surveytool.score("ppai", {"FF1": 4, "FF2": "Somewhat like me"})  # doctest: +SKIP
    """
    if is_dask(responses):
        return _dask_result(instrument, responses, options).scores
    return score_responses(
        instrument, cast(pd.DataFrame | Mapping[str, object], responses), **options
    ).scores
