"""The web app in process (fastapi.testclient): pages, numbers, escaping, security, saved results.

Forms are submitted the way a browser submits them: ``submit`` reads the form from the page
(hidden fields, checked radios, text fields), applies the person's choices and posts it with the
pressed button, so "back keeps the answers" is tested through the pages themselves.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from surveytool.instrument.registry import bundled_file, bundled_versions, load_instrument
from surveytool.personal_store import PersonalStore
from surveytool.web.app import create_app
from surveytool.web.forms import PAGE_SIZE, page_bounds, page_hits, posted_hits
from surveytool.web.security import CSRF_COOKIE
from tests.surveytool.clinic.helpers import MOOD_YAML, write_mood
from tests.surveytool.test_report import (
    FULL,
    PPAI,
    SCREEN,
    area_html,
    assert_escaped,
    assert_page_matches_score,
    expected_scores,
    external_references,
    hostile_instrument,
    random_answers,
    sections,
    shown_scores,
)

BASE = "http://127.0.0.1"
#: The pages offer ppai 1.0.0 here: these tests use its items and short form ("screen").
PPAI_1 = {"ppai": bundled_file("ppai@1.0.0")}
ANSWER_URL = "/i/ppai/answer"
POST_URLS = ["/i/ppai/answer", "/i/ppai/report", "/i/ppai/save", "/saved/delete"]
DB_NAME = "surveytool.sqlite3"

Answers = Mapping[str, int | None]


# ---------------------------------------------------------------------------------------------
# A small browser: forms as the page has them
# ---------------------------------------------------------------------------------------------


@dataclass
class Form:
    action: str
    fields: list[tuple[str, str]] = field(default_factory=list)  # what a browser would submit
    radios: dict[str, list[str]] = field(default_factory=dict)  # name -> every offered value
    checked: dict[str, str] = field(default_factory=dict)  # name -> checked value
    buttons: list[tuple[str, str, str]] = field(default_factory=list)  # name, value, text


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._button: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(action=a["action"]))
        elif tag == "input" and self.forms:
            form = self.forms[-1]
            kind, name, value = a.get("type", "text"), a.get("name", ""), a.get("value", "")
            if kind == "radio":
                form.radios.setdefault(name, []).append(value)
                if "checked" in a:
                    form.checked[name] = value
            elif name:
                form.fields.append((name, value))
        elif tag == "button" and self.forms:
            self._button = [a.get("name", ""), a.get("value", ""), ""]

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button[2] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "button" and self._button is not None and self.forms:
            name, value, text = self._button
            self.forms[-1].buttons.append((name, value, text.strip()))
            self._button = None


def forms(html: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


def form_of(html: str, action_part: str) -> Form:
    found = [f for f in forms(html) if action_part in f.action]
    assert len(found) == 1, f"expected one form posting to *{action_part}*"
    return found[0]


def submit(
    client: TestClient,
    html: str,
    action_part: str,
    *,
    choose: Mapping[str, str] | None = None,
    button: str | None = None,
    fill: Mapping[str, str] | None = None,
) -> httpx.Response:
    """Submit a form of the page: radios as checked on the page plus ``choose``, then ``button``
    (of several forms posting to ``action_part``, the one with that button)."""
    matching = [f for f in forms(html) if action_part in f.action]
    with_button = [f for f in matching if any(b[2] == button for b in f.buttons)]
    form = (
        with_button[0]
        if len(matching) > 1 and len(with_button) == 1
        else form_of(html, action_part)
    )
    checked = dict(form.checked)
    for name, value in (choose or {}).items():
        assert value in form.radios[name], f"{value!r} is not offered for {name}"
        checked[name] = value
    data = [(k, (fill or {}).get(k, v)) for k, v in form.fields]
    data += list(checked.items())
    if button is not None:
        match = [b for b in form.buttons if b[2] == button]
        assert match, f"no button {button!r} in {form.buttons}"
        if match[0][0]:
            data.append((match[0][0], match[0][1]))
    posted: dict[str, list[str]] = {}
    for name, value in data:
        posted.setdefault(name, []).append(value)
    response: httpx.Response = client.post(form.action, data=posted)
    return response


def checked_radios(html: str) -> dict[str, str]:
    """Item id -> checked value on an item page."""
    return {k[2:]: v for k, v in form_of(html, "/answer").checked.items() if k.startswith("a_")}


def items_on_page(html: str) -> list[str]:
    return re.findall(r'<fieldset class="item" id="q-([^"]+)">', html)


def hidden_answers(html: str, action_part: str = "/answer") -> dict[str, str]:
    return {k[2:]: v for k, v in form_of(html, action_part).fields if k.startswith("a_")}


def as_choices(answers: Answers) -> dict[str, str]:
    return {f"a_{k}": "skip" if v is None else str(v) for k, v in answers.items()}


# ---------------------------------------------------------------------------------------------
# Fixtures and flows
# ---------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_user_data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever defaults to the user's data folder writes into the test's folder instead."""
    monkeypatch.setenv("SURVEYTOOL_DATA_DIR", str(tmp_path / "user-data"))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def client(data_dir: Path) -> Iterator[TestClient]:
    app = create_app(store=PersonalStore(data_dir), instruments=PPAI_1)
    with TestClient(app, base_url=BASE) as c:
        yield c


