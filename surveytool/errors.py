"""Exceptions of the surveytool package.

Every exception a user can cause carries a message that says what was wrong, where, and how to fix
it; the CLI prints it without a traceback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from surveytool.problems import Report


class SurveytoolError(Exception):
    """Base class: a problem the user can fix (bad file, unknown id, bad option)."""


class ReportError(SurveytoolError):
    """A file failed to load or validate; ``report`` lists every problem (code, where, hint)."""

    def __init__(self, report: Report) -> None:
        self.report = report
        super().__init__(report.format_text())


class InstrumentError(ReportError):
    """An instrument file failed to load or validate; ``report`` lists every problem."""


class InstrumentNotFoundError(SurveytoolError):
    """Neither a bundled instrument id nor a readable path."""


class ResponsesError(SurveytoolError):
    """A responses file could not be read at all (format, encoding, missing file)."""


class InvalidResponsesError(SurveytoolError):
    """``strict`` scoring met invalid cells, rows or columns; ``issues`` (an issue frame, see
    :mod:`surveytool.problems`) lists all of them."""

    def __init__(self, message: str, issues: pd.DataFrame) -> None:
        self.issues = issues
        super().__init__(message)


class ScoringError(SurveytoolError):
    """A scoring request that cannot be honoured (unknown short form, missing norms...)."""
