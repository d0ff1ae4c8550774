"""The personal report's charts: the profile, the history (small multiples) and the change table.

This module computes what each chart shows (geometry in percent of the chart's width and height,
the meaning of every band, the rows of the change table); the templates ``_profile_chart.html``,
``_history_chart.html`` and ``_change_table.html`` draw it as inline SVG inside HTML, styled by
the one stylesheet (``static/style.css``).

Why not matplotlib's SVG here (the cohort report's choice): the pages are served with a
Content-Security-Policy without ``'unsafe-inline'``, and matplotlib styles every element with a
``style`` attribute, which that policy switches off; and these charts must reflow (label beside
the bar on a wide screen, above it on a phone), print, and keep their text at the page's font
size, which an SVG image scaled as a whole cannot. Each chart is therefore HTML (labels, values,
legend: real text) around small SVG tracks whose coordinates are percentages, so they stretch to
any width without scaling their text.

Meaning, not position, decides a band's colour (:func:`band_meaning`): with the area's declared
``better`` direction, the band at the better end is "better end", the one at the other end
"worth a look"; an area without a better direction gets one neutral colour for all its bands.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from surveytool.scoring.change import Change

if TYPE_CHECKING:
    from surveytool.instrument.model import Instrument
    from surveytool.report import Attempt, BandView, PersonalReport, ScaleResult
    from surveytool.scoring.change import ReliableChange

Meaning = Literal["attention", "middle", "favourable", "neutral"]

#: What each colour means, in the legend's words (the templates show these).
LEGEND: dict[Meaning, str] = {
    "attention": "the end of the range that may be worth a closer look",
    "middle": "the middle of the range",
    "favourable": "the end of the range the area counts as better",
    "neutral": "an area where neither end counts as better",
}


def direction_text(better: str | None) -> str:
    """How an area's direction reads in the charts."""
    if better == "higher":
        return "higher is better"
    if better == "lower":
        return "lower is better"
    return "neither end is better"


def band_meaning(
    lower: float, upper: float, low: float, high: float, better: str | None
) -> Meaning:
    """What a band ``[lower, upper)`` of a scale ranging ``low``..``high`` means.

    The band's middle, as a share of the range, read in the scale's better direction: in the
    last third it is the better end ("favourable"), in the first third the other end
    ("attention"), else "middle". A scale with no better direction is "neutral" throughout.
    """
    if better not in ("higher", "lower") or high <= low:
        return "neutral"
    position = ((lower + upper) / 2 - low) / (high - low)
    towards_better = position if better == "higher" else 1.0 - position
    if towards_better > 2 / 3:
        return "favourable"
    if towards_better < 1 / 3:
        return "attention"
    return "middle"


def percent(value: float, low: float, high: float) -> float:
    """Where ``value`` lies on ``low``..``high``, in percent (0 at ``low``), clipped to 0..100."""
    span = high - low
    if span <= 0:
        return 0.0
    return round(min(100.0, max(0.0, (value - low) / span * 100.0)), 3)


@dataclass(frozen=True)
class BandSpan:
    label: str
    lower: float
    upper: float
    meaning: Meaning
    x: float  # percent
    width: float  # percent


@dataclass(frozen=True)
class Tick:
    value: float
    x: float  # percent

    @property
    def text(self) -> str:
        return f"{self.value:g}"


@dataclass(frozen=True)
class ProfileRow:
    """One area of the profile: its bands, where its score lies, what the score's band means."""

    id: str
    label: str
    score: float | None
    band: str | None
    low: float
    high: float
    better: str | None
    bands: tuple[BandSpan, ...]
    ticks: tuple[Tick, ...]

    @property
    def x(self) -> float | None:
        """The score's place on the track, in percent (None when not scored)."""
        return None if self.score is None else percent(self.score, self.low, self.high)

    @property
    def meaning(self) -> Meaning | None:
        """The meaning of the band the score lies in."""
        if self.score is None:
            return None
        for span in self.bands:
            if span.lower <= self.score < span.upper:
                return span.meaning
        return self.bands[-1].meaning if self.bands else None  # the top band is closed

    @property
    def direction(self) -> str:
        return direction_text(self.better)

    @property
    def description(self) -> str:
        """What the row shows, in words (for screen readers and the SVG's title)."""
        where = f"{self.low:g} to {self.high:g}, {self.direction}"
        if self.score is None:
            return f"{self.label}: not enough answers for a score ({where})."
        band = f", in the band {self.band}" if self.band else ""
        return f"{self.label}: {self.score:.2f} on {where}{band}."


