"""REDCap data dictionaries: export and import.

Export (:func:`data_dictionary`): the 18 columns of :data:`COLUMNS` in REDCap's order and spelling,
UTF-8 without a byte-order mark; the record id first; one form; one ``radio`` row per item with
``code, label | code, label`` choices (missing codes included, as answers without a score) and
``Matrix Group Name`` = the item's response scale (a scale whose items are not adjacent gets one
matrix group per run, ``scale_2`` ...); one ``calc`` row per subscale and composite tagged
``@HIDDEN-SURVEY``, whose formula gives our score (:func:`subscale_formula`).

REDCap documents that ``mean()``, ``min()``, ``max()`` and ``median()`` ignore blank values, but
arithmetic on a blank field gives a blank, and a missing code is a stored value, not a blank. So
the formulas never rely on either: each item enters as ``if([x]="", 0, if([x]>=min and
[x]<=max, w*x', 0))`` (0 when unanswered or a missing code), counted by the same test, and a score
is ``""`` (blank) below ``min_answered``, never a silent zero.

REDCap variable names are lower case; our ids, reverse flags, weights, bands and the rest travel
in the Field Annotation as ``surveytool: {json}`` after the action tags, so an import of our own
export gives back the same instrument.

Import (:func:`import_dictionary`): a dictionary written by anyone (byte-order mark stripped,
delimiter sniffed, legacy choices without codes, labels containing ``,``): the ``radio`` and
``dropdown`` fields of one form become items on scales (one per distinct choice list), matrix
groups are kept as the scale names, ``calc`` fields of the forms ``mean([a],[b],...)``,
``sum([a],[b],...)`` and ``[a]+[b]+...`` become subscales; everything else is reported.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from surveytool.instrument.model import (
    Composite,
    Instrument,
    Item,
    Method,
    Subscale,
    required_count,
)
from surveytool.interchange._common import (
    ImportResult,
    add_scores,
    add_texts,
    finish_import,
    identifier,
    instrument_document,
    not_mapped,
    number,
    refusal,
    semver,
)
from surveytool.problems import Problem

COLUMNS: tuple[str, ...] = (
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
)
"""The data dictionary's columns, in REDCap's order and spelling."""

MARK = "surveytool:"
HIDDEN = "@HIDDEN-SURVEY"


def variable(text: str) -> str:
    """A REDCap variable name: lower case letters, digits and ``_``, starting with a letter."""
    name = re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_")
    if not name or not name[0].isalpha():
        name = f"v_{name}"
    return name[:100]


class _Names:
    def __init__(self, instrument: Instrument) -> None:
        used: set[str] = {"record_id"}
        self.of: dict[str, str] = {}
        for raw in [i.id for i in instrument.items] + instrument.scored_ids():
            base = variable(raw)
            name, n = base, 2
            while name in used:
                name, n = f"{base}_{n}", n + 1
            used.add(name)
            self.of[raw] = name


def _num(value: float) -> str:
    as_number = number(float(value))
    return str(as_number) if isinstance(as_number, int) else repr(float(value))


def _item_term(instrument: Instrument, item: Item, field: str, what: str) -> str:
    """``what``: ``value`` (w·x', 0 if not answered), ``count`` (1/0) or ``weight`` (w/0)."""
    scale = instrument.response_scales[item.scale]
    value = f"[{field}]"
    if item.reverse:
        value = f"({_num(scale.min + scale.max)}-[{field}])"
    if item.weight != 1.0 and what == "value":
        value = f"{_num(item.weight)}*{value}"
    result = {"value": value, "count": "1", "weight": _num(item.weight)}[what]
    return f'if([{field}]="",0,if([{field}]>={scale.min} and [{field}]<={scale.max},{result},0))'


def subscale_formula(instrument: Instrument, sub: Subscale, names: Mapping[str, str]) -> str:
    """The calc formula of a subscale (see the module docstring)."""
    members = [instrument.item_by_id[i] for i in sub.items]
    k = len(members)
    total = "(" + "+".join(_item_term(instrument, m, names[m.id], "value") for m in members) + ")"
    count = "(" + "+".join(_item_term(instrument, m, names[m.id], "count") for m in members) + ")"
    if sub.method is Method.sum:
        return f'if({count}={k},{total},"")'
    needed = max(min(required_count(sub.min_answered, k), k), 1)
    if all(m.weight == 1.0 for m in members):
        weights = count
    else:
        weights = (
            "(" + "+".join(_item_term(instrument, m, names[m.id], "weight") for m in members) + ")"
        )
    mean = f"{total}/{weights}"
    if sub.method is Method.prorated_sum:
        mean = f"({mean})*{k}"
    return f'if({count}>={needed},{mean},"")'


def composite_formula(comp: Composite, names: Mapping[str, str]) -> str:
    """The calc formula of a composite over its components' calc fields."""
    fields = [names[c] for c in comp.components]
    k = len(fields)
    count = "(" + "+".join(f'if([{f}]="",0,1)' for f in fields) + ")"
    total = "(" + "+".join(f'if([{f}]="",0,[{f}])' for f in fields) + ")"
    if comp.method == "sum":
        return f'if({count}={k},{total},"")'
    needed = max(min(required_count(comp.min_answered, k), k), 1)
    return f'if({count}>={needed},{total}/{count},"")'


def _annotation(tags: str, data: Mapping[str, Any]) -> str:
    payload = f"{MARK} {json.dumps(dict(data), ensure_ascii=False, sort_keys=True)}"
    return f"{tags} {payload}".strip()


def _row(**cells: str) -> dict[str, str]:
    keys = {
        "name": "Variable / Field Name",
        "form": "Form Name",
        "section": "Section Header",
        "type": "Field Type",
        "label": "Field Label",
        "choices": "Choices, Calculations, OR Slider Labels",
        "note": "Field Note",
        "validation": "Text Validation Type OR Show Slider Number",
        "matrix": "Matrix Group Name",
        "annotation": "Field Annotation",
    }
    row = dict.fromkeys(COLUMNS, "")
    for key, value in cells.items():
        row[keys[key]] = value
    return row


def _choices(instrument: Instrument, scale_id: str) -> str:
    scale = instrument.response_scales[scale_id]
    parts = [f"{p}, {scale.labels.get(p, str(p))}" for p in scale.points]
    parts += [f"{code}, {label}" for code, label in scale.missing_codes.items()]
    return " | ".join(parts)


def dictionary_rows(instrument: Instrument) -> list[dict[str, str]]:
    """The data dictionary's rows (dicts keyed by :data:`COLUMNS`)."""
    names = _Names(instrument).of
    form = variable(instrument.id)
    document = instrument_document(instrument)
    meta = {
        k: v
        for k, v in document.items()
        if k not in ("items", "subscales", "composites", "instructions", "disclaimer")
    }
    rows = [
        _row(
            name="record_id",
            form=form,
            type="text",
            label="Record ID",
            annotation=_annotation("", {"instrument": meta}),
        )
    ]
    for key in ("instructions", "disclaimer"):
        text = getattr(instrument, key)
        if text:
            rows.append(
                _row(
                    name=variable(f"{instrument.id}_{key}"),
                    form=form,
                    type="descriptive",
                    label=text,
                    annotation=_annotation("", {"text": key}),
                )
            )
    previous: str | None = None
    runs: dict[str, int] = {}
    for item in instrument.items:
        if item.scale != previous:
            runs[item.scale] = runs.get(item.scale, 0) + 1
            previous = item.scale
        run = runs[item.scale]
        matrix = variable(item.scale) + (f"_{run}" if run > 1 else "")
        data = {
            k: v for k, v in document["items"][instrument.items.index(item)].items() if k != "text"
        }
        rows.append(
            _row(
                name=names[item.id],
                form=form,
                type="radio",
                label=item.text,
                choices=_choices(instrument, item.scale),
                matrix=matrix,
                annotation=_annotation("", {"item": data}),
            )
        )
    # One hidden calc row per score: (id, label, formula, note, what the annotation carries).
    calcs = [
        (
            sub.id,
            sub.label,
            subscale_formula(instrument, sub, names),
            _note(sub.method.value, sub.min_answered, len(sub.items)),
            {"subscale": dict(document["subscales"][i])},
        )
        for i, sub in enumerate(instrument.subscales)
    ] + [
        (
            comp.id,
            comp.label,
            composite_formula(comp, names),
            _note(comp.method, comp.min_answered, len(comp.components)),
            {"composite": dict(document["composites"][i])},
        )
        for i, comp in enumerate(instrument.composites)
    ]
    for score_id, label, formula, note, data in calcs:
        rows.append(
            _row(
                name=names[score_id],
                form=form,
                type="calc",
                label=label,
                choices=formula,
                note=note,
                annotation=_annotation(HIDDEN, data),
            )
        )
    return rows


def _note(method: str, min_answered: int | float, k: int) -> str:
    needed = k if method == "sum" else max(min(required_count(min_answered, k), k), 1)
    words = {"mean": "Mean", "sum": "Sum", "prorated_sum": "Prorated sum"}[method]
    return f"{words}; blank with fewer than {needed} of {k} answered (surveytool)"


def data_dictionary(instrument: Instrument) -> str:
    """The data dictionary CSV text (UTF-8 without BOM when written)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(dictionary_rows(instrument))
    return out.getvalue()


# ---------------------------------------------------------------------------------------------
# import
# ---------------------------------------------------------------------------------------------
_CALL = re.compile(r"^\s*(?P<fn>sum|mean)\s*\((?P<args>[^()]*)\)\s*$", re.IGNORECASE)
_FIELD = re.compile(r"^\s*\[(?P<name>[A-Za-z0-9_]+)\]\s*$")


def _read_rows(text: str) -> tuple[list[dict[str, str]], str]:
    from surveytool.io.sources import sniff_delimiter  # pandas only when a file is read

    text = text.lstrip("\ufeff")
    sep = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    rows = list(reader)
    if not rows:
        return [], sep
    header = [h.strip() for h in rows[0]]
    return [
        dict(zip(header, (c.strip() for c in r), strict=False)) for r in rows[1:] if any(r)
    ], sep


def _column(row: Mapping[str, str], name: str) -> str:
    if name in row:
        return row[name] or ""
    folded = name.casefold()
    for key, value in row.items():
        if key.casefold() == folded or key.casefold().startswith(folded.split(",")[0]):
            return value or ""
    return ""


def parse_choices(text: str) -> list[tuple[str, str]]:
    """``1, Yes | 2, No`` -> [("1", "Yes"), ("2", "No")]; legacy ``Yes | No`` -> code = label;
    a label may contain commas (split at the first only)."""
    out = []
    for part in text.split("|"):
        part = part.strip()
        if not part:
            continue
        code, comma, label = part.partition(",")
        if comma:
            out.append((code.strip(), label.strip()))
        else:
            out.append((part, part))
    return out


def _annotated(annotation: str) -> dict[str, Any] | None:
    at = annotation.find(MARK)
    if at < 0:
        return None
    try:
        data = json.loads(annotation[at + len(MARK) :])
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def _strip_html(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text)).strip()


def import_dictionary(
    text: str, source: str = "data dictionary", form: str | None = None
) -> ImportResult:
    """A REDCap data dictionary (CSV text) as an instrument document; ``form`` picks one form."""
    rows, _ = _read_rows(text)
    problems: list[Problem] = []
    name_col, form_col = COLUMNS[0], COLUMNS[1]
    if not rows or not any(_column(r, name_col) for r in rows):
        return refusal(
            source,
            "not_an_instrument",
            "the CSV has no 'Variable / Field Name' column: it is not a REDCap data dictionary",
        )
    forms = list(dict.fromkeys(_column(r, form_col) for r in rows))
    chosen = form if form is not None else forms[0]
    if chosen not in forms:
        return refusal(
            source,
            "unknown_form",
            f"the dictionary has no form {chosen!r}; its forms: {', '.join(forms)}",
        )
    if form is None and len(forms) > 1:
        problems.append(
            not_mapped(
                (),
                f"the dictionary has {len(forms)} forms ({', '.join(forms)}); imported "
                f"{chosen!r} (choose another with --form)",
            )
        )
    meta: dict[str, Any] = {}
    document: dict[str, Any] = {}
    scales: dict[str, dict[str, Any]] = {}
    scale_of_choices: dict[str, str] = {}
    items: list[dict[str, Any]] = []
    field_to_item: dict[str, str] = {}
    subscales: list[dict[str, Any]] = []
    composites: list[dict[str, Any]] = []
    texts: dict[str, str] = {}
    calc_rows: list[tuple[int, dict[str, str]]] = []
    for n, row in enumerate(rows, 2):
        if _column(row, form_col) != chosen:
            continue
        name = _column(row, name_col)
        kind = _column(row, COLUMNS[3]).lower()
        label = _column(row, COLUMNS[4])
        ours = _annotated(_column(row, COLUMNS[17]))
        loc: tuple[str | int, ...] = (f"row {n}", name)
        if ours and "instrument" in ours:
            meta = dict(ours["instrument"])
            continue
        if n == 2 and kind == "text":
            continue  # the record id
        if kind == "descriptive":
            key = ours.get("text") if ours else None
            texts[key or f"text{len(texts)}"] = label
            continue
        if kind == "calc":
            calc_rows.append((n, row))
            continue
        if kind not in ("radio", "dropdown"):
            problems.append(
                not_mapped(loc, f"field {name!r} of type {kind!r} is no single-choice question")
            )
            continue
        choices = parse_choices(_column(row, COLUMNS[5]))
        matrix = _column(row, COLUMNS[15])
        built = _scale(choices, loc, problems)
        if built is None:
            continue
        item_data = dict(ours["item"]) if ours and "item" in ours else {}
        key = json.dumps(built, sort_keys=True)
        scale_id = item_data.get("scale") or scale_of_choices.get(key)
        if scale_id is None:
            scale_id = identifier(re.sub(r"_\d+$", "", matrix), "") if matrix else ""
            if not scale_id or scale_id in scales:
                scale_id = f"scale{len(scales) + 1}"
        scale_of_choices.setdefault(key, scale_id)
        scales.setdefault(scale_id, built)
        if item_data:
            entry = {"id": item_data.pop("id"), "text": label, **item_data}
        else:
            entry = {"id": identifier(name, f"item{len(items) + 1}"), "text": _strip_html(label)}
            entry["text"] = entry["text"] or name
        entry["scale"] = scale_id
        items.append(entry)
        field_to_item[name] = items[-1]["id"]
    for n, row in calc_rows:
        name = _column(row, name_col)
        ours = _annotated(_column(row, COLUMNS[17]))
        if ours and "subscale" in ours:
            subscales.append(dict(ours["subscale"]))
            field_to_item.setdefault(name, ours["subscale"]["id"])
            continue
        if ours and "composite" in ours:
            composites.append(dict(ours["composite"]))
            continue
        members, method = _calc_members(_column(row, COLUMNS[5]))
        loc = (f"row {n}", name)
        if members is None:
            problems.append(
                not_mapped(
                    loc,
                    f"calc field {name!r}: only mean([a],[b],...), sum([a],[b],...) and "
                    "[a]+[b]+... are read; add this score to the instrument file by hand",
                )
            )
            continue
        unknown = [m for m in members if m not in field_to_item]
        if unknown:
            problems.append(
                not_mapped(loc, f"calc field {name!r} uses fields that are no items: {unknown}")
            )
            continue
        ids = [field_to_item[m] for m in members]
        subscales.append(
            {
                "id": identifier(name, f"score{len(subscales) + 1}"),
                "label": _strip_html(_column(row, COLUMNS[4])) or name,
                "items": ids,
                "method": method,
                "min_answered": len(ids) if method == "sum" else 1,
            }
        )
    document = {
        "id": identifier(chosen, "imported"),
        "version": "1.0.0",
        "title": chosen.replace("_", " ").strip().capitalize() or "Imported",
    }
    document.update(meta)
    if "version" in meta:
        document["version"] = semver(str(meta["version"])) or "1.0.0"
    add_texts(document, texts, "text", None if meta else _strip_html)
    document["response_scales"] = meta.get("response_scales", scales)
    document["items"] = items
    add_scores(document, items, subscales, composites, problems, "the form has no calc field")
    return finish_import(document, source, problems)


def _scale(
    choices: Sequence[tuple[str, str]], loc: tuple[str | int, ...], problems: list[Problem]
) -> dict[str, Any] | None:
    """A response scale from choices: the longest run of consecutive integer codes is the scale;
    other integer codes outside it are missing codes (reported); other codes are refused."""
    if not choices:
        problems.append(not_mapped(loc, f"field {loc[-1]!r} has no choices"))
        return None
    if not all(re.fullmatch(r"-?\d+", code) for code, _ in choices):
        bad = [code for code, _ in choices if not re.fullmatch(r"-?\d+", code)]
        problems.append(
            not_mapped(
                loc,
                f"field {loc[-1]!r}: choice codes {bad} are not whole numbers, so the field cannot be scored; "
                "give the choices numeric codes in REDCap",
            )
        )
        return None
    coded = [(int(code), label) for code, label in choices]
    codes = sorted(c for c, _ in coded)
    runs: list[list[int]] = [[codes[0]]]
    for c in codes[1:]:
        if c == runs[-1][-1] + 1:
            runs[-1].append(c)
        else:
            runs.append([c])
    main = max(runs, key=len)
    low, high = main[0], main[-1]
    if low == high:
        problems.append(not_mapped(loc, f"field {loc[-1]!r} has a single scored choice"))
        return None
    labels = {c: label for c, label in coded if low <= c <= high and label != str(c)}
    missing = {c: label for c, label in coded if not low <= c <= high}
    scale: dict[str, Any] = {"min": low, "max": high, "labels": labels}
    if missing:
        scale["missing_codes"] = missing
    return scale


def _calc_members(formula: str) -> tuple[list[str] | None, str]:
    call = _CALL.match(formula)
    if call:
        args = [a for a in call["args"].split(",")]
        fields = [_FIELD.match(a) for a in args]
        if all(fields):
            return [f["name"] for f in fields if f], call["fn"].lower()
        return None, ""
    terms = formula.split("+")
    fields = [_FIELD.match(t.strip().strip("()")) for t in terms]
    if len(terms) > 1 and all(fields):
        return [f["name"] for f in fields if f], "sum"
    return None, ""
