"""The whole clinician flow in a real headless Chromium (Debian's, driven by Playwright).

A clinician logs in, adds a client and sends a questionnaire link; the client answers it in a
separate browser context (their own cookies); a second link follows, answered with a critical
answer; the clinician sees the scores, the change since the previous administration and the
alert, acknowledges it, and downloads the PDF report. JavaScript is off in both contexts: the
pages must not need it. Every request the browsers make must go to the local server only.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Request, expect

from surveytool.clinic import audit
from surveytool.clinic.models import Administration, Alert
from tests.surveytool.clinic.helpers import PASSWORD
from tests.surveytool.web.servers import CHROMIUM, ClinicServer

STEP_MS = 20_000

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")


def send_link(page: Page, choice: str, *, results: bool) -> str:
    """'Send a questionnaire' on the client's page; returns the link shown once."""
    page.select_option("#questionnaire", choice)
    if results:
        page.check("input[name=show_results]")
    page.get_by_role("button", name="Create link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Questionnaire link for")
    url = page.locator("#link-url").inner_text().strip()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/q/[A-Za-z0-9_-]{43}", url), url
    return url


def answer(page: Page, url: str, answers: dict[str, int], *, support: bool = False) -> None:
    """The client's side: open the link, begin, choose every answer, finish (``support``: a
    check is met, so the support page comes first: choose a country and send the answers)."""
    page.goto(url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Mood check")
    expect(page.locator("#link-expiry")).to_contain_text("This link works until")
    page.get_by_role("button", name="Begin").click()
    assert urlsplit(page.url).path == "/q"  # redirected to a URL without the token
    for item_id, value in answers.items():
        page.check(f"input[name=a_{item_id}][value='{value}']")
    page.get_by_role("button", name="See my results").click()
    if support:
        # the support page, before anything is sent, with the numbers for the chosen country
        expect(page.get_by_role("heading", name="Support, first")).to_be_visible()
        expect(page.get_by_role("heading", name="Thank you")).to_have_count(0)
        expect(page.get_by_text("hopeless all the time")).to_be_visible()
        expect(page.get_by_text("this is not an emergency service")).to_be_visible()
        page.get_by_label("Your country").select_option("AU")
        page.get_by_role("button", name="Show the numbers").click()
        expect(page.locator("dl.numbers")).to_contain_text("Lifeline: call 13 11 14")
        expect(page.locator("dl.numbers")).to_contain_text("(checked 2026-12-02)")
        page.get_by_role("button", name="Continue with the questions").click()
    assert urlsplit(page.url).path == "/q/done"
    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()


def test_clinician_and_client_in_the_browser(
    clinic_server: ClinicServer, browser: Browser, tmp_path: Path
) -> None:
    requests: list[str] = []

    def note(request: Request) -> None:
        requests.append(request.url)

    clinician_ctx = browser.new_context(java_script_enabled=False, accept_downloads=True)
    client_ctx = browser.new_context(java_script_enabled=False)
    for ctx in (clinician_ctx, client_ctx):
        ctx.set_default_timeout(STEP_MS)
        ctx.on("request", note)
    clinician = clinician_ctx.new_page()
    client = client_ctx.new_page()

    # the clinician logs in and adds a client
    clinician.goto(clinic_server.url + "/clinic")
    assert urlsplit(clinician.url).path == "/clinic/login"
    clinician.fill("#username", "alice")
    clinician.fill("#password", PASSWORD)
    clinician.get_by_role("button", name="Log in").click()
    expect(clinician.get_by_role("heading", level=1)).to_have_text("Clients")
    clinician.fill("#code", "C-BROWSER")
    clinician.fill("#display_name", "Robin Example")
    clinician.get_by_role("button", name="Add client").click()
    expect(clinician.get_by_role("heading", level=1)).to_contain_text("Client C-BROWSER")
    client_page = clinician.url

    # first questionnaire: the client answers in their own browser context
    first = send_link(clinician, "mood", results=False)
    answer(client, first, {"D1": 4, "D2": 4, "D3": 4, "W1": 2, "W2": 2, "W3": 4})
    expect(client.get_by_text("Support, first")).to_have_count(0)
    client.screenshot(path=str(tmp_path / "client-done-1.png"), full_page=True)
    client.goto(first)  # the answers were sent: the link says so, kindly, and whom to ask
    expect(client.get_by_role("heading", level=1)).to_have_text("Your answers have been sent")
    expect(client.get_by_text("please contact")).to_be_visible()

    # second questionnaire, with results, and a critical answer: support at once
    clinician.goto(client_page)
    second = send_link(clinician, "mood", results=True)
    answer(client, second, {"D1": 2, "D2": 1, "D3": 5, "W1": 4, "W2": 5, "W3": 1}, support=True)
    expect(client.get_by_role("heading", name="Support, first")).to_be_visible()
    expect(client.get_by_text("hopeless all the time")).to_be_visible()
    expect(client.locator("dl.numbers")).to_contain_text("Lifeline: call 13 11 14")  # kept
    expect(client.get_by_role("heading", name="Your results")).to_be_visible()
    client.screenshot(path=str(tmp_path / "client-done-2.png"), full_page=True)

    # the clinician sees the alert on the dashboard, the scores and the change
    clinician.goto(clinic_server.url + "/clinic")
    expect(clinician.get_by_role("heading", name=re.compile("Open alerts"))).to_be_visible()
    row = clinician.get_by_role("row", name=re.compile("C-BROWSER"))
    expect(row).to_contain_text("1 open")
    # the alert says what the clinician needs: item text, answer label, rule, and its age
    said = clinician.locator(".alert .alert-what").first
    expect(said).to_contain_text("Item D3 \u201cI felt hopeless.\u201d")
    expect(said).to_contain_text("answered 5 \u201cAlways\u201d")
    expect(said).to_contain_text("answer at or above 5 (Always)")
    expect(clinician.locator(".alert .badge").first).to_contain_text("open")
    clinician.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
    clinician.get_by_role("link", name="C-BROWSER").first.click()
    expect(clinician.locator("td[data-scale=low]")).to_have_count(2)
    expect(clinician.locator("td[data-scale=low]").nth(0)).to_contain_text("4.00")
    expect(clinician.locator("td[data-scale=low]").nth(1)).to_contain_text("2.67")
    change = clinician.locator("tr[data-change=low]")
    expect(change).to_contain_text("−1.33".replace("−", "-"))
    expect(change).to_contain_text("reliable improvement")
    expect(clinician.locator("tr[data-change=wellbeing]")).to_contain_text("reliable improvement")
    expect(clinician.locator("svg.trend")).to_have_count(2)
    expect(clinician.locator("td.flagged")).to_have_count(1)
    clinician.screenshot(path=str(tmp_path / "client-page.png"), full_page=True)

    # acknowledging the alert takes it off the dashboard (and is audited)
    clinician.fill("input[name=note]", "Called; safety plan in place.")
    clinician.get_by_role("button", name="Acknowledge").click()
    expect(clinician.get_by_role("heading", name="Acknowledged alerts")).to_be_visible()
    expect(clinician.get_by_text("Called; safety plan in place.")).to_be_visible()
    clinician.goto(clinic_server.url + "/clinic")
    expect(clinician.get_by_role("heading", name=re.compile("Open alerts"))).to_have_count(0)

    # the PDF report for the client's file
    clinician.goto(client_page)
    with clinician.expect_download() as download:
        clinician.get_by_role("button", name="Download PDF").click()
    pdf = Path(download.value.path()).read_bytes()
    (tmp_path / "report.pdf").write_bytes(pdf)
    assert pdf.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page(?!s)", pdf)) >= 2
    assert download.value.suggested_filename.startswith("report-C-BROWSER-")

    # nothing but the local server was ever asked for anything
    hosts = {urlsplit(u).netloc for u in requests if not u.startswith(("data:", "about:"))}
    assert hosts == {f"127.0.0.1:{clinic_server.port}"}, hosts
    clinician_ctx.close()
    client_ctx.close()

    store = clinic_server.store()
    with store.read() as session:
        adms = list(session.query(Administration).all())
        assert [a.mode for a in adms] == ["link", "link"]
        (alert,) = session.query(Alert).all()
        assert alert.acknowledged_at is not None and alert.acknowledgement_note
        assert audit.verify(session).ok
    store.dispose()
