"""The client's side of a questionnaire link (``/q``).

``GET /q/<token>`` only shows the start page (what the questionnaire is, until when the link
works): a mail scanner or a link preview that fetches it consumes nothing. Begin (``POST
/q/<token>``, with the CSRF token) sets a client-session cookie and redirects (303) to ``/q``, a
URL without the token. The client answers on the self-assessment page template; every page's
answers are also kept in the store, so a client who closes the tab and opens the link again
continues where they stopped, on the page they reached, with their answers. A page whose answers
meet a check at level alert raises the clinician's alert as it is saved, in the same transaction
(:func:`surveytool.clinic.alerts.raise_link_alerts`): a client who then leaves without sending
has still reached the clinician. The last page stores the answers, scores, alerts (those raised
before attached, not repeated) and audit row in one transaction, committed before the answer is
acknowledged. The client then sees a thank-you page that says when their clinician
will see the answers, support information at once if an answer was critical, and their results
if the clinician chose so.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from surveytool.clinic import links, settings
from surveytool.clinic.administrations import record_administration, score_for_record
from surveytool.clinic.alerts import raise_link_alerts
from surveytool.clinic.clients import get_client
from surveytool.clinic.errors import ClinicError, LinkError
from surveytool.clinic.instruments import form_items, load_source
from surveytool.clinic.models import BY_LINK, Administration, Link
from surveytool.instrument.model import Instrument, Level
from surveytool.progress import count_answers
from surveytool.report import build_report, report_context
from surveytool.safety.checks import check_answers
from surveytool.safety.support import domestic_abuse_lines, normalize_country, support_view
from surveytool.web.deps import (
    CLIENT_COOKIE,
    ClinicPages,
    FormFields,
    ReadSession,
    Store,
)
from surveytool.web.forms import (
    answers_from_form,
    carried,
    next_page,
    numeric,
    page_count,
    page_hits,
    posted_hits,
    support_page,
)
from surveytool.web.pages import Refusal

router = APIRouter()

DONE = "/q/done"

#: The support page's words on leaving, on a link: the answers so far are kept ...
LEAVE = (
    "You can also come back later: your answers so far are kept, and the same link continues "
    "where you stopped until it expires. Your clinician sees your answers only once you send them."
)
#: ... and, after an answer that alerts the clinician, that the clinician has been told already.
LEAVE_ALERTED = (
    "You can also come back later: your answers so far are kept, and the same link continues "
    "where you stopped until it expires. Because of this answer your clinician has been told "
    "already, even if you stop now; they see your other answers once you send them."
)


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
    """The page the client reached (the first after Begin), with the answers kept so far."""
    if link.completed_at is not None:
        return RedirectResponse(DONE, status_code=303)
    inst = link_instrument(link)
    item_ids = form_items(inst, link.form)
    saved = links.Progress.of(link)
    answers = {k: v for k, v in saved.answers.items() if k in item_ids}
    # "next" from the page before the one reached shows the page reached
    step = next_page(inst, link.form, item_ids, answers, {"page": max(saved.page, 0) - 1})
    assert step is not None
    return pages("page.html", form_action="/q/answer", **step)


@router.post("/q/answer", response_class=HTMLResponse)
def answer(
    request: Request,
    link: ClientLink,
    data: FormFields,
    pages: ClinicPages,
    store: Store,
) -> Response:
    """One page's answers. Everything slow (reading the link, the next page, scoring the last
    page, rendering) runs outside the write transaction, which holds only the writes and is
    committed in this thread (SQLite: the write lock is held for the writes alone)."""
    if link.completed_at is not None:
        return RedirectResponse(DONE, status_code=303)
    inst = link_instrument(link)
    form = link.form  # fixed by the clinician; a posted "form" field is ignored
    item_ids = form_items(inst, form)
    actor = f"link:{link.id}"
    # the answers kept in the store, then what this page posted (a newer choice wins)
    saved = links.Progress.of(link).answers
    answers = {k: v for k, v in saved.items() if k in item_ids}
    answers.update(answers_from_form(inst, data, item_ids))
    # a check met on the page just posted: the support page comes before anything else; the
    # answers so far are kept, so coming back later continues after that page
    hits = page_hits(inst, item_ids, answers, data)
    if hits:
        context = support_page(inst, form, answers, data, hits)
        reached = min(int(context["hidden"]["page"]) + 1, page_count(len(item_ids)) - 1)
        with store.write() as session:
            links.save_progress(session, link, answers, reached)
            # the clinician is told now, in this transaction: the client may leave without
            # sending
            raise_link_alerts(
                session, link, posted_hits(inst, item_ids, answers, data), actor=actor
            )
            review = settings.review_sentence(session)
        view = support_view(inst, hits, context["country"], path="link", review=review)
        return pages(
            "support.html",
            support=view,
            form_action="/q/answer",
            stop_label="Stop here and send my answers so far",
            leave_text=LEAVE_ALERTED if view.alert else LEAVE,
            leave_href="",
            **context,
        )
    step = next_page(inst, form, item_ids, answers, data)
    if step is not None:
        with store.write() as session:
            links.save_progress(session, link, answers, step["page"])
            # a check met on this page whose support page was shown before (the client went
            # back and on), or met by going back: its alert is raised once, here if not yet
            raise_link_alerts(
                session, link, posted_hits(inst, item_ids, answers, data), actor=actor
            )
        return pages("page.html", form_action="/q/answer", **step)
    # the last page: scored first, then everything is stored in one transaction (committed
    # before the 303 is sent), or nothing is
    scored = score_for_record(inst, form, numeric(answers))
    with store.write() as session:
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
            scored=scored,
        )
    country = carried(data).get("country")
    return RedirectResponse(DONE + (f"?country={country}" if country else ""), status_code=303)


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
    review = settings.review_sentence(session)
    if inst is None:
        return pages.message(
            "Thank you", f"Your answers have been sent to your clinician. {review}", 200
        )
    answers = {a.item_id: a.value for a in adm.answers}
    country = normalize_country(request.query_params.get("country"))
    context: dict[str, Any] = {
        "inst": inst,
        "lang": inst.language,
        "show_results": link.show_results,
        "review": review,
    }
    if link.show_results:
        personal = build_report(inst, answers, form=adm.form, country=country)
        context.update(report_context(personal))
    # support first when a check was met (the same hits the clinic's alerts came from)
    context["support"] = support_view(
        inst, check_answers(inst, answers), country, path="link", review=review
    )
    context["chooser_action"] = None
    return pages("clinic/q_done.html", **context)


def link_refused(exc: LinkError) -> Refusal:
    unknown = str(exc) == links.UNKNOWN
    return Refusal(exc.title, str(exc), 404 if unknown else 410)


# after /q/done and /q/answer, so that those paths are not taken for tokens
@router.get("/q/{token}", response_class=HTMLResponse)
def start_page(token: str, pages: ClinicPages, session: ReadSession) -> Response:
    """What the questionnaire is and until when the link works; looking consumes nothing."""
    try:
        link = links.lookup(session, token)
    except LinkError as exc:
        raise link_refused(exc) from exc
    inst = link_instrument(link)
    saved = links.Progress.of(link)
    item_ids = form_items(inst, link.form)
    return pages(
        "clinic/q_intro.html",
        inst=inst,
        lang=inst.language,
        form=link.form,
        count=len(item_ids),
        answered=count_answers(inst, item_ids, saved.answers).answered,  # the pages' one count
        resuming=link.used_at is not None,
        expires=links.when_text(link.expires_at),
        practice=settings.get_setting(session, "practice_name"),
        review=settings.review_sentence(session),
        support=support_view(inst, path="link"),
        abuse_lines=domestic_abuse_lines(),
        alerts_at_once=any(
            Level.alert in (c.level, c.on_skip, c.on_missing_code)
            for c in inst.checks
            if c.item in item_ids
        ),
    )


@router.post("/q/{token}")
def begin(token: str, request: Request, store: Store) -> Response:
    """Begin (or continue): a client session in a cookie, then the page reached."""
    try:
        with store.write() as session:
            _link, client_token = links.begin(session, token)
    except LinkError as exc:
        raise link_refused(exc) from exc
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
