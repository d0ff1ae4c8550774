"""The instrument model: what a questionnaire is, as frozen pydantic v2 models.

An instrument file (YAML) is loaded into :class:`Instrument` by :mod:`surveytool.instrument.load`,
which also runs the semantic checks of :mod:`surveytool.instrument.checks` and reports every problem
with its line. The models here only describe shapes and types; cross-references (an item's scale
exists, bands cover the score range...) are checked in one place, :mod:`surveytool.instrument.checks`.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StringConstraints,
    model_validator,
)

from surveytool.errors import ScoringError

Identifier = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$", min_length=1, max_length=64)
]
"""Ids of items, scales, subscales, composites and forms: a letter, then letters, digits, _ . -"""

SemVer = Annotated[
    str,
    StringConstraints(
        pattern=r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$"
    ),
]
NonEmptyText = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]


class _Model(BaseModel):
    """Frozen, strict about unknown keys (a typo in a key is an error, not silently ignored)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ValidationStatus(StrEnum):
    """Whether the instrument has been psychometrically validated in a published study."""

    validated = "validated"
    unvalidated = "unvalidated"


class Method(StrEnum):
    """How a subscale combines its items (see FORMULAS.md, "Scoring one respondent")."""

    mean = "mean"
    sum = "sum"
    prorated_sum = "prorated_sum"


class Better(StrEnum):
    """Which direction of a score counts as better: ``lower``, ``higher``, or ``neutral`` (neither:
    e.g. how much closeness someone wants; a change is then reported without calling it better or
    worse, and a high or low score is never shown as a concern)."""

    LOWER = "lower"
    HIGHER = "higher"
    NEUTRAL = "neutral"


def fold_label(text: str) -> str:
    """Labels compare without case and with runs of white space as one space."""
    return " ".join(text.split()).casefold()


class ResponseScale(_Model):
    """An integer Likert scale: ``min``..``max``, labels for some or all points, missing codes.

    Missing codes ("prefer not to say") lie outside ``min``..``max`` and count as not answered.
    """

    min: StrictInt
    max: StrictInt
    labels: dict[int, NonEmptyText] = Field(default_factory=dict)
    missing_codes: dict[int, NonEmptyText] = Field(
        default_factory=dict, description="Codes outside min..max that mean 'not answered'."
    )

    @property
    def points(self) -> list[int]:
        return list(range(self.min, self.max + 1))

    def accepts(self, code: int) -> bool:
        """A point of the scale or one of its missing codes."""
        return self.min <= code <= self.max or code in self.missing_codes

    def code_for(self, text: str) -> int:
        """The code of a typed or posted answer: a number on the scale, a missing code, or a
        label (any case, runs of white space as one); ValueError for anything else."""
        raw = text.strip()
        if re.fullmatch(r"-?[0-9]+", raw) and self.accepts(int(raw)):
            return int(raw)
        folded = fold_label(raw)
        for code, label in (*self.labels.items(), *self.missing_codes.items()):
            if fold_label(label) == folded:
                return code
        extra = "".join(f", {c}" for c in self.missing_codes)
        raise ValueError(f"not an answer: give a number from {self.min} to {self.max}{extra}")


class ItemSource(_Model):
    """Where an item comes from in the instrument's source (for the inventory, the article)."""

    section: str | None = None
    sign: str | None = None
    cause: str | None = None
    practice: str | None = None
    note: str | None = None


class Item(_Model):
    """One statement answered on a response scale."""

    id: Identifier
    text: NonEmptyText
    translations: dict[str, NonEmptyText] = Field(
        default_factory=dict, description="Language code to text, e.g. {fr: '...'}."
    )
    scale: Identifier
    reverse: StrictBool = False
    weight: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    scored: StrictBool = Field(
        default=True,
        description="False: a check item (see checks), never part of a subscale or composite.",
    )
    timeframe: str = Field(
        default="", description="The item's own timeframe, shown with it instead of the form's."
    )
    source: ItemSource | None = None


class Band(_Model):
    """An interpretation band, half-open ``[lower, upper)``; the top band is closed."""

    lower: float = Field(allow_inf_nan=False)
    upper: float = Field(allow_inf_nan=False)
    label: NonEmptyText
    text: str = ""


MinAnswered = Annotated[StrictInt, Field(ge=0)] | Annotated[StrictFloat, Field(gt=0, le=1)]


class _Scored(_Model):
    """What subscales and composites share: a label, bands, guidance and direction of better."""

    id: Identifier
    label: NonEmptyText
    description: str = ""
    bands: tuple[Band, ...] = ()
    guidance: str = ""
    better: Better = Better.LOWER
    section: str = Field(
        default="",
        description="The instrument's section the scale belongs to (reports group by it).",
    )
    track_change: StrictBool = Field(
        default=True,
        description=(
            "False when the scale's timeframe ('in general', a history) does not allow reading "
            "a difference between two attempts as change; reports then show no change for it."
        ),
    )