@dataclass(frozen=True)
class Profile:
    rows: tuple[ProfileRow, ...]
    #: the axis under all rows when every row has the same range, else each row has its own
    shared_ticks: tuple[Tick, ...] | None
    legend: tuple[tuple[Meaning, str], ...]


def ticks(low: float, high: float) -> tuple[Tick, ...]:
    """Axis ticks: every whole number of the range when there are at most 11, else 5 even steps."""
    if high <= low:
        return (Tick(low, 0.0),)
    whole = math.isclose(low, round(low)) and math.isclose(high, round(high))
    if whole and high - low <= 10:
        values = [float(v) for v in range(round(low), round(high) + 1)]
    else:
        values = [low + (high - low) * k / 4 for k in range(5)]
    return tuple(Tick(v, percent(v, low, high)) for v in values)


def band_spans(
    bands: Sequence[BandView], low: float, high: float, better: str | None
) -> tuple[BandSpan, ...]:
    spans = []
    for b in sorted(bands, key=lambda b: b.lower):
        x = percent(b.lower, low, high)
        spans.append(
            BandSpan(
                b.label,
                b.lower,
                b.upper,
                band_meaning(b.lower, b.upper, low, high, better),
                x,
                round(percent(b.upper, low, high) - x, 3),
            )
        )
    return tuple(spans)


def profile(areas: Sequence[ScaleResult]) -> Profile:
    """The profile of ``areas`` in the order given (the instrument's order)."""
    rows = tuple(
        ProfileRow(
            id=a.id,
            label=a.label,
            score=a.score,
            band=a.band,
            low=a.low,
            high=a.high,
            better=a.better,
            bands=band_spans(a.bands, a.low, a.high, a.better),
            ticks=ticks(a.low, a.high),
        )
        for a in areas
    )
    ranges = {(r.low, r.high) for r in rows}
    shared = rows[0].ticks if len(ranges) == 1 and rows else None
    used = {s.meaning for r in rows for s in r.bands}
    legend = tuple((m, text) for m, text in LEGEND.items() if m in used)
    return Profile(rows, shared, legend)


# ---------------------------------------------------------------------------------------------
# History: small multiples
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryPoint:
    number: int  # 1-based attempt number, as the list of attempts names it
    x: float  # percent
    y: float | None  # percent from the top; None: not enough answers that time
    score: float | None
    short_form: bool


@dataclass(frozen=True)
class HistoryPanel:
    """One area over the attempts."""

    id: str
    label: str
    low: float
    high: float
    better: str | None
    bands: tuple[BandSpan, ...]  # x/width of a band here are its y/height (percent from the top)
    points: tuple[HistoryPoint, ...]

    @property
    def segments(self) -> list[tuple[HistoryPoint, HistoryPoint]]:
        """Lines between consecutive scored attempts (a gap where one was not scored)."""
        return [
            (a, b)
            for a, b in zip(self.points, self.points[1:], strict=False)
            if a.y is not None and b.y is not None
        ]

    @property
    def direction(self) -> str:
        return direction_text(self.better)

    @property
    def description(self) -> str:
        said = "; ".join(
            f"attempt {p.number}: "
            + ("not enough answers" if p.score is None else f"{p.score:.2f}")
            for p in self.points
        )
        return f"{self.label} ({self.low:g} to {self.high:g}, {self.direction}): {said}."


@dataclass(frozen=True)
class AttemptView:
    number: int
    when: str  # date and time, UTC
    form: str  # "full form" or the short form's label


@dataclass(frozen=True)
class History:
    panels: tuple[HistoryPanel, ...]
    attempts: tuple[AttemptView, ...]
    legend: tuple[tuple[Meaning, str], ...]
    any_short: bool


