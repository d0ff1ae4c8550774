"""Mapping files: how a source's columns and values become an instrument's items.

A mapping is YAML, validated by pydantic and located like instrument files (every problem with its
line and column). Every key is optional::

    instrument: ppai            # checked against --instrument
    format: qualtrics           # as --format; --format on the command line wins
    sheet: Responses            # workbook sheet (name or 0-based number)
    id_column: ResponseId       # respondent ids -> keyed pseudonyms; null: no ids (rows are keyed)
    items:                      # source column: item id (columns named like an item need no entry)
      Q1_1: FF1
    recode:                     # rules; a rule naming an item beats the rule for all items
      - items: all
        offset: 1               # a 0-based 0..4 coding onto the scale's 1..5
      - items: [FF4]
        map: {"Strongly disagree": 1, "Disagree": 2}   # label text (or a code) -> code; null: missing
        missing: [99, "Refused"]                      # values meaning "not answered"
    groups: [site]              # carried along for comparisons (kept unless they look identifying)
    waves: [redcap_event_name]  # with the id, what makes a row unique (REDCap events, instances)
    quasi_identifiers:
      age: {generalize: age_band, width: 10, top: 90}
      visit_date: {generalize: year}
      country: {generalize: merge, min_count: 10}
    identifiers: [RecipientEmail]   # direct identifiers: dropped (and detected ones too)
    drop: [Duration]                 # not identifying, not needed
    qualtrics: {keep_status: [Imported]}

Recoding a value: a ``missing`` entry makes it missing; else a ``map`` entry gives its code; else a
number has ``offset`` added; anything else is left to the scoring engine's validation (a scale label
such as "Very much like me" is read as its code there).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from analysis.anonymize import (
    QuasiIdentifier,
    as_text,
    classify_columns,
    describe_findings,
    snake_name,
)
from analysis.errors import MappingError
from surveytool.instrument import Instrument, ResponseScale
from surveytool.io.sources import SourceTable
from surveytool.validation import Loc, Problem, ValidationReport, format_loc

HINTS: dict[str, str] = {
    "file_unreadable": "Check the path and that the file is readable UTF-8 text.",
    "yaml_syntax": "Fix the YAML syntax at this line (indentation, a missing colon or quote).",
    "yaml_alias": "Write the value out instead of using a YAML anchor (&) or alias (*).",
    "yaml_duplicate_key": "Remove or rename one of the two keys; YAML would silently keep the last.",
    "not_a_mapping": "A mapping file is a YAML mapping with keys such as items, recode, groups.",
    "missing_field": "Add this field.",
    "unknown_field": (
        "Known keys: instrument, format, sheet, id_column, items, recode, groups, waves, "
        "quasi_identifiers, identifiers, drop, qualtrics."
    ),
    "wrong_type": "Give a value of the type the field expects.",
    "invalid_value": "Give a value the field accepts.",
    "unknown_item": "Use an item id of the instrument.",
    "unknown_column": "Use a column name of the source file (as its header row spells it).",
    "duplicate_item": "Map each item from one source column.",
    "column_roles": "Give each column one role: item, id, group, wave, quasi-identifier, identifier or drop.",
    "recode_conflict": "Name each item in at most one recode rule (besides the rule for all items).",
    "instrument_mismatch": "Import with the instrument the mapping was written for, or edit its instrument key.",
}


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


Scalar = str | int | float


class RecodeRule(_Model):
    """How one or all items' raw values become codes (see the module docstring)."""

    items: Literal["all"] | tuple[str, ...]
    offset: int | None = None
    map: dict[Scalar, int | None] | None = None
    missing: tuple[Scalar, ...] = ()

    @model_validator(mode="after")
    def _does_something(self) -> RecodeRule:
        if self.offset is None and not self.map and not self.missing:
            raise ValueError("a recode rule needs offset, map or missing")
        return self

    def describe(self) -> str:
        parts = []
        if self.missing:
            parts.append(f"{len(self.missing)} missing value(s)")
        if self.map:
            parts.append(f"{len(self.map)} value(s) mapped")
        if self.offset:
            parts.append(f"offset {self.offset:+d}")
        return ", ".join(parts)


