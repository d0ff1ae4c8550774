"""Responses: raw answers (numbers or labels) -> a validated numeric item matrix, with a report.

Every cell that is not a valid answer, every unknown or missing column and every duplicate or empty
respondent id is reported with a stable code, row, column, raw value and reason in the issue frame
of :mod:`surveytool.problems`; nothing is dropped silently.
Rows are numbered from 1 for the first data row (a CSV's header line is not counted).

Validation is vectorised over the whole block (no Python per cell): numeric columns are checked
with numpy masks, block by block as they are copied into the item matrix; text columns once per
distinct text, the results spread to the cells by their codes; the issue frame is built from the
masks.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from surveytool.instrument.model import Instrument, Level, ResponseScale, fold_label
from surveytool.io.sources import NA_STRINGS
from surveytool.problems import (
    ISSUE_COLUMNS,
    RESPONSE_KIND,
    Problem,
    issue_frame,
    issue_problems,
    issue_record,
)
from surveytool.safety.checks import LEVEL_CATEGORIES, evaluate_matrix


@dataclass(frozen=True)
class Responses:
    """Answers aligned to an instrument's items.

    ``values`` is an N x I float64 matrix of raw answers (before reverse keying), NaN = missing;
    ``coded_missing`` holds, for each item a check looks at whose column was given, the declared
    missing code of each row ("prefer not to say"; NaN where none was given); ``rows`` holds each kept row's 1-based position in the input; ``issues`` is the issue frame
    (see :mod:`surveytool.problems`) of every problem found, each with its code.
    """

    item_ids: tuple[str, ...]
    values: np.ndarray
    ids: pd.Series
    groups: pd.DataFrame
    rows: np.ndarray
    rows_read: int
    issues: pd.DataFrame = field(repr=False)
    coded_missing: Mapping[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def rows_quarantined(self) -> int:
        return self.rows_read - len(self.rows)

    def __repr__(self) -> str:
        """One line: the answer matrix's size, the counts and the issues (not the values)."""
        groups = f", groups {list(self.groups.columns)}" if len(self.groups.columns) else ""
        return (
            f"Responses({self.values.shape[0]} respondents x {len(self.item_ids)} items{groups}; "
            f"rows read {self.rows_read}, quarantined {self.rows_quarantined}; "
            f"issues {len(self.issues)})"
        )

    @property
    def problems(self) -> list[Problem]:
        """The issues as :class:`~surveytool.problems.Problem` objects."""
        return issue_problems(self.issues)


def _label_lookup(scale: ResponseScale) -> dict[str, float]:
    lookup: dict[str, float] = {}
    for code, text in scale.labels.items():
        lookup[fold_label(text)] = float(code)
    for code, text in scale.missing_codes.items():
        lookup[fold_label(text)] = float(code)
    return lookup


#: Reason code of the column validation -> (problem code, message).
_REASONS = {
    1: ("off_scale", "off the scale {lo}..{hi}"),
    2: ("not_whole_number", "not a whole number"),
    3: ("not_an_answer", "not a number and not a label of scale {scale!r}"),
}

#: Cells of a numeric column checked at a time on the fast path: small enough for the block and
#: its temporaries to stay in the CPU cache right after the block is copied into the item matrix.
_BLOCK = 1 << 15

_NO_CELLS = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class _BadCells:
    """The invalid cells of one item column: 0-based positions, reason codes (see ``_REASONS``)
    and each cell's raw value as text."""

    positions: np.ndarray
    reasons: np.ndarray
    values: np.ndarray


_NONE_BAD = _BadCells(_NO_CELLS, np.zeros(0, dtype=np.int8), np.zeros(0, dtype=object))


