"""XLSForm (ODK, KoboToolbox): export and import.

Export (:func:`workbook`): the ``survey``, ``choices`` and ``settings`` sheets (``form_title``,
``form_id``, ``version``). The instructions and disclaimer are ``note`` rows; items are
``select_one LIST`` rows (LIST = the response scale), inside a group per section when items name
their section; each choice's ``name`` is the code we store and an extra ``weight`` column holds
its score (blank for declared missing codes). One ``calculate`` row per subscale and composite
gives our score, reading each answer's score as ``instance('LIST')/root/item[name=${q}]/weight``.

A calculate yields text, so every formula tests ``string-length(...)`` rather than comparing with
numbers, converts with ``number()`` only what is present, and a composite recomputes its parts
from the answers instead of reading the text of another calculate. Below ``min_answered`` a
score is ``''`` (blank), never 0.

Our ids, reverse flags, weights, bands and the rest travel in an extra ``surveytool`` column
(JSON) of the survey and settings sheets, which ODK ignores, so an import of our own export gives
back the same instrument.

Import (:func:`import_workbook`) reads any XLSForm's ``select_one`` questions and their lists
(groups flattened, ``label`` or the first ``label::language`` column); a plain sum calculate
(``${a} + ${b}``) becomes a sum subscale; everything else is reported.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
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

SURVEY_COLUMNS = ("type", "name", "label", "calculation", "surveytool")
CHOICE_COLUMNS = ("list_name", "name", "label", "weight")
SETTINGS_COLUMNS = ("form_title", "form_id", "version", "surveytool")


def _num(value: float) -> str:
    as_number = number(float(value))
    return str(as_number) if isinstance(as_number, int) else repr(float(value))


def _weight(scale_id: str, item_id: str) -> str:
    return f"instance('{scale_id}')/root/item[name=${{{item_id}}}]/weight"


def _item_terms(instrument: Instrument, item: Item) -> tuple[str, str, str]:
    """(value, count, weight) XPath of one item: w·x', 1 and w when it has a score, else 0."""
    scale = instrument.response_scales[item.scale]
    weight = _weight(item.scale, item.id)
    present = f"string-length({weight}) > 0"
    value = f"number({weight})"
    if item.reverse:
        value = f"({_num(scale.min + scale.max)} - {value})"
    if item.weight != 1.0:
        value = f"{_num(item.weight)} * {value}"
    return (
        f"if({present}, {value}, 0)",
        f"if({present}, 1, 0)",
        f"if({present}, {_num(item.weight)}, 0)",
    )


def _subscale_parts(instrument: Instrument, sub: Subscale) -> tuple[str, str]:
    """(condition, value) of a subscale: the score is ``value`` when ``condition`` holds."""
    members = [instrument.item_by_id[i] for i in sub.items]
    terms = [_item_terms(instrument, m) for m in members]
    k = len(members)
    total = "(" + " + ".join(t[0] for t in terms) + ")"
    count = "(" + " + ".join(t[1] for t in terms) + ")"
    if sub.method is Method.sum:
        return f"{count} = {k}", total
    needed = max(min(required_count(sub.min_answered, k), k), 1)
    weights = (
        count
        if all(m.weight == 1.0 for m in members)
        else ("(" + " + ".join(t[2] for t in terms) + ")")
    )
    mean = f"{total} div {weights}"
    if sub.method is Method.prorated_sum:
        mean = f"({mean}) * {k}"
    return f"{count} >= {needed}", mean


def _parts_of(instrument: Instrument, scale_id: str) -> tuple[str, str]:
    sub = instrument.subscale_by_id.get(scale_id)
    if sub is not None:
        return _subscale_parts(instrument, sub)
    return _composite_parts(instrument, instrument.composite_by_id[scale_id])


def _composite_parts(instrument: Instrument, comp: Composite) -> tuple[str, str]:
    parts = [_parts_of(instrument, c) for c in comp.components]
    k = len(parts)
    count = "(" + " + ".join(f"if({cond}, 1, 0)" for cond, _ in parts) + ")"
    total = "(" + " + ".join(f"if({cond}, {value}, 0)" for cond, value in parts) + ")"
    if comp.method == "sum":
        return f"{count} = {k}", total
    needed = max(min(required_count(comp.min_answered, k), k), 1)
    return f"{count} >= {needed}", f"{total} div {count}"


def calculation(instrument: Instrument, scale_id: str) -> str:
    """The XPath of a subscale's or composite's calculate (blank below the minimum)."""
    condition, value = _parts_of(instrument, scale_id)
    return f"if({condition}, {value}, '')"


def _json(data: Mapping[str, Any]) -> str:
    return json.dumps(dict(data), ensure_ascii=False, sort_keys=True)


