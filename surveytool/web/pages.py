"""Rendering a page, and the answers that replace one: a message page (:class:`Refusal`), the
way to the login page (:class:`LoginRequired`) and the clinic database's error pages.

A route refuses by raising :class:`Refusal`; its exception handler renders the message page of
the route's area. Raised inside a route, the refusal also passes through the route's database
session, so a refused request commits nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment

from surveytool.clinic.errors import SchemaError

if TYPE_CHECKING:
    from surveytool.web.deps import WebState

#: The clinician pages and the questionnaire-by-link pages; their messages use the clinic layout.
CLINIC_PATHS = ("/clinic", "/q")
LOGIN_PATH = "/clinic/login"


@dataclass(frozen=True)
class Pages:
    """The templates of one area, rendered for one request (with its CSRF token)."""

    request: Request
    env: Environment
    message_template: str

    def __call__(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        csrf = getattr(self.request.state, "csrf", "")
        html = self.env.get_template(name).render(csrf=csrf, **context)
        return HTMLResponse(html, status_code=status)

    def message(self, title: str, text: str, status: int, back: str | None = None) -> HTMLResponse:
        return self(self.message_template, status, title=title, message=text, back=back)


def pages_for(request: Request, *, clinic: bool) -> Pages:
    """The self-assessment pages (``message.html``) or the clinic pages (``clinic/message.html``)."""
    state: WebState = request.app.state.web
    if clinic:
        return Pages(request, state.clinic_env, "clinic/message.html")
    return Pages(request, state.env, "message.html")


def is_clinic_path(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in CLINIC_PATHS)


class Refusal(Exception):
    """A request answered with a message page (title, text, HTTP status, a link back)."""

    def __init__(
        self, title: str, text: str, status: int, *, back: str | None = None, clinic: bool = True
    ) -> None:
        super().__init__(text)
        self.title = title
        self.text = text
        self.status = status
        self.back = back
        self.clinic = clinic


class LoginRequired(Exception):
    """A clinician page asked for without a live login session: answered with the login page."""


async def refusal_page(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refusal)
    pages = pages_for(request, clinic=exc.clinic)
    return pages.message(exc.title, exc.text, exc.status, back=exc.back)


async def to_login(request: Request, exc: Exception) -> Response:
    return RedirectResponse(LOGIN_PATH, status_code=303)


async def clinic_error_page(request: Request, exc: Exception) -> Response:
    """A clinic database that cannot be used (older schema), or a refused act: one clear page."""
    pages = pages_for(request, clinic=True)
    if isinstance(exc, SchemaError):
        return pages.message("The clinic database needs attention", str(exc), 503)
    return pages.message("This cannot be done", str(exc), 400)


async def database_error_page(request: Request, exc: Exception) -> Response:
    # the driver's message may quote data: it stays out of the page (and of the logs)
    text = "The clinic database did not answer. Please check that it is running."
    return pages_for(request, clinic=True).message("The clinic database cannot be used", text, 503)
