"""The servers the web tests talk to, each a real process on a free loopback port:
``surveytool serve`` for the self-assessment pages (:class:`AssessmentServer`), and uvicorn
serving ``create_app`` (or ``surveytool serve``) with its own clinic SQLite file
(:class:`ClinicServer`); with the helpers that act as a clinician or a client over HTTP."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import sqlalchemy as sa

from surveytool.clinic import clients
from surveytool.clinic.models import Client, Clinician
from surveytool.clinic.store import ClinicStore
from tests.surveytool.clinic.helpers import MOOD_YAML, PASSWORD, add_test_clinician

#: Debian's chromium, driven by Playwright (no browser download).
CHROMIUM = Path("/usr/bin/chromium")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class AssessmentServer:
    """``surveytool serve`` with its own data folder."""

    base: str
    data_dir: Path
    log: Path

    @property
    def netloc(self) -> str:
        return urlsplit(self.base).netloc


ROOT = Path(__file__).resolve().parents[3]

#: ``surveytool serve`` options offering ppai 1.0.0, whose items and short form the tests use.
OFFER_PPAI_1 = ("--offer", "ppai@1.0.0")

LAUNCH = """
import sys
from pathlib import Path
import uvicorn
from surveytool.personal_store import PersonalStore
from surveytool.instrument.registry import bundled_file
from surveytool.web.app import create_app
from surveytool.web.server import uvicorn_options
port, url, data, mood, verbose = sys.argv[1:6]
sources = {"ppai": bundled_file("ppai@1.0.0")}  # the tests use its items and short form
sources["mood"] = Path(mood)
app = create_app(store=PersonalStore(Path(data)), instruments=sources, clinic_database_url=url)
uvicorn.run(app, host="127.0.0.1", port=int(port), access_log=verbose == "1", **uvicorn_options(),
            log_level="debug" if verbose == "1" else "warning")
"""


@dataclass
class ClinicServer:
    """One server process on a free port, its SQLite file and its log (stdout + stderr)."""

    folder: Path
    verbose: bool = False
    cli: bool = False
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    logs: list[Path] = field(default_factory=list)
    #: more ``surveytool serve`` options (with ``cli``)
    extra: tuple[str, ...] = ()
    #: the instruments ``surveytool serve`` offers (with ``cli``)
    offers: tuple[str, ...] = OFFER_PPAI_1

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.folder / 'clinic.sqlite3'}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def mood_path(self) -> Path:
        return self.folder / "mood.yaml"

    def start(self, ready: int = 200) -> ClinicServer:
        """Start, and wait until ``/clinic/login`` answers with status ``ready``."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if not self.mood_path.exists():
            self.mood_path.write_text(MOOD_YAML, "utf-8")
        self.port = free_port()
        self.starts += 1
        log = self.folder / f"server-{self.starts}.log"
        self.logs.append(log)
        if self.cli:
            args = ["-m", "surveytool", "serve", "--port", str(self.port), *self.offers]
            args += ["--data-dir", str(self.folder / "data"), "--database-url", self.db_url]
            args += list(self.extra)
        else:
            args = ["-c", LAUNCH, str(self.port), self.db_url, str(self.folder / "data")]
            args += [str(self.mood_path), "1" if self.verbose else "0"]
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, *args], stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server stopped: {log.read_text()}")
            try:
                if httpx.get(self.url + "/clinic/login", timeout=2).status_code == ready:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the server did not start within 60 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        """SIGKILL: no cleanup, no flush; what a power cut does to the process."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def store(self) -> ClinicStore:
        return ClinicStore(self.db_url)

    def log_text(self) -> str:
        return "\n".join(p.read_text("utf-8", errors="replace") for p in self.logs)


def seed_clinician(
    store: ClinicStore, username: str = "alice", *, role: str = "admin", email: str | None = None
) -> int:
    with store.write() as session:
        existing = session.execute(
            sa.select(Clinician).where(Clinician.username == username)
        ).scalar_one_or_none()
        if existing is not None:
            return existing.id
        return add_test_clinician(session, username, role=role, email=email).id


def add_client(store: ClinicStore, code: str | None = None, name: str | None = None) -> Client:
    with store.write() as session:
        return clients.add_client(session, code, display_name=name, clinician=None, actor="test")


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def login(server: ClinicServer, username: str = "alice", **kw: Any) -> httpx.Client:
    client = httpx.Client(base_url=server.url, follow_redirects=False, timeout=30, **kw)
    page = client.get("/clinic/login")
    response = client.post(
        "/clinic/login",
        data={"csrf": csrf_of(page.text), "username": username, "password": PASSWORD},
    )
    assert response.status_code == 303, response.text
    return client


def csrf(client: httpx.Client) -> str:
    token = client.cookies.get("st_csrf")
    assert token
    return token


def make_link(
    server: ClinicServer, clinician: httpx.Client, client_id: int, choice: str, *, results: bool
) -> str:
    """'Send questionnaire' on the client's page; returns the URL shown once."""
    data = {"csrf": csrf(clinician), "questionnaire": choice, "expires_hours": "72"}
    if results:
        data["show_results"] = "yes"
    response = clinician.post(f"/clinic/clients/{client_id}/links", data=data)
    assert response.status_code == 200, response.text
    found = re.search(r'id="link-url">([^<]+)<', response.text)
    assert found
    return found.group(1)


@dataclass
class Visit:
    """The client's side of a link, in its own cookie jar (another browser)."""

    http: httpx.Client
    intro: httpx.Response
    #: the support pages met on the way (their text), in order
    support_pages: list[str] = field(default_factory=list)


SUPPORT_PAGE = 'id="choices-title"'


def hidden_fields(html: str) -> dict[str, str]:
    """The hidden fields of the support page's last form (the one with its choices)."""
    form = html[html.rindex("<form") : html.rindex("</form>")]
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form))


def open_link(url: str, http: httpx.Client | None = None) -> Visit:
    """Open the link (a GET: the start page, nothing used), then press Begin (a POST)."""
    http = http or httpx.Client(follow_redirects=False, timeout=30)
    start = http.get(url)
    assert start.status_code == 200, start.text
    assert ">Begin<" in start.text or ">Continue<" in start.text, start.text
    begun = http.post(url, data={"csrf": csrf_of(start.text)})
    assert begun.status_code == 303 and begun.headers["location"] == "/q", begun.text
    base = url.split("/q/")[0]
    http.base_url = httpx.URL(base)
    return Visit(http, start)


def answer_all(visit: Visit, answers: dict[str, int | None]) -> httpx.Response:
    """Start, then send every answer with the last page's 'finish' (as hidden fields would)."""
    token = csrf_of(visit.intro.text)
    first = visit.http.post("/q/answer", data={"csrf": token, "page": "-1", "action": "next"})
    assert first.status_code == 200 and 'action="/q/answer"' in first.text
    data = {"csrf": token, "page": "0", "action": "finish"}
    data.update({f"a_{k}": "skip" if v is None else str(v) for k, v in answers.items()})
    response = visit.http.post("/q/answer", data=data)
    while response.status_code == 200 and SUPPORT_PAGE in response.text:
        # a check was met: the support page first; then continue ("finish", as the page says)
        visit.support_pages.append(response.text)
        fields = hidden_fields(response.text)
        response = visit.http.post("/q/answer", data={**fields, "action": fields["then"]})
    return response
