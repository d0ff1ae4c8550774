"""``surveytool serve``: the app under uvicorn, on this computer unless told otherwise."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from surveytool.personal_store import PersonalStore
from surveytool.web.app import create_app
from surveytool.web.security import DEFAULT_HOSTS


def run_server(
    host: str,
    port: int,
    store: PersonalStore | None = None,
    database_url: str | None = None,
    instruments: Mapping[str, Path] | None = None,
) -> None:  # pragma: no cover
    """Serve the app with uvicorn (blocking); ``instruments``: the offered files by id (default:
    the bundled ones, newest versions)."""
    import uvicorn

    hosts = (*DEFAULT_HOSTS, host) if host not in DEFAULT_HOSTS else DEFAULT_HOSTS
    app = create_app(
        store=store, allowed_hosts=hosts, clinic_database_url=database_url, instruments=instruments
    )
    shown = f"[{host}]" if ":" in host else host
    print(f"surveytool is running: open http://{shown}:{port}/ in your browser (Ctrl-C stops it)")
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
