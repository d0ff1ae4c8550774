"""Questionnaire links as real inboxes treat them, in a real headless Chromium (JavaScript off).

- A mail scanner or link preview fetches the link first (a plain GET, here with httpx as curl
  would): the link stays usable, and the client begins in the browser afterwards.
- A client answers the first page, closes the browser (the whole context, cookies and all),
  clicks the link again in a new one, presses Continue and finds the page they reached with the
  answers they gave; the server is restarted in between, so the progress is in the store.
- A client meets the distress check, sees support and closes the page without sending: the
  clinician is mailed and the dashboard shows the alert.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Page, expect

from surveytool.clinic import audit
from surveytool.clinic.models import Administration, Alert, AuditEntry, Link
from surveytool.clinic.store import ClinicStore
from surveytool.instrument.registry import load_instrument
from surveytool.web.forms import page_bounds
from tests.surveytool.clinic.helpers import PASSWORD
from tests.surveytool.clinic.mail import configure, local_smtp
from tests.surveytool.web.servers import (
    CHROMIUM,
    ClinicServer,
    add_client,
    login,
    make_link,
    seed_clinician,
)

STEP_MS = 20_000

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")


def client_page(browser: Browser) -> Page:
    ctx = browser.new_context(java_script_enabled=False)
    ctx.set_default_timeout(STEP_MS)
    return ctx.new_page()


def test_a_scanner_get_leaves_the_link_usable(
    clinic_server: ClinicServer, browser: Browser
) -> None:
    alice = login(clinic_server)
    client = add_client(clinic_server.store(), "C-SCAN")
    url = make_link(clinic_server, alice, client.id, "mood", results=False)
    for _ in range(3):  # the mail scanner, the link preview, the client's own preview
        scanned = httpx.get(url, follow_redirects=True)
        assert scanned.status_code == 200 and "Begin" in scanned.text
        assert "st_client" not in scanned.headers.get("set-cookie", "")
    page = client_page(browser)
    page.goto(url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Mood check")
    expect(page.locator("#link-expiry")).to_contain_text("This link works until")
    page.get_by_role("button", name="Begin").click()
    assert urlsplit(page.url).path == "/q"
    for item_id, value in {"D1": 2, "D2": 2, "D3": 1, "W1": 4, "W2": 4, "W3": 2}.items():
        page.check(f"input[name=a_{item_id}][value='{value}']")
    page.get_by_role("button", name="See my results").click()
    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    expect(page.locator("#review-time")).to_contain_text("Your clinician will see your answers")
    page.context.close()
    with clinic_server.store().read() as session:
        (adm,) = session.execute(
            sa.select(Administration).where(Administration.client_id == client.id)
        ).scalars()
        assert adm.mode == "link"


def test_close_the_tab_and_resume_after_a_restart(browser: Browser, tmp_path: Path) -> None:
    store = ClinicStore(f"sqlite:///{tmp_path / 'clinic.sqlite3'}")
    store.ensure_ready()
    seed_clinician(store)
    client = add_client(store, "C-RESUME")
    store.dispose()
    server = ClinicServer(tmp_path).start()
    screen = load_instrument("ppai@1.0.0").short_form_by_id["screen"].items
    try:
        alice = login(server)
        url = make_link(server, alice, client.id, "ppai:screen", results=False)
        page = client_page(browser)
        page.goto(url)
        page.get_by_role("button", name="Begin").click()
        expect(page.get_by_text("Page 1 of 3")).to_be_visible()
        pages = [screen[slice(*page_bounds(len(screen), k))] for k in range(3)]  # 5, 5, 5
        first = pages[0]
        for item_id in first:
            page.check(f"input[name=a_{item_id}][value='4']")
        page.get_by_role("button", name="Next").click()
        expect(page.get_by_text("Page 2 of 3")).to_be_visible()
        page.check(f"input[name=a_{pages[1][0]}][value='2']")  # chosen, not yet sent
        page.context.close()  # the client closes the browser

        server.stop()  # and the server restarts before they come back
        server.start()
        url = url.replace(urlsplit(url).netloc, f"127.0.0.1:{server.port}")
        page = client_page(browser)
        page.goto(url)
        expect(page.locator("#resume-note")).to_contain_text("You have answered 5 of 15")
        page.get_by_role("button", name="Continue").click()
        expect(page.get_by_text("Page 2 of 3")).to_be_visible()  # where they stopped
        page.get_by_role("button", name="Back").click()
        expect(page.get_by_text("Page 1 of 3")).to_be_visible()
        for item_id in first:  # the answers of page 1, from the store
            expect(page.locator(f"input[name=a_{item_id}][value='4']")).to_be_checked()
        page.get_by_role("button", name="Next").click()
        for item_id in pages[1]:
            page.check(f"input[name=a_{item_id}][value='3']")
        page.get_by_role("button", name="Next").click()
        expect(page.get_by_text("Page 3 of 3")).to_be_visible()
        for item_id in pages[2]:
            page.check(f"input[name=a_{item_id}][value='1']")
        page.get_by_role("button", name="See my results").click()
        expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
        # the link has done its work now, and says so
        page.goto(url)
        expect(page.get_by_role("heading", level=1)).to_have_text("Your answers have been sent")
        page.context.close()
    finally:
        server.stop()
    with store.read() as session:
        (adm,) = session.execute(
            sa.select(Administration).where(Administration.client_id == client.id)
        ).scalars()
        got = {a.item_id: a.value for a in adm.answers}
        assert got == {
            **dict.fromkeys(first, 4),
            **dict.fromkeys(pages[1], 3),
            **dict.fromkeys(pages[2], 1),
        }
        link = session.execute(sa.select(Link).where(Link.client_id == client.id)).scalar_one()
        assert link.progress is None and link.completed_at is not None
        actions = [e.action for e in session.execute(sa.select(AuditEntry)).scalars()]
        assert "link.resume" in actions
        assert audit.verify(session).ok
    store.dispose()


def test_a_client_who_closes_the_page_after_the_distress_check_still_raises_the_alert(
    browser: Browser, tmp_path: Path
) -> None:
    """The bundled inventory's distress check on a clinician's link, in the browser: the client
    answers "Agree" (below the top answer, the check's threshold), sees the support page, and
    closes it without sending anything; the clinician is mailed by the server's timer, and
    their dashboard shows the alert with the item's text, the answer's label and the rule."""
    inst = load_instrument("ppai")  # the newest bundled version, with its distress check
    (check,) = inst.checks
    store = ClinicStore(f"sqlite:///{tmp_path / 'clinic.sqlite3'}")
    store.ensure_ready()
    seed_clinician(store, email="alice@practice.example")
    client = add_client(store, "C-CLOSED")
    with local_smtp() as (inbox, port):
        configure(store, port, notify_every_seconds="1", escalation_email="")
        store.dispose()
        server = ClinicServer(tmp_path, cli=True, offers=("--offer", "ppai")).start()
        try:
            alice = login(server)
            url = make_link(server, alice, client.id, "ppai", results=False)
            page = client_page(browser)
            page.goto(url)
            expect(page.locator("#who-sees")).to_contain_text("your clinician is told")
            page.get_by_role("button", name="Begin").click()
            item_ids = [i.id for i in inst.items]
            first = item_ids[slice(*page_bounds(len(item_ids), 0))]
            assert check.item in first  # asked early, on the first page
            for item_id in first:
                value = 4 if item_id == check.item else 3
                page.check(f"input[name=a_{item_id}][value='{value}']")
            page.get_by_role("button", name="Next").click()
            expect(page.get_by_role("heading", level=1)).to_have_text(
                "Before the next question: support"
            )
            expect(page.get_by_text("your clinician has been told already")).to_be_visible()
            page.screenshot(path=str(tmp_path / "support.png"), full_page=True)
            page.context.close()  # the client closes the page: nothing is sent

            deadline = time.monotonic() + 30
            while not inbox.mails and time.monotonic() < deadline:
                time.sleep(0.2)
            assert [m[1] for m in inbox.mails] == [["alice@practice.example"]]

            clinician = client_page(browser)
            clinician.goto(server.url + "/clinic")
            clinician.fill("#username", "alice")
            clinician.fill("#password", PASSWORD)
            clinician.get_by_role("button", name="Log in").click()
            expect(clinician.get_by_role("heading", name=re.compile("Open alerts"))).to_be_visible()
            row = clinician.get_by_role("row", name=re.compile("C-CLOSED"))
            expect(row).to_contain_text("1 open")
            said = clinician.locator(".alert .alert-what")
            expect(said).to_have_count(1)
            label = inst.scale_of(check.item).labels[4]
            expect(said).to_contain_text(
                f"Item {check.item} \u201c{inst.item_by_id[check.item].text}\u201d: answered 4 "
                f"\u201c{label}\u201d, which meets the rule: "
                f"{check.rule.describe(inst.scale_of(check.item))}."
            )
            expect(clinician.locator(".alert .alert-unsent")).to_contain_text("not sent")
            clinician.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
            clinician.context.close()
        finally:
            server.stop()
    with store.read() as session:
        (alert,) = session.execute(sa.select(Alert)).scalars()
        assert alert.administration_id is None and alert.client_id == client.id
        assert session.execute(sa.select(Administration)).first() is None
        assert audit.verify(session).ok
    store.dispose()
