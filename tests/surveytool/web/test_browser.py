"""The web pages in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright).

``surveytool serve`` runs as a subprocess on a free port with its own data folder. The full flow
runs with JavaScript switched off (the pages must not need it); the accessibility check (axe-core,
injected by Playwright, not by the page) and the keyboard check run with it on. Every request the
browser makes is recorded: none may go anywhere but the local assessment_server.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Request,
    expect,
)

from tests.surveytool.test_report import (
    PPAI,
    SCREEN,
    area_html,
    assert_page_matches_score,
    expected_scores,
    sections,
    shown_scores,
)
from tests.surveytool.web.servers import CHROMIUM, AssessmentServer

STEP_MS = 15_000  # every Playwright step; well under 30 s
PHONE = {"width": 375, "height": 740}
CODE = "maple-river-heron-42"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")


@dataclass
class Recorder:
    """Every request of a browser context."""

    urls: list[str] = field(default_factory=list)

    def __call__(self, request: Request) -> None:
        self.urls.append(request.url)

    def assert_only(self, netloc: str) -> None:
        assert self.urls, "no request recorded"
        foreign = [
            u for u in self.urls if urlsplit(u).scheme != "http" or urlsplit(u).netloc != netloc
        ]
        assert foreign == [], foreign


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def new_context(browser: Browser, recorder: Recorder, **options: Any) -> BrowserContext:
    context = browser.new_context(**options)
    context.set_default_timeout(STEP_MS)
    context.set_default_navigation_timeout(STEP_MS)
    context.on("request", recorder)
    return context


@pytest.fixture
def context(
    browser: Browser, recorder: Recorder, assessment_server: AssessmentServer
) -> Iterator[BrowserContext]:
    context = new_context(browser, recorder, accept_downloads=True)
    yield context
    context.close()
    recorder.assert_only(assessment_server.netloc)


# ---------------------------------------------------------------------------------------------
# Steps
# ---------------------------------------------------------------------------------------------


def open_intro(page: Page, assessment_server: AssessmentServer) -> None:
    page.goto(assessment_server.base + "/")
    page.get_by_role("link", name="Pushing People Away Inventory").click()
    expect(page.get_by_role("heading", name="Before you start")).to_be_visible()


def save_with_code(page: Page, code: str) -> None:
    page.get_by_label("Personal code").fill(code)
    page.get_by_role("button", name="Save to compare later").click()
    expect(page.get_by_role("status")).to_contain_text("Saved under your code")


def open_short_form(page: Page, assessment_server: AssessmentServer) -> None:
    open_intro(page, assessment_server)
    page.get_by_label("PPAI screen (15 statements)").check()
    page.get_by_role("button", name="Start").click()
    expect(page).to_have_title(re.compile(r"page 1 of 3"))


def item(page: Page, item_id: str) -> Any:
    return page.locator(f"#q-{item_id}")


def choose(page: Page, item_id: str, label: str) -> None:
    item(page, item_id).get_by_label(label, exact=True).check()


def label_of(value: int | None) -> str:
    if value is None:
        return "Skip"
    scale = PPAI.scale_of("FF1")
    return scale.labels.get(value) or scale.missing_codes[value]


def answer_all(page: Page, answers: dict[str, int | None]) -> None:
    """Answer the statements shown (those in ``answers``) and press Next / See my results."""
    for fieldset in page.locator("fieldset.item").all():
        item_id = (fieldset.get_attribute("id") or "")[2:]
        if item_id in answers:
            fieldset.get_by_label(label_of(answers[item_id]), exact=True).check()


def next_page(page: Page, title: str) -> None:
    page.locator("button[value=next], button[value=finish]").click()
    expect(page).to_have_title(re.compile(title))


def continue_past_support(page: Page, title: str) -> None:
    """On the support page: continue with the questions."""
    page.get_by_role("button", name="Continue with the questions").click()
    expect(page).to_have_title(re.compile(title))


def take(page: Page, assessment_server: AssessmentServer, answers: dict[str, int | None]) -> None:
    open_short_form(page, assessment_server)
    for k in (2, 3):
        answer_all(page, answers)
        next_page(page, f"page {k} of 3|support")
        if "support" in page.title():
            continue_past_support(page, f"page {k} of 3")
    answer_all(page, answers)
    next_page(page, "your results|support")
    if "support" in page.title():
        continue_past_support(page, "your results")


def scroll_width(page: Page) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth"))


# ---------------------------------------------------------------------------------------------
# The flow
# ---------------------------------------------------------------------------------------------

FIRST: dict[str, int | None] = {
    "FF1": 4,
    "DW1": None,  # skipped
    "EC1": 2,
    "SB1": 5,
    "CE1": 1,
    "PH1": 3,
    "FV1": 9,  # prefer not to say
    "FR1": 3,
    "FA1": 2,
    "LS1": 4,
    "LS5": 5,  # the critical answer
    "IA1": 1,
    "DC1": 5,
    # SA1 left unanswered
    "TB1": 4,
}
SECOND: dict[str, int | None] = dict.fromkeys(SCREEN, 3)


def test_full_flow_without_javascript(
    browser: Browser, recorder: Recorder, assessment_server: AssessmentServer, tmp_path: Path
) -> None:
    context = new_context(browser, recorder, accept_downloads=True, java_script_enabled=False)
    page = context.new_page()
    try:
        # start page -> instrument -> short form
        open_short_form(page, assessment_server)
        expect(page.get_by_text("0 of 15 answered")).to_be_visible()
        expect(page.locator("fieldset.item")).to_have_count(5)  # 15 statements: 5, 5 and 5
        expect(page.locator("input[type=radio]:checked")).to_have_count(0)

        # answer the first page (one statement skipped, one "prefer not to say")
        answer_all(page, FIRST)
        next_page(page, "page 2 of 3")
        expect(page.get_by_text("4 of 15 answered (1 skipped)")).to_be_visible()
        choose(page, "FR1", "Somewhat like me")

        # back: the answers are kept and shown checked
        page.get_by_role("button", name="Back").click()
        expect(page).to_have_title(re.compile("page 1 of 3"))
        for item_id in SCREEN[:5]:
            radio = item(page, item_id).get_by_label(label_of(FIRST[item_id]), exact=True)
            expect(radio).to_be_checked()
        expect(page.locator("input[type=radio]:checked")).to_have_count(5)
        page.screenshot(path=str(tmp_path / "back.png"), full_page=True)

        next_page(page, "page 2 of 3")
        expect(item(page, "FR1").get_by_label("Somewhat like me", exact=True)).to_be_checked()
        answer_all(page, FIRST)
        next_page(page, "page 3 of 3")
        answer_all(page, FIRST)
        expect(page.get_by_role("button", name="See my results")).to_be_visible()
        # LS5 = 5 is on this page: the next page is the support page, before the results
        next_page(page, "support")
        expect(page.locator("fieldset.item")).to_have_count(0)
        expect(page.get_by_role("heading", name="Support, first")).to_be_visible()
        expect(page.get_by_text("You said that lately you feel so alone")).to_be_visible()
        expect(page.get_by_text("does not screen for suicide risk")).to_be_visible()
        # the person chooses their country: its numbers, with the date each was checked
        page.get_by_label("Your country").select_option("GB")
        page.get_by_role("button", name="Show the numbers").click()
        expect(page).to_have_title(re.compile("support"))
        numbers = page.locator("dl.numbers")
        expect(numbers).to_contain_text("Samaritans: call 116 123")
        expect(numbers).to_contain_text("0808 2000 247")
        expect(numbers).to_contain_text("999")  # the emergency number, first
        expect(numbers).to_contain_text("(checked 2026-12-02)")
        page.screenshot(path=str(tmp_path / "support.png"), full_page=True)
        continue_past_support(page, "your results")

        # results: support first, numbers as surveytool.score, "not enough answers" where so
        html = page.content()
        page.screenshot(path=str(tmp_path / "results.png"), full_page=True)
        expected = assert_page_matches_score(html, PPAI, FIRST, "screen")
        assert sections(html)[0] == "support-first"
        expect(page.locator("h2").first).to_have_text("Support, first")
        # the country chosen on the support page is kept in the page state
        expect(page.locator("dl.numbers")).to_contain_text("Samaritans: call 116 123")
        expect(page.get_by_label("Your country")).to_have_value("GB")
        for scale_id in ("withdrawal", "fear_vulnerability", "self_awareness"):
            assert expected[scale_id] is None
            assert "Not enough answers" in area_html(html, scale_id)
        for scale_id, value in expected.items():
            if value is not None:
                expect(page.locator(f'[data-score="{scale_id}"]')).to_have_text(value)

        # download the report and open it offline
        with page.expect_download() as info:
            page.get_by_role("button", name=re.compile("Download the report")).click()
        download = info.value
        assert re.fullmatch(r"ppai-report-\d{8}-\d{4}\.html", download.suggested_filename)
        report = tmp_path / download.suggested_filename
        download.save_as(report)
        report_html = report.read_text("utf-8")
        assert shown_scores(report_html) == {k: v for k, v in expected.items() if v is not None}
        assert "Support, first" in report_html
        assert "116 123" in report_html  # the report keeps the chosen country's numbers
        check_report_offline(browser, report, tmp_path)

        # save with a code; the database appears only now
        assert not (assessment_server.data_dir / "surveytool.sqlite3").exists()
        save_with_code(page, CODE)
        assert (assessment_server.data_dir / "surveytool.sqlite3").is_file()
        expect(page.get_by_role("heading", name="Change since last time")).to_have_count(0)

        # take it again, save with the same code: the change table and the history chart
        page.get_by_role("link", name="Back to the start").click()
        expect(page.get_by_role("heading", name="Self-reflection questionnaires")).to_be_visible()
        take(page, assessment_server, SECOND)
        save_with_code(page, CODE)
        expect(page.get_by_role("heading", name="Change since last time")).to_be_visible()
        expect(page.get_by_role("heading", name="Your history")).to_be_visible()
        expect(page.locator("figure.history-panel")).to_have_count(
            len(PPAI.subscales) + len(PPAI.composites)
        )
        page.screenshot(path=str(tmp_path / "change.png"), full_page=True)
        before, now = expected, expected_scores(PPAI, SECOND, "screen")
        rows = page.locator("section[aria-labelledby=change-title] tbody tr")
        compared = [s for s in PPAI.subscales if before[s.id] is not None]
        for sub in compared:
            row = rows.filter(has=page.get_by_role("rowheader", name=sub.label, exact=True))
            expect(row.locator("td").nth(0)).to_have_text(before[sub.id] or "")
            expect(row.locator("td").nth(1)).to_have_text(now[sub.id] or "")
        assert_page_matches_score(page.content(), PPAI, SECOND, "screen")
    finally:
        context.close()
    recorder.assert_only(assessment_server.netloc)
    assert any(u.endswith("/static/style.css") for u in recorder.urls)
    assert any(u.endswith("/i/ppai/report") for u in recorder.urls)


def check_report_offline(browser: Browser, report: Path, tmp_path: Path) -> None:
    """The downloaded file opens with no network at all and is styled by its own stylesheet."""
    seen: list[str] = []
    offline = browser.new_context(offline=True)
    offline.set_default_timeout(STEP_MS)
    offline.on("request", lambda r: seen.append(r.url))
    try:
        page = offline.new_page()
        page.goto(report.as_uri())
        expect(page.get_by_role("heading", name="Support, first")).to_be_visible()
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(251, 251, 250)"  # the embedded stylesheet applies
        assert page.locator("svg.track rect.bar").count() > 0
        page.emulate_media(media="print")
        assert (
            page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(255, 255, 255)"
        )
        page.screenshot(path=str(tmp_path / "report-print.png"), full_page=True)
    finally:
        offline.close()
    assert [urlsplit(u).scheme for u in seen] == ["file"], seen


# ---------------------------------------------------------------------------------------------
# Accessibility, keyboard, phone width
# ---------------------------------------------------------------------------------------------


def axe_check(page: Page, where: str, findings: dict[str, list[str]]) -> None:
    results = Axe().run(page)
    assert results.response["passes"], "axe-core did not run any rule"
    violations = results.response["violations"]
    findings[where] = [f"{v['id']} ({v['impact']}): {len(v['nodes'])}" for v in violations]
    bad = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert bad == [], f"{where}:\n{results.generate_report()}"


def test_accessibility_with_axe(
    context: BrowserContext, assessment_server: AssessmentServer, tmp_path: Path
) -> None:
    findings: dict[str, list[str]] = {}
    page = context.new_page()
    page.goto(assessment_server.base + "/")
    axe_check(page, "start", findings)
    open_intro(page, assessment_server)
    axe_check(page, "intro", findings)
    page.get_by_role("button", name="Start").click()
    expect(page).to_have_title(re.compile("page 1 of 9"))
    choose(page, "FF1", "Mostly like me")
    axe_check(page, "item page", findings)
    open_short_form(page, assessment_server)
    answer_all(page, FIRST)
    next_page(page, "page 2 of 3")
    answer_all(page, FIRST)
    next_page(page, "page 3 of 3")
    answer_all(page, FIRST)
    next_page(page, "support")
    axe_check(page, "support page", findings)
    continue_past_support(page, "your results")
    axe_check(page, "results", findings)
    page.goto(assessment_server.base + "/saved")
    axe_check(page, "saved results", findings)
    page.screenshot(path=str(tmp_path / "saved.png"))
    print("axe findings (any impact):", findings)


def test_axe_check_can_fail(browser: Browser) -> None:
    """The check above is not vacuous: a field without a label is a critical violation."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_content('<!DOCTYPE html><html lang="en"><title>t</title><main><input></main>')
        with pytest.raises(AssertionError, match="label"):
            axe_check(page, "bad page", {})
    finally:
        context.close()