def sheets(instrument: Instrument) -> dict[str, list[list[Any]]]:
    """The workbook's sheets as rows (the first row the header)."""
    document = instrument_document(instrument)
    languages = sorted({lang for i in instrument.items for lang in i.translations})
    survey_header = [*SURVEY_COLUMNS[:3], *(f"label::{lang}" for lang in languages)]
    survey_header += list(SURVEY_COLUMNS[3:])
    width = len(survey_header)

    def row(**cells: Any) -> list[Any]:
        out: list[Any] = [""] * width
        for key, value in cells.items():
            out[survey_header.index(key.replace("__", "::"))] = value
        return out

    survey = [survey_header]
    for key in ("instructions", "disclaimer"):
        text = getattr(instrument, key)
        if text:
            survey.append(row(type="note", name=key, label=text, surveytool=_json({"text": key})))
    section: str | None = None
    groups = 0
    for index, item in enumerate(instrument.items):
        here = item.source.section if item.source is not None else None
        if here != section:
            if section is not None:
                survey.append(row(type="end group"))
            if here is not None:
                groups += 1
                survey.append(row(type="begin group", name=f"section_{groups}", label=here))
            section = here
        data = {k: v for k, v in document["items"][index].items() if k != "text"}
        cells: dict[str, Any] = {
            "type": f"select_one {item.scale}",
            "name": item.id,
            "label": item.text,
            "surveytool": _json({"item": data}),
        }
        for lang in languages:
            if lang in item.translations:
                cells[f"label__{lang}"] = item.translations[lang]
        survey.append(row(**cells))
    if section is not None:
        survey.append(row(type="end group"))
    # One calculate row per score, subscales first; the surveytool column carries its document.
    scores: list[tuple[str, Subscale | Composite, Any]] = [
        *(
            ("subscale", sub, document["subscales"][i])
            for i, sub in enumerate(instrument.subscales)
        ),
        *(("composite", c, document["composites"][i]) for i, c in enumerate(instrument.composites)),
    ]
    for kind, score, data in scores:
        survey.append(
            row(
                type="calculate",
                name=score.id,
                label=score.label,
                calculation=calculation(instrument, score.id),
                surveytool=_json({kind: data}),
            )
        )
    choices: list[list[Any]] = [list(CHOICE_COLUMNS)]
    for scale_id, scale in instrument.response_scales.items():
        for point in scale.points:
            choices.append([scale_id, str(point), scale.labels.get(point, str(point)), point])
        for code, label in scale.missing_codes.items():
            choices.append([scale_id, str(code), label, ""])
    meta = {
        k: v
        for k, v in document.items()
        if k not in ("items", "subscales", "composites", "instructions", "disclaimer")
    }
    settings = [
        list(SETTINGS_COLUMNS),
        [instrument.title, instrument.id, instrument.version, _json({"instrument": meta})],
    ]
    return {"survey": survey, "choices": choices, "settings": settings}


def workbook_bytes(instrument: Instrument) -> bytes:
    """The XLSForm as .xlsx bytes."""
    from openpyxl import Workbook

    book = Workbook()
    first = True
    for name, rows in sheets(instrument).items():
        sheet = book.active if first else book.create_sheet(name)
        if first and sheet is not None:
            sheet.title = name
        first = False
        assert sheet is not None
        for r in rows:
            sheet.append(r)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# ---------------------------------------------------------------------------------------------
# import
# ---------------------------------------------------------------------------------------------
def _sheet_rows(book: Any, name: str) -> list[dict[str, Any]]:
    sheet = next((book[s] for s in book.sheetnames if s.strip().lower() == name), None)
    if sheet is None:
        return []
    rows = list(sheet.iter_rows(values_only=True))
    if not rows:
        return []
    header = [str(h).strip() if h is not None else "" for h in rows[0]]
    out = []
    for values in rows[1:]:
        if all(v is None or str(v).strip() == "" for v in values):
            continue
        out.append({h: ("" if v is None else v) for h, v in zip(header, values, strict=False) if h})
    return out


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _label(row: Mapping[str, Any]) -> str:
    if _text(row.get("label", "")):
        return _text(row["label"])
    for key, value in row.items():
        if key.lower().startswith("label::") and _text(value):
            return _text(value)
    return ""


_SUM = re.compile(r"^\s*\$\{[A-Za-z_][\w.-]*\}(\s*\+\s*\$\{[A-Za-z_][\w.-]*\})+\s*$")


