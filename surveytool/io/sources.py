"""Reading every source file into one table shape: the one reader of responses files.

``surveytool score``, ``surveytool take --answers`` and ``surveytool cohort import`` all read
through :func:`read_source`, so one file gives the same cells whichever command reads it. The
policy, the same for every format:

- cells are what the file holds: delimited text and workbook cells are read as text (ids keep
  their leading zeros, a group code ``1`` stays ``"1"``); numbers stored as numbers by a typed
  format (SPSS, Parquet, JSON) stay numbers; dates become ISO text;
- empty cells, blank text and the :data:`NA_STRINGS` of text files are missing;
- SPSS declared (user-defined) missing values are missing, and counted;
- ``text_columns`` (ids, groups) are text in every format (a number ``7.0`` becomes ``"7"``).

Turning cells into answers (codes, labels, the scale's checks) is the next step's work
(:func:`surveytool.responses.read_responses`), the same for every format.

Formats (FORMATS.md in the project's shared folder describes each export):

``csv`` / ``tsv``
    One header row. Every cell is read as text, so ids keep their leading zeros.
``xlsx``
    The first sheet (or the one asked for). Text cells stay text; a number shown with a
    zero-padding format (``00000``) is read as the padded text; date cells become ISO dates.
    A formula cell reads as its computed (cached) value; a formula saved without one (openpyxl and
    many generators write them so) reads as missing and is listed in ``formula_cells``.
``sav``
    SPSS, read with pyreadstat ``user_missing=True``: declared missing values (discrete or ranges)
    are then set to missing here and counted; value labels and variable labels (the question text)
    are kept for the mapping step.
``parquet``
    Read as is; date and time columns become ISO text like the other formats.
``jsonl``
    JSON lines, one object per row; values keep their JSON types.
``qualtrics``
    A Qualtrics CSV/TSV export: three header rows (export tags, question text, ``{"ImportId": ...}``)
    with data from row 4, or a two-header variant (legacy exports whose first row is ``V1, V2, ...``
    with the metadata names in row 2, or a file whose ImportId row was removed). Responses whose
    ``Status`` is not an ordinary response are excluded and counted; see :data:`QUALTRICS_ORDINARY`.
``redcap``
    A REDCap record export, raw (variable names, codes) or labels (field labels, choice labels).
    Checkbox fields (``field___code`` columns, or ``Label (choice=...)`` in labels exports) are
    collapsed into one column holding the checked codes (or labels) joined by ``;``.
``odk``
    An ODK Central / Briefcase CSV export (``KEY``, ``SubmissionDate``; groups joined with ``-``:
    ``grp-q``) or a KoboToolbox export (``_uuid``, ``_submission_time``; groups joined with ``/``).
    ``KEY`` / ``_uuid`` is the default respondent id; the submission metadata are metadata
    columns; :func:`ungrouped` names the item a group-prefixed column holds; ``select_multiple``
    answers of numeric choices (``1 3``) are joined with ``;`` like REDCap checkboxes.
``fhir``
    A FHIR QuestionnaireResponse (``.json``), a Bundle of them, or a JSON list: one row per
    response, a column per answered ``linkId`` (a coded answer gives its code), and the columns
    ``id`` (the default respondent id), ``questionnaire``, ``status``, ``subject``, ``authored``.

:func:`detect_format` says which format a file is and why; :func:`read_source` reads it into a
:class:`SourceTable`. Rows are numbered from 1 for the first data row, as the scoring engine does.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import hashlib
import io
import itertools
import json
import re
import zipfile
import zlib
from collections import Counter
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from xml.etree import ElementTree

import numpy as np
import pandas as pd

from surveytool.errors import ResponsesError

FormatName = Literal[
    "csv", "tsv", "xlsx", "sav", "parquet", "jsonl", "qualtrics", "redcap", "fhir", "odk"
]
FORMATS: tuple[str, ...] = (
    "auto",
    "csv",
    "tsv",
    "xlsx",
    "sav",
    "parquet",
    "jsonl",
    "qualtrics",
    "redcap",
    "fhir",
    "odk",
)

#: Cells read as "not answered" in text files (FORMULAS.md: blank and NA count as missing).
NA_STRINGS = ("", "NA", "N/A", "n/a", "NaN", "nan", "NULL", "null")


class SourceError(ResponsesError):
    """A source file could not be read, or its format could not be told or is not what was asked."""


_EXTENSIONS: dict[str, FormatName] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".txt": "tsv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".sav": "sav",
    ".zsav": "sav",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "fhir",
}

#: ``Status`` values of an ordinary Qualtrics response: "IP Address" in choice-text exports, 0 in
#: numeric ones. Previews are "Survey Preview" / 1 (as the R package excluder checks); other codes
#: seen in exports ("Survey Test" 2, "Imported" 4, "Spam" 8, "Offline" 16 ...) are not ordinary
#: either. We could not confirm the full code list in Qualtrics' own documentation, so anything
#: else is excluded and counted by value; a mapping can keep more with ``qualtrics.keep_status``.
QUALTRICS_ORDINARY: tuple[str, ...] = ("IP Address", "0")

#: Metadata columns of Qualtrics exports (current and legacy names).
QUALTRICS_METADATA: frozenset[str] = frozenset(
    {
        "StartDate",
        "EndDate",
        "Status",
        "IPAddress",
        "Progress",
        "Duration (in seconds)",
        "Finished",
        "RecordedDate",
        "ResponseId",
        "ResponseID",
        "ResponseSet",
        "RecipientLastName",
        "RecipientFirstName",
        "RecipientEmail",
        "ExternalReference",
        "ExternalDataReference",
        "LocationLatitude",
        "LocationLongitude",
        "LocationAccuracy",
        "DistributionChannel",
        "UserLanguage",
        "Name",
        "EmailAddress",
    }
)
_QUALTRICS_MARKERS = frozenset(
    {"StartDate", "EndDate", "Status", "ResponseId", "ResponseID", "RecordedDate", "Finished"}
)

REDCAP_RAW_METADATA: frozenset[str] = frozenset(
    {
        "redcap_event_name",
        "redcap_repeat_instrument",
        "redcap_repeat_instance",
        "redcap_data_access_group",
        "redcap_survey_identifier",
    }
)
REDCAP_LABEL_METADATA: frozenset[str] = frozenset(
    {
        "Event Name",
        "Repeat Instrument",
        "Repeat Instance",
        "Data Access Group",
        "Survey Identifier",
        "Complete?",
        "Survey Timestamp",
    }
)
_REDCAP_WAVES_RAW = ("redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance")
_REDCAP_WAVES_LABELS = ("Event Name", "Repeat Instrument", "Repeat Instance")
#: Submission metadata of ODK Central / Briefcase and KoboToolbox exports (besides meta groups).
ODK_METADATA: frozenset[str] = frozenset(
    {
        "KEY",
        "PARENT_KEY",
        "SubmissionDate",
        "SubmitterID",
        "SubmitterName",
        "AttachmentsPresent",
        "AttachmentsExpected",
        "Status",
        "ReviewState",
        "DeviceID",
        "Edits",
        "FormVersion",
        "start",
        "end",
        "today",
        "deviceid",
        "username",
        "phonenumber",
        "simserial",
        "subscriberid",
        "audit",
        "__version__",
    }
)
_ODK_MARKERS = frozenset({"SubmissionDate", "meta-instanceID", "SubmitterID", "ReviewState"})
_KOBO_MARKERS = frozenset({"_submission_time", "_id", "_index", "_validation_status"})
_CHECKBOX_RAW = re.compile(r"^(?P<field>.+?)___(?P<code>[^_].*)$")
_CHECKBOX_LABEL = re.compile(r"^(?P<field>.+?) \(choice=(?P<code>.*)\)$")


@dataclass(frozen=True)
class Detection:
    """The format assumed for a file and why."""

    format: FormatName
    variant: str
    reason: str


@dataclass
class SourceTable:
    """A source file read into one shape, with what the mapping step needs to know about it.

    ``frame`` holds the data rows (every column, nothing dropped yet); ``source_rows`` the 1-based
    data-row number of each of its rows in the file (rows excluded by the reader, such as Qualtrics
    previews, leave gaps); ``rows_read`` counts every data row of the file.
    ``formula_cells`` lists, per column, the workbook cells that hold a formula without a computed
    value as ``(0-based position in frame, formula)``: they read as missing in ``frame`` and are
    reported by :func:`surveytool.responses.read_responses` (its ``formula_cells`` parameter).
    """

    path: Path
    format: FormatName
    variant: str
    detected: str
    frame: pd.DataFrame
    source_rows: np.ndarray
    rows_read: int
    question_text: dict[str, str] = field(default_factory=dict)
    import_ids: dict[str, str] = field(default_factory=dict)
    value_labels: dict[str, dict[float, str]] = field(default_factory=dict)
    metadata_columns: tuple[str, ...] = ()
    default_id_column: str | None = None
    wave_columns: tuple[str, ...] = ()
    suggested_groups: tuple[str, ...] = ()
    categorical_columns: tuple[str, ...] = ()
    excluded: dict[str, int] = field(default_factory=dict)
    excluded_rows: tuple[tuple[int, str], ...] = ()
    missing_declared: dict[str, int] = field(default_factory=dict)
    formula_cells: dict[str, tuple[tuple[int, str], ...]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @functools.cached_property
    def sha256(self) -> str:
        """SHA-256 of the file's bytes (the ledger's key for "this file was imported")."""
        return file_sha256(self.path)

    @property
    def rows_excluded(self) -> int:
        return sum(self.excluded.values())

    @property
    def format_line(self) -> str:
        variant = f" ({self.variant})" if self.variant else ""
        return f"{self.format}{variant}; {self.detected}"


def file_sha256(path: Path) -> str:
    """SHA-256 of the file's bytes (the ledger's key for "this file was imported")."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


