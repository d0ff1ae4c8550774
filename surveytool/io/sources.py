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
    One header row. Every cell is read as text, so ids keep their leading zeros. The separator
    (``,``, tab, ``;`` or ``|``) is told from the first row, whatever the extension
    (:func:`sniff_delimiter`); :func:`refuse_unsplit` refuses a file that still reads as one
    column while the instrument has many items.
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
    Read through Arrow, typed (:func:`arrow_frame`): numbers stay numbers without a round trip
    through text, each column's dtype decided by the file's schema (a nullable integer field as
    ``Int64``, exact), text stays text; date and time columns become ISO text like the other
    formats.
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
    collapsed into one column holding the checked codes (or labels) joined by ``;``. REDCap writes
    a code's characters other than letters and digits as ``_`` (code -99 of ``race`` is the column
    ``race____99``): with the project's data dictionary (``dictionary``, see
    :func:`read_redcap_dictionary`) the codes are the dictionary's; without it, a code written
    with a leading ``_`` before digits is read as negative (``-99``) and a note says so. The
    event, arm and repeat-instrument columns are coded choices (never free text); the arm is
    separated from the event into its own column (``redcap_arm``, or ``Arm`` in labels exports).
    The dictionary also gives field labels (question text), choice labels (value labels, as SPSS
    value labels are used), the fields flagged "Identifier?" and the form of each field.
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

A file named as text (``.csv``, ``.tsv``, ``.json`` ...) that is compressed (gzip, bzip2, xz,
Zstandard), an archive (zip, 7-Zip), a workbook or another format's file is told by its first
bytes and refused with what it is and how to fix it (``gunzip -c ...``), never read as bad text.