def test_keyboard_only(context: BrowserContext, assessment_server: AssessmentServer) -> None:
    page = context.new_page()
    open_short_form(page, assessment_server)
    # the first Tab shows the skip link
    page.keyboard.press("Tab")
    focused = page.locator(":focus")
    expect(focused).to_have_text("Skip to content")
    box = focused.bounding_box()
    assert box is not None and box["width"] > 20 and box["height"] > 10
    # Tab on to the first radio of the first statement; Space selects it
    for _ in range(5):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.type") == "radio":
            break
    first = item(page, "FF1").locator("input[type=radio]").first
    expect(first).to_be_focused()
    expect(first).not_to_be_checked()
    page.keyboard.press("Space")
    expect(first).to_be_checked()
    outline = page.evaluate(
        "getComputedStyle(document.activeElement.nextElementSibling).outlineStyle"
    )
    assert outline != "none"  # the focus is visible on the label text
    # arrows move within the statement, Tab goes on to the next statement
    page.keyboard.press("ArrowRight")
    expect(item(page, "FF1").get_by_label("A little like me", exact=True)).to_be_checked()
    page.keyboard.press("Tab")
    expect(item(page, "DW1").locator("input[type=radio]").first).to_be_focused()
    # Tab reaches the Next button, Enter submits; the answer was kept
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.tagName") == "BUTTON":
            break
    expect(page.locator(":focus")).to_have_text("Next")
    page.keyboard.press("Enter")
    expect(page).to_have_title(re.compile("page 2 of 3"))
    expect(page.get_by_text("1 of 15 answered")).to_be_visible()
    # on a page with Back, Enter on a chosen answer goes forward, never back
    expect(page.get_by_role("button", name="Back")).to_be_visible()
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.type") == "radio":
            break
    first = item(page, "PH1").locator("input[type=radio]").first
    expect(first).to_be_focused()
    page.keyboard.press("Space")
    expect(first).to_be_checked()
    chosen = first.locator("xpath=..")  # the chosen answer is highlighted
    assert chosen.evaluate("l => getComputedStyle(l).borderTopWidth") == "2px"
    unchosen = item(page, "PH1").locator("label").nth(1)
    assert unchosen.evaluate("l => getComputedStyle(l).borderTopWidth") == "1px"
    page.keyboard.press("Enter")
    expect(page).to_have_title(re.compile("page 3 of 3"))
    expect(page.get_by_text("2 of 15 answered")).to_be_visible()
    # Enter on the last page shows the results
    item(page, "LS5").locator("input[type=radio]").first.focus()
    page.keyboard.press("Space")
    page.keyboard.press("Enter")
    expect(page).to_have_title(re.compile("your results"))


