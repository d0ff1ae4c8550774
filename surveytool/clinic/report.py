"""The clinician report: one client's administrations, scores over time, change, items, alerts.

Built from the stored records (scores as stored; they are re-computable with ``clinic rescore``)
and the instrument file as it is now (labels, bands, norms, provenance). Rendered by the same
jinja2 environment as every other page (autoescape on) to a standalone HTML file, or to PDF with
Chromium's print-to-PDF through Playwright (:func:`html_to_pdf`).

The report names the client by the pseudonymous code only; the display name stays in the
clinic database.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import itertools
import os
import queue
import shutil
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from typing import Any

from jinja2 import Environment
from sqlalchemy.orm import Session

from surveytool.charts import band_meaning, direction_text
from surveytool.clinic.administrations import administrations_of, change_between
from surveytool.clinic.alerts import alert_age, alert_text, alerts_of
from surveytool.clinic.clinicians import clinician_names
from surveytool.clinic.errors import ClinicError
from surveytool.clinic.instruments import load_source
from surveytool.clinic.models import Administration, Alert, Client, utcnow
from surveytool.clinic.references import Reference, references_for
from surveytool.instrument.model import Instrument, score_ranges
from surveytool.report import environment, stylesheet
from surveytool.scoring.change import ReliableChange

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass(frozen=True)
class Band:
    lower: float
    upper: float
    label: str


@dataclass(frozen=True)
class Scale:
    """A subscale or composite as the report shows it."""

    id: str
    label: str
    kind: str
    better: str
    low: float
    high: float
    bands: tuple[Band, ...]


@dataclass(frozen=True)
class ItemRow:
    id: str
    text: str
    cells: tuple[tuple[str, bool], ...]  # (shown answer, flagged as critical) per administration


@dataclass(frozen=True)
class ChangeView:
    before: Administration
    after: Administration
    rows: tuple[ReliableChange, ...]
    note: str = ""


@dataclass
class Section:
    """Everything about one instrument for one client."""

    instrument_id: str
    inst: Instrument | None
    load_error: str
    administrations: list[Administration]
    scales: list[Scale]
    charts: list[dict[str, Any]]
    changes: list[ChangeView]
    items: list[ItemRow]
    #: the practice's SD and reliability per scale (for the change the clinician chooses)
    references: dict[str, Reference] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return self.inst.title if self.inst is not None else self.instrument_id

    def when(self, adm: Administration) -> str:
        """When ``adm`` was given, to the minute; to the second when another administration
        of this section shares its minute (so that two never look the same)."""
        minute = "%Y-%m-%d %H:%M"
        clash = sum(
            1
            for other in self.administrations
            if other.administered_at.strftime(minute) == adm.administered_at.strftime(minute)
        )
        return adm.administered_at.strftime(minute + (":%S" if clash > 1 else ""))


@dataclass
class ClientReport:
    client: Client
    created: datetime
    sections: list[Section]
    alerts: list[Alert]
    clinicians: dict[int, str] = field(default_factory=dict)


def date_label(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M UTC")


def scales_of(inst: Instrument | None, adms: Sequence[Administration]) -> list[Scale]:
    """Scales in the instrument's order (and any stored scale it no longer defines, last)."""
    stored: list[str] = []
    for adm in adms:
        for s in adm.scores:
            if s.scale_id not in stored:
                stored.append(s.scale_id)
    out: list[Scale] = []
    if inst is not None:
        ranges = score_ranges(inst)
        for scale_id in inst.scored_ids():
            if scale_id not in stored:
                continue
            d = inst.subscale_by_id.get(scale_id) or inst.composite_by_id[scale_id]
            low, high = ranges[scale_id]
            out.append(
                Scale(
                    scale_id,
                    d.label,
                    "subscale" if scale_id in inst.subscale_by_id else "composite",
                    d.better.value,
                    low,
                    high,
                    tuple(Band(b.lower, b.upper, b.label) for b in d.bands),
                )
            )
    known = {s.id for s in out}
    for scale_id in stored:
        if scale_id not in known:
            values = [
                s.value
                for a in adms
                for s in a.scores
                if s.scale_id == scale_id and s.value is not None
            ]
            low = min(values, default=0.0)
            high = max(values, default=1.0)
            out.append(Scale(scale_id, scale_id, "scale", "lower", low, high, ()))
    return out


