"""Where Dask work runs: an existing cluster, a local cluster of processes, or the synchronous
scheduler; and which engine (memory or Dask) a command uses.

:func:`cluster` is the one way the core, ``analysis`` and the tests obtain a scheduler::

    with cluster(workers=2, memory_limit="2GB") as client:   # a distributed.LocalCluster
        ...                                                   # .compute() runs on it
    with cluster(scheduler="tcp://10.0.0.5:8786"):            # an existing cluster
        ...
    with cluster(synchronous=True):                           # one thread, no processes (tests)
        ...

Inside the block the scheduler is Dask's default (``dask.config`` ``scheduler``), so plain
``.compute()`` calls use it; on leaving, the client is closed and a local cluster shut down, and
the previous default comes back. A local cluster is quiet: no dashboard, and its log records
below ``CRITICAL`` are dropped in the scheduler, the workers and this process, so nothing but our
own messages reaches the console (a failed task's error comes back as its exception).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from surveytool.errors import SurveytoolError

if TYPE_CHECKING:
    from distributed import Client

Engine = Literal["auto", "memory", "dask"]

#: The choices of ``engine`` (the CLI's ``--engine``).
ENGINES: tuple[str, ...] = ("auto", "memory", "dask")

#: ``auto`` runs on Dask for a Parquet source with more rows than this (or for any folder). The
#: environment variable ``SURVEYTOOL_DASK_ROWS`` overrides it. Two million rows of a 58-item
#: instrument take about 4 GB in memory on the in-memory path (issue 18's measure: 2-4 GB per
#: million respondents), a quarter of a 16 GB laptop.
DASK_ROWS = 2_000_000
DASK_ROWS_VARIABLE = "SURVEYTOOL_DASK_ROWS"

#: The loggers of dask and distributed, quietened in this process while a cluster runs.
#: (asyncio: a gather the client abandons on Ctrl-C is logged as "Task exception was never
#: retrieved" with a traceback.)
_LOGGERS = ("distributed", "dask", "tornado", "bokeh", "asyncio")


class EngineError(SurveytoolError):
    """The Dask engine cannot run as asked (bad worker count, unreachable scheduler, bad data)."""


def dask_threshold() -> int:
    """The row count above which ``auto`` chooses Dask (:data:`DASK_ROWS` or the variable)."""
    raw = os.environ.get(DASK_ROWS_VARIABLE)
    if raw is None or not raw.strip():
        return DASK_ROWS
    try:
        value = int(raw.strip().replace("_", ""))
    except ValueError:
        value = -1
    if value < 0:
        raise EngineError(
            f"{DASK_ROWS_VARIABLE}={raw!r} is not a row count; give a whole number such as "
            f"{DASK_ROWS} (or unset it)"
        )
    return value


def choose_engine(engine: str, source: str | Path) -> Literal["memory", "dask"]:
    """The engine that reads ``source``: ``dask`` or ``memory`` as asked, or by size for ``auto``.

    ``auto`` chooses Dask for a folder (a Parquet dataset), and for a Parquet file with more rows
    than :func:`dask_threshold` (read from the file's footer, not its data); every other file is
    read in memory.
    """
    if engine not in ENGINES:
        raise EngineError(f"unknown engine {engine!r}; use one of {', '.join(ENGINES)}")
    if engine != "auto":
        return "dask" if engine == "dask" else "memory"
    path = Path(source)
    if path.is_dir():
        return "dask"
    if path.suffix.lower() in (".parquet", ".pq") and path.is_file():
        import pyarrow.parquet as pq

        try:
            rows = pq.ParquetFile(path).metadata.num_rows
        except Exception:  # not Parquet after all: the in-memory reader says why
            return "memory"
        return "dask" if rows > dask_threshold() else "memory"
    return "memory"


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$", re.IGNORECASE)


def parse_memory_limit(text: str | None) -> int | None:
    """``2GB``, ``1.5 GiB``, ``512MB`` or a byte count -> bytes; None or ``auto`` -> None."""
    if text is None or text.strip().lower() in ("", "auto"):
        return None
    found = _SIZE.match(text)
    if found is None:
        raise EngineError(
            f"the memory limit {text!r} is not a size; give one such as 2GB, 512MB or 1.5GiB"
        )
    from dask.utils import parse_bytes

    value = int(parse_bytes(text.strip().replace(" ", "")))
    if value < 64 * 2**20:
        raise EngineError(
            f"the memory limit {text!r} is below 64 MB, too little for a worker; give e.g. 2GB"
        )
    return value


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Dask's and distributed's log records below ``CRITICAL`` and their warnings dropped here
    (a failed task's error reaches the caller as its exception, not as a log line)."""
    saved = {name: logging.getLogger(name).level for name in _LOGGERS}
    for name in _LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=r"(distributed|dask|tornado)(\.|$)")
            yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


