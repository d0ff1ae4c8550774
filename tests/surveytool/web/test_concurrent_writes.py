"""The clinic database's writers under many clients at once, in one server process, as
properties rather than timings: many clients' links sent at once are all stored, whole, and a
route that holds SQLite's write lock can always commit, however few threads the pool has for
the routes.

The app runs in this process (httpx's ASGI transport, the event loop of ``asyncio.run``); the
store, SQLite and the routes are the real ones."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from pathlib import Path

import anyio
import anyio.to_thread
import httpx
import sqlalchemy as sa
from fastapi import FastAPI

from surveytool.clinic import audit, links
from surveytool.clinic.clients import add_client
from surveytool.clinic.models import Administration, LoginAttempt
from surveytool.clinic.store import ClinicStore
from surveytool.instrument.registry import load_instrument
from surveytool.personal_store import PersonalStore
from surveytool.web.app import create_app
from tests.surveytool.clinic.helpers import write_mood
from tests.surveytool.web.servers import seed_clinician

BASE = "http://127.0.0.1"


def clinic_with_links(folder: Path, count: int) -> tuple[str, list[str]]:
    """A migrated SQLite clinic file with ``count`` links to the mood check; its URL, tokens."""
    url = f"sqlite:///{folder / 'clinic.sqlite3'}"
    mood_path = write_mood(folder)
    mood = load_instrument(mood_path)
    store = ClinicStore(url)
    store.ensure_ready()
    tokens = []
    with store.write() as session:
        for k in range(count):
            client = add_client(session, f"C-TURN{k}", display_name=None, clinician=None, actor="t")
            new = links.create_link(
                session,
                client,
                mood,
                str(mood_path),
                form=None,
                show_results=False,
                expires_in=timedelta(hours=1),
                clinician=None,
                actor="test",
            )
            tokens.append(new.token)
    store.dispose()
    return url, tokens


def app_on(folder: Path, url: str) -> FastAPI:
    return create_app(store=PersonalStore(folder / "data"), clinic_database_url=url, notify=False)


async def send_by_link(app: FastAPI, token: str, answers: dict[str, int]) -> int:
    """One client: the start page, Begin, all the answers at once; the last status."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        start = await http.get(f"/q/{token}")
        assert start.status_code == 200, start.text
        found = re.search(r'name="csrf" value="([^"]+)"', start.text)
        assert found is not None
        csrf = found.group(1)
        begun = await http.post(f"/q/{token}", data={"csrf": csrf})
        assert begun.status_code == 303, begun.text
        data = {"csrf": csrf, "page": "0", "action": "finish"}
        data.update({f"a_{k}": str(v) for k, v in answers.items()})
        done = await http.post("/q/answer", data=data)
        assert done.headers.get("location") == "/q/done", done.text
        return done.status_code


def test_many_clients_sending_at_once_are_all_stored(tmp_path: Path) -> None:
    """Twenty clients begin and send their answers at once (each write in the route's own
    thread, outside it the scoring and the page): every one is acknowledged and stored once,
    whole, with its audit row, and the audit chain verifies."""
    clients = 20
    url, tokens = clinic_with_links(tmp_path, clients)
    app = app_on(tmp_path, url)
    store = app.state.web.clinic.store
    answers = {"D1": 2, "D2": 3, "D3": 2, "W1": 4, "W2": 4, "W3": 2}

    async def everyone() -> list[int]:
        return await asyncio.gather(*(send_by_link(app, t, answers) for t in tokens))

    assert asyncio.run(everyone()) == [303] * clients
    with store.read() as session:
        stored = list(session.execute(sa.select(Administration)).scalars())
        assert len(stored) == clients
        assert len({a.client_id for a in stored}) == clients
        assert all(len(a.answers) == len(answers) and a.scores for a in stored)
        assert audit.verify(session).ok
    store.dispose()


def test_a_write_commits_when_every_route_thread_waits_for_the_database(tmp_path: Path) -> None:
    """The thread pool cut to two threads, and ten failed logins at once (each one write
    transaction of the ``WriteSession`` dependency, which begins in the route's thread and ends
    after it): every one is answered. A route that holds SQLite's write lock commits in a
    thread of its own pool, so the routes that fill the main pool waiting for that lock cannot
    keep it from committing."""
    url, _ = clinic_with_links(tmp_path, 0)
    app = app_on(tmp_path, url)
    store = app.state.web.clinic.store
    seed_clinician(store)
    attempts = 10

    async def one(k: int) -> int:
        transport = httpx.ASGITransport(app=app, client=(f"127.0.0.{k + 2}", 40000))
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
            page = await http.get("/clinic/login")
            found = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert found is not None, page.text
            data = {"csrf": found.group(1), "username": f"nobody{k}", "password": "wrong"}
            return (await http.post("/clinic/login", data=data)).status_code

    async def everyone() -> list[int]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = 2
        with anyio.fail_after(25):  # SQLite's busy timeout (30 s) would end a stall later
            return await asyncio.gather(*(one(k) for k in range(attempts)))

    statuses = asyncio.run(everyone())
    assert statuses == [401] * attempts, statuses
    with store.read() as session:
        failed = session.execute(sa.select(sa.func.count()).select_from(LoginAttempt))
        assert failed.scalar_one() == attempts
        assert audit.verify(session).ok
    store.dispose()
