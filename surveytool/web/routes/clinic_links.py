"""Sending a questionnaire by link (the URL is shown to the clinician once) and cancelling one."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from surveytool.clinic import links
from surveytool.clinic.accounts import client_of, link_of
from surveytool.clinic.clinicians import actor_of
from surveytool.clinic.errors import ClinicError, NotFoundError
from surveytool.web.deps import ClinicPages, CurrentClinician, FormFields, State, WriteSession
from surveytool.web.pages import Refusal

router = APIRouter()

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


@router.post("/clinic/clients/{client_id}/links", response_class=HTMLResponse)
def send_questionnaire(
    client_id: int,
    request: Request,
    me: CurrentClinician,
    data: FormFields,
    pages: ClinicPages,
    state: State,
    session: WriteSession,
) -> Response:
    back = f"/clinic/clients/{client_id}"
    try:
        client = client_of(session, me, client_id)
    except NotFoundError as exc:
        raise Refusal("Not found", "There is no such client.", 404, back="/clinic") from exc
    choice = str(data.get("questionnaire") or "")
    inst_id, _, form = choice.partition(":")
    found = state.offered(inst_id)
    if found is None:
        raise Refusal("No such questionnaire", "Choose one from the list.", 400, back=back)
    inst, source = found
    try:
        hours = int(str(data.get("expires_hours") or links.DEFAULT_EXPIRY_HOURS))
    except ValueError:
        hours = -1
    if hours not in links.EXPIRY_CHOICES:
        raise Refusal("Invalid expiry", "Choose an expiry from the list.", 400, back=back)
    try:
        new = links.create_link(
            session,
            client,
            inst,
            source,
            form=form or None,
            show_results=data.get("show_results") == "yes",
            expires_in=timedelta(hours=hours),
            clinician=me,
            actor=actor_of(me, ""),
        )
    except ClinicError as exc:
        raise Refusal("No link was made", str(exc), 400, back=back) from exc
    url = str(request.base_url).rstrip("/") + new.path()
    host = request.url.hostname or ""
    return pages(
        "clinic/link_created.html",
        me=me,
        client=client,
        link=new.link,
        url=url,
        inst=inst,
        host=host,
        local_only=host in LOCAL_HOSTS,
    )


@router.post("/clinic/links/{link_id}/revoke")
def revoke_link(link_id: int, me: CurrentClinician, session: WriteSession) -> Response:
    try:
        link = link_of(session, me, link_id)
        links.revoke(session, link, actor_of(me, ""))
    except NotFoundError as exc:
        raise Refusal("Not found", "There is no such link.", 404, back="/clinic") from exc
    except ClinicError as exc:
        raise Refusal("The link was not cancelled", str(exc), 400, back="/clinic") from exc
    return RedirectResponse(f"/clinic/clients/{link.client_id}#links", status_code=303)
