"""Anonymization on the way in: drop direct identifiers, pseudonymize ids, generalize, k-anonymity.

Disclosure control as FORMULAS.md ("Disclosure control") defines it:

- **Direct identifiers never reach the output.** A column is dropped when the mapping declares it
  an identifier, and when :func:`detect_identifiers` finds names, e-mail addresses, phone numbers,
  street addresses or postal codes, dates of birth or other exact dates, IP addresses, geographic
  coordinates, record or reference ids, free-text answers, or a value unique to each row, by its
  column name or by its values. Detection errs toward dropping: one e-mail address, phone number or
  IP address among the values is enough. The output keeps only what was asked for (items, groups,
  waves, quasi-identifiers), so a column nobody declared is dropped as well; the report gives the
  reason for every dropped column.
- **Respondent ids become keyed pseudonyms**: HMAC-SHA-256(key, id), the first 128 bits in hex.
  The key lives in a key file (created with :mod:`secrets`, mode 0600) that never goes into the
  output; the same key gives the same pseudonyms, so waves link. Plain hashes are not offered: ids
  are few and guessable, so a plain hash is reversed by trying them all.
- **Quasi-identifiers are generalized**: ages into bands with a top code (90+), dates reduced to
  the year or shifted by a per-respondent offset (the same for every date of one respondent, drawn
  from the key), categories seen fewer than ``min_count`` times merged into ``other``, codes cut to
  a prefix.
- **k-anonymity** over the declared quasi-identifiers: the smallest equivalence class (respondents
  sharing every quasi-identifier value, missing counted as a value; the waves of one respondent
  count once) is reported; with ``k`` every record in a smaller class is suppressed and counted.
  In R, for one row per respondent: ``sdcMicro::kAnon`` finds the same classes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from surveytool.io.keys import KeyFileError, open_key_file

PSEUDONYM_COLUMN = "pseudonym"
"""Name of the pseudonymous id column in every anonymized table."""

PSEUDONYM_HEX = 32
"""Hex digits kept of the HMAC-SHA-256 (128 bits: no collision among billions of ids)."""

GeneralizeMethod = Literal["age_band", "year", "shift", "merge", "prefix", "none"]

_PARAMETERS: dict[str, frozenset[str]] = {
    "age_band": frozenset({"width", "bands", "top"}),
    "year": frozenset(),
    "shift": frozenset({"max_days"}),
    "merge": frozenset({"min_count", "other"}),
    "prefix": frozenset({"length"}),
    "none": frozenset(),
}


class QuasiIdentifier(BaseModel):
    """How one quasi-identifier column is generalized.

    ``age_band``: ages (years) into bands of ``width`` from 0, or from the lower bounds in
    ``bands``, with everything at or above ``top`` as ``"<top>+"``; ``year``: dates to their year;
    ``shift``: dates moved by a per-respondent number of days in ±``max_days`` (never 0);
    ``merge``: categories seen fewer than ``min_count`` times become ``other``; ``prefix``: the
    first ``length`` characters (postal codes); ``none``: kept as is but counted for k-anonymity.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    generalize: GeneralizeMethod
    width: int = Field(default=10, ge=1, le=100)
    bands: tuple[int, ...] | None = None
    top: int = Field(default=90, ge=1, le=150)
    max_days: int = Field(default=180, ge=1, le=3650)
    min_count: int = Field(default=10, ge=2)
    other: str = Field(default="other", min_length=1)
    length: int = Field(default=3, ge=1)

    @model_validator(mode="after")
    def _parameters_fit(self) -> QuasiIdentifier:
        allowed = _PARAMETERS[self.generalize]
        stray = sorted(self.model_fields_set - allowed - {"generalize"})
        if stray:
            raise ValueError(
                f"{', '.join(stray)} does not apply to generalize: {self.generalize} "
                f"(it takes {', '.join(sorted(allowed)) or 'no parameters'})"
            )
        if self.bands is not None:
            if any(b < 0 for b in self.bands) or list(self.bands) != sorted(set(self.bands)):
                raise ValueError(
                    "bands are increasing lower bounds of age bands, e.g. [18, 30, 45]"
                )
            if self.bands and self.bands[-1] >= self.top:
                raise ValueError(
                    f"the last band starts at {self.bands[-1]}, not below top {self.top}"
                )
        return self

    def describe(self) -> str:
        """One line for reports, e.g. ``age bands of 10 years, 90+ top-coded``."""
        if self.generalize == "age_band":
            if self.bands:
                return f"age bands from {list(self.bands)}, {self.top}+ top-coded"
            return f"age bands of {self.width} years, {self.top}+ top-coded"
        if self.generalize == "year":
            return "dates reduced to the year"
        if self.generalize == "shift":
            return f"dates shifted by a per-respondent offset of 1..{self.max_days} days either way"
        if self.generalize == "merge":
            return f"categories seen fewer than {self.min_count} times merged into {self.other!r}"
        if self.generalize == "prefix":
            return f"cut to the first {self.length} characters"
        return "kept as is (counted for k-anonymity)"