def trend_chart(
    scale: Scale,
    adms: Sequence[Administration],
    *,
    width: float = 300.0,
    height: float = 90.0,
) -> dict[str, Any]:
    """Geometry of one scale's scores over time: bands as shaded stripes, scores as a line.

    x is proportional to time (evenly spaced when all administrations share one moment); y maps
    the scale's score range onto the height, higher scores up. Each form (full, each short form)
    has its own line, so scores resting on fewer items are never joined to the full form's.
    """
    times = [a.administered_at.timestamp() for a in adms]
    span_t = (max(times) - min(times)) if times else 0.0
    low, high = scale.low, scale.high
    span = (high - low) or 1.0

    def y_of(value: float) -> float:
        return round(height - (min(max(value, low), high) - low) / span * height, 2)

    stripes = []
    ordered = sorted(scale.bands, key=lambda b: b.lower)
    for band in ordered:
        top, bottom = y_of(band.upper), y_of(band.lower)
        stripes.append(
            {
                "y": top,
                "h": round(bottom - top, 2),
                "cls": "band " + band_meaning(band.lower, band.upper, low, high, scale.better),
                "label": band.label,
                "lower": band.lower,
                "upper": band.upper,
            }
        )
    points = []
    n = len(adms)
    for k, adm in enumerate(adms):
        score = next((s for s in adm.scores if s.scale_id == scale.id), None)
        if score is None or score.value is None:
            continue
        if span_t > 0:
            x = (times[k] - min(times)) / span_t * width
        else:
            x = width / 2 if n == 1 else k / (n - 1) * width
        points.append(
            {
                "x": round(x, 2),
                "y": y_of(score.value),
                "value": score.value,
                "date": adm.administered_at.strftime("%Y-%m-%d"),
                "band": score.band or "",
                "form": adm.form or "",
            }
        )
    # one line per form: a short form's score rests on fewer items, so it is not joined to the
    # full form's scores (the dots stay on one time axis)
    lines = []
    for form in dict.fromkeys(p["form"] for p in points):
        mine = [p for p in points if p["form"] == form]
        if len(mine) > 1:
            lines.append(
                {
                    "form": form,
                    "label": f"short form {form}" if form else "full form",
                    "points": " ".join(f"{p['x']},{p['y']}" for p in mine),
                }
            )
    return {
        "id": scale.id,
        "label": scale.label,
        "better": scale.better,
        "direction": direction_text(scale.better),
        "width": width,
        "height": height,
        "low": low,
        "high": high,
        "stripes": stripes,
        "points": points,
        "lines": lines,
        "forms": list(dict.fromkeys(p["form"] for p in points)),
    }


def answer_text(inst: Instrument | None, item_id: str, value: int | None) -> str:
    if value is None:
        return "—"
    if inst is None or item_id not in inst.item_by_id:
        return str(value)
    scale = inst.scale_of(item_id)
    label = scale.labels.get(value) or scale.missing_codes.get(value)
    return f"{value} {label}" if label else str(value)


def item_rows(inst: Instrument | None, adms: Sequence[Administration]) -> list[ItemRow]:
    order: list[str] = [i.id for i in inst.items] if inst is not None else []
    for adm in adms:
        for ans in adm.answers:
            if ans.item_id not in order:
                order.append(ans.item_id)
    per_adm = [{a.item_id: a.value for a in adm.answers} for adm in adms]
    flagged = [{al.item_id for al in adm.alerts} for adm in adms]
    rows = []
    for item_id in order:
        if not any(item_id in answers for answers in per_adm):
            continue
        text = (
            inst.item_by_id[item_id].text
            if inst is not None and item_id in inst.item_by_id
            else item_id
        )
        cells = tuple(
            (
                answer_text(inst, item_id, answers.get(item_id))
                if item_id in answers
                else "not asked",
                item_id in flags,
            )
            for answers, flags in zip(per_adm, flagged, strict=True)
        )
        rows.append(ItemRow(item_id, text, cells))
    return rows


