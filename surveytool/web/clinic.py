"""The clinician pages and the questionnaire-by-link flow, mounted in the same app as the
self-assessment pages (so they share its security middleware: allowed hosts, CSP without
'unsafe-inline', no-store, nosniff, no-referrer, and the double-submit CSRF cookie).

Clinician pages (``/clinic``): login (argon2id; session cookie HttpOnly + SameSite=Strict whose
token is stored only as a SHA-256; rate limited per username and address, and per address), the
dashboard, a page per client (scores over time, reliable change between any two
administrations, item-level answers, notes, links), acknowledging alerts, reports (HTML/PDF).

The link flow (``/q``): ``GET /q/<token>`` uses the token up, sets a client-session cookie and
redirects (303) to ``/q``, a URL without the token. The client answers on the self-assessment
page template (answers travel in hidden fields; nothing is stored until the last page), and the
answers, scores, critical-item alerts and audit row are stored in one transaction. The client
then sees a thank-you page, support information at once if an answer was critical, and their
results if the clinician chose so.

Nothing here logs client data or tokens; tokens in the access log's paths are redacted in case
someone turns the access log on.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment
from starlette.concurrency import run_in_threadpool

from surveytool.clinic import audit, auth, links, service
from surveytool.clinic.errors import ClinicError, LinkError, NotFoundError, SchemaError
from surveytool.clinic.models import BY_LINK, Administration, Client, Clinician, Link, utcnow
from surveytool.clinic.report import (
    ChangeView,
    Section,
    build_client_report,
    change_view,
    clinic_css,
    clinic_environment,
    html_to_pdf,
    render_html,
)
from surveytool.clinic.store import ClinicStore
from surveytool.instrument.model import Instrument
from surveytool.instrument.registry import load_instrument
from surveytool.report import build_report, report_context
from surveytool.web.security import check_csrf

SESSION_COOKIE = "st_session"
CLIENT_COOKIE = "st_client"

T = TypeVar("T")


# ---------------------------------------------------------------------------------------------
# Logs
# ---------------------------------------------------------------------------------------------

_TOKEN_PATH = re.compile(r"/q/[A-Za-z0-9_\-]{8,}")


def redact(text: str) -> str:
    """A log line with link tokens taken out of URL paths."""
    return _TOKEN_PATH.sub("/q/[redacted]", text)


class RedactTokens(logging.Filter):
    """Logging filter for ``uvicorn.access``: no link token reaches a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def _install_log_filter() -> None:
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactTokens) for f in logger.filters):
        logger.addFilter(RedactTokens())


# ---------------------------------------------------------------------------------------------
# The router
# ---------------------------------------------------------------------------------------------


@dataclass
class _Clinic:
    """What the clinic pages share: the store (opened on first use), templates, limiter."""

    database_url: str | None
    sources: Mapping[str, Path]
    env: Environment
    limiter: auth.LoginLimiter
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

    def instrument(self, inst_id: str) -> tuple[Instrument, str] | None:
        """An offered instrument and what to store to find it again (bundled id or path)."""
        from surveytool.instrument.registry import bundled_paths

        path = self.sources.get(inst_id)
        if path is None:
            return None
        bundled = bundled_paths().get(inst_id)
        source = inst_id if bundled is not None and bundled == path else str(path.resolve())
        return load_instrument(path), source


def mount_clinic(
    app: FastAPI, *, database_url: str | None = None, instruments: Mapping[str, Path] | None = None
) -> None:
    """Add the clinician pages and the link flow to ``app``, with their error pages: a clinic
    database that cannot be used (older schema, unreachable server) gives one clear page."""
    app.include_router(clinic_router(database_url=database_url, instruments=instruments))
    env = clinic_environment()

    def error_page(request: Request, title: str, text: str, status: int) -> HTMLResponse:
        html = env.get_template("clinic/message.html").render(
            csrf=getattr(request.state, "csrf", ""), title=title, message=text, back=None
        )
        return HTMLResponse(html, status_code=status)

    async def clinic_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, SchemaError):
            return error_page(request, "The clinic database needs attention", str(exc), 503)
        return error_page(request, "This cannot be done", str(exc), 400)

    async def database_error(request: Request, exc: Exception) -> Response:
        # the driver's message may quote data: it stays out of the page (and of the logs)
        text = "The clinic database did not answer. Please check that it is running."
        return error_page(request, "The clinic database cannot be used", text, 503)

    app.add_exception_handler(ClinicError, clinic_error)
    app.add_exception_handler(sa.exc.SQLAlchemyError, database_error)


