"""``surveytool instruments list | show | validate | schema``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click


@click.group()
def instruments() -> None:
    """List, show, validate instrument files, and print their JSON Schema."""


@instruments.command("list")
@click.option(
    "--all-versions",
    is_flag=True,
    help="Also list older bundled versions (kept so results made with them re-score exactly).",
)
def list_cmd(all_versions: bool) -> None:
    """List the bundled instruments (the newest version of each, unless --all-versions)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from surveytool.instrument.registry import bundled_versions, load_instrument

    table = Table(title="Bundled instruments")
    for col in ("id", "version", "title", "items", "subscales", "minutes", "status"):
        table.add_column(col)
    for versions in bundled_versions().values():
        newest = versions[-1]
        for entry in versions if all_versions else [newest]:
            inst = load_instrument(entry.path)
            older = entry is not newest
            table.add_row(
                escape(entry.ref if older else inst.id),
                inst.version,
                escape(inst.title),
                str(len(inst.items)),
                str(len(inst.subscales)),
                f"{inst.minutes:g}" if inst.minutes else "",
                f"superseded by {newest.version}" if older else inst.validation_status.value,
            )
    Console().print(table)


@instruments.command("show")
@click.argument("instrument")
def show_cmd(instrument: str) -> None:
    """Show an instrument's items grouped by subscale, with reverse marks and provenance.

    INSTRUMENT: a bundled id (the newest version), id@version (e.g. ppai@1.0.0) or a file."""
    from rich.console import Console

    from surveytool.instrument.registry import load_instrument
    from surveytool.rendering import instrument_renderables

    inst = load_instrument(instrument)
    console = Console()
    for part in instrument_renderables(inst):
        console.print(part)


@instruments.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON report for machines.")
def validate_cmd(paths: tuple[Path, ...], as_json: bool) -> None:
    """Validate instrument files; every problem with file, line, code and hint. Exit 1 on any."""
    from surveytool.instrument.load import validate_path

    reports = [validate_path(p)[1] for p in paths]
    failed = any(not r.ok for r in reports)
    if as_json:
        click.echo(
            json.dumps({"ok": not failed, "files": [r.as_dict() for r in reports]}, indent=2)
        )
    else:
        for report in reports:
            click.echo(report.format_text())
    sys.exit(1 if failed else 0)


@instruments.command("schema")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to a file.")
def schema_cmd(output: Path | None) -> None:
    """Print the JSON Schema of the instrument format."""
    from surveytool.instrument.model import instrument_json_schema

    text = json.dumps(instrument_json_schema(), indent=2)
    if output:
        output.write_text(text + "\n", encoding="utf-8")
    else:
        click.echo(text)
