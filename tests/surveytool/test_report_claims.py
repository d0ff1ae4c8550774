"""Results that say only what they can (ppai 2.0.0): bands in the answer scale's words with
their cuts explained, the instrument's order, no ranking, no causal or predictive claims, the
paradox summary, the response-style note, and no "problem" for a person without distancing."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest

from surveytool.instrument.model import Better, Instrument
from surveytool.instrument.registry import load_instrument
from surveytool.report import build_report, render_report, response_style

from .test_report import area_html, assert_page_matches_score

if not (Path(__file__).resolve().parents[2] / "instruments" / "ppai@2.0.0.yaml").exists():
    pytest.skip(
        "instruments/ppai@2.0.0.yaml is not bundled yet (it waits for the checks format)",
        allow_module_level=True,
    )

PPAI = load_instrument("ppai@2.0.0")
LOWER = [s.id for s in PPAI.subscales if s.better is Better.LOWER]
HIGHER = [s.id for s in PPAI.subscales if s.better is Better.HIGHER]
CAUSAL = re.compile(
    r"\b(because of|caused|causes|grows? out of|comes? from|stems? from|leads? to|will (?:make|"
    r"help|become|end)|likely to|predicts?|says more about what you have been through)\b",
    re.I,
)


def answers_for(inst: Instrument, level: dict[str, int]) -> dict[str, int]:
    """Answers giving each scale the keyed level asked for (1 = lowest, 5 = highest)."""
    out = {}
    for sub in inst.subscales:
        want = level.get(sub.id, 3)
        for item_id in sub.items:
            out[item_id] = 6 - want if inst.item_by_id[item_id].reverse else want
    for check in inst.checks:
        out[check.item] = 1
    return out


NO_DISTANCING = answers_for(
    PPAI, {**dict.fromkeys(LOWER, 1), **dict.fromkeys(HIGHER, 5), "desire_closeness": 2}
)


def test_a_person_with_no_distancing_is_not_told_of_a_problem():
    report = build_report(PPAI, NO_DISTANCING)
    html = render_report(report)
    assert_page_matches_score(html, PPAI, NO_DISTANCING)
    for area in report.subscales:
        assert area.in_best_band, area.id
        if area.id in LOWER:
            assert area.band == "Mostly disagree"
        article = area_html(html, area.id)
        assert "<details open>" not in article, area.id  # ideas offered, not pressed
        assert "Ideas, if you would like them" in article
    text = " ".join(own_words(html)).lower()  # the report's words, not its stylesheet
    for word in ("problem", "concern", "attention", "disorder", "symptom", "unhealthy"):
        assert word not in text, word
    assert not report.paradox
    assert report.style is not None and report.style.note == ""
    assert 'id="reading-title"' not in html


def test_bands_speak_the_answer_scale_and_say_the_cuts_are_midpoints_not_norms():
    report = build_report(PPAI, NO_DISTANCING)
    html = render_report(report)
    note = report.band_note
    assert "2.5 and 3.5" in note and "midpoints" in note and "not norms" in note
    assert note in unescape(html)
    labels = set(PPAI.response_scales["agree"].labels.values())
    for sub in PPAI.subscales:
        for band in sub.bands:
            words = set(re.findall(r"[a-z]+", band.label.lower()))
            assert words & {w.lower() for label in labels for w in label.split()}, band.label
            assert not {"often", "sometimes", "seldom", "usually"} & words, band.label


def test_no_causal_or_predictive_claims_in_what_a_person_reads():
    for sub in PPAI.subscales:
        for text in (sub.description, sub.guidance, *(b.text for b in sub.bands)):
            assert not CAUSAL.search(text), (sub.id, CAUSAL.search(text))
    for level in (1, 3, 5):
        html = render_report(build_report(PPAI, answers_for(PPAI, dict.fromkeys(LOWER, level))))
        for part in own_words(html):
            assert not CAUSAL.search(part), CAUSAL.search(part)


def own_words(html: str) -> list[str]:
    """The text of the report's own sections about the answers (what this is, reading the
    answers together, the areas); the support section quotes the safety resources."""
    found = []
    for title in ("what-this-is", "reading-title", "areas-title"):
        match = re.search(rf'<section aria-labelledby="{title}">(.*?)</section>', html, re.S)
        if match:
            found.append(unescape(re.sub(r"<[^>]+>", " ", match.group(1))))
    assert len(found) >= 2
    return found


def test_areas_are_in_section_order_with_their_headings_and_never_ranked():
    worst = answers_for(PPAI, {"past_hurt": 5, "trust_building": 1})
    report = build_report(PPAI, worst)
    html = render_report(report)
    assert [s.id for s in report.subscales] == [s.id for s in PPAI.subscales]
    sections = [name for name, _ in report.sections]
    assert sections == list(dict.fromkeys(s.section for s in PPAI.subscales))
    positions = [html.index(f'id="area-{s.id}"') for s in PPAI.subscales]
    assert positions == sorted(positions)
    heads = [html.index(f'<h3 class="section-heading">{name}</h3>') for name in sections]
    assert heads == sorted(heads)
    assert "none is ranked above another" in html


@pytest.mark.parametrize(
    ("wish", "distance", "shown"), [(5, 5, True), (5, 1, False), (1, 5, False), (4, 4, True)]
)
def test_paradox_summary_when_wish_and_distancing_are_both_high(wish, distance, shown):
    answers = answers_for(PPAI, {"desire_closeness": wish, "distancing": distance})
    report = build_report(PPAI, answers)
    html = render_report(report)
    assert bool(report.paradox) is shown
    if shown:
        assert (
            "Both \u201cWish for closeness\u201d and \u201cKeeping distance\u201d are in their top band"
            in html
        )
        assert 'id="paradox"' in html
    else:
        assert 'id="paradox"' not in html


def test_desire_for_closeness_is_never_a_concern_either_way():
    for level in (1, 5):
        report = build_report(PPAI, answers_for(PPAI, {"desire_closeness": level}))
        area = next(a for a in report.subscales if a.id == "desire_closeness")
        assert area.better == "neutral" and area.in_best_band
        assert "<details open>" not in area_html(render_report(report), "desire_closeness")


def test_straight_lining_gets_a_note_and_scores_land_in_the_middle():
    answers = {i: 5 for i in PPAI.form_items()}
    report = build_report(PPAI, answers)
    assert report.style is not None and report.style.straight_line
    html = render_report(report)
    assert "You gave the same answer to every statement." in html
    for area in report.subscales:
        assert area.band == "Between disagree and agree", area.id


def test_agreeing_with_opposite_statements_gets_an_acquiescence_note():
    answers = {i: (5 if n % 3 else 4) for n, i in enumerate(PPAI.form_items())}
    style = response_style(PPAI, answers)
    assert not style.straight_line and style.lean == "agree"
    assert style.index is not None and style.index >= 4.5
    assert style.balanced_scales == len(PPAI.subscales)
    html = render_report(build_report(PPAI, answers))
    assert "You agreed with many statements that point in opposite directions" in html
    disagree = {i: (1 if n % 3 else 2) for n, i in enumerate(PPAI.form_items())}
    assert response_style(PPAI, disagree).lean == "disagree"


def test_answering_by_content_gets_no_style_note():
    for level in (1, 2, 4, 5):
        style = response_style(PPAI, answers_for(PPAI, dict.fromkeys(LOWER + HIGHER, level)))
        assert style.index == pytest.approx(3.0)
        assert style.note == ""


def test_does_not_apply_is_missing_and_the_check_item_scores_nothing():
    answers = dict(NO_DISTANCING)
    conditional = [i.id for i in PPAI.items if i.text.startswith("When ")]
    assert conditional
    for item_id in conditional:
        answers[item_id] = 8  # "Does not apply to me"
    report = build_report(PPAI, answers)
    assert all(report.answers[i] is None for i in conditional)
    shown = {st.item_id: st.answer for a in report.subscales for st in a.statements}
    assert all(shown[i] == "Does not apply to me" for i in conditional)
    assert set(shown) == {i for s in PPAI.subscales for i in s.items}  # every statement, once
    assert_page_matches_score(render_report(report), PPAI, answers)
    for check in PPAI.checks:
        assert not any(check.item in s.items for s in PPAI.subscales)