def change_view(
    inst: Instrument | None,
    before: Administration,
    after: Administration,
    references: Mapping[str, Reference] | None = None,
) -> ChangeView:
    if inst is None:
        return ChangeView(before, after, (), "the instrument file cannot be loaded now")
    notes = []
    if before.form != after.form:
        notes.append(
            f"the forms differ ({before.form or 'full'} vs {after.form or 'full'}): short-form "
            "scores rest on fewer items"
        )
    if before.instrument_hash != after.instrument_hash:
        notes.append("the two were given with different versions of the instrument file")
    rows = tuple(change_between(inst, before, after, references))
    return ChangeView(before, after, rows, "; ".join(notes))


def build_section(session: Session, instrument_id: str, adms: list[Administration]) -> Section:
    source = adms[-1].instrument_source
    inst: Instrument | None
    try:
        inst = load_source(source, adms[-1].instrument_version)
        error = ""
    except ClinicError as exc:
        inst, error = None, str(exc)
    scales = scales_of(inst, adms)
    charts = [trend_chart(s, adms) for s in scales]
    refs = references_for(session, inst) if inst is not None else {}
    changes = [change_view(inst, a, b, refs) for a, b in itertools.pairwise(adms)]
    section = Section(
        instrument_id, inst, error, adms, scales, charts, changes, item_rows(inst, adms)
    )
    section.references = refs
    return section


def build_client_report(session: Session, client: Client) -> ClientReport:
    adms = administrations_of(session, client)
    by_instrument: dict[str, list[Administration]] = {}
    for adm in adms:
        by_instrument.setdefault(adm.instrument_id, []).append(adm)
    sections = [build_section(session, k, v) for k, v in by_instrument.items()]
    alerts = alerts_of(session, client)  # a link's alerts too, sent or not
    names = clinician_names(
        session,
        [a.acknowledged_by_id for a in alerts] + [a.clinician_id for a in adms],
    )
    return ClientReport(client, utcnow(), sections, alerts, names)


def clinic_css() -> str:
    """Styles of the clinician pages and report, added to the common stylesheet."""
    return resources.files("surveytool.clinic").joinpath("clinic.css").read_text("utf-8")


def clinic_environment() -> Environment:
    """The common jinja2 environment (autoescape on) with the clinic's helpers."""
    env = environment()
    env.globals["alert_text"] = alert_text
    env.globals["alert_age"] = alert_age
    return env


def render_html(report: ClientReport, env: Environment | None = None) -> str:
    """The report as one standalone HTML file (styles embedded; nothing loaded from elsewhere)."""
    template = (env or clinic_environment()).get_template("clinic/report.html")
    return template.render(report=report, css=stylesheet() + "\n" + clinic_css())


def chromium_path() -> str:
    """Chromium for print-to-PDF: ``SURVEYTOOL_CHROMIUM``, else ``chromium`` on the PATH."""
    explicit = os.environ.get("SURVEYTOOL_CHROMIUM")
    if explicit:
        return explicit
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    if os.path.exists("/usr/bin/chromium"):
        return "/usr/bin/chromium"
    raise ClinicError(
        "a PDF needs Chromium: install it (Debian: apt-get install chromium) or set "
        "SURVEYTOOL_CHROMIUM; or write the report as .html and print it from a browser"
    )


#: PDF requests that may wait for the shared browser (besides the one printing); one more is
#: refused at once (:class:`PdfBusy`) instead of piling up.
MAX_PDF_QUEUE = 4
#: What a refused request is told to wait (seconds): about the time the queue takes to print.
PDF_RETRY_AFTER = 10


class PdfBusy(ClinicError):
    """The PDF queue is full: try again after ``retry_after`` seconds (a 503 on the web)."""

    def __init__(self, retry_after: int = PDF_RETRY_AFTER) -> None:
        super().__init__(
            "PDF reports are being printed for others right now; please try again in "
            f"{retry_after} seconds (or download the HTML report)"
        )
        self.retry_after = retry_after


@dataclass
class _Job:
    html: str
    footer: str
    done: concurrent.futures.Future[bytes] = field(default_factory=concurrent.futures.Future)


