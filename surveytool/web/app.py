"""The self-assessment pages: choose an instrument, answer a page at a time, read the results.

Nothing is stored on the server while a person answers: the answers given so far travel in the
form itself (hidden fields), so "back" keeps them and closing the tab forgets them. Results are
stored only when the person asks ("Save to compare later"), in the local SQLite database.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from surveytool.errors import SurveytoolError
from surveytool.instrument.model import Instrument
from surveytool.instrument.registry import bundled_paths, load_instrument
from surveytool.personal_store import PersonalStore, new_code, normalize_code
from surveytool.report import (
    PersonalReport,
    build_report,
    environment,
    render_report,
    report_context,
)
from surveytool.scoring.change import reliable_change
from surveytool.web.security import DEFAULT_HOSTS, SecurityMiddleware, check_csrf

PAGE_SIZE = 7
SKIP = "skip"


def _answers_from_form(
    inst: Instrument, data: Mapping[str, Any], item_ids: list[str]
) -> dict[str, str]:
    """The answers posted so far (``a_<item>`` fields), validated against each item's scale."""
    out: dict[str, str] = {}
    for item_id in item_ids:
        raw = data.get(f"a_{item_id}")
        if raw is None:
            continue
        value = str(raw).strip()
        if value == SKIP or value == "":
            out[item_id] = SKIP
            continue
        try:
            out[item_id] = str(inst.scale_of(item_id).code_for(value))
        except ValueError:
            continue  # a crafted or stale value: treated as not answered
    return out


def _numeric(answers: Mapping[str, str]) -> dict[str, object]:
    return {k: (None if v == SKIP else int(v)) for k, v in answers.items()}


def next_page(
    inst: Instrument,
    form: str | None,
    item_ids: list[str],
    answers: Mapping[str, str],
    data: Mapping[str, Any],
) -> dict[str, Any] | None:
    """Where a posted page leads: None when the person finished, else the next ``page.html``
    context (``action`` back, next or finish; answers outside the shown page kept hidden)."""
    pages = math.ceil(len(item_ids) / PAGE_SIZE)
    try:
        current = int(str(data.get("page", "-1")))
    except ValueError:
        current = -1
    action = str(data.get("action", "next"))
    if action == "finish" or (action == "next" and current + 1 >= pages):
        return None
    target = max(0, current - 1) if action == "back" else min(pages - 1, current + 1)
    shown = item_ids[target * PAGE_SIZE : (target + 1) * PAGE_SIZE]
    return {
        "inst": inst,
        "lang": inst.language,
        "form": form,
        "page": target,
        "pages": pages,
        "items": [inst.item_by_id[i] for i in shown],
        "answers": answers,
        "kept": {k: v for k, v in answers.items() if k not in shown},
        "total": len(item_ids),
        "answered": sum(1 for v in answers.values() if v != SKIP),
    }


