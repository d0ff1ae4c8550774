"""``surveytool demo``: a short guided tour in the terminal of what the toolkit does."""

from __future__ import annotations

import click


@click.command()
@click.option("--instrument", "instrument", default="ppai", show_default=True)
@click.option(
    "--n",
    "n",
    type=click.IntRange(min=10),
    default=500,
    show_default=True,
    help="Simulated respondents for the cohort part of the tour.",
)
@click.option("--seed", type=int, default=7, show_default=True)
def demo(instrument: str, n: int, seed: int) -> None:
    """A guided tour: the bundled inventory, one person's scores, a simulated cohort."""
    from surveytool.tour import run_tour

    run_tour(instrument, n=n, seed=seed)
