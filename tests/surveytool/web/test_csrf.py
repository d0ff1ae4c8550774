"""CSRF on every state-changing route, found from the app itself (so a new route is covered
without touching this file): each one depends on the app-wide check, and refuses a request
without a valid token before anything else happens (no database is even opened)."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from surveytool.personal_store import PersonalStore
from surveytool.web.app import create_app
from surveytool.web.deps import SAFE_METHODS, require_csrf
from surveytool.web.security import CSRF_COOKIE

BASE = "http://127.0.0.1"


def api_routes(app: FastAPI) -> list[APIRoute]:
    """Every route of the app, those of the included routers too."""
    found: list[APIRoute] = []
    pending: list[Any] = list(app.routes)
    while pending:
        route = pending.pop()
        inner = getattr(route, "original_router", None)  # an included router
        if inner is not None:
            pending.extend(inner.routes)
        elif isinstance(route, APIRoute):
            found.append(route)
    return found


def state_changing_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every route that is not GET, HEAD or OPTIONS."""
    return sorted(
        (method, route.path)
        for route in api_routes(app)
        for method in (route.methods or set()) - SAFE_METHODS
    )


def calls(dependant: Dependant) -> list[object]:
    """The callables a route depends on, sub-dependencies too."""
    found: list[object] = [dependant.call]
    for sub in dependant.dependencies:
        found += calls(sub)
    return found


def test_the_csrf_check_is_a_dependency_of_the_whole_app(tmp_path: Path) -> None:
    app = create_app(
        store=PersonalStore(tmp_path / "data"),
        clinic_database_url=f"sqlite:///{tmp_path / 'clinic.sqlite3'}",
    )
    assert [d.dependency for d in app.router.dependencies] == [require_csrf]
    routes = state_changing_routes(app)
    paths = {path for _, path in routes}
    assert {"/i/{inst_id}/answer", "/saved/delete", "/clinic/login", "/q/answer"} <= paths
    assert len(routes) >= 12
    # no route checks it again by hand (one check, the app's)
    for route in api_routes(app):
        assert require_csrf not in calls(route.dependant), route.path


def test_every_state_changing_route_refuses_a_missing_or_wrong_token(tmp_path: Path) -> None:
    clinic_db = tmp_path / "clinic.sqlite3"
    app = create_app(
        store=PersonalStore(tmp_path / "data"), clinic_database_url=f"sqlite:///{clinic_db}"
    )
    routes = state_changing_routes(app)
    assert len(routes) >= 12
    with TestClient(app, base_url=BASE, follow_redirects=False) as client:
        client.get("/")  # the CSRF cookie, as a browser would have it
        assert client.cookies.get(CSRF_COOKIE)
        form = {"username": "alice", "password": "x" * 12, "code": "C-NEW", "text": "x"}
        form.update({"questionnaire": "ppai", "page": "0", "action": "finish", "a_FF1": "1"})
        for method, path in routes:
            url = re.sub(r"\{[^}]+\}", "1", path)
            for token in (None, "forged-" + secrets.token_urlsafe(16), ""):
                data = dict(form) if token is None else dict(form, csrf=token)
                response = client.request(method, url, data=data)
                assert response.status_code == 403, (method, url, token, response.status_code)
                assert "security token" in response.text, (method, url)
                assert response.headers["content-security-policy"]
    # refused before any route's work: no clinic database, no saved results
    assert not clinic_db.exists()
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").iterdir())
