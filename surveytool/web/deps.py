"""What the routes depend on, as ``Annotated[..., Depends(...)]`` types: the app's state, the
clinic database session, the current clinician, the posted form, the pages of an area.

CSRF is checked by :func:`require_csrf`, which the app factory installs as an app-wide
dependency: every POST (any method but GET, HEAD and OPTIONS) of every router is checked before
its route's own dependencies run, so a new route cannot forget it.

Every dependency that touches a file or the database is a plain ``def``: FastAPI runs it in the
thread pool, off the event loop, as it does the (plain ``def``) routes. Only reading the request
body is ``async``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from jinja2 import Environment
from sqlalchemy.orm import Session

from surveytool.clinic import auth
from surveytool.clinic.models import Clinician
from surveytool.clinic.store import ClinicStore
from surveytool.instrument.model import Instrument
from surveytool.instrument.registry import bundled_paths, load_instrument
from surveytool.personal_store import PersonalStore
from surveytool.web.pages import LoginRequired, Pages, Refusal, is_clinic_path, pages_for
from surveytool.web.security import check_csrf

SESSION_COOKIE = "st_session"
CLIENT_COOKIE = "st_client"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# ---------------------------------------------------------------------------------------------
# The app's state
# ---------------------------------------------------------------------------------------------


@dataclass
class ClinicState:
    """The clinic database (opened on first use) and the login limiter's rules."""

    database_url: str | None
    limiter: auth.LoginLimiter = field(default_factory=auth.LoginLimiter)
    _store: ClinicStore | None = None
    _opening: threading.Lock = field(default_factory=threading.Lock)

    @property
    def store(self) -> ClinicStore:
        with self._opening:  # the first requests may arrive together
            if self._store is None:
                store = ClinicStore(self.database_url)
                store.ensure_ready()
                self._store = store
            return self._store

    def existing_store(self) -> ClinicStore | None:
        """The store when there is a clinic database already (never creates a SQLite file):
        what the notification timer works on."""
        if self._store is None:
            probe = ClinicStore(self.database_url)
            if probe.sqlite_path is not None and not probe.sqlite_path.exists():
                return None
        return self.store


@dataclass(frozen=True)
class WebState:
    """What every page shares: saved results, the offered instruments, templates, the clinic."""

    personal: PersonalStore
    sources: Mapping[str, Path]
    env: Environment
    clinic_env: Environment
    clinic: ClinicState

    def instrument(self, inst_id: str) -> Instrument | None:
        """An offered instrument, None when there is none of that id."""
        path = self.sources.get(inst_id)
        return None if path is None else load_instrument(path)

    def offered(self, inst_id: str) -> tuple[Instrument, str] | None:
        """An offered instrument and what to store to find it again (bundled id or path)."""
        path = self.sources.get(inst_id)
        if path is None:
            return None
        bundled = bundled_paths().get(inst_id)
        source = inst_id if bundled is not None and bundled == path else str(path.resolve())
        return load_instrument(path), source


def web_state(request: Request) -> WebState:
    state: WebState = request.app.state.web
    return state


State = Annotated[WebState, Depends(web_state)]


# ---------------------------------------------------------------------------------------------
# Pages
# ---------------------------------------------------------------------------------------------


def self_assessment_pages(request: Request) -> Pages:
    return pages_for(request, clinic=False)


def clinic_pages(request: Request) -> Pages:
    return pages_for(request, clinic=True)


SelfPages = Annotated[Pages, Depends(self_assessment_pages)]
ClinicPages = Annotated[Pages, Depends(clinic_pages)]


# ---------------------------------------------------------------------------------------------
# The posted form and CSRF
# ---------------------------------------------------------------------------------------------


async def form_fields(request: Request) -> dict[str, Any]:
    """The posted form fields (Starlette parses the body once and keeps it)."""
    return dict(await request.form())


FormFields = Annotated[dict[str, Any], Depends(form_fields)]


async def require_csrf(request: Request) -> None:
    """Refuse (403) a state-changing request whose form token is not the CSRF cookie."""
    if request.method in SAFE_METHODS:
        return
    token = (await form_fields(request)).get("csrf")
    if check_csrf(request, token if isinstance(token, str) else None):
        return
    clinic = is_clinic_path(request.url.path)
    again = (
        "Please go back, reload the page and try again."
        if clinic
        else "Please start again from the start page."
    )
    raise Refusal(
        "This page has expired",
        "For your safety the form could not be accepted (its security token is missing or out "
        f"of date). {again}",
        403,
        clinic=clinic,
    )


# ---------------------------------------------------------------------------------------------
# The clinic database
# ---------------------------------------------------------------------------------------------


def clinic_store(state: State) -> ClinicStore:
    """The clinic store, opened (and its schema checked) on the first clinic request."""
    return state.clinic.store


Store = Annotated[ClinicStore, Depends(clinic_store)]


def read_session(store: Store) -> Iterator[Session]:
    with store.read() as session:
        yield session


def write_session(store: Store) -> Iterator[Session]:
    """One write transaction for the route: committed when it returns, before the response is
    sent; rolled back when it raises (a :class:`Refusal` too)."""
    with store.write() as session:
        yield session


#: A read-only view of the clinic database, closed before the response is sent.
ReadSession = Annotated[Session, Depends(read_session, scope="function")]
#: The route's write transaction (SQLite: BEGIN IMMEDIATE at its first statement).
WriteSession = Annotated[Session, Depends(write_session, scope="function")]


# ---------------------------------------------------------------------------------------------
# The clinician
# ---------------------------------------------------------------------------------------------


def optional_clinician(request: Request, store: Store) -> Clinician | None:
    """The clinician of the request's login session, None without a live one."""
    token = request.cookies.get(SESSION_COOKIE)
    with store.read() as session:
        live = auth.session_clinician(session, token)
    if live is None:
        return None
    if live.needs_touch and token:
        with store.write() as session:
            auth.touch(session, token)
    return live.clinician


MaybeClinician = Annotated[Clinician | None, Depends(optional_clinician)]


def current_clinician(clinician: MaybeClinician) -> Clinician:
    """The logged-in clinician; without one, the login page (:class:`LoginRequired`)."""
    if clinician is None:
        raise LoginRequired
    return clinician


CurrentClinician = Annotated[Clinician, Depends(current_clinician)]
