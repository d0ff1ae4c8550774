"""``surveytool serve``: the local web app."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind; the default keeps the app on this computer.",
)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    help="Folder of the local database (default: your user data folder).",
)
@click.option(
    "--database-url",
    envvar="SURVEYTOOL_DATABASE_URL",
    help="Clinic database for the clinician pages (/clinic): sqlite:///PATH or postgresql://... "
    "(default: clinic.sqlite3 in the data folder).",
)
@click.option(
    "--trusted-proxy",
    "trusted_proxies",
    multiple=True,
    metavar="ADDRESS",
    help="The reverse proxy (IP address or network) whose X-Forwarded-For and "
    "X-Forwarded-Proto headers are believed; repeatable. Without it, forwarded headers are "
    "ignored.",
)
@click.option(
    "--instrument",
    "instrument_files",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="An instrument file to offer besides the bundled ones (checked first); repeatable.",
)
def serve(
    host: str,
    port: int,
    data_dir: Path | None,
    database_url: str | None,
    trusted_proxies: tuple[str, ...],
    instrument_files: tuple[Path, ...],
) -> None:
    """Start the self-assessment pages (and the clinician pages, /clinic) on this computer."""
    from surveytool.personal_store import PersonalStore
    from surveytool.web.server import check_proxies, offered_instruments, run_server

    if database_url is None and data_dir is not None:
        database_url = f"sqlite:///{data_dir.resolve() / 'clinic.sqlite3'}"
    check_proxies(trusted_proxies)
    run_server(
        host,
        port,
        PersonalStore(data_dir) if data_dir else None,
        database_url,
        trusted_proxies,
        offered_instruments(instrument_files),
    )