def test_phone_width_has_no_horizontal_scroll(
    browser: Browser, recorder: Recorder, assessment_server: AssessmentServer, tmp_path: Path
) -> None:
    context = new_context(browser, recorder, viewport=PHONE, accept_downloads=True)
    page = context.new_page()
    try:
        widths: dict[str, int] = {}
        page.goto(assessment_server.base + "/")
        widths["start"] = scroll_width(page)
        open_intro(page, assessment_server)
        widths["intro"] = scroll_width(page)
        page.get_by_label("PPAI screen (15 statements)").check()
        page.get_by_role("button", name="Start").click()
        expect(page).to_have_title(re.compile(r"page 1 of 3"))
        widths["items"] = scroll_width(page)
        page.screenshot(path=str(tmp_path / "phone-items.png"), full_page=True)
        for k in (2, 3):
            answer_all(page, SECOND)
            next_page(page, f"page {k} of 3")
        answer_all(page, SECOND)
        next_page(page, "your results")
        widths["results"] = scroll_width(page)  # shows the long database path
        save_with_code(page, "phone-width-code-1")
        take(page, assessment_server, FIRST)
        save_with_code(page, "phone-width-code-1")
        expect(page.get_by_role("heading", name="Change since last time")).to_be_visible()
        widths["results with change"] = scroll_width(page)
        wide = page.evaluate(
            """() => [...document.querySelectorAll('body *')]
                .filter(e => e.getBoundingClientRect().right > innerWidth)
                .slice(0, 5).map(e => e.outerHTML.slice(0, 120))"""
        )
        axe_check(page, "results with change (phone)", {})
        page.screenshot(path=str(tmp_path / "phone-results.png"), full_page=True)
        assert_chart_text_fits(page)
        page.goto(assessment_server.base + "/saved")
        widths["saved"] = scroll_width(page)
        assert {k: v for k, v in widths.items() if v > PHONE["width"]} == {}, wide
    finally:
        context.close()
    recorder.assert_only(assessment_server.netloc)


