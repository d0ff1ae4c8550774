"""Item values on the way in: numbers, SPSS value labels read as the scale's labels."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from analysis.cells import as_text
from analysis.mapping import spss_labels_are_scale
from surveytool.instrument.model import ResponseScale
from surveytool.responses import inexact_whole_numbers


def exact_numbers(values: pd.Series) -> np.ndarray | None:
    """Cells as float64 when every present cell is a number (pyarrow's cast: fast); else None."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return None
    if pd.api.types.is_numeric_dtype(values.dtype):
        numbers: np.ndarray = values.to_numpy(dtype=np.float64, na_value=np.nan)
        return numbers
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        text = pa.array(values.astype(object).where(values.notna(), None), type=pa.string())
        cast: np.ndarray = pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
        return None
    if inexact_whole_numbers(values).any():
        return None  # 2.9999999999999999 is no whole number: validation reads the text exactly
    return cast


def as_numbers(values: pd.Series) -> np.ndarray:
    """Cells as float64 (NaN where not a number)."""
    exact = exact_numbers(values)
    if exact is not None:
        return exact
    converted: np.ndarray = pd.to_numeric(as_text(values), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    return converted


def labels_to_text(values: pd.Series, labels: Mapping[float, str]) -> pd.Series:
    """SPSS codes that carry a value label replaced by the label text."""
    numbers = as_numbers(values)
    out = values.to_numpy(dtype=object).copy()
    out[pd.isna(out)] = None
    for code, label in labels.items():
        out[numbers == code] = label
    return pd.Series(out, index=values.index, dtype=object)


def spss_item(
    values: pd.Series, labels: Mapping[float, str], scale: ResponseScale, plan_rule: Any
) -> tuple[pd.Series, str | None]:
    """Honour an item's SPSS value labels when they are the scale's labels (or the mapping's).

    With the scale's labels, each labelled code becomes the scale's code for that label (a 0-based
    0..4 coding labelled "Not at all like me".. reads as 1..5); a present code without a label
    cannot be placed and is passed on as ``"<code> (no value label)"``, which validation reports.
    """
    if spss_labels_are_scale(labels, scale):
        by_text = {t.strip().casefold(): float(c) for c, t in scale.labels.items()}
        by_text |= {t.strip().casefold(): np.nan for t in scale.missing_codes.values()}
        numbers = as_numbers(values)
        out = np.full(len(numbers), np.nan)
        unlabelled = ~np.isnan(numbers)
        for code, label in labels.items():
            hit = numbers == code
            out[hit] = by_text[label.strip().casefold()]
            unlabelled &= ~hit
        if unlabelled.any():
            mixed = out.astype(object)
            mixed[unlabelled] = [f"{code_text(x)} (no value label)" for x in numbers[unlabelled]]
            return pd.Series(
                mixed, index=values.index
            ), "SPSS value labels read as the scale's labels"
        return pd.Series(out, index=values.index), "SPSS value labels read as the scale's labels"
    label_texts = {t.strip().casefold() for t in labels.values()}
    if plan_rule is not None and plan_rule.map:
        keys = {str(k).strip().casefold() for k in plan_rule.map if isinstance(k, str)}
        if keys & label_texts:
            return labels_to_text(values, labels), "SPSS value labels recoded by the mapping"
    return values, None


def plain_number(value: object) -> object:
    """``"7.0"`` (a whole number read through a float column) as ``"7"``, as it was written."""
    if isinstance(value, str) and value.endswith(".0") and value[:-2].lstrip("-").isdigit():
        return value[:-2]
    return value


def code_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
