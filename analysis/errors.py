"""Exceptions and warnings of the ``analysis`` package.

Every class is a :class:`~surveytool.errors.SurveytoolError`, so the command line prints the message
(what was wrong, where, how to fix it) and never a traceback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from surveytool.errors import SurveytoolError

if TYPE_CHECKING:
    from surveytool.validation import ValidationReport


class AnalysisError(SurveytoolError):
    """Base class of the research layer's user errors."""


class MappingError(AnalysisError):
    """A mapping file failed to load or does not fit the source; ``report`` lists every problem.

    Each problem carries the mapping file, line and column, like instrument files do.
    """

    def __init__(self, report: ValidationReport) -> None:
        self.report = report
        super().__init__(report.format_text())


class CohortFileError(AnalysisError):
    """An existing cohort file does not fit this import (another instrument, key or layout)."""


class ResponseProblemsWarning(UserWarning):
    """A statistic validated raw answers and found problems (off-scale cells, duplicate ids, ...).

    The problems are not dropped: the result's ``problems`` holds their count, codes and rows.
    Validate once with :func:`surveytool.responses.read_responses` and pass the
    :class:`~surveytool.responses.Responses` to see and fix them before any statistic.
    """
