"""The clinician's pages about clients: the dashboard, adding a client, a page per client
(scores over time, reliable change between any two administrations, item-level answers, notes,
links), notes, acknowledging alerts and the client's report (HTML or PDF)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from surveytool.clinic import audit, links
from surveytool.clinic.accounts import alert_of, client_of, clinicians
from surveytool.clinic.administrations import administrations_of
from surveytool.clinic.alerts import acknowledge_alert, open_alerts
from surveytool.clinic.clients import add_client, list_clients
from surveytool.clinic.clinicians import actor_of, clinician_names
from surveytool.clinic.errors import ClinicError, NotFoundError
from surveytool.clinic.instruments import load_source
from surveytool.clinic.models import Administration, utcnow
from surveytool.clinic.notes import add_note, notes_of
from surveytool.clinic.report import (
    ChangeView,
    PdfBusy,
    Section,
    build_client_report,
    change_view,
    clinic_css,
    html_to_pdf,
    render_html,
)
from surveytool.instrument.registry import load_instrument
from surveytool.web.deps import (
    ClinicPages,
    CurrentClinician,
    FormFields,
    ReadSession,
    State,
    Store,
    WriteSession,
)
from surveytool.web.pages import Refusal

router = APIRouter()


def no_client() -> Refusal:
    return Refusal("Not found", "There is no such client.", 404, back="/clinic")


@router.get("/clinic/static/clinic.css")
def css() -> Response:
    return Response(clinic_css(), media_type="text/css; charset=utf-8")


@router.get("/clinic", response_class=HTMLResponse)
def dashboard(me: CurrentClinician, pages: ClinicPages, session: ReadSession) -> HTMLResponse:
    rows = []
    labels: dict[str, dict[str, str]] = {}
    alerts = open_alerts(session, me=me)  # a link's alerts too, whether its answers were sent
    opened = Counter(a.client_id for a in alerts)
    # clients with open alerts first (the one waiting longest first), then the others as listed
    waiting = {a.client_id: k for k, a in reversed(list(enumerate(alerts)))}
    clients = sorted(list_clients(session, me), key=lambda c: waiting.get(c.id, len(alerts)))
    for client in clients:
        adms = administrations_of(session, client)
        latest = adms[-1] if adms else None
        if latest is not None and latest.instrument_source not in labels:
            labels[latest.instrument_source] = scale_labels(latest.instrument_source)
        rows.append(
            {
                "client": client,
                "count": len(adms),
                "latest": latest,
                "scores": headline_scores(latest, labels),
                "open": opened[client.id],
            }
        )
    return pages("clinic/dashboard.html", me=me, rows=rows, alerts=alerts)


@router.post("/clinic/clients")
def new_client(me: CurrentClinician, data: FormFields, session: WriteSession) -> Response:
    try:
        client = add_client(
            session,
            str(data.get("code") or "").strip() or None,
            display_name=str(data.get("display_name") or ""),
            clinician=me,
            actor=actor_of(me, ""),
        )
    except ClinicError as exc:
        raise Refusal("The client was not added", str(exc), 400, back="/clinic") from exc
    return RedirectResponse(f"/clinic/clients/{client.id}", status_code=303)


@router.get("/clinic/clients/{client_id}", response_class=HTMLResponse)
def client_page(
    client_id: int,
    me: CurrentClinician,
    pages: ClinicPages,
    state: State,
    session: ReadSession,
    a: str | None = None,
    b: str | None = None,
) -> HTMLResponse:
    try:
        client = client_of(session, me, client_id)
    except NotFoundError as exc:
        raise no_client() from exc
    built = build_client_report(session, client)
    changes = {s.instrument_id: chosen_change(s, _int(a), _int(b)) for s in built.sections}
    notes = notes_of(session, client)
    return pages(
        "clinic/client.html",
        me=me,
        now=utcnow(),
        instruments=[load_instrument(p) for p in state.sources.values()],
        expiry_choices=links.EXPIRY_CHOICES,
        default_expiry=links.DEFAULT_EXPIRY_HOURS,
        client=client,
        report=built,
        changes=changes,
        notes=notes,
        links=links.links_of(session, client),
        authors=clinician_names(session, [n.clinician_id for n in notes]),
        assigned=clinician_names(session, [client.clinician_id]).get(client.clinician_id or 0),
        assignable=[c for c in clinicians(session) if c.active] if me.is_admin else [],
    )


@router.post("/clinic/clients/{client_id}/notes")
def new_note(
    client_id: int, me: CurrentClinician, data: FormFields, session: WriteSession
) -> Response:
    back = f"/clinic/clients/{client_id}"
    try:
        client = client_of(session, me, client_id)
        add_note(session, client, str(data.get("text") or ""), clinician=me, actor=actor_of(me, ""))
    except NotFoundError as exc:
        raise no_client() from exc
    except ClinicError as exc:
        raise Refusal("The note was not added", str(exc), 400, back=back) from exc
    return RedirectResponse(back + "#notes", status_code=303)


@router.post("/clinic/alerts/{alert_id}/ack")
def acknowledge(
    alert_id: int, me: CurrentClinician, data: FormFields, session: WriteSession
) -> Response:
    try:
        alert_of(session, me, alert_id)
        acknowledge_alert(
            session,
            alert_id,
            clinician=me,
            note=str(data.get("note") or ""),
            actor=actor_of(me, ""),
        )
    except NotFoundError as exc:
        raise Refusal("Not found", "There is no such alert.", 404, back="/clinic") from exc
    except ClinicError as exc:
        raise Refusal("Not acknowledged", str(exc), 400, back="/clinic") from exc
    back = str(data.get("next") or "/clinic")
    if not re.fullmatch(r"/clinic(/clients/\d+)?", back):
        back = "/clinic"
    return RedirectResponse(back, status_code=303)


@router.post("/clinic/clients/{client_id}/report")
def download_report(
    client_id: int, me: CurrentClinician, data: FormFields, pages: ClinicPages, store: Store
) -> Response:
    """The client's report; the PDF is printed by the shared Chromium (a bounded queue: when it
    is full, a 503 with Retry-After) outside any database transaction (it takes seconds), so
    this route opens its read and its write transaction itself. A plain ``def``: it waits for
    the print in the threadpool, never on the event loop."""
    kind = "pdf" if data.get("format") == "pdf" else "html"
    try:
        with store.read() as session:
            client = client_of(session, me, client_id)
            html = render_html(build_client_report(session, client), pages.env)
        body = (
            html_to_pdf(html, footer=f"Client {client.code} · confidential")
            if kind == "pdf"
            else html.encode("utf-8")
        )
        with store.write() as session:
            audit.append(
                session, actor_of(me, ""), "report.export", f"client:{client.id}", {"format": kind}
            )
    except NotFoundError as exc:
        raise no_client() from exc
    except PdfBusy as exc:  # the shared browser's queue is full: a clear 503, not a hang
        back = f"/clinic/clients/{client_id}"
        raise Refusal(
            "The PDF report is not ready yet",
            str(exc),
            503,
            back=back,
            headers={"Retry-After": str(exc.retry_after)},
        ) from exc
    except ClinicError as exc:
        back = f"/clinic/clients/{client_id}"
        raise Refusal("No report was made", str(exc), 500, back=back) from exc
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    return Response(
        body,
        media_type="application/pdf" if kind == "pdf" else "text/html; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="report-{client.code}-{stamp}.{kind}"'
        },
    )


# ---------------------------------------------------------------------------------------------
# What the pages show
# ---------------------------------------------------------------------------------------------


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def scale_labels(source: str) -> dict[str, str]:
    """Scale labels of an instrument file (empty when it cannot be loaded now)."""
    try:
        inst = load_source(source)
    except ClinicError:
        return {}
    return {s.id: s.label for s in (*inst.subscales, *inst.composites)}


def headline_scores(
    adm: Administration | None, labels: Mapping[str, Mapping[str, str]]
) -> list[tuple[str, float | None, str | None]]:
    """What the dashboard shows of the latest administration: composites, else subscales."""
    if adm is None:
        return []
    composites = [s for s in adm.scores if s.kind == "composite"]
    chosen = composites or [s for s in adm.scores if s.kind != "composite"][:4]
    names = labels.get(adm.instrument_source, {})
    return [(names.get(s.scale_id, s.scale_id), s.value, s.band) for s in chosen]


def chosen_change(section: Section, a: int | None, b: int | None) -> ChangeView | None:
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
    return change_view(section.inst, first, second, section.references)