def when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def form_label(inst: Instrument, form: str | None) -> str:
    if form is None:
        return "full form"
    short = inst.short_form_by_id.get(form)
    return f"short form ({short.label if short else form})"


def history(report: PersonalReport) -> History | None:
    """One small chart per area over the saved attempts (None with fewer than two)."""
    attempts: Sequence[Attempt] = report.history
    if len(attempts) < 2:
        return None
    n = len(attempts)
    # points inset from the edges so the first and last markers are drawn whole
    xs = [5.0 + 90.0 * k / (n - 1) for k in range(n)]
    panels = []
    for area in (*report.subscales, *report.composites):
        spans = tuple(
            BandSpan(s.label, s.lower, s.upper, s.meaning, 100.0 - s.x - s.width, s.width)
            for s in band_spans(area.bands, area.low, area.high, area.better)
        )
        points = []
        for k, attempt in enumerate(attempts):
            value = attempt.scores.get(area.id)
            y = None if value is None else round(100.0 - percent(value, area.low, area.high), 3)
            points.append(HistoryPoint(k + 1, round(xs[k], 3), y, value, attempt.form is not None))
        panels.append(
            HistoryPanel(
                area.id, area.label, area.low, area.high, area.better, spans, tuple(points)
            )
        )
    views = tuple(
        AttemptView(k + 1, when(a.created_at), form_label(report.instrument, a.form))
        for k, a in enumerate(attempts)
    )
    used = {s.meaning for p in panels for s in p.bands}
    legend = tuple((m, text) for m, text in LEGEND.items() if m in used)
    return History(tuple(panels), views, legend, any(a.form is not None for a in attempts))


# ---------------------------------------------------------------------------------------------
# Change since last time
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChangeRow:
    """One area's change between the last saved attempt and this one."""

    id: str
    label: str
    before: float | None
    after: float | None
    low: float
    high: float
    better: str | None
    reliable: ReliableChange | None
    #: False for a scale declared ``track_change: false`` (its timeframe is "in general" or a
    #: history): both scores are shown, but a difference is not read as change
    tracked: bool = True

    @property
    def compared(self) -> bool:
        return self.tracked and self.before is not None and self.after is not None

    @property
    def difference(self) -> float | None:
        if self.before is None or self.after is None:
            return None
        return self.after - self.before

    @property
    def insufficient(self) -> str:
        """Which attempt had too few answers for a score ("" when both were scored)."""
        if self.before is None and self.after is None:
            return "last time and this time"
        if self.before is None:
            return "last time"
        if self.after is None:
            return "this time"
        return ""

    @property
    def direction(self) -> str:
        """Up or down by how much (in the scale's points), and which end that is towards
        (nothing for an area not tracked over time)."""
        diff = self.difference
        if diff is None or not self.tracked:
            return ""
        if round(diff, 2) == 0:
            return "about the same"
        up = diff > 0
        way = f"{'up' if up else 'down'} by {abs(diff):.2f}"
        if self.better not in ("higher", "lower"):
            return way
        better = up == (self.better == "higher")
        return f"{way}, towards the {'better end' if better else 'end worth a closer look'}"

    @property
    def arrow(self) -> str:
        diff = self.difference
        if diff is None or not self.tracked or round(diff, 2) == 0:
            return "="
        return "↑" if diff > 0 else "↓"

    @property
    def noise(self) -> str | None:
        """Whether the change is more than measurement noise: only where reliability is known
        (None otherwise: nothing is claimed)."""
        if self.reliable is None or self.reliable.classification is None:
            return None
        if self.reliable.classification is Change.no_change:
            return "no: within measurement noise"
        return f"yes: more than measurement noise ({self.reliable.classification.value})"


def change_rows(report: PersonalReport) -> tuple[ChangeRow, ...]:
    """Every area, compared with the last saved attempt (empty without one)."""
    if len(report.history) < 2:
        return ()
    previous = report.history[-2].scores
    reliable = {c.scale: c for c in report.change}
    return tuple(
        ChangeRow(
            area.id,
            area.label,
            previous.get(area.id),
            area.score,
            area.low,
            area.high,
            area.better,
            reliable.get(area.id),
            area.track_change,
        )
        for area in (*report.subscales, *report.composites)
    )