# ---------------------------------------------------------------------------------------------
# detection of direct identifiers
# ---------------------------------------------------------------------------------------------
CATEGORY_LABELS: dict[str, str] = {
    "email": "e-mail addresses",
    "phone": "phone numbers",
    "ip_address": "IP addresses",
    "person_name": "personal names",
    "street_address": "street addresses",
    "postal_code": "postal codes",
    "date_of_birth": "dates of birth",
    "exact_date": "exact dates",
    "location": "geographic locations",
    "record_id": "record or reference ids",
    "free_text": "free-text answers",
    "unique_values": "a value unique to each row",
}

_NAME_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("email", re.compile(r"e_?mail")),
    ("phone", re.compile(r"phone|(^|_)(tel|mobile|cell|fax)(_|$)")),
    ("ip_address", re.compile(r"(^|_)ip(_|$)|ip_?address")),
    (
        "person_name",
        re.compile(
            r"^name$|(^|_)(first|last|given|family|middle|maiden|full|user|nick|recipient|"
            r"participant|respondent|patient|client|contact|child|parent|person|your|sur|fore|"
            r"legal|display|real)_?names?(_|$)|(^|_)(surname|forename|initials)(_|$)"
        ),
    ),
    ("street_address", re.compile(r"(^|_)(street|address|addr|residence)(_|$)|address_line")),
    ("postal_code", re.compile(r"(^|_)(zip|zipcode|zip_code|postcode|post_code|postal|plz)(_|$)")),
    ("date_of_birth", re.compile(r"(^|_)(dob|born)(_|$)|birth")),
    ("location", re.compile(r"latitude|longitude|(^|_)(lat|lng|lon|gps|geo|coordinates)(_|$)")),
    (
        "record_id",
        re.compile(
            r"^id$|(^|_)(ssn|social_security|mrn|medical_record|nhs|passport|national_id|tax_id|"
            r"external_(data_)?reference|external_ref|insurance_number|"
            r"(response|record|participant|respondent|patient|subject|user|person|member|"
            r"employee|student|customer|client|panel|worker|prolific|mturk)_?id)(_|$)"
        ),
    ),
    (
        "free_text",
        re.compile(
            r"(^|_)(text|comments?|feedback|notes?|remarks?|describe|explain|open_?ended|"
            r"free_?text|specify)(_|$)"
        ),
    ),
)

_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_PHONE = re.compile(r"^\+?\(?\d[\d\s().\-/]{5,}\d$")
_DATE = re.compile(
    r"^(\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?|\d{1,2}[/.]\d{1,2}[/.]\d{2,4}"
    r"( \d{1,2}:\d{2}(:\d{2})?)?)$"
)
_NUMBER = re.compile(r"^[-+]?\d+([.,]\d+)?$")
_STREET = re.compile(
    r"(^\d+[A-Za-z]?,?\s+(\S+\s+){0,4}(street|st|road|rd|avenue|ave|lane|ln|drive|dr|boulevard|"
    r"blvd|way|court|ct|place|pl|terrace|close|crescent|square|sq|highway|hwy|parkway)\b)|"
    r"(\w(stra(ss|ß)e|weg|gasse|allee|platz)\s+\d+)|(\b(rue|via|calle|avenida)\s+\S+.*\d)",
    re.IGNORECASE,
)
_PERSON = re.compile(r"^[A-Z][a-zà-öø-ÿ'’-]+(,?\s+[A-Z][a-zà-öø-ÿ'’.-]*){1,3}$")
_SAMPLE = 5000


@dataclass(frozen=True)
class Finding:
    """One reason to take a column for a direct identifier."""

    category: str
    evidence: Literal["column name", "values"]

    def describe(self) -> str:
        return f"{CATEGORY_LABELS[self.category]} ({self.evidence})"


def describe_findings(findings: Iterable[Finding]) -> str:
    """``e-mail addresses (column name, values); exact dates (values)``."""
    evidence: dict[str, list[str]] = {}
    for f in findings:
        evidence.setdefault(f.category, [])
        if f.evidence not in evidence[f.category]:
            evidence[f.category].append(f.evidence)
    return "; ".join(f"{CATEGORY_LABELS[c]} ({', '.join(e)})" for c, e in evidence.items())


