"""Rendering a page, and the answers that replace one: a message page (:class:`Refusal`), the
way to the login page (:class:`LoginRequired`), the clinic database's error pages, and the HTML
error pages of the framework's own errors (an unknown address, a method the address does not
take, a malformed address or form, an unexpected error): every answer is a page in the layout
of its area, never JSON and never a traceback.

A route refuses by raising :class:`Refusal`; its exception handler renders the message page of
the route's area. Raised inside a route, the refusal also passes through the route's database
session, so a refused request commits nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from surveytool.clinic.errors import SchemaError
from surveytool.web.security import SECURITY_HEADERS

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
        self,
        title: str,
        text: str,
        status: int,
        *,
        back: str | None = None,
        clinic: bool = True,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(text)
        self.title = title
        self.text = text
        self.status = status
        self.back = back
        self.clinic = clinic
        self.headers = dict(headers or {})  # e.g. Retry-After on a 503


class LoginRequired(Exception):
    """A clinician page asked for without a live login session: answered with the login page."""


async def _message(
    pages: Pages, title: str, text: str, status: int, back: str | None = None
) -> HTMLResponse:
    """The message page, rendered in the threadpool: the exception handlers are ``async`` (the
    framework calls them so), and a template is rendering work, kept off the event loop."""
    return await run_in_threadpool(pages.message, title, text, status, back)


async def refusal_page(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refusal)
    pages = pages_for(request, clinic=exc.clinic)
    response = await _message(pages, exc.title, exc.text, exc.status, back=exc.back)
    response.headers.update(exc.headers)
    return response


async def to_login(request: Request, exc: Exception) -> Response:
    return RedirectResponse(LOGIN_PATH, status_code=303)


async def clinic_error_page(request: Request, exc: Exception) -> Response:
    """A clinic database that cannot be used (older schema), or a refused act: one clear page."""
    pages = pages_for(request, clinic=True)
    if isinstance(exc, SchemaError):
        return await _message(pages, "The clinic database needs attention", str(exc), 503)
    return await _message(pages, "This cannot be done", str(exc), 400)


async def database_error_page(request: Request, exc: Exception) -> Response:
    # the driver's message may quote data: it stays out of the page (and of the logs)
    text = "The clinic database did not answer. Please check that it is running."
    pages = pages_for(request, clinic=True)
    return await _message(pages, "The clinic database cannot be used", text, 503)


#: Titles and texts of the framework's error statuses, in the words of the pages.
HTTP_MESSAGES = {
    404: (
        "Page not found",
        "There is no page at this address. Please check the address, or start again.",
    ),
    405: (
        "This page cannot be used that way",
        "This address takes no such request; please use the links and buttons of the pages.",
    ),
}
DEFAULT_MESSAGE = ("This request could not be answered", "Please go back and try again.")


def _home(request: Request) -> str:
    return "/clinic" if is_clinic_path(request.url.path) else "/"


async def http_error_page(request: Request, exc: Exception) -> Response:
    """An unknown address (404), a wrong method (405) and other HTTP errors: a message page."""
    assert isinstance(exc, HTTPException)
    title, text = HTTP_MESSAGES.get(exc.status_code, DEFAULT_MESSAGE)
    pages = pages_for(request, clinic=is_clinic_path(request.url.path))
    response = await _message(pages, title, text, exc.status_code, back=_home(request))
    for name, value in (exc.headers or {}).items():  # e.g. Allow on a 405
        response.headers.setdefault(name, value)
    return response


async def validation_error_page(request: Request, exc: Exception) -> Response:
    """A malformed address (``/clinic/clients/abc``) does not name a page: 404. A malformed
    form (a field missing or of the wrong kind) is refused with 400. The fields' values are
    never echoed."""
    assert isinstance(exc, RequestValidationError)
    pages = pages_for(request, clinic=is_clinic_path(request.url.path))
    places = {str(error.get("loc", ("",))[0]) for error in exc.errors()}
    if "path" in places or "query" in places:
        title, text = HTTP_MESSAGES[404]
        return await _message(pages, title, text, 404, back=_home(request))
    return await _message(
        pages,
        "The form was not complete",
        "Something the form should have sent is missing or not in the expected form. Please go "
        "back, reload the page and try again.",
        400,
        back=_home(request),
    )


async def server_error_page(request: Request, exc: Exception) -> Response:
    """An unexpected error: a plain page (the details go to the server's log, not the page).

    This handler runs outside the security middleware (Starlette's outermost error
    middleware), so it sets the security headers itself."""
    pages = pages_for(request, clinic=is_clinic_path(request.url.path))
    response = await _message(
        pages,
        "Something went wrong",
        "The page could not be made because of an error in surveytool. Nothing you entered was "
        "stored because of it. Please try again; if it keeps happening, the server's log has "
        "the details.",
        500,
        back=_home(request),
    )
    response.headers.update(SECURITY_HEADERS)
    return response