def _validate_into(
    raw: pd.Series, scale: ResponseScale, out: np.ndarray
) -> tuple[_BadCells, np.ndarray | None]:
    """Write one item column's answers into ``out`` (NaN = missing or invalid).

    Returns the column's invalid cells and the declared missing code given in each row (NaN
    where none), or None when the column holds no missing code. The rules, the same for every
    format: a number must be a whole number in ``min..max`` (reason 1 = off the scale, 2 = not a
    whole number) or a declared missing code; text is stripped, :data:`NA_STRINGS` are missing,
    number text is read exactly (``2.9999999999999999`` is not 3), other text must be a label of
    the scale (reason 3 = not a number and not a label); booleans are never answers (3).

    The work is vectorised over the column: numbers are checked with numpy masks, block by block
    right after their copy into ``out``; text is checked once per distinct text
    (:func:`pandas.factorize`), then the results are spread to the cells by their codes.
    """
    if pd.api.types.is_bool_dtype(raw.dtype):
        out[:] = np.nan
        present = np.flatnonzero(raw.notna().to_numpy(dtype=bool))
        cells = raw.iloc[present].to_numpy(dtype=bool)
        values = np.where(cells, "True", "False").astype(object)
        return _BadCells(present, np.full(len(present), 3, dtype=np.int8), values), None
    if pd.api.types.is_numeric_dtype(raw.dtype):
        return _numeric_into(raw, scale, out)
    return _text_into(raw, scale, out)


def _copy_checked(
    src: np.ndarray, out: np.ndarray, scale: ResponseScale, whole: bool = False
) -> bool:
    """Copy ``src`` into ``out``; True when every cell is missing or a whole number on the scale.

    Per block of :data:`_BLOCK` cells, while the block is in the cache: its smallest and largest
    answers (``fmin``/``fmax`` skip NaN) lie in ``min..max`` and, unless the column is known to
    hold integers (``whole``, or an integer dtype), ``x - rint(x)`` is 0 (or NaN) throughout.
    False says only that the exact checks must run.
    """
    lo, hi = float(scale.min), float(scale.max)
    clean = not any(lo <= code <= hi for code in scale.missing_codes)
    whole = whole or src.dtype.kind in "iub"
    scratch = np.empty(min(len(src), _BLOCK)) if clean and not whole else None
    for start in range(0, len(src), _BLOCK):
        block = out[start : start + _BLOCK]
        np.copyto(block, src[start : start + _BLOCK], casting="unsafe")
        if not clean:
            continue
        if np.fmin.reduce(block) < lo or np.fmax.reduce(block) > hi:
            clean = False
        elif scratch is not None:
            rest = scratch[: len(block)]
            np.rint(block, out=rest)
            np.subtract(block, rest, out=rest)
            clean = not (np.fmax.reduce(rest) > 0.0 or np.fmin.reduce(rest) < 0.0)
    return clean


def _numeric_into(
    raw: pd.Series, scale: ResponseScale, out: np.ndarray
) -> tuple[_BadCells, np.ndarray | None]:
    """:func:`_validate_into` for a numeric column: a fast check, then exact masks if needed."""
    whole = False
    if isinstance(raw.dtype, np.dtype):
        src = raw.to_numpy()
    else:  # nullable (Int64, Float64 ...): NA as NaN; integers need no whole-number check
        src = raw.to_numpy(dtype=np.float64, na_value=np.nan)
        whole = raw.dtype.kind in "iu"
    if _copy_checked(src, out, scale, whole):
        return _NONE_BAD, None
    values = out
    coded = None
    if scale.missing_codes:
        declared = np.isin(values, list(scale.missing_codes))
        if declared.any():
            coded = np.full(len(values), np.nan)
            coded[declared] = values[declared]
            values[declared] = np.nan
    reason = _scale_reasons(values, scale, np.zeros(len(values), dtype=bool))
    positions = np.flatnonzero(reason)
    values[positions] = np.nan
    return _BadCells(positions, reason[positions], _numeric_texts(raw, positions)), coded


def _scale_reasons(values: np.ndarray, scale: ResponseScale, inexact: np.ndarray) -> np.ndarray:
    """Reason 1 (off the scale) or 2 (not a whole number, or ``inexact`` text) per cell; 0 if
    valid or missing."""
    reason = np.zeros(len(values), dtype=np.int8)
    with np.errstate(invalid="ignore"):
        off_scale = (values < scale.min) | (values > scale.max) | np.isinf(values)
        fractional = ~off_scale & (values != np.round(values)) & ~np.isnan(values)
        fractional |= inexact & ~off_scale
    reason[off_scale] = 1
    reason[fractional] = 2
    return reason