# ---------------------------------------------------------------------------------------------
# text files
# ---------------------------------------------------------------------------------------------
def _decode(path: Path) -> str:
    raw = path.read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # Qualtrics TSV exports are UTF-16
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise SourceError(f"{path}: not valid UTF-16 text ({exc.reason})") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8 "
            "(in Excel: 'CSV UTF-8') and import it again"
        ) from None


def _delimiter(path: Path, text: str) -> str:
    first = text.split("\n", 1)[0]
    counts = {sep: first.count(sep) for sep in (",", "\t", ";")}
    best = max(counts, key=lambda sep: counts[sep])
    if counts[best] == 0:
        return "\t" if _EXTENSIONS.get(path.suffix.lower()) == "tsv" else ","
    return best


def _parse_rows(path: Path, text: str, sep: str) -> pd.DataFrame:
    """Every row of a delimited text as text cells (no header interpretation)."""
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            header=None,
            dtype=str,
            keep_default_na=False,
            na_values=list(NA_STRINGS),
            skip_blank_lines=True,
        )
    except pd.errors.EmptyDataError:
        raise SourceError(f"{path}: the file is empty; export the data again") from None
    except (pd.errors.ParserError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0]
        raise SourceError(f"{path}: cannot read it as delimited text: {reason}") from None
    return frame


