"""``surveytool cohort ...``: the research layer's commands (import, map-template, report, norms).

The core command line (:mod:`surveytool.cli`) loads this module by name only when ``cohort`` is
used, so ``surveytool`` never imports ``analysis`` otherwise. The commands are thin wrappers that
parse, call the library, print. Library messages name parameters (:class:`analysis.errors.Phrase`);
:data:`FLAGS` spells them as this command line's flags, in one place.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypedDict, TypeVar

import click

from analysis.errors import NO_VALUE, Param, Phrase
from surveytool.cli.common import (
    echo_issues,
    instrument_option,
    output_option,
    refuse_input_collisions,
)
from surveytool.engine.cluster import engine_options
from surveytool.entry import received
from surveytool.errors import InvalidResponsesError, SurveytoolError
from surveytool.io.sources import FORMATS

if TYPE_CHECKING:
    from rich.progress import Progress

    from analysis.cohort import CohortImport
    from analysis.cohort.streaming import StreamedImport

F = TypeVar("F", bound=Callable[..., Any])


def _sheet(ctx: click.Context, param: click.Parameter, value: str | None) -> str | int | None:
    """``--sheet 2`` is the third sheet (0-based); any other text, a sheet's name."""
    return int(value) if value is not None and value.isdigit() else value


def _format_options(command: F) -> F:
    """``--format`` and ``--sheet``: how to read a source file."""
    command = click.option(
        "--sheet",
        callback=_sheet,
        help="Workbook sheet name or 0-based number (default: the first).",
    )(command)
    return click.option(
        "--format",
        "source_format",
        type=click.Choice(FORMATS),
        default="auto",
        show_default=True,
        help="Source format; auto tells it from the extension and the first rows.",
    )(command)


def _definition_options(command: F) -> F:
    """``--dictionary`` and ``--qsf``: the survey definition exported beside a source."""
    command = click.option(
        "--qsf",
        type=click.Path(path_type=Path),
        help="Qualtrics survey definition (.qsf): question text and choice recodes.",
    )(command)
    return click.option(
        "--dictionary",
        type=click.Path(path_type=Path),
        help="REDCap data dictionary (CSV): field and choice labels, identifier flags, forms.",
    )(command)


def _groups_option(help: str) -> Callable[[F], F]:
    """``--group COLUMN`` (repeatable), as ``groups``."""
    return click.option("--group", "groups", multiple=True, help=help)


def _min_cell_option(help: str) -> Callable[[F], F]:
    """``--min-cell N``: the smallest cell the command publishes (10 unless given)."""
    return click.option(
        "--min-cell", type=click.IntRange(min=1), default=10, show_default=True, help=help
    )


def _mismatch_option(help: str) -> Callable[[F], F]:
    """``--allow-instrument-mismatch``: go on when the instrument is not the cohort's."""
    return click.option("--allow-instrument-mismatch", is_flag=True, help=help)


#: Library parameter -> the flag that sets it (the one place the two spellings meet).
FLAGS: dict[str, str] = {
    "format": "--format",
    "sheet": "--sheet",
    "mapping": "--map",
    "key_file": "--key-file",
    "k": "--k",
    "strict": "--strict",
    "output": "--output",
    "instrument": "--instrument",
    "groups": "--group",
    "min_cell": "--min-cell",
    "allow_instrument_mismatch": "--allow-instrument-mismatch",
    "figures": "--no-figures",
    "sample": "--sample",
    "dictionary": "--dictionary",
    "qsf": "--qsf",
    "wave": "--wave",
    "pool_waves": "--pool-waves",
}


def flag(param: Param) -> str:
    """``--k 5`` for ``k=5``; the bare flag for a switch or a parameter named without a value."""
    name = FLAGS.get(param.name, "--" + param.name.replace("_", "-"))
    if param.value is NO_VALUE or isinstance(param.value, bool):
        return name
    return f"{name} {param.value}"


def spelled(message: object) -> str:
    """A library message as this command line says it (parameters as flags)."""
    return message.spell(flag) if isinstance(message, Phrase) else str(message)


def _error_text(exc: BaseException) -> str:
    return spelled(exc.args[0]) if exc.args and isinstance(exc.args[0], Phrase) else str(exc)


