"""The self-assessment pages: choose an instrument, answer a page at a time, read the results,
download the report, save it to compare later.

Nothing is stored on the server while a person answers (the answers travel in the form, see
:mod:`surveytool.web.forms`). Results are stored only when the person asks ("Save to compare
later"), in the local SQLite database.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response

from surveytool.errors import SurveytoolError
from surveytool.instrument.model import Instrument
from surveytool.instrument.registry import load_instrument
from surveytool.personal_store import SavedResult, check_new_code, new_code
from surveytool.report import (
    Attempt,
    PersonalReport,
    build_report,
    render_report,
    report_context,
)
from surveytool.safety.support import domestic_abuse_lines, normalize_country, support_view
from surveytool.scoring.change import reliable_change
from surveytool.web.deps import FormFields, SelfPages, State
from surveytool.web.forms import (
    answers_from_form,
    carried,
    next_page,
    numeric,
    page_hits,
    support_page,
)
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

    @property
    def country(self) -> str:
        return normalize_country(str(self.data.get("country") or ""))

    def report(self) -> PersonalReport:
        return build_report(self.inst, numeric(self.answers), form=self.form, country=self.country)


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
    shown: str = "",
) -> HTMLResponse:
    hidden = {f"a_{k}": v for k, v in answers.items()}
    hidden.update({"form": report.form or "", **carried({"shown": shown})})
    return pages(
        "results.html",
        **report_context(report),
        hidden=answers,
        chooser_hidden=hidden,
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
    return pages(
        "intro.html",
        inst=inst,
        lang=inst.language,
        support=support_view(inst),
        abuse_lines=domestic_abuse_lines(),
    )


@router.get("/support", response_class=HTMLResponse)
def support(pages: SelfPages, country: str = "") -> HTMLResponse:
    """The support section on its own (also where "leave for now" goes)."""
    return pages(
        "support_only.html",
        support=support_view(None, (), country),
        chooser_action="/support",
        chooser_hidden={},
    )


@router.post("/support", response_class=HTMLResponse)
def support_chosen(data: FormFields, pages: SelfPages) -> HTMLResponse:
    return support(pages, str(data.get("country") or ""))


@router.post("/i/{inst_id}/answer", response_class=HTMLResponse)
def answer(post: Post, pages: SelfPages, state: State) -> HTMLResponse:
    # a check met on the page just posted: the support page comes before anything else
    hits = page_hits(post.inst, post.item_ids, post.answers, post.data)
    if hits:
        context = support_page(post.inst, post.form, post.answers, post.data, hits)
        view = support_view(post.inst, hits, context["country"])
        country = view.country
        return pages(
            "support.html",
            support=view,
            stop_label="Stop here and see my results so far",
            leave_text=(
                "You can also take a break. Nothing you have answered is kept on this computer "
                "unless you choose to save it: to keep your answers so far, choose 'Stop here' "
                "above, then save them on the page that follows."
            ),
            leave_href="/support" + (f"?country={country}" if country else ""),
            **context,
        )
    step = next_page(post.inst, post.form, post.item_ids, post.answers, post.data)
    if step is None:
        shown = carried(post.data).get("shown", "")
        return results_page(pages, state, post.report(), post.answers, shown=shown)
    return pages("page.html", **step)


@router.post("/i/{inst_id}/report")
def download(post: Post, state: State) -> Response:
    inst = post.inst
    report = post.report()
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


@router.post("/i/{inst_id}/response")
def download_response(post: Post) -> Response:
    """The answers as a FHIR QuestionnaireResponse (JSON), to bring to a clinician's system."""
    from surveytool.interchange.fhir import questionnaire_response

    inst = post.inst
    now = datetime.now(UTC)
    response = questionnaire_response(inst, numeric(post.answers), authored=now, form=post.form)
    return Response(
        json.dumps(response, indent=2, ensure_ascii=False) + "\n",
        media_type="application/fhir+json; charset=utf-8",
        headers={
            "Content-Disposition": (
                f'attachment; filename="{inst.id}-answers-{now:%Y%m%d-%H%M}.fhir.json"'
            )
        },
    )


@router.post("/i/{inst_id}/save", response_class=HTMLResponse)
def save(post: Post, pages: SelfPages, state: State) -> HTMLResponse:
    inst, answers, personal = post.inst, post.answers, state.personal
    report = post.report()
    code = str(post.data.get("code") or "")
    try:
        check_new_code(code)  # a short or guessable code is refused before anything is written
        earlier = personal.history(code, inst.id)
        if not report.country:  # chosen on an earlier visit and saved with that result
            chosen = [r.country for r in earlier if r.country]
            if chosen:
                report = dataclasses.replace(report, country=chosen[-1])
        personal.save(
            code,
            provenance=report.provenance,
            answers=report.answers,
            scores=scores_of(report),
            created_at=report.created,
            country=report.country,
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


def with_history(
    inst: Instrument, report: PersonalReport, saved: list[SavedResult]
) -> PersonalReport:
    """Add change since the last saved result and the history of saved results.

    Only results made with the same version of the questionnaire are compared: another
    version's scales hold other items, so its numbers are not comparable (they are counted in
    ``other_versions``, which the page mentions).
    """
    earlier = [r for r in saved if r.instrument_version in ("", inst.version)]
    if len(earlier) < len(saved):
        report = replace(report, other_versions=len(saved) - len(earlier))
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
