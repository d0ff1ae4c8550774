"""The client's side of a questionnaire link (``/q``).

``GET /q/<token>`` uses the token up, sets a client-session cookie and redirects (303) to
``/q``, a URL without the token. The client answers on the self-assessment page template
(answers travel in hidden fields; nothing is stored until the last page), and the answers,
scores, critical-item alerts and audit row are stored in one transaction, committed before the
answer is acknowledged. The client then sees a thank-you page, support information at once if an
answer was critical, and their results if the clinician chose so.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from surveytool.clinic import links
from surveytool.clinic.administrations import record_administration
from surveytool.clinic.clients import get_client
from surveytool.clinic.errors import ClinicError, LinkError
from surveytool.clinic.instruments import form_items, load_source
from surveytool.clinic.models import BY_LINK, Administration, Link
from surveytool.instrument.model import Instrument
from surveytool.report import build_report, report_context
from surveytool.safety.checks import check_answers
from surveytool.safety.support import normalize_country, support_view
from surveytool.web.deps import (
    CLIENT_COOKIE,
    ClinicPages,
    FormFields,
    ReadSession,
    Store,
    WriteSession,
)
from surveytool.web.forms import answers_from_form, next_page, numeric
from surveytool.web.pages import Refusal

router = APIRouter()

DONE = "/q/done"


def ended() -> Refusal:
    return Refusal(
        "This questionnaire session has ended",
        "Please use the link your clinician sent you, or ask them for a new one.",
        403,
    )


def unavailable() -> Refusal:
    return Refusal(
        "This questionnaire is not available",
        "It cannot be shown right now. Please let your clinician know.",
        503,
    )


def client_link(request: Request, store: Store) -> Link:
    """The link of the client's session cookie; refused when there is no live session."""
    with store.read() as session:
        link = links.session_link(session, request.cookies.get(CLIENT_COOKIE))
    if link is None:
        raise ended()
    return link


ClientLink = Annotated[Link, Depends(client_link)]


def instrument_or_none(source: str) -> Instrument | None:
    try:
        return load_source(source)
    except ClinicError:
        return None


def link_instrument(link: Link) -> Instrument:
    inst = instrument_or_none(link.instrument_source)
    if inst is None:
        raise unavailable()
    return inst


@router.get("/q", response_class=HTMLResponse)
def questionnaire(link: ClientLink, pages: ClinicPages) -> Response:
    if link.completed_at is not None:
        return RedirectResponse(DONE, status_code=303)
    inst = link_instrument(link)
    items = form_items(inst, link.form)
    return pages(
        "clinic/q_intro.html", inst=inst, lang=inst.language, form=link.form, count=len(items)
    )


@router.post("/q/answer", response_class=HTMLResponse)
def answer(
    request: Request,
    link: ClientLink,
    data: FormFields,
    pages: ClinicPages,
    session: WriteSession,
) -> Response:
    if link.completed_at is not None:
        return RedirectResponse(DONE, status_code=303)
    inst = link_instrument(link)
    form = link.form  # fixed by the clinician; a posted "form" field is ignored
    item_ids = form_items(inst, form)
    answers = answers_from_form(inst, data, item_ids)
    step = next_page(inst, form, item_ids, answers, data)
    if step is not None:
        return pages("page.html", form_action="/q/answer", **step)
    # the last page: everything is stored in the route's one transaction (committed before
    # the 303 is sent), or nothing is
    try:
        current = links.recording_link(session, request.cookies.get(CLIENT_COOKIE))
    except LinkError:
        # ended or already sent: nothing was written
        return RedirectResponse(DONE, status_code=303)
    record_administration(
        session,
        get_client(session, current.client_id),
        inst,
        current.instrument_source,
        numeric(answers),
        form=form,
        mode=BY_LINK,
        clinician=None,
        actor=f"link:{current.id}",
        started_at=link.used_at,
        link=current,
    )
    return RedirectResponse(DONE, status_code=303)


@router.get(DONE, response_class=HTMLResponse)
def done(request: Request, pages: ClinicPages, session: ReadSession) -> Response:
    link = links.session_link(session, request.cookies.get(CLIENT_COOKIE))
    if link is None:
        raise ended()
    adm = (
        session.get(Administration, link.administration_id)
        if link.administration_id is not None
        else None
    )
    if adm is None:
        return RedirectResponse("/q", status_code=303)
    inst = instrument_or_none(adm.instrument_source)
    if inst is None:
        return pages.message("Thank you", "Your answers have been sent to your clinician.", 200)
    answers = {a.item_id: a.value for a in adm.answers}
    country = normalize_country(request.query_params.get("country"))
    context: dict[str, Any] = {
        "inst": inst,
        "lang": inst.language,
        "show_results": link.show_results,
    }
    if link.show_results:
        personal = build_report(inst, answers, form=adm.form, country=country)
        context.update(report_context(personal))
    # support first when a check was met (the same hits the clinic's alerts came from)
    context["support"] = support_view(
        inst, check_answers(inst, answers), country, path="link", review=""
    )
    context["chooser_action"] = None
    return pages("clinic/q_done.html", **context)


# after /q/done and /q/answer, so that those paths are not taken for tokens
@router.get("/q/{token}")
def open_link(token: str, request: Request, session: WriteSession) -> Response:
    try:
        _link, client_token = links.redeem(session, token)
    except LinkError as exc:
        # one answer for unknown, used, expired and cancelled links: it tells a guesser nothing
        raise Refusal("This link cannot be used", str(exc), 404) from exc
    response = RedirectResponse("/q", status_code=303)
    response.set_cookie(
        CLIENT_COOKIE,
        client_token,
        httponly=True,
        samesite="lax",  # the link arrives from another site (mail); Strict would drop it
        secure=request.url.scheme == "https",
        path="/q",
        max_age=links.SESSION_HOURS * 3600,
    )
    return response
