"""``surveytool cohort report`` and ``surveytool cohort norms``.

Thin wrappers over :func:`analysis.cohort_report.build_cohort_report` / ``write_report`` and
:func:`analysis.cohort_report.cohort_norms`; ``analysis`` (and pandas, matplotlib) load only
inside the commands.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from surveytool.cli.cohort import cohort

if TYPE_CHECKING:
    from rich.progress import Progress

NORMS_HELP = """Build norms from COHORT (a cohort Parquet file) and write the norms block.

Per subscale and composite: mean, sd (n − 1), n, reliability (raw alpha) and a percentile table,
for everyone and, with --group, per group (a group under --min-cell respondents gets no entry,
nor does any group that would let it be recovered from the overall entry).

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

    from analysis.cohort_report import STEPS

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


@cohort.command("report")
@click.argument("cohort_file", metavar="COHORT", type=click.Path(path_type=Path))
@click.option("--instrument", "-i", required=True, help="Bundled id or YAML path.")
@click.option(
    "--group",
    "groups",
    multiple=True,
    help="A group column of the cohort to compare (repeat for several; each on its own).",
)
@click.option(
    "--min-cell",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Smallest publishable cell: groups and counts below it show as suppressed, with "
    "whatever would let them be recovered from a total (1 turns suppression off).",
)
@click.option(
    "--allow-instrument-mismatch",
    is_flag=True,
    help="Report even when the instrument's content hash differs from the one the cohort "
    "was imported with (the report says so).",
)
@click.option("--no-figures", is_flag=True, help="Tables only (faster).")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path),
    help="Report folder: report.html and one CSV per table (an earlier report there is replaced).",
)
def report_command(
    cohort_file: Path,
    instrument: str,
    groups: tuple[str, ...],
    min_cell: int,
    allow_instrument_mismatch: bool,
    no_figures: bool,
    output: Path,
) -> None:
    """Write an HTML report of COHORT (a cohort Parquet file) with every table as CSV.

    Reliability, item statistics, careless responding, scores and their correlations, group
    comparisons, parallel analysis, EFA and CFA; figures as inline SVG (the page loads nothing
    from anywhere). Small cells are suppressed (see --min-cell).
    """
    from analysis.cohort_report import REPORT_FILE, build_cohort_report, write_report

    progress, step = _progress_bar()
    with progress:
        report = build_cohort_report(
            cohort_file,
            instrument,
            groups=groups,
            min_cell=min_cell,
            allow_instrument_mismatch=allow_instrument_mismatch,
            figures=not no_figures,
            progress=step,
        )
        step("writing")
        written = write_report(report, output)
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
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
@click.option("--instrument", "-i", required=True, help="Bundled id or YAML path.")
@click.option(
    "--group",
    "groups",
    multiple=True,
    help="Group column that stratifies the norms (repeat for several: cells are combinations).",
)
@click.option(
    "--min-cell",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Smallest group that gets an entry.",
)
@click.option(
    "--sample",
    help="Who the normative sample is (default: the cohort file, its size and import dates).",
)
@click.option(
    "--allow-instrument-mismatch",
    is_flag=True,
    help="Build norms even when the instrument's content hash differs from the cohort's.",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(path_type=Path),
    help="The norms block to write (YAML).",
)
def norms_command(
    cohort_file: Path,
    instrument: str,
    groups: tuple[str, ...],
    min_cell: int,
    sample: str | None,
    allow_instrument_mismatch: bool,
    output: Path,
) -> None:
    from analysis.cohort_report import cohort_norms
    from analysis.stats.norms import norms_yaml
    from surveytool.io.files import write_text_atomic

    result = cohort_norms(
        cohort_file,
        instrument,
        groups=groups,
        min_cell=min_cell,
        sample=sample,
        allow_instrument_mismatch=allow_instrument_mismatch,
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
