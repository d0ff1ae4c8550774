"""The personal report (surveytool/report.py): numbers, order, escaping and the standalone file.

Every number the report shows must be the one ``surveytool.score`` gives on the same answers; the
helpers here (``expected_scores``, ``shown_scores``, ``hostile_instrument``) are shared with the
web, browser and terminal tests.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import surveytool
from surveytool.instrument.model import Instrument
from surveytool.instrument.registry import load_instrument
from surveytool.report import (
    build_report,
    render_report,
)

PPAI = load_instrument("ppai")
SCREEN = list(PPAI.short_form_by_id["screen"].items)
FULL = [i.id for i in PPAI.items]
SCALE_IDS = [s.id for s in PPAI.subscales] + [c.id for c in PPAI.composites]

SCRIPT = "<script>alert(1)</script>"
BOLD = "<b>x</b>"
HOSTILE = f"{SCRIPT} {BOLD}"


# ---------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------


class _ScoreParser(HTMLParser):
    """Collects the text of every element marked ``data-score="<scale id>"``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scores: dict[str, str] = {}
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        scale = dict(attrs).get("data-score")
        if scale is not None:
            assert scale not in self.scores, f"{scale} is shown twice"
            self._open = scale
            self.scores[scale] = ""

    def handle_endtag(self, tag: str) -> None:
        self._open = None

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self.scores[self._open] += data


def shown_scores(html: str) -> dict[str, str]:
    """Scale id -> the number shown for it (``data-score``) in a page or report."""
    parser = _ScoreParser()
    parser.feed(html)
    return {k: v.strip() for k, v in parser.scores.items()}


def expected_scores(
    inst: Instrument | str | Path, answers: Mapping[str, object], form: str | None = None
) -> dict[str, str | None]:
    """Scale id -> the score of ``surveytool.score`` as shown (2 decimals), None if insufficient."""
    inst = load_instrument(inst)
    table = surveytool.score(inst, dict(answers), form=form)
    row = table.iloc[0]
    out: dict[str, str | None] = {}
    for scale_id in [s.id for s in inst.subscales] + [c.id for c in inst.composites]:
        if scale_id not in table.columns:
            continue
        ok = row[f"{scale_id}_status"] == "ok"
        out[scale_id] = f"{float(row[scale_id]):.2f}" if ok else None
    return out


def assert_page_matches_score(
    html: str, inst: Instrument | str | Path, answers: Mapping[str, object], form: str | None = None
) -> dict[str, str | None]:
    """The page shows exactly the scored scales' numbers and says so for insufficient ones."""
    expected = expected_scores(inst, answers, form)
    shown = shown_scores(html)
    assert shown == {k: v for k, v in expected.items() if v is not None}
    for scale_id, value in expected.items():
        if value is None:
            article = area_html(html, scale_id)
            assert "Not enough answers" in article, scale_id
            assert "data-score" not in article, scale_id
    return expected


def area_html(html: str, scale_id: str) -> str:
    """The ``<article id="area-<id>">`` of one scale."""
    match = re.search(
        rf'<article class="area[^"]*" id="area-{re.escape(scale_id)}">(.*?)</article>', html, re.S
    )
    assert match, f"no area {scale_id}"
    return match.group(1)