:func:`detect_format` says which format a file is and why; :func:`read_source` reads it into a
:class:`SourceTable`. Rows are numbered from 1 for the first data row, as the scoring engine does.
"""

from __future__ import annotations

import ast
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
from collections.abc import Callable, Collection, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal
from xml.etree import ElementTree

import numpy as np
import pandas as pd

from surveytool.errors import ResponsesError

if TYPE_CHECKING:
    import pyarrow as pa

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
_CHECKBOX_RAW = re.compile(r"^(?P<field>[A-Za-z][A-Za-z0-9_]*?)___(?P<code>.+)$")
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
    #: a column whose name repeats an earlier one's, as renamed (``A1.1``) -> the name (``A1``)
    repeated_columns: dict[str, str] = field(default_factory=dict)
    wave_columns: tuple[str, ...] = ()
    suggested_groups: tuple[str, ...] = ()
    categorical_columns: tuple[str, ...] = ()
    excluded: dict[str, int] = field(default_factory=dict)
    excluded_rows: tuple[tuple[int, str, str], ...] = ()  # (data row, column, reason)
    identifier_columns: tuple[
        str, ...
    ] = ()  # flagged identifiers by the format (REDCap "Identifier?")
    field_forms: dict[str, str] = field(default_factory=dict)  # REDCap: field -> its form
    seen_unanswered: dict[str, int] = field(default_factory=dict)  # Qualtrics -99 cells per column
    missing_declared: dict[str, int] = field(default_factory=dict)
    formula_cells: dict[str, tuple[tuple[int, str], ...]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: Columns of a Parquet file that were not read (``read_source(wanted=...)``): their names
    #: from the schema, in the file's order; ``frame`` holds the others.
    unread_columns: tuple[str, ...] = ()

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
_UTF16 = (b"\xff\xfe", b"\xfe\xff")

#: Formats read as text (delimited or JSON).
_TEXT_FORMATS = frozenset({"csv", "tsv", "qualtrics", "redcap", "odk", "jsonl", "fhir"})

#: The first bytes of files that are not text: what they are, and how to fix a text file's name
#: on one (empty for the compressed formats, whose fix is their tool's command; see
#: :func:`_binary_kind`, which also tells an .xlsx workbook from other zip archives).
_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"\x1f\x8b", "gzip-compressed", ""),
    (b"BZh", "bzip2-compressed", ""),
    (b"\xfd7zXZ\x00", "xz-compressed", ""),
    (b"\x28\xb5\x2f\xfd", "Zstandard-compressed", ""),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", "extract the data file from it (7-Zip) first"),
    (b"PK\x03\x04", "a zip archive", "extract the data file from it (unzip) first"),
    (b"PK\x05\x06", "an empty zip archive", "export the data again"),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "an old Excel workbook (.xls) or another Office file",
        "open it in Excel and save it as .xlsx or as 'CSV UTF-8'",
    ),
    (b"PAR1", "a Parquet file", "give it the extension .parquet"),
    (b"$FL2", "an SPSS data file", "give it the extension .sav"),
    (b"$FL3", "an SPSS data file (compressed)", "give it the extension .zsav"),
)

#: Decompression tools of the compressed formats, and the extension each one strips.
_DECOMPRESS = {
    "gzip-compressed": ("gunzip", ".gz"),
    "bzip2-compressed": ("bunzip2", ".bz2"),
    "xz-compressed": ("unxz", ".xz"),
    "Zstandard-compressed": ("unzstd", ".zst"),
}


def _binary_kind(path: Path, head: bytes) -> tuple[str, str] | None:
    """What a file starting with ``head`` is when it is not text (see :data:`_SIGNATURES`), and
    how to fix it; None for anything else (text, or bytes we do not recognise)."""
    import shlex

    known = next((entry for entry in _SIGNATURES if head.startswith(entry[0])), None)
    if known is None:
        return None
    magic, what, fix = known
    if what in _DECOMPRESS:
        tool, strips = _DECOMPRESS[what]
        name = shlex.quote(path.name)
        if path.suffix.lower() == strips:  # data.csv.gz -> data.csv
            command = f"{tool} -k {name}"
        else:  # data.csv holding gzip -> data-unpacked.csv
            command = f"{tool} -c {name} > {shlex.quote(f'{path.stem}-unpacked{path.suffix}')}"
        return what, f"decompress it ({command}, or 7-Zip on Windows) and give that file"
    if magic == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(path) as archive:
                names = [n for n in archive.namelist() if not n.endswith("/")]
        except (OSError, zipfile.BadZipFile):
            names = []
        if "xl/workbook.xml" in names:
            return "an Excel workbook (.xlsx)", "give it the extension .xlsx"
        if len(names) == 1:
            fix = f"extract {names[0]!r} from it (unzip) and give that file"
    return what, fix


def _refuse_binary(path: Path, head: bytes, expected: str) -> None:
    """Refuse a file that should be ``expected`` text (``CSV``, ``JSON``) but is compressed, an
    archive or another format's file, by its first bytes: what it is, and how to fix it (a
    gzip file named ``.csv`` was told "not UTF-8")."""
    found = _binary_kind(path, head)
    if found is not None:
        what, fix = found
        raise SourceError(f"{path}: the file is {what}, not {expected} text; {fix}")


def _text_kind(path: Path) -> str:
    """What text a file of this name should hold, for messages: ``CSV``, ``TSV``, ``JSON``."""
    suffix = path.suffix.lower()
    if suffix in (".json", ".jsonl", ".ndjson", ".qsf"):
        return "JSON"
    return {"tsv": "TSV"}.get(_EXTENSIONS.get(suffix, "csv"), "CSV")


def _decode(path: Path, *, lines: bool = True) -> str:
    """The text of a delimited file or definition, read within the documented limits
    (:data:`~surveytool.io.files.MAX_SOURCE_BYTES`, and with ``lines`` lines of at most
    :data:`~surveytool.io.files.MAX_LINE_BYTES`; JSON may be one long line)."""
    from surveytool.io.files import (
        MAX_LINE_BYTES,
        MAX_SOURCE_BYTES,
        check_line_lengths,
        read_bytes_bounded,
    )

    raw = read_bytes_bounded(path, MAX_SOURCE_BYTES, "file", SourceError)
    _refuse_binary(path, raw[:16], _text_kind(path))
    if lines:
        check_line_lengths(
            path, raw, MAX_LINE_BYTES * (2 if raw.startswith(_UTF16) else 1), SourceError
        )
    if raw.startswith(_UTF16):  # Qualtrics TSV exports are UTF-16
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


#: The separators of delimited text, told from its first row; on a tie, the earlier wins.
DELIMITERS: tuple[str, ...] = (",", "\t", ";", "|")


def sniff_delimiter(text: str, default: str = ",") -> str:
    """The separator of delimited ``text``: of :data:`DELIMITERS`, the one that splits its first
    row into the most columns (quotes respected, as the csv module reads them, so a quoted
    ``"a,b"`` is one cell); ``default`` when none splits it."""
    head = text[: 1 << 20]  # the first row is in it; csv reads from a slice, not a copy of all
    best, widest = default, 1
    for sep in DELIMITERS:
        rows = _first_rows(head, sep, 1)
        width = len(rows[0]) if rows else 0
        if width > widest:
            best, widest = sep, width
    return best


def _delimiter(path: Path, text: str) -> str:
    return sniff_delimiter(text, "\t" if _EXTENSIONS.get(path.suffix.lower()) == "tsv" else ",")


def _parse_rows(path: Path, text: str, sep: str) -> pd.DataFrame:
    """Every row of a delimited text as text cells (no header interpretation), one block of
    Python objects, missing cells (:data:`NA_STRINGS`) as ``pd.NA``.

    A regular table (every row as long as the first, no quote left open) is split by the
    :mod:`csv` module into one 2-D array: linear in the cells whatever the width. pandas'
    reader costs some 100 µs per column (a block and a Series each), minutes for 10**6 columns.
    Anything irregular (rows longer or shorter than the first, an odd number of quote
    characters) is read by pandas as before, for its padding of short rows and its messages.
    """
    cells = _regular_rows(text, sep)
    if cells is None:
        return _parse_rows_pandas(path, text, sep)
    if not cells.size:
        raise SourceError(f"{path}: the file is empty; export the data again")
    return pd.DataFrame(cells, dtype=object, copy=False)


def _missing_cells(cells: np.ndarray, na_strings: Container[str] = ()) -> np.ndarray:
    """Which cells of an object array are missing: a missing value, blank text, or text in
    ``na_strings``. Decided once per distinct value (a table holds few: 1 to 5 on a scale), so
    the cost is one hash per cell, in C."""
    missing = np.empty(cells.shape, dtype=bool)
    width = cells.shape[1] if cells.ndim == 2 else 1
    step = max(1, _CLEAN_CELLS // max(width, 1))
    for start in range(0, len(cells), step):
        part = cells[start : start + step]
        codes, uniques = pd.factorize(part.ravel(), use_na_sentinel=True)
        # one flag per distinct value, and a last True that the missing cells' code -1 reads
        # (also when every cell is missing and there is no distinct value at all)
        blank = np.ones(len(uniques) + 1, dtype=bool)
        blank[:-1] = [isinstance(v, str) and (not v.strip() or v in na_strings) for v in uniques]
        missing[start : start + step] = blank[codes].reshape(part.shape)
    return missing


def _regular_rows(text: str, sep: str) -> np.ndarray | None:
    """The rows of ``text`` as a 2-D object array, missing cells as ``pd.NA``, when they form a
    regular table (blank and whitespace-only lines skipped, as pandas does), else None.

    The array is in column order (Fortran), as a frame holds its columns, so each column the
    validation reads is contiguous. Rows are read in blocks, each put in place and cleaned at
    once, so the rows' lists never all exist together."""
    if text.count('"') % 2:
        return None  # a quote left open: pandas says where
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    capacity = _line_ends(text) + 1  # rows at most
    cells = np.empty((0, 0), dtype=object)
    chunk: list[list[str]] = []
    width, step, n = -1, 1, 0
    try:
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if width < 0:
                width = len(row)
                step = max(1, _CLEAN_CELLS // width)
                cells = np.empty((capacity, width), dtype=object, order="F")
            elif len(row) != width:
                return None
            chunk.append(row)
            if len(chunk) == step:
                n = _put_rows(cells, n, chunk)
                chunk = []
    except csv.Error:
        return None
    if chunk:
        n = _put_rows(cells, n, chunk)
    return cells[:n]


def _line_ends(text: str) -> int:
    """How many line ends (``\\n``, ``\\r\\n`` or ``\\r``) ``text`` holds."""
    crs = text.count("\r")
    return text.count("\n") + crs - (text.count("\r\n") if crs else 0)


_CLEAN_CELLS = 1 << 20  # cells cleaned at a time: the temporary arrays stay small


def _put_rows(cells: np.ndarray, n: int, rows: list[list[str]]) -> int:
    """Rows ``n, n + 1, ...`` of ``cells`` set to ``rows``, missing cells as ``pd.NA``."""
    block = cells[n : n + len(rows)]
    block[:] = rows
    block[_missing_cells(block, NA_STRINGS)] = pd.NA
    return n + len(rows)


def _parse_rows_pandas(path: Path, text: str, sep: str) -> pd.DataFrame:
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
    cells = frame.to_numpy(dtype=object, copy=True)
    cells[pd.isna(cells)] = pd.NA
    return pd.DataFrame(cells, dtype=object, copy=False)


#: ``frame.attrs`` key under which a reader hands :func:`read_source` the repeated columns it
#: renamed (popped at once: a small dict, never carried further).
_REPEATS = "surveytool.repeated_columns"


def _header(values: Iterable[object], repeats: dict[str, str] | None = None) -> list[str]:
    """Column names from a header row: text, blanks named ``Unnamed: i``, repeats suffixed ``.n``
    (each renamed repeat -> the name it repeats, into ``repeats``)."""
    values = list(values)
    stripped = [v.strip() for v in values if isinstance(v, str)]
    if len(stripped) == len(values) and all(stripped) and len(set(stripped)) == len(stripped):
        return stripped  # the common header: text, none blank or repeated
    names: list[str] = []
    seen: dict[str, int] = {}  # a name -> how often it was given (its next suffix)
    for i, value in enumerate(values):
        if isinstance(value, str):
            name = value.strip() or f"Unnamed: {i}"
        else:
            blank = (
                value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))
            )
            name = ("" if blank else str(value)).strip() or f"Unnamed: {i}"
        count = seen.get(name, 0)
        if count:
            candidate = f"{name}.{count}"
            while candidate in seen:
                count += 1
                candidate = f"{name}.{count}"
            seen[name] = count + 1
            seen[candidate] = seen.get(candidate, 0) + 1
            names.append(candidate)
            if repeats is not None:
                repeats[candidate] = name
            continue
        seen[name] = 1
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
    if any(cell.lstrip().startswith("{'ImportId'") for cell in third):
        return Detection(
            "qualtrics",
            "three header rows, 2017-2020",
            "row 3 holds {'ImportId': ...} blobs (single quotes, as exports of 2017-2020)",
        )
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


