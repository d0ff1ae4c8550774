"""The web server under a clinic's load, on loopback: latency percentiles per kind of request.

``surveytool serve`` runs as a subprocess on 127.0.0.1 (a free port, its own data folder and clinic
database: SQLite by default, or ``--database-url`` for PostgreSQL, with ``--workers N`` there).
Then, bounded in count and time:

- **person**: ``clients`` concurrent people complete the bundled inventory's self-assessment
  (intro, start, every page, the results page), each in its own cookie jar;
- **link**: ``clients`` concurrent clients complete it by a clinician's link (the start page,
  Begin, every page saved in the store, the answers sent and scored, the thank-you page);
- **baseline**: during both, ``probes`` clients ask ``/healthz`` (an ``async`` endpoint doing no
  work) every 50 ms: the latency of the server's event loop itself under the same load. When
  blocking work runs on the loop, this is where it shows.

At most :data:`MAX_REQUESTS` requests in all (the request loops are bounded: a fixed number of
steps per client), only to 127.0.0.1. Printed: p50, p95 and p99 per kind, the requests and the
throughput; every answer is checked (status, the page expected), so a fast error cannot pass
for a fast page.

Also printed, to read the figures by: the server's CPU time per request (the clients ask again
at once, a closed loop, so with ``clients`` of them waiting each request waits for about
``clients`` others: on one core the mean latency is at least ``clients`` x that CPU time,
whatever the server does otherwise), and the lag of the benchmark's own event loop (the
clients' share of every latency measured; on a loaded machine it is not small).

Usage: ``python -m benchmarks.bench_web [--clients 50] [--workers N] [--database-url URL]``
(``make bench-web``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx

#: The most requests one run sends (person + link + baseline).
MAX_REQUESTS = 2000
#: The longest one run may take before it gives up (seconds).
DEADLINE = 600.0
CSRF_COOKIE = "st_csrf"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Timings:
    """Latencies (seconds) per kind, and the failures met."""

    by_kind: dict[str, list[float]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    requests: int = 0
    #: how late the benchmark's own event loop woke from 10 ms sleeps (seconds): the clients'
    #: share of every latency measured
    lags: list[float] = field(default_factory=list)

    def add(self, kind: str, seconds: float) -> None:
        self.by_kind.setdefault(kind, []).append(seconds)
        self.requests += 1


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), by linear interpolation between order statistics
    (numpy's default; R ``quantile(type = 7)``)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


class Budget:
    """The bound on requests: each one takes a ticket; none is sent past :data:`MAX_REQUESTS`."""

    def __init__(self, limit: int) -> None:
        self.left = limit

    def take(self) -> None:
        if self.left <= 0:
            raise RuntimeError(f"the benchmark would send more than {MAX_REQUESTS} requests")
        self.left -= 1


async def timed(
    http: httpx.AsyncClient,
    timings: Timings,
    budget: Budget,
    kind: str,
    method: str,
    url: str,
    *,
    expect: int,
    contains: str = "",
    data: dict[str, str] | None = None,
) -> httpx.Response:
    budget.take()
    start = time.perf_counter()
    response = await http.request(method, url, data=data)
    timings.add(kind, time.perf_counter() - start)
    if response.status_code != expect or (contains and contains not in response.text):
        timings.failures.append(
            f"{kind} {method} {url.split('/q/')[0]}: {response.status_code}, expected {expect}"
            + (f" with {contains!r}" if contains else "")
        )
    return response


def answers_for(item_ids: list[str], check_item: str, rng: random.Random) -> dict[str, str]:
    """Random answers 1..5 that meet no check (the check's item answered 2)."""
    return {i: ("2" if i == check_item else str(rng.randint(1, 5))) for i in item_ids}


def pages_of(item_ids: list[str]) -> list[list[str]]:
    from surveytool.web.forms import page_bounds, page_count

    n = len(item_ids)
    return [item_ids[slice(*page_bounds(n, k))] for k in range(page_count(n))]


async def person(
    base: str, item_ids: list[str], check: str, seed: int, timings: Timings, budget: Budget
) -> None:
    rng = random.Random(seed)
    answers = answers_for(item_ids, check, rng)
    pages = pages_of(item_ids)
    async with httpx.AsyncClient(base_url=base, timeout=60, verify=False) as http:
        await timed(http, timings, budget, "person", "GET", "/i/ppai", expect=200)
        token = http.cookies.get(CSRF_COOKIE) or ""
        data = {"csrf": token, "page": "-1", "form": "", "action": "next"}
        await timed(
            http, timings, budget, "person", "POST", "/i/ppai/answer", expect=200, data=data
        )
        given: dict[str, str] = {}
        for k, page in enumerate(pages):
            given.update({f"a_{i}": answers[i] for i in page})
            data = {"csrf": token, "page": str(k), "form": "", "action": "next", **given}
            last = k == len(pages) - 1
            await timed(
                http,
                timings,
                budget,
                "person",
                "POST",
                "/i/ppai/answer",
                expect=200,
                contains="your results" if last else f"Page {k + 2} of",
                data=data,
            )


async def link_client(
    base: str,
    url: str,
    item_ids: list[str],
    check: str,
    seed: int,
    timings: Timings,
    budget: Budget,
) -> None:
    rng = random.Random(seed)
    answers = answers_for(item_ids, check, rng)
    pages = pages_of(item_ids)
    path = url[len(base) :]
    async with httpx.AsyncClient(base_url=base, timeout=60, verify=False) as http:
        start = await timed(http, timings, budget, "link", "GET", path, expect=200)
        found = re.search(r'name="csrf" value="([^"]+)"', start.text)
        token = found.group(1) if found else ""
        await timed(http, timings, budget, "link", "POST", path, expect=303, data={"csrf": token})
        await timed(http, timings, budget, "link", "GET", "/q", expect=200, contains="Page 1 of")
        for k, page in enumerate(pages):
            data = {"csrf": token, "page": str(k), "action": "next"}
            data.update({f"a_{i}": answers[i] for i in page})
            last = k == len(pages) - 1
            await timed(
                http,
                timings,
                budget,
                "link",
                "POST",
                "/q/answer",
                expect=303 if last else 200,
                contains="" if last else f"Page {k + 2} of",
                data=data,
            )
        await timed(http, timings, budget, "link", "GET", "/q/done", expect=200, contains="Thank")


async def probe(
    base: str, done: asyncio.Event, rounds: int, timings: Timings, budget: Budget
) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60, verify=False) as http:
        for _ in range(rounds):
            if done.is_set():
                return
            await timed(http, timings, budget, "baseline", "GET", "/healthz", expect=200)
            await asyncio.sleep(0.05)


