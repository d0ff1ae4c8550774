"""Validation of instrument documents: every problem at once, each coded and located.

Two passes over a parsed document (a plain dict from YAML):

1. *structure*: pydantic validates the whole document and reports every type and shape problem;
2. *meaning*: the parts that are well formed are checked against each other (ids unique, references
   exist, bands cover the score range, composites have no cycles ...), so a file with a type error in
   one item still gets its band and reference problems reported in the same run.

Codes are stable and listed, with their hints, in :data:`surveytool.problems.CODES`; the loader
(:mod:`surveytool.instrument.load`) attaches file and line numbers.
"""

from __future__ import annotations

import difflib
import itertools
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sized
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from surveytool.instrument.model import (
    Band,
    Check,
    Composite,
    Instrument,
    Item,
    Method,
    Norms,
    ResponseScale,
    ShortForm,
    Subscale,
    composite_range,
    required_count,
    subscale_range,
)
from surveytool.problems import CODES, Loc, Problem, format_loc, problem

#: Response scales are rating scales: 0..100 (a slider) is the widest we accept.
MAX_SCALE_POINTS = 101


# ---------------------------------------------------------------------------------------------
# Pass 1: structure (pydantic)
# ---------------------------------------------------------------------------------------------

_PYDANTIC_CODES = {"missing": "missing_field", "extra_forbidden": "unknown_field"}


def _resolve(data: Any, loc: Loc) -> tuple[Loc, bool]:
    """The part of ``loc`` that names something in ``data`` (plus a missing last key).

    pydantic appends union tags (``int``, ``constrained-float``) to locations; they are not paths
    in the file and are dropped here. Returns the cleaned loc and whether it fully resolved.
    """
    node = data
    for i, part in enumerate(loc):
        is_key = isinstance(node, Mapping) and part in node
        is_index = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if is_key or is_index:
            node = node[part]
        elif isinstance(node, Mapping | list):
            return loc[: i + 1], False
        else:
            return loc[:i], True
    return loc, True


def _allowed_fields(model: type[BaseModel], loc: Loc) -> list[str]:
    """Field names of the model that sits at ``loc`` (for 'did you mean')."""
    current: Any = model
    skip_key = False
    for part in loc:
        if isinstance(part, int):
            continue
        if skip_key:  # the key of a dict-valued field, e.g. the scale id in response_scales
            skip_key = False
            continue
        fields = getattr(current, "model_fields", None)
        if fields is None or part not in fields:
            return []
        annotation = fields[part].annotation
        skip_key = getattr(annotation, "__origin__", None) is dict
        current = _inner_model(annotation)
        if current is None:
            return []
    fields = getattr(current, "model_fields", None)
    return list(fields) if fields else []


def _inner_model(annotation: Any) -> Any:
    """The BaseModel inside ``tuple[M, ...]``, ``M | None``, ``dict[str, M]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def structural_problems(data: Mapping[str, Any]) -> list[Problem]:
    """Every type and shape problem pydantic finds in the document."""
    try:
        Instrument.model_validate(data)
    except ValidationError as exc:
        problems = []
        seen: set[tuple[str, Loc]] = set()
        for err in exc.errors():
            raw_loc: Loc = tuple(err["loc"])
            loc, _ = _resolve(data, raw_loc)
            etype = err["type"]
            if etype == "too_short" and _long_enough(err):
                continue  # pydantic counts only the entries that validated; those are reported
            code = _PYDANTIC_CODES.get(etype)
            if code is None:
                code = (
                    "wrong_type"
                    if etype.endswith(("_type", "_parsing")) or etype == "model_attributes_type"
                    else "invalid_value"
                )
            if (code, loc) in seen:
                continue  # a union reports each variant; one message per place is enough
            seen.add((code, loc))
            message = str(err["msg"])
            hint = CODES[code]
            if code == "unknown_field" and loc:
                allowed = _allowed_fields(Instrument, loc[:-1])
                close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
                message = f"unknown field {loc[-1]!r}"
                hint = f"Did you mean {close[0]!r}?" if close else f"Allowed: {', '.join(allowed)}."
            elif code == "missing_field":
                message = f"required field {loc[-1]!r} is missing"
            elif code == "wrong_type" or code == "invalid_value":
                message = f"{message} (got {_short(err.get('input'))})"
                if loc and loc[-1] == "version":
                    hint = 'Write the version as a quoted semantic version, e.g. "1.0.0".'
                elif _is_id_loc(loc):
                    hint = "Ids start with a letter and hold letters, digits, _ . or -."
            problems.append(Problem(code=code, loc=loc, message=message, hint=hint))
        return problems
    return []


def _long_enough(err: Any) -> bool:
    """Whether a ``too_short`` error's input has at least ``min_length`` entries after all."""
    value, ctx = err.get("input"), err.get("ctx") or {}
    minimum = ctx.get("min_length")
    return isinstance(value, Sized) and isinstance(minimum, int) and len(value) >= minimum


