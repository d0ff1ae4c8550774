"""Direct identifiers: detection by column name and by values, the decision for each
column, and redaction of cells shown in reports (FORMULAS.md, "Disclosure control").

**Direct identifiers never reach the output.** A column is dropped when the mapping declares it
an identifier, and when :func:`detect_identifiers` finds names, e-mail addresses, phone numbers,
street addresses or postal codes, dates of birth or other exact dates, IP addresses, geographic
coordinates, record or reference ids, free-text answers, or a value unique to each row, by its
column name or by its values. Detection errs toward dropping: one e-mail address, phone number or
IP address among the values is enough. The output keeps only what was asked for (items, groups,
waves, quasi-identifiers), so a column nobody declared is dropped as well; the report gives the
reason for every dropped column.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from analysis.cells import cell_text, snake_name
from analysis.privacy.generalize import QuasiIdentifier

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
    # "phone" as a word of the name ("home_phone", "telephone_1", "phone_number"), not inside
    # another word ("smartphone", "headphones")
    (
        "phone",
        re.compile(
            r"(^|_)(tele)?phones?(_|$)|phone_?(number|no|nr)|(^|_)(tel|mobile|cell|fax)(_|$)"
        ),
    ),
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
    # a date (or day, year, month) of birth, not any mention of a birth ("given_birth")
    (
        "date_of_birth",
        re.compile(
            r"(^|_)(dob|born|birthday|birthdate)(_|$)|birth_?(date|day|dt|year|month)|"
            r"(date|day|year|month)_?of_?birth"
        ),
    ),
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
        text = cell_text(value).strip()
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