def _header(values: Iterable[object]) -> list[str]:
    """Column names from a header row: text, blanks named ``Unnamed: i``, repeats suffixed ``.n``."""
    names: list[str] = []
    seen: Counter[str] = Counter()
    for i, value in enumerate(values):
        name = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
        name = name.strip() or f"Unnamed: {i}"
        if seen[name]:
            candidate = f"{name}.{seen[name]}"
            while candidate in seen:
                seen[name] += 1
                candidate = f"{name}.{seen[name]}"
            seen[name] += 1
            seen[candidate] += 1
            names.append(candidate)
            continue
        seen[name] += 1
        names.append(name)
    return names


def _row_texts(frame: pd.DataFrame, i: int) -> list[str]:
    if i >= len(frame):
        return []
    return ["" if pd.isna(v) else str(v) for v in frame.iloc[i].tolist()]


def _looks_like_date(text: str) -> bool:
    return bool(re.match(r"^\d{4}-\d{2}-\d{2}|^\d{1,2}/\d{1,2}/\d{2,4}", text.strip()))


def _first_rows(text: str, sep: str, n: int = 3) -> list[list[str]]:
    """The first ``n`` rows of delimited text (a quoted field cut off at the end is no error)."""
    try:
        return [
            [cell.strip() for cell in row]
            for row in itertools.islice(csv.reader(io.StringIO(text), delimiter=sep), n)
        ]
    except csv.Error:
        return []


def _sniff_text(head: str, sep: str) -> Detection | None:
    """Qualtrics or REDCap, told from the first rows of a delimited file; None for a plain table."""
    rows = [*_first_rows(head, sep), [], [], []]
    first, second, third = rows[0], rows[1], rows[2]
    if any(cell.lstrip().startswith('{"ImportId"') for cell in third):
        return Detection("qualtrics", "three header rows", 'row 3 holds {"ImportId": ...} blobs')
    if first[:3] == ["V1", "V2", "V3"] and "ResponseID" in second:
        return Detection(
            "qualtrics", "legacy two header rows", "row 1 is V1, V2, ... and row 2 names ResponseID"
        )
    markers = _QUALTRICS_MARKERS.intersection(first)
    if len(markers) >= 3 and "StartDate" in first:
        below = second[first.index("StartDate")] if len(second) > first.index("StartDate") else ""
        if below and not _looks_like_date(below):
            return Detection(
                "qualtrics",
                "two header rows",
                f"Qualtrics metadata columns ({', '.join(sorted(markers))}) with question text in row 2",
            )
    if "KEY" in first and _ODK_MARKERS.intersection(first):
        return Detection("odk", "ODK Central/Briefcase", "KEY and SubmissionDate columns")
    if "_uuid" in first and _KOBO_MARKERS.intersection(first):
        return Detection("odk", "KoboToolbox", "_uuid and _submission_time columns")
    if first and (first[0] == "record_id" or REDCAP_RAW_METADATA.intersection(first)):
        return Detection("redcap", "raw", "REDCap column names (record_id, redcap_*)")
    if first and (first[0] == "Record ID" or {"Event Name", "Complete?"}.intersection(first)):
        return Detection("redcap", "labels", "REDCap label headers (Record ID, Complete? ...)")
    if first and any(c.endswith("_complete") for c in first) and first[0].endswith("id"):
        return Detection("redcap", "raw", "a record id first and <form>_complete columns")
    return None


def detect_format(
    path: str | Path, requested: str = "auto", given_by: str = "the format parameter"
) -> Detection:
    """The format of ``path``: the one requested, else told from the extension and the content.

    ``given_by`` names where a requested format came from, for the record of what was assumed.
    """
    path = Path(path)
    if requested not in FORMATS:
        raise SourceError(f"unknown format {requested!r}; use one of {', '.join(FORMATS)}")
    if not path.is_file():
        raise SourceError(f"{path}: no such file; check the path")
    by_extension = _EXTENSIONS.get(path.suffix.lower())
    if requested != "auto":
        fmt: FormatName = requested  # type: ignore[assignment]
        variant = ""
        if fmt in ("qualtrics", "redcap", "odk"):
            found = _sniff_text(*_sample(path))
            if found is not None and found.format == fmt:
                variant = found.variant
            elif fmt == "qualtrics":
                variant = "two header rows"
            elif fmt == "odk":
                variant = "KoboToolbox" if "/" in _sample(path)[0].split("\n", 1)[0] else "ODK"
            else:
                variant = "labels" if "Record ID" in _sample(path)[0].split("\n", 1)[0] else "raw"
        return Detection(fmt, variant, f"given by {given_by}")
    if by_extension is None:
        raise SourceError(
            f"{path}: cannot tell the format from the extension {path.suffix or '(none)'!r}; "
            f"give the format ({', '.join(FORMATS[1:])})"
        )
    if by_extension in ("csv", "tsv"):
        found = _sniff_text(*_sample(path))
        if found is not None:
            return found
        sep = _sample(path)[1]
        kind: FormatName = "tsv" if sep == "\t" else "csv"
        return Detection(kind, "", f"extension {path.suffix} and {_sep_name(sep)}-separated text")
    return Detection(by_extension, "", f"extension {path.suffix}")