def snake_name(name: str) -> str:
    """``RecipientFirstName`` -> ``recipient_first_name``; ``IPAddress`` -> ``ip_address``."""
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", str(name))
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    return re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower()


def as_text(values: pd.Series) -> pd.Series:
    """Cells as stripped text, whole numbers without ``.0``; missing and blank cells as <NA>."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.map(lambda v: pd.NA if pd.isna(v) else str(bool(v)).upper()).astype("string")
    if pd.api.types.is_numeric_dtype(values.dtype):
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
        out = np.empty(len(numbers), dtype=object)
        finite = np.isfinite(numbers)
        whole = finite & (numbers == np.round(numbers)) & (np.abs(numbers) < 2**53)
        out[:] = pd.NA
        out[whole] = [str(int(x)) for x in numbers[whole]]
        rest = finite & ~whole
        out[rest] = [repr(float(x)) for x in numbers[rest]]
        return pd.Series(out, index=values.index, dtype="string")
    if values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) != "string":
        values = values.map(_cell_text, na_action="ignore")
    text = values.astype("string").str.strip()
    return text.mask(text == "", pd.NA)


def _cell_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return str(value)


def _is_ip(text: str) -> bool:
    if not re.fullmatch(r"[0-9.]{7,15}|[0-9A-Fa-f:.]{3,45}", text) or text.count(":") == 1:
        return False
    if "." in text and ":" not in text and text.count(".") != 3:
        return False
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _is_phone(text: str) -> bool:
    if not _PHONE.match(text) or _DATE.match(text) or _NUMBER.match(text) or _is_ip(text):
        return False
    digits = sum(ch.isdigit() for ch in text)
    return 7 <= digits <= 15


def _is_free_text(text: str) -> bool:
    """Prose: at least four words with letters in them, or 40 characters with letters."""
    words = [w for w in text.split() if any(ch.isalpha() for ch in w)]
    return len(words) >= 4 or (len(text) >= 40 and bool(words))


def _sample_cells(values: pd.Series) -> list[str]:
    """Up to :data:`_SAMPLE` non-empty cells as stripped text (a seeded sample of longer columns)."""
    if len(values) > _SAMPLE:
        values = values.sample(_SAMPLE, random_state=0)
    cells = []
    for value in values.tolist():
        if value is None or value is pd.NA or (isinstance(value, float) and value != value):
            continue
        text = _cell_text(value).strip()
        if text:
            cells.append(text)
    return cells


def value_findings(values: pd.Series) -> list[str]:
    """Identifier categories that a column's values look like (see the module docstring)."""
    cells = _sample_cells(values)
    n = len(cells)
    if n == 0:
        return []
    found: list[str] = []
    if any(_EMAIL.search(c) for c in cells):
        found.append("email")
    if any(_is_ip(c) for c in cells):
        found.append("ip_address")
    if any(_is_phone(c) for c in cells):
        found.append("phone")
    if any(_STREET.search(c) for c in cells):
        found.append("street_address")
    distinct = len(set(cells)) / n
    if n >= 3 and distinct >= 0.5 and sum(bool(_PERSON.match(c)) for c in cells) >= 0.5 * n:
        found.append("person_name")
    if sum(bool(_DATE.match(c)) for c in cells) >= 0.5 * n:
        found.append("exact_date")
    long_text = sum(_is_free_text(c) for c in cells)
    if long_text >= 0.3 * n and distinct >= 0.5:
        found.append("free_text")
    if n >= 10 and len(set(cells)) == n:
        found.append("unique_values")
    return found


def name_findings(name: str) -> list[str]:
    """Identifier categories that a column's name suggests."""
    snake = snake_name(name)
    found = [category for category, pattern in _NAME_PATTERNS if pattern.search(snake)]
    if "street_address" in found and {"email", "ip_address"}.intersection(found):
        found.remove("street_address")  # "email_address", "ip_address"
    return found


def detect_identifiers(name: str, values: pd.Series) -> list[Finding]:
    """Every reason to take column ``name`` for a direct identifier, by its name and its values."""
    findings = [Finding(c, "column name") for c in name_findings(name)]
    findings += [Finding(c, "values") for c in value_findings(values)]
    return findings