def _regular_source(path: Path) -> None:
    """Refuse what is not a regular file, and a binary source over the size limit (a regular
    file's size is what ``stat`` says; text is also bounded by the bytes actually read)."""
    from surveytool.io.files import MAX_SOURCE_BYTES, regular_file, too_large

    regular_file(path, "source file", SourceError)
    if path.stat().st_size > MAX_SOURCE_BYTES:
        raise SourceError(too_large(path, "source file", MAX_SOURCE_BYTES))


def detect_format(
    path: str | Path, requested: str = "auto", given_by: str = "the format parameter"
) -> Detection:
    """The format of ``path``: the one requested, else told from the extension and the content.

    ``given_by`` names where a requested format came from, for the record of what was assumed.
    """
    path = Path(path)
    if requested not in FORMATS:
        raise SourceError(f"unknown format {requested!r}; use one of {', '.join(FORMATS)}")
    if not path.exists():
        raise SourceError(f"{path}: no such file; check the path")
    _regular_source(path)  # a FIFO or a device would hang or never end
    by_extension = _EXTENSIONS.get(path.suffix.lower())
    with path.open("rb") as handle:
        head = handle.read(16)
    if (by_extension if requested == "auto" else requested) in _TEXT_FORMATS:
        _refuse_binary(path, head, _text_kind(path))
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
        found_binary = _binary_kind(path, head)  # data.csv.gz
        if found_binary is not None:
            raise SourceError(f"{path}: the file is {found_binary[0]}; {found_binary[1]}")
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


def refuse_unsplit(table: SourceTable, items: Collection[str], instrument: str) -> None:
    """Refuse delimited text read as one column while ``instrument`` has several ``items`` and
    that column is none of them: its columns are separated by a character that is none of
    :data:`DELIMITERS` (scoring it would count every answer as missing, and exit as if fine)."""
    if table.format not in ("csv", "tsv") or table.frame.shape[1] != 1 or len(items) < 2:
        return
    name = str(table.frame.columns[0])
    if name in items:
        return
    shown = name if len(name) <= 60 else name[:57] + "..."
    raise SourceError(
        f"{table.path}: its first line reads as one column ({shown!r}) while {instrument} has "
        f"{len(items)} items; separate the columns with commas, tabs, semicolons or '|' (the "
        "first line tells which) and read the file again"
    )


def _sep_name(sep: str) -> str:
    return {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}[sep]


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
    from surveytool.io.files import check_cells

    text = _decode(path)
    sep = _delimiter(path, text)
    header = _first_rows(text[: 1 << 24], sep, 1)  # a slice: not a copy of the whole text
    lines = _line_ends(text) + (not text.endswith(("\n", "\r")))
    check_cells(path, len(header[0]) if header else 0, lines, error=SourceError)
    rows = _parse_rows(path, text, sep)
    if rows.empty:
        raise SourceError(f"{path}: the file has no header row; export the data again")
    header_rows = 1
    second: list[str] = []
    third: list[str] = []
    names_row = _row_texts(rows, 0)
    if detection.format == "qualtrics":
        second = _row_texts(rows, 1)
        if detection.variant.startswith("three header rows"):
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
    repeats: dict[str, str] = {}
    names = _header(names_row, repeats)
    data = rows.iloc[header_rows:].reset_index(drop=True)
    data.columns = pd.Index(names)
    data.attrs[_REPEATS] = repeats
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