def _sep_name(sep: str) -> str:
    return {",": "comma", "\t": "tab", ";": "semicolon"}[sep]


def _sample(path: Path) -> tuple[str, str]:
    """The start of a text file (enough for three rows with quoted newlines) and its separator."""
    with path.open("rb") as handle:
        raw = handle.read(1 << 20)
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        head = raw[: len(raw) - len(raw) % 2].decode("utf-16", errors="replace")
    else:
        head = raw.decode("utf-8-sig", errors="replace")
    return head, _delimiter(path, head)


def _read_delimited(path: Path, detection: Detection) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Data frame, header row 2 (question text) and row 3 (import ids) for text formats."""
    text = _decode(path)
    sep = _delimiter(path, text)
    rows = _parse_rows(path, text, sep)
    if rows.empty:
        raise SourceError(f"{path}: the file has no header row; export the data again")
    header_rows = 1
    second: list[str] = []
    third: list[str] = []
    names_row = _row_texts(rows, 0)
    if detection.format == "qualtrics":
        second = _row_texts(rows, 1)
        if detection.variant == "three header rows":
            third = _row_texts(rows, 2)
            header_rows = 3
        else:
            header_rows = 2
            if detection.variant.startswith("legacy"):
                # legacy: row 1 is V1, V2 ... for metadata; their names are in row 2
                names_row = [
                    second[i] if re.fullmatch(r"V\d+", name) and i < len(second) else name
                    for i, name in enumerate(names_row)
                ]
    names = _header(names_row)
    data = rows.iloc[header_rows:].reset_index(drop=True)
    data.columns = pd.Index(names)
    return data, second, third


# ---------------------------------------------------------------------------------------------
# binary formats
# ---------------------------------------------------------------------------------------------
_ZERO_PAD = re.compile(r"^0+$")


def _excel_cell(value: object, number_format: str) -> object:
    """One spreadsheet cell as text: padded ids kept, whole numbers without ``.0``, ISO dates."""
    if value is None:
        return pd.NA
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep="T")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        if isinstance(value, float) and not value.is_integer():
            return repr(value)
        number = int(value)
        fmt = (number_format or "").strip()
        if _ZERO_PAD.match(fmt) and number >= 0:
            return str(number).zfill(len(fmt))
        return str(number)
    text = str(value)
    return text if text.strip() else pd.NA


#: What a damaged workbook raises while its sheets are read (openpyxl reads them lazily): a zip
#: member cut short or failing its CRC, XML that does not parse, an attribute out of range.
_WORKBOOK_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    SyntaxError,  # XML that does not parse (ElementTree's and lxml's errors)
    OSError,
    KeyError,
    ValueError,
    TypeError,
    IndexError,
)


def _open_workbook(path: Path, *, data_only: bool) -> Any:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=data_only)
    except (InvalidFileException, *_WORKBOOK_ERRORS) as exc:
        raise SourceError(f"{path}: cannot read it as an Excel workbook: {exc}") from None


def _sheet_name(path: Path, names: list[str], sheet: str | int | None) -> str:
    if sheet is None:
        return names[0]
    if isinstance(sheet, int) or (isinstance(sheet, str) and sheet.isdigit()):
        index = int(sheet)
        if not 0 <= index < len(names):
            raise SourceError(
                f"{path}: there is no sheet number {index}; its sheets (from 0) are: "
                + ", ".join(f"{i}={n!r}" for i, n in enumerate(names))
            )
        return names[index]
    if sheet in names:
        return sheet
    raise SourceError(
        f"{path}: there is no sheet {sheet!r}; its sheets are: {', '.join(map(repr, names))}"
    )


def _damaged(path: Path, exc: BaseException) -> SourceError:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return SourceError(
        f"{path}: cannot read it as an Excel workbook, it is damaged ({reason}); "
        "open it in a spreadsheet program and save it again, or export the data as CSV"
    )


def _formula_text(value: object) -> str | None:
    """The formula of a cell read with ``data_only=False`` (None for a cell that holds a value)."""
    text = getattr(value, "text", value)  # ArrayFormula keeps its formula in .text
    if isinstance(text, str) and text.startswith("="):
        return text
    if type(value).__name__ == "DataTableFormula":
        return "=TABLE()"
    return None


def _uncached_formulas(
    path: Path, chosen: str, rows: list[list[object]]
) -> dict[str, tuple[tuple[int, str], ...]]:
    """Data cells read as empty whose workbook cell holds a formula without a computed value.

    ``data_only=True`` gives a formula cell's cached value; files written by openpyxl and many
    generators hold the formula alone, which then reads as empty. A second pass over the sheet
    with the formulas finds those cells, so they are reported rather than taken as unanswered.
    Keys are column positions as text until the header is known (see :func:`_read_xlsx`).
    """
    if not any(v is pd.NA for r in rows[1:] for v in r):
        return {}
    candidates: list[tuple[int, int, str, str]] = []  # row, column, coordinate, formula
    book = _open_workbook(path, data_only=False)
    try:
        for i, row in enumerate(book[chosen].iter_rows()):
            if i == 0 or i >= len(rows):
                continue
            read = rows[i]
            for j, cell in enumerate(row):
                if j < len(read) and read[j] is pd.NA:
                    formula = _formula_text(getattr(cell, "value", None))
                    if formula is not None:
                        coordinate = str(getattr(cell, "coordinate", ""))
                        candidates.append((i - 1, j, coordinate, formula))
        cached = (
            _cached_values(path, chosen, {c for _, _, c, _ in candidates}) if candidates else set()
        )
    except _WORKBOOK_ERRORS as exc:
        raise _damaged(path, exc) from None
    finally:
        book.close()
    found: dict[str, list[tuple[int, str]]] = {}
    for position, j, coordinate, formula in candidates:
        if coordinate not in cached:  # an empty text value (=IF(..., "", ...)) is a value
            found.setdefault(str(j), []).append((position, formula))
    return {k: tuple(v) for k, v in found.items()}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _holds_value(cell: ElementTree.Element) -> bool:
    """A formula cell's cached value: text in ``<v>``, or an empty ``<v>`` of a text cell
    (``t="str"``; openpyxl writes an empty ``<v/>`` with no type for "not computed")."""
    for child in cell:
        if _local(child.tag) == "v":
            return bool(child.text) or cell.get("t") in ("str", "s", "inlineStr")
    return False


def _cached_values(path: Path, chosen: str, coordinates: set[str]) -> set[str]:
    """Which of these formula cells of sheet ``chosen`` do hold a cached value, if an empty one.

    openpyxl reads an empty cached text (``<c t="str"><f>..</f><v></v></c>``, what Excel saves
    for a formula giving ``""``) as no value at all; the sheet's XML tells the two apart. Sheets are found as the workbook part
    names them (transitional or strict OOXML alike).
    """
    with zipfile.ZipFile(path) as archive:
        if not {"xl/workbook.xml", "xl/_rels/workbook.xml.rels"} <= set(archive.namelist()):
            return set()  # parts elsewhere: every candidate counts as not computed
        workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        rid = next(
            (
                value
                for sheet in workbook.iter()
                if _local(sheet.tag) == "sheet" and sheet.get("name") == chosen
                for key, value in sheet.attrib.items()
                if _local(key) == "id"
            ),
            None,
        )
        rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
        target = next((r.get("Target", "") for r in rels if r.get("Id") == rid), "")
        if not target:
            return set()
        member = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
        cached: set[str] = set()
        with archive.open(member) as sheet_xml:
            for _event, element in ElementTree.iterparse(sheet_xml):
                if _local(element.tag) != "c":
                    continue
                if element.get("r") in coordinates and _holds_value(element):
                    cached.add(str(element.get("r")))
                element.clear()
    return cached


def _read_xlsx(
    path: Path, sheet: str | int | None
) -> tuple[pd.DataFrame, list[str], dict[str, tuple[tuple[int, str], ...]]]:
    """The chosen sheet as text cells, notes, and its formula cells without a value (by column)."""
    notes: list[str] = []
    book = _open_workbook(path, data_only=True)
    try:
        names = book.sheetnames
        chosen = _sheet_name(path, names, sheet)
        rows: list[list[object]] = []
        for row in book[chosen].iter_rows():
            cells = [
                _excel_cell(getattr(c, "value", None), getattr(c, "number_format", "")) for c in row
            ]
            rows.append(cells)
    except _WORKBOOK_ERRORS as exc:
        raise _damaged(path, exc) from None
    finally:
        book.close()
    while rows and all(v is pd.NA for v in rows[-1]):
        rows.pop()
    if not rows or all(v is pd.NA for v in rows[0]):
        others = [n for n in names if n != chosen]
        hint = f"; choose another sheet ({', '.join(map(repr, others))})" if others else ""
        raise SourceError(f"{path}: sheet {chosen!r} has no header row{hint}")
    if len(names) > 1:
        notes.append(f"read sheet {chosen!r} of {len(names)} ({', '.join(map(repr, names))})")
    width = max(len(r) for r in rows)
    padded = [r + [pd.NA] * (width - len(r)) for r in rows]
    header = _header(padded[0])
    frame = pd.DataFrame(padded[1:], columns=header, dtype=object)
    formulas = {
        header[int(j)]: cells for j, cells in _uncached_formulas(path, chosen, padded).items()
    }
    if formulas:
        count = sum(len(v) for v in formulas.values())
        notes.append(
            f"{count} cell(s) hold a formula without a computed value (the program that wrote the "
            "file did not compute it); they are reported and count as missing"
        )
    return frame, notes, formulas


def _iso_dates(frame: pd.DataFrame) -> pd.DataFrame:
    """Date, time and datetime columns (and cells) as ISO text, as spreadsheets are read."""
    out = frame
    for col in out.columns:
        series = out[col]
        if pd.api.types.is_datetime64_any_dtype(series.dtype):
            stamps = pd.to_datetime(series)
            midnight = (stamps.dropna() == stamps.dropna().dt.normalize()).all()
            text = stamps.dt.strftime("%Y-%m-%d" if midnight else "%Y-%m-%dT%H:%M:%S")
            out[col] = text.astype(object).where(stamps.notna(), pd.NA)
        elif series.dtype == object:
            sample = series.dropna()
            if len(sample) and sample.map(lambda v: isinstance(v, dt.date | dt.time)).any():
                out[col] = series.map(
                    lambda v: _excel_cell(v, "") if isinstance(v, dt.date | dt.time) else v
                )
    return out


def _read_sav(path: Path) -> tuple[pd.DataFrame, Any]:
    import pyreadstat

    try:
        frame, meta = pyreadstat.read_sav(str(path), user_missing=True)
    except Exception as exc:  # pyreadstat's own error classes: one line, no traceback
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SourceError(f"{path}: cannot read it as an SPSS .sav file: {reason}") from None
    return frame, meta


def _declared_missing(frame: pd.DataFrame, meta: Any) -> dict[str, int]:
    """Set SPSS user-missing values (discrete values and ranges) to missing; counts per column."""
    counts: dict[str, int] = {}
    ranges: dict[str, list[dict[str, Any]]] = dict(getattr(meta, "missing_ranges", {}) or {})
    discrete: dict[str, list[Any]] = dict(getattr(meta, "missing_user_values", {}) or {})
    for col in frame.columns:
        rules = ranges.get(col, [])
        values = discrete.get(col, [])
        if not rules and not values:
            continue
        series = frame[col]
        mask = np.zeros(len(series), dtype=bool)
        if pd.api.types.is_numeric_dtype(series.dtype):
            numbers = series.to_numpy(dtype=np.float64, na_value=np.nan)
            with np.errstate(invalid="ignore"):
                for rule in rules:
                    mask |= (numbers >= float(rule["lo"])) & (numbers <= float(rule["hi"]))
            mask |= np.isin(numbers, [v for v in values if isinstance(v, int | float)])
        else:
            text = series.astype("string")
            wanted = [str(r["lo"]) for r in rules if r["lo"] == r["hi"]] + [str(v) for v in values]
            mask |= text.isin(wanted).to_numpy(dtype=bool, na_value=False)
        if mask.any():
            counts[col] = int(mask.sum())
            frame.loc[mask, col] = np.nan
    return counts


def _is_declared_missing(meta: Any, column: str, code: float) -> bool:
    """Whether an SPSS code is one of the variable's declared missing values (then it has no label)."""
    for rule in (getattr(meta, "missing_ranges", {}) or {}).get(column, []):
        try:
            if float(rule["lo"]) <= float(code) <= float(rule["hi"]):
                return True
        except (TypeError, ValueError):
            continue
    return code in ((getattr(meta, "missing_user_values", {}) or {}).get(column, []))


