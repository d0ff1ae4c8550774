"""FHIR R4 Questionnaire and QuestionnaireResponse: export, import, and responses as answers.

Export (:func:`questionnaire`), one Questionnaire per instrument:

- ``url`` + ``version`` (a response's ``questionnaire`` is ``url|version``), ``name`` (our id),
  ``title``, ``status``, ``copyright`` (the licence), ``description``, ``language``;
- per response scale a contained CodeSystem (its codes, labels and scores: the ``itemWeight``
  property and the ``ordinalValue`` extension); every item's ``answerOption`` lists the scale's
  codes as ``valueCoding`` with the score under both ``ordinalValue`` (R4) and ``itemWeight``
  (R5's name); declared missing codes are options without a score;
- the instructions and the disclaimer as ``display`` items;
- one ``readOnly`` decimal item per subscale and composite, whose SDC ``calculatedExpression``
  (FHIRPath) gives exactly our score (see :func:`scoring_variables`): reverse keys on the declared
  range, weights, the method and ``min_answered`` (empty, not zero, when too few are answered),
  with a ``targetConstraint`` saying how many answers are needed;
- what FHIR has no element for (reverse flag, weight, bands, guidance, short forms, norms,
  provenance...) in extensions under :data:`EXT`, and any other field of the format (critical
  checks, for example) as a ``field`` extension holding its name and JSON, so that :func:`import_questionnaire`
  of our own export gives back the same instrument.

Import (:func:`import_questionnaire`) reads a Questionnaire written by anyone: scores under the
STU3, R4 and R5 extension names or the CodeSystem ``itemWeight`` property, options inline or
through contained ValueSets and CodeSystems, groups (flattened), LOINC codes (kept in the item's
source note), and a total ``calculatedExpression`` that is a plain sum of ``weight()``\\ s (a
``sum`` subscale). Whatever cannot be expressed is reported (:data:`~surveytool.problems.CODES`
``not_mapped``), never dropped silently; bands are never read from free text.

Responses: :func:`questionnaire_response` writes one administration (answers as ``valueCoding``
with the scale's system, so that ``weight()`` finds their score), :func:`bundle` a collection,
and :func:`response_rows` reads responses and bundles back into answer rows (used by
:func:`surveytool.io.sources.read_source`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from surveytool.errors import SurveytoolError
from surveytool.instrument.model import (
    Composite,
    Instrument,
    Item,
    Method,
    ResponseScale,
    Subscale,
    required_count,
)
from surveytool.interchange._common import (
    ImportResult,
    add_scores,
    finish_import,
    identifier,
    instrument_document,
    not_mapped,
    number,
    plain,
    refusal,
    semver,
)
from surveytool.problems import Problem

#: Our extensions: what FHIR has no element for.
EXT = "urn:surveytool:fhir:extension:"
#: The default canonical base of an exported Questionnaire (``--url`` gives another).
DEFAULT_BASE = "urn:surveytool:instrument:"

ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
ITEM_WEIGHT = "http://hl7.org/fhir/StructureDefinition/itemWeight"
STU3_ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/questionnaire-ordinalValue"
ITEM_WEIGHT_PROPERTY = "http://hl7.org/fhir/concept-properties#itemWeight"
SCORE_EXTENSIONS = (ORDINAL_VALUE, ITEM_WEIGHT, STU3_ORDINAL_VALUE)
SDC = "http://hl7.org/fhir/uv/sdc/StructureDefinition/"
CALCULATED = SDC + "sdc-questionnaire-calculatedExpression"
VARIABLE = "http://hl7.org/fhir/StructureDefinition/variable"
TARGET_CONSTRAINT = "http://hl7.org/fhir/StructureDefinition/targetConstraint"
TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"
ITEM_CONTROL = "http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl"
LOINC = "http://loinc.org"

#: linkIds of our display items and the prefix of score items.
INSTRUCTIONS = "instructions"
DISCLAIMER = "disclaimer"
SCORE_PREFIX = "score."

_VAR = re.compile(r"[^A-Za-z0-9_]")


def canonical(instrument: Instrument, base: str = DEFAULT_BASE) -> str:
    """The Questionnaire's canonical ``url`` (base + id)."""
    return f"{base}{instrument.id}" if base.endswith((":", "/")) else f"{base}/{instrument.id}"


def scale_system(url: str, scale_id: str) -> str:
    """The code system of one response scale of the Questionnaire ``url``."""
    return f"{url}:scale:{scale_id}" if url.startswith("urn:") else f"{url}/scale/{scale_id}"


def _decimal(value: float) -> float | int:
    return number(float(value))


def _ext(name: str, **value: Any) -> dict[str, Any]:
    return {"url": EXT + name, **value}


def _score_extensions(score: float) -> list[dict[str, Any]]:
    return [
        {"url": ORDINAL_VALUE, "valueDecimal": _decimal(score)},
        {"url": ITEM_WEIGHT, "valueDecimal": _decimal(score)},
    ]


def _code_system(url: str, scale_id: str, scale: ResponseScale) -> dict[str, Any]:
    concepts: list[dict[str, Any]] = []
    for point in scale.points:
        concept: dict[str, Any] = {"code": str(point)}
        if point in scale.labels:
            concept["display"] = scale.labels[point]
        concept["extension"] = [{"url": ORDINAL_VALUE, "valueDecimal": point}]
        concept["property"] = [{"code": "itemWeight", "valueDecimal": point}]
        concepts.append(concept)
    for code, label in scale.missing_codes.items():
        concepts.append(
            {
                "code": str(code),
                "display": label,
                "extension": [_ext("missing-code", valueBoolean=True)],
            }
        )
    return {
        "resourceType": "CodeSystem",
        "id": f"scale-{_resource_id(scale_id)}",
        "url": scale_system(url, scale_id),
        "name": _VAR.sub("_", scale_id),
        "status": "active",
        "content": "complete",
        "property": [{"code": "itemWeight", "uri": ITEM_WEIGHT_PROPERTY, "type": "decimal"}],
        "concept": concepts,
    }