def create_app(
    *,
    store: PersonalStore | None = None,
    allowed_hosts: tuple[str, ...] = DEFAULT_HOSTS,
    instruments: Mapping[str, Path] | None = None,
    clinic_database_url: str | None = None,
) -> FastAPI:
    """The web application. ``store`` holds saved results (default: the user's data folder);
    ``clinic_database_url`` is the clinician pages' database (default: the clinic SQLite file)."""
    app = FastAPI(title="surveytool", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(SecurityMiddleware, allowed_hosts=allowed_hosts)
    static = resources.files("surveytool").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    env = environment()
    personal = store or PersonalStore()
    sources = dict(instruments) if instruments is not None else bundled_paths()
    app.state.personal_store = personal
    from surveytool.web.clinic import mount_clinic  # clinician pages and links (/clinic, /q)

    mount_clinic(app, database_url=clinic_database_url, instruments=sources)

    def page(name: str, request: Request, status: int = 200, **context: Any) -> HTMLResponse:
        html = env.get_template(name).render(csrf=request.state.csrf, **context)
        return HTMLResponse(html, status_code=status)

    def message(request: Request, title: str, text: str, status: int) -> HTMLResponse:
        return page("message.html", request, status, title=title, message=text)

    def instrument(inst_id: str) -> Instrument | None:
        path = sources.get(inst_id)
        return None if path is None else load_instrument(path)

    async def form_data(request: Request) -> dict[str, Any] | HTMLResponse:
        data = dict(await request.form())
        token = data.get("csrf")
        if not check_csrf(request, token if isinstance(token, str) else None):
            return message(
                request,
                "This page has expired",
                "For your safety the form could not be accepted (its security token is missing "
                "or out of date). Please start again from the start page.",
                403,
            )
        return data

    @dataclass(frozen=True)
    class Posted:
        """A valid post to one instrument's pages: the form fields and the answers in them."""

        data: dict[str, Any]
        inst: Instrument
        form: str | None
        item_ids: list[str]
        answers: dict[str, str]

    async def posted(request: Request, inst_id: str) -> Posted | HTMLResponse:
        """CSRF-checked form data, the instrument, its form and the answers posted so far."""
        data = await form_data(request)
        if isinstance(data, HTMLResponse):
            return data
        inst = instrument(inst_id)
        if inst is None:
            return message(request, "Not found", f"There is no questionnaire {inst_id!r}.", 404)
        form = str(data.get("form") or "") or None
        if form is not None and form not in inst.short_form_by_id:
            return message(request, "Unknown form", "That short form does not exist.", 400)
        item_ids = inst.form_items(form)
        return Posted(data, inst, form, item_ids, _answers_from_form(inst, data, item_ids))

    def results_page(
        request: Request,
        inst: Instrument,
        report: PersonalReport,
        answers: Mapping[str, str],
        *,
        saved: bool = False,
        saved_code: str | None = None,
        note: str | None = None,
    ) -> HTMLResponse:
        return page(
            "results.html",
            request,
            **report_context(report),
            hidden=answers,
            saved=saved,
            saved_code=saved_code,
            message=note,
            suggested_code=new_code(),
            db_path=str(personal.path),
        )

    @app.get("/", response_class=HTMLResponse)
    async def index(request: Request) -> HTMLResponse:
        loaded = [load_instrument(p) for p in sources.values()]
        return page("index.html", request, instruments=loaded)

    @app.get("/i/{inst_id}", response_class=HTMLResponse)
    async def intro(request: Request, inst_id: str) -> HTMLResponse:
        inst = instrument(inst_id)
        if inst is None:
            return message(request, "Not found", f"There is no questionnaire {inst_id!r}.", 404)
        return page("intro.html", request, inst=inst, lang=inst.language)

    @app.post("/i/{inst_id}/answer", response_class=HTMLResponse)
    async def answer(request: Request, inst_id: str) -> HTMLResponse:
        post = await posted(request, inst_id)
        if isinstance(post, HTMLResponse):
            return post
        data, inst, form, item_ids, answers = (
            post.data,
            post.inst,
            post.form,
            post.item_ids,
            post.answers,
        )
        step = next_page(inst, form, item_ids, answers, data)
        if step is None:
            report = build_report(inst, _numeric(answers), form=form)
            return results_page(request, inst, report, answers)
        return page("page.html", request, **step)

    @app.post("/i/{inst_id}/report")
    async def download(request: Request, inst_id: str) -> Response:
        post = await posted(request, inst_id)
        if isinstance(post, HTMLResponse):
            return post
        inst = post.inst
        report = build_report(inst, _numeric(post.answers), form=post.form)
        code = str(post.data.get("code") or "")
        if code and personal.path.exists():
            # downloaded right after saving: the report shows the change and history as the
            # page did (the last saved result is this one)
            with contextlib.suppress(SurveytoolError):  # a bad code: no history in the report
                report = with_history(inst, report, personal.history(code, inst.id)[:-1])
        stamp = report.created.strftime("%Y%m%d-%H%M")
        return Response(
            render_report(report, standalone=True),
            media_type="text/html; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{inst.id}-report-{stamp}.html"'
            },
        )

    @app.post("/i/{inst_id}/save", response_class=HTMLResponse)
    async def save(request: Request, inst_id: str) -> HTMLResponse:
        post = await posted(request, inst_id)
        if isinstance(post, HTMLResponse):
            return post
        data, inst, form, answers = post.data, post.inst, post.form, post.answers
        report = build_report(inst, _numeric(answers), form=form)
        code = str(data.get("code") or "")
        try:
            normalize_code(code)  # a bad code is refused before anything is written to disk
            earlier = personal.history(code, inst.id)
            personal.save(
                code,
                provenance=report.provenance,
                answers=report.answers,
                scores=_scores_of(report),
                created_at=report.created,
            )
        except SurveytoolError as exc:
            return results_page(request, inst, report, answers, note=str(exc))
        report = with_history(inst, report, earlier)
        note = (
            f"Saved under your code. You have {len(earlier) + 1} saved results for this "
            "questionnaire."
        )
        return results_page(request, inst, report, answers, saved=True, saved_code=code, note=note)

    @app.get("/saved", response_class=HTMLResponse)
    async def saved_page(request: Request) -> HTMLResponse:
        return page("saved.html", request, db_path=str(personal.path))

    @app.post("/saved/delete", response_class=HTMLResponse)
    async def delete_saved(request: Request) -> HTMLResponse:
        data = await form_data(request)
        if isinstance(data, HTMLResponse):
            return data
        code = str(data.get("code") or "")
        try:
            normalize_code(code)
            # nothing saved yet: answer without creating the database (nothing is stored unasked)
            count = personal.delete(code) if personal.path.exists() else 0
        except SurveytoolError as exc:
            return page("saved.html", request, message=str(exc), db_path=str(personal.path))
        text = (
            f"Deleted {count} saved result{'s' if count != 1 else ''}."
            if count
            else "Nothing was saved under that code."
        )
        return page("saved.html", request, message=text, db_path=str(personal.path))

    return app


def _scores_of(report: PersonalReport) -> dict[str, float | None]:
    return {s.id: s.score for s in (*report.subscales, *report.composites)}


def with_history(inst: Instrument, report: PersonalReport, earlier: list[Any]) -> PersonalReport:
    """Add change since the last saved result and the history of saved results."""
    if not earlier:
        return report
    last = earlier[-1]
    now = _scores_of(report)
    before = {k: v for k, v in last.scores.items() if v is not None}
    after = {k: v for k, v in now.items() if v is not None}
    change = tuple(reliable_change(inst, before, after))
    history = (
        *tuple((r.created_at.strftime("%Y-%m-%d"), dict(r.scores)) for r in earlier),
        (report.created.astimezone(UTC).strftime("%Y-%m-%d"), now),
    )
    return replace(report, change=change, history=history)


def run_server(
    host: str, port: int, store: PersonalStore | None = None, database_url: str | None = None
) -> None:  # pragma: no cover
    """Serve the app with uvicorn (blocking)."""
    import uvicorn

    hosts = (*DEFAULT_HOSTS, host) if host not in DEFAULT_HOSTS else DEFAULT_HOSTS
    app = create_app(store=store, allowed_hosts=hosts, clinic_database_url=database_url)
    shown = f"[{host}]" if ":" in host else host
    print(f"surveytool is running: open http://{shown}:{port}/ in your browser (Ctrl-C stops it)")
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
