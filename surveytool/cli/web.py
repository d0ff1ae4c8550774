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
@click.option(
    "--offer",
    "offers",
    multiple=True,
    metavar="INSTRUMENT",
    help="Offer this instrument instead of the bundled ones: a bundled id, an id@version such "
    "as ppai@1.0.0 (e.g. to finish a study begun with it), or a YAML file; repeat for several.",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 32),
    help="Worker processes (PostgreSQL only: a SQLite clinic database takes one writer at a "
    "time). Sessions, login throttling and the audit log are kept in the database, so they hold "
    "across workers.",
)
def serve(
    host: str,
    port: int,
    data_dir: Path | None,
    database_url: str | None,
    trusted_proxies: tuple[str, ...],
    instrument_files: tuple[Path, ...],
    offers: tuple[str, ...],
    workers: int,
) -> None:
    """Start the self-assessment pages (and the clinician pages, /clinic) on this computer."""
    from surveytool.errors import InstrumentNotFoundError
    from surveytool.instrument.registry import offered_sources
    from surveytool.personal_store import PersonalStore
    from surveytool.web.server import (
        check_address,
        check_proxies,
        check_workers,
        offered_instruments,
        run_server,
    )

    try:
        sources = offered_sources(offers) if offers else None
    except InstrumentNotFoundError as exc:
        raise click.BadParameter(str(exc), param_hint="--offer") from None
    if database_url is None and data_dir is not None:
        database_url = f"sqlite:///{data_dir.resolve() / 'clinic.sqlite3'}"
    check_proxies(trusted_proxies)
    check_workers(workers, database_url)
    check_address(host, port)
    run_server(
        host,
        port,
        PersonalStore(data_dir) if data_dir else None,
        database_url,
        trusted_proxies,
        offered_instruments(instrument_files, sources),
        workers,
    )
