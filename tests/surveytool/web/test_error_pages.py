"""Error answers are pages: an unknown address, a wrong method, a malformed address or form and an
unexpected error each get an HTML page in the layout of their area, with the security headers,
never JSON, a validation dump or a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Form
from fastapi.testclient import TestClient

from surveytool.clinic.store import ClinicStore
from surveytool.personal_store import PersonalStore
from surveytool.web.app import create_app
from tests.surveytool.clinic.helpers import PASSWORD
from tests.surveytool.web.servers import add_client, csrf_of, seed_clinician

BASE = "http://127.0.0.1"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    url = f"sqlite:///{tmp_path / 'clinic.sqlite3'}"
    store = ClinicStore(url)
    store.ensure_ready()
    seed_clinician(store)
    add_client(store, "C-ONE")
    store.dispose()
    app = create_app(store=PersonalStore(tmp_path / "data"), clinic_database_url=url)
    boom = APIRouter()

    @boom.get("/boom")
    def _boom() -> None:
        raise RuntimeError("secret detail 12345")

    @boom.post("/number")
    def _number(n: Annotated[int, Form()]) -> None:
        raise AssertionError("not reached")

    app.include_router(boom)
    with TestClient(app, base_url=BASE, raise_server_exceptions=False) as c:
        yield c


def logged_in(client: TestClient) -> TestClient:
    page = client.get("/clinic/login")
    response = client.post(
        "/clinic/login",
        data={"csrf": csrf_of(page.text), "username": "alice", "password": PASSWORD},
        follow_redirects=False,
    )
    assert response.status_code == 303
    return client


def assert_page(response: httpx.Response, status: int, title: str) -> str:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"]
    html = response.text
    assert html.startswith("<!DOCTYPE html>")
    assert f"<h1>{title}</h1>" in html
    for leak in ('"detail"', "Traceback", "value_error", "int_parsing", '{"', "secret detail"):
        assert leak not in html, leak
    return html


@pytest.mark.parametrize("path", ["/nope", "/i/ppai/nope", "/static/nope.css", "/saved/x"])
def test_unknown_addresses_answer_an_html_page(client: TestClient, path: str) -> None:
    html = assert_page(client.get(path), 404, "Page not found")
    assert '<a href="/">Back to the start</a>' in html
    assert 'class="clinic"' not in html  # the self-assessment layout


def test_unknown_clinic_addresses_use_the_clinic_layout(client: TestClient) -> None:
    html = assert_page(client.get("/clinic/nope"), 404, "Page not found")
    assert 'class="clinic"' in html and '<a href="/clinic">Back</a>' in html


def test_a_malformed_client_id_is_not_found_not_a_validation_dump(client: TestClient) -> None:
    logged_in(client)
    assert client.get("/clinic/clients/1").status_code == 200  # the control: a real client
    for path in ("/clinic/clients/abc", "/clinic/clients/1.5", "/clinic/clients/%20"):
        assert_page(client.get(path), 404, "Page not found")


def test_a_wrong_method_answers_a_page(client: TestClient) -> None:
    response = client.get("/saved/delete")
    assert_page(response, 405, "This page cannot be used that way")
    assert response.headers["allow"] == "POST"


def test_a_form_without_its_fields_answers_a_page(client: TestClient) -> None:
    token = csrf_of(client.get("/saved").text)
    for data in ({"csrf": token}, {"csrf": token, "n": "<b>x</b>"}):
        html = assert_page(client.post("/number", data=data), 400, "The form was not complete")
        assert "<b>x</b>" not in html and "&lt;b&gt;" not in html  # values are not echoed


def test_an_unexpected_error_answers_a_plain_page(client: TestClient) -> None:
    assert_page(client.get("/boom"), 500, "Something went wrong")