async def loop_lag(done: asyncio.Event, timings: Timings) -> None:
    """How late this process's event loop runs a task due now (no requests)."""
    while not done.is_set():
        start = time.perf_counter()
        await asyncio.sleep(0.01)
        timings.lags.append(max(0.0, time.perf_counter() - start - 0.01))


async def load(
    base: str, links: list[str], clients: int, probes: int, timings: Timings, budget: Budget
) -> float:
    from surveytool.instrument.registry import load_instrument

    inst = load_instrument("ppai")
    item_ids = [i.id for i in inst.items]
    check = inst.checks[0].item if inst.checks else ""
    done = asyncio.Event()
    rounds = 40
    probing = [
        asyncio.create_task(probe(base, done, rounds, timings, budget)) for _ in range(probes)
    ]
    probing.append(asyncio.create_task(loop_lag(done, timings)))
    start = time.perf_counter()
    try:
        await asyncio.wait_for(
            asyncio.gather(
                *(person(base, item_ids, check, k, timings, budget) for k in range(clients))
            ),
            DEADLINE / 2,
        )
        await asyncio.wait_for(
            asyncio.gather(
                *(
                    link_client(base, links[k], item_ids, check, 1000 + k, timings, budget)
                    for k in range(clients)
                )
            ),
            DEADLINE / 2,
        )
    finally:
        done.set()
        await asyncio.gather(*probing, return_exceptions=True)
    return time.perf_counter() - start


def prepare_clinic(url: str, clients: int, base: str) -> list[str]:
    """The clinic database ready (migrated), with ``clients`` clients and a link for each."""
    from surveytool.clinic import links
    from surveytool.clinic.clients import add_client
    from surveytool.clinic.store import ClinicStore
    from surveytool.instrument.registry import load_instrument, versioned_ref

    inst = load_instrument("ppai")
    source = versioned_ref(inst) or "ppai"
    store = ClinicStore(url)
    store.ensure_ready()
    out = []
    with store.write() as session:
        for k in range(clients):
            client = add_client(session, None, display_name=None, clinician=None, actor="bench")
            new = links.create_link(
                session,
                client,
                inst,
                source,
                form=None,
                show_results=False,
                expires_in=timedelta(hours=1),
                clinician=None,
                actor=f"bench:{k}",
            )
            out.append(base + new.path())
    store.dispose()
    return out


