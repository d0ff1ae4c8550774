"""Exceptions and warnings of the ``analysis`` package, and messages that name parameters.

Every class is a :class:`~surveytool.errors.SurveytoolError`, so the command line prints the message
(what was wrong, where, how to fix it) and never a traceback.

A message that tells the user to give or change an option names the *parameter* (``k=5``,
``allow_instrument_mismatch=True``): it is a :class:`Phrase`, a ``str`` spelled for Python callers
that keeps its :class:`Param` parts, so the command line (:mod:`analysis.cli`) spells the same
message with its flags (``--k 5``, ``--allow-instrument-mismatch``) from one table.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from surveytool.errors import ReportError, SurveytoolError

if TYPE_CHECKING:
    pass


class _NoValue:
    def __repr__(self) -> str:
        return "<no value>"


NO_VALUE: Final = _NoValue()


@dataclass(frozen=True)
class Param:
    """A parameter named in a message, with the value to give it (if the message suggests one)."""

    name: str
    value: object = NO_VALUE
    #: what a Python caller does instead, when the choice is not a parameter there (the CLI's
    #: ``--engine memory`` is a call of :func:`analysis.import_cohort` in Python)
    python_text: str | None = None

    def python(self) -> str:
        """``k=5``, ``strict=True``; the bare name when no value goes with it."""
        if self.python_text is not None:
            return self.python_text
        return self.name if self.value is NO_VALUE else f"{self.name}={self.value!r}"


class Phrase(str):
    """A message as Python callers read it, keeping the parts that name parameters.

    ``Phrase("add ", Param("k", 5), " to suppress them")`` is the string ``"add k=5 to suppress
    them"``; :meth:`spell` writes it with another spelling of the parameters (the CLI's flags).
    """

    parts: tuple[str | Param, ...]

    def __new__(cls, *parts: str | Param) -> Phrase:
        text = "".join(p if isinstance(p, str) else p.python() for p in parts)
        phrase = super().__new__(cls, text)
        phrase.parts = parts
        return phrase

    def __reduce__(self) -> tuple[Any, ...]:
        # pickling keeps the parts: an error raised in a Dask worker reaches the CLI, which
        # spells the parameters as its flags
        return (Phrase, self.parts)

    def spell(self, param: Callable[[Param], str]) -> str:
        """The message with each parameter written by ``param``."""
        return "".join(p if isinstance(p, str) else param(p) for p in self.parts)


class AnalysisError(SurveytoolError):
    """Base class of the research layer's user errors (the message may be a :class:`Phrase`)."""


class MappingError(AnalysisError, ReportError):
    """A mapping file failed to load or does not fit the source; ``report`` lists every problem.

    Each problem carries the mapping file, line and column, like instrument files do (both are a
    :class:`surveytool.errors.ReportError`).
    """


class CohortFileError(AnalysisError):
    """An existing cohort file does not fit this import (another instrument, key or layout)."""


class ResponseProblemsWarning(UserWarning):
    """A statistic validated raw answers and found problems (off-scale cells, duplicate ids, ...).

    The problems are not dropped: the result's ``problems`` holds their count, codes and rows.
    Validate once with :func:`surveytool.responses.read_responses` and pass the
    :class:`~surveytool.responses.Responses` to see and fix them before any statistic.
    """


@contextlib.contextmanager
def computation_warnings() -> Iterator[list[str]]:
    """Numeric warnings of a long computation, collected for its summary instead of the console.

    ``RuntimeWarning`` (numpy: a mean of nothing, a division by zero) and pandas'
    ``PerformanceWarning`` say something about the data or the code, not to the person at the
    terminal: they are gathered, each distinct message once with its count, into the list the
    block receives (filled when the block ends). Every other warning is passed on as it was.
    """
    import pandas as pd

    collected: list[str] = []
    quiet = (RuntimeWarning, pd.errors.PerformanceWarning)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield collected
    counts: dict[str, int] = {}
    for w in caught:
        if issubclass(w.category, quiet):
            text = f"{w.category.__name__}: {str(w.message).splitlines()[0]}"
            counts[text] = counts.get(text, 0) + 1
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    collected.extend(f"{text} ({n}x)" if n > 1 else text for text, n in counts.items())
