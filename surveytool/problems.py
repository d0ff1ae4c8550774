"""Problems: one type and one code list for instrument files, response cells, mappings and imports.

Every problem says what was wrong (``message``), where (``file``, ``line``, ``column`` for a text
file; ``row`` and ``field`` for a table; ``loc`` for a path inside a document) and how to fix it
(``hint``), under a stable ``code`` from :data:`CODES`. Tests and programs compare codes, never
prose.

Response problems can number millions (a bad column in a large cohort), so :func:`read_responses
<surveytool.responses.read_responses>` keeps them as one typed *issue frame* rather than as objects;
:func:`issue_problems` turns the frame into :class:`Problem` objects when they are wanted. The issue
frame has exactly the columns of :data:`ISSUE_COLUMNS`, in this order:

========================  ==========  ============================================================
column                    dtype       meaning
========================  ==========  ============================================================
``code``                  object      a response code of :data:`CODES` (``off_scale`` ...)
``kind``                  object      ``cell``, ``row`` or ``column`` (:data:`ISSUE_KINDS`)
``row``                   Int64       1-based data row (a file's header line is not counted); NA
                                      for a column problem
``column``                object      the table column (the item, the id column ...)
``respondent_id``         object      the row's respondent id when there is an id column
``value``                 object      the raw value as text, when there is one
``reason``                object      the message: what is wrong, in words
========================  ==========  ============================================================

This module imports nothing else of surveytool, so every other module can depend on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, SupportsInt, cast

if TYPE_CHECKING:
    import pandas as pd

Loc = tuple[str | int, ...]
"""A path inside a document: ``("subscales", 2, "bands", 0, "upper")``."""

#: Codes of instrument files (the loader and the semantic checks).
INSTRUMENT_CODES: dict[str, str] = {
    "file_unreadable": "Check the path and that the file is readable text (UTF-8).",
    "file_too_large": "Instrument files are small; split or trim the file.",
    "yaml_syntax": "Fix the YAML syntax at this line (indentation, a missing colon or quote).",
    "yaml_alias": "Write the value out instead of using a YAML anchor (&) or alias (*).",
    "yaml_duplicate_key": "Remove or rename one of the two keys; YAML would silently keep the last.",
    "not_a_mapping": "An instrument file is a mapping with keys such as id, version, title, items.",
    "missing_field": "Add this field.",
    "unknown_field": "Remove the field or correct its spelling.",
    "wrong_type": "Give a value of the type the field expects.",
    "invalid_value": "Give a value the field accepts.",
    "duplicate_id": "Give every item, scale, subscale, composite and short form its own id.",
    "folded_duplicate_id": (
        "Make the ids differ in more than case and punctuation: imports match columns to ids "
        "ignoring both."
    ),
    "scale_range": "A response scale needs min < max.",
    "label_out_of_range": "Label only points between the scale's min and max.",
    "missing_code_in_range": "Missing codes must lie outside min..max, e.g. 9 for 'prefer not to say'.",
    "unknown_scale": "Use one of the ids under response_scales.",
    "unknown_item": "Use the id of an item defined under items.",
    "duplicate_member": "List each item or component once.",
    "min_answered": "min_answered must be at least 1 and at most the number of items.",
    "band_inverted": "A band needs lower < upper.",
    "band_overlap": "Bands are half-open [lower, upper): the next band starts where one ends.",
    "band_gap": "Bands must touch: make this band's lower equal the previous band's upper.",
    "band_coverage": "The bands must cover the whole score range, from its lowest to its highest.",
    "unknown_component": "Use the id of a subscale or composite.",
    "composite_cycle": "A composite cannot depend on itself, directly or through others.",
    "check_rule": "Give a rule on points of the item's response scale that only some answers meet.",
    "unscored_item_in_subscale": "Remove the item from the subscale, or drop its scored: false.",
    "critical_items_replaced": (
        "Replace the critical_items block with a checks block (see the README, 'Critical "
        "checks'), and set on_skip / on_missing_code to what they should mean."
    ),
    "short_form_partial_sum": "A short form takes all or none of a 'sum' subscale's items.",
    "norm_sd": "A norm's sd must be greater than 0.",
    "norm_unknown_scale": "Norms refer to a subscale or composite id.",
    "norm_group": "Use only the columns listed in norms.group_columns, each in every group.",
    "norm_duplicate": "Give one entry per scale and group.",
    "percentile_order": "List percentile points with increasing score and non-decreasing percentile.",
}

#: Codes of response tables (:func:`surveytool.responses.read_responses`).
RESPONSE_CODES: dict[str, str] = {
    "off_scale": "Give a point of the item's response scale, or leave the cell empty.",
    "not_whole_number": "Answers are whole scale points; round or correct the value.",
    "not_an_answer": "Give a number or a label of the item's response scale.",
    "formula_without_value": (
        "Open the file in a spreadsheet program and save it (that computes the formulas), or "
        "replace the formula by its value."
    ),
    "duplicate_column": "Rename or remove one of the two columns; the first is used.",
    "item_not_in_form": "The item is not in the chosen short form; score the full form to use it.",
    "unmatched_column": "Name item columns by item id, or list the column in ignore_columns.",
    "missing_item": "Add the item's column; until then every answer to it counts as missing.",
    "empty_respondent_id": "Give every row a respondent id.",
    "duplicate_respondent_id": "Give every respondent one row (or one id per row).",
    "critical_in_quarantine": "Review this respondent: a critical check is met in an unscored row.",
}

#: Codes of cohort mapping files and import warnings that the lists above do not already have.
MAPPING_CODES: dict[str, str] = {
    "unknown_column": "Use a column name of the source file (as its header row spells it).",
    "duplicate_item": "Map each item from one source column.",
    "column_roles": (
        "Give each column one role: item, id, group, wave, quasi-identifier, identifier or drop."
    ),
    "recode_conflict": (
        "Name each item in at most one recode rule (besides the rule for all items)."
    ),
    "instrument_mismatch": (
        "Import with the instrument the mapping was written for, or edit its instrument key."
    ),
}

#: Codes of cohort imports: warnings about the data and rows set aside (besides response codes).
IMPORT_CODES: dict[str, str] = {
    "off_by_one": "Add a recode rule with the offset the message gives (in the mapping file).",
    "negative_item_rest": "Check the item's keying and how the source coded it.",
    "declared_column_dropped": "Nothing to do if the column is not needed; it was dropped.",
    "recode_ignored": "The value labels place the codes; remove the recode rule for this item.",
    "unreadable_quasi_identifier": "Correct the unreadable values or generalize them otherwise.",
    "small_class": "Generalize the quasi-identifiers further or raise k.",
    "local_suppression": "Generalize the quasi-identifiers further to blank fewer values.",
    "category_lost": "Merge small categories (generalize: merge) or generalize further.",
    "row_excluded": (
        "Nothing to do: previews, test responses and rows the mapping's filters leave out are "
        "not respondents."
    ),
    "row_unanswered": (
        "Nothing to do: a row with no item answered (in REDCap, an event where the instrument is "
        "not collected) is not a respondent."
    ),
    "row_suppressed": "Generalize the quasi-identifiers further to keep more respondents.",
}

#: Codes of instrument imports from other systems (FHIR Questionnaire, REDCap, XLSForm).
INTERCHANGE_CODES: dict[str, str] = {
    "not_an_instrument": (
        "Give a FHIR Questionnaire (.json), a REDCap data dictionary (.csv) or an XLSForm (.xlsx)."
    ),
    "not_mapped": (
        "Nothing to do if this part is not needed; otherwise add it to the instrument file by hand."
    ),
    "no_scored_items": (
        "Only single-choice questions with numeric (or scored) options become items; check the form."
    ),
    "unknown_form": "Give the name of a form (instrument) of the data dictionary.",
}

#: Every code with its default hint: one list for instruments, responses, mappings and imports.
CODES: dict[str, str] = {
    **INSTRUMENT_CODES,
    **RESPONSE_CODES,
    **MAPPING_CODES,
    **IMPORT_CODES,
    **INTERCHANGE_CODES,
}

IssueKind = Literal["cell", "row", "column"]
ISSUE_KINDS: tuple[IssueKind, ...] = ("cell", "row", "column")

#: The kind of each response code (which part of a table it is about).
RESPONSE_KIND: dict[str, IssueKind] = {
    "off_scale": "cell",
    "not_whole_number": "cell",
    "not_an_answer": "cell",
    "formula_without_value": "cell",
    "duplicate_column": "column",
    "item_not_in_form": "column",
    "unmatched_column": "column",
    "missing_item": "column",
    "empty_respondent_id": "row",
    "duplicate_respondent_id": "row",
    "critical_in_quarantine": "row",
    "row_excluded": "row",
    "row_unanswered": "row",
    "row_suppressed": "row",
}

ISSUE_COLUMNS = ("code", "kind", "row", "column", "respondent_id", "value", "reason")
"""Columns of every issue frame, in order (see the module docstring)."""


@dataclass(frozen=True)
class Problem:
    """One problem: its code, where it is, what is wrong and how to fix it.

    ``column`` is the 1-based character column of ``line`` in a text file; ``field`` is the column
    of a table (an item id, the id column), ``row`` its 1-based data row.
    """

    code: str
    loc: Loc = ()
    message: str = ""
    hint: str = ""
    file: str | None = None
    line: int | None = None
    column: int | None = None
    row: int | None = None
    field: str | None = None
    value: str | None = None
    respondent_id: str | None = None

    @property
    def path(self) -> str:
        """The field path, e.g. ``subscales[2].bands[0].upper``."""
        return format_loc(self.loc)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "code": self.code,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "message": self.message,
            "hint": self.hint,
        }
        for key in ("row", "field", "value", "respondent_id"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


@dataclass
class Report:
    """Every problem of one document (instrument file, mapping file), in file order."""

    file: str | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def codes(self) -> list[str]:
        return [p.code for p in self.problems]

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "ok": self.ok,
            "problems": [p.as_dict() for p in self.problems],
        }

    def format_text(self) -> str:
        """Readable report: one block per problem, ``file:line: code at path``."""
        if self.ok:
            return f"{self.file or '<instrument>'}: ok"
        head = f"{self.file or '<instrument>'}: {len(self.problems)} problem(s)"
        lines = [head]
        for p in self.problems:
            where = p.file or self.file or "<instrument>"
            if p.line is not None:
                where += f":{p.line}"
                if p.column is not None:
                    where += f":{p.column}"
            path = f" at {p.path}" if p.path else ""
            lines.append(f"  {where}: [{p.code}]{path}: {p.message}")
            if p.hint:
                lines.append(f"      hint: {p.hint}")
        return "\n".join(lines)


def format_loc(loc: Loc) -> str:
    """``('items', 3, 'scale')`` -> ``items[3].scale``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def problem(code: str, loc: Loc, message: str, hint: str | None = None) -> Problem:
    """A problem with the code's default hint (unless ``hint`` is given)."""
    return Problem(code=code, loc=loc, message=message, hint=CODES[code] if hint is None else hint)


