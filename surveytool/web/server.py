"""``surveytool serve``: the app under uvicorn, on this computer unless told otherwise.

Forwarded headers (``X-Forwarded-For``, ``X-Forwarded-Proto``) are believed only from the proxy
``--trusted-proxy`` names: without it uvicorn's own default (trust them from 127.0.0.1) would let
anyone on this computer, or any proxy-less client of a local reverse tunnel, choose the address
that login throttling counts by.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from surveytool.errors import SurveytoolError
from surveytool.personal_store import PersonalStore
from surveytool.web.app import create_app
from surveytool.web.security import DEFAULT_HOSTS


def check_proxies(proxies: tuple[str, ...]) -> tuple[str, ...]:
    """The trusted proxies' addresses (IP addresses or networks), checked."""
    for proxy in proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise SurveytoolError(
                f"--trusted-proxy {proxy!r} is not an IP address or network (e.g. 127.0.0.1 or "
                "10.0.0.0/24)"
            ) from None
    return proxies


def check_address(host: str, port: int) -> None:
    """Refuse, before anything is printed or started, an address the server cannot listen on:
    a port in use, a privileged port, a host that is not an address of this computer.

    The socket is bound with the options uvicorn binds it with (``SO_REUSEADDR``), then closed,
    so what passes here is what uvicorn can take."""
    import errno
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
    except socket.gaierror:
        raise SurveytoolError(
            f"--host {host!r} is not an address of this computer; leave it out (127.0.0.1, this "
            "computer only) or give one of its addresses"
        ) from None
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise SurveytoolError(
                f"{shown} is already in use (another surveytool serve, or another program); "
                f"stop that program, or choose another port, e.g. --port {port + 1 if port < 65535 else 8000}"
            ) from None
        if exc.errno == errno.EACCES:
            raise SurveytoolError(
                f"{shown}: ports below 1024 need administrator rights; choose --port 8000 (or "
                "another port from 1024 up)"
            ) from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise SurveytoolError(
                f"--host {host!r} is not an address of this computer; leave it out (127.0.0.1, "
                "this computer only) or give one of its addresses"
            ) from None
        raise SurveytoolError(f"{shown}: cannot listen there: {exc.strerror}") from None


def offered_instruments(
    files: tuple[Path, ...], base: Mapping[str, Path] | None = None
) -> dict[str, Path]:
    """The bundled instruments (or ``base``: those chosen with ``--offer``) and the given files,
    by id; each file is loaded and checked now, so a mistake stops ``serve`` with the file's
    problems instead of failing a page."""
    from surveytool.instrument.registry import bundled_paths, load_instrument

    offered = dict(bundled_paths() if base is None else base)
    given: dict[str, Path] = {}
    for path in files:
        if not path.is_file():
            raise SurveytoolError(f"--instrument {path}: no such file")
        inst = load_instrument(path)
        if inst.id in given:
            raise SurveytoolError(
                f"--instrument {path}: the id {inst.id!r} is already given by {given[inst.id]}"
            )
        if inst.id in offered:
            raise SurveytoolError(
                f"--instrument {path}: the id {inst.id!r} is a bundled instrument's; give the "
                "file another id"
            )
        given[inst.id] = path.resolve()
    return {**offered, **given}


def uvicorn_options(trusted_proxies: tuple[str, ...] = ()) -> dict[str, Any]:
    """uvicorn's proxy settings: forwarded headers only from the trusted proxies."""
    if not trusted_proxies:
        return {"proxy_headers": False, "forwarded_allow_ips": ""}
    return {"proxy_headers": True, "forwarded_allow_ips": ",".join(check_proxies(trusted_proxies))}


#: The environment variable that carries ``serve``'s settings to its worker processes.
CONFIG_ENV = "SURVEYTOOL_SERVE_CONFIG"
MAX_WORKERS = 32


def check_workers(workers: int, database_url: str | None) -> None:
    """Several worker processes need a database server: refused on SQLite, with why and what to
    do instead.

    Sessions, CSRF, login throttling and the audit chain hold across processes (sessions and
    login attempts are rows, the CSRF token is a cookie compared with the form, the chain is
    appended under a PostgreSQL advisory lock), so PostgreSQL takes several workers. A SQLite
    file takes one writer at a time (``BEGIN IMMEDIATE``): more processes would only queue on
    its lock, and each would run its own copy of the alert timer on one file.
    """
    from surveytool.clinic.store import ClinicStore

    if not 1 <= workers <= MAX_WORKERS:
        raise SurveytoolError(f"--workers must be between 1 and {MAX_WORKERS}, not {workers}")
    if workers == 1:
        return
    store = ClinicStore(database_url)
    if store.backend == "sqlite":
        raise SurveytoolError(
            f"--workers {workers} needs PostgreSQL: the clinic database is the SQLite file "
            f"{store.sqlite_path}, which takes one writer at a time, so several worker "
            "processes would only wait for each other. Use --database-url postgresql://... for "
            "several workers, or leave out --workers (one process, its threads serve many "
            "people at once)."
        )


def app_from_environment() -> Any:
    """The app of one worker process, from the settings ``serve`` left in :data:`CONFIG_ENV`
    (uvicorn starts each worker by this import string)."""
    import json

    config = json.loads(os.environ[CONFIG_ENV])
    data_dir = config.get("data_dir")
    return create_app(
        store=PersonalStore(Path(data_dir)) if data_dir else None,
        allowed_hosts=tuple(config["hosts"]),
        clinic_database_url=config.get("database_url"),
        instruments={k: Path(v) for k, v in config["instruments"].items()}
        if config.get("instruments") is not None
        else None,
    )


def run_server(
    host: str,
    port: int,
    store: PersonalStore | None = None,
    database_url: str | None = None,
    trusted_proxies: tuple[str, ...] = (),
    instruments: Mapping[str, Path] | None = None,
    workers: int = 1,
) -> None:  # pragma: no cover
    """Serve the app with uvicorn (blocking); ``instruments``: the offered files by id (default:
    the bundled ones, newest versions); ``workers``: processes (PostgreSQL only, see
    :func:`check_workers`)."""
    import json

    import uvicorn

    check_workers(workers, database_url)
    check_address(host, port)
    options = uvicorn_options(trusted_proxies)
    hosts = (*DEFAULT_HOSTS, host) if host not in DEFAULT_HOSTS else DEFAULT_HOSTS
    shown = f"[{host}]" if ":" in host else host
    common: dict[str, Any] = {"host": host, "port": port, "log_level": "warning"}
    common.update(access_log=False, **options)
    if workers > 1:
        os.environ[CONFIG_ENV] = json.dumps(
            {
                "hosts": list(hosts),
                "data_dir": None if store is None else str(store.folder),
                "database_url": database_url,
                "instruments": None
                if instruments is None
                else {k: str(v) for k, v in instruments.items()},
            }
        )
        print(
            f"surveytool is running with {workers} worker processes: open http://{shown}:{port}/ "
            "in your browser (Ctrl-C stops it)",
            flush=True,
        )
        uvicorn.run(
            "surveytool.web.server:app_from_environment", factory=True, workers=workers, **common
        )
        return
    app = create_app(
        store=store,
        allowed_hosts=hosts,
        clinic_database_url=database_url,
        instruments=instruments,
    )
    print(f"surveytool is running: open http://{shown}:{port}/ in your browser (Ctrl-C stops it)")
    uvicorn.run(app, **common)