@contextlib.contextmanager
def cluster(
    scheduler: str | None = None,
    *,
    workers: int = 2,
    memory_limit: str | int | None = None,
    threads_per_worker: int = 1,
    synchronous: bool = False,
    connect_timeout: float = 10.0,
    default: bool = True,
) -> Iterator[Client | None]:
    """A Dask scheduler for the block: yields the :class:`distributed.Client` (None when
    ``synchronous``).

    Parameters
    ----------
    scheduler
        The address of an existing scheduler (``tcp://host:8786``); ``workers`` and
        ``memory_limit`` are then the cluster's business and ignored.
    workers
        Worker processes of the local cluster (at least 1).
    memory_limit
        Per worker (``2GB``, bytes, or None for distributed's default share of the machine).
        A worker that exceeds 95 % of it is restarted by its nanny.
    threads_per_worker
        Threads in each worker (1: the kernels are numpy, one core each).
    synchronous
        Run every task in this thread (``dask.config`` ``scheduler="synchronous"``): no cluster,
        for tests and debugging.
    connect_timeout
        Seconds to wait for ``scheduler`` before :class:`EngineError`.
    default
        Make the client Dask's default scheduler inside the block (False: only :func:`activate`
        does, e.g. per test with a session-wide cluster).
    """
    import dask

    if synchronous:
        with dask.config.set(scheduler="synchronous"):
            yield None
        return
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise EngineError(f"workers must be a whole number of at least 1 (got {workers!r})")
    if threads_per_worker < 1:
        raise EngineError(f"threads per worker must be at least 1 (got {threads_per_worker!r})")
    limit = parse_memory_limit(memory_limit) if isinstance(memory_limit, str) else memory_limit
    with quiet():
        from distributed import Client, LocalCluster

        if scheduler is not None:
            try:
                client = Client(scheduler, timeout=connect_timeout, set_as_default=False)
            except (OSError, TimeoutError, ValueError) as exc:
                reason = (
                    str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                )
                raise EngineError(
                    f"cannot reach the Dask scheduler at {scheduler!r} ({reason}); check the "
                    "address and that the scheduler runs, or leave the scheduler out to start a "
                    "local cluster"
                ) from None
            with contextlib.closing(client), _maybe_activate(client, default):
                yield client
            return
        local = _start_local(
            lambda: LocalCluster(
                n_workers=workers,
                threads_per_worker=threads_per_worker,
                processes=True,
                memory_limit=limit if limit is not None else "auto",
                dashboard_address=None,
                silence_logs=logging.CRITICAL,
            )
        )
        with contextlib.closing(local):
            client = Client(local, set_as_default=False)
            with contextlib.closing(client), _maybe_activate(client, default):
                yield client


C = TypeVar("C")


def _start_local(make: Callable[[], C]) -> C:
    """``make()`` (a LocalCluster) in a helper thread whose SIGINT is blocked; Ctrl-C works.

    Ctrl-C in a terminal sends SIGINT to the whole process group: the workers would each die
    with a traceback of their own. The cluster's threads (its event loop, the nannies' process
    watchers) are started from the helper thread, so they inherit its signal mask with SIGINT
    blocked, and so do the worker processes they spawn (the mask survives ``fork`` and
    ``exec``; a restarted worker is spawned by the same threads): a worker never receives
    SIGINT. The calling thread keeps SIGINT: Ctrl-C during the start raises
    KeyboardInterrupt here, and the cluster is closed as soon as it exists (a start cannot be
    cut short) before the interrupt goes on. Afterwards only the caller's threads take
    SIGINT, so Ctrl-C leaves the ``cluster`` block, which closes the workers.

    multiprocessing's resource tracker is started first, from the calling thread: starting it
    blocks SIGINT around its own spawn and then *unblocks* it in the thread that asked, which
    would be the cluster's event loop (and every worker spawned after it would take Ctrl-C).
    """
    import signal
    import threading
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()
    made: list[C] = []
    failed: list[BaseException] = []

    def start() -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            made.append(make())
        except BaseException as exc:  # handed to the caller
            failed.append(exc)

    helper = threading.Thread(target=start, name="surveytool cluster start", daemon=True)
    helper.start()
    try:
        while helper.is_alive():
            helper.join(0.05)
    except KeyboardInterrupt:
        helper.join()
        for local in made:
            with contextlib.suppress(Exception):
                local.close()  # type: ignore[attr-defined]
        raise
    if failed:
        raise failed[0]
    return made[0]


def _maybe_activate(client: Client, default: bool) -> contextlib.AbstractContextManager[Client]:
    return activate(client) if default else contextlib.nullcontext(client)


@contextlib.contextmanager
def activate(client: Client) -> Iterator[Client]:
    """``client`` as Dask's default scheduler for the block (the previous one after it)."""
    import dask

    with dask.config.set(scheduler=client), client.as_current():
        yield client


F = TypeVar("F", bound=Callable[..., Any])


def engine_options(engine_help: str) -> Callable[[F], F]:
    """The Dask options every large-data command takes (``--engine``, ``--scheduler``,
    ``--workers``, ``--memory-limit``), with the command's own words for ``--engine``."""
    import click

    def decorate(command: F) -> F:
        for option in reversed(
            (
                click.option(
                    "--engine",
                    type=click.Choice(["auto", "memory", "dask"]),
                    default="auto",
                    show_default=True,
                    help=engine_help,
                ),
                click.option(
                    "--scheduler",
                    metavar="ADDRESS",
                    help="An existing Dask scheduler (tcp://host:8786).",
                ),
                click.option(
                    "--workers",
                    type=click.IntRange(min=1),
                    default=2,
                    show_default=True,
                    help="Worker processes of the local Dask cluster (one thread each).",
                ),
                click.option(
                    "--memory-limit",
                    metavar="SIZE",
                    help="Memory per Dask worker, e.g. 2GB (default: a fair share).",
                ),
            )
        ):
            command = option(command)
        return command

    return decorate