#: Findings a quasi-identifier's generalization makes harmless: the output holds only values
#: derived from it (age bands from numbers, years or shifted days from dates, prefixes).
_HARMLESS: dict[str, frozenset[str]] = {
    "age_band": frozenset(CATEGORY_LABELS),
    "year": frozenset(CATEGORY_LABELS),
    "shift": frozenset({"exact_date", "unique_values"}),
    "merge": frozenset({"unique_values"}),
    "prefix": frozenset({"postal_code", "unique_values"}),
    "none": frozenset(),
}

#: Findings that cannot apply to a column whose values come from a fixed list of choices (REDCap
#: checkbox fields, SPSS variables with value labels).
_CODED_HARMLESS = frozenset({"free_text", "person_name", "unique_values"})

Role = Literal[
    "item", "id", "wave", "group", "quasi_identifier", "identifier", "drop", "metadata", "unmatched"
]


@dataclass(frozen=True)
class ColumnDecision:
    """What happens to one source column and why.

    ``role`` is what the mapping (or the format) made of it; ``kept`` says whether it reaches the
    output (an id column reaches it only as pseudonyms); ``findings`` are the identifier checks that
    fired on it.
    """

    column: str
    role: Role
    kept: bool
    reason: str
    findings: tuple[Finding, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "role": self.role,
            "kept": self.kept,
            "reason": self.reason,
            "detected": describe_findings(self.findings),
        }


def classify_columns(
    frame: pd.DataFrame,
    *,
    items: Iterable[str] = (),
    id_column: str | None = None,
    waves: Sequence[str] = (),
    groups: Sequence[str] = (),
    quasi_identifiers: Mapping[str, QuasiIdentifier] | None = None,
    identifiers: Iterable[str] = (),
    drop: Iterable[str] = (),
    metadata: Iterable[str] = (),
    metadata_source: str = "the export",
    categorical: Iterable[str] = (),
) -> list[ColumnDecision]:
    """Decide, for every column of ``frame``, whether it reaches the output; one decision each.

    Item columns are kept (their answers are validated codes); the id column is pseudonymized;
    wave, group and quasi-identifier columns are kept unless a detection fires that their
    generalization does not make harmless; every other column is dropped with its reason.
    ``categorical`` columns hold coded choices (checkbox fields, labelled variables), so the value
    checks for prose, names and unique values do not apply to them.
    """
    qis = dict(quasi_identifiers or {})
    item_set, wave_set, group_set = set(items), set(waves), set(groups)
    declared, dropped, meta = set(identifiers), set(drop), set(metadata)
    coded = set(categorical)
    decisions: list[ColumnDecision] = []
    for col in map(str, frame.columns):
        if col in item_set:
            decisions.append(ColumnDecision(col, "item", True, "item of the instrument"))
            continue
        if col == id_column:
            decisions.append(
                ColumnDecision(col, "id", True, "respondent id: replaced by keyed pseudonyms")
            )
            continue
        findings = tuple(detect_identifiers(col, frame[col]))
        if col in coded:  # values from a fixed list of choices: not prose, not names
            findings = tuple(f for f in findings if f.category not in _CODED_HARMLESS)
        if col in declared:
            decisions.append(
                ColumnDecision(col, "identifier", False, "declared an identifier", findings)
            )
        elif col in qis or col in group_set or col in wave_set:
            role: Role = (
                "quasi_identifier" if col in qis else ("group" if col in group_set else "wave")
            )
            harmless = _HARMLESS[qis[col].generalize] if col in qis else frozenset()
            if col in qis and qis[col].generalize == "shift":
                harmless = harmless - {"date_of_birth"}
            live = tuple(f for f in findings if f.category not in harmless)
            if live:
                what = describe_findings(live)
                decisions.append(
                    ColumnDecision(
                        col,
                        role,
                        False,
                        f"declared a {role.replace('_', '-')} column but looks like {what}",
                        live,
                    )
                )
            else:
                reason = qis[col].describe() if col in qis else f"{role} column"
                decisions.append(ColumnDecision(col, role, True, reason, findings))
        elif col in meta and {f.category for f in findings} <= {"unique_values"}:
            decisions.append(
                ColumnDecision(col, "metadata", False, f"metadata of {metadata_source}")
            )
        elif findings:
            what = describe_findings(findings)
            decisions.append(
                ColumnDecision(col, "identifier", False, f"detected: {what}", findings)
            )
        elif col in dropped:
            decisions.append(ColumnDecision(col, "drop", False, "declared not needed (drop)"))
        elif col in meta:
            decisions.append(
                ColumnDecision(col, "metadata", False, f"metadata of {metadata_source}")
            )
        else:
            decisions.append(
                ColumnDecision(col, "unmatched", False, "matches no item and is not declared")
            )
    return decisions