class QualtricsOptions(_Model):
    """Qualtrics-only settings."""

    keep_status: tuple[str, ...] = Field(
        default=(), description="Status values kept besides ordinary responses ('IP Address'/0)."
    )


class CohortMapping(_Model):
    """A mapping file's content."""

    instrument: str | None = None
    format: Literal["csv", "tsv", "xlsx", "sav", "parquet", "qualtrics", "redcap"] | None = None
    sheet: str | int | None = None
    id_column: str | None = None
    items: dict[str, str] = Field(default_factory=dict)
    recode: tuple[RecodeRule, ...] = ()
    groups: tuple[str, ...] = ()
    waves: tuple[str, ...] | None = None
    quasi_identifiers: dict[str, QuasiIdentifier] = Field(default_factory=dict)
    identifiers: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    qualtrics: QualtricsOptions = Field(default_factory=QualtricsOptions)


@dataclass(frozen=True)
class LoadedMapping:
    """A validated mapping with where each value sits in its file (for located errors)."""

    mapping: CohortMapping
    file: str | None = None
    positions: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    sha256: str | None = None

    @property
    def id_column_set(self) -> bool:
        """Whether the file sets ``id_column`` (``null`` there means: no id column)."""
        return "id_column" in self.mapping.model_fields_set

    def problem(self, code: str, loc: Loc, message: str, hint: str | None = None) -> Problem:
        """A problem located at ``loc`` (or the nearest enclosing value found in the file)."""
        found = loc
        while found and found not in self.positions:
            found = found[:-1]
        line, column = self.positions.get(found, (None, None))
        return Problem(
            code=code,
            loc=loc,
            message=message,
            hint=HINTS.get(code, "") if hint is None else hint,
            file=self.file,
            line=line,
            column=column,
        )

    def fail(self, problems: Sequence[Problem]) -> MappingError:
        ordered = sorted(problems, key=lambda p: (p.line or 0, p.column or 0))
        return MappingError(ValidationReport(file=self.file or "<mapping>", problems=list(ordered)))


def _clean_loc(data: Any, loc: tuple[Any, ...]) -> Loc:
    """Drop pydantic's union-branch tags (``literal['all']``, ``list[str]``) from an error loc."""
    out: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if (isinstance(node, Mapping) and part in node) or (
            isinstance(node, list | tuple) and isinstance(part, int) and 0 <= part < len(node)
        ):
            out.append(part)
            node = node[part]
        elif last and isinstance(part, str | int) and isinstance(node, Mapping):
            out.append(part)  # a missing or unknown key
        # else: a branch tag or a key of a value that is not there
    return tuple(out)


def _structural(data: Any, exc: ValidationError, loaded: LoadedMapping) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = _clean_loc(data, tuple(err["loc"]))
        kind = err["type"]
        if kind == "missing":
            code = "missing_field"
        elif kind == "extra_forbidden":
            code = "unknown_field"
        elif kind.endswith(("_type", "_parsing")) or kind in ("dict_type", "list_type"):
            code = "wrong_type"
        else:
            code = "invalid_value"
        message = str(err["msg"]).removeprefix("Value error, ")
        where = format_loc(loc)
        problems.append(loaded.problem(code, loc, f"{where}: {message}" if where else message))
    # one message per place is enough (unions repeat the same complaint per branch)
    unique: dict[tuple[Loc, str], Problem] = {}
    for p in problems:
        unique.setdefault((p.loc, p.code), p)
    return list(unique.values())


