"""Typed access to one cell of a frame: pandas-stubs type a cell as any scalar, a test knows more."""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np
import pandas as pd


def num(frame: pd.DataFrame, row: Hashable, column: Hashable) -> float:
    """The numeric cell at ``(row, column)`` as a float (NaN stays NaN); anything else fails."""
    value = frame.at[row, column]
    if isinstance(value, bool | int | float | np.number):
        return float(value)
    if value is pd.NA:
        return float("nan")
    raise AssertionError(f"cell ({row!r}, {column!r}) is not a number: {value!r}")


def cell(frame: pd.DataFrame, row: Hashable, column: Hashable) -> object:
    """The cell at ``(row, column)``, whatever it holds."""
    value: object = frame.at[row, column]
    return value