def _numeric_texts(raw: pd.Series, positions: np.ndarray) -> np.ndarray:
    """The raw text of the cells at ``positions`` of a numeric column, formatted once per
    distinct value (floats told apart by their bits, so ``-0.0`` stays ``-0.0``)."""
    if not len(positions):
        return np.zeros(0, dtype=object)
    cells = raw.iloc[positions]
    if isinstance(raw.dtype, np.dtype):
        keys = cells.to_numpy()
    elif raw.dtype.kind in "iu":
        keys = cells.to_numpy(dtype=np.int64)
    else:
        keys = cells.to_numpy(dtype=np.float64)
    if keys.dtype.kind == "f":
        keys = keys.view(f"i{keys.dtype.itemsize}")
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    texts = np.array([_text(cells.iloc[int(i)]) for i in first], dtype=object)
    out: np.ndarray = texts[inverse.reshape(-1)]
    return out


def _text_into(
    raw: pd.Series, scale: ResponseScale, out: np.ndarray
) -> tuple[_BadCells, np.ndarray | None]:
    """:func:`_validate_into` for a text (or mixed) column: checked once per distinct text."""
    text = raw.astype("string")  # the cell's text as str() gives it; <NA> when missing
    codes, distinct = pd.factorize(text)  # codes -1 for <NA>: the slot appended below
    values, reason, coded = _validate_texts(pd.Series(distinct, dtype="string"), scale)
    np.take(np.append(values, np.nan), codes, out=out)
    bad = np.flatnonzero(reason)
    if len(bad):
        in_bad = np.zeros(len(reason) + 1, dtype=bool)
        in_bad[bad] = True
        positions = np.flatnonzero(in_bad[codes])
        picked = codes[positions]
        texts = np.asarray(distinct, dtype=object)
        found = _BadCells(positions, reason[picked], texts[picked])
    else:
        found = _NONE_BAD
    given = None
    if not np.isnan(coded).all():
        given = np.append(coded, np.nan)[codes]
    return found, given