def hostile_instrument(folder: Path) -> Path:
    """A valid instrument whose every text shown to a person contains HTML and a script tag."""
    text = f'"{HOSTILE}"'
    yaml_text = f"""\
id: hostile
version: "1.0.0"
title: {text}
description: {text}
instructions: {text}
timeframe: {text}
provenance: {text}
disclaimer: {text}
minutes: 2
response_scales:
  agree:
    min: 1
    max: 3
    labels: {{1: {text}, 2: "middle", 3: "high"}}
    missing_codes: {{9: "{SCRIPT} not said"}}
items:
  - {{id: H1, text: {text}, scale: agree}}
  - {{id: H2, text: "plain", scale: agree}}
  - {{id: H3, text: "third", scale: agree}}
subscales:
  - id: one
    label: {text}
    description: {text}
    items: [H1, H2]
    min_answered: 1
    guidance: {text}
    bands:
      - {{lower: 1, upper: 2, label: {text}, text: {text}}}
      - {{lower: 2, upper: 3, label: "upper band", text: {text}}}
  - id: two
    label: "Two"
    items: [H3]
    min_answered: 1
composites:
  - {{id: both, label: {text}, components: [one, two], guidance: {text}}}
checks:
  - {{id: c1, item: H1, rule: {{at_or_above: 3}}, message: {text}}}
short_forms:
  - {{id: short, label: {text}, items: [H1, H3]}}
"""
    path = folder / "hostile.yaml"
    path.write_text(yaml_text, "utf-8")
    return path


def assert_escaped(html: str) -> None:
    """No raw tag from the instrument text; the text itself is there, escaped."""
    assert SCRIPT not in html
    assert BOLD not in html
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html


def random_answers(
    item_ids: list[str], seed: int, skip: float = 0.1, missing: float = 0.05
) -> dict[str, int | None]:
    rng = random.Random(seed)
    out: dict[str, int | None] = {}
    for item_id in item_ids:
        draw = rng.random()
        out[item_id] = None if draw < skip else 9 if draw < skip + missing else rng.randint(1, 5)
    return out


# ---------------------------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------------------------

ANSWER_SETS: list[tuple[str, str | None, dict[str, int | None]]] = [
    ("screen-all-3", "screen", dict.fromkeys(SCREEN, 3)),
    ("screen-mixed", "screen", {i: (k % 5) + 1 for k, i in enumerate(SCREEN)}),
    ("screen-random", "screen", random_answers(SCREEN, 7, skip=0.2)),
    ("full-random-1", None, random_answers(FULL, 1)),
    ("full-random-2", None, random_answers(FULL, 2, skip=0.3)),
    ("full-extremes", None, {i: (1 if k % 2 else 5) for k, i in enumerate(FULL)}),
]


@pytest.mark.parametrize(
    ("form", "answers"), [(f, a) for _, f, a in ANSWER_SETS], ids=[n for n, _, _ in ANSWER_SETS]
)
def test_report_numbers_equal_surveytool_score(
    form: str | None, answers: dict[str, int | None]
) -> None:
    report = build_report(PPAI, answers, form=form)
    table = surveytool.score(PPAI, answers, form=form)
    row = table.iloc[0]
    for area in (*report.subscales, *report.composites):
        ok = row[f"{area.id}_status"] == "ok"
        assert area.ok == ok, area.id
        assert area.answered == int(row[f"{area.id}_n"]), area.id
        if ok:
            assert area.score == float(row[area.id]), area.id  # the very same float
            assert area.band == row[f"{area.id}_band"], area.id
        else:
            assert area.score is None and area.band is None, area.id
    assert {a.id for a in report.subscales} | {a.id for a in report.composites} == {
        c for c in SCALE_IDS if c in table.columns
    }
    html = render_report(report, standalone=True)
    assert_page_matches_score(html, PPAI, answers, form)


def test_labels_and_missing_codes_score_like_numbers() -> None:
    labels = PPAI.scale_of("FF1").labels
    as_numbers = {"FF1": 4, "DW1": 9, "EC1": 2}
    as_labels = {"FF1": labels[4], "DW1": "Prefer not to say", "EC1": labels[2]}
    a = build_report(PPAI, as_numbers, form="screen")
    b = build_report(PPAI, as_labels, form="screen")
    assert [s.score for s in a.subscales] == [s.score for s in b.subscales]
    assert a.answers["DW1"] is None  # the missing code counts as not answered
    assert next(s for s in a.subscales if s.id == "withdrawal").score is None


