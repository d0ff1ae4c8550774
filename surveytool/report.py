"""The personal report: one person's scores turned into plain words, a profile and ideas.

Used by the web pages, the terminal (``surveytool take``) and the downloadable HTML file, so the
numbers are always those of :func:`surveytool.scoring.engine.score_responses` on the same
answers, read from its typed records (:class:`~surveytool.scoring.result.PersonScores`).

What the report may say, and no more:

- Areas in the instrument's order, grouped by its sections; no area is ranked above another
  (raw means of different scales are not comparable without norms).
- Bands with their labels, and a sentence on what the cuts are (:func:`band_note`): for the
  bundled inventory, the answer scale's midpoints, not norms.
- A paradox summary (:func:`paradox`) when the wish for closeness and keeping distance are both
  in their top band: a description of the two answers together, no cause and no prediction.
- A response-style note (:func:`response_style`) when the answers agree (or disagree) with
  statements worded in opposite directions alike, or are one answer throughout.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from surveytool import charts
from surveytool.instrument.model import Better, Instrument, score_ranges
from surveytool.safety.checks import CriticalHit
from surveytool.safety.support import support_view
from surveytool.scoring.change import ReliableChange
from surveytool.scoring.engine import score_responses
from surveytool.scoring.result import Provenance, ScaleScore


@dataclass(frozen=True)
class BandView:
    lower: float
    upper: float
    label: str


@dataclass(frozen=True)
class Statement:
    """One statement of an area as the person answered it (shown, not scored, per facet)."""

    item_id: str
    text: str
    answer: str  # the answer's label, "Prefer not to say", or "no answer"
    facet: str  # the element of the instrument's source the statement belongs to ("" if none)
    reverse: bool


@dataclass(frozen=True)
class ScaleResult:
    """One subscale or composite, ready to show (``better``: lower, higher or neutral)."""

    id: str
    label: str
    description: str
    kind: str  # "subscale" or "composite"
    score: float | None
    answered: int
    total: int
    band: str | None
    band_text: str
    guidance: str
    better: str
    low: float
    high: float
    bands: tuple[BandView, ...]
    section: str = ""
    track_change: bool = True
    statements: tuple[Statement, ...] = ()

    @property
    def ok(self) -> bool:
        return self.score is not None

    @property
    def in_best_band(self) -> bool:
        """The score is in the band its direction calls best (the lowest when lower is better,
        the highest when higher is better); always for a neutral scale, which has no better
        end. Such an area's ideas are offered, not pressed (the page shows them folded)."""
        if self.better == Better.NEUTRAL.value:
            return True
        if self.score is None or not self.bands:
            return False
        ordered = sorted(self.bands, key=lambda b: b.lower)
        best = ordered[0] if self.better == Better.LOWER.value else ordered[-1]
        return self.band == best.label

    @property
    def top_band(self) -> bool:
        """The score lies in the highest band."""
        if self.score is None or not self.bands:
            return False
        return self.band == max(self.bands, key=lambda b: b.lower).label


@dataclass(frozen=True)
class ResponseStyle:
    """How the answers lean regardless of content, from the scales keyed in both directions.

    ``index``: the mean, over the scales with answers on both sides, of (mean raw answer of the
    positively keyed items + mean raw answer of the reversed items) / 2, on the answer scale.
    Answering by content puts the two halves on opposite sides of the middle, so the index stays
    near the scale's midpoint; agreeing with everything raises it to the agreeing end, disagreeing
    with everything lowers it. ``straight_line``: one and the same answer to every scored item.
    """

    index: float | None
    midpoint: float
    balanced_scales: int
    answered: int
    straight_line: bool
    lean: str  # "agree", "disagree" or ""

    @property
    def note(self) -> str:
        if self.straight_line:
            return (
                "You gave the same answer to every statement. About half of the statements are "
                "worded the other way round, so one answer throughout says little about you, and "
                "the scores below may not describe you well. If you like, take the questionnaire "
                "again at a quieter moment."
            )
        if self.lean:
            verb = "agreed" if self.lean == "agree" else "disagreed"
            return (
                f"You {verb} with many statements that point in opposite directions (for example "
                "about letting people come close and about keeping them at a distance). When "
                "that happens, the scores say more about a way of answering than about you, so "
                "read them lightly. Reading each statement again, or answering another day, may "
                "give a clearer picture."
            )
        return ""


#: A lean this far from the scale's midpoint, in answer points, is noted (on a 1-5 scale: an
#: index of 3.75 or more, about "Agree" with both halves, or 2.25 or less).
LEAN = 0.75
#: Straight-lining is noted only when at least this many scored items were answered.
STRAIGHT_LINE_MIN = 8