def start(client: TestClient, form: str = "", inst_id: str = "ppai") -> httpx.Response:
    """Open the instrument and press Start with the chosen version."""
    intro = client.get(f"/i/{inst_id}")
    assert intro.status_code == 200
    return submit(client, intro.text, "/answer", choose={"form": form}, button="Start")


CONTINUE = "Continue with the questions"


def submit_country(client: TestClient, html: str, code: str) -> httpx.Response:
    """The country chooser of a support section: choose ``code`` and show the numbers."""
    chooser = [f for f in forms(html) if any(b[2] == "Show the numbers" for b in f.buttons)]
    assert len(chooser) == 1
    data = [*chooser[0].fields, ("country", code), ("action", "country")]
    posted: dict[str, list[str]] = {}
    for name, value in data:
        if name == "country" and value != code:
            continue
        posted.setdefault(name, []).append(value)
    response: httpx.Response = client.post(chooser[0].action, data=posted)
    return response


def is_support_page(html: str) -> bool:
    return 'id="choices-title"' in html


def past_support(client: TestClient, response: httpx.Response) -> httpx.Response:
    """On the support page (a check was met on the page before), continue with the questions."""
    if is_support_page(response.text):
        return submit(client, response.text, "/answer", button=CONTINUE)
    return response


def take(
    client: TestClient,
    answers: Answers,
    form: str = "",
    inst_id: str = "ppai",
    supported: list[str] | None = None,
) -> httpx.Response:
    """Answer every page through the forms and finish; returns the results page. A support page
    on the way (a check met) is continued past; ``supported`` collects the items of the page
    before each one."""
    response = start(client, form, inst_id)
    page_items: list[str] = []
    while "your results" not in response.text:
        assert response.status_code == 200, response.text
        html = response.text
        if is_support_page(html):
            if supported is not None:
                supported.append(",".join(page_items))
            response = submit(client, html, "/answer", button=CONTINUE)
            continue
        page_items = items_on_page(html)
        on_page = items_on_page(html)
        choose = {k: v for k, v in as_choices(answers).items() if k[2:] in on_page}
        last = "See my results" in html
        response = submit(
            client, html, "/answer", choose=choose, button="See my results" if last else "Next"
        )
    assert response.status_code == 200
    return response


def csrf_token(client: TestClient) -> str:
    html = client.get("/i/ppai").text
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match
    assert client.cookies.get(CSRF_COOKIE) == match.group(1)
    return match.group(1)


def db_files(folder: Path) -> list[Path]:
    return sorted(folder.glob(f"{DB_NAME}*")) if folder.exists() else []


# ---------------------------------------------------------------------------------------------
# Pages
# ---------------------------------------------------------------------------------------------