def load_mapping(
    source: str | Path | Mapping[str, Any] | CohortMapping | LoadedMapping | None,
) -> LoadedMapping:
    """Load and validate a mapping from a YAML file, a dict, or a model; None is the empty mapping.

    Raises :class:`~analysis.errors.MappingError` listing every problem with its line.
    """
    if source is None:
        return LoadedMapping(CohortMapping())
    if isinstance(source, LoadedMapping):
        return source
    if isinstance(source, CohortMapping):
        return LoadedMapping(source)
    if isinstance(source, Mapping):
        data: Any = dict(source)
        loaded = LoadedMapping(CohortMapping(), file="<mapping>")
    else:
        path = Path(source)
        name = str(path)
        empty = LoadedMapping(CohortMapping(), file=name)
        try:
            raw = path.read_bytes()
            text = raw.decode("utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise empty.fail(
                [empty.problem("file_unreadable", (), f"cannot read the mapping file: {reason}")]
            ) from None
        from surveytool.loader import _Refusal, parse_text

        try:
            data, positions = parse_text(text)
        except _Refusal as refusal:
            found = replace(refusal.problem, file=name, hint=HINTS.get(refusal.problem.code, ""))
            raise empty.fail([found]) from None
        loaded = LoadedMapping(
            CohortMapping(), file=name, positions=positions, sha256=hashlib.sha256(raw).hexdigest()
        )
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        kind = type(data).__name__
        raise loaded.fail(
            [loaded.problem("not_a_mapping", (), f"the document is a {kind}, not a mapping")]
        )
    try:
        model = CohortMapping.model_validate(data)
    except ValidationError as exc:
        raise loaded.fail(_structural(data, exc, loaded)) from None
    return replace(loaded, mapping=model)


# ---------------------------------------------------------------------------------------------
# the plan: which source column plays which role
# ---------------------------------------------------------------------------------------------
_ID_GUESSES = (
    "respondent_id",
    "participant_id",
    "respondent",
    "participant",
    "record_id",
    "subject_id",
    "responseid",
    "response_id",
    "id",
)


@dataclass(frozen=True)
class ColumnPlan:
    """Roles of the source columns for one import."""

    items: dict[str, str]  # item id -> source column
    id_column: str | None
    id_note: str
    waves: tuple[str, ...]
    groups: tuple[str, ...]
    quasi_identifiers: dict[str, QuasiIdentifier]
    identifiers: tuple[str, ...]
    drop: tuple[str, ...]
    rules: dict[str, RecodeRule]  # item id -> its recode rule
    shadowed: tuple[str, ...]  # columns named like an item mapped from another column
    notes: tuple[str, ...] = ()


