"""The personal report: one person's scores turned into plain words, a profile and ideas.

Used by the web pages, the terminal (``surveytool take``) and the downloadable HTML file, so the
numbers are always those of :func:`surveytool.scoring.engine.score_responses` on the same
answers, read from its typed records (:class:`~surveytool.scoring.result.PersonScores`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
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
class ScaleResult:
    """One subscale or composite, ready to show."""

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

    @property
    def ok(self) -> bool:
        return self.score is not None

    @property
    def concern(self) -> float:
        """0..1: how much this area asks for attention (high score if lower is better)."""
        if self.score is None or self.high == self.low:
            return -1.0
        position = (self.score - self.low) / (self.high - self.low)
        return position if self.better == Better.LOWER.value else 1.0 - position


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

    @property
    def support_first(self) -> bool:
        """A check was met (an answer, a skip or a "prefer not to say"): support comes first."""
        return bool(self.hits)

    @property
    def by_concern(self) -> list[ScaleResult]:
        """Subscales that ask most for attention first; unscored ones last."""
        return sorted(self.subscales, key=lambda s: (not s.ok, -s.concern))

    @property
    def answered(self) -> int:
        return sum(v is not None for v in self.answers.values())


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
        )

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
