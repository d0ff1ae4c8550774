"""Direct identifiers: detection by column name and by values, and the decision for each
column (FORMULAS.md, "Disclosure control").

**Direct identifiers never reach the output.** A column is dropped when the mapping declares it
an identifier, and when :func:`detect_identifiers` finds names, e-mail addresses, phone numbers,
street addresses or postal codes, dates of birth or other exact dates, IP addresses, geographic
coordinates, record or reference ids, free-text answers, or a value unique to each row, by its
column name or by its values. Detection errs toward dropping: one e-mail address, phone number or
IP address among the values is enough. The output keeps only what was asked for (items, groups,
waves, quasi-identifiers), so a column nobody declared is dropped as well; the report gives the
reason for every dropped column.

The rules for a single value (what an e-mail address, a phone number, a postcode or a name looks
like) and the redaction of cells shown in quarantine reports live in the core,
:mod:`surveytool.privacy`, so that ``surveytool score`` redacts by the same rules; this module
applies them to columns.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from analysis.cells import cell_text, snake_name
from analysis.privacy.generalize import QuasiIdentifier
from surveytool.privacy import (
    CATEGORY_LABELS,
    blank_contacts,
    given_names,
    has_email,
    has_phone,
    has_postcode,
    has_street,
    identifier_category,
    is_date,
    is_free_text,
    is_given_name,
    is_ip,
    is_person_name,
    looks_like_full_name,
)
from surveytool.privacy import redact as redact

if TYPE_CHECKING:
    from analysis.privacy.pseudonyms import PseudonymKey

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


def _sample_cells(values: pd.Series | np.ndarray) -> list[str]:
    """Up to :data:`_SAMPLE` non-empty cells as stripped text (a seeded sample of longer columns)."""
    if len(values) > _SAMPLE:
        values = pd.Series(values).sample(_SAMPLE, random_state=0)
    cells = []
    for value in values.tolist():
        if value is None or value is pd.NA or (isinstance(value, float) and value != value):
            continue
        text = cell_text(value).strip()
        if text:
            cells.append(text)
    return cells


def value_findings(values: pd.Series | np.ndarray) -> list[str]:
    """Identifier categories that a column's values look like (see the module docstring)."""
    cells = _sample_cells(values)
    if len(cells) <= _MEMO_CELLS:  # a wide table of few rows: columns often hold the same cells
        return list(_short_findings(tuple(cells)))
    return _cell_findings(cells)


#: Columns of at most this many cells have their findings remembered (by their cells), so the
#: 10**6 columns of a wide export of a few rows cost one dictionary look-up each, mostly.
_MEMO_CELLS = 64