def _looks_like_data(stored: list[object]) -> bool:
    """Whether a sheet's first row is a respondent's answers rather than column names."""
    present = [v for v in stored if v is not None]
    return len(present) >= 2 and all(
        isinstance(v, int | float | dt.date | dt.time) and not isinstance(v, bool) for v in present
    )


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
    from surveytool.io.files import MAX_WORKBOOK_CELLS

    notes: list[str] = []
    book = _open_workbook(path, data_only=True)
    try:
        names = book.sheetnames
        chosen = _sheet_name(path, names, sheet)
        rows: list[list[object]] = []
        typed: list[list[object]] = []  # the first row's cells as stored (numbers stay numbers)
        worksheet = book[chosen]
        cells_read = 0  # a sheet has at most 16,384 columns: its cells bound its memory
        for row in worksheet.iter_rows():
            cells_read += len(row)
            if cells_read > MAX_WORKBOOK_CELLS:
                raise SourceError(
                    f"{path}: sheet {chosen!r} holds more than {MAX_WORKBOOK_CELLS:,} cells, the "
                    "limit for workbooks; export the data as CSV or Parquet"
                )
            cells = [
                _excel_cell(getattr(c, "value", None), getattr(c, "number_format", "")) for c in row
            ]
            if not typed:
                typed.append([getattr(c, "value", None) for c in row])
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
    repeats: dict[str, str] = {}
    header = _header(padded[0], repeats)
    if len(padded) > 1 and _looks_like_data(typed[0] if typed else []):
        notes.append(
            f"the first row of sheet {chosen!r} holds only numbers and dates "
            f"({', '.join(str(v) for v in padded[0][:4] if v is not pd.NA)}, ...): if the sheet "
            "has no header row, its first respondent was read as the header; add a header row"
        )
    frame = pd.DataFrame(padded[1:], columns=header, dtype=object)
    frame.attrs[_REPEATS] = repeats
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
            reasons = getattr(meta, "missing_reasons", None)
            if isinstance(reasons, dict):
                labels = (getattr(meta, "variable_value_labels", {}) or {}).get(col, {})
                for value in series[mask].tolist():
                    label = labels.get(value, "")
                    key = f"{_cell_text(value)} {label!r}" if label else str(_cell_text(value))
                    reasons[key] = reasons.get(key, 0) + 1
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
def _import_blob(text: str) -> object:
    """Row 3 of a Qualtrics export: JSON (current) or a Python-style dict (2017-2020 exports)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None


def _qualtrics(
    table: SourceTable, second: list[str], third: list[str], keep_status: Sequence[str]
) -> None:
    names = list(table.frame.columns)
    for i, name in enumerate(names):
        if i < len(second) and second[i]:
            table.question_text[name] = second[i]
        if i < len(third) and third[i]:
            blob = _import_blob(third[i])
            if isinstance(blob, dict) and isinstance(blob.get("ImportId"), str):
                table.import_ids[name] = blob["ImportId"]
    display_order = {
        c
        for c in names
        if re.search(r"_DO(_|$)", c) or "_DO" in table.import_ids.get(c, "").upper()
    }
    table.metadata_columns = tuple(
        c for c in names if c in QUALTRICS_METADATA or c.startswith("Q_") or c in display_order
    )
    # embedded data: the ImportId is the field's own name (questions have QID...; metadata a
    # camelCase name of their own); such a column may be a group (condition, site, panel)
    table.suggested_groups = tuple(
        c
        for c, import_id in table.import_ids.items()
        if import_id == c and c not in table.metadata_columns and not import_id.startswith("QID")
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
        (
            int(table.source_rows[p]),
            "Status",
            f"Qualtrics Status {status.iloc[p]!r}: not an ordinary response; row excluded",
        )
        for p in positions
    )
    table.frame = table.frame.loc[keep].reset_index(drop=True)
    table.source_rows = table.source_rows[keep]
    what = ", ".join(f"{v} {k!r}" for k, v in sorted(table.excluded.items()))
    table.notes.append(
        f"excluded {int((~keep).sum())} response(s) that are not ordinary ({what}); "
        "keep a status with the keep_status parameter (in a mapping: qualtrics.keep_status)"
    )


def _redcap_code_name(code: str) -> str:
    """How REDCap writes a checkbox code in a column name: other than letters and digits as ``_``."""
    return re.sub(r"[^0-9a-z]", "_", code.casefold())


def _guessed_code(written: str) -> str:
    """A checkbox code read back from its column name without a dictionary (``_99`` is -99)."""
    if re.fullmatch(r"_\d+(_\d+)?", written):
        return "-" + written[1:].replace("_", ".")
    return written


def _checkbox_options(
    columns: Sequence[str], labels: bool, dictionary: Mapping[str, RedcapField]
) -> tuple[dict[str, list[tuple[str, str]]], list[str]]:
    """Checkbox field -> its option columns with their codes; and the codes that were guessed."""
    groups: dict[str, list[tuple[str, str]]] = {}
    guessed: list[str] = []
    if labels:
        for col in columns:
            match = _CHECKBOX_LABEL.match(str(col))
            if match:
                groups.setdefault(match["field"], []).append((str(col), match["code"]))
        return groups, guessed
    by_column: dict[str, tuple[str, str]] = {}
    for name, spec in dictionary.items():
        if spec.field_type == "checkbox":
            for code in spec.choices:
                by_column[f"{name}___{_redcap_code_name(code)}".casefold()] = (name, code)
    for col in columns:
        known = by_column.get(str(col).casefold())
        if known is not None:
            groups.setdefault(known[0], []).append((str(col), known[1]))
            continue
        match = _CHECKBOX_RAW.match(str(col))
        if match and (not dictionary or match["field"] not in dictionary):
            code = _guessed_code(match["code"])
            if code != match["code"]:
                guessed.append(f"{col} -> {match['field']} code {code}")
            groups.setdefault(match["field"], []).append((str(col), code))
    return groups, guessed


#: What Qualtrics writes for a question seen but not answered (an export option), not-shown is blank.
QUALTRICS_SEEN_UNANSWERED = "-99"


def _qualtrics_unanswered(table: SourceTable) -> None:
    """Seen-but-unanswered (-99) cells as missing, counted apart from not-shown (blank) cells."""
    meta = set(table.metadata_columns)
    seen: dict[str, int] = {}
    blank = 0
    for col in map(str, table.frame.columns):
        if col in meta:
            continue
        values = table.frame[col]
        hit = values.astype("string").str.strip().eq(QUALTRICS_SEEN_UNANSWERED)
        mask = hit.to_numpy(dtype=bool, na_value=False)
        blank += int(values.isna().sum())
        if mask.any():
            seen[col] = int(mask.sum())
            table.frame.loc[mask, col] = pd.NA
    table.seen_unanswered = seen
    if seen:
        table.notes.append(
            f"Qualtrics seen but unanswered ({QUALTRICS_SEEN_UNANSWERED}): {sum(seen.values())} "
            f"cell(s) in {len(seen)} column(s) read as missing; not shown (blank): {blank} cell(s); "
            "both are missing for scoring"
        )


def _collapse_checkboxes(
    table: SourceTable, labels: bool, dictionary: Mapping[str, RedcapField]
) -> None:
    """REDCap checkbox options -> one column per field with the checked options joined by ``;``."""
    groups, guessed = _checkbox_options(list(map(str, table.frame.columns)), labels, dictionary)
    frame = table.frame
    checked_values = {"checked", "1", "1.0", "true", "yes"}
    collapsed: dict[str, pd.Series] = {}
    replaced: dict[str, str] = {}  # first option column -> field
    gone: set[str] = set()
    for field_name, options in groups.items():
        if field_name in frame.columns and field_name not in [c for c, _ in options]:
            continue  # a real column already has this name: leave the options alone
        parts = []
        answered_any = np.zeros(len(frame), dtype=bool)
        for col, code in options:
            on = frame[col].astype("string").str.strip().str.casefold().isin(checked_values)
            parts.append(np.where(on.to_numpy(dtype=bool, na_value=False), code, ""))
            answered_any |= frame[col].notna().to_numpy(dtype=bool)
        stacked = np.column_stack(parts)
        joined = [";".join(x for x in row if x) for row in stacked]
        collapsed[field_name] = pd.Series(
            [j if a else pd.NA for j, a in zip(joined, answered_any.tolist(), strict=True)],
            index=frame.index,
            dtype=object,
        )
        replaced[options[0][0]] = field_name
        gone.update(c for c, _ in options)
        table.categorical_columns = (*table.categorical_columns, field_name)
        table.notes.append(
            f"REDCap checkbox field {field_name!r}: {len(options)} option columns collapsed into "
            "one column of checked options joined by ';'"
        )
    if collapsed:  # one new frame (inserting column by column fragments it)
        pieces: dict[str, pd.Series] = {}
        for col in map(str, frame.columns):
            if col in replaced:
                pieces[replaced[col]] = collapsed[replaced[col]]
            elif col not in gone:
                pieces[col] = frame[col]
        table.frame = pd.DataFrame(pieces, index=frame.index)
    if guessed:
        table.notes.append(
            "REDCap checkbox codes read from column names (REDCap writes '-' as '_'; give the "
            "data dictionary to be sure): " + ", ".join(guessed)
        )


def _label_headers_to_fields(table: SourceTable, fields: Mapping[str, RedcapField]) -> None:
    """A labels export's headers (field labels) as the dictionary's field names, in order.

    A labels export writes the fields in the dictionary's order, each form's ``Complete?`` after
    its fields; walking both in step tells apart fields that share a label ("nervous?" asked of
    the patient and of the observer). Headers that are not the next field's label (events, data
    access groups, survey timestamps) keep their names.
    """
    expected: list[tuple[str, str]] = []  # (label, field name) in export order
    form = None
    for name, spec in fields.items():
        if form is not None and spec.form != form:
            expected.append(("complete?", f"{form}_complete"))
        form = spec.form
        if spec.field_type != "descriptive":
            expected.append((spec.label.casefold(), name))
    if form is not None:
        expected.append(("complete?", f"{form}_complete"))
    renamed: dict[str, str] = {}
    at = 0
    for col in map(str, table.frame.columns):
        base = re.sub(r"\.\d+$", "", col)
        text = _plain_label(base).casefold()
        for j in range(at, len(expected)):
            if expected[j][0] == text:
                renamed[col] = expected[j][1]
                at = j + 1
                break
    taken = set(map(str, table.frame.columns)) - set(renamed)
    renamed = {c: n for c, n in renamed.items() if n not in taken}
    if not renamed:
        return
    table.frame = table.frame.rename(columns=renamed)
    for old_name, new_name in renamed.items():
        if old_name != new_name:
            table.question_text.setdefault(new_name, old_name.split(".")[0])
    table.categorical_columns = tuple(renamed.get(c, c) for c in table.categorical_columns)
    table.notes.append(
        f"REDCap labels export: {len(renamed)} header(s) read as the data dictionary's field "
        "names (the labels are kept as question text)"
    )


_ARM_RAW = re.compile(r"^(?P<event>.+)_arm_(?P<arm>\d+)$")
_ARM_LABEL = re.compile(r"^(?P<event>.+?) \((?P<arm>Arm \d+(?::[^)]*)?)\)$")


def _separate_arms(table: SourceTable, event_column: str, labels: bool) -> str | None:
    """A column of each row's arm, told from its event name (``visit_1_arm_2``); its name."""
    events = table.frame[event_column].astype("string")
    present = events.dropna()
    pattern = _ARM_LABEL if labels else _ARM_RAW
    if present.empty or not present.str.match(pattern).all():
        return None
    name = "Arm" if labels else "redcap_arm"
    if name in table.frame.columns:
        return None
    arms = events.str.extract(pattern)["arm"]
    position = list(table.frame.columns).index(event_column) + 1
    table.frame.insert(position, name, arms.astype(object).where(arms.notna(), pd.NA))
    return name