def test_start_page_lists_instruments_with_length_and_time(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    html = response.text
    assert '<a href="/i/ppai">Pushing People Away Inventory</a>' in html
    assert "58 statements, about 10 minutes; short form: 15 statements." in html
    assert "not a diagnosis" in html and "stay on this computer" in html
    assert '<a href="/saved">' in html


def test_intro_says_what_it_is_and_offers_the_short_form(client: TestClient) -> None:
    html = client.get("/i/ppai").text
    assert "This is a self-reflection aid, not a diagnosis." in html
    assert "Your answers stay on this computer" in html
    assert "Over the past month" in html
    assert PPAI.instructions.split(".")[0] in html
    form = form_of(html, "/i/ppai/answer")
    assert form.radios["form"] == ["", "screen"]
    assert form.checked["form"] == ""  # the full form unless the short one is chosen
    assert "PPAI screen (15 statements)" in html


def test_unknown_instrument_and_form(client: TestClient) -> None:
    assert client.get("/i/nope").status_code == 404
    token = csrf_token(client)
    response = client.post("/i/nope/answer", data={"csrf": token})
    assert response.status_code == 404
    assert "There is no questionnaire &#39;nope&#39;" in response.text
    for url in ("/i/ppai/answer", "/i/ppai/report", "/i/ppai/save"):
        response = client.post(url, data={"csrf": token, "form": "nope", "code": "abcdefgh"})
        assert response.status_code == 400, url


def test_pages_progress_back_keeps_answers_and_skip(client: TestClient) -> None:
    page1 = start(client, "screen")
    html = page1.text
    assert "Page 1 of 3" in html and "0 of 15 answered" in html
    assert items_on_page(html) == SCREEN[:5]  # 15 statements: three pages of 5, not 7, 7 and 1
    assert checked_radios(html) == {}  # nothing chosen for the person
    assert "Back" not in [b[2] for b in form_of(html, "/answer").buttons]
    # every item offers the scale, the missing code and skip, with visible labels
    assert form_of(html, "/answer").radios["a_FF1"] == ["1", "2", "3", "4", "5", "9", "skip"]
    assert "<legend>When someone starts to matter to me" in html
    assert "Prefer not to say" in html and "<span>Skip</span>" in html

    first = {"FF1": "4", "DW1": "2", "EC1": "9", "SB1": "skip", "CE1": "5"}
    page2 = submit(
        client, html, "/answer", choose={f"a_{k}": v for k, v in first.items()}, button="Next"
    )
    html2 = page2.text
    assert "Page 2 of 3" in html2
    # one count, the report's: neither the skip nor "Prefer not to say" is an answer
    assert "3 of 15 answered (1 “Prefer not to say”, 1 skipped)" in html2
    assert items_on_page(html2) == SCREEN[5:10]
    assert hidden_answers(html2) == first  # carried in the form, nothing on the server

    second = {"FR1": "3", "FA1": "1"}
    back = submit(
        client, html2, "/answer", choose={f"a_{k}": v for k, v in second.items()}, button="Back"
    )
    html1 = back.text
    assert "Page 1 of 3" in html1
    assert checked_radios(html1) == first  # back shows the answers given, skip as skip
    assert hidden_answers(html1) == second  # and keeps those given on the later page

    # change an answer on the way back, then forward again: both pages kept
    again = submit(client, html1, "/answer", choose={"a_FF1": "1"}, button="Next")
    assert checked_radios(again.text) == second
    page3 = submit(client, again.text, "/answer", button="Next")
    assert "Page 3 of 3" in page3.text
    assert items_on_page(page3.text) == SCREEN[10:]
    assert "See my results" in [b[2] for b in form_of(page3.text, "/answer").buttons]
    # LS5 (the distress check) is on page 3 and left unanswered: a gentle support page first
    support = submit(client, page3.text, "/answer", choose={"a_TB1": "5"}, button="See my results")
    assert is_support_page(support.text) and "Support, first" not in support.text
    assert items_on_page(support.text) == [] and "your results" not in support.text
    # loads nothing from another host: every reference is a path on this server
    assert [r for r in external_references(support.text) if not r.startswith("/")] == []
    # choosing a country shows its numbers with their check dates, and keeps the answers
    ie = submit_country(client, support.text, "IE")
    assert 'Samaritans Ireland: call <strong class="number">116 123</strong>' in ie.text
    assert "(checked 2026-12-02)" in ie.text and "112" in ie.text
    kept = [{k: v for k, v in f.fields if k.startswith("a_")} for f in forms(ie.text)]
    assert kept == [{k: v for k, v in f.fields if k.startswith("a_")} for f in forms(support.text)]
    assert kept[0] and kept[0] == kept[1]  # the chooser and the choices carry the answers
    results = past_support(client, ie)
    assert "your results" in results.text
    answers = {**first, "FF1": "1", **second, "TB1": "5"}
    numeric = {k: (None if v == "skip" else int(v)) for k, v in answers.items()}
    assert_page_matches_score(results.text, PPAI, numeric, "screen")


@pytest.mark.parametrize("n_items", [1, 6, 7, 8, 14, 15, 29, 58, 100])
def test_pages_are_balanced(n_items: int) -> None:
    bounds = [page_bounds(n_items, k) for k in range(-(-n_items // PAGE_SIZE))]
    sizes = [last - first for first, last in bounds]
    assert bounds[0][0] == 0 and bounds[-1][1] == n_items
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))  # no gap
    assert max(sizes) <= PAGE_SIZE and max(sizes) - min(sizes) <= 1


def test_the_checks_of_a_posted_page_whatever_was_pressed(tmp_path: Path) -> None:
    """``posted_hits`` (what a clinician's link alerts on as it saves a page) sees every check
    met on the posted page; ``page_hits`` (whether the support page comes next) leaves out a
    check whose support page was shown, and going back. Going back counts no skip."""
    text = MOOD_YAML.replace("on_skip: none", "on_skip: alert")
    inst = load_instrument(write_mood(tmp_path, text))
    ids = [i.id for i in inst.items]
    met = {"D1": "2", "D3": "5"}
    for action in ("next", "finish", "country", "back"):
        data = {"page": "0", "action": action}
        assert [h.check for h in posted_hits(inst, ids, met, data)] == ["hopeless"], action
        expected = [] if action == "back" else ["hopeless"]
        assert [h.check for h in page_hits(inst, ids, met, data)] == expected, action
    shown = {"page": "0", "action": "next", "shown": "hopeless"}
    assert [h.check for h in posted_hits(inst, ids, met, shown)] == ["hopeless"]
    assert page_hits(inst, ids, met, shown) == ()
    # D3 left unanswered: a skip when going on, nothing when going back
    unanswered = {"D1": "2"}
    (skip,) = posted_hits(inst, ids, unanswered, {"page": "0", "action": "next"})
    assert (skip.check, skip.reason, skip.alert) == ("hopeless", "skip", True)
    assert posted_hits(inst, ids, unanswered, {"page": "0", "action": "back"}) == ()
    assert posted_hits(inst, ids, met, {"page": "-1", "action": "next"}) == ()


def test_the_full_form_has_no_short_last_page(client: TestClient) -> None:
    html = start(client).text
    assert "Page 1 of 9" in html and len(items_on_page(html)) == 7
    sizes = []
    while "See my results" not in [b[2] for b in form_of(html, "/answer").buttons]:
        sizes.append(len(items_on_page(html)))
        # LS5 left unanswered brings the (gentle) support page on the way
        html = past_support(client, submit(client, html, "/answer", button="Next")).text
    sizes.append(len(items_on_page(html)))
    assert sizes == [7, 7, 7, 7, 6, 6, 6, 6, 6] and sum(sizes) == len(FULL)


def test_next_is_the_default_button_and_both_non_answers_are_explained(
    client: TestClient,
) -> None:
    page2 = submit(client, start(client, "screen").text, "/answer", button="Next").text
    buttons = [b[2] for b in form_of(page2, "/answer").buttons]
    assert buttons == ["Next", "Back"]  # Enter submits with the first: forward, never back
    explained = re.search(r'<p class="muted" id="not-answering">(.*?)</p>', page2, re.S)
    assert explained is not None
    assert "“Prefer not to say” says that you chose not to answer" in explained.group(1)
    assert "“Skip” leaves it open for now" in explained.group(1)
    assert "Neither counts toward a score" in explained.group(1)


def test_invalid_posted_answers_are_dropped(client: TestClient) -> None:
    token = csrf_token(client)
    data = {
        "csrf": token,
        "form": "screen",
        "action": "finish",
        "a_FF1": "7",  # outside the scale
        "a_DW1": "abc",
        "a_EC1": "-1",
        "a_SB1": "3",
        "a_XX9": "3",  # not an item
    }
    results = client.post(ANSWER_URL, data=data)
    assert results.status_code == 200
    assert hidden_answers(results.text, "/report") == {"SB1": "3"}
    assert_page_matches_score(results.text, PPAI, {"SB1": 3}, "screen")


@pytest.mark.parametrize(
    ("form", "answers"),
    [
        ("screen", dict.fromkeys(SCREEN, 3)),
        ("screen", {i: (k % 5) + 1 for k, i in enumerate(SCREEN)}),
        ("screen", random_answers(SCREEN, 11, skip=0.3)),
        ("", random_answers(FULL, 3)),
        ("", random_answers(FULL, 4, skip=0.35, missing=0.1)),
    ],
    ids=["screen-3", "screen-mixed", "screen-random", "full-random", "full-sparse"],
)
def test_page_numbers_equal_surveytool_score(
    client: TestClient, form: str, answers: dict[str, int | None]
) -> None:
    results = take(client, answers, form)
    expected = assert_page_matches_score(results.text, PPAI, answers, form or None)
    # the same numbers in the downloaded report
    report = submit(
        client, results.text, "/report", button="Download the report (HTML, prints to PDF)"
    )
    assert report.status_code == 200
    assert shown_scores(report.text) == {k: v for k, v in expected.items() if v is not None}
    # and in the profile chart's text alternative
    for sub in PPAI.subscales:
        value = expected[sub.id]
        said = f"{value} on 1 to 5" if value is not None else "not enough answers for a score"
        assert f'aria-label="{sub.label}: {said}' in results.text


def test_insufficient_subscales_say_so(client: TestClient) -> None:
    answers = dict.fromkeys(SCREEN, 4) | {"FF1": None, "DW1": 9}
    results = take(client, answers, "screen").text
    for scale_id in ("fault_finding", "withdrawal"):
        assert "Not enough answers to show a score here (0 of 1" in area_html(results, scale_id)
    assert 'data-score="fault_finding"' not in results
    assert_page_matches_score(results, PPAI, answers, "screen")


def test_critical_answer_puts_support_first(client: TestClient) -> None:
    for critical in (5, 4):  # "Mostly like me" is below the top answer, and critical
        supported: list[str] = []
        results = take(
            client, dict.fromkeys(SCREEN, 2) | {"LS5": critical}, "screen", supported=supported
        ).text
        first, last = page_bounds(len(SCREEN), 2)  # LS5 is on the third page
        assert supported == [",".join(SCREEN[first:last])]  # the support page after LS5's page
        main = results[results.index("<main") :]
        assert sections(main)[0] == "support-first"
        assert main.index("Support, first") < main.index("What this is and is not")
        assert main.index("Support, first") < main.index("<svg")
    supported = []
    calm = take(client, dict.fromkeys(SCREEN, 2) | {"LS5": 3}, "screen", supported=supported).text
    assert supported == []
    assert "Support, first" not in calm
    assert sections(calm[calm.index("<main") :])[0] == "what-this-is"


def test_instrument_text_is_escaped_on_every_page(tmp_path: Path) -> None:
    path = hostile_instrument(tmp_path)
    app = create_app(store=PersonalStore(tmp_path / "data"), instruments={"hostile": path})
    with TestClient(app, base_url=BASE) as c:
        index = c.get("/")
        assert_escaped(index.text)
        assert_escaped(c.get("/i/hostile").text)
        for form in ("", "short"):
            page = start(c, form, "hostile")
            assert_escaped(page.text)
            assert "&lt;script&gt;alert(1)&lt;/script&gt; not said" in page.text  # missing code
            support = submit(c, page.text, "/answer", choose={"a_H1": "3"}, button="See my results")
            assert is_support_page(support.text)  # H1 = 3 meets the check: support first
            assert_escaped(support.text)
            results = past_support(c, support)
            assert_escaped(results.text)
            assert "Support, first" in results.text  # the hostile critical message is shown
            report = submit(
                c, results.text, "/report", button="Download the report (HTML, prints to PDF)"
            )
            assert_escaped(report.text)
            assert_page_matches_score(report.text, path, {"H1": 3}, form or None)


# ---------------------------------------------------------------------------------------------
# Security
# ---------------------------------------------------------------------------------------------


def valid_post_data(token: str) -> dict[str, str]:
    return {"csrf": token, "form": "screen", "a_FF1": "3", "code": "maple-river-42"}


@pytest.mark.parametrize("url", POST_URLS)
def test_post_without_or_with_a_wrong_csrf_token_is_refused(
    client: TestClient, data_dir: Path, url: str
) -> None:
    token = csrf_token(client)
    good = valid_post_data(token)
    no_token = {k: v for k, v in good.items() if k != "csrf"}
    for data in (
        no_token,
        good | {"csrf": ""},
        good | {"csrf": token[:-1] + "x"},
        good | {"csrf": "x" * len(token)},
    ):
        response = client.post(url, data=data)
        assert response.status_code == 403, (url, data)
        assert "This page has expired" in response.text
    # a token without its cookie (another browser's token) is refused as well
    fresh = TestClient(client.app, base_url=BASE)
    assert fresh.post(url, data=good).status_code == 403
    # the cookie alone (no form field) does not do either
    assert client.post(url, data=no_token, headers={"X-CSRF": token}).status_code == 403
    assert db_files(data_dir) == []
    assert client.post(url, data=good).status_code == 200  # the control: the token works


@pytest.mark.parametrize("url", POST_URLS)
@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "http://127.0.0.1.evil.example"},
        {"Origin": "http://localhost"},  # another host name than the page's, too
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "cross-site", "Origin": "http://127.0.0.1"},
    ],
    ids=["evil-origin", "lookalike-origin", "other-local-name", "sec-fetch-cross", "both"],
)
def test_cross_site_posts_are_refused(
    client: TestClient, data_dir: Path, url: str, headers: dict[str, str]
) -> None:
    token = csrf_token(client)
    response = client.post(url, data=valid_post_data(token), headers=headers)
    assert response.status_code == 403
    assert "refused" in response.text
    assert db_files(data_dir) == []


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://127.0.0.1"},
        {"Sec-Fetch-Site": "same-origin", "Origin": "http://127.0.0.1"},
        {"Origin": "null"},
        {},
    ],
    ids=["same-origin", "sec-fetch-same", "null-origin", "none"],
)
def test_same_site_posts_with_token_are_accepted(
    client: TestClient, headers: dict[str, str]
) -> None:
    token = csrf_token(client)
    response = client.post(ANSWER_URL, data=valid_post_data(token), headers=headers)
    assert response.status_code == 200


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:8000", "127.0.0.2", "localhost.evil", ""]
)
def test_host_header_not_allowed_is_refused(client: TestClient, host: str) -> None:
    for method, url in (
        ("GET", "/"),
        ("GET", "/i/ppai"),
        ("GET", "/static/style.css"),
        ("POST", ANSWER_URL),
    ):
        response = client.request(method, url, headers={"Host": host})
        assert response.status_code == 400, (method, url)
        assert_security_headers(response)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.1:8000", "localhost:8000", "[::1]:8000"])