def _answer_options(system: str, scale: ResponseScale) -> list[dict[str, Any]]:
    options = []
    for point in scale.points:
        coding: dict[str, Any] = {"system": system, "code": str(point)}
        if point in scale.labels:
            coding["display"] = scale.labels[point]
        options.append({"valueCoding": coding, "extension": _score_extensions(point)})
    for code, label in scale.missing_codes.items():
        options.append({"valueCoding": {"system": system, "code": str(code), "display": label}})
    return options


def _resource_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]", "-", text)[:64]


@dataclass(frozen=True)
class Variables:
    """FHIRPath variable names: one per item (its keyed, weighted score) and one per scale."""

    items: dict[str, str]
    scores: dict[str, str]


def variable_names(instrument: Instrument) -> Variables:
    used: set[str] = set()

    def name(prefix: str, raw: str) -> str:
        # an R4 ``id`` that is also a FHIRPath identifier: letters and digits (fault_finding ->
        # scoreFaultFinding)
        base = prefix + "".join(p[:1].upper() + p[1:] for p in re.split(r"[^A-Za-z0-9]+", raw))
        candidate, n = base, 2
        while candidate in used:
            candidate, n = f"{base}{n}", n + 1
        used.add(candidate)
        return candidate

    return Variables(
        items={i.id: name("item", i.id) for i in instrument.items},
        scores={s: name("score", s) for s in instrument.scored_ids()},
    )


def _fp_number(value: float) -> str:
    """A FHIRPath number literal: integers as integers, other values as decimals."""
    as_number = number(float(value))
    return str(as_number) if isinstance(as_number, int) else repr(float(value))


def item_expression(instrument: Instrument, item: Item) -> str:
    """FHIRPath of one item's keyed, weighted score: empty when not answered or a missing code.

    ``weight()`` reads the answer's score from the Questionnaire (missing codes have none, so they
    give nothing); a reversed item is ``(min + max) - x``; a weight w gives ``w * x``.
    """
    scale = instrument.response_scales[item.scale]
    expr = f"%resource.item.where(linkId = '{item.id}').answer.value.weight()"
    if item.reverse:
        expr = f"({_fp_number(scale.min + scale.max)} - {expr})"
    if item.weight != 1.0:
        expr = f"({_fp_number(item.weight)} * {expr})"
    return expr


def _combine(names: Sequence[str]) -> str:
    first, *rest = names
    return f"%{first}" + "".join(f".combine(%{n})" for n in rest)


def subscale_expression(instrument: Instrument, sub: Subscale, names: Variables) -> str:
    """FHIRPath of a subscale score from its item variables (FORMULAS.md, one respondent).

    ``mean``: Σ w·x' / Σ w over answered items, at least ``min_answered`` of them; ``sum``: Σ w·x'
    when every item is answered; ``prorated_sum``: the mean × k. Empty below the minimum.
    """
    members = [instrument.item_by_id[i] for i in sub.items]
    values = _combine([names.items[m.id] for m in members])
    k = len(members)
    if sub.method is Method.sum:
        return f"iif(({values}).count() = {k}, ({values}).sum())"
    needed = max(min(required_count(sub.min_answered, k), k), 1)
    if all(m.weight == 1.0 for m in members):
        denominator = f"({values}).count()"
    else:
        denominator = (
            "("
            + " + ".join(
                f"iif(%{names.items[m.id]}.exists(), {_fp_number(m.weight)}, 0)" for m in members
            )
            + ")"
        )
    mean = f"({values}).sum() / {denominator}"
    if sub.method is Method.prorated_sum:
        mean = f"({mean}) * {k}"
    return f"iif(({values}).count() >= {needed}, {mean})"


def composite_expression(comp: Composite, names: Variables) -> str:
    """FHIRPath of a composite from its components' score variables (mean or sum)."""
    values = _combine([names.scores[c] for c in comp.components])
    k = len(comp.components)
    if comp.method == "sum":
        return f"iif(({values}).count() = {k}, ({values}).sum())"
    needed = max(min(required_count(comp.min_answered, k), k), 1)
    return f"iif(({values}).count() >= {needed}, ({values}).sum() / ({values}).count())"


def _needed(min_answered: int | float, k: int, method: str) -> int:
    if method == "sum":
        return k
    return max(min(required_count(min_answered, k), k), 1)


def scoring_variables(instrument: Instrument) -> list[tuple[str, str]]:
    """(name, FHIRPath) of every variable, in evaluation order: items, subscales, composites."""
    names = variable_names(instrument)
    out = [(names.items[i.id], item_expression(instrument, i)) for i in instrument.items]
    out += [
        (names.scores[s.id], subscale_expression(instrument, s, names))
        for s in instrument.subscales
    ]
    done = {s.id for s in instrument.subscales}
    pending = list(instrument.composites)
    while pending:
        ready = [c for c in pending if all(x in done for x in c.components)]
        if not ready:  # a cycle: validation rejects it
            break
        for comp in ready:
            out.append((names.scores[comp.id], composite_expression(comp, names)))
            done.add(comp.id)
            pending.remove(comp)
    return out


def _expression(name: str | None, expression: str) -> dict[str, Any]:
    value: dict[str, Any] = {"language": "text/fhirpath", "expression": expression}
    if name:
        value["name"] = name
    return value


def _bands_ext(scored: Subscale | Composite) -> list[dict[str, Any]]:
    out = []
    for band in scored.bands:
        parts = [
            {"url": "lower", "valueDecimal": _decimal(band.lower)},
            {"url": "upper", "valueDecimal": _decimal(band.upper)},
            {"url": "label", "valueString": band.label},
        ]
        if band.text:
            parts.append({"url": "text", "valueString": band.text})
        out.append(_ext("band", extension=parts))
    return out


