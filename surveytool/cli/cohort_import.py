"""``surveytool cohort import`` and ``surveytool cohort map-template``.

Thin wrappers over :func:`analysis.import_cohort` and :func:`analysis.mapping_template`; ``analysis``
(and pandas) load only inside the commands.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from surveytool.cli.cohort import cohort

if TYPE_CHECKING:
    from analysis.cohort_import import CohortImport

#: The same list as ``surveytool.io.sources.FORMATS`` (kept here so ``--help`` needs no import).
SOURCE_FORMATS = ("auto", "csv", "tsv", "xlsx", "sav", "parquet", "jsonl", "qualtrics", "redcap")


def _echo_issues(issues: Any) -> None:
    from surveytool.responses import issue_lines

    for line in issue_lines(issues):
        click.echo(line, err=True)


def _echo_result(result: CohortImport, output: Path) -> None:
    report, disclosure = result.report, result.disclosure
    click.echo(f"format: {report.format_line}")
    click.echo(
        f"instrument: {report.instrument_id} {report.instrument_version} "
        f"(content hash {report.instrument_hash[:12]})"
    )
    if report.id_column:
        click.echo(f"respondent ids: {report.id_column!r} ({report.id_note}) -> keyed pseudonyms")
    else:
        click.echo("respondent ids: none; pseudonyms are made from file and row")
    if report.key_path:
        made = (
            " (created now: keep it apart from the data and back it up; without it later waves "
            "cannot be linked)"
            if report.key_created
            else ""
        )
        click.echo(f"pseudonym key: {report.key_path}{made}")
    click.echo(f"items: {len(report.items)} mapped, {len(report.recoded)} recoded")
    click.echo(report.counts_line())
    if disclosure.dropped:
        click.echo(f"dropped {len(disclosure.dropped)} column(s); they are not in the cohort:")
        for d in disclosure.dropped:
            click.echo(f"  {d.column}: {d.reason}")
    for g in disclosure.generalized:
        click.echo(f"generalized {g.column}: {g.description}")
    kanon = disclosure.k_anonymity
    if kanon is not None and kanon.quasi_identifiers:
        requested = f", k {kanon.k_requested} requested" if kanon.k_requested else ""
        smallest = "none left" if kanon.smallest is None else kanon.smallest
        click.echo(
            f"k-anonymity over {', '.join(kanon.quasi_identifiers)}: smallest class "
            f"{smallest}{requested}; {kanon.suppressed} record(s) suppressed"
        )
    if report.warnings:
        click.echo(f"warnings ({len(report.warnings)}):", err=True)
        for w in report.warnings:
            click.echo(f"  {w.message}", err=True)
    for note in report.notes:
        click.echo(f"note: {note}")
    if len(report.issues):
        _echo_issues(report.issues)
    state = "" if report.cohort_changed or not report.already_imported else " (unchanged)"
    click.echo(f"cohort: {output}{state}: {report.cohort_rows} respondent row(s)")
    others = [p for p in report.written if p != str(output)]
    if others:
        click.echo(f"reports: {', '.join(others)}")


@cohort.command("import")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--instrument", "-i", required=True, help="Bundled id or YAML path.")
@click.option(
    "--map",
    "mapping",
    type=click.Path(path_type=Path),
    help="Mapping file (YAML); see map-template.",
)
@click.option(
    "--key-file",
    type=click.Path(path_type=Path),
    help="Pseudonym key file, created (mode 0600) when missing. Keep it apart from the data. "
    "Default: <user data folder>/surveytool/keys/<cohort name>.key.",
)
@click.option(
    "--k",
    "k",
    type=click.IntRange(min=2),
    help="Suppress records until every class over the quasi-identifiers has at least K.",
)
@click.option(
    "--strict", is_flag=True, help="Fail on any invalid cell, row or column; import nothing."
)
@click.option(
    "--format",
    "source_format",
    type=click.Choice(SOURCE_FORMATS),
    default="auto",
    show_default=True,
    help="Source format; auto tells it from the extension and the first rows.",
)
@click.option("--sheet", help="Workbook sheet name or 0-based number (default: the first).")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path),
    help="Cohort file (.parquet); new respondents are appended when it exists.",
)
def import_command(
    source: Path,
    instrument: str,
    mapping: Path | None,
    key_file: Path | None,
    k: int | None,
    strict: bool,
    source_format: str,
    sheet: str | None,
    output: Path,
) -> None:
    """Import SOURCE (CSV/TSV, XLSX, SPSS, Parquet, Qualtrics or REDCap export) into a cohort.

    Direct identifiers are dropped, ids become keyed pseudonyms, quasi-identifiers are generalized.
    Invalid cells count as missing and are listed in <cohort>.quarantine.csv (--strict stops);
    the disclosure report goes to <cohort>.disclosure.json and .txt.
    """
    from analysis import import_cohort
    from surveytool.errors import InvalidResponsesError

    try:
        result = import_cohort(
            source,
            instrument,
            output=output,
            mapping=mapping,
            key_file=key_file,
            k=k,
            strict=strict,
            format=source_format,
            sheet=int(sheet) if sheet is not None and sheet.isdigit() else sheet,
        )
    except InvalidResponsesError as exc:
        _echo_issues(exc.issues)
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    _echo_result(result, output)


@cohort.command("map-template")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--instrument", "-i", required=True, help="Bundled id or YAML path.")
@click.option(
    "--format",
    "source_format",
    type=click.Choice(SOURCE_FORMATS),
    default="auto",
    show_default=True,
    help="Source format; auto tells it from the extension and the first rows.",
)
@click.option("--sheet", help="Workbook sheet name or 0-based number (default: the first).")
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
@click.option(
    "-o", "--output", required=True, type=click.Path(path_type=Path), help="Mapping file to write."
)
def map_template(
    source: Path,
    instrument: str,
    source_format: str,
    sheet: str | None,
    force: bool,
    output: Path,
) -> None:
    """Write a starting mapping for SOURCE: items matched by id or question text, id, identifiers."""
    from analysis.errors import AnalysisError
    from analysis.mapping import load_mapping, mapping_template
    from surveytool.io.files import write_text_atomic
    from surveytool.io.sources import read_source
    from surveytool.registry import load_instrument

    if output.exists() and not force:
        raise AnalysisError(f"{output} exists; give --force to overwrite it, or another path")
    inst = load_instrument(instrument)
    table = read_source(
        source,
        format=source_format,
        sheet=int(sheet) if sheet is not None and sheet.isdigit() else sheet,
    )
    text = mapping_template(table, inst)
    write_text_atomic(output, text)
    mapping = load_mapping(output).mapping
    click.echo(f"format: {table.format_line}")
    click.echo(
        f"matched {len(mapping.items)} of {len(inst.items)} items of {inst.id}; "
        f"id column: {mapping.id_column or 'none'}; "
        f"{len(mapping.identifiers)} identifier column(s) to drop"
    )
    click.echo(
        f"mapping: {output} (check it, then: surveytool cohort import {source} "
        f"--instrument {instrument} --map {output} -o COHORT.parquet)"
    )
