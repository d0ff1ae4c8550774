"""``surveytool serve``: the app under uvicorn, on this computer unless told otherwise.

Forwarded headers (``X-Forwarded-For``, ``X-Forwarded-Proto``) are believed only from the proxy
``--trusted-proxy`` names: without it uvicorn's own default (trust them from 127.0.0.1) would let
anyone on this computer, or any proxy-less client of a local reverse tunnel, choose the address
that login throttling counts by.
"""

from __future__ import annotations

import ipaddress
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


def offered_instruments(files: tuple[Path, ...]) -> dict[str, Path]:
    """The bundled instruments and the given files, by id; each file is loaded and checked
    now, so a mistake stops ``serve`` with the file's problems instead of failing a page."""
    from surveytool.instrument.registry import bundled_paths, load_instrument

    offered = dict(bundled_paths())
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


def run_server(
    host: str,
    port: int,
    store: PersonalStore | None = None,
    database_url: str | None = None,
    trusted_proxies: tuple[str, ...] = (),
    instruments: dict[str, Path] | None = None,
) -> None:  # pragma: no cover
    """Serve the app with uvicorn (blocking)."""
    import uvicorn

    options = uvicorn_options(trusted_proxies)
    hosts = (*DEFAULT_HOSTS, host) if host not in DEFAULT_HOSTS else DEFAULT_HOSTS
    app = create_app(
        store=store,
        allowed_hosts=hosts,
        clinic_database_url=database_url,
        instruments=instruments,
    )
    shown = f"[{host}]" if ":" in host else host
    print(f"surveytool is running: open http://{shown}:{port}/ in your browser (Ctrl-C stops it)")
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, **options)