def _is_id_loc(loc: Loc) -> bool:
    """An id field, an item's scale, a critical item's item, or one entry of a member list."""
    if not loc:
        return False
    if loc[-1] in ("id", "scale", "item"):
        return True
    return (
        len(loc) >= 4
        and isinstance(loc[-1], int)
        and loc[-2] in ("items", "components")
        and loc[0] in ("subscales", "composites", "short_forms")
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# ---------------------------------------------------------------------------------------------
# Pass 2: meaning, on the parts that are well formed
# ---------------------------------------------------------------------------------------------

M = TypeVar("M", bound=BaseModel)


@dataclass
class _Parts:
    """The well-formed parts of a document, with their positions, and every id that is named."""

    scales: dict[str, tuple[Loc, ResponseScale]] = field(default_factory=dict)
    items: list[tuple[Loc, Item]] = field(default_factory=list)
    subscales: list[tuple[Loc, Subscale]] = field(default_factory=list)
    composites: list[tuple[Loc, Composite]] = field(default_factory=list)
    checks: list[tuple[Loc, Check]] = field(default_factory=list)
    forms: list[tuple[Loc, ShortForm]] = field(default_factory=list)
    norms: Norms | None = None
    scale_ids_named: set[str] = field(default_factory=set)
    item_ids_named: set[str] = field(default_factory=set)
    scored_ids_named: set[str] = field(default_factory=set)


def _valid_list(data: Mapping[str, Any], key: str, model: type[M]) -> list[tuple[Loc, M]]:
    raw = data.get(key)
    out: list[tuple[Loc, M]] = []
    if isinstance(raw, list):
        for i, entry in enumerate(raw):
            try:
                out.append(((key, i), model.model_validate(entry)))
            except ValidationError:
                continue
    return out


def _named_ids(data: Mapping[str, Any], key: str) -> set[str]:
    raw = data.get(key)
    if isinstance(raw, list):
        return {e["id"] for e in raw if isinstance(e, Mapping) and isinstance(e.get("id"), str)}
    return set()


def _parts(data: Mapping[str, Any]) -> _Parts:
    parts = _Parts()
    raw_scales = data.get("response_scales")
    if isinstance(raw_scales, Mapping):
        for key, value in raw_scales.items():
            if isinstance(key, str):
                parts.scale_ids_named.add(key)
                try:
                    parts.scales[key] = (
                        ("response_scales", key),
                        ResponseScale.model_validate(value),
                    )
                except ValidationError:
                    continue
    parts.items = _valid_list(data, "items", Item)
    parts.subscales = _valid_list(data, "subscales", Subscale)
    parts.composites = _valid_list(data, "composites", Composite)
    parts.checks = _valid_list(data, "checks", Check)
    parts.forms = _valid_list(data, "short_forms", ShortForm)
    if data.get("norms") is not None:
        try:
            parts.norms = Norms.model_validate(data["norms"])
        except ValidationError:
            parts.norms = None
    parts.item_ids_named = _named_ids(data, "items")
    parts.scored_ids_named = _named_ids(data, "subscales") | _named_ids(data, "composites")
    return parts


def _check_duplicate_ids(data: Mapping[str, Any]) -> Iterable[Problem]:
    # items, subscales+composites+checks (one namespace: each names a column of the scores
    # table), short forms
    for keys in (("items",), ("subscales", "composites", "checks"), ("short_forms",)):
        first: dict[str, Loc] = {}
        for key in keys:
            raw = data.get(key)
            if not isinstance(raw, list):
                continue
            for i, entry in enumerate(raw):
                if isinstance(entry, Mapping) and isinstance(entry.get("id"), str):
                    ident = entry["id"]
                    if ident in first:
                        yield problem(
                            "duplicate_id",
                            (key, i, "id"),
                            f"id {ident!r} is already used at {format_loc(first[ident])}",
                        )
                    else:
                        first[ident] = (key, i, "id")


def _folded(ident: str) -> str:
    """An id as imports match column names: without case and punctuation (``A-1`` -> ``a1``)."""
    return re.sub(r"[^0-9a-z]", "", ident.casefold())


def _check_folded_ids(data: Mapping[str, Any]) -> Iterable[Problem]:
    """Ids that differ only in case or punctuation (``A1``, ``a1``, ``A-1``; ``up``, ``UP``).

    Source columns are matched to items case- and punctuation-insensitively, and spreadsheet
    programs and databases often fold case, so such ids could not be told apart there.
    """
    for keys in (("items",), ("subscales", "composites"), ("short_forms",)):
        first: dict[str, tuple[str, Loc]] = {}
        for key in keys:
            raw = data.get(key)
            if not isinstance(raw, list):
                continue
            for i, entry in enumerate(raw):
                if not (isinstance(entry, Mapping) and isinstance(entry.get("id"), str)):
                    continue
                ident = entry["id"]
                folded = _folded(ident)
                if folded in first and first[folded][0] != ident:
                    other, where = first[folded]
                    yield problem(
                        "folded_duplicate_id",
                        (key, i, "id"),
                        f"id {ident!r} differs from {other!r} (at {format_loc(where)}) only in "
                        "case or punctuation",
                    )
                else:
                    first.setdefault(folded, (ident, (key, i, "id")))


def _check_scales(parts: _Parts) -> Iterable[Problem]:
    for name, (loc, scale) in parts.scales.items():
        if scale.min >= scale.max:
            yield problem(
                "scale_range", (*loc, "max"), f"scale {name!r}: min {scale.min} >= max {scale.max}"
            )
        elif scale.max - scale.min > MAX_SCALE_POINTS - 1:
            yield problem(
                "scale_range",
                (*loc, "max"),
                f"scale {name!r} has {scale.max - scale.min + 1} points; at most "
                f"{MAX_SCALE_POINTS} are supported",
                f"A response scale has at most {MAX_SCALE_POINTS} points (e.g. 0..100).",
            )
        for point in scale.labels:
            if not scale.min <= point <= scale.max:
                yield problem(
                    "label_out_of_range",
                    (*loc, "labels", point),
                    f"scale {name!r} labels point {point}, outside {scale.min}..{scale.max}",
                )
        for code in scale.missing_codes:
            if scale.min <= code <= scale.max:
                yield problem(
                    "missing_code_in_range",
                    (*loc, "missing_codes", code),
                    f"scale {name!r}: missing code {code} lies inside {scale.min}..{scale.max}",
                )
        texts = [t.casefold() for t in [*scale.labels.values(), *scale.missing_codes.values()]]
        for text, count in Counter(texts).items():
            if count > 1:
                yield problem(
                    "invalid_value",
                    (*loc, "labels"),
                    f"scale {name!r}: the label {text!r} is given to {count} points",
                    "Give every point its own label: answers given as labels must map to one code.",
                )


def _check_items(parts: _Parts) -> Iterable[Problem]:
    for loc, item in parts.items:
        if item.scale not in parts.scale_ids_named:
            what = "reverse-keyed item" if item.reverse else "item"
            yield problem(
                "unknown_scale",
                (*loc, "scale"),
                f"{what} {item.id!r} uses scale {item.scale!r}, which is not defined",
                f"Use one of: {', '.join(sorted(parts.scale_ids_named)) or '(none defined)'}.",
            )


def _check_members(
    loc: Loc, owner: str, members: tuple[str, ...], known: set[str], code: str, what: str
) -> Iterable[Problem]:
    for j, member in enumerate(members):
        if member not in known:
            close = difflib.get_close_matches(member, sorted(known), n=1)
            yield problem(
                code,
                (*loc, j),
                f"{owner} lists {what} {member!r}, which is not defined",
                f"Did you mean {close[0]!r}?" if close else CODES[code],
            )
    for member, count in Counter(members).items():
        if count > 1:
            yield problem("duplicate_member", loc, f"{owner} lists {what} {member!r} {count} times")


def _check_min_answered(loc: Loc, owner: str, value: int | float, k: int) -> Iterable[Problem]:
    needed = required_count(value, k)
    if needed < 1 or needed > k:
        yield problem(
            "min_answered",
            (*loc, "min_answered"),
            f"{owner}: min_answered {value} asks for {needed} of {k}, which cannot be scored",
        )


def check_bands(
    loc: Loc, owner: str, bands: tuple[Band, ...], lo: float, hi: float
) -> Iterable[Problem]:
    """Bands are half-open [lower, upper), the top closed; together they cover [lo, hi] exactly."""
    if not bands:
        return
    tol = 1e-9
    ordered = sorted(enumerate(bands), key=lambda ib: (ib[1].lower, ib[1].upper))
    inverted = False
    for i, band in ordered:
        if band.lower >= band.upper:
            inverted = True
            yield problem(
                "band_inverted",
                (*loc, "bands", i),
                f"{owner}: band {band.label!r} has lower {band.lower} >= upper {band.upper}",
            )
    if inverted:  # gaps, overlaps and coverage are meaningless until each band is ordered
        return
    for (_, prev), (j, band) in itertools.pairwise(ordered):
        if band.lower < prev.upper - tol:
            yield problem(
                "band_overlap",
                (*loc, "bands", j, "lower"),
                f"{owner}: band {band.label!r} starts at {band.lower}, inside band "
                f"{prev.label!r} [{prev.lower}, {prev.upper})",
            )
        elif band.lower > prev.upper + tol:
            yield problem(
                "band_gap",
                (*loc, "bands", j, "lower"),
                f"{owner}: scores in [{prev.upper}, {band.lower}) fall in no band",
            )
    if math.isfinite(lo) and math.isfinite(hi):
        first_i, first = ordered[0]
        last_i, last = ordered[-1]
        if first.lower > lo + tol:
            yield problem(
                "band_coverage",
                (*loc, "bands", first_i, "lower"),
                f"{owner}: the score range starts at {_num(lo)} but the lowest band starts at "
                f"{_num(first.lower)}",
            )
        if last.upper < hi - tol:
            yield problem(
                "band_coverage",
                (*loc, "bands", last_i, "upper"),
                f"{owner}: the score range ends at {_num(hi)} but the highest band ends at "
                f"{_num(last.upper)}",
            )


def _num(x: float) -> str:
    return f"{x:g}"


def _check_subscales(parts: _Parts) -> Iterable[Problem]:
    items = {item.id: item for _, item in parts.items}
    scales = {name: scale for name, (_, scale) in parts.scales.items()}
    for loc, sub in parts.subscales:
        owner = f"subscale {sub.id!r}"
        yield from _check_members(
            (*loc, "items"), owner, sub.items, parts.item_ids_named, "unknown_item", "item"
        )
        yield from _check_min_answered(loc, owner, sub.min_answered, len(sub.items))
        known = all(i in items and items[i].scale in scales for i in sub.items)
        lo, hi = _safe_range(subscale_range, sub, items, scales) if known else (math.nan, math.nan)
        if known and not (math.isfinite(lo) and math.isfinite(hi)):
            yield problem(
                "invalid_value",
                (*loc, "items"),
                f"{owner}: its score range cannot be computed (weights or scale points too large)",
                "Use weights and scale points of a sensible size.",
            )
        yield from check_bands(loc, owner, sub.bands, lo, hi)


def _safe_range(compute: Callable[..., tuple[float, float]], *args: Any) -> tuple[float, float]:
    """A score range, or (nan, nan) when it overflows a float (e.g. weights near 1e308)."""
    try:
        return compute(*args)
    except (OverflowError, ValueError):
        return (math.nan, math.nan)


def _composite_ranges(parts: _Parts) -> dict[str, tuple[float, float]]:
    items = {item.id: item for _, item in parts.items}
    scales = {name: scale for name, (_, scale) in parts.scales.items()}
    ranges = {
        sub.id: _safe_range(subscale_range, sub, items, scales)
        for _, sub in parts.subscales
        if all(i in items and items[i].scale in scales for i in sub.items)
    }
    pending = [c for _, c in parts.composites]
    progress = True
    while pending and progress:
        progress = False
        for comp in list(pending):
            if all(c in ranges for c in comp.components):
                ranges[comp.id] = _safe_range(composite_range, comp, ranges)
                pending.remove(comp)
                progress = True
    return ranges


def _check_composites(parts: _Parts) -> Iterable[Problem]:
    graph = {c.id: c.components for _, c in parts.composites}
    for loc, comp in parts.composites:
        owner = f"composite {comp.id!r}"
        yield from _check_members(
            (*loc, "components"),
            owner,
            comp.components,
            parts.scored_ids_named,
            "unknown_component",
            "component",
        )
        yield from _check_min_answered(loc, owner, comp.min_answered, len(comp.components))
    # cycles: depth-first search over composite -> composite edges
    reported: set[str] = set()
    for start_loc, comp in parts.composites:
        cycle = _find_cycle(comp.id, graph)
        if cycle and not reported.intersection(cycle):
            reported.update(cycle)
            yield problem(
                "composite_cycle",
                (*start_loc, "components"),
                f"composites depend on each other in a cycle: {' -> '.join(cycle)}",
            )
    ranges = _composite_ranges(parts)
    for loc, comp in parts.composites:
        lo, hi = ranges.get(comp.id, (math.nan, math.nan))
        yield from check_bands(loc, f"composite {comp.id!r}", comp.bands, lo, hi)


def _find_cycle(start: str, graph: Mapping[str, tuple[str, ...]]) -> list[str] | None:
    """A path from ``start`` back to itself, or None.

    Each composite is expanded once: a node already reached cannot lead back to ``start`` by
    another path if it did not by the first, so the search is linear, not one per path.
    """
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    reached = {start}
    while stack:
        node, path = stack.pop()
        for nxt in graph.get(node, ()):
            if nxt == start:
                return [*path, start]
            if nxt in graph and nxt not in reached:
                reached.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


def _check_checks(parts: _Parts) -> Iterable[Problem]:
    items = {item.id: item for _, item in parts.items}
    for loc, check in parts.checks:
        owner = f"check {check.id!r}"
        if check.item not in parts.item_ids_named:
            close = difflib.get_close_matches(check.item, sorted(parts.item_ids_named), n=1)
            yield problem(
                "unknown_item",
                (*loc, "item"),
                f"{owner} checks item {check.item!r}, which is not defined",
                f"Did you mean {close[0]!r}?" if close else CODES["unknown_item"],
            )
            continue
        item = items.get(check.item)
        if item is None or item.scale not in parts.scales:
            continue
        scale = parts.scales[item.scale][1]
        rule = check.rule
        given: list[tuple[Loc, int]] = []
        if rule.at_or_above is not None:
            given.append(((*loc, "rule", "at_or_above"), rule.at_or_above))
        elif rule.at_or_below is not None:
            given.append(((*loc, "rule", "at_or_below"), rule.at_or_below))
        else:
            given.extend(
                ((*loc, "rule", "answers", j), p) for j, p in enumerate(rule.answers or ())
            )
        off = [(at, p) for at, p in given if not scale.min <= p <= scale.max]
        for at, point in off:
            extra = (
                " (a missing code: say what it means with on_missing_code)"
                if point in scale.missing_codes
                else ""
            )
            yield problem(
                "check_rule",
                at,
                f"{owner}: {point} is not a point of the scale {scale.min}..{scale.max} of item "
                f"{check.item!r}{extra}",
            )
        if off:
            continue
        if len(rule.points(scale)) == len(scale.points):
            yield problem(
                "check_rule",
                (*loc, "rule"),
                f"{owner}: the rule ({rule.describe(scale)}) is met by every answer",
                "Give a rule that only some answers meet (not the end of the scale the "
                "direction starts from, not every point).",
            )
        if rule.answers is not None and len(set(rule.answers)) < len(rule.answers):
            yield problem(
                "duplicate_member", (*loc, "rule", "answers"), f"{owner} lists an answer twice"
            )


def _check_unscored(parts: _Parts) -> Iterable[Problem]:
    unscored = {item.id for _, item in parts.items if not item.scored}
    for loc, sub in parts.subscales:
        for j, member in enumerate(sub.items):
            if member in unscored:
                yield problem(
                    "unscored_item_in_subscale",
                    (*loc, "items", j),
                    f"subscale {sub.id!r} lists item {member!r}, which is marked scored: false",
                )


def _check_forms(parts: _Parts) -> Iterable[Problem]:
    for loc, form in parts.forms:
        owner = f"short form {form.id!r}"
        yield from _check_members(
            (*loc, "items"), owner, form.items, parts.item_ids_named, "unknown_item", "item"
        )
        chosen = set(form.items)
        for _, sub in parts.subscales:
            taken = chosen.intersection(sub.items)
            if sub.method is Method.sum and taken and len(taken) < len(set(sub.items)):
                yield problem(
                    "short_form_partial_sum",
                    (*loc, "items"),
                    f"{owner} takes {len(taken)} of the {len(sub.items)} items of subscale "
                    f"{sub.id!r}, whose method is 'sum' (a sum of fewer items is another scale)",
                    "Take all of its items, none, or score it with method 'prorated_sum'.",
                )


def _check_norms(parts: _Parts) -> Iterable[Problem]:
    norms = parts.norms
    if norms is None:
        return
    seen: dict[tuple[str, tuple[tuple[str, str], ...]], int] = {}
    group_columns = set(norms.group_columns)
    for i, entry in enumerate(norms.entries):
        loc: Loc = ("norms", "entries", i)
        if entry.scale not in parts.scored_ids_named:
            yield problem(
                "norm_unknown_scale",
                (*loc, "scale"),
                f"norms refer to scale {entry.scale!r}, which is not defined",
            )
        if entry.sd <= 0:
            yield problem("norm_sd", (*loc, "sd"), f"norm for {entry.scale!r} has sd {entry.sd}")
        if entry.group and set(entry.group) != group_columns:
            yield problem(
                "norm_group",
                (*loc, "group"),
                f"norm group {entry.group} must name exactly the group columns "
                f"{sorted(group_columns)}",
            )
        key = (entry.scale, tuple(sorted(entry.group.items())))
        if key in seen:
            yield problem(
                "norm_duplicate",
                loc,
                f"a second norm for {entry.scale!r} and group {entry.group or '(all)'}",
            )
        seen[key] = i
        points = entry.percentiles
        for j in range(1, len(points)):
            if (
                points[j].score <= points[j - 1].score
                or points[j].percentile < points[j - 1].percentile
            ):
                yield problem(
                    "percentile_order",
                    (*loc, "percentiles", j),
                    f"percentile point {j} of {entry.scale!r} is out of order",
                )


SemanticCheck = Callable[[_Parts], Iterable[Problem]]
_CHECKS: tuple[SemanticCheck, ...] = (
    _check_scales,
    _check_items,
    _check_subscales,
    _check_composites,
    _check_checks,
    _check_unscored,
    _check_forms,
    _check_norms,
)


def semantic_problems(data: Mapping[str, Any]) -> list[Problem]:
    """Every cross-reference and range problem among the well-formed parts of the document."""
    parts = _parts(data)
    problems = list(_check_duplicate_ids(data))
    problems.extend(_check_folded_ids(data))
    for check in _CHECKS:
        problems.extend(check(parts))
    return problems


def _old_critical_items(data: Mapping[str, Any]) -> Iterable[Problem]:
    """Refuse the old ``critical_items:`` block with the ``checks:`` block that means the same.

    The old block never said what a skip or a "prefer not to say" means (it meant nothing); the
    rewrite states that choice (``on_skip: none``, ``on_missing_code: none``) so the author sees it
    and can change it. Reading the old block silently would keep a second format alive.
    """
    if "critical_items" not in data:
        return
    raw = data["critical_items"]
    entries = raw if isinstance(raw, list) else []
    lines = ["checks:"]
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        item = entry.get("item", "ITEM")
        direction = entry.get("direction", "at_or_above")
        lines += [
            f"  - id: {item}",
            f"    item: {item}",
            f"    rule: {{{direction}: {entry.get('threshold', 'THRESHOLD')}}}",
            "    level: alert",
            "    on_skip: none",
            "    on_missing_code: none",
        ]
        if entry.get("message"):
            lines.append(f"    message: {json.dumps(str(entry['message']), ensure_ascii=False)}")
    if len(lines) == 1:
        lines.append("  []")
    yield problem(
        "critical_items_replaced",
        ("critical_items",),
        "the critical_items block is no longer read: checks replace it, and also say what a "
        "skip and a 'prefer not to say' mean",
        "Replace the block with this one, which means exactly what it meant (then decide whether "
        "a skip or a missing code should point to support: on_skip / on_missing_code "
        "support):\n" + "\n".join("        " + line for line in lines),
    )


def validate_document(data: Any) -> tuple[Instrument | None, list[Problem]]:
    """Validate a parsed document; the instrument is returned only when there is no problem."""
    if not isinstance(data, Mapping):
        kind = type(data).__name__ if data is not None else "an empty document"
        return None, [problem("not_a_mapping", (), f"the document is {kind}, not a mapping")]
    replaced = list(_old_critical_items(data))
    if replaced:
        data = {k: v for k, v in data.items() if k != "critical_items"}
    problems = replaced + structural_problems(data) + semantic_problems(data)
    if problems:
        return None, problems
    return Instrument.model_validate(data), []