def import_workbook(path: str | Path, source: str | None = None) -> ImportResult:
    """An XLSForm workbook (.xlsx) as an instrument document."""
    from openpyxl import load_workbook

    name = source or str(path)
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is no workbook
        return refusal(name, "not_an_instrument", f"cannot read the workbook: {exc}")
    survey = _sheet_rows(book, "survey")
    choices = _sheet_rows(book, "choices")
    settings = _sheet_rows(book, "settings")
    book.close()
    if not survey:
        return refusal(name, "not_an_instrument", "the workbook has no 'survey' sheet: no XLSForm")
    problems: list[Problem] = []
    lists: dict[str, list[tuple[str, str, Any]]] = {}
    for row in choices:
        list_name = _text(row.get("list_name", row.get("list name", "")))
        lists.setdefault(list_name, []).append(
            (_text(row.get("name", "")), _label(row), row.get("weight", ""))
        )
    meta: dict[str, Any] = {}
    first = settings[0] if settings else {}
    if first.get("surveytool"):
        meta = dict(json.loads(str(first["surveytool"])).get("instrument", {}))
    document: dict[str, Any] = {
        "id": identifier(_text(first.get("form_id", "")) or "imported", "imported"),
        "version": semver(_text(first.get("version", ""))) or "1.0.0",
        "title": _text(first.get("form_title", "")) or "Imported",
    }
    document.update(meta)
    scales: dict[str, dict[str, Any]] = {}
    items: list[dict[str, Any]] = []
    subscales: list[dict[str, Any]] = []
    composites: list[dict[str, Any]] = []
    texts: dict[str, str] = {}
    calculates: list[tuple[int, dict[str, Any]]] = []
    for n, row in enumerate(survey, 2):
        kind = _text(row.get("type", ""))
        field = _text(row.get("name", ""))
        ours = json.loads(str(row["surveytool"])) if row.get("surveytool") else {}
        loc: tuple[str | int, ...] = (f"survey row {n}", field)
        if kind in ("begin group", "end group", "begin_group", "end_group", "") or kind in (
            "start",
            "end",
            "today",
            "deviceid",
            "username",
            "audit",
        ):
            continue
        if kind == "note":
            texts[ours.get("text") or f"note{n}"] = _label(row)
            continue
        if kind == "calculate":
            calculates.append((n, row))
            continue
        if not kind.startswith("select_one "):
            problems.append(
                not_mapped(loc, f"question {field!r} of type {kind!r} is no select_one item")
            )
            continue
        list_name = kind.split(None, 1)[1].strip()
        if list_name not in scales:
            built = _scale(lists.get(list_name, []), loc, problems)
            if built is None:
                continue
            scales[list_name] = built
        item_data = dict(ours.get("item", {}))
        entry: dict[str, Any] = {
            "id": item_data.pop("id", identifier(field, f"item{len(items) + 1}")),
            "text": _label(row) or field,
            **item_data,
        }
        entry.setdefault("scale", list_name)
        items.append(entry)
    for n, calc_row in calculates:
        field = _text(calc_row.get("name", ""))
        ours = json.loads(str(calc_row["surveytool"])) if calc_row.get("surveytool") else {}
        if "subscale" in ours:
            subscales.append(ours["subscale"])
            continue
        if "composite" in ours:
            composites.append(ours["composite"])
            continue
        formula = _text(calc_row.get("calculation", ""))
        if _SUM.match(formula):
            members = re.findall(r"\$\{([^}]+)\}", formula)
            known = {i["id"] for i in items}
            if all(m in known for m in members):
                subscales.append(
                    {
                        "id": identifier(field, f"score{len(subscales) + 1}"),
                        "label": _label(calc_row) or field,
                        "items": members,
                        "method": "sum",
                        "min_answered": len(members),
                    }
                )
                continue
        problems.append(
            not_mapped(
                (f"survey calc_row {n}", field),
                f"calculate {field!r} is not a plain sum of items; add it by hand",
            )
        )
    add_texts(document, texts, "note")
    document["response_scales"] = meta.get("response_scales", scales)
    document["items"] = items
    add_scores(document, items, subscales, composites, problems, "the form has no score")
    return finish_import(document, name, problems)


def _scale(
    options: Sequence[tuple[str, str, Any]], loc: tuple[str | int, ...], problems: list[Problem]
) -> dict[str, Any] | None:
    """A scale from a choice list: scores from ``weight`` when given, else integer names."""
    scored: list[tuple[int, str]] = []
    missing: dict[int, str] = {}
    has_weights = any(_text(w) for _, _, w in options)
    for name, label, weight in options:
        raw = _text(weight) if has_weights else name
        if not re.fullmatch(r"-?\d+", name):
            problems.append(
                not_mapped(loc, f"choice {name!r} is not a whole number, so it cannot be scored")
            )
            return None
        if has_weights and not raw:
            missing[int(name)] = label or name
            continue
        if not re.fullmatch(r"-?\d+(\.0+)?", raw) or int(float(raw)) != int(name):
            problems.append(
                not_mapped(
                    loc,
                    f"choice {name!r} scores {raw!r}: only lists whose scores equal their names "
                    "import",
                )
            )
            return None
        scored.append((int(name), label))
    if len(scored) < 2:
        problems.append(not_mapped(loc, "the choice list has fewer than two scored choices"))
        return None
    codes = sorted(c for c, _ in scored)
    if codes != list(range(codes[0], codes[-1] + 1)):
        problems.append(not_mapped(loc, f"choice codes {codes} are not consecutive"))
        return None
    labels = {c: label for c, label in scored if label and label != str(c)}
    out: dict[str, Any] = {"min": codes[0], "max": codes[-1], "labels": labels}
    if missing:
        out["missing_codes"] = missing
    return out