def _closest(name: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
    return f"Did you mean {close[0]!r}?" if close else ""


def plan_columns(table: SourceTable, instrument: Instrument, loaded: LoadedMapping) -> ColumnPlan:
    """Check the mapping against the source and the instrument and settle every column's role.

    Columns not named by the mapping are matched to items by exact id, then case-insensitively.
    Raises :class:`MappingError` with every problem located in the mapping file.
    """
    mapping = loaded.mapping
    columns = [str(c) for c in table.frame.columns]
    present = set(columns)
    problems: list[Problem] = []
    notes: list[str] = []
    item_ids = list(instrument.item_by_id)

    if mapping.instrument is not None and mapping.instrument != instrument.id:
        problems.append(
            loaded.problem(
                "instrument_mismatch",
                ("instrument",),
                f"the mapping is for instrument {mapping.instrument!r}, the import for "
                f"{instrument.id!r}",
            )
        )

    def column_exists(col: str, loc: Loc) -> bool:
        if col in present:
            return True
        hint = _closest(col, columns) or HINTS["unknown_column"]
        problems.append(
            loaded.problem(
                "unknown_column",
                loc,
                f"column {col!r} is not in {table.path.name} ({len(columns)} columns)",
                hint,
            )
        )
        return False

    roles: dict[str, tuple[str, Loc]] = {}

    def claim(col: str, role: str, loc: Loc) -> None:
        if col in roles and roles[col][0] != role:
            other, other_loc = roles[col]
            problems.append(
                loaded.problem(
                    "column_roles",
                    loc,
                    f"column {col!r} is declared {role} here and {other} at {format_loc(other_loc)}",
                )
            )
        roles.setdefault(col, (role, loc))

    # items named by the mapping
    items: dict[str, str] = {}
    for src, item in mapping.items.items():
        loc: Loc = ("items", src)
        if item not in instrument.item_by_id:
            problems.append(
                loaded.problem(
                    "unknown_item",
                    loc,
                    f"{instrument.id} has no item {item!r}",
                    _closest(item, item_ids) or HINTS["unknown_item"],
                )
            )
            continue
        if item in items:
            problems.append(
                loaded.problem(
                    "duplicate_item",
                    loc,
                    f"item {item!r} is mapped from {items[item]!r} and from {src!r}",
                )
            )
            continue
        if column_exists(src, loc):
            items[item] = src
            claim(src, "an item", loc)

    # id column
    id_column: str | None
    if loaded.id_column_set:
        id_column = mapping.id_column
        id_note = "declared in the mapping" if id_column else "none (declared null in the mapping)"
        if id_column is not None and column_exists(id_column, ("id_column",)):
            claim(id_column, "the id column", ("id_column",))
    else:
        id_column = _guess_id(table, columns, set(items.values()))
        id_note = (
            f"assumed {id_column!r} ({table.format} export)"
            if id_column and id_column == table.default_id_column
            else (f"guessed {id_column!r} by its name" if id_column else "none found")
        )
        if id_column:
            roles[id_column] = ("the id column", ())

    def declared(names: Sequence[str], key: str, role: str, must_exist: bool = True) -> list[str]:
        kept = []
        for i, col in enumerate(names):
            loc = (key, i)
            if not must_exist and col not in present:
                notes.append(f"{key}: column {col!r} is not in the source (nothing to drop)")
                continue
            if column_exists(col, loc):
                claim(col, role, loc)
                kept.append(col)
        return kept

    waves = (
        tuple(declared(mapping.waves, "waves", "a wave column"))
        if mapping.waves is not None
        else tuple(c for c in table.wave_columns if c not in roles)
    )
    if mapping.waves is None:
        for col in waves:
            roles[col] = ("a wave column", ())
    groups = tuple(declared(mapping.groups, "groups", "a group column"))
    qis: dict[str, QuasiIdentifier] = {}
    for col, spec in mapping.quasi_identifiers.items():
        if column_exists(col, ("quasi_identifiers", col)):
            claim(col, "a quasi-identifier", ("quasi_identifiers", col))
            qis[col] = spec
    identifiers = tuple(declared(mapping.identifiers, "identifiers", "an identifier", False))
    drop = tuple(declared(mapping.drop, "drop", "dropped", False))

    # items matched by name: exact id, then case- and punctuation-insensitive
    used = set(roles)
    shadowed: list[str] = []
    by_case: list[str] = []
    folded = {_fold(i): i for i in item_ids}
    for col in columns:
        if col in used:
            continue
        target = col if col in instrument.item_by_id else folded.get(_fold(col))
        if target is None:
            continue
        if target in items:
            if items[target] != col:
                shadowed.append(col)
            continue
        items[target] = col
        if target != col:
            by_case.append(f"{col} -> {target}")
    if by_case:
        shown = ", ".join(by_case[:5]) + (
            f", ... ({len(by_case)} in all)" if len(by_case) > 5 else ""
        )
        notes.append(f"columns taken for items named alike but for case or punctuation: {shown}")

    # output names must not collide
    reserved = {"pseudonym", "import_batch"}
    for key, names in (("groups", groups), ("waves", waves), ("quasi_identifiers", tuple(qis))):
        for i, col in enumerate(names):
            if col in instrument.item_by_id or col in reserved:
                where: Loc = (key, col) if key == "quasi_identifiers" else (key, i)
                problems.append(
                    loaded.problem(
                        "column_roles",
                        where,
                        f"column {col!r} would be named like "
                        + (
                            "an item"
                            if col in instrument.item_by_id
                            else "a column surveytool adds"
                        ),
                        "Rename the column in the source, or leave it out.",
                    )
                )

    # recode rules
    rules: dict[str, RecodeRule] = {}
    named: dict[str, int] = {}
    for i, rule in enumerate(mapping.recode):
        if rule.items == "all":
            continue
        for j, item in enumerate(rule.items):
            loc = ("recode", i, "items", j)
            if item not in instrument.item_by_id:
                problems.append(
                    loaded.problem(
                        "unknown_item",
                        loc,
                        f"{instrument.id} has no item {item!r}",
                        _closest(item, item_ids) or HINTS["unknown_item"],
                    )
                )
            elif item in named:
                problems.append(
                    loaded.problem(
                        "recode_conflict",
                        loc,
                        f"item {item!r} is in recode rule {named[item] + 1} and rule {i + 1}",
                    )
                )
            else:
                named[item] = i
                rules[item] = rule
    for rule in mapping.recode:
        if rule.items == "all":
            for item in items:
                rules.setdefault(item, rule)
    if sum(1 for r in mapping.recode if r.items == "all") > 1:
        idx = [i for i, r in enumerate(mapping.recode) if r.items == "all"]
        problems.append(
            loaded.problem(
                "recode_conflict", ("recode", idx[1], "items"), "two recode rules are for all items"
            )
        )
    if problems:
        raise loaded.fail(problems)
    return ColumnPlan(
        items={i: items[i] for i in item_ids if i in items},
        id_column=id_column,
        id_note=id_note,
        waves=waves,
        groups=groups,
        quasi_identifiers=qis,
        identifiers=identifiers,
        drop=drop,
        rules=rules,
        shadowed=tuple(shadowed),
        notes=tuple(notes),
    )


def _fold(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", str(name).casefold())


def _guess_id(table: SourceTable, columns: Sequence[str], taken: set[str]) -> str | None:
    if table.default_id_column and table.default_id_column in columns:
        return table.default_id_column
    by_snake = {snake_name(c): c for c in columns if c not in taken}
    for guess in _ID_GUESSES:
        if guess in by_snake:
            return by_snake[guess]
    for snake, col in by_snake.items():  # e.g. resp_id, pid: named like an id, one per row
        if re.search(r"(^|_)(id|pid|uid)$|^id_", snake):
            values = as_text(table.frame[col])
            if values.notna().all() and values.is_unique:
                return col
    return None


# ---------------------------------------------------------------------------------------------
# recoding values
# ---------------------------------------------------------------------------------------------
def _key(value: Scalar) -> tuple[str, float | str]:
    if isinstance(value, bool):
        return ("text", str(value).casefold())
    if isinstance(value, int | float):
        return ("number", float(value))
    text = str(value).strip()
    try:
        return ("number", float(text))
    except ValueError:
        return ("text", text.casefold())


def apply_recode(values: pd.Series, rule: RecodeRule) -> tuple[pd.Series, int]:
    """Recode one item column by ``rule``; returns the values (text or numbers) and cells changed."""
    text = as_text(values)
    numbers = pd.to_numeric(text, errors="coerce")
    folded = text.str.casefold()
    out = values.astype(object).where(values.notna(), None).copy()
    done = np.zeros(len(values), dtype=bool)
    changed = np.zeros(len(values), dtype=bool)

    def lookup(table: Mapping[Scalar, Any]) -> tuple[pd.Series, np.ndarray]:
        by_number = {
            k[1]: v for k, v in ((_key(x), v) for x, v in table.items()) if k[0] == "number"
        }
        by_text = {k[1]: v for k, v in ((_key(x), v) for x, v in table.items()) if k[0] == "text"}
        hit_number = numbers.isin(list(by_number)).to_numpy(dtype=bool, na_value=False)
        hit_text = folded.isin(list(by_text)).to_numpy(dtype=bool, na_value=False) & ~hit_number
        result = pd.Series([None] * len(values), index=values.index, dtype=object)
        result[hit_number] = numbers[hit_number].map(by_number)
        result[hit_text] = folded[hit_text].map(by_text)
        return result, hit_number | hit_text

    if rule.missing:
        _, hit = lookup(dict.fromkeys(rule.missing))
        out[hit] = None
        done |= hit
        changed |= hit
    if rule.map:
        mapped, hit = lookup(rule.map)
        hit &= ~done
        out[hit] = mapped[hit].map(lambda v: None if v is None or pd.isna(v) else int(v))
        done |= hit
        changed |= hit
    if rule.offset:
        shift = numbers.notna().to_numpy(dtype=bool) & ~done
        out[shift] = (numbers[shift] + rule.offset).map(_number_text)
        changed |= shift
    return out, int(changed.sum())


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


# ---------------------------------------------------------------------------------------------
# the template
# ---------------------------------------------------------------------------------------------
_QUASI_HINTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(^|_)age(_|$)"), "{generalize: age_band, width: 10, top: 90}"),
    (re.compile(r"(^|_)(dob|birth\w*)(_|$)"), "{generalize: year}"),
    (
        re.compile(r"(^|_)(zip|postcode|post_code|postal\w*)(_|$)"),
        "{generalize: prefix, length: 3}",
    ),
    (re.compile(r"(^|_)(date|visit_date|\w+_date)(_|$)"), "{generalize: year}"),
    (
        re.compile(
            r"(^|_)(sex|gender|country|region|state|ethnicity|race|education|occupation)(_|$)"
        ),
        "{generalize: merge, min_count: 10}",
    ),
)


def _q(value: str) -> str:
    """A YAML scalar: JSON's double-quoted strings are valid YAML."""
    return json.dumps(value, ensure_ascii=False)


def _statement(question: str) -> str:
    """The statement of a Qualtrics matrix row ("Question - Statement") or the question itself."""
    return question.rsplit(" - ", 1)[-1].strip() if " - " in question else question.strip()


def match_items(table: SourceTable, instrument: Instrument) -> dict[str, tuple[str, str]]:
    """Item id -> (source column, how it matched) for every item the template can place.

    Exact id, then case- and punctuation-insensitive id, then a Qualtrics ImportId equal to an item
    id, then question text (Qualtrics row 2, SPSS variable labels, REDCap label headers) similar to
    the item's text (difflib ratio >= 0.6, best pairs first, each used once).
    """
    columns = [str(c) for c in table.frame.columns]
    skip = set(table.metadata_columns) | set(table.wave_columns)
    if table.default_id_column:
        skip.add(table.default_id_column)
    found: dict[str, tuple[str, str]] = {}
    used: set[str] = set()
    folded = {_fold(i): i for i in instrument.item_by_id}
    for col in columns:
        if col in skip:
            continue
        if col in instrument.item_by_id and col not in found:
            found[col] = (col, "same id")
            used.add(col)
    for col in columns:
        if col in skip or col in used:
            continue
        target = folded.get(_fold(col))
        if target and target not in found:
            found[target] = (col, "same id but for case")
            used.add(col)
    for col, import_id in table.import_ids.items():
        if col in used or col in skip:
            continue
        target = import_id if import_id in instrument.item_by_id else folded.get(_fold(import_id))
        if target and target not in found:
            found[target] = (col, f"Qualtrics ImportId {import_id}")
            used.add(col)
    texts: dict[str, str] = {}
    for col in columns:
        if col in used or col in skip:
            continue
        question = table.question_text.get(col) or (col if len(col) >= 15 else "")
        if question:
            texts[col] = _statement(question).casefold()
    exact: dict[str, str] = {}
    for col, text in texts.items():
        exact.setdefault(text.strip(), col)
    for item in instrument.items:
        same = exact.get(item.text.casefold().strip())
        if item.id not in found and same is not None and same not in used:
            found[item.id] = (same, "same question text")
            used.add(same)
    pairs: list[tuple[float, str, str]] = []
    for item in instrument.items:
        if item.id in found:
            continue
        wanted = item.text.casefold()
        for col, text in texts.items():
            if col in used:
                continue
            matcher = difflib.SequenceMatcher(None, wanted, text, autojunk=False)
            if matcher.real_quick_ratio() < 0.6 or matcher.quick_ratio() < 0.6:
                continue
            ratio = matcher.ratio()
            if ratio >= 0.6:
                pairs.append((ratio, item.id, col))
    for ratio, item_id, col in sorted(pairs, key=lambda p: (-p[0], p[1], p[2])):
        if item_id in found or col in used:
            continue
        found[item_id] = (col, f"question text {round(ratio * 100)}% similar")
        used.add(col)
    return {i: found[i] for i in instrument.item_by_id if i in found}


def spss_labels_are_scale(labels: Mapping[float, str], scale: ResponseScale) -> bool:
    """Whether every value label of an SPSS variable is a label (or missing label) of ``scale``."""
    scale_texts = {
        t.strip().casefold() for t in [*scale.labels.values(), *scale.missing_codes.values()]
    }
    label_texts = {t.strip().casefold() for t in labels.values()}
    return bool(label_texts) and label_texts <= scale_texts


def _looks_zero_based(
    table: SourceTable, instrument: Instrument, matched: Mapping[str, str]
) -> bool:
    lows, highs = [], []
    for item_id, col in matched.items():
        scale = instrument.scale_of(item_id)
        if col in table.value_labels and spss_labels_are_scale(table.value_labels[col], scale):
            continue  # codes are read through their labels
        numbers = pd.to_numeric(as_text(table.frame[col]), errors="coerce").dropna()
        numbers = numbers[~numbers.isin(list(scale.missing_codes))]
        if numbers.empty:
            continue
        lows.append(float(numbers.min()) - scale.min)
        highs.append(float(numbers.max()) - scale.max)
    return bool(lows) and min(lows) == -1 and max(highs) <= -1


def mapping_template(table: SourceTable, instrument: Instrument) -> str:
    """A starting mapping for ``table``: every matched item, the id, identifiers and the rest.

    The text is YAML with comments that say how each line was found; :func:`load_mapping` reads it
    back and it fits the source, so it can be used as is and refined.
    """
    matched = match_items(table, instrument)
    columns = [str(c) for c in table.frame.columns]
    item_columns = {col for col, _ in matched.values()}
    id_column = _guess_id(table, columns, item_columns)
    waves = [c for c in table.wave_columns if c != id_column]
    decisions = classify_columns(
        table.frame,
        items=item_columns,
        id_column=id_column,
        waves=waves,
        metadata=table.metadata_columns,
        metadata_source=f"the {table.format} export",
        categorical=table.categorical_columns,
    )
    identifiers = [d for d in decisions if d.role == "identifier"]
    others = [d for d in decisions if d.role in ("metadata", "unmatched")]
    waves = [d.column for d in decisions if d.role == "wave" and d.kept]
    lines = [
        "# Mapping for `surveytool cohort import`, written by `surveytool cohort map-template`.",
        f"# Source: {table.path.name} ({table.format_line}).",
        f"# Instrument: {instrument.id} {instrument.version}. Check every line before importing.",
        f"instrument: {_q(instrument.id)}",
    ]
    if table.format in ("qualtrics", "redcap"):
        lines.append(f"format: {_q(table.format)}   # told from the file's content")
    if id_column:
        lines.append(f"id_column: {_q(id_column)}   # respondent ids become keyed pseudonyms")
    else:
        lines.append(
            "# id_column: ...   # no respondent id column found; rows are keyed by file and row"
        )
    lines.append("items:   # source column: item id")
    if not matched:
        lines[-1] = "items: {}   # no column matched an item: map them as `source column: item id`"
    for item_id, (col, how) in matched.items():
        lines.append(f"  {_q(col)}: {_q(item_id)}   # {how}")
    missing = [i for i in instrument.item_by_id if i not in matched]
    if missing:
        lines.append(f"# items not found in the source ({len(missing)}): {', '.join(missing)}")
    if _looks_zero_based(table, instrument, {i: c for i, (c, _) in matched.items()}):
        lines += [
            "recode:   # the answers look coded from one below the scale (e.g. 0..4 for 1..5)",
            "  - items: all",
            "    offset: 1",
        ]
    else:
        lines.append("recode: []   # e.g. - {items: all, offset: 1} or a map of labels to codes")
    suggested = [g for g in table.suggested_groups if g in columns]
    lines.append(
        "groups: []" + (f"   # perhaps {', '.join(map(_q, suggested))}" if suggested else "")
    )
    if waves:
        lines.append(f"waves: [{', '.join(map(_q, waves))}]   # with the id, one row per wave")
    quasi = []
    for d in decisions:
        snake = snake_name(d.column)
        for pattern, spec in _QUASI_HINTS:
            if d.role in ("identifier", "unmatched") and pattern.search(snake):
                quasi.append(f"#   {_q(d.column)}: {spec}")
                break
    lines.append("quasi_identifiers: {}")
    if quasi:
        lines.append(
            "# candidates (to keep one, generalized: declare it here and take it out of the lists"
            " below):"
        )
        lines += quasi
    if identifiers:
        lines.append("identifiers:   # direct identifiers, dropped (detected by surveytool)")
        for d in identifiers:
            lines.append(f"  - {_q(d.column)}   # {describe_findings(d.findings)}")
    else:
        lines.append("identifiers: []")
    if others:
        lines.append("drop:   # not items; not needed")
        for d in others:
            lines.append(f"  - {_q(d.column)}   # {d.reason}")
    else:
        lines.append("drop: []")
    if table.format == "qualtrics":
        lines.append(
            'qualtrics: {keep_status: []}   # ordinary responses only; e.g. ["Imported"] keeps more'
        )
    return "\n".join(lines) + "\n"
