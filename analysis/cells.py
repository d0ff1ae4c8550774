"""Cells as text: the one reading of a cell that identifier checks, ledgers and mappings share."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import pyarrow as pa


def snake_name(name: str) -> str:
    """``RecipientFirstName`` -> ``recipient_first_name``; ``IPAddress`` -> ``ip_address``."""
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", str(name))
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    return re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower()


def snake_names(names: Sequence[str]) -> pa.Array:
    """:func:`~analysis.cells.snake_name` of every name at once (an Arrow string array)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.array([str(n) for n in names], type=pa.string())
    snake = pc.replace_substring_regex(text, r"([A-Z]+)([A-Z][a-z])", r"\1_\2")
    snake = pc.replace_substring_regex(snake, r"([a-z0-9])([A-Z])", r"\1_\2")
    snake = pc.replace_substring_regex(snake, r"[^0-9a-zA-Z]+", "_")
    return pc.utf8_lower(pc.utf8_trim(snake, "_"))


def as_text(values: pd.Series) -> pd.Series:
    """Cells as stripped text, whole numbers without ``.0``; missing and blank cells as <NA>."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return values.map(lambda v: pd.NA if pd.isna(v) else str(bool(v)).upper()).astype("string")
    if pd.api.types.is_numeric_dtype(values.dtype):
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
        out = np.empty(len(numbers), dtype=object)
        finite = np.isfinite(numbers)
        whole = finite & (numbers == np.round(numbers)) & (np.abs(numbers) < 2**53)
        out[:] = pd.NA
        out[whole] = [str(int(x)) for x in numbers[whole]]
        rest = finite & ~whole
        out[rest] = [repr(float(x)) for x in numbers[rest]]
        return pd.Series(out, index=values.index, dtype="string")
    if values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) != "string":
        values = values.map(cell_text, na_action="ignore")
    text = values.astype("string").str.strip()
    return text.mask(text == "", pd.NA)


def cell_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return str(value)
