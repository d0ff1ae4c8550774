"""The self-assessment pages: choose an instrument, answer a page at a time, read the results,
download the report, save it to compare later.

Nothing is stored on the server while a person answers (the answers travel in the form, see
:mod:`surveytool.web.forms`). Results are stored only when the person asks ("Save to compare
later"), in the local SQLite database.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response

from surveytool.errors import SurveytoolError
from surveytool.instrument.model import Instrument
from surveytool.instrument.registry import load_instrument
from surveytool.personal_store import check_new_code, new_code
from surveytool.report import (
    Attempt,
    PersonalReport,
    build_report,
    render_report,
    report_context,
)
from surveytool.scoring.change import reliable_change
from surveytool.web.deps import FormFields, SelfPages, State
from surveytool.web.forms import answers_from_form, next_page, numeric
from surveytool.web.pages import Refusal

router = APIRouter()


@dataclass(frozen=True)
class Posted:
    """A valid post to one instrument's pages: the form fields and the answers in them."""

    data: dict[str, Any]
    inst: Instrument
    form: str | None
    item_ids: list[str]
    answers: dict[str, str]


def not_found(inst_id: str) -> Refusal:
    return Refusal("Not found", f"There is no questionnaire {inst_id!r}.", 404, clinic=False)


def posted(inst_id: str, data: FormFields, state: State) -> Posted:
    """The instrument, its form and the answers posted so far (CSRF is checked app-wide)."""
    inst = state.instrument(inst_id)
    if inst is None:
        raise not_found(inst_id)
    form = str(data.get("form") or "") or None
    if form is not None and form not in inst.short_form_by_id:
        raise Refusal("Unknown form", "That short form does not exist.", 400, clinic=False)
    item_ids = inst.form_items(form)
    return Posted(data, inst, form, item_ids, answers_from_form(inst, data, item_ids))


Post = Annotated[Posted, Depends(posted)]


def results_page(
    pages: SelfPages,
    state: State,
    report: PersonalReport,
    answers: Mapping[str, str],
    *,
    saved: bool = False,
    saved_code: str | None = None,
    note: str | None = None,
) -> HTMLResponse:
    return pages(
        "results.html",
        **report_context(report),
        hidden=answers,
        saved=saved,
        saved_code=saved_code,
        message=note,
        suggested_code=new_code(),
        db_path=str(state.personal.path),
    )


@router.get("/", response_class=HTMLResponse)
def index(pages: SelfPages, state: State) -> HTMLResponse:
    loaded = [load_instrument(p) for p in state.sources.values()]
    return pages("index.html", instruments=loaded)


@router.get("/i/{inst_id}", response_class=HTMLResponse)
def intro(inst_id: str, pages: SelfPages, state: State) -> HTMLResponse:
    inst = state.instrument(inst_id)
    if inst is None:
        raise not_found(inst_id)
    return pages("intro.html", inst=inst, lang=inst.language)


@router.post("/i/{inst_id}/answer", response_class=HTMLResponse)
def answer(post: Post, pages: SelfPages, state: State) -> HTMLResponse:
    step = next_page(post.inst, post.form, post.item_ids, post.answers, post.data)
    if step is None:
        report = build_report(post.inst, numeric(post.answers), form=post.form)
        return results_page(pages, state, report, post.answers)
    return pages("page.html", **step)


@router.post("/i/{inst_id}/report")
def download(post: Post, state: State) -> Response:
    inst = post.inst
    report = build_report(inst, numeric(post.answers), form=post.form)
    code = str(post.data.get("code") or "")
    if code and state.personal.path.exists():
        # downloaded right after saving: the report shows the change and history as the
        # page did (the last saved result is this one)
        with contextlib.suppress(SurveytoolError):  # a bad code: no history in the report
            report = with_history(inst, report, state.personal.history(code, inst.id)[:-1])
    stamp = report.created.strftime("%Y%m%d-%H%M")
    return Response(
        render_report(report, standalone=True),
        media_type="text/html; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{inst.id}-report-{stamp}.html"'},
    )


@router.post("/i/{inst_id}/save", response_class=HTMLResponse)
def save(post: Post, pages: SelfPages, state: State) -> HTMLResponse:
    inst, form, answers, personal = post.inst, post.form, post.answers, state.personal
    report = build_report(inst, numeric(answers), form=form)
    code = str(post.data.get("code") or "")
    try:
        check_new_code(code)  # a short or guessable code is refused before anything is written
        earlier = personal.history(code, inst.id)
        personal.save(
            code,
            provenance=report.provenance,
            answers=report.answers,
            scores=scores_of(report),
            created_at=report.created,
        )
    except SurveytoolError as exc:
        return results_page(pages, state, report, answers, note=str(exc))
    report = with_history(inst, report, earlier)
    note = (
        "Saved under your code. This is your first saved result for this questionnaire."
        if not earlier
        else f"Saved under your code. You now have {len(earlier) + 1} saved results for this "
        "questionnaire."
    )
    return results_page(pages, state, report, answers, saved=True, saved_code=code, note=note)


def scores_of(report: PersonalReport) -> dict[str, float | None]:
    return {s.id: s.score for s in (*report.subscales, *report.composites)}


def with_history(inst: Instrument, report: PersonalReport, earlier: list[Any]) -> PersonalReport:
    """Add change since the last saved result and the history of saved results."""
    if not earlier:
        return report
    last = earlier[-1]
    now = scores_of(report)
    before = {k: v for k, v in last.scores.items() if v is not None}
    after = {k: v for k, v in now.items() if v is not None}
    change = tuple(reliable_change(inst, before, after))
    history = (
        *(Attempt(r.created_at, r.form, dict(r.scores)) for r in earlier),
        Attempt(report.created.astimezone(UTC), report.form, now),
    )
    return replace(report, change=change, history=history)