def clinic_router(
    *, database_url: str | None = None, instruments: Mapping[str, Path] | None = None
) -> APIRouter:
    """The clinician pages and the link flow. The database opens on the first clinic request."""
    from surveytool.instrument.registry import bundled_paths

    _install_log_filter()
    state = _Clinic(
        database_url=database_url,
        sources=dict(instruments) if instruments is not None else bundled_paths(),
        env=clinic_environment(),
        limiter=auth.LoginLimiter(),
    )
    router = APIRouter()

    async def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Database and Chromium work runs in the thread pool, off the event loop."""
        return await run_in_threadpool(fn, *args, **kwargs)

    def page(name: str, request: Request, status: int = 200, **context: Any) -> HTMLResponse:
        html = state.env.get_template(name).render(csrf=request.state.csrf, **context)
        return HTMLResponse(html, status_code=status)

    def message(
        request: Request, title: str, text: str, status: int, back: str | None = None
    ) -> HTMLResponse:
        return page("clinic/message.html", request, status, title=title, message=text, back=back)

    async def form_data(request: Request) -> dict[str, Any] | HTMLResponse:
        data = dict(await request.form())
        token = data.get("csrf")
        if not check_csrf(request, token if isinstance(token, str) else None):
            return message(
                request,
                "This page has expired",
                "For your safety the form could not be accepted (its security token is missing "
                "or out of date). Please go back, reload the page and try again.",
                403,
            )
        return data

    def secure(request: Request) -> bool:
        return request.url.scheme == "https"

    # ---- authentication --------------------------------------------------------------------
    def _lookup(token: str | None) -> Clinician | None:
        with state.store.read() as session:
            live = auth.session_clinician(session, token)
        if live is None:
            return None
        if live.needs_touch and token:
            with state.store.write() as session:
                auth.touch(session, token)
        return live.clinician

    async def clinician_of(request: Request) -> Clinician | None:
        return await call(_lookup, request.cookies.get(SESSION_COOKIE))

    def to_login() -> RedirectResponse:
        return RedirectResponse("/clinic/login", status_code=303)

    async def clinician_post(request: Request) -> tuple[Clinician, dict[str, Any]] | Response:
        """A logged-in clinician's CSRF-checked form; else the login page or the refusal."""
        me = await clinician_of(request)
        if me is None:
            return to_login()
        data = await form_data(request)
        if isinstance(data, HTMLResponse):
            return data
        return me, data

    @router.get("/clinic/static/clinic.css")
    async def css() -> Response:
        return Response(clinic_css(), media_type="text/css; charset=utf-8")

    @router.get("/clinic/login", response_class=HTMLResponse)
    async def login_form(request: Request) -> Response:
        if await clinician_of(request) is not None:
            return RedirectResponse("/clinic", status_code=303)

        def any_account() -> bool:
            with state.store.read() as session:
                return bool(session.query(Clinician.id).first())

        return page("clinic/login.html", request, has_accounts=await call(any_account))

    @router.post("/clinic/login", response_class=HTMLResponse)
    async def login(request: Request) -> Response:
        data = await form_data(request)
        if isinstance(data, HTMLResponse):
            return data
        username = str(data.get("username") or "")[:64]
        password = str(data.get("password") or "")[:1024]
        address = request.client.host if request.client else "unknown"
        wait = state.limiter.retry_after(username, address)
        if wait > 0:
            return page(
                "clinic/login.html",
                request,
                429,
                has_accounts=True,
                error=f"Too many attempts. Please wait {auth.wait_text(wait)} and try again.",
                username=username,
            )

        def attempt() -> str | None:
            with state.store.write() as session:
                clinician = auth.authenticate(session, username, password)
                if clinician is None:
                    return None
                return auth.start_session(session, clinician)

        token = await call(attempt)
        if token is None:
            state.limiter.failed(username, address)
            return page(
                "clinic/login.html",
                request,
                401,
                has_accounts=True,
                error="Wrong username or password.",
                username=username,
            )
        state.limiter.succeeded(username, address)
        response = RedirectResponse("/clinic", status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=secure(request),
            path="/",
            max_age=int(auth.MAX_SESSION.total_seconds()),
        )
        return response

    @router.post("/clinic/logout")
    async def logout(request: Request) -> Response:
        data = await form_data(request)
        if isinstance(data, HTMLResponse):
            return data

        def end() -> None:
            with state.store.write() as session:
                auth.end_session(session, request.cookies.get(SESSION_COOKIE))

        await call(end)
        response = to_login()
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
        return response

    # ---- dashboard ---------------------------------------------------------------------------
    @router.get("/clinic", response_class=HTMLResponse)
    async def dashboard(request: Request) -> Response:
        me = await clinician_of(request)
        if me is None:
            return to_login()

        def load() -> dict[str, Any]:
            with state.store.read() as session:
                rows = []
                labels: dict[str, dict[str, str]] = {}
                for client in service.list_clients(session):
                    adms = service.administrations_of(session, client)
                    latest = adms[-1] if adms else None
                    if latest is not None and latest.instrument_source not in labels:
                        labels[latest.instrument_source] = _labels(latest.instrument_source)
                    rows.append(
                        {
                            "client": client,
                            "count": len(adms),
                            "latest": latest,
                            "scores": _headline_scores(latest, labels),
                            "open": sum(
                                1 for a in adms for al in a.alerts if al.acknowledged_at is None
                            ),
                        }
                    )
                alerts = service.open_alerts(session)
                return {"rows": rows, "alerts": alerts}

        data = await call(load)
        return page("clinic/dashboard.html", request, me=me, **data)

    @router.post("/clinic/clients")
    async def add_client(request: Request) -> Response:
        posted = await clinician_post(request)
        if isinstance(posted, Response):
            return posted
        me, data = posted

        def add() -> int:
            with state.store.write() as session:
                client = service.add_client(
                    session,
                    str(data.get("code") or "").strip() or None,
                    display_name=str(data.get("display_name") or ""),
                    clinician=me,
                    actor=service.actor_of(me, ""),
                )
                return client.id

        try:
            client_id = await call(add)
        except ClinicError as exc:
            return message(request, "The client was not added", str(exc), 400, back="/clinic")
        return RedirectResponse(f"/clinic/clients/{client_id}", status_code=303)

    # ---- a client's page ---------------------------------------------------------------------
    @router.get("/clinic/clients/{client_id}", response_class=HTMLResponse)
    async def client_page(request: Request, client_id: int) -> Response:
        me = await clinician_of(request)
        if me is None:
            return to_login()
        chosen = (_int(request.query_params.get("a")), _int(request.query_params.get("b")))

        def load() -> dict[str, Any]:
            with state.store.read() as session:
                client = service.get_client(session, client_id)
                built = build_client_report(session, client)
                changes = {s.instrument_id: _chosen_change(s, *chosen) for s in built.sections}
                return {
                    "client": client,
                    "report": built,
                    "changes": changes,
                    "notes": service.notes_of(session, client),
                    "links": service.links_of(session, client),
                    "authors": service.clinician_names(
                        session, [n.clinician_id for n in service.notes_of(session, client)]
                    ),
                }

        try:
            data = await call(load)
        except NotFoundError:
            return message(request, "Not found", "There is no such client.", 404, back="/clinic")
        return page(
            "clinic/client.html",
            request,
            me=me,
            now=utcnow(),
            instruments=[load_instrument(p) for p in state.sources.values()],
            expiry_choices=links.EXPIRY_CHOICES,
            default_expiry=links.DEFAULT_EXPIRY_HOURS,
            **data,
        )

    @router.post("/clinic/clients/{client_id}/notes")
    async def add_note(request: Request, client_id: int) -> Response:
        posted = await clinician_post(request)
        if isinstance(posted, Response):
            return posted
        me, data = posted

        def add() -> None:
            with state.store.write() as session:
                client = service.get_client(session, client_id)
                service.add_note(
                    session,
                    client,
                    str(data.get("text") or ""),
                    clinician=me,
                    actor=service.actor_of(me, ""),
                )

        back = f"/clinic/clients/{client_id}"
        try:
            await call(add)
        except ClinicError as exc:
            return message(request, "The note was not added", str(exc), 400, back=back)
        return RedirectResponse(back + "#notes", status_code=303)

    @router.post("/clinic/clients/{client_id}/links", response_class=HTMLResponse)
    async def send_questionnaire(request: Request, client_id: int) -> Response:
        posted = await clinician_post(request)
        if isinstance(posted, Response):
            return posted
        me, data = posted
        back = f"/clinic/clients/{client_id}"
        choice = str(data.get("questionnaire") or "")
        inst_id, _, form = choice.partition(":")
        found = state.instrument(inst_id)
        if found is None:
            return message(request, "No such questionnaire", "Choose one from the list.", 400, back)
        inst, source = found
        try:
            hours = int(str(data.get("expires_hours") or links.DEFAULT_EXPIRY_HOURS))
        except ValueError:
            hours = -1
        if hours not in links.EXPIRY_CHOICES:
            return message(request, "Invalid expiry", "Choose an expiry from the list.", 400, back)
        show_results = data.get("show_results") == "yes"

        def create() -> tuple[str, Link, Client]:
            with state.store.write() as session:
                client = service.get_client(session, client_id)
                new = links.create_link(
                    session,
                    client,
                    inst,
                    source,
                    form=form or None,
                    show_results=show_results,
                    expires_in=timedelta(hours=hours),
                    clinician=me,
                    actor=service.actor_of(me, ""),
                )
                return new.token, new.link, client

        try:
            token, link, client = await call(create)
        except ClinicError as exc:
            return message(request, "No link was made", str(exc), 400, back)
        url = str(request.base_url).rstrip("/") + f"/q/{token}"
        host = request.url.hostname or ""
        return page(
            "clinic/link_created.html",
            request,
            me=me,
            client=client,
            link=link,
            url=url,
            inst=inst,
            host=host,
            local_only=host in ("127.0.0.1", "localhost", "::1", "[::1]"),
        )

    @router.post("/clinic/links/{link_id}/revoke")
    async def revoke_link(request: Request, link_id: int) -> Response:
        posted = await clinician_post(request)
        if isinstance(posted, Response):
            return posted
        me, _data = posted

        def revoke() -> int:
            with state.store.write() as session:
                link = session.get(Link, link_id)
                if link is None:
                    raise NotFoundError("no such link")
                links.revoke(session, link, service.actor_of(me, ""))
                return link.client_id

        try:
            client_id = await call(revoke)
        except ClinicError as exc:
            return message(request, "The link was not cancelled", str(exc), 400, back="/clinic")
        return RedirectResponse(f"/clinic/clients/{client_id}#links", status_code=303)

    @router.post("/clinic/alerts/{alert_id}/ack")
    async def acknowledge(request: Request, alert_id: int) -> Response:
        posted = await clinician_post(request)
        if isinstance(posted, Response):
            return posted
        me, data = posted

        def ack() -> None:
            with state.store.write() as session:
                service.acknowledge_alert(
                    session,
                    alert_id,
                    clinician=me,
                    note=str(data.get("note") or ""),
                    actor=service.actor_of(me, ""),
                )

        try:
            await call(ack)
        except ClinicError as exc:
            return message(request, "Not acknowledged", str(exc), 400, back="/clinic")
        back = str(data.get("next") or "/clinic")
        if not re.fullmatch(r"/clinic(/clients/\d+)?", back):
            back = "/clinic"
        return RedirectResponse(back, status_code=303)

    @router.post("/clinic/clients/{client_id}/report")
    async def download_report(request: Request, client_id: int) -> Response:
        posted = await clinician_post(request)
        if isinstance(posted, Response):
            return posted
        me, data = posted
        kind = "pdf" if data.get("format") == "pdf" else "html"

        def make() -> tuple[str, bytes]:
            with state.store.read() as session:
                client = service.get_client(session, client_id)
                html = render_html(build_client_report(session, client), state.env)
            body = (
                html_to_pdf(html, footer=f"Client {client.code} · confidential")
                if kind == "pdf"
                else html.encode("utf-8")
            )
            with state.store.write() as session:
                audit.append(
                    session,
                    service.actor_of(me, ""),
                    "report.export",
                    f"client:{client.id}",
                    {"format": kind},
                )
            return client.code, body

        try:
            code, body = await call(make)
        except NotFoundError:
            return message(request, "Not found", "There is no such client.", 404, back="/clinic")
        except ClinicError as exc:
            back = f"/clinic/clients/{client_id}"
            return message(request, "No report was made", str(exc), 500, back=back)
        stamp = utcnow().strftime("%Y%m%d-%H%M")
        return Response(
            body,
            media_type="application/pdf" if kind == "pdf" else "text/html; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="report-{code}-{stamp}.{kind}"'},
        )

    # ---- the client's side: questionnaire by link ---------------------------------------------
    def link_refused(request: Request, exc: LinkError) -> HTMLResponse:
        # one answer for unknown, used, expired and cancelled links: it tells a guesser nothing
        return message(request, "This link cannot be used", str(exc), 404)

    def client_link(request: Request) -> Link | None:
        with state.store.read() as session:
            return links.session_link(session, request.cookies.get(CLIENT_COOKIE))

    async def instrument_or_none(source: str) -> Instrument | None:
        try:
            return await call(service.load_source, source)
        except ClinicError:
            return None

    def unavailable(request: Request) -> HTMLResponse:
        return message(
            request,
            "This questionnaire is not available",
            "It cannot be shown right now. Please let your clinician know.",
            503,
        )

    def ended(request: Request) -> HTMLResponse:
        return message(
            request,
            "This questionnaire session has ended",
            "Please use the link your clinician sent you, or ask them for a new one.",
            403,
        )

    @router.get("/q", response_class=HTMLResponse)
    async def questionnaire(request: Request) -> Response:
        link = await call(client_link, request)
        if link is None:
            return ended(request)
        if link.completed_at is not None:
            return RedirectResponse("/q/done", status_code=303)
        inst = await instrument_or_none(link.instrument_source)
        if inst is None:
            return unavailable(request)
        items = service.form_items(inst, link.form)
        return page(
            "clinic/q_intro.html",
            request,
            inst=inst,
            lang=inst.language,
            form=link.form,
            count=len(items),
        )

    @router.post("/q/answer", response_class=HTMLResponse)
    async def answer(request: Request) -> Response:
        from surveytool.web.app import _answers_from_form, _numeric, next_page

        data = await form_data(request)
        if isinstance(data, HTMLResponse):
            return data
        link = await call(client_link, request)
        if link is None:
            return ended(request)
        if link.completed_at is not None:
            return RedirectResponse("/q/done", status_code=303)
        inst = await instrument_or_none(link.instrument_source)
        if inst is None:
            return unavailable(request)
        form = link.form  # fixed by the clinician; a posted "form" field is ignored
        item_ids = service.form_items(inst, form)
        answers = _answers_from_form(inst, data, item_ids)
        step = next_page(inst, form, item_ids, answers, data)
        if step is None:
            values: dict[str, int | None] = {
                k: (v if isinstance(v, int) else None) for k, v in _numeric(answers).items()
            }
            started = link.used_at

            def record() -> None:
                with state.store.write() as session:
                    current_link = links.recording_link(session, request.cookies.get(CLIENT_COOKIE))
                    client = service.get_client(session, current_link.client_id)
                    service.record_administration(
                        session,
                        client,
                        inst,
                        current_link.instrument_source,
                        values,
                        form=form,
                        mode=BY_LINK,
                        clinician=None,
                        actor=f"link:{current_link.id}",
                        started_at=started,
                        link=current_link,
                    )

            try:
                await call(record)
            except LinkError:
                return RedirectResponse("/q/done", status_code=303)
            return RedirectResponse("/q/done", status_code=303)
        return page("page.html", request, form_action="/q/answer", **step)

    @router.get("/q/done", response_class=HTMLResponse)
    async def done(request: Request) -> Response:
        def load() -> tuple[Link, Administration | None] | None:
            with state.store.read() as session:
                link = links.session_link(session, request.cookies.get(CLIENT_COOKIE))
                if link is None:
                    return None
                adm = (
                    session.get(Administration, link.administration_id)
                    if link.administration_id is not None
                    else None
                )
                if adm is not None:
                    _ = (adm.answers, adm.alerts)  # load before the session closes
                return link, adm

        found = await call(load)
        if found is None:
            return ended(request)
        link, adm = found
        if adm is None:
            return RedirectResponse("/q", status_code=303)
        inst = await instrument_or_none(adm.instrument_source)
        if inst is None:
            return message(
                request, "Thank you", "Your answers have been sent to your clinician.", 200
            )
        context: dict[str, Any] = {
            "inst": inst,
            "lang": inst.language,
            "critical": [a.message for a in adm.alerts],
            "show_results": link.show_results,
        }
        if link.show_results:
            personal = build_report(inst, {a.item_id: a.value for a in adm.answers}, form=adm.form)
            # the support for critical answers is already at the top of the page
            context.update(report_context(replace(personal, critical_messages=())))
        return page("clinic/q_done.html", request, **context)

    # after /q/done and /q/answer, so that those paths are not taken for tokens
    @router.get("/q/{token}")
    async def open_link(request: Request, token: str) -> Response:
        def redeem() -> str:
            with state.store.write() as session:
                _link, client_token = links.redeem(session, token)
                return client_token

        try:
            client_token = await call(redeem)
        except LinkError as exc:
            return link_refused(request, exc)
        response = RedirectResponse("/q", status_code=303)
        response.set_cookie(
            CLIENT_COOKIE,
            client_token,
            httponly=True,
            samesite="lax",  # the link arrives from another site (mail); Strict would drop it
            secure=secure(request),
            path="/q",
            max_age=links.SESSION_HOURS * 3600,
        )
        return response

    return router


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _labels(source: str) -> dict[str, str]:
    """Scale labels of an instrument file (empty when it cannot be loaded now)."""
    try:
        inst = service.load_source(source)
    except ClinicError:
        return {}
    return {s.id: s.label for s in (*inst.subscales, *inst.composites)}


def _headline_scores(
    adm: Administration | None, labels: Mapping[str, Mapping[str, str]]
) -> list[tuple[str, float | None, str | None]]:
    """What the dashboard shows of the latest administration: composites, else subscales."""
    if adm is None:
        return []
    composites = [s for s in adm.scores if s.kind == "composite"]
    chosen = composites or [s for s in adm.scores if s.kind != "composite"][:4]
    names = labels.get(adm.instrument_source, {})
    return [(names.get(s.scale_id, s.scale_id), s.value, s.band) for s in chosen]


def _chosen_change(section: Section, a: int | None, b: int | None) -> ChangeView | None:
    """The change the clinician chose (administrations a and b), else the last two."""
    adms = section.administrations
    if len(adms) < 2:
        return None
    by_id = {adm.id: adm for adm in adms}
    if a is not None and b is not None and a in by_id and b in by_id and a != b:
        pair = sorted((by_id[a], by_id[b]), key=lambda x: (x.administered_at, x.id))
        first, second = pair[0], pair[1]
    else:
        first, second = adms[-2], adms[-1]
    return change_view(section.inst, first, second)
