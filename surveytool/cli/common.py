"""What the commands share, the core's and the research layer's (:mod:`analysis.cli`): the
``--instrument`` and ``-o/--output`` options, the guard that no output overwrites an input, and
the listing of response issues on stderr.

Only click and the standard library load here, so ``surveytool --help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    import pandas as pd

F = TypeVar("F", bound=Callable[..., Any])


def instrument_option(command: F) -> F:
    """``--instrument/-i``: the instrument a command reads, a bundled id or a file."""
    return click.option(
        "--instrument", "-i", "instrument", required=True, help="Bundled id or YAML path."
    )(command)


def output_option(help: str, *, required: bool = True) -> Callable[[F], F]:
    """``-o/--output PATH``, with the command's own words for what it writes."""
    return click.option(
        "-o", "--output", required=required, type=click.Path(path_type=Path), help=help
    )


def refuse_input_collisions(
    outputs: Mapping[str, Path | None], inputs: Mapping[str, Path | None], instrument: str
) -> None:
    """No output may be one of the inputs or the instrument file (when ``instrument`` names a
    file, not a bundled id), by any spelling: refused before any work, nothing written."""
    from surveytool.io.files import refuse_collisions

    instrument_file = Path(instrument)
    refuse_collisions(
        outputs,
        {**inputs, "instrument file": instrument_file if instrument_file.is_file() else None},
    )


def echo_issues(issues: pd.DataFrame) -> None:
    """Response issues as :func:`surveytool.problems.issue_lines` words them, on stderr."""
    from surveytool.problems import issue_lines

    for line in issue_lines(issues):
        click.echo(line, err=True)
