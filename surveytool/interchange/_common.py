"""What the exporters and importers share: the instrument as a plain document, YAML out, and the
result of an import (the document, what could not be mapped, the validation report).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

import yaml

from surveytool.instrument.checks import validate_document
from surveytool.instrument.model import Instrument
from surveytool.problems import Problem, Report, problem

_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")


def plain(value: Any) -> Any:
    """Model dumps as YAML-friendly data: tuples as lists, enums as their values."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def instrument_document(instrument: Instrument) -> dict[str, Any]:
    """The instrument as the data of its YAML file: every field that differs from its default."""
    dumped = instrument.model_dump(exclude_defaults=True)
    out: dict[str, Any] = plain(dumped)
    return out


class _Dumper(yaml.SafeDumper):
    """Block style, long texts folded at a readable width, no aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _text)


def dump_yaml(document: Mapping[str, Any], header: str = "") -> str:
    """An instrument document as YAML text (keys in the model's order), with a comment header."""
    body = yaml.dump(
        dict(document),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=96,
        default_flow_style=False,
    )
    lines = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    return lines + body


def identifier(text: str, fallback: str) -> str:
    """An id our format accepts, made from ``text``: other characters become ``_``."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", text.strip()).strip("_.-")
    if cleaned and not cleaned[0].isalpha():
        cleaned = f"{fallback[0]}{cleaned}"
    cleaned = cleaned[:64]
    return cleaned if cleaned and _ID.match(cleaned) else fallback


def semver(text: str | None) -> str | None:
    """``2`` -> ``2.0.0``, ``2.1`` -> ``2.1.0``, a semantic version as is; None if not a version."""
    if not text:
        return None
    raw = text.strip().lstrip("vV")
    if re.fullmatch(r"(0|[1-9]\d*)(\.(0|[1-9]\d*)){0,2}", raw):
        parts = raw.split(".")
        return ".".join([*parts, "0", "0"][:3])
    if re.fullmatch(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?", raw):
        return raw
    return None


def number(value: float) -> int | float:
    """A whole float as an int (2.0 -> 2), else the float."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


def not_mapped(loc: Sequence[str | int], message: str, hint: str | None = None) -> Problem:
    """Something of the source that the instrument format cannot hold: reported, not dropped."""
    return problem("not_mapped", tuple(loc), message, hint)


@dataclass
class ImportResult:
    """An imported instrument: its document, what was not mapped, and the validation report.

    ``instrument`` is None when the document does not validate; ``report`` then says why, with
    the same codes as ``surveytool instruments validate``.
    """

    document: dict[str, Any]
    source: str
    not_mapped: list[Problem] = field(default_factory=list)
    report: Report = field(default_factory=Report)
    instrument: Instrument | None = None

    @property
    def ok(self) -> bool:
        return self.instrument is not None

    def yaml_text(self) -> str:
        header = f"Imported by surveytool from {self.source}."
        if self.not_mapped:
            header += "\nNot imported (see the import report):\n" + "\n".join(
                f"- {p.path or 'file'}: {p.message}" for p in self.not_mapped
            )
        document = instrument_document(self.instrument) if self.instrument else self.document
        return dump_yaml(document, header)


def finish_import(document: dict[str, Any], source: str, unmapped: list[Problem]) -> ImportResult:
    """Validate an imported document as an instrument file would be validated (keys in the
    model's order, so every import writes its YAML the same way)."""
    order = list(Instrument.model_fields)
    document = {
        **{k: document[k] for k in order if k in document},
        **{k: v for k, v in document.items() if k not in order},
    }
    instrument, problems = validate_document(document)
    report = Report(file=source, problems=[replace(p, file=source) for p in problems])
    return ImportResult(
        document=document,
        source=source,
        not_mapped=[replace(p, file=source) for p in unmapped],
        report=report,
        instrument=instrument,
    )


def refusal(source: str, code: str, message: str) -> ImportResult:
    """The result of a file that gives no instrument at all (``not_an_instrument``, ...)."""
    return ImportResult(
        document={},
        source=source,
        report=Report(file=source, problems=[replace(problem(code, (), message), file=source)]),
    )


def total_subscale(
    items: Sequence[Mapping[str, Any]],
    loc: Sequence[str | int],
    what: str,
    problems: list[Problem],
) -> dict[str, Any]:
    """A ``total`` (sum of every item) for a form without a score the import can read: an
    instrument needs one subscale; the addition is reported, so that someone checks it."""
    problems.append(
        not_mapped(
            loc,
            f"{what} this import can read; a 'total' subscale (the sum of every item) was "
            "added: check it",
        )
    )
    return {
        "id": "total",
        "label": "Total",
        "items": [i["id"] for i in items],
        "method": "sum",
        "min_answered": len(items),
    }


def add_texts(
    document: dict[str, Any],
    texts: Mapping[str, str],
    note_prefix: str,
    clean: Callable[[str], str] | None = None,
) -> None:
    """The instructions and disclaimer of an imported form, from its notes by name (``instructions``,
    ``disclaimer``, or the importer's ``note_prefix`` and a number): the ``disclaimer`` note is the
    disclaimer; every other note, in order, joins the instructions (through ``clean``, if given)."""
    if "instructions" in texts or any(k.startswith(note_prefix) for k in texts):
        joined = "\n\n".join(v for k, v in texts.items() if k != "disclaimer")
        if joined:
            document["instructions"] = clean(joined) if clean else joined
    if "disclaimer" in texts:
        document["disclaimer"] = texts["disclaimer"]


def add_scores(
    document: dict[str, Any],
    items: Sequence[Mapping[str, Any]],
    subscales: list[dict[str, Any]],
    composites: list[dict[str, Any]],
    problems: list[Problem],
    no_score: str,
    loc: Sequence[str | int] = (),
) -> None:
    """The subscales and composites of an imported document; a form with items and no score the
    import can read gets a reported ``total`` (:func:`total_subscale`: ``no_score`` says what the
    form lacks, ``loc`` where)."""
    if not subscales and items:
        subscales.append(total_subscale(items, loc, no_score, problems))
    document["subscales"] = subscales
    if composites:
        document["composites"] = composites