def _redcap(
    table: SourceTable, labels: bool, dictionary: Mapping[str, RedcapField] | None = None
) -> None:
    fields = dict(dictionary or {})
    _collapse_checkboxes(table, labels, fields)
    if labels and fields:
        _label_headers_to_fields(table, fields)
    names = [str(c) for c in table.frame.columns]
    if labels:
        meta = [
            c
            for c in names
            if c.split(".")[0] in REDCAP_LABEL_METADATA
            or c.split(".")[0].endswith("Timestamp")
            or (c.endswith("_complete") and c not in fields)
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
    groups: tuple[str, ...] = (dag,) if dag in names else ()
    coded = [c for c in (*waves, dag) if c in names]
    event = (
        waves[0] if waves and waves[0] in (_REDCAP_WAVES_RAW[0], _REDCAP_WAVES_LABELS[0]) else None
    )
    if event is not None:
        arm = _separate_arms(table, event, labels)
        if arm is not None:
            coded.append(arm)
            if table.frame[arm].nunique() > 1:
                groups = (*groups, arm)
            else:
                meta.append(arm)
            table.notes.append(
                f"REDCap arms separated from the events into the column {arm!r} "
                f"({table.frame[arm].nunique()} arm(s))"
            )
    if fields:
        present = set(table.frame.columns)
        for name, spec in fields.items():
            if name not in present:
                continue
            table.field_forms[name] = spec.form
            if spec.label:
                table.question_text.setdefault(name, spec.label)
            numeric = {}
            for code, text in spec.choices.items():
                try:
                    numeric[float(code)] = text
                except ValueError:
                    continue
            if (
                numeric
                and not labels
                and spec.field_type in ("radio", "dropdown", "yesno", "truefalse")
            ):
                table.value_labels.setdefault(name, numeric)
                coded.append(name)
        table.identifier_columns = tuple(
            n for n, spec in fields.items() if spec.identifier and n in present
        )
        table.notes.append(
            f"REDCap data dictionary: {len(table.field_forms)} field(s) of the export described; "
            f"{len(table.identifier_columns)} flagged as identifiers"
        )
    table.metadata_columns = tuple(meta)
    table.wave_columns = waves
    table.default_id_column = first
    table.suggested_groups = groups
    table.categorical_columns = (*table.categorical_columns, *coded)


# ---------------------------------------------------------------------------------------------
# REDCap data dictionary
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RedcapField:
    """One row of a REDCap data dictionary (the parts an import uses)."""

    name: str
    form: str
    field_type: str
    label: str
    choices: dict[str, str]
    identifier: bool


#: Data dictionary columns: the CSV download's header, and the API's metadata names.
_DICTIONARY_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("variable / field name", "field_name"),
    "form": ("form name", "form_name"),
    "type": ("field type", "field_type"),
    "label": ("field label", "field_label"),
    "choices": ("choices, calculations, or slider labels", "select_choices_or_calculations"),
    "identifier": ("identifier?", "identifier"),
}
_TAG = re.compile(r"<[^>]+>")


def _plain_label(text: str) -> str:
    """A field or choice label without HTML tags and with single spaces."""
    return " ".join(_TAG.sub(" ", text).split())


def parse_choices(text: str, field_type: str = "radio") -> dict[str, str]:
    """REDCap choices ``code, label | code, label`` (legacy ``A | B``: the label is the code).

    Only the first comma of each choice separates code and label (labels may hold commas); calc
    fields and sliders have no choices here.
    """
    if not text or field_type in ("calc", "slider", "sql", "descriptive"):
        if field_type == "yesno":
            return {"1": "Yes", "0": "No"}
        if field_type == "truefalse":
            return {"1": "True", "0": "False"}
        return {}
    choices: dict[str, str] = {}
    for part in text.split("|"):
        part = part.strip()
        if not part:
            continue
        code, sep, label = part.partition(",")
        code = code.strip()
        choices[code] = _plain_label(label) if sep else _plain_label(code)
    return choices


def read_redcap_dictionary(path: str | Path) -> dict[str, RedcapField]:
    """A REDCap data dictionary (the CSV of "Download the Data Dictionary", or the API's metadata).

    Comma or semicolon separated, UTF-8 with or without a BOM; HTML in labels is removed; yes/no
    and true/false fields get their fixed choices.
    """
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path}: no such data dictionary file; check the path")
    text = _decode(path)
    rows = _parse_rows(path, text, _delimiter(path, text))
    header = [str(v).strip().casefold() for v in _row_texts(rows, 0)]
    where: dict[str, int] = {}
    for key, spellings in _DICTIONARY_COLUMNS.items():
        for spelling in spellings:
            if spelling in header:
                where[key] = header.index(spelling)
                break
    missing = [k for k in ("name", "form", "type") if k not in where]
    if missing:
        raise SourceError(
            f"{path}: not a REDCap data dictionary (no {', '.join(missing)} column; the first "
            "columns should be 'Variable / Field Name', 'Form Name', ...); download it from "
            "REDCap's Dictionary page"
        )
    fields: dict[str, RedcapField] = {}
    for i in range(1, len(rows)):
        cells = _row_texts(rows, i)

        def cell(key: str, cells: list[str] = cells) -> str:
            j = where.get(key)
            return cells[j].strip() if j is not None and j < len(cells) else ""

        name = cell("name")
        if not name:
            continue
        field_type = cell("type").casefold()
        fields[name] = RedcapField(
            name=name,
            form=cell("form"),
            field_type=field_type,
            label=_plain_label(cell("label")),
            choices=parse_choices(cell("choices"), field_type),
            identifier=cell("identifier").casefold() in ("y", "yes", "1"),
        )
    return fields


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
    """Every text column (neither numeric nor boolean) as Python objects, blank text and every
    kind of missing value as ``pd.NA`` (readers differ on this).

    Linear in the cells, whatever the width: the text columns are taken as one 2-D array,
    cleaned at once and put back as one block (never column by column: each insert into a
    frame of many columns costs time in proportion to its width).
    """
    kinds: dict[object, bool] = {}
    text = []
    for position, dtype in enumerate(frame.dtypes):
        if dtype not in kinds:
            kinds[dtype] = not (
                pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
            )
        if kinds[dtype]:
            text.append(position)
    if not text:
        return frame
    every = len(text) == frame.shape[1]
    cells = (frame if every else frame.iloc[:, text]).to_numpy(dtype=object)
    missing = _missing_cells(cells) if cells.size else None
    if missing is not None and missing.any():
        cells = cells.copy(order="K")  # to_numpy may give a read-only view of the frame
        cells[missing] = pd.NA
    cleaned = pd.DataFrame(cells, index=frame.index, dtype=object, copy=False)
    if every:
        cleaned.columns = frame.columns
        return cleaned
    is_text = np.zeros(frame.shape[1], dtype=bool)
    is_text[text] = True
    others = np.flatnonzero(~is_text)
    rest = frame.iloc[:, others].set_axis(range(len(text), frame.shape[1]), axis=1)
    whole = pd.concat([cleaned, rest], axis=1)
    order = np.empty(frame.shape[1], dtype=np.int64)
    order[text] = np.arange(len(text))
    order[others] = np.arange(len(text), frame.shape[1])
    out = whole.iloc[:, order]
    out.columns = frame.columns
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
        data = json.loads(_decode(path, lines=False))
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