class CohortGroup(click.Group):
    """Prints a user mistake with its parameters spelled as flags (then exit status 1)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SurveytoolError as exc:
            if received() is not None:
                raise  # an interrupt that a library made an error: the program reports it
            if isinstance(exc, InvalidResponsesError):
                echo_issues(exc.issues)
            click.echo(f"error: {_error_text(exc)}", err=True)
            ctx.exit(1)


@click.group(cls=CohortGroup)
def cohort() -> None:
    """Import, anonymize and analyze research cohorts."""


#: Dropped columns and warnings listed on the terminal (the disclosure report has every one).
SHOWN = 20


def _echo_result(result: CohortImport | StreamedImport, output: Path) -> None:
    from analysis.privacy.disclosure import shown_name

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
        for d in disclosure.dropped[:SHOWN]:
            click.echo(f"  {shown_name(d.column)}: {d.reason}")
        if len(disclosure.dropped) > SHOWN:  # a file of 10^6 columns printed 10^6 lines
            where = disclosure.columns_file or "the disclosure report"
            click.echo(f"  ... and {len(disclosure.dropped) - SHOWN:,} more in {where}")
    for g in disclosure.generalized:
        click.echo(f"generalized {g.column}: {g.description}")
    kanon = disclosure.k_anonymity
    if kanon is not None and kanon.quasi_identifiers:
        requested = f", k {kanon.k_requested} requested" if kanon.k_requested else ""
        smallest = "none left" if kanon.smallest is None else kanon.smallest
        click.echo(
            f"k-anonymity over {', '.join(kanon.quasi_identifiers)}: smallest class "
            f"{smallest}{requested}; {sum(kanon.blanked.values())} value(s) blanked, "
            f"{kanon.suppressed} record(s) suppressed"
        )
    if report.warnings:
        click.echo(f"warnings ({len(report.warnings)}):", err=True)
        for w in report.warnings[:SHOWN]:
            click.echo(f"  {spelled(w.message)}", err=True)
        if len(report.warnings) > SHOWN:
            click.echo(f"  ... and {len(report.warnings) - SHOWN} more", err=True)
    for note in report.notes:
        click.echo(f"note: {spelled(note)}")
    if len(report.issues):
        echo_issues(report.issues)
    state = "" if report.cohort_changed or not report.already_imported else " (unchanged)"
    click.echo(f"cohort: {output}{state}: {report.cohort_rows} respondent row(s)")
    others = [p for p in report.written if p != str(output)]
    if others:
        click.echo(f"reports: {', '.join(others)}")


class _ImportOptions(TypedDict):
    """What ``cohort import`` passes to the import on either engine (:func:`analysis.import_cohort`,
    :func:`analysis.cohort.streaming.import_cohort_dask`)."""

    output: Path
    mapping: Path | None
    key_file: Path | None
    k: int | None
    strict: bool
    lock_timeout: float | None
    on_wait: Callable[[str], None]


@cohort.command("import")
@click.argument("source", type=click.Path(path_type=Path))
@instrument_option
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
@_format_options
@_definition_options
@output_option(
    "Cohort: a .parquet file (small cohorts) or a folder (a cohort dataset, any size); "
    "new respondents are appended when it exists."
)
@engine_options(
    "memory: the whole file at once; dask: partition by partition (Parquet source, folder "
    "output); auto: dask for a Parquet folder or a large Parquet file when OUTPUT is a folder."
)
@click.option(
    "--lock-timeout",
    type=click.FloatRange(min=0),
    help="When another import is writing the same cohort, wait at most this many seconds "
    "(default: until it is done), then fail without importing.",
)
def import_command(
    source: Path,
    instrument: str,
    mapping: Path | None,
    key_file: Path | None,
    k: int | None,
    strict: bool,
    source_format: str,
    sheet: str | int | None,
    dictionary: Path | None,
    qsf: Path | None,
    output: Path,
    engine: str,
    scheduler: str | None,
    workers: int,
    memory_limit: str | None,
    lock_timeout: float | None,
) -> None:
    """Import SOURCE (CSV/TSV, XLSX, SPSS, Parquet, Qualtrics or REDCap export) into a cohort.

    Direct identifiers are dropped, ids become keyed pseudonyms, quasi-identifiers are generalized.
    Invalid cells count as missing and are listed in <cohort>.quarantine.csv (--strict stops);
    the disclosure report goes to <cohort>.disclosure.json and .txt. A Parquet folder or a large
    Parquet file is imported on Dask, partition by partition, into a cohort folder.
    """
    from analysis import import_cohort
    from analysis.cohort.dataset import is_dataset_path
    from surveytool.engine import choose_engine, cluster

    chosen = choose_engine(engine, source)
    if engine == "auto" and chosen == "dask" and not is_dataset_path(output):
        chosen = "memory"  # a cohort file is written in memory; a folder output streams
    options = _ImportOptions(
        output=output,
        mapping=mapping,
        key_file=key_file,
        k=k,
        strict=strict,
        lock_timeout=lock_timeout,
        on_wait=lambda message: click.echo(f"note: {message}", err=True),
    )
    if chosen == "dask":
        from analysis.cohort.streaming import import_cohort_dask

        with cluster(scheduler, workers=workers, memory_limit=memory_limit):
            streamed = import_cohort_dask(source, instrument, **options)
        _echo_result(streamed, output)
        return

    result = import_cohort(
        source,
        instrument,
        format=source_format,
        sheet=sheet,
        dictionary=dictionary,
        qsf=qsf,
        **options,
    )
    _echo_result(result, output)


@cohort.command("migrate")
@click.argument("source", type=click.Path(path_type=Path))
@click.argument("target", type=click.Path(path_type=Path))
def migrate_command(source: Path, target: Path) -> None:
    """Write the cohort file SOURCE (.parquet) as the cohort dataset TARGET (a new folder).

    The rows, metadata and ledger are the same; the ledger becomes its own Parquet dataset.
    SOURCE is left in place: remove it once TARGET is checked.
    """
    from analysis.cohort import migrate_cohort

    migrated = migrate_cohort(source, target)
    click.echo(
        f"cohort: {target}: {migrated.rows} respondent row(s), ledger "
        f"{migrated.ledger.respondents} key(s), {len(migrated.ledger.imports)} import(s); "
        f"{source} is left in place"
    )


@cohort.command("map-template")
@click.argument("source", type=click.Path(path_type=Path))
@instrument_option
@_format_options
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
@click.option(
    "--wide-waves",
    metavar="PATTERN",
    help="Waves side by side: a regular expression with (?P<wave>...) and (?P<column>...), "
    "e.g. '^s(?P<wave>\\d+)_(?P<column>.+)$'; the rows are reshaped to one per wave.",
)
@_definition_options
@output_option("Mapping file to write.")
def map_template(
    source: Path,
    instrument: str,
    source_format: str,
    sheet: str | int | None,
    force: bool,
    wide_waves: str | None,
    dictionary: Path | None,
    qsf: Path | None,
    output: Path,
) -> None:
    """Write a starting mapping for SOURCE: items matched by id or question text, id, identifiers."""
    from analysis.mapping import load_mapping, mapping_template
    from surveytool.instrument.registry import load_instrument
    from surveytool.io.files import write_text_atomic
    from surveytool.io.sources import read_source, reshape_wide_waves

    refuse_input_collisions(  # --force never overrides this
        {"mapping": output},
        {"source": source, "REDCap dictionary": dictionary, "Qualtrics definition": qsf},
        instrument,
    )
    if output.exists() and not force:
        raise SurveytoolError(f"{output} exists; give --force to overwrite it, or another path")
    inst = load_instrument(instrument)
    table = read_source(
        source,
        format=source_format,
        sheet=sheet,
        dictionary=dictionary,
        qsf=qsf,
    )
    if wide_waves:
        reshape_wide_waves(table, wide_waves)
    text = mapping_template(
        table,
        inst,
        dictionary=_relative(dictionary, output),
        wide_waves=wide_waves,
        qsf=_relative(qsf, output),
    )
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


def _wave_values(given: tuple[str, ...]) -> dict[str, str] | None:
    """``--wave COLUMN=VALUE`` options as a mapping."""
    values: dict[str, str] = {}
    for text in given:
        column, sep, value = text.partition("=")
        if not sep or not column.strip():
            raise click.BadParameter(f"{text!r}: give it as COLUMN=VALUE", param_hint="--wave")
        values[column.strip()] = value.strip()
    return values or None


def _relative(path: Path | None, to: Path) -> str | None:
    """``path`` as the mapping file ``to`` should name it (relative to the mapping's folder)."""
    if path is None:
        return None
    try:
        return str(path.resolve().relative_to(to.resolve().parent))
    except ValueError:
        return str(path.resolve())


NORMS_HELP = """Build norms from COHORT (a cohort file or folder) and write the norms block.

Per subscale and composite: mean, sd (n − 1), n, reliability (raw alpha) and a percentile table,
for everyone and, with --group, per group (a group under --min-cell respondents gets no entry,
nor does any group that would let it be recovered from the overall entry). A cohort with waves
in which the same people repeat is normed from one wave (--wave COLUMN=VALUE), per wave (--group
on the wave column), or pooled only with --pool-waves.

\b
To use the norms, paste the block into the instrument file:
  1. open your instrument's YAML file (to norm a bundled instrument, copy its file
     from surveytool's instruments/ folder and use the copy from now on);
  2. make sure it has no `norms:` key yet (replace the old block if it has);
  3. append OUTPUT at the end of the file as it is: it starts with `norms:` at the
     top level (no indentation) and its entries are indented below it;
  4. edit `sample:` to say who the normative sample is (who, where, when);
  5. raise the instrument's `version` and check it: surveytool instruments validate FILE.
From then on every score has T-scores and percentiles (with --group, the norm of the
respondent's group when the scores are read with the same group columns). The content hash
changes with the norms, so reports on this cohort then need --allow-instrument-mismatch.
"""


def _progress_bar() -> tuple[Progress, Callable[[str], None]]:
    """A rich progress bar on stderr and the step callback that advances it."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from analysis.report import STEPS

    progress = Progress(
        TextColumn("[bold]cohort report[/bold]"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = progress.add_task("starting", total=len(STEPS) + 1)
    started: list[str] = []

    def step(name: str) -> None:
        if started:
            progress.advance(task)
        started.append(name)
        progress.update(task, description=name)

    return progress, step


def _report_engine(engine: str, cohort_file: Path) -> Literal["memory", "dask"]:
    """``auto``: Dask for a cohort folder with more rows than the Dask threshold."""
    if engine in ("memory", "dask"):
        return "dask" if engine == "dask" else "memory"
    from analysis.cohort.dataset import open_cohort
    from surveytool.engine import dask_threshold

    if cohort_file.is_dir():
        return "dask" if open_cohort(cohort_file).rows > dask_threshold() else "memory"
    return "memory"


def _report_scheduler(
    engine: str, scheduler: str | None, workers: int, memory_limit: str | None
) -> contextlib.AbstractContextManager[object]:
    """A Dask cluster for the report on Dask (nothing for the in-memory engine)."""
    if engine != "dask":
        return contextlib.nullcontext()
    from surveytool.engine import cluster

    return cluster(scheduler, workers=workers, memory_limit=memory_limit)


@cohort.command("report")
@click.argument("cohort_file", metavar="COHORT", type=click.Path(path_type=Path))
@instrument_option
@_groups_option("A group column of the cohort to compare (repeat for several; each on its own).")
@_min_cell_option(
    "Smallest publishable cell: groups and counts below it show as suppressed, with "
    "whatever would let them be recovered from a total (1 turns suppression off)."
)
@_mismatch_option(
    "Report even when the instrument's content hash differs from the one the cohort "
    "was imported with (the report says so)."
)
@click.option("--no-figures", is_flag=True, help="Tables only (faster).")
@output_option(
    "Report folder: report.html and one CSV per table (an earlier report there is replaced)."
)
@engine_options(
    "memory: the whole cohort at once; dask: sums, counts and moments reduced partition by "
    "partition, the COSMIN section on a seeded sample (the report says so); auto: dask for a "
    "cohort folder larger than the Dask threshold."
)
def report_command(
    cohort_file: Path,
    instrument: str,
    groups: tuple[str, ...],
    min_cell: int,
    allow_instrument_mismatch: bool,
    no_figures: bool,
    output: Path,
    engine: str,
    scheduler: str | None,
    workers: int,
    memory_limit: str | None,
) -> None:
    """Write an HTML report of COHORT (a cohort file or folder) with every table as CSV.

    Reliability, item statistics, careless responding, scores and their correlations, group
    comparisons, parallel analysis, EFA and CFA; figures as inline SVG (the page loads nothing
    from anywhere). Small cells are suppressed (see --min-cell).
    """
    from analysis.report import REPORT_FILE, build_cohort_report, write_report
    from surveytool.io.files import PathCollisionError

    where = output.resolve()
    if where == cohort_file.resolve() or where in cohort_file.resolve().parents:
        raise PathCollisionError(
            f"{output}: the report folder would replace the folder of the cohort {cohort_file}; "
            "give a new folder for the report"
        )
    chosen = _report_engine(engine, cohort_file)
    progress, step = _progress_bar()
    with progress, _report_scheduler(chosen, scheduler, workers, memory_limit):
        report = build_cohort_report(
            cohort_file,
            instrument,
            groups=groups,
            min_cell=min_cell,
            allow_instrument_mismatch=allow_instrument_mismatch,
            figures=not no_figures,
            progress=step,
            engine=chosen,
        )
        step("writing")
        written = write_report(report, output)
    for note in report.notes:
        click.echo(f"note: {spelled(note)}", err=True)
    suppressed = sum(
        int((t.frame.astype(object) == "suppressed").to_numpy().sum()) for t in report.tables
    )
    click.echo(
        f"report: {output / REPORT_FILE} ({len(written) - 2} tables as CSV beside it); "
        f"{report.respondents} respondents of {report.instrument.id} {report.instrument.version}; "
        + (
            f"{suppressed} cell(s) suppressed (min cell {min_cell})"
            if min_cell > 1
            else "suppression off"
        )
    )


@cohort.command("norms", help=NORMS_HELP)
@click.argument("cohort_file", metavar="COHORT", type=click.Path(path_type=Path))
@instrument_option
@_groups_option(
    "Group column that stratifies the norms (repeat for several: cells are combinations)."
)
@_min_cell_option("Smallest group that gets an entry.")
@click.option(
    "--sample",
    help="Who the normative sample is (default: the cohort file, its size and import dates).",
)
@_mismatch_option("Build norms even when the instrument's content hash differs from the cohort's.")
@click.option(
    "--wave",
    "waves",
    multiple=True,
    metavar="COLUMN=VALUE",
    help="Norm one wave of a cohort with waves (repeat for several wave columns).",
)
@click.option(
    "--pool-waves",
    is_flag=True,
    help="Pool every wave although the same people repeat (they then count more than once).",
)
@output_option("The norms block to write (YAML).")
@engine_options(
    "memory: the whole cohort at once; dask: partition by partition, exact counts of every "
    "score value per cell and the reliability sums reduced over partitions (the same norms); "
    "auto: dask for a cohort folder larger than the Dask threshold."
)
def norms_command(
    cohort_file: Path,
    instrument: str,
    groups: tuple[str, ...],
    min_cell: int,
    sample: str | None,
    allow_instrument_mismatch: bool,
    waves: tuple[str, ...],
    pool_waves: bool,
    output: Path,
    engine: str,
    scheduler: str | None,
    workers: int,
    memory_limit: str | None,
) -> None:
    from analysis import norms_yaml
    from analysis.report import cohort_norms
    from surveytool.io.files import write_text_atomic

    refuse_input_collisions({"norms": output}, {"cohort": cohort_file}, instrument)
    chosen = _report_engine(engine, cohort_file)
    with _report_scheduler(chosen, scheduler, workers, memory_limit):
        result = cohort_norms(
            cohort_file,
            instrument,
            groups=groups,
            min_cell=min_cell,
            sample=sample,
            allow_instrument_mismatch=allow_instrument_mismatch,
            wave=_wave_values(waves),
            pool_waves=pool_waves,
            engine=chosen,
        )
    write_text_atomic(output, norms_yaml(result.norms))
    entries = result.norms.entries
    cells = sorted({tuple(sorted(e.group.items())) for e in entries})
    click.echo(
        f"norms: {output}: {len(entries)} entries for {len({e.scale for e in entries})} scale(s) "
        f"in {len(cells)} cell(s); sample: {result.norms.sample}"
    )
    hidden = result.suppressed
    if len(hidden):
        for (cell, reason), part in hidden.groupby(["cell", "reason"], sort=True):
            click.echo(f"  not published: {cell} ({reason}; {len(part)} scale(s))")
    click.echo(
        "paste it at the top level of the instrument file (see: surveytool cohort norms --help)"
    )
