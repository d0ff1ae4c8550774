"""The plan of an import: which source column plays which role, checked against the mapping.

:func:`plan_columns` runs small checks in order over one :class:`_Planner` (the problems found so
far and the role each column has been given), then raises every problem at once or returns the
:class:`ColumnPlan`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from analysis.cells import as_text, snake_names
from analysis.mapping.model import HINTS, CohortMapping, LoadedMapping, RecodeRule
from analysis.privacy.generalize import QuasiIdentifier
from analysis.privacy.identifiers import table_name_findings
from surveytool.instrument.model import Instrument
from surveytool.io.sources import SourceTable, ungrouped
from surveytool.problems import Loc, Problem, format_loc
from surveytool.scoring.engine import output_columns

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

#: Columns every cohort has; a source column must not be named like them.
RESERVED_COLUMNS = frozenset({"pseudonym", "import_batch"})


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
    drop_unmatched: bool = False  # unmatched: drop (the other columns dropped unwarned)


def _closest(name: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
    return f"Did you mean {close[0]!r}?" if close else ""


def fold(name: str) -> str:
    """A column or item name without case and punctuation (``Fault-Finding 1`` -> ``faultfinding1``)."""
    return re.sub(r"[^0-9a-z]", "", str(name).casefold())


#: A column named like a respondent id (besides :data:`_ID_GUESSES`), by its snake name.
_ID_LIKE = r"(^|_)(id|pid|uid)$|^id_"


def wanted_columns(
    instrument: Instrument, mapping: CohortMapping
) -> Callable[[Sequence[str]], list[str]] | None:
    """Which columns of a Parquet source an import reads (:func:`read_source`'s ``wanted``):
    those the mapping names anywhere, those named like an item (as :func:`plan_columns` matches
    them: exactly, or but for case and punctuation), those named like a respondent id (as
    :func:`guess_id` guesses) and those named like a direct identifier (so the disclosure
    report says what their values look like, as when a file is read whole). The others would
    match no item and be dropped; they are not read, only named (a file of 10**6 columns is
    read in the time of its 53), and are reported as matching no item whatever their values.
    None (read all) when the mapping reshapes wide waves (its pattern names columns)."""
    if mapping.wide_waves is not None:
        return None
    named = set(_strings(mapping.model_dump()))
    items = {fold(i) for i in instrument.item_by_id}

    def choose(names: Sequence[str]) -> list[str]:
        import pyarrow as pa
        import pyarrow.compute as pc

        keys = fold_names(names)
        snake = snake_names(names)
        id_like = pc.or_(
            pc.is_in(snake, value_set=pa.array(_ID_GUESSES)),
            pc.match_substring_regex(snake, _ID_LIKE),
        ).to_numpy(zero_copy_only=False)
        identifying = table_name_findings(names)
        return [
            name
            for at, (name, key, like) in enumerate(zip(names, keys, id_like, strict=True))
            if like or at in identifying or name in named or key in items
        ]

    return choose


def _strings(value: object) -> list[str]:
    """Every text in a mapping's content (keys and values, at any depth)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list | tuple | set | frozenset):
        return [s for v in value for s in _strings(v)]
    return []


def fold_names(names: Sequence[str]) -> list[str]:
    """:func:`fold` of every name, at once for ASCII names (Arrow; casefold is lower there),
    one by one for the others."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.array([str(n) for n in names], type=pa.string())
    folded = pc.replace_substring_regex(pc.utf8_lower(text), r"[^0-9a-z]", "").to_pylist()
    ascii_only = pc.string_is_ascii(text).to_numpy(zero_copy_only=False)
    return [
        key if plain else fold(name)
        for name, key, plain in zip(names, folded, ascii_only, strict=True)
    ]


def guess_id(table: SourceTable, columns: Sequence[str], taken: set[str]) -> str | None:
    """The respondent id column: the format's own, else one named like an id (and unique)."""
    if table.default_id_column and table.default_id_column in columns:
        return table.default_id_column
    free = [c for c in columns if c not in taken]
    snakes: list[str] = snake_names(free).to_pylist()  # the names at once
    by_snake = dict(zip(snakes, free, strict=True))
    for guess in _ID_GUESSES:
        if guess in by_snake:
            return by_snake[guess]
    for snake, col in by_snake.items():  # e.g. resp_id, pid: named like an id, one per row
        if re.search(_ID_LIKE, snake):
            values = as_text(table.frame[col])
            if values.notna().all() and values.is_unique:
                return col
    return None


@dataclass
class _Planner:
    """What the checks share: the source's columns, the problems found, each column's role."""

    table: SourceTable
    instrument: Instrument
    loaded: LoadedMapping
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    roles: dict[str, tuple[str, Loc]] = field(default_factory=dict)

    @cached_property
    def columns(self) -> list[str]:
        return list(map(str, self.table.frame.columns))

    @cached_property
    def present(self) -> frozenset[str]:
        return frozenset(self.columns)

    def problem(self, code: str, loc: Loc, message: str, hint: str | None = None) -> None:
        self.problems.append(self.loaded.problem(code, loc, message, hint))

    def unknown_item(self, item: str, loc: Loc) -> None:
        hint = _closest(item, list(self.instrument.item_by_id)) or HINTS["unknown_item"]
        self.problem("unknown_item", loc, f"{self.instrument.id} has no item {item!r}", hint)

    def column_exists(self, col: str, loc: Loc) -> bool:
        if col in self.present:
            return True
        hint = _closest(col, self.columns) or HINTS["unknown_column"]
        message = f"column {col!r} is not in {self.table.path.name} ({len(self.columns)} columns)"
        self.problem("unknown_column", loc, message, hint)
        return False

    def claim(self, col: str, role: str, loc: Loc) -> None:
        """Give ``col`` its role; a second, different role is a problem."""
        if col in self.roles and self.roles[col][0] != role:
            other, other_loc = self.roles[col]
            message = (
                f"column {col!r} is declared {role} here and {other} at {format_loc(other_loc)}"
            )
            self.problem("column_roles", loc, message)
        self.roles.setdefault(col, (role, loc))

    def declared(
        self, names: Sequence[str], key: str, role: str, must_exist: bool = True
    ) -> list[str]:
        """The columns a list key of the mapping names (``groups``, ``drop``...), claimed."""
        kept = []
        for i, col in enumerate(names):
            loc = (key, i)
            if not must_exist and col not in self.present:
                self.notes.append(f"{key}: column {col!r} is not in the source (nothing to drop)")
                continue
            if self.column_exists(col, loc):
                self.claim(col, role, loc)
                kept.append(col)
        return kept


def _check_instrument(p: _Planner) -> None:
    named = p.loaded.mapping.instrument
    if named is not None and named != p.instrument.id:
        message = f"the mapping is for instrument {named!r}, the import for {p.instrument.id!r}"
        p.problem("instrument_mismatch", ("instrument",), message)


def _mapped_items(p: _Planner) -> dict[str, str]:
    """Item id -> source column for the items the mapping names."""
    items: dict[str, str] = {}
    for src, item in p.loaded.mapping.items.items():
        loc: Loc = ("items", src)
        if item not in p.instrument.item_by_id:
            p.unknown_item(item, loc)
        elif item in items:
            message = f"item {item!r} is mapped from {items[item]!r} and from {src!r}"
            p.problem("duplicate_item", loc, message)
        elif p.column_exists(src, loc):
            items[item] = src
            p.claim(src, "an item", loc)
    return items


def _id_column(p: _Planner, items: dict[str, str]) -> tuple[str | None, str]:
    """The id column (declared, or guessed when the mapping does not say) and how it was found."""
    if p.loaded.id_column_set:
        id_column = p.loaded.mapping.id_column
        note = "declared in the mapping" if id_column else "none (declared null in the mapping)"
        if id_column is not None and p.column_exists(id_column, ("id_column",)):
            p.claim(id_column, "the id column", ("id_column",))
        return id_column, note
    id_column = guess_id(p.table, p.columns, set(items.values()))
    if id_column and id_column == p.table.default_id_column:
        note = f"assumed {id_column!r} ({p.table.format} export)"
    else:
        note = f"guessed {id_column!r} by its name" if id_column else "none found"
    if id_column:
        p.roles[id_column] = ("the id column", ())
    return id_column, note


def _waves(p: _Planner) -> tuple[str, ...]:
    """Declared wave columns, else the format's own (REDCap events) not otherwise used."""
    declared = p.loaded.mapping.waves
    if declared is not None:
        return tuple(p.declared(declared, "waves", "a wave column"))
    waves = tuple(c for c in p.table.wave_columns if c not in p.roles)
    for col in waves:
        p.roles[col] = ("a wave column", ())
    return waves


def _quasi_identifiers(p: _Planner) -> dict[str, QuasiIdentifier]:
    qis: dict[str, QuasiIdentifier] = {}
    for col, spec in p.loaded.mapping.quasi_identifiers.items():
        if p.column_exists(col, ("quasi_identifiers", col)):
            p.claim(col, "a quasi-identifier", ("quasi_identifiers", col))
            qis[col] = spec
    return qis


def _match_by_name(p: _Planner, items: dict[str, str]) -> list[str]:
    """Add the items whose column is named like them (exact id, then case- and punctuation-insensitive).

    Returns the columns named like an item that the mapping maps from another column (shadowed).
    """
    used = set(p.roles)
    shadowed: list[str] = []
    by_case: list[str] = []
    folded = {fold(i): i for i in p.instrument.item_by_id}
    key_of = dict(zip(p.columns, fold_names(p.columns), strict=True))  # the names at once
    exact = [c for c in p.columns if c not in used and c in p.instrument.item_by_id]
    alike = [c for c in p.columns if c not in used and c not in p.instrument.item_by_id]
    for col in [*exact, *alike]:  # an exact id wins over a column named alike (ff1 vs FF1)
        target = col if col in p.instrument.item_by_id else folded.get(key_of[col])
        if target is None:  # an ODK/Kobo column inside groups: grp-q, grp/q
            target = ungrouped(p.table, col, p.instrument.item_by_id)
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
        more = f", ... ({len(by_case)} in all)" if len(by_case) > 5 else ""
        shown = ", ".join(by_case[:5]) + more
        p.notes.append(f"columns taken for items named alike but for case or punctuation: {shown}")
    return shadowed


def _check_output_names(
    p: _Planner, groups: Sequence[str], waves: Sequence[str], qis: Sequence[str]
) -> None:
    """Carried columns must not be named like an item or a column surveytool adds."""
    items = p.instrument.item_by_id
    scores = output_columns(p.instrument)
    for key, names in (("groups", groups), ("waves", waves), ("quasi_identifiers", qis)):
        for i, col in enumerate(names):
            if col in items or col in RESERVED_COLUMNS or col in scores:
                where: Loc = (key, col) if key == "quasi_identifiers" else (key, i)
                like = (
                    "an item"
                    if col in items
                    else (
                        scores[col] + " in scores" if col in scores else "a column surveytool adds"
                    )
                )
                message = f"column {col!r} would be named like {like}"
                p.problem(
                    "column_roles",
                    where,
                    message,
                    "Rename the column in the source, or leave it out.",
                )


def _recode_rules(p: _Planner, items: dict[str, str]) -> dict[str, RecodeRule]:
    """Item id -> its rule: a rule naming the item, else the rule for all items."""
    recode = p.loaded.mapping.recode
    rules: dict[str, RecodeRule] = {}
    named: dict[str, int] = {}
    for i, rule in enumerate(recode):
        if rule.items == "all":
            continue
        for j, item in enumerate(rule.items):
            loc = ("recode", i, "items", j)
            if item not in p.instrument.item_by_id:
                p.unknown_item(item, loc)
            elif item in named:
                message = f"item {item!r} is in recode rule {named[item] + 1} and rule {i + 1}"
                p.problem("recode_conflict", loc, message)
            else:
                named[item] = i
                rules[item] = rule
    for rule in recode:
        if rule.items == "all":
            for item in items:
                rules.setdefault(item, rule)
    for_all = [i for i, r in enumerate(recode) if r.items == "all"]
    if len(for_all) > 1:
        p.problem(
            "recode_conflict", ("recode", for_all[1], "items"), "two recode rules are for all items"
        )
    return rules


def plan_columns(table: SourceTable, instrument: Instrument, loaded: LoadedMapping) -> ColumnPlan:
    """Check the mapping against the source and the instrument and settle every column's role.

    Columns not named by the mapping are matched to items by exact id, then case-insensitively.
    Raises :class:`~analysis.errors.MappingError` with every problem located in the mapping file.
    """
    p = _Planner(table, instrument, loaded)
    mapping = loaded.mapping
    _check_instrument(p)
    items = _mapped_items(p)
    id_column, id_note = _id_column(p, items)
    waves = _waves(p)
    groups = tuple(p.declared(mapping.groups, "groups", "a group column"))
    qis = _quasi_identifiers(p)
    identifiers = tuple(p.declared(mapping.identifiers, "identifiers", "an identifier", False))
    drop = tuple(p.declared(mapping.drop, "drop", "dropped", False))
    shadowed = _match_by_name(p, items)
    _check_output_names(p, groups, waves, tuple(qis))
    rules = _recode_rules(p, items)
    if p.problems:
        raise loaded.fail(p.problems)
    return ColumnPlan(
        items={i: items[i] for i in instrument.item_by_id if i in items},
        id_column=id_column,
        id_note=id_note,
        waves=waves,
        groups=groups,
        quasi_identifiers=qis,
        identifiers=identifiers,
        drop=drop,
        rules=rules,
        shadowed=tuple(shadowed),
        notes=tuple(p.notes),
        drop_unmatched=mapping.unmatched == "drop",
    )
