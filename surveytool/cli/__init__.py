"""The ``surveytool`` command line: thin wrappers that parse, call the library, print.

Only click and the standard library load at start; each command imports what it needs, so
``surveytool --help`` stays fast.
"""

from __future__ import annotations

from typing import Any

import click

from surveytool import __version__
from surveytool.cli.clinic import clinic
from surveytool.cli.cohort import cohort
from surveytool.cli.instruments import instruments
from surveytool.cli.scoring import score, simulate
from surveytool.cli.take import take
from surveytool.cli.tour import demo
from surveytool.cli.web import serve
from surveytool.errors import SurveytoolError


class _Group(click.Group):
    """Turns a user mistake (:class:`SurveytoolError`) into a message and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SurveytoolError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(1)
        except OSError as exc:  # a path that is a folder, not writable, a full disk ...
            where = f"{exc.filename}: " if exc.filename else ""
            click.echo(f"error: {where}{exc.strerror or exc}", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:  # pragma: no cover - interactive
            click.echo("\ninterrupted", err=True)
            ctx.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="surveytool")
def cli() -> None:
    """Likert instruments as data: validate, score, simulate, and report.

    Start with `surveytool demo`, or `surveytool instruments list`.
    """


cli.add_command(instruments)
cli.add_command(score)
cli.add_command(simulate)
cli.add_command(demo)
cli.add_command(cohort)
cli.add_command(clinic)
cli.add_command(serve)
cli.add_command(take)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="surveytool")


if __name__ == "__main__":  # pragma: no cover
    main()