# ---------------------------------------------------------------------------------------------
# format-specific shaping
# ---------------------------------------------------------------------------------------------
def _qualtrics(
    table: SourceTable, second: list[str], third: list[str], keep_status: Sequence[str]
) -> None:
    names = list(table.frame.columns)
    for i, name in enumerate(names):
        if i < len(second) and second[i]:
            table.question_text[name] = second[i]
        if i < len(third) and third[i]:
            try:
                blob = json.loads(third[i])
            except json.JSONDecodeError:
                continue
            if isinstance(blob, dict) and isinstance(blob.get("ImportId"), str):
                table.import_ids[name] = blob["ImportId"]
    table.metadata_columns = tuple(
        c for c in names if c in QUALTRICS_METADATA or c.startswith("Q_")
    )
    table.default_id_column = next((c for c in ("ResponseId", "ResponseID") if c in names), None)
    if "Status" not in names:
        table.notes.append("no Status column: every response is taken as ordinary")
        return
    ordinary = {s.strip().casefold() for s in (*QUALTRICS_ORDINARY, *keep_status)}
    status = table.frame["Status"].astype("string").str.strip()
    keep = (status.isna() | status.str.casefold().isin(ordinary)).to_numpy(dtype=bool)
    if keep.all():
        return
    dropped = status[~keep]
    table.excluded = {str(k): int(v) for k, v in Counter(dropped.tolist()).items()}
    positions = np.flatnonzero(~keep)
    table.excluded_rows = tuple(
        (int(table.source_rows[p]), f"Qualtrics Status {status.iloc[p]!r}") for p in positions
    )
    table.frame = table.frame.loc[keep].reset_index(drop=True)
    table.source_rows = table.source_rows[keep]
    what = ", ".join(f"{v} {k!r}" for k, v in sorted(table.excluded.items()))
    table.notes.append(
        f"excluded {int((~keep).sum())} response(s) that are not ordinary ({what}); "
        "keep a status with the keep_status parameter (in a mapping: qualtrics.keep_status)"
    )


