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
def serve(host: str, port: int, data_dir: Path | None) -> None:
    """Start the self-assessment pages on this computer."""
    from surveytool.personal_store import PersonalStore
    from surveytool.web.app import run_server

    run_server(host, port, PersonalStore(data_dir) if data_dir else None)