@functools.lru_cache(maxsize=1 << 14)
def _short_findings(cells: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(_cell_findings(cells))


def _cell_findings(cells: Sequence[str]) -> list[str]:
    """:func:`value_findings` of a column's sampled, stripped, non-empty cells."""
    n = len(cells)
    if n == 0:
        return []
    found: list[str] = []
    if any(has_email(c) for c in cells):
        found.append("email")
    if any(is_ip(c) for c in cells):
        found.append("ip_address")
    if any(has_phone(c) for c in cells):
        found.append("phone")
    if any(has_street(c) for c in cells):
        found.append("street_address")
    if any(has_postcode(c) for c in cells):
        found.append("postal_code")
    distinct = len(set(cells)) / n
    if n >= 3 and (
        (distinct >= 0.5 and sum(looks_like_full_name(c) for c in cells) >= 0.5 * n)
        or _mostly_names(cells)
    ):
        found.append("person_name")
    if sum(is_date(c) for c in cells) >= 0.5 * n:
        found.append("exact_date")
    long_text = sum(is_free_text(c) for c in cells)
    if long_text >= 0.3 * n and distinct >= 0.5:
        found.append("free_text")
    if n >= 10 and len(set(cells)) == n:
        found.append("unique_values")
    return found


def _mostly_names(cells: Sequence[str]) -> bool:
    """Half the cells are person names, however often each repeats (a therapist per client):
    two different given names, or one full name (a given name and a surname)."""
    names = [c for c in set(cells) if is_person_name(c)]
    if not names:
        return False
    known = set(names)
    share = sum(c in known for c in cells) / len(cells)
    full = any(not is_given_name(c) for c in names)
    return share >= 0.5 and (len(names) >= 2 or full)


#: Any of :data:`_NAME_PATTERNS` (each a group of the alternation: a match of one is a match).
_ANY_NAME_PATTERN = re.compile("|".join(f"(?:{p.pattern})" for _, p in _NAME_PATTERNS))


def name_findings(name: str) -> list[str]:
    """Identifier categories that a column's name suggests."""
    snake = snake_name(name)
    if not _ANY_NAME_PATTERN.search(snake):
        return []  # most names: one search, not one per pattern
    found = [category for category, pattern in _NAME_PATTERNS if pattern.search(snake)]
    if "street_address" in found and {"email", "ip_address"}.intersection(found):
        found.remove("street_address")  # "email_address", "ip_address"
    return found


def detect_identifiers(name: str, values: pd.Series | np.ndarray) -> list[Finding]:
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
    # a wide table of few rows: its cells as one array, a column a view of it (a Series per
    # column costs more than the column's few cells)
    rows, width = frame.shape
    cells = frame.to_numpy(dtype=object) if width > rows and rows <= _SAMPLE else None
    for position, col in enumerate(map(str, frame.columns)):
        if col in item_set:
            decisions.append(ColumnDecision(col, "item", True, "item of the instrument"))
            continue
        if col == id_column:
            decisions.append(
                ColumnDecision(col, "id", True, "respondent id: replaced by keyed pseudonyms")
            )
            continue
        values = frame.iloc[:, position] if cells is None else cells[:, position]
        findings = tuple(detect_identifiers(col, values))
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


def _identifying_part(part: str) -> bool:
    """One part of a file name (or a word of it) looks like an identifier."""
    return identifier_category(part) is not None or any(
        identifier_category(w) is not None for w in re.split(r"[.\-]+", part) if w
    )


def safe_file_name(name: str, key: PseudonymKey) -> str:
    """A source file's name as cohort metadata, reports and the ledger keep it.

    File names often carry who the data is about (``jane.doe@example.com_wave1.csv``). The parts
    of the name that look like identifiers (by :func:`identifier_category`: e-mail addresses,
    names, phone numbers, postcodes, dates ...) are left out, the rest is reduced to letters,
    digits, ``-`` and ``_``, and a keyed hash of the whole name (HMAC with the cohort's key, so
    nobody without the key can test a guess) tells files apart: ``wave1-3fa9c1d2e4b5.csv``.
    """
    base = PurePath(name).name
    suffix = (
        PurePath(base).suffix if re.fullmatch(r"\.[A-Za-z0-9]{1,8}", PurePath(base).suffix) else ""
    )
    stem = base[: len(base) - len(suffix)] if suffix else base
    stem = blank_contacts(stem)
    parts = [p for p in re.split(r"[\s_]+", stem) if p]
    dropped = {i for i, part in enumerate(parts) if _identifying_part(part)}
    for i, part in enumerate(parts):  # jane_doe, doe_jane: a given name in any case, and the
        if part.isalpha() and part.casefold() in given_names():  # words beside it (a surname)
            dropped.update(
                j for j in (i - 1, i, i + 1) if 0 <= j < len(parts) and parts[j].isalpha()
            )
    for width in (2, 3):  # a name written over several parts: Maria_Gonzalez
        for i in range(len(parts) - width + 1):
            if is_person_name(" ".join(parts[i : i + width])):
                dropped.update(range(i, i + width))
    kept = [
        clean
        for i, part in enumerate(parts)
        if i not in dropped and (clean := re.sub(r"[^A-Za-z0-9-]+", "", part))
    ]
    digest = key.pseudonym("source file name\x00" + base)[:12]
    return f"{'_'.join(kept) or 'source'}-{digest}{suffix.lower()}"
