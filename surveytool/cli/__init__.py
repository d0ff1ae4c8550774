"""The ``surveytool`` command line: thin wrappers that parse, call the library, print.

Only click and the standard library load at start; each command imports what it needs, so
``surveytool --help`` stays fast. The research layer owns its commands: the ``cohort`` group is
:mod:`analysis.cli`, loaded by name (:data:`LAZY_GROUPS`) only when it is used, so ``surveytool``
never imports ``analysis`` otherwise.
"""

from __future__ import annotations

import importlib
from typing import Any, NamedTuple

import click

from surveytool import __version__
from surveytool.cli.clinic import clinic
from surveytool.cli.instruments import instruments
from surveytool.cli.scoring import score, simulate
from surveytool.cli.take import take
from surveytool.cli.tour import demo
from surveytool.cli.web import serve
from surveytool.entry import interrupted, received
from surveytool.errors import SurveytoolError


class LazyGroup(NamedTuple):
    """A command group of another package, imported only when it is used."""

    module: str
    attribute: str
    help: str  # the one-line help of the listing, so ``surveytool --help`` imports nothing


#: Commands that live in other packages: name -> where to load them from. The only place the
#: core names ``analysis``.
LAZY_GROUPS: dict[str, LazyGroup] = {
    "cohort": LazyGroup(
        "analysis.cli", "cohort", "Import, anonymize and analyze research cohorts."
    ),
}


class _Group(click.Group):
    """Turns a user mistake (:class:`SurveytoolError`) into a message and exit status 1.

    Lists the :data:`LAZY_GROUPS` with the others and imports one only when it is invoked.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_GROUPS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        lazy = LAZY_GROUPS.get(cmd_name)
        if lazy is None:
            return super().get_command(ctx, cmd_name)
        command = getattr(importlib.import_module(lazy.module), lazy.attribute)
        if not isinstance(command, click.Command):  # pragma: no cover - a packaging mistake
            raise TypeError(f"{lazy.module}.{lazy.attribute} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's listing, with the lazy groups' help from :data:`LAZY_GROUPS` (no import)."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(map(len, names), default=0)
        rows = []
        for name in names:
            if name in LAZY_GROUPS:
                rows.append((name, LAZY_GROUPS[name].help))
                continue
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (see surveytool.entry)
            raise click.exceptions.Exit(interrupted(exc)) from None
        except Exception as exc:
            signum = received()
            if signum is not None:  # a library made the interrupt an error of its own
                raise click.exceptions.Exit(interrupted(signum)) from None
            if isinstance(exc, SurveytoolError):
                click.echo(f"error: {exc}", err=True)
                ctx.exit(1)
            if isinstance(exc, OSError):  # a path that is a folder, not writable, a full disk
                where = f"{exc.filename}: " if exc.filename else ""
                click.echo(f"error: {where}{exc.strerror or exc}", err=True)
                ctx.exit(1)
            raise

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except KeyboardInterrupt as exc:  # while the arguments were parsed
            raise click.exceptions.Exit(interrupted(exc)) from None


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
cli.add_command(clinic)
cli.add_command(serve)
cli.add_command(take)


def main() -> None:
    """Console-script entry point (kept for scripts that call it; see :mod:`surveytool.entry`)."""
    from surveytool.entry import main as entry

    entry()


if __name__ == "__main__":  # pragma: no cover
    main()