def assert_chart_text_fits(page: Page) -> None:
    """Every label, value and axis number of the profile lies inside the page's width, at 12 px
    or more, and every track and score mark is drawn inside it too."""
    boxes = page.evaluate(
        """() => {
            const width = document.documentElement.clientWidth;
            const parts = [...document.querySelectorAll(
                '.profile-chart .profile-label, .profile-chart .profile-value, ' +
                '.profile-chart .axis text, .profile-chart svg.track, .profile-chart circle.marker'
            )].filter(e => e.getClientRects().length > 0);
            return parts.map(e => {
                const b = e.getBoundingClientRect();
                const size = parseFloat(getComputedStyle(e).fontSize);
                return [e.className.baseVal ?? e.className, e.textContent.trim().slice(0, 30),
                        b.left >= 0 && b.right <= width && b.width > 0, size];
            });
        }"""
    )
    assert boxes and [b for b in boxes if not b[2]] == []
    small = [b for b in boxes if "track" not in str(b[0]) and b[3] < 12]
    assert small == []


# ---------------------------------------------------------------------------------------------
# Charts in a browser: colours by meaning, minimum scores drawn, stacked at 390 px, print
# ---------------------------------------------------------------------------------------------

BAND_FILLS = {  # the stylesheet's colours of the band meanings
    "attention": "rgb(244, 194, 122)",
    "middle": "rgb(228, 231, 235)",
    "favourable": "rgb(159, 213, 201)",
}