# ---------------------------------------------------------------------------------------------
# Qualtrics survey definition (QSF)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class QsfColumn:
    """What a survey definition says about one export column."""

    question_id: str
    text: str
    labels: dict[float, str]  # the exported code (recode value) -> the choice's text


def _plain_html(text: object) -> str:
    return _plain_label(str(text or ""))


def read_qsf(path: str | Path) -> dict[str, QsfColumn]:
    """The export columns of a Qualtrics survey definition (.qsf): question text and choice recodes.

    Multiple-choice questions export as their ``DataExportTag``; matrix rows as the row's
    ``ChoiceDataExportTags`` entry when set, else ``<tag>_<row>``. The exported code of a choice
    (or of a matrix scale point) is its ``RecodeValues`` entry, else its choice number; codes
    that are not numbers are left out. Questions in the trash block are skipped.
    """
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path}: no such survey definition (.qsf) file; check the path")
    try:
        survey = json.loads(_decode(path, lines=False))
    except json.JSONDecodeError as exc:
        raise SourceError(f"{path}: not a Qualtrics .qsf file (JSON): {exc.msg}") from None
    elements = survey.get("SurveyElements") if isinstance(survey, dict) else None
    if not isinstance(elements, list):
        raise SourceError(f"{path}: not a Qualtrics .qsf file (no SurveyElements)")
    trashed: set[str] = set()
    for element in elements:
        if isinstance(element, dict) and element.get("Element") == "BL":
            blocks = element.get("Payload") or []
            blocks = blocks.values() if isinstance(blocks, dict) else blocks
            for block in blocks:
                if isinstance(block, dict) and block.get("Type") == "Trash":
                    trashed |= {str(b.get("QuestionID")) for b in block.get("BlockElements") or []}
    columns: dict[str, QsfColumn] = {}
    for element in elements:
        if not isinstance(element, dict) or element.get("Element") != "SQ":
            continue
        q = element.get("Payload") or {}
        qid = str(q.get("QuestionID", element.get("PrimaryAttribute", "")))
        tag = str(q.get("DataExportTag") or qid)
        if qid in trashed or q.get("QuestionType") not in ("MC", "Matrix"):
            continue
        text = _plain_html(q.get("QuestionText"))
        choices = q.get("Choices") or {}
        if isinstance(choices, list):
            choices = {str(i): c for i, c in enumerate(choices)}
        recodes = q.get("RecodeValues") or {}

        def coded(options: dict[str, Any], recode: dict[str, Any]) -> dict[float, str]:
            out: dict[float, str] = {}
            for key, option in options.items():
                try:
                    code = float(recode.get(key, key))
                except (TypeError, ValueError):
                    continue
                if isinstance(option, dict):
                    out[code] = _plain_html(option.get("Display"))
            return out

        if q.get("QuestionType") == "MC":
            if q.get("Selector") in ("SAVR", "SAHR", "DL", "SB", "NPS", "SACOL"):
                columns[tag] = QsfColumn(qid, text, coded(choices, recodes))
            continue
        if q.get("SubSelector") not in (None, "SingleAnswer", "DL"):
            continue  # matrices with several answers per row export one column per cell
        answers = q.get("Answers") or {}
        scale = coded(answers, recodes) if isinstance(answers, dict) else {}
        tags = q.get("ChoiceDataExportTags") or {}
        for row, option in choices.items():
            name = (
                str(tags.get(row)) if isinstance(tags, dict) and tags.get(row) else f"{tag}_{row}"
            )
            statement = _plain_html(option.get("Display") if isinstance(option, dict) else "")
            columns[name] = QsfColumn(qid, f"{text} - {statement}", scale)
    return columns


def apply_qsf(table: SourceTable, path: str | Path) -> None:
    """Question text, import ids and choice labels of a Qualtrics export from its .qsf file."""
    columns = read_qsf(path)
    present = [c for c in map(str, table.frame.columns) if c in columns]
    for col in present:
        spec = columns[col]
        table.question_text[col] = spec.text
        table.import_ids.setdefault(col, spec.question_id)
        values = table.frame[col].dropna().astype(str).str.strip()
        numeric = bool(len(values)) and bool(pd.to_numeric(values, errors="coerce").notna().all())
        if spec.labels and numeric:  # a choice-text export is read through the scale's labels
            table.value_labels[col] = dict(spec.labels)
    table.categorical_columns = tuple(
        dict.fromkeys([*table.categorical_columns, *(c for c in present if columns[c].labels)])
    )
    table.notes.append(
        f"Qualtrics survey definition {Path(path).name}: {len(present)} column(s) described "
        f"(question text, choice recodes) of {len(columns)} in the survey"
    )


def _natural(text: str) -> tuple[int, float, str]:
    """Sort key: numbers by value (wave 2 before wave 10), then text."""
    try:
        return (0, float(text), "")
    except ValueError:
        return (1, 0.0, text)


def reshape_wide_waves(table: SourceTable, pattern: str, wave_column: str = "wave") -> None:
    """Waves side by side (``s1_q1, s2_q1, ...``) as one row per respondent and wave, in place.

    ``pattern`` is a regular expression with the named groups ``wave`` and ``column``; each
    matching column becomes column ``column`` of wave ``wave``. The other columns (the id,
    background variables) are repeated in every wave. Rows keep the data-row number of the file;
    ``rows_read`` becomes the number of respondent × wave rows, with a note saying so.
    """
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise SourceError(
            f"wide_waves pattern {pattern!r} is not a regular expression: {exc}"
        ) from None
    if {"wave", "column"} - set(regex.groupindex):
        raise SourceError(
            f"wide_waves pattern {pattern!r} needs the named groups (?P<wave>...) and "
            "(?P<column>...), e.g. '^s(?P<wave>\\d+)_(?P<column>.+)$'"
        )
    if table.excluded:
        raise SourceError(
            f"{table.path}: wide waves cannot be reshaped after rows were excluded "
            f"({table.rows_excluded}); export the responses without previews and tests"
        )
    frame = table.frame
    placed: dict[str, dict[str, str]] = {}  # wave -> new column -> source column
    constant: list[str] = []
    for col in map(str, frame.columns):
        match = regex.fullmatch(col)
        if match:
            placed.setdefault(match["wave"], {})[match["column"]] = col
        else:
            constant.append(col)
    if not placed:
        raise SourceError(
            f"{table.path}: no column matches the wide_waves pattern {pattern!r}; its columns "
            f"begin {', '.join(map(str, frame.columns[:6]))}"
        )
    names = list(dict.fromkeys(c for cols in placed.values() for c in cols))
    clash = sorted({*names, wave_column} & set(constant))
    if clash:
        raise SourceError(
            f"{table.path}: the wide_waves columns would be named like existing columns "
            f"({', '.join(clash)}); change the pattern or the wave column name"
        )
    waves = sorted(placed, key=_natural)
    n = len(frame)
    parts = []
    for w in waves:
        part = frame[constant].copy()
        part.insert(0, wave_column, w)
        for name in names:
            source = placed[w].get(name)
            part[name] = frame[source] if source is not None else pd.NA
        part["\x00order"] = np.arange(n) * len(waves) + waves.index(w)
        parts.append(part)
    stacked = pd.concat(parts, ignore_index=True).sort_values("\x00order", kind="stable")
    stacked = stacked.drop(columns="\x00order").reset_index(drop=True)
    first = {name: next(placed[w][name] for w in waves if name in placed[w]) for name in names}
    for name, source in first.items():
        if source in table.question_text:
            table.question_text[name] = table.question_text[source]
        if source in table.value_labels:
            table.value_labels[name] = table.value_labels[source]
    if table.categorical_columns:
        table.categorical_columns = tuple(
            dict.fromkeys(
                next((nm for nm, src in first.items() if src == c), c)
                for c in table.categorical_columns
            )
        )
    table.frame = stacked
    table.source_rows = np.repeat(table.source_rows, len(waves))
    table.wave_columns = (wave_column, *table.wave_columns)
    table.notes.append(
        f"wide waves reshaped: {n} row(s) x {len(waves)} wave(s) ({', '.join(waves)}) = "
        f"{len(stacked)} respondent-wave row(s) in the column {wave_column!r}; the row counts "
        "below count respondent-wave rows"
    )
    table.rows_read = len(stacked)