def _min_answered_ext(value: int | float) -> dict[str, Any]:
    if isinstance(value, int):
        return {"url": "min-answered", "valueInteger": value}
    return {"url": "min-answered", "valueDecimal": value}


def _scored_item(
    instrument: Instrument,
    scored: Subscale | Composite,
    names: Variables,
    fields: Mapping[str, Any],
) -> dict[str, Any]:
    """The readOnly item of a subscale or composite; ``fields``: its entry in the document."""
    is_sub = isinstance(scored, Subscale)
    members = list(scored.items) if isinstance(scored, Subscale) else list(scored.components)
    method = scored.method.value if isinstance(scored, Subscale) else scored.method
    needed = _needed(scored.min_answered, len(members), method)
    definition: list[dict[str, Any]] = [
        {"url": "kind", "valueCode": "subscale" if is_sub else "composite"},
        {"url": "method", "valueCode": method},
        _min_answered_ext(scored.min_answered),
        {"url": "better", "valueCode": scored.better.value},
    ]
    definition += [
        {"url": "item" if is_sub else "component", "valueString": member} for member in members
    ]
    if scored.description:
        definition.append({"url": "description", "valueString": scored.description})
    if scored.guidance:
        definition.append({"url": "guidance", "valueString": scored.guidance})
    var = names.scores[scored.id]
    if is_sub:
        answered = _combine([names.items[m] for m in members])
        what = "statements"
    else:
        answered = _combine([names.scores[m] for m in members])
        what = "parts"
    constraint = {
        "url": TARGET_CONSTRAINT,
        "extension": [
            {"url": "key", "valueId": f"{_resource_id(scored.id)}-answered"[:64]},
            {"url": "severity", "valueCode": "warning"},
            {
                "url": "expression",
                "valueExpression": _expression(None, f"({answered}).count() >= {needed}"),
            },
            {
                "url": "human",
                "valueString": f"{scored.label}: answer at least {needed} of its {len(members)} "
                f"{what} for a score.",
            },
        ],
    }
    extras = _field_extensions(fields, SCORED_FIELDS)
    return {
        "linkId": SCORE_PREFIX + scored.id,
        "text": scored.label,
        "type": "decimal",
        "readOnly": True,
        "extension": [
            {"url": CALCULATED, "valueExpression": _expression(None, f"%{var}")},
            constraint,
            _ext("scale", extension=definition),
            *_bands_ext(scored),
            *extras,
        ],
    }


def _translations(texts: Mapping[str, str]) -> dict[str, Any]:
    return {
        "extension": [
            {
                "url": TRANSLATION,
                "extension": [
                    {"url": "lang", "valueCode": lang},
                    {"url": "content", "valueString": text},
                ],
            }
            for lang, text in texts.items()
        ]
    }


def _question(
    instrument: Instrument, item: Item, number_: int, url: str, fields: Mapping[str, Any]
) -> dict[str, Any]:
    """The choice item of an instrument item; ``fields``: its entry in the document."""
    scale = instrument.response_scales[item.scale]
    extensions: list[dict[str, Any]] = [_ext("response-scale", valueString=item.scale)]
    if item.reverse:
        extensions.append(_ext("reverse", valueBoolean=True))
    if item.weight != 1.0:
        extensions.append(_ext("weight", valueDecimal=_decimal(item.weight)))
    if item.source is not None:
        parts = [
            {"url": key, "valueString": value}
            for key, value in item.source.model_dump(exclude_none=True).items()
        ]
        extensions.append(_ext("source", extension=parts))
    extensions += _field_extensions(fields, ITEM_FIELDS)
    question: dict[str, Any] = {
        "linkId": item.id,
        "prefix": f"{number_}.",
        "text": item.text,
        "type": "choice",
        "extension": extensions,
        "answerOption": _answer_options(scale_system(url, item.scale), scale),
    }
    if item.translations:
        question["_text"] = _translations(item.translations)
    return question


#: Fields written as FHIR elements or as their own extensions; any other field of the instrument
#: (critical checks, for example) travels as a ``field`` extension: its name and its JSON.
ROOT_FIELDS = frozenset(
    {
        "id", "version", "title", "description", "language", "instructions", "timeframe",
        "source", "provenance", "licence", "validation_status", "disclaimer", "minutes",
        "response_scales", "items", "subscales", "composites", "short_forms", "norms",
    }
)  # fmt: skip
ITEM_FIELDS = frozenset({"id", "text", "translations", "scale", "reverse", "weight", "source"})
SCORED_FIELDS = frozenset(
    {
        "id", "label", "description", "bands", "guidance", "better", "items", "components",
        "method", "min_answered",
    }
)  # fmt: skip


def _field_extensions(document: Mapping[str, Any], native: frozenset[str]) -> list[dict[str, Any]]:
    return [
        _ext(
            "field",
            extension=[
                {"url": "name", "valueString": key},
                {"url": "json", "valueString": json.dumps(value, ensure_ascii=False)},
            ],
        )
        for key, value in document.items()
        if key not in native
    ]


