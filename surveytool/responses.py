"""Responses: raw answers (numbers or labels) -> a validated numeric item matrix, with a report.

Every cell that is not a valid answer, every unknown or missing column and every duplicate or empty
respondent id is reported with a stable code, row, column, raw value and reason in the issue frame
of :mod:`surveytool.problems`; nothing is dropped silently.
Rows are numbered from 1 for the first data row (a CSV's header line is not counted).

Validation is vectorised per item column (no per-row Python), so a million rows take well under a
second.
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from surveytool.instrument.model import Instrument, Level, ResponseScale, fold_label
from surveytool.io.sources import NA_STRINGS
from surveytool.problems import Problem, issue_frame, issue_problems, issue_record
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


def _validate_column(
    raw: pd.Series, scale: ResponseScale
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Numeric answers for one item column.

    Returns (values with NaN for missing/invalid, invalid mask, reason codes, the declared missing
    code given or NaN) where reason 1 = off the scale, 2 = not a whole number, 3 = not a number and
    not a label of the scale.
    """
    n = len(raw)
    reason = np.zeros(n, dtype=np.int8)
    if pd.api.types.is_bool_dtype(raw.dtype):
        values = np.full(n, np.nan)
        reason[:] = 3
        reason[raw.isna().to_numpy()] = 0
        return values, reason > 0, reason, np.full(n, np.nan)
    if pd.api.types.is_numeric_dtype(raw.dtype):
        values = raw.to_numpy(dtype=np.float64, na_value=np.nan).copy()
        text_invalid = np.zeros(n, dtype=bool)
    else:
        text = raw.astype("string").str.strip()
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
    inexact = np.zeros(n, dtype=bool)
    if not pd.api.types.is_numeric_dtype(raw.dtype):
        inexact = ~text_invalid & inexact_whole_numbers(text)
    coded = np.full(n, np.nan)
    if scale.missing_codes:
        declared = np.isin(values, list(scale.missing_codes)) & ~inexact
        coded[declared] = values[declared]
        values[declared] = np.nan
    with np.errstate(invalid="ignore"):
        off_scale = (values < scale.min) | (values > scale.max) | np.isinf(values)
        fractional = ~off_scale & (values != np.round(values)) & ~np.isnan(values)
        fractional |= inexact & ~off_scale
    reason[off_scale] = 1
    reason[fractional] = 2
    reason[text_invalid] = 3
    invalid = reason > 0
    values[invalid] = np.nan
    return values, invalid, reason, coded


#: Reason code of :func:`_validate_column` -> (problem code, message).
_REASONS = {
    1: ("off_scale", "off the scale {lo}..{hi}"),
    2: ("not_whole_number", "not a whole number"),
    3: ("not_an_answer", "not a number and not a label of scale {scale!r}"),
}


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
    ids_raw: pd.Series
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
    all_items = set(instrument.item_by_id)
    seen_cols: set[str] = set()
    for col in columns:
        if col in seen_cols:
            records.append(
                issue_record(
                    "duplicate_column", "column appears twice; the first is used", column=col
                )
            )
        seen_cols.add(col)
        if col not in known:
            if col in all_items:
                found = issue_record(
                    "item_not_in_form", "item not in the chosen short form; ignored", column=col
                )
            else:
                found = issue_record(
                    "unmatched_column", f"matches no item of {instrument.id}; ignored", column=col
                )
            records.append(found)
    for item_id in wanted:
        if item_id not in seen_cols:
            records.append(
                issue_record(
                    "missing_item",
                    "item column is missing; every answer counts as missing",
                    column=item_id,
                )
            )
    frame = frame.loc[:, ~pd.Index(columns).duplicated()]

    # respondent ids
    if id_column:
        ids_raw = frame[id_column]
        ids_text = id_text(ids_raw)
        empty = (ids_text.isna() | (ids_text == "")).to_numpy(dtype=bool)
        dup = (ids_text.duplicated(keep="first") & ~ids_text.isna()).to_numpy(dtype=bool) & ~empty
        for r in np.flatnonzero(empty):
            records.append(
                issue_record(
                    "empty_respondent_id",
                    "empty respondent id; row quarantined",
                    row=int(numbers[r]),
                    column=id_column,
                )
            )
        first_row: dict[str, int] = {}
        repeated = (ids_text.duplicated(keep=False)).to_numpy(dtype=bool) & ~empty
        for r in np.flatnonzero(repeated):
            first_row.setdefault(str(ids_text.iloc[r]), int(numbers[r]))
        for r in np.flatnonzero(dup):
            first = first_row[str(ids_text.iloc[r])]
            records.append(
                issue_record(
                    "duplicate_respondent_id",
                    f"duplicate respondent id (first at row {first}); row quarantined",
                    row=int(numbers[r]),
                    column=id_column,
                    respondent_id=str(ids_text.iloc[r]),
                    value=str(ids_text.iloc[r]),
                )
            )
        keep = ~(empty | dup)
        ids = ids_text
    else:
        keep = np.ones(n, dtype=bool)
        ids = pd.Series(np.arange(1, n + 1), name="row")

    # item cells
    values = np.empty((n, len(wanted)), dtype=np.float64, order="F")
    checked = {c.item for c in instrument.checks}
    coded_missing: dict[str, np.ndarray] = {}
    for j, item_id in enumerate(wanted):
        if item_id not in frame.columns:
            values[:, j] = np.nan
            continue
        scale = instrument.scale_of(item_id)
        col_values, invalid, reasons, coded = _validate_column(frame[item_id], scale)
        values[:, j] = col_values
        if item_id in checked:
            coded_missing[item_id] = coded
        if invalid.any():
            raw_col = frame[item_id]
            for r in np.flatnonzero(invalid):
                code, message = _REASONS[int(reasons[r])]
                records.append(
                    issue_record(
                        code,
                        message.format(
                            lo=scale.min, hi=scale.max, scale=instrument.item_by_id[item_id].scale
                        ),
                        row=int(numbers[r]),
                        column=item_id,
                        respondent_id=None if not id_column else _text(ids.iloc[r]),
                        value=_text(raw_col.iloc[r]),
                    )
                )
    records.extend(
        _formula_records(formula_cells or {}, wanted, id_column, group_columns, ids, numbers)
    )
    records.extend(
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
        issues=issue_frame(records),
        coded_missing=(
            coded_missing
            if all_kept
            else {item: codes[kept_rows] for item, codes in coded_missing.items()}
        ),
    )


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
