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
@click.option(
    "--country",
    help="Your country's two-letter code (GB, IE, AU ...) for the helpline numbers; asked "
    "otherwise, when they are first shown.",
)
def take(
    instrument: str,
    form: str | None,
    report_path: Path | None,
    answers_file: Path | None,
    country: str | None,
) -> None:
    """Answer an instrument in the terminal and see your results."""
    from surveytool.instrument.registry import load_instrument
    from surveytool.safety.support import normalize_country
    from surveytool.terminal import Interrupted
    from surveytool.terminal import take as run

    inst = load_instrument(instrument)
    try:
        if country is not None and not normalize_country(country):
            raise click.BadParameter(
                f"{country!r} is not a two-letter country code (for example GB, IE, AU)",
                param_hint="--country",
            )
        run(inst, form=form, report_path=report_path, answers_file=answers_file, country=country)
    except Interrupted:
        sys.exit(130)