def response_style(
    instrument: Instrument, answers: Mapping[str, float | None], form: str | None = None
) -> ResponseStyle:
    """The response-style index of one person's raw answers (see :class:`ResponseStyle`)."""
    asked = set(instrument.form_items(form))
    halves = []
    raw: list[float] = []
    midpoints = []
    for sub in instrument.subscales:
        members = [i for i in sub.items if i in asked and answers.get(i) is not None]
        pos = [float(answers[i] or 0) for i in members if not instrument.item_by_id[i].reverse]
        rev = [float(answers[i] or 0) for i in members if instrument.item_by_id[i].reverse]
        raw += pos + rev
        if pos and rev:
            halves.append((sum(pos) / len(pos) + sum(rev) / len(rev)) / 2)
            scale = instrument.scale_of(members[0])
            midpoints.append((scale.min + scale.max) / 2)
    midpoint = sum(midpoints) / len(midpoints) if midpoints else math.nan
    index = sum(halves) / len(halves) if halves else None
    lean = ""
    if index is not None and index - midpoint >= LEAN:
        lean = "agree"
    elif index is not None and midpoint - index >= LEAN:
        lean = "disagree"
    straight = len(raw) >= STRAIGHT_LINE_MIN and len(set(raw)) == 1
    return ResponseStyle(index, midpoint, len(halves), len(raw), straight, lean)


#: The inventory's paradox: the wish for closeness (first) and keeping distance (any of the rest;
#: ``distancing`` in ppai 2.0.0, the ``distancing_signs`` composite in 1.0.0).
PARADOX_SCALES = ("desire_closeness", "distancing", "distancing_signs")


def paradox(results: Sequence[ScaleResult]) -> str:
    """The paradox summary when the wish for closeness and keeping distance are both in their top
    band (the rule is said in the text); empty otherwise."""
    by_id = {r.id: r for r in results}
    wish = by_id.get(PARADOX_SCALES[0])
    distance = next((by_id[i] for i in PARADOX_SCALES[1:] if i in by_id), None)
    if wish is None or distance is None or not (wish.top_band and distance.top_band):
        return ""
    return (
        f"Both \u201c{wish.label}\u201d and \u201c{distance.label}\u201d are in their top band "
        f"({wish.band}). Wanting closeness while keeping people at a distance is the tension the "
        "article behind this questionnaire is about, and it is a very human one. Both can be true "
        "at the same time; seeing them side by side can help you choose what you would like to "
        "try next."
    )


def band_note(instrument: Instrument) -> str:
    """What the band cuts are, in one sentence: the scale's midpoints when they are, never norms."""
    cuts = sorted(
        {b.lower for s in instrument.subscales for b in s.bands}
        - {min((b.lower for b in s.bands), default=math.nan) for s in instrument.subscales}
    )
    if not cuts:
        return ""
    points = " and ".join(f"{c:g}" for c in cuts)
    halves = all(abs(c - math.floor(c) - 0.5) < 1e-9 for c in cuts)
    where = (
        f"at {points}, the midpoints between neighbouring answers on the answer scale"
        if halves
        else f"at {points} on the answer scale"
    )
    return (
        "How to read the bands: each score is the average of your answers to that area's "
        "statements, with statements worded the other way round turned around. The bands split "
        f"the range {where}. They are not norms: they say what your answers were, not how they "
        "compare with anyone else's."
    )


@dataclass(frozen=True)
class Attempt:
    """One attempt in the saved history: when (UTC), which form, and its scores."""

    created_at: datetime
    form: str | None
    scores: dict[str, float | None]


@dataclass(frozen=True)
class PersonalReport:
    """Everything the personal report shows."""

    instrument: Instrument
    form: str | None
    answers: dict[str, float | None]
    subscales: tuple[ScaleResult, ...]
    composites: tuple[ScaleResult, ...]
    hits: tuple[CriticalHit, ...]
    created: datetime
    provenance: Provenance
    change: tuple[ReliableChange, ...] = ()
    history: tuple[Attempt, ...] = ()  # the saved attempts, oldest first, this one last
    saved_code: str | None = None
    country: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    style: ResponseStyle | None = None
    other_versions: int = 0  # saved results made with another version (not compared)

    @property
    def support_first(self) -> bool:
        """A check was met (an answer, a skip or a "prefer not to say"): support comes first."""
        return bool(self.hits)

    @property
    def sections(self) -> list[tuple[str, list[ScaleResult]]]:
        """The subscales in the instrument's order, grouped by section (one group, headed "",
        for an instrument without sections). Nothing is ranked."""
        groups: list[tuple[str, list[ScaleResult]]] = []
        for area in self.subscales:
            if not groups or groups[-1][0] != area.section:
                groups.append((area.section, []))
            groups[-1][1].append(area)
        return groups

    @property
    def paradox(self) -> str:
        return paradox((*self.subscales, *self.composites))

    @property
    def band_note(self) -> str:
        return band_note(self.instrument)

    @property
    def answered(self) -> int:
        return sum(v is not None for v in self.answers.values())