def track(page: Page, scale_id: str) -> Any:
    return page.locator(f'li.profile-row[data-area="{scale_id}"]')


def test_charts_at_390px_read_correctly_in_colour_and_print(
    browser: Browser, recorder: Recorder, assessment_server: AssessmentServer, tmp_path: Path
) -> None:
    context = new_context(browser, recorder, viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        take(page, assessment_server, dict.fromkeys(SCREEN, 1))  # every area at its minimum
        assert scroll_width(page) <= 390
        for scale_id, meaning in (("fault_finding", "favourable"), ("self_awareness", "attention")):
            row = track(page, scale_id)
            expect(row.locator(".profile-value strong")).to_have_text("1.00")
            # the score's band: the better end for lower-is-better, the other end for higher
            expect(row.locator("svg.track")).to_have_attribute("data-meaning", meaning)
            fills = row.locator("rect.band").evaluate_all(
                "rs => rs.map(r => getComputedStyle(r).fill)"
            )
            order = ["favourable", "middle", "attention"]
            if scale_id == "self_awareness":
                order.reverse()
            assert fills == [BAND_FILLS[m] for m in order], scale_id
            # 1.00 draws a mark: the dot is on screen, whole, at the left end of the track
            dot = row.locator("circle.marker").bounding_box()
            bar = row.locator("svg.track").bounding_box()
            assert dot is not None and bar is not None
            assert dot["width"] >= 12 and dot["x"] >= 0
            assert abs(dot["x"] + dot["width"] / 2 - bar["x"]) < 1
            # stacked on a phone: the label above the track, the track the row's full width
            label = row.locator(".profile-label").bounding_box()
            assert label is not None and label["y"] + label["height"] <= bar["y"] + 1
            assert bar["width"] > 300
        assert_chart_text_fits(page)
        page.locator(".profile-chart").first.screenshot(path=str(tmp_path / "profile-390.png"))
        # print: colours kept, rows side by side, the profile starts on the first page
        page.emulate_media(media="print")
        adjust = page.locator("svg.track").first.evaluate(
            "s => getComputedStyle(s).printColorAdjust"
        )
        assert adjust == "exact"
        page.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi
        row = track(page, "fault_finding")
        label = row.locator(".profile-label").bounding_box()
        bar = row.locator("svg.track").bounding_box()
        assert label is not None and bar is not None and bar["x"] > label["x"] + label["width"]
        # the profile is not one unbreakable block pushed to page 2: it starts on page 1
        page.evaluate("window.scrollTo(0, 0)")
        first_row = track(page, "fault_finding").bounding_box()
        assert first_row is not None and first_row["y"] + first_row["height"] < 1000
        pdf = page.pdf(format="A4")
        (tmp_path / "report.pdf").write_bytes(pdf)
    finally:
        context.close()
    recorder.assert_only(assessment_server.netloc)
