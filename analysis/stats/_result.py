"""The shape every statistics result shares: a short repr, ``summary()`` and the input's problems.

Results are frozen dataclasses deriving from :class:`Result` (as statsmodels' result classes):
uniform names (``statistic``, ``pvalue``, ``df``, ``n_obs``), a one-line repr that shows the
sizes of the tables instead of their contents, ``summary()`` as a DataFrame, and ``problems``:
what validation found in the answers the statistic was computed on (:class:`Problems`), so a
problem is never dropped without a count.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: The column of surveytool's issue table that classifies a problem (its code).
CODE_COLUMN = "kind"

#: The longest repr of a value inside a result's repr.
_VALUE_REPR = 60


@dataclass(frozen=True)
class Problems:
    """Problems found while validating the answers of a statistic.

    ``count``: how many (cells, rows and columns); ``codes``: how many of each code (the
    issue table's ``kind``: ``cell``, ``row``, ``column``); ``table``: the problems themselves,
    one row each, as :func:`surveytool.responses.read_responses` reports them (row, column,
    value, reason). Cells that were not valid answers entered the statistic as missing; rows
    with an empty or repeated respondent id were left out.
    """

    count: int = 0
    codes: Mapping[str, int] = field(default_factory=dict)
    table: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False, compare=False)

    @classmethod
    def of(cls, issues: pd.DataFrame) -> Problems:
        """The problems of an issue table (``Responses.issues``, ``ScoreResult.issues``)."""
        if len(issues) == 0:
            return cls(table=issues)
        counts = issues[CODE_COLUMN].astype("string").value_counts(sort=False)
        codes = {str(code): int(n) for code, n in sorted(counts.items())}
        return cls(count=len(issues), codes=codes, table=issues)

    def __add__(self, other: Problems) -> Problems:
        if not other.count:
            return self
        if not self.count:
            return other
        codes = dict(self.codes)
        for code, n in other.codes.items():
            codes[code] = codes.get(code, 0) + n
        return Problems(
            count=self.count + other.count,
            codes=dict(sorted(codes.items())),
            table=pd.concat([self.table, other.table], ignore_index=True),
        )

    def __bool__(self) -> bool:
        return self.count > 0

    def describe(self) -> str:
        """``20 problem(s) (20 cell)``, or ``no problems``."""
        if not self.count:
            return "no problems"
        parts = ", ".join(f"{n} {code}" for code, n in self.codes.items())
        return f"{self.count} problem(s) ({parts})"


NO_PROBLEMS = Problems()


def _short(value: object) -> str:
    if isinstance(value, pd.DataFrame):
        return f"<DataFrame {value.shape[0]}x{value.shape[1]}>"
    if isinstance(value, pd.Series):
        return f"<Series {len(value)}>"
    if isinstance(value, np.ndarray):
        return f"<array {'x'.join(str(d) for d in value.shape)}>"
    if isinstance(value, Problems):
        return repr(value.describe())
    if isinstance(value, Mapping) and any(
        isinstance(v, pd.DataFrame | pd.Series | np.ndarray) for v in value.values()
    ):
        return f"<dict of {len(value)}>"
    if isinstance(value, float | np.floating):
        return f"{float(value):.6g}"
    text = repr(value)
    return text if len(text) <= _VALUE_REPR else text[: _VALUE_REPR - 3] + "..."


@dataclass(frozen=True, repr=False)
class Result(abc.ABC):
    """Base of every statistics result (see the module docstring).

    Subclasses are ``@dataclass(frozen=True, repr=False)`` so that this short repr is kept.
    """

    problems: Problems = field(default=NO_PROBLEMS, kw_only=True)

    def __repr__(self) -> str:
        names = [f.name for f in dataclasses.fields(self) if f.name != "problems"]
        parts = [f"{name}={_short(getattr(self, name))}" for name in [*names, "problems"]]
        return f"{type(self).__name__}({', '.join(parts)})"

    @abc.abstractmethod
    def summary(self) -> pd.DataFrame:
        """The result's main table."""