def test_insufficient_subscales_say_so_instead_of_a_number() -> None:
    answers: dict[str, int | None] = dict.fromkeys(FULL, 2)
    for item_id in ("FF1", "FF2"):  # 2 of 4 answered < 60 %
        answers[item_id] = None
    answers["DW1"] = 9
    answers["DW2"] = 9  # missing codes count as not answered as well
    report = build_report(PPAI, answers)
    html = render_report(report)
    for scale_id in ("fault_finding", "withdrawal"):
        area = next(s for s in report.subscales if s.id == scale_id)
        assert area.score is None and area.answered == 2 and area.total == 4
        article = area_html(html, scale_id)
        assert "Not enough answers to show a score here (2 of 4 statements answered)" in article
        assert "data-score" not in article
    # the unscored areas come last in "area by area"
    order = [s.id for s in report.by_concern]
    assert order[-2:] == ["fault_finding", "withdrawal"]
    assert_page_matches_score(html, PPAI, answers)


def test_nothing_answered_shows_no_number_at_all() -> None:
    report = build_report(PPAI, {}, form="screen")
    html = render_report(report)
    assert shown_scores(html) == {}
    assert "0 of 15 statements answered" in html
    assert "Not enough answers to show this summary" in html


def test_areas_come_highest_concern_first() -> None:
    answers = dict.fromkeys(FULL, 3)
    for item_id in PPAI.subscale_by_id["fear_rejection"].items:
        answers[item_id] = 1 if PPAI.item_by_id[item_id].reverse else 5  # worst possible
    for item_id in PPAI.subscale_by_id["trust_building"].items:
        answers[item_id] = 5 if PPAI.item_by_id[item_id].reverse else 1  # lowest, better: higher
    report = build_report(PPAI, answers)
    first_two = {s.id for s in report.by_concern[:2]}
    assert first_two == {"fear_rejection", "trust_building"}
    html = render_report(report)
    positions = [html.index(f'id="area-{s.id}"') for s in report.by_concern]
    assert positions == sorted(positions)


# ---------------------------------------------------------------------------------------------
# Critical answer, sections
# ---------------------------------------------------------------------------------------------


def sections(html: str) -> list[str]:
    """The ids of the headings of the report's sections, in order."""
    return re.findall(r'<h2 id="([^"]+)"', html)


def test_critical_answer_puts_support_first() -> None:
    answers = dict.fromkeys(SCREEN, 2)
    answers["LS5"] = 5
    report = build_report(PPAI, answers, form="screen", country="GB")
    assert [h.message for h in report.hits] == [PPAI.checks[0].message]
    html = render_report(report)
    body = html[html.index("<main>") :]
    assert sections(body)[0] == "support-first"
    assert body.index("Support, first") < body.index("What this is and is not")
    assert body.index("Support, first") < body.index("Your profile")
    first_section = body[: body.index("what-this-is")]
    assert "You said that lately you feel so alone" in first_section
    # the chosen country's numbers, with the date they were checked
    assert "116 123" in first_section and "0808 2000 247" in first_section
    assert "(checked 2026-12-02)" in first_section
    assert "does not screen for suicide risk" in first_section


@pytest.mark.parametrize("ls5", [4, 5])
def test_mostly_like_me_and_above_put_support_first(ls5: int) -> None:
    answers: dict[str, int | None] = dict.fromkeys(SCREEN, 2)
    answers["LS5"] = ls5
    report = build_report(PPAI, answers, form="screen")
    assert [h.level.value for h in report.hits] == ["alert"]
    assert "Support, first" in render_report(report)