def redact(value: object) -> object:
    """A cell for a report: kept unless it looks like an identifier or free text."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return value
    text = str(value).strip()
    for category, test in (
        ("email", lambda t: bool(_EMAIL.search(t))),
        ("ip_address", _is_ip),
        ("phone", _is_phone),
        ("street_address", lambda t: bool(_STREET.search(t))),
        ("exact_date", lambda t: bool(_DATE.match(t))),
        ("free_text", _is_free_text),
        ("person_name", lambda t: bool(_PERSON.match(t))),
    ):
        if test(text):
            return f"<redacted: looks like {CATEGORY_LABELS[category]}>"
    return value


# ---------------------------------------------------------------------------------------------
# pseudonyms
# ---------------------------------------------------------------------------------------------
_KEY_PURPOSE = "surveytool pseudonym key (HMAC-SHA-256). Keep it apart from the data; back it up."
_MIN_KEY_BYTES = 16


class PseudonymKey:
    """The secret of keyed pseudonyms; never printed, never written to any output.

    Build it with :meth:`from_file` (creates the file when missing) or :meth:`from_secret`.
    """

    __slots__ = ("_secret", "created", "notes", "path")

    def __init__(self, secret: bytes, path: Path | None = None, created: bool = False) -> None:
        if len(secret) < _MIN_KEY_BYTES:
            raise KeyFileError(
                f"a pseudonym key needs at least {_MIN_KEY_BYTES} random bytes, got {len(secret)}"
            )
        self._secret = bytes(secret)
        self.path = path
        self.created = created
        self.notes: list[str] = []

    def __repr__(self) -> str:
        return f"PseudonymKey(fingerprint={self.fingerprint!r}, path={self.path!r})"

    @classmethod
    def from_secret(cls, secret: bytes) -> PseudonymKey:
        """A key from bytes you hold (at least 16, from a secure random source)."""
        return cls(secret)

    @classmethod
    def from_file(cls, path: str | Path, *, create: bool = True) -> PseudonymKey:
        """Read the key file, or create it (32 random bytes, hex, mode 0600) when missing.

        The key-file format is :mod:`surveytool.io.keys`'.
        """
        found = open_key_file(
            path, _KEY_PURPOSE, create=create, hint="give the key file this cohort was made with"
        )
        key = cls(found.secret, found.path, created=found.created)
        note = found.mode_note
        if note is not None:
            key.notes.append(note)
        return key

    @property
    def fingerprint(self) -> str:
        """Identifies the key (to refuse mixing keys in one cohort) without revealing it."""
        return hmac.new(self._secret, b"surveytool key fingerprint v1", hashlib.sha256).hexdigest()[
            :16
        ]

    def pseudonym(self, respondent_id: str) -> str:
        """HMAC-SHA-256(key, id) in hex, first 128 bits."""
        digest = hmac.digest(self._secret, respondent_id.encode("utf-8"), "sha256")
        return digest.hex()[:PSEUDONYM_HEX]

    def pseudonyms(self, ids: Iterable[object]) -> list[str | None]:
        """Pseudonym of every id (None for a missing or empty id)."""
        out: list[str | None] = []
        cache: dict[str, str] = {}
        for value in ids:
            if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
                out.append(None)
                continue
            text = str(value)
            if not text:
                out.append(None)
                continue
            if text not in cache:
                cache[text] = self.pseudonym(text)
            out.append(cache[text])
        return out

    def day_offset(self, respondent: str, max_days: int) -> int:
        """A per-respondent date shift in ±1..max_days days (never 0), drawn from the key."""
        digest = hmac.new(self._secret, b"date-shift\x00" + respondent.encode(), hashlib.sha256)
        draw = int.from_bytes(digest.digest()[:8], "big") % (2 * max_days)
        return draw - max_days if draw < max_days else draw - max_days + 1


def load_key(
    key: PseudonymKey | bytes | str | Path | None, default_path: Path | None = None
) -> PseudonymKey:
    """A key object from a key, raw bytes, or a key file path (created when missing)."""
    if isinstance(key, PseudonymKey):
        return key
    if isinstance(key, bytes):
        return PseudonymKey.from_secret(key)
    if key is None:
        if default_path is None:
            raise KeyFileError("give a key file (key_file=...) or a key for the pseudonyms")
        return PseudonymKey.from_file(default_path)
    return PseudonymKey.from_file(key)


def default_key_path(cohort: Path) -> Path:
    """Where a cohort's key goes when no key file is given: the user's data folder, not the data's."""
    import hashlib

    from surveytool.personal_store import data_dir

    # one key per cohort file (its absolute path), so two studies that both write
    # "cohort.parquet" in different folders never share a key and cannot be linked
    where = hashlib.sha256(str(cohort.resolve()).encode("utf-8")).hexdigest()[:12]
    return data_dir() / "keys" / f"{cohort.stem}-{where}.key"


