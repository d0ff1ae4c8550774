"""Recoding an item's raw values into codes, and reading SPSS value labels as a scale's labels."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from analysis.cells import as_text
from analysis.mapping.model import RecodeRule, Scalar
from surveytool.instrument.model import ResponseScale


def _key(value: Scalar) -> tuple[str, float | str]:
    if isinstance(value, bool):
        return ("text", str(value).casefold())
    if isinstance(value, int | float):
        return ("number", float(value))
    text = str(value).strip()
    try:
        return ("number", float(text))
    except ValueError:
        return ("text", text.casefold())


def apply_recode(values: pd.Series, rule: RecodeRule) -> tuple[pd.Series, int]:
    """Recode one item column by ``rule``; returns the values (text or numbers) and cells changed."""
    text = as_text(values)
    numbers = pd.to_numeric(text, errors="coerce")
    folded = text.str.casefold()
    out = values.astype(object).where(values.notna(), None).copy()
    done = np.zeros(len(values), dtype=bool)
    changed = np.zeros(len(values), dtype=bool)

    def lookup(table: Mapping[Scalar, Any]) -> tuple[pd.Series, np.ndarray]:
        by_number = {
            k[1]: v for k, v in ((_key(x), v) for x, v in table.items()) if k[0] == "number"
        }
        by_text = {k[1]: v for k, v in ((_key(x), v) for x, v in table.items()) if k[0] == "text"}
        hit_number = numbers.isin(list(by_number)).to_numpy(dtype=bool, na_value=False)
        hit_text = folded.isin(list(by_text)).to_numpy(dtype=bool, na_value=False) & ~hit_number
        result = pd.Series([None] * len(values), index=values.index, dtype=object)
        result[hit_number] = numbers[hit_number].map(by_number)
        result[hit_text] = folded[hit_text].map(by_text)
        return result, hit_number | hit_text

    if rule.missing:
        _, hit = lookup(dict.fromkeys(rule.missing))
        out[hit] = None
        done |= hit
        changed |= hit
    if rule.map:
        mapped, hit = lookup(rule.map)
        hit &= ~done
        out[hit] = mapped[hit].map(lambda v: None if v is None or pd.isna(v) else int(v))
        done |= hit
        changed |= hit
    if rule.offset:
        shift = numbers.notna().to_numpy(dtype=bool) & ~done
        out[shift] = (numbers[shift] + rule.offset).map(_number_text)
        changed |= shift
    return out, int(changed.sum())


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def spss_labels_are_scale(labels: Mapping[float, str], scale: ResponseScale) -> bool:
    """Whether every value label of an SPSS variable is a label (or missing label) of ``scale``."""
    scale_texts = {
        t.strip().casefold() for t in [*scale.labels.values(), *scale.missing_codes.values()]
    }
    label_texts = {t.strip().casefold() for t in labels.values()}
    return bool(label_texts) and label_texts <= scale_texts