def read_source(
    path: str | Path,
    *,
    format: str = "auto",
    sheet: str | int | None = None,
    keep_status: Sequence[str] = (),
    given_by: str = "the format parameter",
    text_columns: Sequence[str] = (),
    dictionary: str | Path | None = None,
    qsf: str | Path | None = None,
    wanted: Callable[[Sequence[str]], Iterable[str]] | None = None,
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
    dictionary
        A REDCap export's data dictionary (CSV), see :func:`read_redcap_dictionary`.
    qsf
        A Qualtrics export's survey definition (.qsf), see :func:`read_qsf`.
    wanted
        Parquet: given the names of the file's columns (from its schema), the columns to read;
        the others are not read, their names in :attr:`SourceTable.unread_columns` (a file of
        10**6 columns of which 53 are wanted is read in the time of 53). Other formats, and a
        Parquet file whose names are blank or repeated, are read whole.
    """
    path = Path(path)
    detection = detect_format(path, format, given_by)
    if dictionary is not None and detection.format != "redcap":
        raise SourceError(
            f"{path}: a data dictionary describes a REDCap export, but this file is read as "
            f"{detection.format}; give the format 'redcap' or leave the dictionary out"
        )
    fields = read_redcap_dictionary(dictionary) if dictionary is not None else None
    if qsf is not None and detection.format != "qualtrics":
        raise SourceError(
            f"{path}: a .qsf survey definition describes a Qualtrics export, but this file is "
            f"read as {detection.format}; give the format 'qualtrics' or leave the .qsf out"
        )
    second: list[str] = []
    third: list[str] = []
    notes: list[str] = []
    labels: dict[str, dict[float, str]] = {}
    questions: dict[str, str] = {}
    missing: dict[str, int] = {}
    missing_reasons: dict[str, int] = {}
    formulas: dict[str, tuple[tuple[int, str], ...]] = {}
    unread: tuple[str, ...] = ()  # Parquet: the columns not wanted, not read
    stored: dict[str, Any] | None = None  # Parquet: our metadata in it (a cohort file's)
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
        meta.missing_reasons = missing_reasons  # filled by _declared_missing: code -> cells
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
        import pyarrow as pa

        try:
            frame, unread, stored = _read_parquet(path, wanted)
            # the table's buffers are free now; Arrow's allocator would keep them from the OS
            pa.default_memory_pool().release_unused()
        except Exception as exc:  # pyarrow's errors: one line
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SourceError(f"{path}: cannot read it as Parquet: {reason}") from None
        frame = _iso_dates(frame)
        for col in frame.columns:
            if isinstance(frame[col].dtype, pd.CategoricalDtype):
                frame[col] = frame[col].astype(object)
    repeats = frame.attrs.pop(_REPEATS, {})
    if not isinstance(frame.index, pd.RangeIndex) or frame.index.start != 0:
        frame = frame.reset_index(drop=True)
    frame = _text_columns(frame)
    frame.attrs.pop(_REPEATS, None)
    frame.columns = pd.Index(_header(frame.columns, repeats))
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
        repeated_columns=repeats,
        notes=notes,
        unread_columns=unread,
    )
    if labels:
        table.categorical_columns = tuple(c for c in labels if c in table.frame.columns)
    if missing:
        total = sum(missing.values())
        by_code = "; ".join(
            f"{k}: {v}" for k, v in sorted(missing_reasons.items(), key=lambda kv: -kv[1])
        )
        table.notes.append(
            f"SPSS declared missing values read as missing: {total} cell(s) in {len(missing)} "
            "column(s)" + (f", by code: {by_code}" if by_code else "")
        )
    if detection.format == "qualtrics":
        _qualtrics(table, second, third, keep_status)
        _qualtrics_unanswered(table)
        if qsf is not None:
            apply_qsf(table, qsf)
    elif detection.format == "redcap":
        _redcap(table, labels=detection.variant == "labels", dictionary=fields)
    elif detection.format == "odk":
        _odk(table)
    elif detection.format == "fhir":
        from surveytool.interchange.fhir import RESPONSE_COLUMNS

        table.metadata_columns = tuple(c for c in RESPONSE_COLUMNS if c in table.frame.columns)
        table.default_id_column = "id"
    elif detection.format == "parquet":
        _cohort_file(table, stored)
    elif detection.format in ("csv", "tsv") and format != "auto":
        found = _sniff_text(*_sample(path))
        if found is not None:
            table.notes.append(
                f"this looks like a {found.format} export ({found.reason}); "
                "the format 'auto' would read it as one"
            )
    return table


def _read_parquet(
    path: Path, wanted: Callable[[Sequence[str]], Iterable[str]] | None
) -> tuple[pd.DataFrame, tuple[str, ...], dict[str, Any] | None]:
    """A Parquet file as a frame (:func:`arrow_frame`): only the ``wanted`` columns when told
    (see :func:`read_source`), and the names of the others, from the schema alone; and the
    surveytool metadata it holds. A cohort file's own id and batch columns are always read
    (:func:`_cohort_file` needs them). The footer is parsed once (10**6 columns: seconds)."""
    import pyarrow.parquet as pq

    handle = pq.ParquetFile(path)
    schema = handle.schema_arrow
    stored = _stored_metadata(schema)
    index = {
        c for c in (schema.pandas_metadata or {}).get("index_columns", []) if isinstance(c, str)
    }
    names = [n for n in schema.names if n not in index]
    if wanted is None or _header(names) != names:  # blank or repeated names: read whole
        return arrow_frame(handle.read()), (), stored
    chosen = set(wanted(names))
    if stored is not None and stored.get("kind") == COHORT_KIND:
        ident = stored.get("id_column")
        chosen |= {COHORT_BATCH_COLUMN, *([ident] if isinstance(ident, str) else [])}
    unread = tuple(n for n in names if n not in chosen)
    if not unread or len(unread) == len(names):  # none wanted: read whole, as before
        return arrow_frame(handle.read()), (), stored
    read = [n for n in schema.names if n in chosen or n in index]
    return arrow_frame(handle.read(columns=read), schema), unread, stored


def _stored_metadata(schema: pa.Schema) -> dict[str, Any] | None:
    """The surveytool metadata of a Parquet file (:func:`surveytool.io.tables.write_table`)."""
    import json

    raw = (schema.metadata or {}).get(b"surveytool")
    if raw is None:
        return None
    try:
        meta = json.loads(raw)
    except ValueError:
        return None
    return meta if isinstance(meta, dict) else None


#: The ``kind`` in a cohort file's metadata (the research layer writes cohorts; any reader of
#: the format may read them) and the cohort's own column of the import each row came from.
COHORT_KIND: Final = "surveytool.cohort"
COHORT_BATCH_COLUMN: Final = "import_batch"


def _cohort_file(table: SourceTable, stored: dict[str, Any] | None) -> None:
    """A cohort file read as a source (``score cohort.parquet``): its respondent id column
    (the keyed pseudonyms) is the default id, and its ``import_batch`` is metadata, not an
    unknown column. ``stored``: the file's surveytool metadata (:func:`_read_parquet`)."""
    meta = stored or {}
    if meta.get("kind") != COHORT_KIND:
        return
    ident = meta.get("id_column")
    columns = set(table.frame.columns)
    if isinstance(ident, str) and ident in columns:
        table.default_id_column = ident
    table.metadata_columns = tuple(c for c in (COHORT_BATCH_COLUMN,) if c in columns)
    table.notes.append(
        f"a cohort file ({meta.get('instrument_id')} {meta.get('instrument_version')}): "
        f"respondent ids from its {ident!r} column, {COHORT_BATCH_COLUMN!r} is the cohort's own"
    )


def arrow_frame(table: pa.Table, schema: pa.Schema | None = None) -> pd.DataFrame:
    """An Arrow table (a Parquet file's) as a frame, typed, without a round trip through text.

    Each column's dtype is decided by the schema (``schema``, default the table's own: the
    dataset's, when the Dask engine reads a piece), never by the values of the rows read, so a
    file read whole and read by row groups give the same dtypes and values:

    - a dtype the schema's pandas metadata names that pandas builds from Arrow (``Int64``,
      ``Float64``, ``boolean`` ..., as ``DataFrame.to_parquet`` wrote them) is that dtype, as
      :func:`pandas.read_parquet` gives it (every column of a file that pandas wrote is as
      :func:`pandas.read_parquet` reads it);
    - a floating column is ``float64`` (NaN for nulls), from Arrow's buffer (zero-copy without
      nulls, read-only then);
    - an integer column is a numpy integer when its field cannot hold nulls (not nullable, or a
      numpy integer column by the pandas metadata), otherwise the nullable integer of its width
      (``Int64`` ...), exact beyond 2**53 (long ids keep every digit) and the same in a piece
      without nulls (pyarrow's own ``to_pandas`` gives ``int64`` there and ``float64`` in a
      piece with nulls);
    - other columns (text, dates, dictionaries) are pyarrow's ``to_pandas`` of the column.

    The validation reads every numeric dtype into the float64 item matrix in one pass. The
    pandas index stored by ``DataFrame.to_parquet`` is left out, as :func:`read_source` drops it.
    """
    schema = table.schema if schema is None else schema
    meta = schema.pandas_metadata or {}
    index = {c for c in meta.get("index_columns", []) if isinstance(c, str)}
    declared = {
        str(c.get("name")): str(c.get("numpy_type"))
        for c in meta.get("columns", [])
        if isinstance(c, dict)
    }
    names: list[str] = []
    columns: dict[int, Any] = {}
    in_schema = set(schema.names)  # once: ``schema.names`` is a new list of every name each time
    for name, column in zip(table.column_names, table.columns, strict=True):
        if name in index:
            continue
        field = schema.field(name) if name in in_schema else table.schema.field(name)
        columns[len(names)] = _arrow_column(column, field.nullable, declared.get(name))
        names.append(name)
    frame = pd.DataFrame(columns, copy=False)
    frame.columns = pd.Index(names, dtype=object)
    return frame


def _arrow_column(column: Any, nullable: bool, declared: str | None) -> Any:
    """One Arrow column as :func:`arrow_frame` gives it (see there); ``declared`` is the pandas
    metadata's ``numpy_type`` of the column, if any."""
    import pyarrow as pa

    kind = column.type
    dtype = _extension_dtype(declared)
    if dtype is not None:
        return dtype.__from_arrow__(column)
    if not (pa.types.is_floating(kind) or pa.types.is_integer(kind)):
        return column.to_pandas()
    if pa.types.is_floating(kind):
        return np.asarray(column.to_numpy(), dtype=np.float64)
    numpy_int = _is_numpy(declared) and np.dtype(declared).kind in "iu"
    if (not nullable or numpy_int) and column.null_count == 0:
        return column.to_numpy()
    signed = "Int" if pa.types.is_signed_integer(kind) else "UInt"
    nullable_int: Any = pd.api.types.pandas_dtype(f"{signed}{kind.bit_width}")
    return nullable_int.__from_arrow__(column)


def _extension_dtype(name: str | None) -> Any:
    """The pandas extension dtype (``Int64``, ``boolean``, ``str`` ...) named ``name`` that
    pandas builds from Arrow, or None (a numpy dtype, or no name)."""
    if name is None or _is_numpy(name):
        return None
    try:
        dtype = pd.api.types.pandas_dtype(name)
    except (TypeError, ValueError):
        return None
    if isinstance(dtype, pd.api.extensions.ExtensionDtype) and hasattr(dtype, "__from_arrow__"):
        return dtype
    return None


def _is_numpy(name: str | None) -> bool:
    """``name`` is the name of a numpy dtype."""
    if name is None:
        return False
    try:
        np.dtype(name)
    except TypeError:
        return False
    return True


def parquet_frame(
    frame: pd.DataFrame | pa.Table,
    *,
    text_columns: Sequence[str] = (),
    schema: pa.Schema | None = None,
) -> pd.DataFrame:
    """A table read from Parquet as :func:`read_source` gives it.

    ``frame`` is pyarrow's ``to_pandas`` of the table, or (better: typed, fewer copies) the Arrow
    table itself, read as :func:`arrow_frame` says (with ``schema``, a dataset's, deciding the
    dtypes).

    The Dask engine reads a Parquet dataset piece by piece (:mod:`surveytool.engine.datasets`)
    and gives each piece this treatment, so a partition holds what the in-memory reader would
    hold for the same rows: dates as ISO text, categoricals as plain values, blank text as
    missing, the header as :func:`read_source` names it, ``text_columns`` as text.
    """
    if not isinstance(frame, pd.DataFrame):
        frame = arrow_frame(frame, schema)
    frame = _iso_dates(frame)
    for col in frame.columns:
        if isinstance(frame[col].dtype, pd.CategoricalDtype):
            frame[col] = frame[col].astype(object)
    if not isinstance(frame.index, pd.RangeIndex) or frame.index.start != 0:
        frame = frame.reset_index(drop=True)
    frame = _text_columns(frame)
    frame.columns = pd.Index(_header(frame.columns))
    _as_text(frame, text_columns)
    return frame