class Subscale(_Scored):
    """A score computed from items."""

    items: tuple[Identifier, ...] = Field(min_length=1)
    method: Method = Method.mean
    min_answered: MinAnswered = Field(
        default=1,
        description="Items that must be answered: a count (int) or a fraction of the items (0-1].",
    )


class Composite(_Scored):
    """A score computed from subscale (or other composite) scores."""

    components: tuple[Identifier, ...] = Field(min_length=1)
    method: Literal["mean", "sum"] = "mean"
    min_answered: MinAnswered = Field(default=1.0)


class Level(StrEnum):
    """What an outcome of a check means for the person (and, on a clinician's link, the clinic).

    ``none``: nothing; ``support``: a gentle pointer to the support page, no alarm, no clinic
    alert; ``alert``: the support page with the check's message first, and a clinic alert.
    """

    none = "none"
    support = "support"
    alert = "alert"


class Rule(_Model):
    """When a check is met, on the raw answer (before reverse keying): exactly one of a threshold
    at or above, a threshold at or below, or a set of answers (points of the item's scale)."""

    at_or_above: StrictInt | None = None
    at_or_below: StrictInt | None = None
    answers: tuple[StrictInt, ...] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _exactly_one(self) -> Rule:
        given = [
            k for k in ("at_or_above", "at_or_below", "answers") if getattr(self, k) is not None
        ]
        if len(given) != 1:
            raise ValueError(
                "a rule has exactly one of at_or_above, at_or_below or answers"
                + (f" (it has {', '.join(given)})" if given else "")
            )
        return self

    def points(self, scale: ResponseScale) -> list[int]:
        """The points of ``scale`` that meet the rule."""
        return [p for p in scale.points if self.met(p)]

    def met(self, answer: int) -> bool:
        """Whether a scale point meets the rule."""
        if self.at_or_above is not None:
            return answer >= self.at_or_above
        if self.at_or_below is not None:
            return answer <= self.at_or_below
        return answer in (self.answers or ())

    def describe(self, scale: ResponseScale) -> str:
        """The rule in words, with the labels of its points: 'answer at or above 4 (Mostly like
        me)'."""

        def named(point: int) -> str:
            label = scale.labels.get(point)
            return f"{point} ({label})" if label else str(point)

        if self.at_or_above is not None:
            return f"answer at or above {named(self.at_or_above)}"
        if self.at_or_below is not None:
            return f"answer at or below {named(self.at_or_below)}"
        return "answer " + " or ".join(named(p) for p in self.answers or ())


class Check(_Model):
    """A critical check on one item's answer: a rule, and what a skip and a declared missing code
    ("prefer not to say") mean. See the README's section "Critical checks"."""

    id: Identifier
    item: Identifier
    rule: Rule
    level: Literal[Level.support, Level.alert] = Level.alert
    on_skip: Level = Level.support
    on_missing_code: Level = Level.support
    message: str = ""


class ShortForm(_Model):
    """A named subset of items, e.g. a screening form."""

    id: Identifier
    label: NonEmptyText
    items: tuple[Identifier, ...] = Field(min_length=1)
    description: str = ""


class PercentilePoint(_Model):
    score: float = Field(allow_inf_nan=False)
    percentile: float = Field(ge=0, le=100)


class NormEntry(_Model):
    """Norm for one scale, for one group (``group`` empty: the fallback for everyone)."""

    scale: Identifier
    group: dict[str, str] = Field(default_factory=dict)
    mean: float = Field(allow_inf_nan=False)
    sd: float = Field(allow_inf_nan=False)
    n: int = Field(ge=1)
    reliability: float | None = Field(default=None, gt=0, lt=1)
    percentiles: tuple[PercentilePoint, ...] = ()


class Norms(_Model):
    """A normative sample: who it is, which group columns stratify it, and entries per scale."""

    sample: NonEmptyText
    group_columns: tuple[str, ...] = ()
    entries: tuple[NormEntry, ...] = Field(min_length=1)