# ---------------------------------------------------------------------------------------------
# generalization
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Generalized:
    """What generalizing one column did (never the values themselves)."""

    column: str
    method: str
    description: str
    unreadable: int = 0
    merged_categories: int = 0
    merged_rows: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "method": self.method,
            "description": self.description,
            "unreadable_values": self.unreadable,
            "merged_categories": self.merged_categories,
            "merged_rows": self.merged_rows,
        }


_EXCEL_EPOCH = dt.datetime(1899, 12, 30)


def parse_dates(values: pd.Series) -> pd.Series:
    """Dates from ISO or day/month text, datetimes, or Excel serial day numbers (10000-80000)."""
    text = as_text(values)
    serial = pd.to_numeric(text.where(text.str.fullmatch(r"\d{5}(\.\d+)?", na=False)), "coerce")
    out = pd.to_datetime(text, errors="coerce", format="ISO8601")
    rest = out.isna() & text.notna() & serial.isna()
    if rest.any():
        out[rest] = pd.to_datetime(text[rest], errors="coerce", format="mixed")
    use_serial = serial.between(10000, 80000)
    if use_serial.any():
        days = pd.to_timedelta(serial[use_serial].astype(float), unit="D")
        out[use_serial] = pd.Timestamp(_EXCEL_EPOCH) + days
    return out


def _age_bands(values: pd.Series, spec: QuasiIdentifier) -> tuple[pd.Series, int]:
    ages = pd.to_numeric(as_text(values), errors="coerce").to_numpy(dtype=np.float64)
    present = as_text(values).notna().to_numpy(dtype=bool)
    with np.errstate(invalid="ignore"):
        bad = present & (np.isnan(ages) | (ages < 0) | (ages > 130))
    ages[bad] = np.nan
    lowers = list(spec.bands) if spec.bands else list(range(0, spec.top, spec.width))
    labels: list[str] = []
    for i, lo in enumerate(lowers):
        hi = (lowers[i + 1] if i + 1 < len(lowers) else spec.top) - 1
        labels.append(f"{lo}-{hi}" if hi > lo else str(lo))
    out = np.full(len(ages), None, dtype=object)
    ok = ~np.isnan(ages)
    whole = np.floor(ages[ok])
    idx = np.searchsorted(np.array(lowers, dtype=np.float64), whole, side="right") - 1
    band = np.where(
        whole >= spec.top,
        f"{spec.top}+",
        np.where(idx < 0, f"<{lowers[0]}", np.array(labels, dtype=object)[np.clip(idx, 0, None)]),
    )
    out[ok] = band
    return pd.Series(out, index=values.index, dtype=object), int(bad.sum())


def generalize_column(
    values: pd.Series,
    spec: QuasiIdentifier,
    *,
    respondents: Sequence[str | None] | None = None,
    key: PseudonymKey | None = None,
) -> tuple[pd.Series, int]:
    """Row-wise generalization of one column (``merge`` is done over the whole cohort, later).

    Returns the generalized values and how many present values could not be read (they become
    missing). ``shift`` needs the respondents' pseudonyms and the key.
    """
    text = as_text(values)
    present = text.notna().to_numpy(dtype=bool)
    if spec.generalize == "age_band":
        return _age_bands(values, spec)
    if spec.generalize in ("year", "shift"):
        dates = parse_dates(values)
        readable = dates.notna().to_numpy(dtype=bool)
        unreadable = int((present & ~readable).sum())
        if spec.generalize == "year":
            years = [
                str(int(y)) if ok else None for y, ok in zip(dates.dt.year, readable, strict=True)
            ]
            return _objects(years, values.index), unreadable
        if respondents is None or key is None:
            raise ValueError("shifting dates needs the respondents and the key")
        offsets = [key.day_offset(r, spec.max_days) if r is not None else 0 for r in respondents]
        shifted = (dates.dt.normalize() + pd.to_timedelta(offsets, unit="D")).dt.strftime(
            "%Y-%m-%d"
        )
        days = [d if ok else None for d, ok in zip(shifted, readable, strict=True)]
        return _objects(days, values.index), unreadable
    cells = [str(v) if ok else None for v, ok in zip(text, present, strict=True)]
    if spec.generalize == "prefix":
        cells = [c[: spec.length] if c is not None else None for c in cells]
    return _objects(cells, values.index), 0