def _collapse_checkboxes(table: SourceTable, labels: bool) -> None:
    """REDCap checkbox options -> one column per field with the checked options joined by ``;``."""
    pattern = _CHECKBOX_LABEL if labels else _CHECKBOX_RAW
    groups: dict[str, list[tuple[str, str]]] = {}
    for col in table.frame.columns:
        match = pattern.match(str(col))
        if match:
            groups.setdefault(match["field"], []).append((str(col), match["code"]))
    frame = table.frame
    for field_name, options in groups.items():
        if field_name in frame.columns and field_name not in [c for c, _ in options]:
            continue  # a real column already has this name: leave the options alone
        checked_values = {"checked", "1", "1.0", "true", "yes"}
        parts = []
        for col, code in options:
            on = frame[col].astype("string").str.strip().str.casefold().isin(checked_values)
            parts.append(np.where(on.to_numpy(dtype=bool, na_value=False), code, ""))
        stacked = np.column_stack(parts)
        joined = [";".join(x for x in row if x) for row in stacked]
        answered_any = np.zeros(len(frame), dtype=bool)
        for col, _ in options:
            answered_any |= frame[col].notna().to_numpy(dtype=bool)
        answered = [bool(a) for a in answered_any]
        values = pd.Series(
            [j if a else pd.NA for j, a in zip(joined, answered, strict=True)], dtype=object
        )
        position = list(frame.columns).index(options[0][0])
        frame = frame.drop(columns=[c for c, _ in options])
        frame.insert(min(position, len(frame.columns)), field_name, values)
        table.categorical_columns = (*table.categorical_columns, field_name)
        table.notes.append(
            f"REDCap checkbox field {field_name!r}: {len(options)} option columns collapsed into "
            "one column of checked options joined by ';'"
        )
    table.frame = frame


