"""The web application: the self-assessment pages, the saved-results page, the clinician pages
and the questionnaire-by-link pages, in one app behind one security middleware (allowed hosts,
CSP without 'unsafe-inline', no-store, nosniff, no-referrer, the double-submit CSRF cookie).

The factory only assembles: middleware, the app-wide CSRF dependency, the routers of
:mod:`surveytool.web.routes`, the exception handlers of :mod:`surveytool.web.pages` and the log
filter of :mod:`surveytool.web.logs`. What the routes share lives in ``app.state.web``
(:class:`~surveytool.web.deps.WebState`); the clinic database opens on the first clinic request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

import sqlalchemy as sa
from fastapi import Depends, FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from surveytool.clinic.errors import ClinicError
from surveytool.clinic.notify import Timer
from surveytool.clinic.report import clinic_environment
from surveytool.instrument.registry import bundled_paths
from surveytool.personal_store import PersonalStore
from surveytool.report import environment
from surveytool.web import pages
from surveytool.web.deps import ClinicState, WebState, require_csrf
from surveytool.web.logs import install_log_filter
from surveytool.web.routes import (
    clinic_accounts,
    clinic_auth,
    clinic_clients,
    clinic_links,
    health,
    questionnaire,
    saved,
    self_assessment,
)
from surveytool.web.security import DEFAULT_HOSTS, SecurityMiddleware

ROUTERS = (
    health.router,
    self_assessment.router,
    saved.router,
    clinic_auth.router,
    clinic_accounts.router,
    clinic_clients.router,
    clinic_links.router,
    questionnaire.router,
)


def create_app(
    *,
    store: PersonalStore | None = None,
    allowed_hosts: tuple[str, ...] = DEFAULT_HOSTS,
    instruments: Mapping[str, Path] | None = None,
    clinic_database_url: str | None = None,
    notify: bool = True,
) -> FastAPI:
    """The web application. ``store`` holds saved results (default: the user's data folder);
    ``instruments`` the offered instrument files by id (default: the bundled ones);
    ``clinic_database_url`` is the clinician pages' database (default: the clinic SQLite file);
    ``notify``: run the alert-notification timer while the app runs
    (:class:`surveytool.clinic.notify.Timer`)."""
    install_log_filter()
    clinic = ClinicState(clinic_database_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        timer = Timer(clinic.existing_store) if notify else None
        if timer is not None:
            timer.start()
        try:
            yield
        finally:
            if timer is not None:
                timer.stop()

    app = FastAPI(
        title="surveytool",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(require_csrf)],
        lifespan=lifespan,
    )
    app.add_middleware(SecurityMiddleware, allowed_hosts=allowed_hosts)
    app.state.web = WebState(
        personal=store or PersonalStore(),
        sources=dict(instruments) if instruments is not None else bundled_paths(),
        env=environment(),
        clinic_env=clinic_environment(),
        clinic=clinic,
    )

    static = resources.files("surveytool").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    for router in ROUTERS:
        app.include_router(router)
    app.add_exception_handler(pages.Refusal, pages.refusal_page)
    app.add_exception_handler(pages.LoginRequired, pages.to_login)
    app.add_exception_handler(ClinicError, pages.clinic_error_page)
    app.add_exception_handler(sa.exc.SQLAlchemyError, pages.database_error_page)
    app.add_exception_handler(HTTPException, pages.http_error_page)
    app.add_exception_handler(RequestValidationError, pages.validation_error_page)
    app.add_exception_handler(Exception, pages.server_error_page)
    return app