@pytest.mark.parametrize("ls5", [9, None])
def test_prefer_not_to_say_or_a_skip_bring_gentle_support_first(ls5: int | None) -> None:
    answers: dict[str, int | None] = dict.fromkeys(SCREEN, 2)
    answers["LS5"] = ls5
    report = build_report(PPAI, answers, form="screen")
    assert [(h.level.value, h.reason) for h in report.hits] == [
        ("support", "skip" if ls5 is None else "missing_code")
    ]
    html = render_report(report)
    assert "Support, first" not in html  # no alarm
    assert sections(html[html.index("<main>") :])[0] == "support-first"  # but support first
    assert "You left a question about how you have been feeling unanswered" in html
    assert "You said that lately" not in html
    # no country chosen: the distance statement still comes with the domestic-abuse lines
    distance = html[html.index("Keeping distance can be protection") :]
    assert "0808 2000 247" in distance and "1800 737 732" in distance


@pytest.mark.parametrize("ls5", [1, 2, 3])
def test_no_support_first_below_the_threshold(ls5: int) -> None:
    answers: dict[str, int | None] = dict.fromkeys(SCREEN, 5)
    answers["LS5"] = ls5
    report = build_report(PPAI, answers, form="screen")
    html = render_report(report)
    assert report.hits == ()
    assert "Support, first" not in html
    assert sections(html)[0] == "what-this-is"
    assert "support-title" in sections(html)  # the support section is always there


def test_report_has_disclaimer_support_and_guidance() -> None:
    report = build_report(PPAI, dict.fromkeys(FULL, 4))
    html = render_report(report)
    assert "What this is and is not" in html
    assert "not a diagnosis" in html
    for sub in PPAI.subscales:
        assert sub.guidance.split(".")[0] in unescape(html)
    assert f"instrument hash {PPAI.content_hash[:12]}" in html


# ---------------------------------------------------------------------------------------------
# Escaping and the standalone file
# ---------------------------------------------------------------------------------------------


def test_instrument_text_is_escaped_in_the_report(tmp_path: Path) -> None:
    inst = load_instrument(hostile_instrument(tmp_path))
    for form in (None, "short"):
        report = build_report(inst, {"H1": 3, "H2": 1, "H3": 2}, form=form)
        assert report.hits  # the check's message is shown too
        html = render_report(report)
        assert_escaped(html)
        assert_page_matches_score(html, inst, {"H1": 3, "H2": 1, "H3": 2}, form)


def external_references(html: str) -> list[str]:
    """Every src/href/url() that would load something when the file is opened."""
    refs = re.findall(r'(?:src|href)\s*=\s*["\']?([^"\'\s>]+)', html, re.I)
    refs += re.findall(r"url\(\s*['\"]?([^'\")]+)", html, re.I)
    refs += re.findall(r"@import\s+['\"]?([^'\";]+)", html, re.I)
    return [r for r in refs if not r.startswith("#")]


def test_standalone_report_is_one_self_contained_file() -> None:
    answers = dict.fromkeys(FULL, 2)
    answers["LS5"] = 5
    html = render_report(build_report(PPAI, answers), standalone=True)
    assert external_references(html) == []
    assert "<link" not in html and "<script" not in html and "<img" not in html
    assert "/static/" not in html
    style = re.search(r"<style>(.*?)</style>", html, re.S)
    assert style and "@media print" in style.group(1)
    assert '<ol class="profile' in html and 'class="track"' in html  # the profile, inline SVG
    assert html.startswith("<!DOCTYPE html>") and 'lang="en"' in html


def test_non_standalone_report_links_the_stylesheet() -> None:
    html = render_report(build_report(PPAI, {}, form="screen"), standalone=False)
    assert '<link rel="stylesheet" href="/static/style.css">' in html
    assert "<style>" not in html


def test_score_table_is_a_dataframe_with_status_columns() -> None:
    """Guards the helper the other tests rely on."""
    table = surveytool.score(PPAI, dict.fromkeys(SCREEN, 3), form="screen")
    assert isinstance(table, pd.DataFrame)
    assert all(f"{s}_status" in table.columns for s in SCALE_IDS)
    expected: dict[str, Any] = expected_scores(PPAI, dict.fromkeys(SCREEN, 3), "screen")
    assert set(expected.values()) == {"3.00"}
