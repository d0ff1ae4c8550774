"""``surveytool cohort ...``: research cohorts (import, anonymize, analyze, report).

The commands live in ``cohort_import.py`` and ``cohort_report.py``; each loads ``analysis`` only
inside the command, so ``surveytool`` never imports ``analysis`` at start.
"""

from __future__ import annotations

import click


@click.group()
def cohort() -> None:
    """Import, anonymize and analyze research cohorts."""


from surveytool.cli import cohort_import as _cohort_import  # noqa: E402,F401  (registers commands)
from surveytool.cli import cohort_report as _cohort_report  # noqa: E402,F401  (registers commands)
