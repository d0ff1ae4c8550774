"""``surveytool take``: the self-assessment in the terminal."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command()
@click.argument("instrument")
@click.option("--form", help="Take a short form.")
@click.option(
    "--report", "report_path", type=click.Path(path_type=Path), help="Write the HTML report here."
)
@click.option(
    "--answers",
    "answers_file",
    type=click.Path(path_type=Path),
    help="Read answers from a file (JSON/YAML mapping, or a one-row table).",
)
def take(
    instrument: str, form: str | None, report_path: Path | None, answers_file: Path | None
) -> None:
    """Answer an instrument in the terminal and see your results."""
    from surveytool.instrument.registry import load_instrument
    from surveytool.terminal import Interrupted
    from surveytool.terminal import take as run

    inst = load_instrument(instrument)
    try:
        run(inst, form=form, report_path=report_path, answers_file=answers_file)
    except Interrupted:
        sys.exit(130)