def _redcap(table: SourceTable, labels: bool) -> None:
    _collapse_checkboxes(table, labels)
    names = [str(c) for c in table.frame.columns]
    if labels:
        meta = [
            c
            for c in names
            if c.split(".")[0] in REDCAP_LABEL_METADATA or c.split(".")[0].endswith("Timestamp")
        ]
        waves = tuple(c for c in _REDCAP_WAVES_LABELS if c in names)
        dag = "Data Access Group"
        first = "Record ID" if "Record ID" in names else (names[0] if names else None)
    else:
        meta = [
            c for c in names if c in REDCAP_RAW_METADATA or c.endswith(("_complete", "_timestamp"))
        ]
        waves = tuple(c for c in _REDCAP_WAVES_RAW if c in names)
        dag = "redcap_data_access_group"
        first = names[0] if names else None
    table.metadata_columns = tuple(meta)
    table.wave_columns = waves
    table.default_id_column = first
    table.suggested_groups = (dag,) if dag in names else ()


def _odk_separator(table: SourceTable) -> str:
    return "/" if table.variant.startswith("Kobo") else "-"


def _odk(table: SourceTable) -> None:
    names = [str(c) for c in table.frame.columns]
    sep = _odk_separator(table)
    table.metadata_columns = tuple(
        c
        for c in names
        if c in ODK_METADATA or c.startswith("_") or c.split(sep)[0] in ("meta", "formhub")
    )
    table.default_id_column = next((c for c in ("KEY", "_uuid") if c in names), None)
    multiple = re.compile(r"^-?\d+(?:\s+-?\d+)+$")
    for col in names:
        if col in table.metadata_columns:
            continue
        values = table.frame[col].dropna().astype(str).str.strip()
        many = values.str.fullmatch(multiple.pattern)
        if len(values) and bool(many.any()) and bool((many | values.str.fullmatch(r"-?\d+")).all()):
            joined = (
                table.frame[col]
                .astype(object)
                .map(lambda v: ";".join(str(v).split()) if isinstance(v, str) else v)
            )
            table.frame[col] = joined
            table.categorical_columns = (*table.categorical_columns, col)
            table.notes.append(
                f"select_multiple column {col!r}: choices separated by spaces joined by ';'"
            )


def ungrouped(table: SourceTable, column: str, known: Container[str]) -> str | None:
    """The item a group-prefixed ODK/Kobo column holds (``grp-sub-q`` -> ``q``), when the rest
    of its name (after one or more group names) is in ``known``; None otherwise."""
    if table.format != "odk":
        return None
    sep = _odk_separator(table)
    parts = column.split(sep)
    for start in range(1, len(parts)):
        rest = sep.join(parts[start:])
        if rest in known:
            return rest
    return None


def _text_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Blank text cells as missing in text columns (readers differ on this): object, pd.NA."""
    out = frame
    for col in out.columns:
        series = out[col]
        if pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
            continue
        text = series.astype("string").str.strip()
        blank = text.eq("").fillna(False).to_numpy(dtype=bool)
        if series.dtype != object or blank.any():
            out[col] = series.astype(object).mask(blank | series.isna().to_numpy(), pd.NA)
    return out


def _as_text(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    """``columns`` as text: whole-number floats (1.0 from a numeric column) written as "1"."""
    for col in columns:
        if col not in frame.columns:
            continue
        values = frame[col]
        if not (pd.api.types.is_numeric_dtype(values.dtype) or values.dtype == object):
            continue
        if pd.api.types.is_float_dtype(values.dtype):
            present = values.dropna()
            if bool((present == present.round()).all()):
                values = values.astype("Int64")
        if values.dtype == object:
            if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
                continue
            texts = [v if isinstance(v, str) or v is pd.NA else _cell_text(v) for v in values]
            frame[col] = pd.Series(texts, index=frame.index, dtype=object)
        else:
            text = values.astype("string")
            frame[col] = text.astype(object).mask(text.isna().to_numpy(dtype=bool), pd.NA)


def _cell_text(value: object) -> object:
    """One JSON or Python cell as text (None and NaN missing; 7.0 as "7")."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return pd.NA
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return str(value)