def test_allowed_hosts(client: TestClient, host: str) -> None:
    assert client.get("/", headers={"Host": host}).status_code == 200


def assert_security_headers(response: httpx.Response) -> None:
    csp = response.headers.get("content-security-policy", "")
    directives = {d.strip().split(" ")[0]: d.strip() for d in csp.split(";") if d.strip()}
    assert directives.get("default-src") == "default-src 'none'", csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "script-src" not in directives  # no scripts at all (default-src 'none')
    assert directives.get("form-action") == "form-action 'self'"
    assert directives.get("frame-ancestors") == "frame-ancestors 'none'"
    assert response.headers.get("x-content-type-options") == "nosniff"
    assert response.headers.get("referrer-policy") == "no-referrer"
    assert response.headers.get("cache-control") == "no-store"


def test_every_page_has_the_security_headers(client: TestClient) -> None:
    responses = [
        client.get("/"),
        client.get("/i/ppai"),
        client.get("/saved"),
        client.get("/i/nope"),
        client.get("/static/style.css"),
        client.get("/no/such/page"),
    ]
    token = csrf_token(client)
    page = start(client, "screen")
    results = take(client, dict.fromkeys(SCREEN, 3), "screen")
    responses += [page, results]
    responses.append(
        submit(client, results.text, "/report", button="Download the report (HTML, prints to PDF)")
    )
    responses.append(submit(client, results.text, "/save", button="Save to compare later"))
    responses.append(client.post("/saved/delete", data={"csrf": token, "code": "maple-river-42"}))
    responses.append(client.post(ANSWER_URL, data={}))  # 403
    responses.append(
        client.post(ANSWER_URL, data={"csrf": token}, headers={"Origin": "http://x.example"})
    )
    assert [r.status_code for r in responses] == [
        200,
        200,
        200,
        404,
        200,
        404,
        200,
        200,
        200,
        200,
        200,
        403,
        403,
    ]
    for response in responses:
        assert_security_headers(response)