def _objects(cells: Sequence[object], index: pd.Index) -> pd.Series:
    """An object column that keeps None as None (pandas would turn it into NaN on some paths)."""
    out = pd.Series(np.empty(len(cells), dtype=object), index=index, dtype=object)
    out[:] = list(cells)
    return out


def merge_small_categories(values: pd.Series, spec: QuasiIdentifier) -> tuple[pd.Series, int, int]:
    """Categories seen fewer than ``min_count`` times become ``other``; (values, categories, rows)."""
    counts = values.value_counts(dropna=True)
    small = [c for c, n in counts.items() if n < spec.min_count and c != spec.other]
    if not small:
        return values, 0, 0
    mask = values.isin(small)
    return values.mask(mask, spec.other), len(small), int(mask.sum())


# ---------------------------------------------------------------------------------------------
# k-anonymity
# ---------------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------------
# the disclosure report
# ---------------------------------------------------------------------------------------------
@dataclass
class DisclosureReport:
    """What anonymization did: dropped, pseudonymized, generalized, suppressed; the resulting k.

    Never holds a value of the data (only column names, counts and methods).
    """

    dropped: list[ColumnDecision] = field(default_factory=list)
    kept: list[ColumnDecision] = field(default_factory=list)
    id_column: str | None = None
    key_fingerprint: str | None = None
    generalized: list[Generalized] = field(default_factory=list)
    k_anonymity: KAnonymity | None = None
    suppressed_existing: int = 0
    rows: int = 0
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (the ``COHORT.disclosure.json`` file)."""
        return {
            "dropped_columns": [d.as_dict() for d in self.dropped],
            "kept_columns": [d.as_dict() for d in self.kept],
            "pseudonyms": {
                "source_column": self.id_column,
                "output_column": PSEUDONYM_COLUMN,
                "method": "HMAC-SHA-256 with a secret key kept apart from the data; first 128 bits",
                "key_fingerprint": self.key_fingerprint,
            },
            "generalized": [g.as_dict() for g in self.generalized],
            "k_anonymity": None if self.k_anonymity is None else self.k_anonymity.as_dict(),
            "suppressed_from_existing_cohort": self.suppressed_existing,
            "rows": self.rows,
            "notes": list(self.notes),
        }

    def format_text(self) -> str:
        """The readable summary (the ``COHORT.disclosure.txt`` file)."""
        lines = ["Disclosure report", "=================", ""]
        lines.append(f"Rows in the anonymized table: {self.rows}")
        lines.append("")
        lines.append(f"Dropped columns ({len(self.dropped)}): they do not reach the output.")
        for d in self.dropped:
            lines.append(f"  - {d.column}: {d.reason}")
        lines.append("")
        if self.id_column:
            lines.append(
                f"Respondent ids ({self.id_column}) replaced by keyed pseudonyms in column "
                f"{PSEUDONYM_COLUMN!r}: HMAC-SHA-256, key fingerprint {self.key_fingerprint}. "
                "The key is not in the output; without it the pseudonyms cannot be recomputed."
            )
        else:
            lines.append(
                f"No respondent id column: column {PSEUDONYM_COLUMN!r} holds keyed pseudonyms of "
                f"file and row (key fingerprint {self.key_fingerprint})."
            )
        lines.append("")
        lines.append(f"Generalized quasi-identifiers ({len(self.generalized)}):")
        for g in self.generalized:
            extra = []
            if g.unreadable:
                extra.append(f"{g.unreadable} unreadable value(s) set to missing")
            if g.merged_categories:
                extra.append(
                    f"{g.merged_categories} small categor{'y' if g.merged_categories == 1 else 'ies'}"
                    f" ({g.merged_rows} row(s)) merged"
                )
            tail = f" ({'; '.join(extra)})" if extra else ""
            lines.append(f"  - {g.column}: {g.description}{tail}")
        lines.append("")
        kanon = self.k_anonymity
        if kanon is None or not kanon.quasi_identifiers:
            lines.append("k-anonymity: no quasi-identifiers declared, so none was assessed.")
        else:
            lines.append(f"k-anonymity over {', '.join(kanon.quasi_identifiers)}:")
            lines.append(
                f"  smallest equivalence class before suppression: {kanon.smallest_before}"
            )
            if kanon.k_requested is not None:
                lines.append(
                    f"  k requested: {kanon.k_requested}; records suppressed: {kanon.suppressed}"
                    + (
                        f" (and {self.suppressed_existing} from the existing cohort)"
                        if self.suppressed_existing
                        else ""
                    )
                )
            smallest = (
                "none (every record was suppressed)" if kanon.smallest is None else kanon.smallest
            )
            lines.append(f"  resulting k (smallest class): {smallest}; classes: {kanon.classes}")
        if self.notes:
            lines.append("")
            lines.append("Notes:")
            lines.extend(f"  - {note}" for note in self.notes)
        return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# the public one-table pipeline
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Anonymized:
    """An anonymized table and its disclosure report."""

    frame: pd.DataFrame
    disclosure: DisclosureReport


def anonymize(
    frame: pd.DataFrame,
    *,
    key: PseudonymKey | bytes | str | Path,
    id_column: str | None = None,
    keep: Sequence[str] = (),
    groups: Sequence[str] = (),
    quasi_identifiers: Mapping[str, QuasiIdentifier | Mapping[str, Any]] | None = None,
    identifiers: Sequence[str] = (),
    k: int | None = None,
) -> Anonymized:
    """Anonymize one table: the same steps ``surveytool cohort import`` applies on the way in.

    Parameters
    ----------
    frame
        One row per respondent.
    key
        A :class:`PseudonymKey`, raw key bytes, or the path of a key file (created when missing).
    id_column
        Respondent id column, replaced by :data:`PSEUDONYM_COLUMN`. Without it, pseudonyms are
        made from the row number, so they only link rows within this table.
    keep
        Columns kept as they are (for example item answers already validated as codes).
    groups
        Columns kept unless they look like direct identifiers.
    quasi_identifiers
        Column -> :class:`QuasiIdentifier` (or a mapping such as ``{"generalize": "year"}``).
    identifiers
        Columns declared direct identifiers (dropped). Every column not named in ``keep``,
        ``groups`` or ``quasi_identifiers`` is dropped too, with the reason in the report.
    k
        Suppress records until every equivalence class over the quasi-identifiers has ``k`` rows.

    Returns
    -------
    Anonymized
        ``frame``: pseudonym, groups, quasi-identifiers (generalized), then the ``keep`` columns;
        ``disclosure``: the report.
    """
    from analysis.errors import AnalysisError

    secret = load_key(key)
    specs = {
        name: spec if isinstance(spec, QuasiIdentifier) else QuasiIdentifier.model_validate(spec)
        for name, spec in (quasi_identifiers or {}).items()
    }
    for col in [*keep, *groups, *specs, *identifiers, *([id_column] if id_column else [])]:
        if col not in frame.columns:
            raise AnalysisError(
                f"column {col!r} is not in the table; its columns are: "
                f"{', '.join(map(str, frame.columns[:30]))}"
            )
    decisions = classify_columns(
        frame,
        items=keep,
        id_column=id_column,
        groups=groups,
        quasi_identifiers=specs,
        identifiers=identifiers,
    )
    kept = {d.column for d in decisions if d.kept}
    if id_column:
        raw_ids = as_text(frame[id_column]).tolist()
    else:
        raw_ids = [f"row:{i + 1}" for i in range(len(frame))]
    pseudonyms = secret.pseudonyms(raw_ids)
    out = pd.DataFrame({PSEUDONYM_COLUMN: pd.Series(pseudonyms, dtype=object)})
    for col in groups:
        if col in kept:
            out[col] = as_text(frame[col]).astype(object).where(frame[col].notna(), None).values
    report = DisclosureReport(id_column=id_column, key_fingerprint=secret.fingerprint)
    active_qis = [c for c in specs if c in kept]
    for col in active_qis:
        spec = specs[col]
        values, unreadable = generalize_column(
            frame[col].reset_index(drop=True), spec, respondents=pseudonyms, key=secret
        )
        merged_categories = merged_rows = 0
        if spec.generalize == "merge":
            values, merged_categories, merged_rows = merge_small_categories(values, spec)
        out[col] = values.values
        report.generalized.append(
            Generalized(
                col, spec.generalize, spec.describe(), unreadable, merged_categories, merged_rows
            )
        )
    for col in keep:
        out[col] = frame[col].to_numpy()
    keep_mask, _sizes, kanon = enforce_k(out, active_qis, k, PSEUDONYM_COLUMN)
    out = out.loc[keep_mask].reset_index(drop=True)
    report.dropped = [d for d in decisions if not d.kept]
    report.kept = [d for d in decisions if d.kept]
    report.k_anonymity = kanon
    report.rows = len(out)
    report.notes.extend(secret.notes)
    return Anonymized(frame=out, disclosure=report)
