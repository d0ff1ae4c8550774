"""The report's charts (surveytool/charts.py and templates/_charts.html): colours by what a band
means in the area's direction, a legend and an axis, visible minimum scores, history as small
multiples with dates, times and the form, change with direction, size and noise only where known.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from surveytool import charts
from surveytool.instrument.registry import load_instrument
from surveytool.report import Attempt, PersonalReport, build_report, render_report
from surveytool.scoring.change import reliable_change
from tests.surveytool.test_report import FULL, PPAI, SCREEN

LOWER_IS_BETTER = "fault_finding"
HIGHER_IS_BETTER = "self_awareness"


def answers_scoring(targets: dict[str, int]) -> dict[str, int | None]:
    """Full-form answers (3 elsewhere) that give each target subscale the score ``value``."""
    answers: dict[str, int | None] = dict.fromkeys(FULL, 3)
    for scale_id, value in targets.items():
        for item_id in PPAI.subscale_by_id[scale_id].items:
            answers[item_id] = 6 - value if PPAI.item_by_id[item_id].reverse else value
    return answers


def row_of(profile: charts.Profile, scale_id: str) -> charts.ProfileRow:
    return next(r for r in profile.rows if r.id == scale_id)


def track_html(html: str, scale_id: str) -> str:
    match = re.search(rf'<li class="profile-row" data-area="{scale_id}">(.*?)</li>', html, re.S)
    assert match, scale_id
    return match.group(1)


# ---------------------------------------------------------------------------------------------
# Meaning of bands
# ---------------------------------------------------------------------------------------------


def test_band_meaning_follows_the_direction() -> None:
    bands = [(1.0, 2.5), (2.5, 3.5), (3.5, 5.0)]  # the PPAI's three bands on 1..5
    lower = [charts.band_meaning(lo, hi, 1, 5, "lower") for lo, hi in bands]
    higher = [charts.band_meaning(lo, hi, 1, 5, "higher") for lo, hi in bands]
    assert lower == ["favourable", "middle", "attention"]
    assert higher == ["attention", "middle", "favourable"]
    assert {charts.band_meaning(lo, hi, 1, 5, None) for lo, hi in bands} == {"neutral"}
    # two or four bands: the ends still mean the ends
    assert [charts.band_meaning(lo, hi, 0, 10, "higher") for lo, hi in [(0, 5), (5, 10)]] == [
        "attention",
        "favourable",
    ]
    four = [(0, 2.5), (2.5, 5), (5, 7.5), (7.5, 10)]
    assert [charts.band_meaning(lo, hi, 0, 10, "lower") for lo, hi in four] == [
        "favourable",
        "middle",
        "middle",
        "attention",
    ]


def test_colours_mean_the_same_for_a_higher_and_a_lower_is_better_scale() -> None:
    """A high Self-awareness (higher is better) is in the "better end" colour; the same high
    score on Finding fault (lower is better) is in the "worth a closer look" colour."""
    report = build_report(PPAI, answers_scoring({HIGHER_IS_BETTER: 5, LOWER_IS_BETTER: 5}))
    profile = charts.profile(report.subscales)
    aware, fault = row_of(profile, HIGHER_IS_BETTER), row_of(profile, LOWER_IS_BETTER)
    assert (aware.better, fault.better) == ("higher", "lower")
    assert aware.score == fault.score == 5.0
    assert aware.meaning == "favourable" and fault.meaning == "attention"
    assert [b.meaning for b in aware.bands] == ["attention", "middle", "favourable"]
    assert [b.meaning for b in fault.bands] == ["favourable", "middle", "attention"]
    low = charts.profile(
        build_report(PPAI, answers_scoring({HIGHER_IS_BETTER: 1, LOWER_IS_BETTER: 1})).subscales
    )
    assert row_of(low, HIGHER_IS_BETTER).meaning == "attention"
    assert row_of(low, LOWER_IS_BETTER).meaning == "favourable"

    html = render_report(report)
    aware_html, fault_html = track_html(html, HIGHER_IS_BETTER), track_html(html, LOWER_IS_BETTER)
    assert re.search(r'<svg class="track"[^>]*data-meaning="favourable"', aware_html)
    assert re.search(r'<svg class="track"[^>]*data-meaning="attention"', fault_html)
    assert "(higher is better)" in aware_html and "(lower is better)" in fault_html
    # the band rectangles carry the colour classes, in position order
    assert re.findall(r'<rect class="band (\w+)"', aware_html) == [
        "attention",
        "middle",
        "favourable",
    ]
    assert re.findall(r'<rect class="band (\w+)"', fault_html) == [
        "favourable",
        "middle",
        "attention",
    ]


def test_the_stylesheet_gives_each_meaning_its_own_colour() -> None:
    from surveytool.report import stylesheet

    css = stylesheet()
    colours = {}
    for meaning in ("attention", "middle", "favourable", "neutral"):
        match = re.search(rf"--{meaning}: (#[0-9a-f]{{6}})", css)
        assert match, meaning
        colours[meaning] = match.group(1)
        assert f"svg .band.{meaning} {{ fill: var(--{meaning}); }}" in css
    assert len(set(colours.values())) == 4


def test_legend_and_axis() -> None:
    report = build_report(PPAI, dict.fromkeys(SCREEN, 3), form="screen")
    profile = charts.profile(report.subscales)
    assert [m for m, _ in profile.legend] == ["attention", "middle", "favourable"]
    assert profile.shared_ticks is not None
    assert [t.text for t in profile.shared_ticks] == ["1", "2", "3", "4", "5"]
    assert [t.x for t in profile.shared_ticks] == [0.0, 25.0, 50.0, 75.0, 100.0]
    html = render_report(report)
    assert 'aria-label="What the colours mean"' in html
    for _, text in profile.legend:
        assert text in html
    assert "your score" in html
    shared = re.search(r'<svg class="axis shared"[^>]*>(.*?)</svg>', html, re.S)
    assert shared and re.findall(r">(\d)</text>", shared.group(1)) == ["1", "2", "3", "4", "5"]


def test_rows_follow_the_scores_in_the_instruments_order() -> None:
    report = build_report(PPAI, dict.fromkeys(SCREEN, 5) | {"FF1": None}, form="screen")
    profile = charts.profile(report.subscales)
    assert [r.id for r in profile.rows] == [s.id for s in PPAI.subscales]
    for row, area in zip(profile.rows, report.subscales, strict=True):
        if area.score is None:
            assert row.x is None and row.meaning is None
            assert "not enough answers" in row.description
        else:
            assert row.x is not None
            assert math.isclose(row.x, (area.score - area.low) / (area.high - area.low) * 100)
            assert 0 <= row.x <= 100


def test_a_minimum_score_draws_a_mark() -> None:
    report = build_report(PPAI, answers_scoring({LOWER_IS_BETTER: 1, HIGHER_IS_BETTER: 1}))
    row = row_of(charts.profile(report.subscales), LOWER_IS_BETTER)
    assert row.score == 1.0 and row.x == 0.0
    html = track_html(render_report(report), LOWER_IS_BETTER)
    assert re.search(r'<circle class="marker" cx="0.0%" cy="50%" r="7"/>', html)
    assert "<strong>1.00</strong>" in html


def test_an_area_without_a_better_direction_is_neutral() -> None:
    report = build_report(PPAI, dict.fromkeys(SCREEN, 4), form="screen")
    area = next(s for s in report.subscales if s.id == "desire_closeness")
    row = row_of(charts.profile([replace(area, better="neither")]), "desire_closeness")
    assert {b.meaning for b in row.bands} == {"neutral"} and row.meaning == "neutral"
    assert row.direction == "neither end is better"


# ---------------------------------------------------------------------------------------------
# History
# ---------------------------------------------------------------------------------------------


def scores_of(report: PersonalReport) -> dict[str, float | None]:
    return {s.id: s.score for s in (*report.subscales, *report.composites)}


def with_attempts(report: PersonalReport, *earlier: Attempt) -> PersonalReport:
    now = Attempt(report.created, report.form, scores_of(report))
    return replace(report, history=(*earlier, now))


def test_history_needs_two_attempts() -> None:
    report = build_report(PPAI, dict.fromkeys(SCREEN, 3), form="screen")
    assert charts.history(report) is None
    assert charts.change_rows(report) == ()


def test_history_is_small_multiples_with_points_dates_times_and_forms() -> None:
    first = build_report(PPAI, dict.fromkeys(FULL, 2))
    second = build_report(PPAI, dict.fromkeys(SCREEN, 4) | {"FF1": None}, form="screen")
    second = replace(second, created=datetime(2026, 3, 4, 17, 45, tzinfo=UTC))
    report = with_attempts(
        second, Attempt(datetime(2026, 1, 2, 9, 5, tzinfo=UTC), None, scores_of(first))
    )
    history = charts.history(report)
    assert history is not None
    areas = [*PPAI.subscales, *PPAI.composites]
    assert [p.id for p in history.panels] == [a.id for a in areas]  # one chart per area
    assert [(a.number, a.when) for a in history.attempts] == [
        (1, "2026-01-02 09:05 UTC"),
        (2, "2026-03-04 17:45 UTC"),
    ]
    assert [a.form for a in history.attempts] == ["full form", "short form (PPAI screen)"]
    assert history.any_short
    fault = next(p for p in history.panels if p.id == LOWER_IS_BETTER)
    assert [p.score for p in fault.points] == [first_score(first, LOWER_IS_BETTER), None]
    assert fault.segments == []  # no line to an attempt without a score
    aware = next(p for p in history.panels if p.id == HIGHER_IS_BETTER)
    (a, b) = aware.points
    assert a.y is not None and b.y is not None and b.y < a.y  # a higher score is drawn higher
    assert (a.short_form, b.short_form) == (False, True)
    assert 0 < a.x < b.x < 100  # inset so the end points are drawn whole

    html = render_report(report)
    assert html.count('<figure class="history-panel"') == len(areas)
    assert "2026-01-02 09:05 UTC</span>, full form" in html
    assert "2026-03-04 17:45 UTC</span>, short form (PPAI screen)" in html
    assert html.count('class="point short"') >= len(areas) - 1
    panel = re.search(
        rf'<figure class="history-panel" data-area="{LOWER_IS_BETTER}">(.*?)</figure>', html, re.S
    )
    assert panel and "Not enough answers in attempt 2." in panel.group(1)


def first_score(report: PersonalReport, scale_id: str) -> float | None:
    return next(s.score for s in report.subscales if s.id == scale_id)


# ---------------------------------------------------------------------------------------------
# Change
# ---------------------------------------------------------------------------------------------


def test_change_has_direction_size_and_noise_only_where_reliability_is_known() -> None:
    before = build_report(PPAI, answers_scoring({HIGHER_IS_BETTER: 2, LOWER_IS_BETTER: 2}))
    answers = answers_scoring({HIGHER_IS_BETTER: 4, LOWER_IS_BETTER: 4})
    for item_id in PPAI.subscale_by_id["withdrawal"].items:
        answers[item_id] = None  # insufficient this time
    now = build_report(PPAI, answers)
    b = {k: v for k, v in scores_of(before).items() if v is not None}
    a = {k: v for k, v in scores_of(now).items() if v is not None}
    # reliability known for one area only (as a caller with research data would give it)
    change = tuple(
        reliable_change(PPAI, b, a, sd={HIGHER_IS_BETTER: 0.5}, reliability={HIGHER_IS_BETTER: 0.8})
    )
    report = replace(
        with_attempts(now, Attempt(datetime(2026, 1, 1, tzinfo=UTC), None, scores_of(before))),
        change=change,
    )
    rows = {r.id: r for r in charts.change_rows(report)}
    assert set(rows) == {s.id for s in (*PPAI.subscales, *PPAI.composites)}
    aware, fault, gone = rows[HIGHER_IS_BETTER], rows[LOWER_IS_BETTER], rows["withdrawal"]
    assert aware.difference == pytest.approx(2.0) and fault.difference == pytest.approx(2.0)
    assert aware.direction == "up by 2.00, towards the better end" and aware.arrow == "↑"
    assert fault.direction == "up by 2.00, towards the end worth a closer look"
    assert aware.noise == "yes: more than measurement noise (reliable improvement)"
    assert fault.noise is None  # no reliability: nothing is claimed
    assert not gone.compared and gone.insufficient == "this time" and gone.direction == ""
    same = rows["past_hurt"]
    assert same.direction == "about the same" and same.arrow == "="

    html = render_report(report)
    section = html[html.index('id="change-title"') : html.index("</table>")]
    row_html = {
        m.group(1): m.group(2)
        for m in re.finditer(r'<tr data-area="([^"]+)">(.*?)</tr>', section, re.S)
    }
    assert "up by 2.00, towards the better end" in row_html[HIGHER_IS_BETTER]
    assert "more than measurement noise (reliable improvement)" in row_html[HIGHER_IS_BETTER]
    assert "not known*" in row_html[LOWER_IS_BETTER]
    assert "Not enough answers this time, so there is no change to show." in row_html["withdrawal"]
    assert "measurement noise" in html[html.index("</table>") :]  # the footnote for "not known"


def test_no_noise_footnote_when_every_reliability_is_known() -> None:
    before = build_report(PPAI, dict.fromkeys(SCREEN, 2), form="screen")
    now = build_report(PPAI, dict.fromkeys(SCREEN, 3), form="screen")
    b = {k: v for k, v in scores_of(before).items() if v is not None}
    a = {k: v for k, v in scores_of(now).items() if v is not None}
    ids = list(b)
    change = tuple(
        reliable_change(PPAI, b, a, sd=dict.fromkeys(ids, 1.0), reliability=dict.fromkeys(ids, 0.9))
    )
    report = replace(
        with_attempts(now, Attempt(datetime(2026, 1, 1, tzinfo=UTC), "screen", scores_of(before))),
        change=change,
    )
    html = render_report(report)
    assert "not known*" not in html
    assert "no: within measurement noise" in html or "yes: more than" in html


def test_an_area_not_tracked_over_time_shows_both_scores_and_no_change() -> None:
    # ppai 2.0.0 asks "in general" in closeness_unease (track_change: false): a different
    # answer next time is not read as change, and the page says so instead of a direction
    v2 = load_instrument("ppai@2.0.0")
    untracked = [s.id for s in v2.subscales if not s.track_change]
    assert "closeness_unease" in untracked

    def scoring(value: int) -> dict[str, int | None]:  # every item, keyed to score ``value``
        return {i.id: 6 - value if i.reverse else value for i in v2.items}

    before = build_report(v2, scoring(2))
    now = build_report(v2, scoring(4))
    report = with_attempts(now, Attempt(datetime(2026, 1, 1, tzinfo=UTC), None, scores_of(before)))
    rows = {r.id: r for r in charts.change_rows(report)}
    row = rows["closeness_unease"]
    assert (row.before, row.after) == (first_score(before, row.id), first_score(now, row.id))
    assert row.before is not None and row.after is not None and row.before != row.after
    assert not row.tracked and not row.compared and row.direction == ""
    tracked = rows["distancing"]
    assert tracked.tracked and tracked.compared and tracked.direction.startswith("up by")
    html = render_report(report)
    section = html[html.index('id="change-title"') : html.index("</table>")]
    row_html = dict(re.findall(r'<tr data-area="([^"]+)">(.*?)</tr>', section, re.S))
    for scale_id in untracked:
        assert "Not compared: this area asks about you in general" in row_html[scale_id]
        assert "towards the" not in row_html[scale_id]
    assert "towards the" in row_html["distancing"]