class Instrument(_Model):
    """A questionnaire: items on response scales, scored into subscales and composites."""

    id: Identifier
    version: SemVer
    title: NonEmptyText
    description: str = ""
    language: str = "en"
    instructions: str = ""
    timeframe: str = ""
    source: str = ""
    provenance: str = ""
    licence: str = ""
    validation_status: ValidationStatus = ValidationStatus.unvalidated
    disclaimer: str = ""
    minutes: float | None = Field(default=None, gt=0, description="Typical time to complete.")
    response_scales: dict[Identifier, ResponseScale] = Field(min_length=1)
    items: tuple[Item, ...] = Field(min_length=1)
    subscales: tuple[Subscale, ...] = Field(min_length=1)
    composites: tuple[Composite, ...] = ()
    checks: tuple[Check, ...] = ()
    support_text: str = Field(
        default="", description="The instrument's own words on the support page, above the rest."
    )
    short_forms: tuple[ShortForm, ...] = ()
    norms: Norms | None = None

    def model_copy(
        self, *, update: Mapping[str, Any] | None = None, deep: bool = False
    ) -> Instrument:
        """A validated copy: the cached look-ups and content hash are rebuilt, never carried over."""
        data = {name: getattr(self, name) for name in type(self).model_fields}
        data.update(update or {})
        return type(self).model_validate(data)

    # ---- look-ups -------------------------------------------------------------------------
    @cached_property
    def item_by_id(self) -> dict[str, Item]:
        return {item.id: item for item in self.items}

    @cached_property
    def subscale_by_id(self) -> dict[str, Subscale]:
        return {s.id: s for s in self.subscales}

    @cached_property
    def composite_by_id(self) -> dict[str, Composite]:
        return {c.id: c for c in self.composites}

    @cached_property
    def check_by_id(self) -> dict[str, Check]:
        return {c.id: c for c in self.checks}

    def checks_of(self, item_id: str) -> list[Check]:
        """The checks on one item, in file order."""
        return [c for c in self.checks if c.item == item_id]

    @cached_property
    def short_form_by_id(self) -> dict[str, ShortForm]:
        return {f.id: f for f in self.short_forms}

    def form_items(self, form: str | None = None) -> list[str]:
        """Item ids of the whole instrument (``form`` None) or of one short form, in order."""
        if form is None:
            return [i.id for i in self.items]
        found = self.short_form_by_id.get(form)
        if found is None:
            known = ", ".join(self.short_form_by_id) or "none"
            raise ScoringError(f"{self.id} has no short form {form!r}; its forms: {known}")
        return list(found.items)

    def scale_of(self, item_id: str) -> ResponseScale:
        """The response scale of an item."""
        return self.response_scales[self.item_by_id[item_id].scale]

    @cached_property
    def content_hash(self) -> str:
        """SHA-256 of the instrument's canonical JSON (sorted keys, no whitespace).

        Canonical content rather than file bytes: re-indenting or re-commenting a file does not
        change what it scores, so it does not change the hash; any change of content does.
        """
        payload = json.dumps(
            self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def scored_ids(self) -> list[str]:
        """Subscale ids, then composite ids, in file order."""
        return [s.id for s in self.subscales] + [c.id for c in self.composites]


def required_count(min_answered: int | float, k: int) -> int:
    """Items (or components) needed for a score: an int as is, a fraction f as ceil(f * k).

    >>> required_count(0.5, 5)
    3
    """
    if isinstance(min_answered, bool):  # pragma: no cover - pydantic rejects bools already
        raise TypeError("min_answered must be a number")
    if isinstance(min_answered, int):
        return min_answered
    # guard against 0.1 * 30 = 3.0000000000000004 -> 4
    return math.ceil(round(min_answered * k, 9))


def subscale_range(
    subscale: Subscale,
    items: dict[str, Item],
    scales: dict[str, ResponseScale],
    k_full: int | None = None,
) -> tuple[float, float]:
    """The lowest and highest score a subscale can take.

    ``mean``: [min of item minima, max of item maxima] (reverse keying maps a scale onto itself);
    ``sum``: [Σ w·min, Σ w·max]; ``prorated_sum``: the mean's range × k, where k is ``k_full``
    (the full form's item count; a short form prorates to the full form).
    """
    members = [items[i] for i in subscale.items if i in items and items[i].scale in scales]
    if not members:
        return (math.nan, math.nan)
    lows = [scales[m.scale].min for m in members]
    highs = [scales[m.scale].max for m in members]
    if subscale.method is Method.sum:
        weights = [m.weight for m in members]
        return (
            math.fsum(w * lo for w, lo in zip(weights, lows, strict=True)),
            math.fsum(w * hi for w, hi in zip(weights, highs, strict=True)),
        )
    lo, hi = float(min(lows)), float(max(highs))
    if subscale.method is Method.prorated_sum:
        k = k_full if k_full is not None else len(subscale.items)
        return (lo * k, hi * k)
    return (lo, hi)


def composite_range(
    composite: Composite, component_ranges: dict[str, tuple[float, float]]
) -> tuple[float, float]:
    """The lowest and highest score of a composite, from its components' ranges."""
    ranges = [component_ranges[c] for c in composite.components if c in component_ranges]
    if not ranges:
        return (math.nan, math.nan)
    if composite.method == "sum":
        return (math.fsum(r[0] for r in ranges), math.fsum(r[1] for r in ranges))
    return (min(r[0] for r in ranges), max(r[1] for r in ranges))


def score_ranges(instrument: Instrument) -> dict[str, tuple[float, float]]:
    """Score range of every subscale and composite (composites in dependency order)."""
    ranges = {
        s.id: subscale_range(s, instrument.item_by_id, dict(instrument.response_scales))
        for s in instrument.subscales
    }
    pending = list(instrument.composites)
    while pending:
        ready = [c for c in pending if all(x in ranges for x in c.components)]
        if not ready:  # a cycle; validation rejects it, so this only guards direct callers
            break
        for c in ready:
            ranges[c.id] = composite_range(c, ranges)
            pending.remove(c)
    return ranges


def instrument_json_schema() -> dict[str, object]:
    """JSON Schema (draft 2020-12) of the instrument file format."""
    schema = Instrument.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "surveytool:instrument"
    return schema