class PdfPrinter:
    """One headless Chromium shared by every PDF of this process, and a bounded queue.

    Playwright's sync API belongs to the thread that started it, so one daemon thread owns the
    browser (started on the first print, started again if it crashed) and prints the queued jobs
    one at a time, each in a fresh context (no scripts, no network, nothing shared between
    reports). :meth:`print` waits for its own job; with ``queue_size`` jobs waiting already it
    is refused at once (:class:`PdfBusy`), never left to hang. Printing blocks only the calling
    thread (a route of the threadpool, or the CLI), never the server's event loop.
    """

    def __init__(self, queue_size: int = MAX_PDF_QUEUE) -> None:
        self._jobs: queue.Queue[_Job | None] = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.launches = 0  # browsers started (one, unless one crashed)

    def print(self, html: str, *, footer: str = "", wait: float = 120.0) -> bytes:
        chromium_path()  # a missing browser or package is said at once, not after the queue
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            raise ClinicError(
                "a PDF needs the Playwright package (pip install playwright) and Chromium; or "
                "write the report as .html and print it from a browser"
            ) from None
        job = _Job(html, footer)
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="surveytool-pdf", daemon=True
                )
                self._thread.start()
            try:
                self._jobs.put_nowait(job)
            except queue.Full:
                raise PdfBusy() from None
        try:
            return job.done.result(timeout=wait)
        except concurrent.futures.TimeoutError:
            job.done.cancel()
            raise ClinicError(
                f"the PDF was not printed within {wait:.0f} seconds; please try again later (or "
                "download the HTML report)"
            ) from None

    def waiting(self) -> int:
        """Jobs in the queue, not yet printing."""
        return self._jobs.qsize()

    def close(self, timeout: float = 30.0) -> None:
        """Stop the thread and its browser (after the jobs already queued)."""
        with self._lock:
            thread = self._thread
            self._thread = None
        if thread is not None and thread.is_alive():
            self._jobs.put(None, timeout=timeout)
            thread.join(timeout)

    def _run(self) -> None:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = None
            try:
                while True:
                    job = self._jobs.get()
                    if job is None:
                        return
                    if not job.done.set_running_or_notify_cancel():
                        continue  # its caller gave up waiting
                    try:
                        if browser is None or not browser.is_connected():
                            browser = pw.chromium.launch(
                                executable_path=chromium_path(), args=CHROMIUM_ARGS
                            )
                            self.launches += 1
                        job.done.set_result(_print_pdf(browser, job.html, job.footer))
                    except PlaywrightError as exc:
                        text = str(exc).strip()
                        first = text.splitlines()[0] if text else type(exc).__name__
                        job.done.set_exception(
                            ClinicError(f"Chromium could not print the PDF: {first}")
                        )
                        if browser is not None and not browser.is_connected():
                            browser = None
                    except BaseException as exc:  # the caller sees it; the thread goes on
                        job.done.set_exception(exc)
            finally:
                if browser is not None and browser.is_connected():
                    browser.close()


#: The printer of this process (the web server's routes and ``surveytool clinic report``).
PRINTER = PdfPrinter()
atexit.register(PRINTER.close, 10.0)


def html_to_pdf(html: str, *, footer: str = "", wait: float = 120.0) -> bytes:
    """Print HTML to PDF (A4) with the shared headless Chromium (:data:`PRINTER`): no scripts,
    no network. Refused at once with :class:`PdfBusy` when :data:`MAX_PDF_QUEUE` prints are
    waiting already; :class:`ClinicError` when not printed within ``wait`` seconds."""
    return PRINTER.print(html, footer=footer, wait=wait)


def _print_pdf(browser: Any, html: str, footer: str) -> bytes:
    footer_html = (
        '<div style="font-size:8px;width:100%;text-align:center;color:#52606d">'
        f"{_escape(footer)} · page <span class='pageNumber'></span> of "
        "<span class='totalPages'></span></div>"
    )
    context = browser.new_context(java_script_enabled=False, offline=True)
    try:
        page = context.new_page()
        page.route("**/*", lambda route: route.abort())
        page.set_content(html, wait_until="load")
        pdf: bytes = page.pdf(
            format="A4",
            print_background=True,
            display_header_footer=True,
            header_template="<div></div>",
            footer_template=footer_html,
            margin={"top": "16mm", "bottom": "18mm", "left": "14mm", "right": "14mm"},
        )
        return pdf
    finally:
        context.close()


def _escape(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))