def _fields_from(element: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for ext in _ours(element, "field"):
        parts = dict(_parts(ext))
        out[str(parts["name"])] = json.loads(str(parts["json"]))
    return out


def _root_extensions(instrument: Instrument, document: Mapping[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [_ext("instrument-id", valueString=instrument.id)]
    for key in ("timeframe", "source", "provenance"):
        value = getattr(instrument, key)
        if value:
            out.append(_ext(key, valueString=value))
    out.append(_ext("validation-status", valueCode=instrument.validation_status.value))
    if instrument.minutes is not None:
        out.append(_ext("minutes", valueDecimal=_decimal(instrument.minutes)))
    out += _field_extensions(document, ROOT_FIELDS)
    for form in instrument.short_forms:
        parts = [
            {"url": "id", "valueString": form.id},
            {"url": "label", "valueString": form.label},
            *({"url": "item", "valueString": i} for i in form.items),
        ]
        if form.description:
            parts.append({"url": "description", "valueString": form.description})
        out.append(_ext("short-form", extension=parts))
    if instrument.norms is not None:
        out.append(
            _ext(
                "norms",
                valueString=json.dumps(
                    plain(instrument.norms.model_dump(exclude_defaults=True)), ensure_ascii=False
                ),
            )
        )
    for name, expression in scoring_variables(instrument):
        out.append({"url": VARIABLE, "valueExpression": _expression(name, expression)})
    return out


def questionnaire(instrument: Instrument, *, base: str = DEFAULT_BASE) -> dict[str, Any]:
    """The instrument as a FHIR R4 Questionnaire (plain JSON data; see the module docstring)."""
    url = canonical(instrument, base)
    names = variable_names(instrument)
    items: list[dict[str, Any]] = []
    if instrument.instructions:
        items.append({"linkId": INSTRUCTIONS, "text": instrument.instructions, "type": "display"})
    if instrument.disclaimer:
        items.append({"linkId": DISCLAIMER, "text": instrument.disclaimer, "type": "display"})
    document = instrument_document(instrument)
    items += [
        _question(instrument, item, n, url, fields)
        for n, (item, fields) in enumerate(zip(instrument.items, document["items"], strict=True), 1)
    ]
    scores = [
        _scored_item(instrument, s, names, fields)
        for s, fields in zip(instrument.subscales, document["subscales"], strict=True)
    ]
    scores += [
        _scored_item(instrument, c, names, fields)
        for c, fields in zip(instrument.composites, document.get("composites", []), strict=True)
    ]
    items.append({"linkId": "scores", "text": "Scores", "type": "group", "item": scores})
    out: dict[str, Any] = {
        "resourceType": "Questionnaire",
        "id": _resource_id(instrument.id),
        "meta": {"profile": [SDC + "sdc-questionnaire-behave"]},
        "language": instrument.language,
        "contained": [
            _code_system(url, scale_id, scale)
            for scale_id, scale in instrument.response_scales.items()
        ],
        "extension": _root_extensions(instrument, document),
        "url": url,
        "version": instrument.version,
        "name": _VAR.sub("_", instrument.id),
        "title": instrument.title,
        "status": "active" if instrument.validation_status.value == "validated" else "draft",
        "subjectType": ["Patient"],
        "item": items,
    }
    if instrument.description:
        out["description"] = instrument.description
    if instrument.licence:
        out["copyright"] = instrument.licence
    return out


def questionnaire_json(instrument: Instrument, *, base: str = DEFAULT_BASE) -> str:
    """:func:`questionnaire` as JSON text, checked against the FHIR R4 (R4B) models first."""
    data = questionnaire(instrument, base=base)
    check_resource(data)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def check_resource(data: Mapping[str, Any]) -> None:
    """Validate a resource with fhir.resources' R4B models (pydantic); raises on a bad shape."""
    from fhir.resources.R4B import get_fhir_model_class

    get_fhir_model_class(str(data["resourceType"])).model_validate(dict(data))


# ---------------------------------------------------------------------------------------------
# QuestionnaireResponse
# ---------------------------------------------------------------------------------------------
def questionnaire_response(
    instrument: Instrument,
    answers: Mapping[str, int | None],
    *,
    response_id: str | None = None,
    subject: str | None = None,
    authored: dt.datetime | None = None,
    status: str = "completed",
    base: str = DEFAULT_BASE,
    form: str | None = None,
) -> dict[str, Any]:
    """One administration as a QuestionnaireResponse: each answered item a ``valueCoding``.

    Unanswered items are left out; a declared missing code is an answer (its option has no score).
    ``subject`` is a reference such as ``Patient/123``. ``form``: the short form that was asked
    (its items only), recorded in our ``form`` extension, so that items outside it read as not
    asked rather than skipped (:func:`response_rows` gives it back as the ``form`` column).
    """
    url = canonical(instrument, base)
    if form is not None and form not in instrument.short_form_by_id:
        raise SurveytoolError(f"{instrument.id} has no short form {form!r}")
    asked = set(instrument.form_items(form))
    items = []
    for item in instrument.items:
        if item.id not in asked:
            continue
        code = answers.get(item.id)
        if code is None:
            continue
        scale = instrument.response_scales[item.scale]
        coding: dict[str, Any] = {"system": scale_system(url, item.scale), "code": str(code)}
        label = scale.labels.get(code) or scale.missing_codes.get(code)
        if label:
            coding["display"] = label
        items.append({"linkId": item.id, "text": item.text, "answer": [{"valueCoding": coding}]})
    out: dict[str, Any] = {"resourceType": "QuestionnaireResponse"}
    if form is not None:
        out["extension"] = [_ext("form", valueCode=form)]
    out.update(questionnaire=f"{url}|{instrument.version}", status=status)
    if response_id:
        out["id"] = _resource_id(response_id)
    if subject:
        out["subject"] = {"reference": subject}
    if authored is not None:
        out["authored"] = authored.astimezone(dt.UTC).isoformat(timespec="seconds")
    out["item"] = items
    return out


def bundle(resources: Sequence[Mapping[str, Any]], bundle_id: str | None = None) -> dict[str, Any]:
    """A ``collection`` Bundle of resources (for example one client's responses)."""
    out: dict[str, Any] = {"resourceType": "Bundle", "type": "collection"}
    if bundle_id:
        out["id"] = _resource_id(bundle_id)
    out["timestamp"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    out["entry"] = [{"resource": dict(r)} for r in resources]
    return out


#: Columns that :func:`response_rows` adds besides the items (``form``: the short form asked,
#: from our ``form`` extension; empty for the whole questionnaire).
RESPONSE_COLUMNS = ("id", "questionnaire", "status", "subject", "authored", "form")


class ResponseFileError(ValueError):
    """A JSON file that is not a QuestionnaireResponse or a Bundle of them."""


def _answer_value(answer: Mapping[str, Any]) -> object:
    for key, value in answer.items():
        if not key.startswith("value"):
            continue
        if key == "valueCoding" and isinstance(value, Mapping):
            return value.get("code")
        if isinstance(value, Mapping):
            return value.get("value", value.get("code"))
        return value
    return None


def _answered(items: Sequence[Any]) -> Iterator[tuple[str, object]]:
    for item in items:
        if not isinstance(item, Mapping):
            continue
        link = item.get("linkId")
        answers = [a for a in item.get("answer") or () if isinstance(a, Mapping)]
        if isinstance(link, str) and answers and not link.startswith(SCORE_PREFIX):
            yield link, _answer_value(answers[0])
        yield from _answered(item.get("item") or ())
        for answer in answers:
            yield from _answered(answer.get("item") or ())


def responses_in(data: Any) -> list[Mapping[str, Any]]:
    """The QuestionnaireResponses of a parsed JSON document (one, a Bundle, or a JSON list)."""
    if isinstance(data, list):
        return [r for d in data for r in responses_in(d)]
    if not isinstance(data, Mapping):
        raise ResponseFileError("the JSON is not a FHIR resource (an object with resourceType)")
    kind = data.get("resourceType")
    if kind == "QuestionnaireResponse":
        return [data]
    if kind == "Bundle":
        out: list[Mapping[str, Any]] = []
        for entry in data.get("entry") or ():
            resource = entry.get("resource") if isinstance(entry, Mapping) else None
            if isinstance(resource, Mapping) and resource.get("resourceType") in (
                "QuestionnaireResponse",
                "Bundle",
            ):
                out.extend(responses_in(resource))
        return out
    raise ResponseFileError(
        f"the resource is a {kind or 'resource without resourceType'}, not a "
        "QuestionnaireResponse or a Bundle of them"
    )


def response_rows(data: Any) -> list[dict[str, object]]:
    """One row per QuestionnaireResponse: :data:`RESPONSE_COLUMNS`, then each answered linkId."""
    rows = []
    for n, resource in enumerate(responses_in(data), 1):
        subject = resource.get("subject")
        row: dict[str, object] = {
            "id": resource.get("id") or f"response-{n}",
            "questionnaire": resource.get("questionnaire"),
            "status": resource.get("status"),
            "subject": subject.get("reference") if isinstance(subject, Mapping) else None,
            "authored": resource.get("authored"),
            "form": _first_value(resource, "form"),
        }
        for link, value in _answered(resource.get("item") or ()):
            row.setdefault(link, value)
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------------
# import
# ---------------------------------------------------------------------------------------------
def _extensions(element: Mapping[str, Any], url: str) -> list[Mapping[str, Any]]:
    return [
        e for e in element.get("extension") or () if isinstance(e, Mapping) and e.get("url") == url
    ]


def _ours(element: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    return _extensions(element, EXT + name)


def _value(ext: Mapping[str, Any]) -> Any:
    for key, value in ext.items():
        if key.startswith("value"):
            return value
    return None


def _first_value(element: Mapping[str, Any], name: str) -> Any:
    found = _ours(element, name)
    return _value(found[0]) if found else None


def _parts(ext: Mapping[str, Any]) -> list[tuple[str, Any]]:
    return [
        (str(p.get("url")), _value(p)) for p in ext.get("extension") or () if isinstance(p, Mapping)
    ]


def _score_of(element: Mapping[str, Any] | None) -> float | None:
    if not element:
        return None
    for url in SCORE_EXTENSIONS:
        for ext in _extensions(element, url):
            value = ext.get("valueDecimal", ext.get("valueInteger"))
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
    return None


@dataclass
class _Option:
    code: str
    label: str | None
    score: float | None
    system: str | None
    missing: bool = False


def _concept_score(concept: Mapping[str, Any], property_codes: set[str]) -> float | None:
    for prop in concept.get("property") or ():
        if isinstance(prop, Mapping) and prop.get("code") in property_codes:
            value = prop.get("valueDecimal", prop.get("valueInteger"))
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
    return _score_of(concept)


class _Terminology:
    """Contained ValueSets and CodeSystems of a Questionnaire, to resolve options and scores."""

    def __init__(self, contained: Sequence[Any]) -> None:
        self.value_sets: dict[str, Mapping[str, Any]] = {}
        self.code_systems: dict[str, Mapping[str, Any]] = {}
        for resource in contained:
            if not isinstance(resource, Mapping):
                continue
            keys = [f"#{resource.get('id')}", resource.get("url")]
            target = {"ValueSet": self.value_sets, "CodeSystem": self.code_systems}.get(
                str(resource.get("resourceType"))
            )
            if target is not None:
                for key in keys:
                    if isinstance(key, str) and key not in ("#None",):
                        target[key] = resource

    def concept(self, system: str | None, code: str) -> tuple[float | None, str | None, bool]:
        cs = self.code_systems.get(system or "")
        if cs is None:
            return None, None, False
        props = {
            str(p.get("code"))
            for p in cs.get("property") or ()
            if isinstance(p, Mapping)
            and (p.get("uri") == ITEM_WEIGHT_PROPERTY or p.get("code") == "itemWeight")
        }
        for concept in _walk_concepts(cs.get("concept") or ()):
            if str(concept.get("code")) == code:
                missing = bool(_ours(concept, "missing-code"))
                return _concept_score(concept, props), concept.get("display"), missing
        return None, None, False

    def value_set_options(self, reference: str) -> list[_Option] | None:
        vs = self.value_sets.get(reference)
        if vs is None:
            cs = self.code_systems.get(reference)
            if cs is None:
                return None
            return [self._option(cs.get("url"), c) for c in _walk_concepts(cs.get("concept") or ())]
        options: list[_Option] = []
        for contains in (vs.get("expansion") or {}).get("contains") or ():
            if isinstance(contains, Mapping):
                options.append(self._option(contains.get("system"), contains))
        if options:
            return options
        for include in (vs.get("compose") or {}).get("include") or ():
            if not isinstance(include, Mapping):
                continue
            system = include.get("system")
            concepts = include.get("concept")
            if not concepts and system in self.code_systems:
                concepts = list(_walk_concepts(self.code_systems[system].get("concept") or ()))
            for concept in concepts or ():
                if isinstance(concept, Mapping):
                    options.append(self._option(system, concept))
        return options

    def _option(self, system: Any, concept: Mapping[str, Any]) -> _Option:
        code = str(concept.get("code"))
        sys = system if isinstance(system, str) else None
        score = _score_of(concept)
        cs_score, cs_label, missing = self.concept(sys, code)
        label = concept.get("display") or cs_label
        return _Option(
            code=code,
            label=label if isinstance(label, str) else None,
            score=score if score is not None else cs_score,
            system=sys,
            missing=missing or bool(_ours(concept, "missing-code")),
        )


def _walk_concepts(concepts: Sequence[Any]) -> Iterator[Mapping[str, Any]]:
    for concept in concepts:
        if isinstance(concept, Mapping):
            yield concept
            yield from _walk_concepts(concept.get("concept") or ())


def _item_options(item: Mapping[str, Any], terms: _Terminology) -> list[_Option] | None:
    reference = item.get("answerValueSet")
    if isinstance(reference, str):
        return terms.value_set_options(reference)
    options = []
    for option in item.get("answerOption") or ():
        if not isinstance(option, Mapping):
            continue
        score = _score_of(option)
        if "valueCoding" in option and isinstance(option["valueCoding"], Mapping):
            coding = option["valueCoding"]
            code = str(coding.get("code"))
            system = coding.get("system") if isinstance(coding.get("system"), str) else None
            cs_score, cs_label, missing = terms.concept(system, code)
            label = coding.get("display") or cs_label
            options.append(
                _Option(
                    code=code,
                    label=label if isinstance(label, str) else None,
                    score=score if score is not None else _score_of(coding) or cs_score,
                    system=system,
                    missing=missing,
                )
            )
        elif "valueInteger" in option:
            value = option["valueInteger"]
            options.append(
                _Option(str(value), None, float(value) if score is None else score, None)
            )
        elif "valueString" in option:
            text = str(option["valueString"])
            options.append(_Option(text, text, score, None))
    return options


def _walk_items(
    items: Sequence[Any], loc: tuple[str | int, ...], section: str | None
) -> Iterator[tuple[Mapping[str, Any], tuple[str | int, ...], str | None]]:
    for n, item in enumerate(items):
        if not isinstance(item, Mapping):
            continue
        here = (*loc, n)
        yield item, here, section
        if item.get("type") == "group":
            title = item.get("text") if isinstance(item.get("text"), str) else section
            yield from _walk_items(item.get("item") or (), (*here, "item"), title)
        else:
            yield from _walk_items(item.get("item") or (), (*here, "item"), section)


_SUM_TERM = re.compile(
    r"^\s*%?(?:resource\.)?(?:repeat\(item\)|item(?:\.item)*)\.where\(\s*linkId\s*=\s*'(?P<link>[^']+)'\s*\)"
    r"\.answer(?:\.value(?:Coding)?)?\.(?:weight|ordinal)\(\)\s*$"
)
_WEIGHT_SUM = re.compile(
    r"^\s*%?(?:resource\.)?(?:repeat\(item\)|item(?:\.item)*)\.answer(?:\.value(?:Coding)?)?"
    r"\.(?:weight|ordinal)\(\)\.sum\(\)\s*$"
)


def _sum_members(expression: str, variables: Mapping[str, str]) -> list[str] | None:
    """The linkIds of a calculatedExpression that is a plain sum of weights, else None.

    Accepts ``a.weight() + b.weight() + ...`` (also through ``%variables`` that are such terms),
    ``%resource.item.answer.value.weight().sum()`` and ``(... | ...).sum()``-free variants; an
    empty list means "every scored item".
    """
    text = expression.strip()
    while text.startswith("%") and text[1:] in variables:
        text = variables[text[1:]].strip()
    if _WEIGHT_SUM.match(text):
        return []
    members = []
    for term in _split_plus(text):
        term = term.strip()
        while term.startswith("(") and term.endswith(")"):
            term = term[1:-1].strip()
        while term.startswith("%") and term[1:] in variables:
            term = variables[term[1:]].strip()
        found = _SUM_TERM.match(term)
        if not found:
            return None
        members.append(found["link"])
    return members


def _split_plus(text: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        if char == "+" and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _scale_key(options: Sequence[_Option]) -> tuple[Any, ...]:
    return tuple((o.code, o.label, o.score, o.missing) for o in options)


def _scale_from_options(
    options: Sequence[_Option], loc: tuple[str | int, ...], problems: list[Problem]
) -> tuple[dict[str, Any], bool] | None:
    """A response scale from scored options: integer scores min..max (codes must equal scores)."""
    scored = [o for o in options if o.score is not None and not o.missing]
    if not scored:
        return None
    scores = [o.score for o in scored if o.score is not None]
    if any(not float(s).is_integer() for s in scores):
        problems.append(
            not_mapped(loc, "option scores that are not whole numbers cannot be a response scale")
        )
        return None
    ints = sorted(int(s) for s in scores)
    low, high = ints[0], ints[-1]
    if ints != list(range(low, high + 1)):
        problems.append(
            not_mapped(
                loc,
                f"option scores {ints} are not consecutive whole numbers; only such scales import",
            )
        )
        return None
    recoded = any(o.code != str(int(o.score or 0)) for o in scored)
    labels = {int(o.score or 0): o.label for o in scored if o.label}
    missing: dict[int, str] = {}
    for option in options:
        if option.score is not None and not option.missing:
            continue
        if re.fullmatch(r"-?\d+", option.code) and not low <= int(option.code) <= high:
            missing[int(option.code)] = option.label or option.code
        else:
            problems.append(
                not_mapped(
                    loc,
                    f"option {option.code!r} has no score and its code is no whole number outside "
                    f"{low}..{high}, so it cannot be a missing code",
                )
            )
    scale: dict[str, Any] = {"min": low, "max": high, "labels": labels}
    if missing:
        scale["missing_codes"] = missing
    return scale, recoded


def import_questionnaire(data: Any, source: str = "questionnaire") -> ImportResult:
    """A Questionnaire (R4/R4B, R5 or STU3 shapes, as JSON data) as an instrument document."""
    problems: list[Problem] = []
    if not isinstance(data, Mapping) or data.get("resourceType") != "Questionnaire":
        kind = data.get("resourceType") if isinstance(data, Mapping) else type(data).__name__
        return refusal(
            source,
            "not_an_instrument",
            f"the JSON is a {kind or 'document'}, not a FHIR Questionnaire",
        )
    terms = _Terminology(data.get("contained") or ())
    ours = bool(_ours(data, "instrument-id"))
    raw_id = _first_value(data, "instrument-id") or data.get("name") or data.get("id") or "imported"
    document: dict[str, Any] = {
        "id": identifier(str(raw_id), "imported"),
        "version": semver(data.get("version")) or "1.0.0",
        "title": data.get("title") or data.get("name") or str(raw_id),
    }
    if data.get("version") and semver(data.get("version")) != data.get("version"):
        problems.append(
            not_mapped(
                ("version",),
                f"version {data.get('version')!r} is not a semantic version; "
                f"written as {document['version']}",
            )
        )
    if isinstance(data.get("description"), str):
        document["description"] = data["description"]
    if isinstance(data.get("language"), str):
        document["language"] = data["language"]
    for key in ("timeframe", "source", "provenance"):
        value = _first_value(data, key)
        if value:
            document[key] = value
    if not ours and isinstance(data.get("url"), str):
        document["provenance"] = f"Imported from the FHIR Questionnaire {data['url']}" + (
            f"|{data['version']}" if data.get("version") else ""
        )
    if isinstance(data.get("copyright"), str):
        document["licence"] = data["copyright"]
    status = _first_value(data, "validation-status")
    if status:
        document["validation_status"] = status
    minutes = _first_value(data, "minutes")
    if minutes is not None:
        document["minutes"] = number(float(minutes))
    scales: dict[str, dict[str, Any]] = {}
    scale_keys: dict[tuple[Any, ...], str] = {}
    items: list[dict[str, Any]] = []
    scored_items: list[Mapping[str, Any]] = []
    item_systems: dict[str, str | None] = {}
    instructions: list[str] = []
    for item, loc, section in _walk_items(data.get("item") or (), ("item",), None):
        kind = item.get("type")
        link = str(item.get("linkId") or "")
        if kind == "group":
            continue
        if kind == "display":
            text = item.get("text")
            if isinstance(text, str) and text.strip():
                if link == DISCLAIMER and ours:
                    document["disclaimer"] = text
                else:
                    instructions.append(text)
            continue
        if item.get("readOnly") or _extensions(item, CALCULATED) or link.startswith(SCORE_PREFIX):
            scored_items.append(item)
            continue
        if kind not in ("choice", "coding", "open-choice"):
            problems.append(
                not_mapped(loc, f"question {link!r} of type {kind!r} is no single-choice item")
            )
            continue
        if item.get("repeats"):
            problems.append(
                not_mapped(loc, f"question {link!r} allows several answers; not a Likert item")
            )
            continue
        options = _item_options(item, terms)
        if options is None:
            problems.append(
                not_mapped(
                    loc,
                    f"question {link!r} takes its options from {item.get('answerValueSet')!r}, "
                    "which the file does not contain",
                    "Expand the value set into the Questionnaire (contained) and import again.",
                )
            )
            continue
        built = _scale_from_options(options, loc, problems)
        if built is None:
            problems.append(not_mapped(loc, f"question {link!r} has no scored options"))
            continue
        scale, recoded = built
        if recoded:
            problems.append(
                not_mapped(
                    loc,
                    f"the codes of {link!r} differ from their scores; answers are read by score "
                    "(labels), so recode coded answers before scoring them",
                )
            )
        options_key = _scale_key(options)
        scale_id = _first_value(item, "response-scale") if ours else None
        if scale_id is None:
            scale_id = scale_keys.get(options_key)
        if scale_id is None:
            scale_id = f"scale{len(scales) + 1}"
        scale_keys.setdefault(options_key, scale_id)
        scales.setdefault(scale_id, scale)
        item_id = identifier(link, f"item{len(items) + 1}")
        text = item.get("text") if isinstance(item.get("text"), str) else link
        entry: dict[str, Any] = {"id": item_id, "text": text, "scale": scale_id}
        translations = _item_translations(item)
        if translations:
            entry["translations"] = translations
        if _first_value(item, "reverse"):
            entry["reverse"] = True
        weight = _first_value(item, "weight")
        if weight is not None:
            entry["weight"] = number(float(weight))
        source_parts = _ours(item, "source")
        if source_parts:
            entry["source"] = dict(_parts(source_parts[0]))
        else:
            note = _codes_note(item)
            if section or note:
                entry["source"] = {k: v for k, v in (("section", section), ("note", note)) if v}
        entry.update(_fields_from(item))
        item_systems[link] = next((o.system for o in options if o.system), None)
        items.append(entry)
    if instructions:
        document["instructions"] = "\n\n".join(instructions)
    document["response_scales"] = scales
    document["items"] = items
    link_to_id = {str(i["id"]): str(i["id"]) for i in items}
    subscales, composites = _import_scores(scored_items, data, items, link_to_id, ours, problems)
    add_scores(
        document,
        items,
        subscales,
        composites,
        problems,
        "the Questionnaire has no score",
        loc=("item",),
    )
    _import_root(data, document, problems)
    return finish_import(document, source, problems)


def _item_translations(item: Mapping[str, Any]) -> dict[str, str]:
    out = {}
    for ext in _extensions(item.get("_text") or {}, TRANSLATION):
        parts = dict(_parts(ext))
        if isinstance(parts.get("lang"), str) and isinstance(parts.get("content"), str):
            out[parts["lang"]] = parts["content"]
    return out


def _codes_note(item: Mapping[str, Any]) -> str | None:
    codes = [
        f"{'LOINC' if c.get('system') == LOINC else c.get('system')} {c.get('code')}"
        + (f" ({c['display']})" if c.get("display") else "")
        for c in item.get("code") or ()
        if isinstance(c, Mapping) and c.get("code")
    ]
    return "Code: " + "; ".join(codes) if codes else None


def _bands_from(item: Mapping[str, Any]) -> list[dict[str, Any]]:
    bands = []
    for ext in _ours(item, "band"):
        parts = dict(_parts(ext))
        band = {
            "lower": number(float(parts["lower"])),
            "upper": number(float(parts["upper"])),
            "label": parts["label"],
        }
        if parts.get("text"):
            band["text"] = parts["text"]
        bands.append(band)
    return bands


def _import_scores(
    scored_items: Sequence[Mapping[str, Any]],
    data: Mapping[str, Any],
    items: Sequence[Mapping[str, Any]],
    link_to_id: Mapping[str, str],
    ours: bool,
    problems: list[Problem],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    subscales: list[dict[str, Any]] = []
    composites: list[dict[str, Any]] = []
    variables = {
        str(v.get("name")): str(v.get("expression"))
        for ext in _extensions(data, VARIABLE)
        if isinstance(v := ext.get("valueExpression"), Mapping)
    }
    for item in scored_items:
        link = str(item.get("linkId"))
        definition = _ours(item, "scale") if ours else []
        label = item.get("text") if isinstance(item.get("text"), str) else link
        if definition:
            parts = _parts(definition[0])
            single = dict(parts)
            entry: dict[str, Any] = {
                "id": link.removeprefix(SCORE_PREFIX),
                "label": label,
            }
            for key in ("description", "guidance"):
                if single.get(key):
                    entry[key] = single[key]
            bands = _bands_from(item)
            if bands:
                entry["bands"] = bands
            entry["better"] = single.get("better", "lower")
            entry["method"] = single["method"]
            entry["min_answered"] = single["min-answered"]
            entry.update(_fields_from(item))
            if single.get("kind") == "composite":
                entry["components"] = [v for k, v in parts if k == "component"]
                composites.append(entry)
            else:
                entry["items"] = [v for k, v in parts if k == "item"]
                subscales.append(entry)
            continue
        expressions = [
            e.get("valueExpression", {}).get("expression") for e in _extensions(item, CALCULATED)
        ]
        local = {
            str(v.get("name")): str(v.get("expression"))
            for ext in _extensions(item, VARIABLE)
            if isinstance(v := ext.get("valueExpression"), Mapping)
        }
        expression = next((e for e in expressions if isinstance(e, str)), None)
        members = (
            _sum_members(expression, {**variables, **local}) if expression is not None else None
        )
        if members is None:
            problems.append(
                not_mapped(
                    ("item", link),
                    f"the score {link!r} is calculated by an expression this import cannot read "
                    f"({(expression or 'none')[:80]!r}); only a plain sum of weight()s is read",
                    "Add the subscale to the instrument file by hand.",
                )
            )
            continue
        ids = [link_to_id.get(m, m) for m in members] or [str(i["id"]) for i in items]
        unknown = [m for m in ids if m not in link_to_id]
        if unknown:
            problems.append(
                not_mapped(
                    ("item", link),
                    f"the score {link!r} sums items that were not imported: {', '.join(unknown)}",
                )
            )
            continue
        subscales.append(
            {
                "id": identifier(link, f"score{len(subscales) + 1}"),
                "label": label,
                "items": ids,
                "method": "sum",
                "min_answered": len(ids),
            }
        )
    return subscales, composites


def _import_root(
    data: Mapping[str, Any], document: dict[str, Any], problems: list[Problem]
) -> None:
    document.update(_fields_from(data))
    forms = []
    for ext in _ours(data, "short-form"):
        pairs = _parts(ext)
        form_parts = dict(pairs)
        form: dict[str, Any] = {
            "id": form_parts["id"],
            "label": form_parts["label"],
            "items": [v for k, v in pairs if k == "item"],
        }
        if form_parts.get("description"):
            form["description"] = form_parts["description"]
        forms.append(form)
    if forms:
        document["short_forms"] = forms
    norms = _first_value(data, "norms")
    if isinstance(norms, str):
        try:
            document["norms"] = json.loads(norms)
        except json.JSONDecodeError:
            problems.append(not_mapped(("extension", "norms"), "the norms extension is not JSON"))
    known = {
        EXT + n
        for n in (
            "instrument-id",
            "timeframe",
            "source",
            "provenance",
            "validation-status",
            "minutes",
            "field",
            "short-form",
            "norms",
        )
    } | {VARIABLE}
    for n, ext in enumerate(data.get("extension") or ()):
        if isinstance(ext, Mapping) and ext.get("url") not in known:
            problems.append(
                not_mapped(("extension", n), f"the extension {ext.get('url')!r} was not read")
            )