def _read_jsonl(path: Path) -> pd.DataFrame:
    try:
        return pd.read_json(path, lines=True, dtype=False)
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path}: not UTF-8 text ({exc.reason}); save it as UTF-8") from None
    except ValueError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SourceError(f"{path}: cannot read it as JSON lines: {reason}") from None


def _read_fhir(path: Path) -> pd.DataFrame:
    """QuestionnaireResponses (one, a Bundle, or a list) as rows of answers."""
    from surveytool.interchange.fhir import ResponseFileError, response_rows

    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path}: not UTF-8 text ({exc.reason}); save it as UTF-8") from None
    except json.JSONDecodeError as exc:
        raise SourceError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    try:
        rows = response_rows(data)
    except ResponseFileError as exc:
        raise SourceError(f"{path}: {exc}") from None
    if not rows:
        raise SourceError(f"{path}: the Bundle holds no QuestionnaireResponse")
    return pd.DataFrame(rows, dtype=object)  # unanswered: NaN, made NA with the other formats


def read_source(
    path: str | Path,
    *,
    format: str = "auto",
    sheet: str | int | None = None,
    keep_status: Sequence[str] = (),
    given_by: str = "the format parameter",
    text_columns: Sequence[str] = (),
) -> SourceTable:
    """Read a source file (see the module docstring for each format).

    Parameters
    ----------
    path
        The export or table.
    format
        ``auto`` (from the extension and the first rows) or one of :data:`FORMATS`.
    sheet
        Workbook sheet name or 0-based number (default the first).
    keep_status
        Qualtrics ``Status`` values to keep besides ordinary responses (e.g. ``Imported``).
    given_by
        Where a format other than ``auto`` came from (``the format parameter``, ``the mapping``).
    text_columns
        Columns read as text in every format (ids, groups): whole numbers without ``.0``.
    """
    path = Path(path)
    detection = detect_format(path, format, given_by)
    second: list[str] = []
    third: list[str] = []
    notes: list[str] = []
    labels: dict[str, dict[float, str]] = {}
    questions: dict[str, str] = {}
    missing: dict[str, int] = {}
    formulas: dict[str, tuple[tuple[int, str], ...]] = {}
    if detection.format in ("csv", "tsv", "qualtrics", "redcap", "odk"):
        if _EXTENSIONS.get(path.suffix.lower(), "csv") not in ("csv", "tsv"):
            raise SourceError(
                f"{path}: the format {detection.format!r} reads delimited text (.csv, .tsv), "
                f"not a {path.suffix} file; give the format 'auto' or export the data as CSV"
            )
        frame, second, third = _read_delimited(path, detection)
    elif detection.format == "xlsx":
        frame, notes, formulas = _read_xlsx(path, sheet)
    elif detection.format == "sav":
        frame, meta = _read_sav(path)
        missing = _declared_missing(frame, meta)
        labels = {
            str(k): {
                float(code): str(text)
                for code, text in v.items()
                if isinstance(code, int | float) and not _is_declared_missing(meta, str(k), code)
            }
            for k, v in (meta.variable_value_labels or {}).items()
        }
        questions = {str(k): str(v) for k, v in (meta.column_names_to_labels or {}).items() if v}
        frame = _iso_dates(frame)
    elif detection.format == "jsonl":
        frame = _iso_dates(_read_jsonl(path))
    elif detection.format == "fhir":
        frame = _read_fhir(path)
    else:
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # pyarrow's errors: one line
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SourceError(f"{path}: cannot read it as Parquet: {reason}") from None
        frame = _iso_dates(frame)
        for col in frame.columns:
            if isinstance(frame[col].dtype, pd.CategoricalDtype):
                frame[col] = frame[col].astype(object)
    if not isinstance(frame.index, pd.RangeIndex) or frame.index.start != 0:
        frame = frame.reset_index(drop=True)
    frame = _text_columns(frame)
    frame.columns = pd.Index(_header(frame.columns))
    _as_text(frame, text_columns)
    n = len(frame)
    if n == 0:
        raise SourceError(f"{path}: the file has a header but no data rows")
    table = SourceTable(
        path=path,
        format=detection.format,
        variant=detection.variant,
        detected=detection.reason,
        frame=frame,
        source_rows=np.arange(1, n + 1, dtype=np.int64),
        rows_read=n,
        question_text=questions,
        value_labels=labels,
        missing_declared=missing,
        formula_cells=formulas,
        notes=notes,
    )
    if labels:
        table.categorical_columns = tuple(c for c in labels if c in table.frame.columns)
    if missing:
        total = sum(missing.values())
        table.notes.append(
            f"SPSS declared missing values read as missing: {total} cell(s) in {len(missing)} "
            "column(s)"
        )
    if detection.format == "qualtrics":
        _qualtrics(table, second, third, keep_status)
    elif detection.format == "redcap":
        _redcap(table, labels=detection.variant == "labels")
    elif detection.format == "odk":
        _odk(table)
    elif detection.format == "fhir":
        from surveytool.interchange.fhir import RESPONSE_COLUMNS

        table.metadata_columns = tuple(c for c in RESPONSE_COLUMNS if c in table.frame.columns)
        table.default_id_column = "id"
    elif detection.format in ("csv", "tsv") and format != "auto":
        found = _sniff_text(*_sample(path))
        if found is not None:
            table.notes.append(
                f"this looks like a {found.format} export ({found.reason}); "
                "the format 'auto' would read it as one"
            )
    return table
