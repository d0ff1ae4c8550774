"""Generalization of quasi-identifiers.

**Quasi-identifiers are generalized**: ages into bands with a top code (90+), dates reduced to
the year or shifted by a per-respondent offset (the same for every date of one respondent, drawn
from the key), categories seen fewer than ``min_count`` times merged into ``other``, codes cut to
a prefix.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from analysis.cells import as_text
from analysis.privacy.pseudonyms import PseudonymKey

GeneralizeMethod = Literal["age_band", "year", "shift", "merge", "prefix", "none"]

_PARAMETERS: dict[str, frozenset[str]] = {
    "age_band": frozenset({"width", "bands", "top"}),
    "year": frozenset(),
    "shift": frozenset({"max_days"}),
    "merge": frozenset({"min_count", "other"}),
    "prefix": frozenset({"length"}),
    "none": frozenset(),
}


class QuasiIdentifier(BaseModel):
    """How one quasi-identifier column is generalized.

    ``age_band``: ages (years) into bands of ``width`` from 0, or from the lower bounds in
    ``bands``, with everything at or above ``top`` as ``"<top>+"``; ``year``: dates to their year;
    ``shift``: dates moved by a per-respondent number of days in ±``max_days`` (never 0);
    ``merge``: categories seen fewer than ``min_count`` times become ``other``; ``prefix``: the
    first ``length`` characters (postal codes); ``none``: kept as is but counted for k-anonymity.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    generalize: GeneralizeMethod
    width: int = Field(default=10, ge=1, le=100)
    bands: tuple[int, ...] | None = None
    top: int = Field(default=90, ge=1, le=150)
    max_days: int = Field(default=180, ge=1, le=3650)
    min_count: int = Field(default=10, ge=2)
    other: str = Field(default="other", min_length=1)
    length: int = Field(default=3, ge=1)

    @model_validator(mode="after")
    def _parameters_fit(self) -> QuasiIdentifier:
        allowed = _PARAMETERS[self.generalize]
        stray = sorted(self.model_fields_set - allowed - {"generalize"})
        if stray:
            raise ValueError(
                f"{', '.join(stray)} does not apply to generalize: {self.generalize} "
                f"(it takes {', '.join(sorted(allowed)) or 'no parameters'})"
            )
        if self.bands is not None:
            if any(b < 0 for b in self.bands) or list(self.bands) != sorted(set(self.bands)):
                raise ValueError(
                    "bands are increasing lower bounds of age bands, e.g. [18, 30, 45]"
                )
            if self.bands and self.bands[-1] >= self.top:
                raise ValueError(
                    f"the last band starts at {self.bands[-1]}, not below top {self.top}"
                )
        return self

    def describe(self) -> str:
        """One line for reports, e.g. ``age bands of 10 years, 90+ top-coded``."""
        if self.generalize == "age_band":
            if self.bands:
                return f"age bands from {list(self.bands)}, {self.top}+ top-coded"
            return f"age bands of {self.width} years, {self.top}+ top-coded"
        if self.generalize == "year":
            return "dates reduced to the year"
        if self.generalize == "shift":
            return f"dates shifted by a per-respondent offset of 1..{self.max_days} days either way"
        if self.generalize == "merge":
            return f"categories seen fewer than {self.min_count} times merged into {self.other!r}"
        if self.generalize == "prefix":
            return f"cut to the first {self.length} characters"
        return "kept as is (counted for k-anonymity)"


@dataclass(frozen=True)
class Generalized:
    """What generalizing one column did (never the values themselves)."""

    column: str
    method: str
    description: str
    unreadable: int = 0
    merged_categories: int = 0
    merged_rows: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "method": self.method,
            "description": self.description,
            "unreadable_values": self.unreadable,
            "merged_categories": self.merged_categories,
            "merged_rows": self.merged_rows,
        }


_EXCEL_EPOCH = dt.datetime(1899, 12, 30)