def cpu_seconds(pid: int) -> float:
    """The user + system CPU time a process (and its reaped children) has used (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    ticks = sum(int(fields[k]) for k in (11, 12, 13, 14))  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def server_cpu(pid: int) -> float:
    """The CPU time of the server: its process and, with ``--workers``, its worker processes."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        kids = [int(k) for k in children.read_text().split()]
    except OSError:
        kids = []
    return cpu_seconds(pid) + sum(cpu_seconds(k) for k in kids)


def start_server(port: int, folder: Path, url: str, workers: int) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "surveytool", "serve", "--port", str(port)]
    args += ["--data-dir", str(folder / "data"), "--database-url", url]
    if workers > 1:
        args += ["--workers", str(workers)]
    log = (folder / "server.log").open("wb")
    proc = subprocess.Popen(
        args,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "SURVEYTOOL_DATA_DIR": str(folder / "user")},
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the server stopped: " + (folder / "server.log").read_text())
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the server did not start within 60 s")


def run(
    clients: int = 50, probes: int = 4, workers: int = 1, database_url: str | None = None
) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
        folder = Path(tmp)
        url = database_url or f"sqlite:///{folder / 'clinic.sqlite3'}"
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        link_urls = prepare_clinic(url, clients, base)
        proc = start_server(port, folder, url, workers)
        timings = Timings()
        budget = Budget(MAX_REQUESTS)
        try:
            # warm-up outside the figures: a few people at once, so that every worker has
            # compiled its templates, loaded the instrument and opened the clinic database
            warm = Timings()
            asyncio.run(warm_up(base, max(2, 2 * workers), warm, budget))
            cpu_before = server_cpu(proc.pid)
            own_before = time.process_time()
            elapsed = asyncio.run(load(base, link_urls, clients, probes, timings, budget))
            cpu = server_cpu(proc.pid) - cpu_before
            own = time.process_time() - own_before
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
    backend = "PostgreSQL" if url.startswith(("postgres", "postgresql")) else "SQLite"
    lines = [
        f"web under load: {clients} concurrent clients per kind, {workers} worker(s), {backend}; "
        f"{timings.requests} requests in {elapsed:.1f} s ({timings.requests / elapsed:.0f}/s)"
    ]
    lines.append(
        f"  server CPU {cpu:.1f} s: {cpu / max(timings.requests, 1) * 1000:.1f} ms per request "
        f"(a closed loop of {clients} clients waits about {clients} x that per request on one "
        "core)"
    )
    lag50, lag95, lag99 = (percentile(timings.lags, q) * 1000 for q in (50, 95, 99))
    lines.append(
        f"  the clients' own CPU {own:.1f} s of {elapsed:.1f} s; their event loop's lag p50 "
        f"{lag50:.1f} ms, p95 {lag95:.1f} ms, p99 {lag99:.1f} ms (part of every latency below)"
    )
    for kind in ("person", "link", "baseline"):
        values = timings.by_kind.get(kind, [])
        if not values:
            continue
        p50, p95, p99 = (percentile(values, q) * 1000 for q in (50, 95, 99))
        lines.append(
            f"  {kind:8s} n={len(values):4d}  p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  "
            f"p99 {p99:7.1f} ms  mean {statistics.fmean(values) * 1000:7.1f} ms"
        )
    base_p95 = percentile(timings.by_kind.get("baseline", []), 95)
    for kind in ("person", "link"):
        values = timings.by_kind.get(kind, [])
        if values and base_p95 > 0:
            lines.append(
                f"  {kind} p95 / baseline p95: {percentile(values, 95) / base_p95:.1f}x "
                "(target: p95 under 100 ms)"
            )
    if timings.failures:
        lines.append(f"  FAILED answers: {len(timings.failures)}, e.g. {timings.failures[:3]}")
    return lines


async def warm_up(base: str, people: int, timings: Timings, budget: Budget) -> None:
    from surveytool.instrument.registry import load_instrument

    inst = load_instrument("ppai")
    check = inst.checks[0].item if inst.checks else ""
    ids = [i.id for i in inst.items]
    await asyncio.gather(
        *(person(base, ids, check, 900_000 + k, timings, budget) for k in range(people))
    )
    async with httpx.AsyncClient(base_url=base, timeout=60, verify=False) as http:
        for _ in range(people):
            budget.take()
            await http.get("/clinic/login")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_web")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--probes", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--database-url")
    args = parser.parse_args(argv)
    lines = run(args.clients, args.probes, args.workers, args.database_url)
    print("\n".join(lines))
    return 1 if any("FAILED" in line for line in lines) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
