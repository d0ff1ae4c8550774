"""``surveytool instruments list | show | validate | schema | export | import``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from surveytool.cli.common import output_option


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
@output_option("Write to a file.", required=False)
def schema_cmd(output: Path | None) -> None:
    """Print the JSON Schema of the instrument format."""
    from surveytool.instrument.model import instrument_json_schema

    text = json.dumps(instrument_json_schema(), indent=2)
    if output:
        from surveytool.io.files import write_text_atomic

        write_text_atomic(output, text + "\n")
    else:
        click.echo(text)


_EXPORT_SUFFIX = {"fhir": ".json", "redcap": ".csv", "xlsform": ".xlsx"}


@instruments.command("export")
@click.argument("instrument")
@click.option(
    "--to",
    "target",
    required=True,
    type=click.Choice(["fhir", "redcap", "xlsform"]),
    help="fhir: a FHIR R4 Questionnaire (.json); redcap: a data dictionary (.csv); "
    "xlsform: an ODK/KoboToolbox form (.xlsx).",
)
@output_option("File.")
@click.option(
    "--url",
    "base",
    default=None,
    help="Canonical base of the FHIR Questionnaire (default urn:surveytool:instrument:).",
)
def export_cmd(instrument: str, target: str, output: Path, base: str | None) -> None:
    """Export an instrument with its scoring, for FHIR systems, REDCap or ODK/KoboToolbox."""
    from surveytool.errors import SurveytoolError
    from surveytool.instrument.registry import load_instrument
    from surveytool.io.files import write_bytes_atomic, write_text_atomic

    if output.suffix.lower() != _EXPORT_SUFFIX[target]:
        raise SurveytoolError(
            f"{output}: --to {target} writes a {_EXPORT_SUFFIX[target]} file; "
            f"name the output with that extension"
        )
    inst = load_instrument(instrument)
    if target == "fhir":
        from surveytool.interchange import fhir

        text = fhir.questionnaire_json(inst, base=base or fhir.DEFAULT_BASE)
        write_text_atomic(output, text)
    elif target == "redcap":
        from surveytool.interchange import redcap

        write_text_atomic(output, redcap.data_dictionary(inst))
    else:
        from surveytool.interchange import xlsform

        write_bytes_atomic(output, xlsform.workbook_bytes(inst))
    scores = len(inst.subscales) + len(inst.composites)
    click.echo(
        f"wrote {inst.id} {inst.version} as {target} to {output}: "
        f"{len(inst.items)} items, {scores} scores"
    )


@instruments.command("import")
@click.argument("source", type=click.Path(path_type=Path))
@output_option("YAML file.")
@click.option("--form", help="REDCap: the form (instrument) of the dictionary to import.")
@click.option("--json", "as_json", is_flag=True, help="Print the import report as JSON.")
def import_cmd(source: Path, output: Path, form: str | None, as_json: bool) -> None:
    """Import a FHIR Questionnaire (.json), REDCap data dictionary (.csv) or XLSForm (.xlsx).

    Writes an instrument file; what could not be mapped is listed (and noted in the file's
    header). Exit 1, writing nothing, when the result is no valid instrument.
    """
    from surveytool.errors import SurveytoolError
    from surveytool.interchange import read_instrument_file
    from surveytool.io.files import refuse_collisions, write_text_atomic

    if output.suffix.lower() not in (".yaml", ".yml"):
        raise SurveytoolError(f"{output}: the instrument file is YAML; name it .yaml")
    refuse_collisions({"instrument file": output}, {"source": source})
    if form is not None and source.suffix.lower() not in (".csv", ".txt", ".tsv"):
        raise SurveytoolError(
            f"--form picks a form of a REDCap data dictionary (.csv); {source} is not one"
        )
    result = read_instrument_file(source, form=form)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "ok": result.ok,
                    "not_mapped": [p.as_dict() for p in result.not_mapped],
                    "report": result.report.as_dict(),
                },
                indent=2,
            )
        )
    else:
        for p in result.not_mapped:
            where = f" at {p.path}" if p.path else ""
            click.echo(f"not imported{where}: {p.message}", err=True)
    if not result.ok:
        if not as_json:
            click.echo(result.report.format_text(), err=True)
        click.echo(f"error: {source} gives no valid instrument; nothing was written", err=True)
        sys.exit(1)
    write_text_atomic(output, result.yaml_text())
    assert result.instrument is not None
    inst = result.instrument
    click.echo(
        f"wrote {output}: {inst.id} {inst.version}, {len(inst.items)} items, "
        f"{len(inst.subscales)} subscales, {len(inst.composites)} composites; "
        f"{len(result.not_mapped)} part(s) not imported"
    )