def parse_dates(values: pd.Series) -> pd.Series:
    """Dates from ISO or day/month text, datetimes, or Excel serial day numbers (10000-80000)."""
    text = as_text(values)
    serial = pd.to_numeric(text.where(text.str.fullmatch(r"\d{5}(\.\d+)?", na=False)), "coerce")
    out = pd.to_datetime(text, errors="coerce", format="ISO8601")
    rest = out.isna() & text.notna() & serial.isna()
    if rest.any():
        out[rest] = pd.to_datetime(text[rest], errors="coerce", format="mixed")
    use_serial = serial.between(10000, 80000)
    if use_serial.any():
        days = pd.to_timedelta(serial[use_serial].astype(float), unit="D")
        out[use_serial] = pd.Timestamp(_EXCEL_EPOCH) + days
    return out


def _age_bands(values: pd.Series, spec: QuasiIdentifier) -> tuple[pd.Series, int]:
    ages = pd.to_numeric(as_text(values), errors="coerce").to_numpy(dtype=np.float64)
    present = as_text(values).notna().to_numpy(dtype=bool)
    with np.errstate(invalid="ignore"):
        bad = present & (np.isnan(ages) | (ages < 0) | (ages > 130))
    ages[bad] = np.nan
    lowers = list(spec.bands) if spec.bands else list(range(0, spec.top, spec.width))
    labels: list[str] = []
    for i, lo in enumerate(lowers):
        hi = (lowers[i + 1] if i + 1 < len(lowers) else spec.top) - 1
        labels.append(f"{lo}-{hi}" if hi > lo else str(lo))
    out = np.full(len(ages), None, dtype=object)
    ok = ~np.isnan(ages)
    whole = np.floor(ages[ok])
    idx = np.searchsorted(np.array(lowers, dtype=np.float64), whole, side="right") - 1
    band = np.where(
        whole >= spec.top,
        f"{spec.top}+",
        np.where(idx < 0, f"<{lowers[0]}", np.array(labels, dtype=object)[np.clip(idx, 0, None)]),
    )
    out[ok] = band
    return pd.Series(out, index=values.index, dtype=object), int(bad.sum())


def generalize_column(
    values: pd.Series,
    spec: QuasiIdentifier,
    *,
    respondents: Sequence[str | None] | None = None,
    key: PseudonymKey | None = None,
) -> tuple[pd.Series, int]:
    """Row-wise generalization of one column (``merge`` is done over the whole cohort, later).

    Returns the generalized values and how many present values could not be read (they become
    missing). ``shift`` needs the respondents' pseudonyms and the key.
    """
    text = as_text(values)
    present = text.notna().to_numpy(dtype=bool)
    if spec.generalize == "age_band":
        return _age_bands(values, spec)
    if spec.generalize in ("year", "shift"):
        dates = parse_dates(values)
        readable = dates.notna().to_numpy(dtype=bool)
        unreadable = int((present & ~readable).sum())
        if spec.generalize == "year":
            years = [
                str(int(y)) if ok else None for y, ok in zip(dates.dt.year, readable, strict=True)
            ]
            return _objects(years, values.index), unreadable
        if respondents is None or key is None:
            raise ValueError("shifting dates needs the respondents and the key")
        offsets = [key.day_offset(r, spec.max_days) if r is not None else 0 for r in respondents]
        shifted = (dates.dt.normalize() + pd.to_timedelta(offsets, unit="D")).dt.strftime(
            "%Y-%m-%d"
        )
        days = [d if ok else None for d, ok in zip(shifted, readable, strict=True)]
        return _objects(days, values.index), unreadable
    cells = [str(v) if ok else None for v, ok in zip(text, present, strict=True)]
    if spec.generalize == "prefix":
        cells = [c[: spec.length] if c is not None else None for c in cells]
    return _objects(cells, values.index), 0


def _objects(cells: Sequence[object], index: pd.Index) -> pd.Series:
    """An object column that keeps None as None (pandas would turn it into NaN on some paths)."""
    out = pd.Series(np.empty(len(cells), dtype=object), index=index, dtype=object)
    out[:] = list(cells)
    return out


def merge_small_categories(values: pd.Series, spec: QuasiIdentifier) -> tuple[pd.Series, int, int]:
    """Categories seen fewer than ``min_count`` times become ``other``; (values, categories, rows)."""
    counts = values.value_counts(dropna=True)
    small = [c for c, n in counts.items() if n < spec.min_count and c != spec.other]
    if not small:
        return values, 0, 0
    mask = values.isin(small)
    return values.mask(mask, spec.other), len(small), int(mask.sum())
