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
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np
import pandas as pd

from analysis.cells import cell_text, snake_name, snake_names
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


def _cell_codes(frame: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Every cell of ``frame`` as a code into the list of its distinct stripped texts (``-1``:
    missing or blank), in one pass over the cells: the texts are made once per distinct value,
    not once per cell or per column (a wide file of 10**6 columns holds a few distinct answers).

    Columns are coded dtype by dtype: values of one dtype are equal exactly when their texts
    are (``1`` and ``1.0`` are both ``1``); an object column of mixed kinds (``True`` beside
    ``1``, which hash alike) has its texts made first.
    """
    rows, width = frame.shape
    codes = np.full((rows, width), -1, dtype=np.int64)
    vocabulary: dict[str, int] = {}
    groups: dict[object, list[int]] = {}
    for position, dtype in enumerate(frame.dtypes):
        groups.setdefault(dtype, []).append(position)
    for positions in groups.values():
        every = len(positions) == width
        block = (frame if every else frame.iloc[:, positions]).to_numpy()
        flat = block.ravel(order="F")  # column by column
        if flat.dtype == object and pd.api.types.infer_dtype(flat, skipna=True) not in _ALIKE:
            flat = _texts(flat)
        raw, uniques = pd.factorize(flat, use_na_sentinel=True)
        mapped = np.full(len(uniques) + 1, -1, dtype=np.int64)  # the last: missing (raw -1)
        for i, value in enumerate(uniques.tolist()):
            if value is None or value is pd.NA or (isinstance(value, float) and value != value):
                continue
            text = cell_text(value).strip()
            if text:
                mapped[i] = vocabulary.setdefault(text, len(vocabulary))
        coded = mapped[raw].reshape((rows, len(positions)), order="F")
        if every:
            codes = coded
        else:
            codes[:, positions] = coded
    return codes, list(vocabulary)


#: Kinds of object columns whose equal values (by hash) have equal texts.
_ALIKE = frozenset({"string", "empty", "integer", "floating", "mixed-integer-float", "decimal"})


def _texts(values: np.ndarray) -> np.ndarray:
    """Cells as text (None when missing), for :func:`_cell_codes`."""
    out = np.empty(len(values), dtype=object)
    out[:] = [
        None
        if v is None or v is pd.NA or (isinstance(v, float) and v != v)
        else cell_text(v).strip()
        for v in values.tolist()
    ]
    return out


def _distinct(codes: np.ndarray) -> np.ndarray:
    """How many distinct codes (not ``-1``) each column of ``codes`` holds."""
    if not codes.size:
        return np.zeros(codes.shape[1], dtype=np.int64)
    ordered = np.sort(codes, axis=0)
    first = np.ones(ordered.shape, dtype=bool)
    first[1:] = ordered[1:] != ordered[:-1]
    return np.asarray((first & (ordered >= 0)).sum(axis=0))


def table_value_findings(frame: pd.DataFrame) -> dict[int, list[str]]:
    """:func:`value_findings` of every column of ``frame`` (of at most :data:`_SAMPLE` rows, so
    nothing is sampled), by position, for the columns where a check fires; one pass over the
    cell array, each distinct text checked once."""
    codes, texts = _cell_codes(frame)
    if not texts:
        return {}
    valid = codes >= 0
    n = valid.sum(axis=0)

    def flag(test: Any) -> np.ndarray:
        return np.append(np.array([bool(test(t)) for t in texts], dtype=bool), False)

    def count(flags: np.ndarray) -> np.ndarray:
        return np.asarray(flags[codes].sum(axis=0))  # code -1: the appended False

    distinct = _distinct(codes)
    ratio = np.where(n > 0, distinct / np.maximum(n, 1), 0.0)
    found: list[tuple[str, np.ndarray]] = [
        (category, count(flag(test)) > 0)
        for category, test in (
            ("email", has_email),
            ("ip_address", is_ip),
            ("phone", has_phone),
            ("street_address", has_street),
            ("postal_code", has_postcode),
        )
    ]
    person = flag(is_person_name)
    named = np.where(person[codes], codes, -1)
    names = _distinct(named)
    full = count(person & ~flag(is_given_name)) > 0
    mostly = (names > 0) & (count(person) >= 0.5 * n) & ((names >= 2) | full)
    full_names = (ratio >= 0.5) & (count(flag(looks_like_full_name)) >= 0.5 * n)
    found.append(("person_name", (n >= 3) & (full_names | mostly)))
    found.append(("exact_date", (n > 0) & (count(flag(is_date)) >= 0.5 * n)))
    found.append(("free_text", (n > 0) & (count(flag(is_free_text)) >= 0.3 * n) & (ratio >= 0.5)))
    found.append(("unique_values", (n >= 10) & (distinct == n)))
    out: dict[int, list[str]] = {}
    for category, hits in found:
        for position in np.flatnonzero(hits).tolist():
            out.setdefault(position, []).append(category)
    order = {category: i for i, (category, _) in enumerate(found)}
    return {p: sorted(c, key=order.__getitem__) for p, c in sorted(out.items())}


def table_name_findings(names: Sequence[str]) -> dict[int, list[str]]:
    """:func:`name_findings` of every name, by position, where one fires: the names put to
    :data:`_ANY_NAME_PATTERN` at once (Arrow's regular expressions), the few that match one by
    one."""
    if not names:
        return {}
    import pyarrow.compute as pc

    snake = snake_names(names)
    hits = pc.match_substring_regex(snake, _ANY_NAME_PATTERN.pattern).to_numpy(zero_copy_only=False)
    out: dict[int, list[str]] = {}
    for position in np.flatnonzero(hits).tolist():
        found = name_findings(names[position])
        if found:
            out[position] = found
    return out


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


#: Why a column nobody declared, and no check fired on, is dropped.
UNMATCHED_REASON = "matches no item and is not declared"
#: The same, when the mapping says ``unmatched: drop``.
UNMATCHED_DROPPED = "matches no item; dropped (unmatched: drop)"


class ColumnDecisions(Sequence[ColumnDecision]):
    """Every column's :class:`ColumnDecision`, kept as arrays: a wide file's 10**6 columns are
    four arrays and the few findings, not 10**6 objects. A sequence of decisions (indexing
    makes one); :meth:`take`, :meth:`where` and :meth:`listed` work on the arrays."""

    __slots__ = ("_index", "columns", "findings", "kept", "reasons", "roles")

    def __init__(
        self,
        columns: Sequence[str] | np.ndarray,
        roles: Sequence[str] | np.ndarray,
        kept: Sequence[bool] | np.ndarray,
        reasons: Sequence[str] | np.ndarray,
        findings: Mapping[int, tuple[Finding, ...]] | None = None,
    ) -> None:
        self.columns = _objects(columns)
        self.roles = _objects(roles)
        self.kept = np.asarray(kept, dtype=bool)
        self.reasons = _objects(reasons)
        self.findings = {int(k): tuple(v) for k, v in (findings or {}).items() if v}
        self._index: pd.Index | None = None

    @classmethod
    def of(cls, decisions: Iterable[ColumnDecision]) -> ColumnDecisions:
        """``decisions`` as a :class:`ColumnDecisions` (itself when it is one)."""
        if isinstance(decisions, ColumnDecisions):
            return decisions
        listed = list(decisions)
        return cls(
            [d.column for d in listed],
            [d.role for d in listed],
            [d.kept for d in listed],
            [d.reason for d in listed],
            {i: d.findings for i, d in enumerate(listed) if d.findings},
        )

    def __len__(self) -> int:
        return len(self.columns)

    @overload
    def __getitem__(self, index: int) -> ColumnDecision: ...

    @overload
    def __getitem__(self, index: slice) -> ColumnDecisions: ...

    def __getitem__(self, index: int | slice) -> ColumnDecision | ColumnDecisions:
        if isinstance(index, slice):
            return self.take(np.arange(len(self))[index])
        i = range(len(self))[index]  # negative positions, and IndexError past the end
        return ColumnDecision(
            str(self.columns[i]),
            self.roles[i],
            bool(self.kept[i]),
            str(self.reasons[i]),
            self.findings.get(i, ()),
        )

    def __repr__(self) -> str:
        return f"ColumnDecisions({len(self)} columns, {int(self.kept.sum())} kept)"

    def take(self, positions: np.ndarray | Sequence[int]) -> ColumnDecisions:
        """The decisions at ``positions``, in that order."""
        at = np.asarray(positions, dtype=np.int64)
        inverse = np.full(len(self), -1, dtype=np.int64)
        inverse[at] = np.arange(len(at))
        findings = {int(inverse[k]): v for k, v in self.findings.items() if inverse[k] >= 0}
        return ColumnDecisions(
            self.columns[at], self.roles[at], self.kept[at], self.reasons[at], findings
        )

    def where(self, mask: np.ndarray) -> ColumnDecisions:
        """The decisions where ``mask`` (one bool per decision) holds."""
        return self.take(np.flatnonzero(mask))

    @property
    def dropped(self) -> ColumnDecisions:
        return self.where(~self.kept)

    @property
    def kept_columns(self) -> ColumnDecisions:
        return self.where(self.kept)

    def position(self, column: str) -> int | None:
        """Where ``column`` is (its first decision), or None."""
        if self._index is None:
            self._index = pd.Index(self.columns, dtype=object)
        if column not in self._index:
            return None
        found = self._index.get_loc(column)
        if isinstance(found, slice):
            return int(found.start)
        if isinstance(found, np.ndarray):
            return int(np.flatnonzero(found)[0])
        return int(found)

    def get(self, column: str) -> ColumnDecision | None:
        """The decision of ``column``, or None when it has none."""
        at = self.position(column)
        return None if at is None else self[at]

    def with_reasons(self, reasons: Mapping[str, str]) -> ColumnDecisions:
        """A copy with other reasons for some columns (by name)."""
        out = self.take(np.arange(len(self)))
        for column, reason in reasons.items():
            at = out.position(column)
            if at is not None:
                out.reasons[at] = reason
        return out

    def listed(self, limit: int) -> tuple[ColumnDecisions, list[dict[str, Any]]]:
        """The first ``limit`` decisions of each role and reason, in order, and how many of each
        are left out (``role``, ``reason``, ``count``): so a report names a few of the 10**6
        columns dropped for one reason and counts the rest, and the counts add up."""
        if not len(self):
            return self, []
        keys = pd.DataFrame({"role": self.roles, "reason": self.reasons})
        rank = keys.groupby(["role", "reason"], sort=False).cumcount().to_numpy()
        shown = rank < limit
        rest = keys[~shown]
        counts = rest.groupby(["role", "reason"], sort=False).size()
        left = [
            {"role": str(role), "reason": str(reason), "count": int(n)}
            for role, reason, n in zip(
                counts.index.get_level_values(0),
                counts.index.get_level_values(1),
                counts.to_numpy(),
                strict=True,
            )
        ]
        return self.where(shown), left


def _objects(values: Sequence[Any] | np.ndarray) -> np.ndarray:
    if isinstance(values, np.ndarray) and values.dtype == object:
        return values
    out = np.empty(len(values), dtype=object)
    out[:] = list(values) if not isinstance(values, np.ndarray) else values
    return out


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
    drop_unmatched: bool = False,
    unread: Sequence[str] = (),
) -> ColumnDecisions:
    """Decide, for every column of ``frame``, whether it reaches the output; one decision each.

    Item columns are kept (their answers are validated codes); the id column is pseudonymized;
    wave, group and quasi-identifier columns are kept unless a detection fires that their
    generalization does not make harmless; every other column is dropped with its reason.
    ``categorical`` columns hold coded choices (checkbox fields, labelled variables), so the value
    checks for prose, names and unique values do not apply to them.

    Linear in the cells, whatever the width: a frame of at most :data:`_SAMPLE` rows is checked
    as one cell array (:func:`table_value_findings`, :func:`table_name_findings`), and only the
    columns something is known of (declared, or a check fired) are looked at one by one; the
    rest match no item (:data:`UNMATCHED_REASON`); with ``drop_unmatched`` (the mapping's
    ``unmatched: drop``) they are dropped as declared (role ``drop``, :data:`UNMATCHED_DROPPED`).
    ``unread`` are columns of the source that were not read (a wide Parquet file's, see
    :func:`surveytool.io.sources.read_source`): decided after the others, by their names alone.
    """
    qis = dict(quasi_identifiers or {})
    item_set, wave_set, group_set = set(items), set(waves), set(groups)
    declared, dropped, meta = set(identifiers), set(drop), set(metadata)
    coded = set(categorical)
    rows, width = frame.shape
    names = [*map(str, frame.columns), *map(str, unread)]
    by_name = table_name_findings(names)
    by_value = table_value_findings(frame) if rows <= _SAMPLE else None
    named = item_set | declared | dropped | meta | coded | set(qis) | group_set | wave_set
    if id_column is not None:
        named.add(id_column)
    index = pd.Index(names, dtype=object)
    if index.is_unique:
        found = index.get_indexer(pd.Index(list(named), dtype=object))
        special = {int(p) for p in found if p >= 0}
    else:
        special = {p for p, c in enumerate(names) if c in named}
    todo = special | set(by_name) | (set(by_value) if by_value is not None else set(range(width)))
    roles = np.full(len(names), "unmatched", dtype=object)
    kept = np.zeros(len(names), dtype=bool)
    reasons = np.full(len(names), UNMATCHED_REASON, dtype=object)
    findings_at: dict[int, tuple[Finding, ...]] = {}
    for position in sorted(todo):
        col = names[position]
        if col in item_set:
            roles[position], kept[position] = "item", True
            reasons[position] = "item of the instrument"
            continue
        if col == id_column:
            roles[position], kept[position] = "id", True
            reasons[position] = "respondent id: replaced by keyed pseudonyms"
            continue
        if position >= width:  # not read: its name alone
            findings = tuple(Finding(c, "column name") for c in by_name.get(position, ()))
        elif by_value is None:
            values = frame.iloc[:, position]
            findings = tuple(detect_identifiers(col, values))
        else:
            findings = tuple(Finding(c, "column name") for c in by_name.get(position, ()))
            findings += tuple(Finding(c, "values") for c in by_value.get(position, ()))
        if col in coded:  # values from a fixed list of choices: not prose, not names
            findings = tuple(f for f in findings if f.category not in _CODED_HARMLESS)
        d = _decide(
            col, findings, qis, declared, dropped, meta, group_set, wave_set, metadata_source
        )
        roles[position], kept[position], reasons[position] = d.role, d.kept, d.reason
        if d.findings:
            findings_at[position] = d.findings
    if drop_unmatched:
        rest = roles == "unmatched"
        roles[rest] = "drop"
        reasons[rest] = UNMATCHED_DROPPED
    return ColumnDecisions(names, roles, kept, reasons, findings_at)


def _decide(
    col: str,
    findings: tuple[Finding, ...],
    qis: Mapping[str, QuasiIdentifier],
    declared: set[str],
    dropped: set[str],
    meta: set[str],
    group_set: set[str],
    wave_set: set[str],
    metadata_source: str,
) -> ColumnDecision:
    """The decision of a column that is neither an item nor the id (see :func:`classify_columns`)."""
    if col in declared:
        return ColumnDecision(col, "identifier", False, "declared an identifier", findings)
    if col in qis or col in group_set or col in wave_set:
        role: Role = "quasi_identifier" if col in qis else ("group" if col in group_set else "wave")
        harmless = _HARMLESS[qis[col].generalize] if col in qis else frozenset()
        if col in qis and qis[col].generalize == "shift":
            harmless = harmless - {"date_of_birth"}
        live = tuple(f for f in findings if f.category not in harmless)
        if live:
            what = describe_findings(live)
            return ColumnDecision(
                col,
                role,
                False,
                f"declared a {role.replace('_', '-')} column but looks like {what}",
                live,
            )
        reason = qis[col].describe() if col in qis else f"{role} column"
        return ColumnDecision(col, role, True, reason, findings)
    if col in meta and {f.category for f in findings} <= {"unique_values"}:
        return ColumnDecision(col, "metadata", False, f"metadata of {metadata_source}")
    if findings:
        what = describe_findings(findings)
        return ColumnDecision(col, "identifier", False, f"detected: {what}", findings)
    if col in dropped:
        return ColumnDecision(col, "drop", False, "declared not needed (drop)")
    if col in meta:
        return ColumnDecision(col, "metadata", False, f"metadata of {metadata_source}")
    return ColumnDecision(col, "unmatched", False, UNMATCHED_REASON)


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
