"""What the routes depend on, as ``Annotated[..., Depends(...)]`` types: the app's state, the
clinic database session, the current clinician, the posted form, the pages of an area.

CSRF is checked by :func:`require_csrf`, which the app factory installs as an app-wide
dependency: every POST (any method but GET, HEAD and OPTIONS) of every router is checked before
its route's own dependencies run, so a new route cannot forget it.

Every dependency that touches a file or the database is a plain ``def``: FastAPI runs it in the
thread pool, off the event loop, as it does the (plain ``def``) routes. Only reading the request
body and the write transaction (:func:`write_session`, whose database work runs in threads) are
``async``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import anyio
import anyio.to_thread
from fastapi import Depends, Request
from jinja2 import Environment
from sqlalchemy.orm import Session

from surveytool.clinic import auth
from surveytool.clinic.models import Clinician
from surveytool.clinic.store import ClinicStore
from surveytool.instrument.model import Instrument
from surveytool.instrument.registry import bundled_file_ref, load_instrument, versioned_ref
from surveytool.personal_store import PersonalStore
from surveytool.web.pages import LoginRequired, Pages, Refusal, is_clinic_path, pages_for
from surveytool.web.security import check_csrf

SESSION_COOKIE = "st_session"
CLIENT_COOKIE = "st_client"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Threads for ending the routes' write transactions (:attr:`ClinicState.ending`).
ENDING_THREADS = 4


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
    _ending: tuple[asyncio.AbstractEventLoop, anyio.CapacityLimiter] | None = None

    @property
    def store(self) -> ClinicStore:
        with self._opening:  # the first requests may arrive together
            if self._store is None:
                store = ClinicStore(self.database_url)
                store.ensure_ready()
                self._store = store
            return self._store

    @property
    def ending(self) -> anyio.CapacityLimiter:
        """Threads that only end write transactions (:func:`write_session`): a route holding
        SQLite's write lock can always commit, however many routes fill the main thread pool
        waiting for that lock (a sync ``yield`` dependency would end it in the main pool). One
        per event loop: a test may run the same app under several loops, one after another."""
        loop = asyncio.get_running_loop()
        if self._ending is None or self._ending[0] is not loop:
            self._ending = (loop, anyio.CapacityLimiter(ENDING_THREADS))
        return self._ending[1]

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
        """An offered instrument and what to store to find it again (bundled ``id@version`` or
        path)."""
        path = self.sources.get(inst_id)
        if path is None:
            return None
        inst = load_instrument(path)
        ref = versioned_ref(inst) if bundled_file_ref(path) is not None else None
        return inst, ref or str(path.resolve())


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


async def write_session(store: Store, state: State) -> AsyncIterator[Session]:
    """One write transaction for the route: committed when it returns, before the response is
    sent; rolled back when it raises (a :class:`Refusal` too).

    The route's statements run in its thread (SQLite: ``BEGIN IMMEDIATE`` at the first); the
    commit or rollback runs in a thread of its own pool (:attr:`ClinicState.ending`), shielded,
    so a client that goes away cannot leave the transaction open. The routes that many clients
    use at once (a link's pages) write in ``with store.write()`` in their own thread instead,
    around the writes alone: the write lock is not held while a page renders or scores."""
    ending = state.clinic.ending
    session = store.begin_write()
    try:
        yield session
    except BaseException as exc:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(store.end_write, session, exc, limiter=ending)
        raise
    with anyio.CancelScope(shield=True):
        await anyio.to_thread.run_sync(store.end_write, session, None, limiter=ending)


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