# ---- the issue frame of response problems --------------------------------------------------


def issue_record(
    code: str,
    reason: str,
    *,
    row: int | None = None,
    column: str | None = None,
    respondent_id: str | None = None,
    value: str | None = None,
) -> dict[str, object]:
    """One row of an issue frame; ``code`` must be a code of :data:`RESPONSE_KIND` (its kind
    follows from it)."""
    return {
        "code": code,
        "kind": RESPONSE_KIND[code],
        "row": row,
        "column": column,
        "respondent_id": respondent_id,
        "value": value,
        "reason": reason,
    }


def issue_frame(records: Iterable[Mapping[str, object]] = ()) -> pd.DataFrame:
    """An issue frame (the columns and dtypes of :data:`ISSUE_COLUMNS`) from records."""
    import pandas as pd

    frame = pd.DataFrame.from_records(list(records), columns=list(ISSUE_COLUMNS))
    frame = frame.astype({c: "object" for c in ISSUE_COLUMNS if c != "row"})
    frame["row"] = frame["row"].astype("Int64")
    return frame


def concat_issues(parts: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Issue frames one after another, as one issue frame."""
    import pandas as pd

    kept = [p for p in parts if len(p)]
    if not kept:
        return issue_frame()
    out = pd.concat(kept, ignore_index=True)
    out["row"] = out["row"].astype("Int64")
    return out


def flatten(issues: pd.DataFrame) -> list[tuple[str, int | None, str | None]]:
    """``(code, row, column)`` of every issue, in order: what tests and programs compare."""
    return [
        (str(code), None if is_missing(row) else int(row), None if is_missing(col) else str(col))
        for code, row, col in zip(issues["code"], issues["row"], issues["column"], strict=True)
    ]


def issue_problems(issues: pd.DataFrame, file: str | None = None) -> list[Problem]:
    """The issues of an issue frame as :class:`Problem` objects (hint from the code)."""
    out = []
    for rec in issues.itertuples(index=False):
        code = str(rec.code)
        out.append(
            Problem(
                code=code,
                message=str(rec.reason),
                hint=CODES.get(code, ""),
                file=file,
                row=None if is_missing(rec.row) else int(cast("SupportsInt", rec.row)),
                field=None if is_missing(rec.column) else str(rec.column),
                value=None if is_missing(rec.value) else str(rec.value),
                respondent_id=None if is_missing(rec.respondent_id) else str(rec.respondent_id),
            )
        )
    return out


def issue_lines(
    issues: pd.DataFrame, limit: int = 20, *, kinds: Mapping[str, int] | None = None
) -> list[str]:
    """A readable summary of an issue frame: the counts, then up to ``limit`` issues.

    ``kinds`` (kind -> number of issues) gives the counts when ``issues`` holds only the first
    issues of more (the Dask engine keeps the others in its quarantine dataset).
    """
    counts = dict(issues["kind"].value_counts()) if kinds is None else dict(kinds)
    total = len(issues) if kinds is None else sum(counts.values())
    summary = ", ".join(f"{counts.get(k, 0)} {k}" for k in ISSUE_KINDS)
    lines = [f"{total} issue(s): {summary}"]
    for rec in issues.head(limit).itertuples(index=False):
        where = f"row {rec.row}, " if not is_missing(rec.row) else ""
        value = f" {rec.value!r}" if not is_missing(rec.value) else ""
        code = f" [{rec.code}]" if not is_missing(rec.code) else ""
        lines.append(f"  {rec.kind}{code}: {where}column {rec.column!r}:{value} {rec.reason}")
    if total > min(limit, len(issues)):
        lines.append(f"  ... and {total - min(limit, len(issues))} more in the quarantine file")
    return lines


def is_missing(value: object) -> bool:
    """A cell that holds no value: None, NaN, pd.NA or NaT (any scalar that is not equal to itself)."""
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN, pd.NA raise or compare unequal
    except TypeError:
        return True