def test_csrf_cookie_is_strict_and_http_only(data_dir: Path) -> None:
    with TestClient(
        create_app(store=PersonalStore(data_dir), instruments=PPAI_1), base_url=BASE
    ) as c:
        cookie = c.get("/").headers["set-cookie"]
        assert cookie.startswith(f"{CSRF_COOKIE}=")
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
        # issued once: the next page does not set it again, and the token stays the same
        assert "set-cookie" not in c.get("/i/ppai").headers
        assert csrf_token(c) == csrf_token(c)
    with TestClient(
        create_app(store=PersonalStore(data_dir), instruments=PPAI_1), base_url=BASE
    ) as other:
        assert csrf_token(other) != c.cookies.get(CSRF_COOKIE)  # one token per browser


def test_pages_load_nothing_from_another_host(client: TestClient) -> None:
    results = take(client, dict.fromkeys(SCREEN, 3) | {"LS5": 5}, "screen")
    for html in (
        client.get("/").text,
        client.get("/i/ppai").text,
        start(client, "screen").text,
        results.text,
    ):
        assert "<script" not in html
        for ref in external_references(html):
            assert ref.startswith("/") and not ref.startswith("//"), ref


def test_downloaded_report_is_one_self_contained_file(client: TestClient) -> None:
    answers = random_answers(FULL, 5) | {"LS5": 5}
    results = take(client, answers, "")
    response = submit(
        client, results.text, "/report", button="Download the report (HTML, prints to PDF)"
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    disposition = response.headers["content-disposition"]
    assert re.fullmatch(r'attachment; filename="ppai-report-\d{8}-\d{4}\.html"', disposition)
    html = response.text
    assert external_references(html) == []
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:|//|/static)", html, re.I)
    assert "<link" not in html and "<script" not in html
    style = re.search(r"<style>(.*?)</style>", html, re.S)
    assert style and "@media print" in style.group(1)
    assert "<form" not in html  # nothing to press in the file
    assert sections(html)[0] == "support-first"
    assert_page_matches_score(html, PPAI, answers)


# ---------------------------------------------------------------------------------------------
# Saved results
# ---------------------------------------------------------------------------------------------


def save(client: TestClient, results_html: str, code: str) -> httpx.Response:
    response = submit(
        client, results_html, "/save", button="Save to compare later", fill={"code": code}
    )
    assert response.status_code == 200
    return response


def change_rows(html: str) -> dict[str, tuple[str, str, str]]:
    """Label -> (before, now, change) from the "Change since last time" table."""
    section = html[
        html.index('id="change-title"') : html.index("</table>", html.index('id="change-title"'))
    ]
    rows = re.findall(
        r'<th scope="row">([^<]+)</th>\s*<td>([^<]+)</td><td>([^<]+)</td><td>([^<]+)</td>', section
    )
    return {label: (before, now, diff) for label, before, now, diff in rows}


def test_nothing_is_stored_by_default(client: TestClient, data_dir: Path) -> None:
    results = take(client, random_answers(SCREEN, 1), "screen")
    submit(client, results.text, "/report", button="Download the report (HTML, prints to PDF)")
    client.get("/saved")
    assert not data_dir.exists() or list(data_dir.iterdir()) == []
    assert "Save to compare later" in results.text
    assert f"{data_dir / DB_NAME}" in results.text  # where it would be saved is shown


def test_save_then_compare_with_the_same_code(client: TestClient, data_dir: Path) -> None:
    code = "maple-river-heron-42"
    first_answers = dict.fromkeys(SCREEN, 2) | {"SA1": 1, "FF1": None}
    second_answers = dict.fromkeys(SCREEN, 4) | {"SA1": 5, "DW1": None}
    first = take(client, first_answers, "screen")
    assert db_files(data_dir) == []
    saved = save(client, first.text, code)
    assert (data_dir / DB_NAME).is_file()  # created on first save
    assert "Saved under your code. This is your first saved result" in saved.text
    assert "Change since last time" not in saved.text and "history-panel" not in saved.text
    assert "/save" not in saved.text  # saved once: the save form is gone
    assert_page_matches_score(saved.text, PPAI, first_answers, "screen")

    second = take(client, second_answers, "screen")
    compared = save(client, second.text, code)
    html = compared.text
    assert "You now have 2 saved results" in html
    assert "Change since last time" in html
    assert_page_matches_score(html, PPAI, second_answers, "screen")
    before = expected_scores(PPAI, first_answers, "screen")
    now = expected_scores(PPAI, second_answers, "screen")
    rows = change_rows(html)
    scored_both = [s for s in PPAI.subscales if before[s.id] and now[s.id]]
    assert len(scored_both) == 12
    for sub in scored_both:
        b, n = before[sub.id], now[sub.id]
        assert b is not None and n is not None
        assert rows[sub.label][:2] == (b, n), sub.id
        assert float(rows[sub.label][2]) == pytest.approx(float(n) - float(b), abs=0.011)
    for scale_id, when in (("fault_finding", "last time"), ("withdrawal", "this time")):
        # scored only once: no numbers compared, the row says which time had too few answers
        assert PPAI.subscale_by_id[scale_id].label not in rows
        row = re.search(rf'<tr data-area="{scale_id}">(.*?)</tr>', html, re.S)
        assert row and f"Not enough answers {when}, so there is no change to show" in row.group(1)
    assert "not known*" in html and "does not have yet" in html  # no reliability yet
    assert "Your history" in html
    assert html.count('<figure class="history-panel"') == len(PPAI.subscales) + len(PPAI.composites)
    stamps = re.findall(r'<span class="attempt-when">([^<]+)</span>, short form', html)
    assert len(stamps) == 2
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", s) for s in stamps)

    # the report downloaded from this page shows the same change table and history
    report_form = re.search(r'<form method="post" action="/i/ppai/report">(.*?)</form>', html, re.S)
    assert report_form is not None
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', report_form.group(1)))
    assert fields["code"] == code
    downloaded = client.post("/i/ppai/report", data=fields)
    assert downloaded.status_code == 200
    assert "Change since last time" in downloaded.text and "Your history" in downloaded.text
    assert change_rows(downloaded.text) == rows

    # another code does not see these results
    other = save(client, take(client, second_answers, "screen").text, "other-code-seven-77")
    assert "your first saved result" in other.text and "Change since last time" not in other.text


def test_code_is_normalised(client: TestClient) -> None:
    save(client, take(client, dict.fromkeys(SCREEN, 2), "screen").text, "  Maple River 11 ")
    again = save(client, take(client, dict.fromkeys(SCREEN, 3), "screen").text, "maple-river-11")
    assert "Change since last time" in again.text


def test_too_short_code_is_explained_and_nothing_saved(client: TestClient, data_dir: Path) -> None:
    results = take(client, dict.fromkeys(SCREEN, 2), "screen")
    response = save(client, results.text, "abc")
    assert "at least 6 characters" in response.text
    assert "Save to compare later" in response.text  # can try again
    assert not data_dir.exists()  # neither the database nor the key file


def test_guessable_code_is_explained_and_nothing_saved(client: TestClient, data_dir: Path) -> None:
    results = take(client, dict.fromkeys(SCREEN, 2), "screen")
    offered = form_of(results.text, "/save").fields
    suggested = dict(offered)["code"]  # the page offers a generated code by default
    assert re.fullmatch(r"[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}", suggested)
    response = save(client, results.text, "123456")
    assert "too easy to guess" in response.text
    assert "Save to compare later" in response.text  # can try again, with a new code offered
    assert not data_dir.exists()
    assert "first saved result" in save(client, response.text, suggested).text


def test_deleting_before_anything_was_saved_creates_nothing(
    client: TestClient, data_dir: Path
) -> None:
    page = client.get("/saved")
    button = "Delete my saved results"
    nothing = submit(
        client, page.text, "/saved/delete", fill={"code": "amber-birch-1"}, button=button
    )
    assert nothing.status_code == 200
    assert "Nothing was saved under that code." in nothing.text
    short = submit(client, page.text, "/saved/delete", fill={"code": "abc"}, button=button)
    assert "at least 6 characters" in short.text
    assert not data_dir.exists()


def test_delete_removes_only_that_codes_results(client: TestClient, data_dir: Path) -> None:
    mine, theirs = "amber-birch-cedar-10", "willow-yarrow-echo-99"
    for value in (2, 3):
        save(client, take(client, dict.fromkeys(SCREEN, value), "screen").text, mine)
    save(client, take(client, dict.fromkeys(SCREEN, 4), "screen").text, theirs)
    store = PersonalStore(data_dir)
    assert len(store.history(mine, "ppai")) == 2 and len(store.history(theirs, "ppai")) == 1

    page = client.get("/saved")
    assert f"{data_dir / DB_NAME}" in page.text
    asked = submit(
        client, page.text, "/saved/delete", fill={"code": mine}, button="Delete my saved results"
    )
    assert asked.status_code == 200
    assert "There are 2 saved results under this code" in asked.text
    assert len(store.history(mine, "ppai")) == 2  # nothing deleted before the confirmation
    kept = client.get("/saved")  # "No, keep them" is a link back: still all there
    assert kept.status_code == 200 and len(store.history(mine, "ppai")) == 2
    deleted = submit(client, asked.text, "/saved/delete", button="Yes, delete 2 saved results")
    assert deleted.status_code == 200
    assert "Deleted 2 saved results." in deleted.text
    assert store.history(mine, "ppai") == [] and len(store.history(theirs, "ppai")) == 1

    # with the same code again: a fresh start, no comparison
    fresh = save(client, take(client, dict.fromkeys(SCREEN, 2), "screen").text, mine)
    assert "your first saved result" in fresh.text and "Change since last time" not in fresh.text
    # the other code still compares with its earlier result
    later = save(client, take(client, dict.fromkeys(SCREEN, 5), "screen").text, theirs)
    assert "Change since last time" in later.text

    nothing = submit(
        client,
        page.text,
        "/saved/delete",
        fill={"code": "nobody-here-1"},
        button="Delete my saved results",
    )
    assert "Nothing was saved under that code." in nothing.text
    asked = submit(
        client, page.text, "/saved/delete", fill={"code": theirs}, button="Delete my saved results"
    )
    one = submit(client, asked.text, "/saved/delete", button="Yes, delete 2 saved results")
    assert "Deleted 2 saved results." in one.text
    assert store.history(mine, "ppai") != []


def test_code_is_not_stored_in_clear_text(client: TestClient, data_dir: Path) -> None:
    code = "quartz-thistle-umber-77"
    for value in (2, 4):
        save(client, take(client, dict.fromkeys(SCREEN, value), "screen").text, code)
    files = [p for p in data_dir.iterdir() if p.is_file()]
    assert data_dir / DB_NAME in files
    for path in files:
        blob = path.read_bytes().lower()
        for needle in (code, "quartz-thistle", "quartz", code.replace("-", " ")):
            assert needle.encode() not in blob, (path.name, needle)
            assert needle.encode("utf-16-le") not in blob, (path.name, needle)


def test_database_is_created_in_surveytool_data_dir_on_first_save(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "from-env"
    monkeypatch.setenv("SURVEYTOOL_DATA_DIR", str(folder))
    with TestClient(create_app(instruments=PPAI_1), base_url=BASE) as c:
        results = take(c, dict.fromkeys(SCREEN, 3), "screen")
        assert f"{folder / DB_NAME}" in results.text
        c.get("/saved")
        assert not folder.exists()
        save(c, results.text, "garnet-heron-12")
        assert (folder / DB_NAME).is_file()


def test_load_instrument_is_what_the_pages_use() -> None:
    """The instrument the pages serve here is the one the tests score with; by default the
    pages offer the newest bundled version."""
    app = create_app(instruments=PPAI_1)
    assert app.state.web.instrument("ppai").content_hash == PPAI.content_hash
    default = create_app().state.web
    assert default.instrument("ppai").content_hash == load_instrument("ppai").content_hash
    assert default.instrument("ppai").version == bundled_versions()["ppai"][-1].version


def test_the_newest_ppai_puts_support_first_after_the_page_with_its_distress_item(
    data_dir: Path,
) -> None:
    """The pages offer ppai 2.0.0 by default; its distress check (DX1, in no scale) brings the
    support page right after the page holding DX1, and "Support, first" on the results."""
    newest = load_instrument("ppai")
    (check,) = newest.checks
    order = [i.id for i in newest.items]
    with TestClient(create_app(store=PersonalStore(data_dir)), base_url=BASE) as c:
        supported: list[str] = []
        answers = dict.fromkeys(order, 2) | {check.item: 5}
        results = take(c, answers, supported=supported).text
        k = next(
            p
            for p in range(-(-len(order) // PAGE_SIZE))
            if page_bounds(len(order), p)[0]
            <= order.index(check.item)
            < page_bounds(len(order), p)[1]
        )
        first, last = page_bounds(len(order), k)
        assert supported == [",".join(order[first:last])]
        main = results[results.index("<main") :]
        assert sections(main)[0] == "support-first"
        supported = []
        calm = take(c, dict.fromkeys(order, 2), supported=supported).text
        assert supported == [] and "Support, first" not in calm


def test_the_country_is_kept_with_saved_results(client: TestClient, data_dir: Path) -> None:
    code = "cedar-lake-otter-58"
    results = take(client, dict.fromkeys(SCREEN, 2), "screen")
    # the results page's chooser: its form, the country, and its own button (back to results)
    [chooser] = [
        f for f in forms(results.text) if any(b[2] == "Show the numbers" for b in f.buttons)
    ]
    data = [(k, v) for k, v in chooser.fields if k != "country"] + [("country", "IE")]
    data += [(b[0], b[1]) for b in chooser.buttons if b[2] == "Show the numbers"]
    posted: dict[str, list[str]] = {}
    for name, value in data:
        posted.setdefault(name, []).append(value)
    chosen = client.post(chooser.action, data=posted)
    assert chosen.status_code == 200
    assert "your results" in chosen.text
    assert re.search(r'<option value="IE" selected>', chosen.text)
    save(client, chosen.text, code)
    [first] = PersonalStore(data_dir).history(code, "ppai")
    assert first.country == "IE"
    # a later visit that does not choose again: the saved country's numbers, and kept again
    again = save(client, take(client, dict.fromkeys(SCREEN, 3), "screen").text, code)
    assert re.search(r'<option value="IE" selected>', again.text)
    assert [r.country for r in PersonalStore(data_dir).history(code, "ppai")] == ["IE", "IE"]