def answer_label(instrument: Instrument, item_id: str, raw: object) -> str:
    """The label of a raw answer (a code, or the label itself), "no answer" for none."""
    scale = instrument.scale_of(item_id)
    if raw is None or (isinstance(raw, float) and math.isnan(raw)) or raw == "":
        return "no answer"
    try:
        code = scale.code_for(str(int(raw)) if isinstance(raw, float) else str(raw))
    except ValueError:
        return "no answer"
    return scale.labels.get(code) or scale.missing_codes.get(code) or str(code)


def facet_of(instrument: Instrument, item_id: str) -> str:
    """The element of the instrument's source an item belongs to (its sign, cause or practice)."""
    source = instrument.item_by_id[item_id].source
    if source is None:
        return ""
    return source.sign or source.cause or source.practice or ""


def build_report(
    instrument: Instrument,
    answers: Mapping[str, object],
    *,
    form: str | None = None,
    created: datetime | None = None,
    country: str = "",
) -> PersonalReport:
    """Score one person's answers and gather the texts for each area; ``country`` (ISO code)
    chooses the numbers of the support section."""
    item_ids = instrument.form_items(form)
    row = {item_id: answers.get(item_id) for item_id in item_ids}
    result = score_responses(instrument, row, form=form)
    person = result.person(0)
    values = result.responses.values[0]
    numeric = {
        item_id: (None if math.isnan(v) else float(v))
        for item_id, v in zip(result.responses.item_ids, values, strict=True)
    }
    ranges = score_ranges(instrument)

    def view(scored: ScaleScore) -> ScaleResult:
        definition = (
            instrument.subscale_by_id.get(scored.id) or instrument.composite_by_id[scored.id]
        )
        band_label = scored.band if scored.ok else None
        band_text = next((b.text for b in definition.bands if b.label == band_label), "")
        total = (
            len([i for i in instrument.subscale_by_id[scored.id].items if i in item_ids])
            if scored.kind == "subscale"
            else len(instrument.composite_by_id[scored.id].components)
        )
        low, high = ranges[scored.id]
        return ScaleResult(
            id=scored.id,
            label=definition.label,
            description=definition.description,
            kind=scored.kind,
            score=scored.score if scored.ok else None,
            answered=scored.answered,
            total=total,
            band=band_label,
            band_text=band_text,
            guidance=definition.guidance,
            better=definition.better.value,
            low=low,
            high=high,
            bands=tuple(BandView(b.lower, b.upper, b.label) for b in definition.bands),
            section=definition.section,
            track_change=definition.track_change,
            statements=statements(scored.id) if scored.kind == "subscale" else (),
        )

    def statements(subscale_id: str) -> tuple[Statement, ...]:
        out = []
        for item_id in instrument.subscale_by_id[subscale_id].items:
            if item_id not in row:
                continue
            item = instrument.item_by_id[item_id]
            out.append(
                Statement(
                    item_id,
                    item.text,
                    answer_label(instrument, item_id, row.get(item_id)),
                    facet_of(instrument, item_id),
                    item.reverse,
                )
            )
        return tuple(out)

    subs = tuple(view(s) for s in person.scales if s.kind == "subscale")
    comps = tuple(view(s) for s in person.scales if s.kind == "composite")
    return PersonalReport(
        instrument=instrument,
        form=form,
        answers=numeric,
        subscales=subs,
        composites=comps,
        hits=person.critical,
        created=created or datetime.now(UTC),
        provenance=result.provenance,
        country=country,
        style=response_style(instrument, numeric, form),
    )


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------


def environment() -> Environment:
    """The jinja2 environment for every page and report (autoescape on for all templates)."""
    env = Environment(
        loader=PackageLoader("surveytool", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = lambda x, digits=2: "—" if x is None else f"{x:.{digits}f}"
    return env


def stylesheet() -> str:
    """The one stylesheet of pages and reports (screen and print)."""
    return resources.files("surveytool").joinpath("static/style.css").read_text("utf-8")


def report_context(report: PersonalReport) -> dict[str, Any]:
    """What the ``_report_body.html`` template needs (results page and report file alike)."""
    return {
        "report": report,
        "support": support_view(report.instrument, report.hits, report.country),
        "inst": report.instrument,
        "profile": charts.profile(report.subscales),
        "composite_profile": charts.profile(report.composites) if report.composites else None,
        "history": charts.history(report),
        "change_rows": charts.change_rows(report),
    }


def render_report(report: PersonalReport, *, standalone: bool = True) -> str:
    """The report as HTML: ``standalone`` embeds the stylesheet so the file opens offline."""
    template = environment().get_template("report.html")
    return template.render(
        standalone=standalone, css=stylesheet() if standalone else "", **report_context(report)
    )