def _validate_texts(
    text: pd.Series, scale: ResponseScale
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(answer or NaN, reason code, declared missing code or NaN) of each text of ``text``."""
    n = len(text)
    text = text.str.strip()
    text = text.mask(text.isin(NA_STRINGS))  # "NA", "N/A" ... are missing in every format
    numeric = pd.to_numeric(text, errors="coerce")
    values = numeric.to_numpy(dtype=np.float64, na_value=np.nan).copy()
    present = (text.notna() & (text != "")).to_numpy(dtype=bool)
    unparsed = present & np.isnan(values)
    text_invalid = np.zeros(n, dtype=bool)
    if unparsed.any():
        lookup = _label_lookup(scale)
        folded = text[unparsed].str.replace(r"\s+", " ", regex=True).str.casefold()
        mapped = folded.map(lookup)  # NaN both for "missing label" and "unknown"
        known = folded.isin(list(lookup)).to_numpy(dtype=bool)
        idx = np.flatnonzero(unparsed)
        values[idx] = mapped.to_numpy(dtype=np.float64, na_value=np.nan)
        text_invalid[idx[~known]] = True
    inexact = ~text_invalid & inexact_whole_numbers(text)
    coded = np.full(n, np.nan)
    if scale.missing_codes:
        declared = np.isin(values, list(scale.missing_codes)) & ~inexact
        coded[declared] = values[declared]
        values[declared] = np.nan
    reason = _scale_reasons(values, scale, inexact)
    reason[text_invalid] = 3
    values[reason > 0] = np.nan
    return values, reason, coded


class _IssueRows:
    """The rows of an issue frame gathered as column arrays: a few records for column and id
    problems, whole masks' worth of cells at a time for item cells (no Python per cell)."""

    def __init__(self) -> None:
        self._parts: list[dict[str, np.ndarray]] = []

    def records(self, records: Iterable[Mapping[str, object]]) -> None:
        kept = list(records)
        if kept:
            self._parts.append({c: _objects([r[c] for r in kept]) for c in ISSUE_COLUMNS})

    def columns(self, code: np.ndarray, column: np.ndarray, reason: np.ndarray) -> None:
        """Issues of whole columns (no row, id or value), as arrays."""
        self._append(code, None, column, reason)

    def cells(
        self,
        code: np.ndarray,
        rows: np.ndarray,
        column: str,
        reason: np.ndarray,
        respondent_id: np.ndarray | None = None,
        value: np.ndarray | None = None,
    ) -> None:
        """Issues of cells of one column: their codes, rows, reasons (and ids and values)."""
        self._append(
            code, rows, np.full(len(rows), column, dtype=object), reason, respondent_id, value
        )

    def _append(
        self,
        code: np.ndarray,
        rows: np.ndarray | None,
        column: np.ndarray,
        reason: np.ndarray,
        respondent_id: np.ndarray | None = None,
        value: np.ndarray | None = None,
    ) -> None:
        n = len(code)
        if not n:
            return
        none = np.full(n, None, dtype=object)
        kinds = pd.Series(code, dtype=object).map(RESPONSE_KIND).to_numpy(dtype=object)
        self._parts.append(
            {
                "code": code.astype(object, copy=False),
                "kind": kinds,
                "row": none if rows is None else rows.astype(object),
                "column": column,
                "respondent_id": none if respondent_id is None else respondent_id,
                "value": none if value is None else value,
                "reason": reason.astype(object, copy=False),
            }
        )

    def frame(self) -> pd.DataFrame:
        """The issue frame (:func:`surveytool.problems.issue_frame`'s columns and dtypes)."""
        if not self._parts:
            return issue_frame()
        columns = {c: np.concatenate([p[c] for p in self._parts]) for c in ISSUE_COLUMNS}
        frame = pd.DataFrame(columns)
        frame = frame.astype({c: "object" for c in ISSUE_COLUMNS if c != "row"})
        frame["row"] = frame["row"].astype("Int64")
        return frame


def _column_issues(
    index: pd.Index, repeated: np.ndarray, known: set[str], instrument: Instrument
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes, columns and reasons of the column issues, in the order of the columns (a repeat's
    ``duplicate_column`` before its ``unmatched_column``): arrays, not a record per column, so
    10**6 unknown columns cost a few array operations."""
    unknown = ~index.isin(list(known))
    in_items = index.isin(list(instrument.item_by_id))
    positions = np.concatenate([np.flatnonzero(repeated), np.flatnonzero(unknown)])
    first = np.concatenate([np.zeros(int(repeated.sum()), bool), np.ones(int(unknown.sum()), bool)])
    order = np.lexsort((first, positions))
    positions, unknown_issue = positions[order], first[order]
    codes = np.where(
        unknown_issue,
        np.where(in_items[positions], "item_not_in_form", "unmatched_column"),
        "duplicate_column",
    ).astype(object)
    reasons = np.array(
        [
            "column appears twice; the first is used",
            "item not in the chosen short form; ignored",
            f"matches no item of {instrument.id}; ignored",
        ],
        dtype=object,
    )[np.where(unknown_issue, np.where(in_items[positions], 1, 2), 0)]
    return codes, index.to_numpy(dtype=object)[positions], reasons


def _objects(items: Sequence[object]) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def read_responses(
    instrument: Instrument | str,
    frame: pd.DataFrame,
    *,
    item_ids: Sequence[str] | None = None,
    id_column: str | None = None,
    group_columns: Sequence[str] = (),
    ignore_columns: Sequence[str] = (),
    formula_cells: Mapping[str, Sequence[tuple[int, str]]] | None = None,
    row_numbers: Sequence[int] | np.ndarray | None = None,
    unread_columns: Sequence[str] = (),
) -> Responses:
    """Validate a table of raw answers against ``instrument``.

    Parameters
    ----------
    instrument
        The instrument whose items the columns name (an :class:`Instrument`, a bundled id or a
        path to an instrument file).
    frame
        One row per respondent, one column per item id; answers as numbers or scale labels.
    item_ids
        The items to read (a short form's); default every item of the instrument.
    id_column
        Respondent id column; rows with an empty id are quarantined, and so are later rows that
        repeat an id (the first row with an id is kept). Without it, ids are row numbers.
    group_columns
        Columns carried along for stratified norms and comparisons.
    ignore_columns
        Columns known not to be items (for example metadata), not reported as unknown.
    formula_cells
        Spreadsheet cells of ``frame`` that hold a formula without a computed value, per column as
        ``(0-based row position, formula)`` (:attr:`surveytool.io.sources.SourceTable.formula_cells`):
        missing in ``frame``, each is reported as ``formula_without_value`` (in an item column
        its answer counts as missing, in the id column the row has no id).
    row_numbers
        The number each row of ``frame`` has in its file, for the issues (default 1, 2, ...):
        the source's data rows when its reader set some aside (Qualtrics previews).
    unread_columns
        Columns of the file that were not read (a wide Parquet file's columns that name no item,
        id or group: :attr:`surveytool.io.sources.SourceTable.unread_columns`), reported as
        the columns of ``frame`` are, after them (unknown, unless in ``ignore_columns``).

    Respondent ids are compared as :func:`id_text` writes them: ``1``, ``1.0`` and `` 1 `` are one
    respondent in every format; ``007`` and ``7`` are two.
    """
    from surveytool.instrument.registry import load_instrument

    instrument = load_instrument(instrument)
    wanted = list(item_ids) if item_ids is not None else [i.id for i in instrument.items]
    n = len(frame)
    numbers = (
        np.arange(1, n + 1) if row_numbers is None else np.asarray(row_numbers, dtype=np.int64)
    )
    if len(numbers) != n:
        raise ValueError(f"row_numbers has {len(numbers)} numbers for {n} rows")
    records: list[dict[str, object]] = []
    columns = [str(c) for c in frame.columns]
    frame = frame.set_axis(columns, axis=1)
    for col in [id_column, *group_columns] if id_column else list(group_columns):
        if col not in columns:
            from surveytool.errors import ResponsesError

            raise ResponsesError(
                f"column {col!r} is not in the file; its columns are: {', '.join(columns[:30])}"
            )

    # columns: unknown, duplicated, missing
    known = set(wanted) | set(group_columns) | set(ignore_columns)
    if id_column:
        known.add(id_column)
    issues = _IssueRows()
    index = pd.Index(columns, dtype=object)
    repeated = index.duplicated()
    if len(unread_columns):  # their names only, from the file's schema
        every = index.append(pd.Index(list(unread_columns), dtype=object))
        issues.columns(*_column_issues(every, every.duplicated(), known, instrument))
    else:
        issues.columns(*_column_issues(index, repeated, known, instrument))
    present = set(columns)
    checks_of: dict[str, list[str]] = {}
    for c in instrument.checks:
        checks_of.setdefault(c.item, []).append(c.id)
    for item_id in wanted:
        if item_id not in present:
            unmade = ", ".join(repr(c) for c in checks_of.get(item_id, ()))
            records.append(
                issue_record(
                    "missing_item",
                    "item column is missing; every answer counts as missing"
                    + (
                        f", and check {unmade} cannot be made (its column is left empty, "
                        "not 'none')"
                        if unmade
                        else ""
                    ),
                    column=item_id,
                )
            )
    frame = frame.loc[:, ~repeated]

    # respondent ids
    issues.records(records)
    records = []
    if id_column:
        ids_text = id_text(frame[id_column])
        keep = _id_issues(issues, ids_text, id_column, numbers)
        ids = ids_text
    else:
        keep = np.ones(n, dtype=bool)
        ids = pd.Series(np.arange(1, n + 1), name="row")

    # item cells
    values = np.empty((n, len(wanted)), dtype=np.float64, order="F")
    checked = {c.item for c in instrument.checks}
    coded_missing: dict[str, np.ndarray] = {}
    id_cells: np.ndarray | None = None
    for j, item_id in enumerate(wanted):
        if item_id not in frame.columns:
            values[:, j] = np.nan
            continue
        scale = instrument.scale_of(item_id)
        bad, coded = _validate_into(frame[item_id], scale, values[:, j])
        if item_id in checked:
            coded_missing[item_id] = np.full(n, np.nan) if coded is None else coded
        if not len(bad.positions):
            continue
        if id_column and id_cells is None:
            id_cells = ids.to_numpy(dtype=object)
            id_cells[ids.isna().to_numpy(dtype=bool)] = None
        names = np.array([""] + [_REASONS[k][0] for k in sorted(_REASONS)], dtype=object)
        scale_name = instrument.item_by_id[item_id].scale
        messages = np.array(
            [""]
            + [
                _REASONS[k][1].format(lo=scale.min, hi=scale.max, scale=scale_name)
                for k in sorted(_REASONS)
            ],
            dtype=object,
        )
        issues.cells(
            names[bad.reasons],
            numbers[bad.positions],
            item_id,
            messages[bad.reasons],
            respondent_id=None if id_cells is None else id_cells[bad.positions],
            value=bad.values,
        )
    issues.records(
        _formula_records(formula_cells or {}, wanted, id_column, group_columns, ids, numbers)
    )
    issues.records(
        _critical_in_quarantine(
            instrument, wanted, values, coded_missing, keep, ids, id_column, numbers
        )
    )
    kept_rows = np.flatnonzero(keep)
    all_kept = len(kept_rows) == n
    return Responses(
        item_ids=tuple(wanted),
        values=values if all_kept else values[kept_rows],
        ids=(ids if all_kept else ids.iloc[kept_rows]).reset_index(drop=True),
        groups=(
            frame[list(group_columns)] if all_kept else frame[list(group_columns)].iloc[kept_rows]
        ).reset_index(drop=True),
        rows=kept_rows + 1,
        rows_read=n,
        issues=issues.frame(),
        coded_missing=(
            coded_missing
            if all_kept
            else {item: codes[kept_rows] for item, codes in coded_missing.items()}
        ),
    )


def _id_issues(
    issues: _IssueRows, ids_text: pd.Series, id_column: str, numbers: np.ndarray
) -> np.ndarray:
    """Report empty and repeated respondent ids (the first row of an id is kept); the rows kept."""
    empty = ids_text.isna().to_numpy(dtype=bool)  # id_text makes blank ids <NA>
    n_empty = int(empty.sum())
    # the distinct ids alone first (a hash set, cheaper than codes for every row): when each
    # id is given once, as in most files, no row needs its code
    distinct = len(pd.unique(ids_text)) - (1 if n_empty else 0)
    if distinct == len(ids_text) - n_empty:
        dup = np.zeros(len(ids_text), dtype=bool)
    else:  # a row is an id's first when its code is above every code before it
        codes, _ = pd.factorize(ids_text)  # codes in order of first appearance, -1 for <NA>
        before = np.maximum.accumulate(np.concatenate(([-1], codes[:-1])))
        is_first = codes > before
        first = np.flatnonzero(is_first)
        dup = ~(is_first | empty)
    where = np.flatnonzero(empty)
    issues.cells(
        np.full(len(where), "empty_respondent_id", dtype=object),
        numbers[where],
        id_column,
        np.full(len(where), "empty respondent id; row quarantined", dtype=object),
    )
    where = np.flatnonzero(dup)
    if len(where):
        first_rows = pd.Series(numbers[first[codes[where]]]).astype(str)
        reasons = "duplicate respondent id (first at row " + first_rows + "); row quarantined"
        repeated = ids_text.iloc[where].to_numpy(dtype=object)
        issues.cells(
            np.full(len(where), "duplicate_respondent_id", dtype=object),
            numbers[where],
            id_column,
            reasons.to_numpy(dtype=object),
            respondent_id=repeated,
            value=repeated,
        )
    keep: np.ndarray = ~(empty | dup)
    return keep


def _formula_records(
    formula_cells: Mapping[str, Sequence[tuple[int, str]]],
    wanted: Sequence[str],
    id_column: str | None,
    group_columns: Sequence[str],
    ids: pd.Series,
    numbers: np.ndarray,
) -> list[dict[str, object]]:
    """One ``formula_without_value`` issue per such cell of an item, id or group column."""
    read = {*wanted, *group_columns, *([id_column] if id_column else [])}
    out: list[dict[str, object]] = []
    for column in [c for c in formula_cells if c in read]:
        for position, formula in sorted(formula_cells[column]):
            if not 0 <= position < len(numbers):
                continue
            out.append(
                issue_record(
                    "formula_without_value",
                    "a spreadsheet formula without a computed value; read as missing",
                    row=int(numbers[position]),
                    column=column,
                    respondent_id=_text(ids.iloc[position]) if id_column else None,
                    value=formula,
                )
            )
    return out


def _critical_in_quarantine(
    instrument: Instrument,
    wanted: Sequence[str],
    values: np.ndarray,
    coded_missing: Mapping[str, np.ndarray],
    keep: np.ndarray,
    ids: pd.Series,
    id_column: str | None,
    numbers: np.ndarray,
) -> list[dict[str, object]]:
    """A quarantined row is not scored, but a check met at level alert in it must not go unseen."""
    out: list[dict[str, object]] = []
    if keep.all():
        return out
    dropped = np.flatnonzero(~keep)
    position = {item_id: j for j, item_id in enumerate(wanted)}
    levels = evaluate_matrix(
        instrument,
        tuple(wanted),
        values[dropped],
        {item: codes[dropped] for item, codes in coded_missing.items()},
    )
    alert = LEVEL_CATEGORIES.index(Level.alert.value)
    for check in instrument.checks:
        for k in np.flatnonzero(levels[check.id] == alert):
            r = dropped[k]
            value = values[r, position[check.item]]
            out.append(
                issue_record(
                    "critical_in_quarantine",
                    f"check {check.id!r} met (level {Level.alert.value}) in a quarantined row: "
                    "review this respondent",
                    row=int(numbers[r]),
                    column=check.item,
                    respondent_id=_text(ids.iloc[r]) if id_column else None,
                    value=None if np.isnan(value) else f"{value:g}",
                )
            )
    return out


def inexact_whole_numbers(text: pd.Series) -> np.ndarray:
    """Cells whose decimal text is not a whole number although its nearest float is one.

    Answers are read from decimal text exactly: ``2.9999999999999999`` is 3.0 in binary floating
    point, but the text says it is not 3, so it is not a whole scale point. Checked once per
    distinct text (a column holds a few), with :class:`decimal.Decimal`.
    """
    cells = text.astype(object).to_numpy()
    inexact = {v for v in pd.unique(cells) if isinstance(v, str) and _inexact_whole(v)}
    if not inexact:
        return np.zeros(len(cells), dtype=bool)
    out: np.ndarray = text.isin(inexact).to_numpy(dtype=bool)
    return out


def _inexact_whole(text: str) -> bool:
    """Decimal text that is not a whole number but whose nearest float is one."""
    stripped = text.strip()
    if not any(ch in stripped for ch in ".eE"):
        return False
    try:
        number = decimal.Decimal(stripped)
    except decimal.InvalidOperation:
        return False
    if not number.is_finite() or number == number.to_integral_value():
        return False
    close = float(number)
    return bool(np.isfinite(close)) and close == round(close)


_ZERO_FRACTION = r"^([+-]?\d+)\.(\d*?)0*$"


def id_text(values: pd.Series) -> pd.Series:
    """Respondent ids as every reader and check compares them (the documented normalization).

    Stripped text; a number from a typed format (Parquet, SPSS, JSON) as its shortest text (``7.0``
    as ``7``); a decimal written with zeros after the point as without them, so that the text
    ``1.0`` of a CSV is the id ``1`` of a Parquet or Excel file (``1.50`` is ``1.5``). Leading
    zeros are kept (``007`` and ``7`` are two ids); blank and missing cells are ``<NA>``.
    """
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
        cells: list[object] = [
            pd.NA
            if np.isnan(x)
            else (str(int(x)) if x == np.round(x) and abs(x) < 2**53 else repr(float(x)))
            for x in numbers
        ]
        return pd.Series(cells, index=values.index, dtype="string", name=values.name)
    if values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) != "string":
        values = values.map(lambda v: v if isinstance(v, str) else _id_cell(v), na_action="ignore")
    text = values.astype("string").str.strip()
    zeros = text.str.endswith(("0", ".")).fillna(False).to_numpy(dtype=bool)
    if zeros.any():
        zeros[zeros] = text[zeros].str.fullmatch(_ZERO_FRACTION).fillna(False).to_numpy(dtype=bool)
    if zeros.any():  # the few decimal ids: 1.0 -> 1, 1.50 -> 1.5
        text[zeros] = text[zeros].str.replace(
            _ZERO_FRACTION, lambda m: m[1] + ("." + m[2] if m[2] else ""), regex=True
        )
    return text.mask(text == "", pd.NA)


def _id_cell(value: object) -> object:
    if isinstance(value, float):
        if np.isnan(value):
            return pd.NA
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    return str(value)


def _text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    return str(value)


def answers_frame(answers: Mapping[str, object]) -> pd.DataFrame:
    """One person's answers (item id -> answer) as a one-row table."""
    return pd.DataFrame([dict(answers)])
