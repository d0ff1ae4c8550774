"""Checks a careful analyst would make before trusting the data; each gives an :class:`ImportWarning`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.cohort.result import ImportWarning
from surveytool.instrument.model import Instrument, ResponseScale

MIN_ROWS_FOR_CORRELATION = 10
#: One-sided 5% point of the standard normal: an item-rest correlation is reported as negative
#: when Fisher's z-test says it is below 0 beyond chance (small samples scatter around 0).
NEGATIVE_Z = 1.6448536269514722


def off_by_one(item_id: str, numbers: np.ndarray, scale: ResponseScale) -> ImportWarning | None:
    """A warning when an item's numbers sit one below (or above) its scale: 0..4 on 1..5."""
    numbers = numbers[~np.isnan(numbers) & ~np.isin(numbers, list(scale.missing_codes))]
    if not len(numbers):
        return None
    lo, hi = float(numbers.min()), float(numbers.max())
    if lo == scale.min - 1 and hi <= scale.max - 1:
        shift, how = 1, "one below"
    elif hi == scale.max + 1 and lo >= scale.min + 1:
        shift, how = -1, "one above"
    else:
        return None
    return ImportWarning(
        "off_by_one",
        item_id,
        f"{item_id}: observed {lo:g}..{hi:g} on a {scale.min}..{scale.max} scale: looks coded from "
        f"{how} the scale; add a recode rule with offset: {shift:+d} (values off the scale are "
        "reported as invalid and read as missing)",
    )


def item_rest_warnings(
    instrument: Instrument, item_ids: Sequence[str], values: np.ndarray
) -> list[ImportWarning]:
    """Items whose corrected item-total (item-rest) correlation is negative, per subscale.

    r_drop(i) = (Σ_j C_ij − C_ii) / √(C_ii · ΣC[−i,−i]) on the keyed items (FORMULAS.md), C the
    pairwise-complete covariance matrix (pandas ``DataFrame.cov``). In R:
    ``psych::alpha(x, check.keys = FALSE)$item.stats$r.drop``. Only correlations below zero beyond
    chance are reported (Fisher z-test, one-sided 5%), so small samples do not raise false alarms.
    """
    position = {item: j for j, item in enumerate(item_ids)}
    keyed = values.copy()
    for item, j in position.items():
        definition = instrument.item_by_id[item]
        if definition.reverse:
            scale = instrument.scale_of(item)
            keyed[:, j] = scale.min + scale.max - keyed[:, j]
    warnings: list[ImportWarning] = []
    for sub in instrument.subscales:
        members = [i for i in sub.items if i in position]
        if len(members) < 3:
            continue
        block = pd.DataFrame(keyed[:, [position[i] for i in members]], columns=members)
        if int(block.notna().any(axis=1).sum()) < MIN_ROWS_FOR_CORRELATION:
            continue
        cov = block.cov(min_periods=MIN_ROWS_FOR_CORRELATION).to_numpy()
        if np.isnan(cov).any():
            continue
        total = cov.sum()
        for i, item in enumerate(members):
            rest_var = total - 2 * cov[i].sum() + cov[i, i]
            denominator = cov[i, i] * rest_var
            if denominator <= 0:
                continue
            r_drop = (cov[i].sum() - cov[i, i]) / np.sqrt(denominator)
            n_item = int(block[item].notna().sum())
            if n_item < MIN_ROWS_FOR_CORRELATION or not -1 < r_drop < 0:
                continue
            # negative beyond chance: Fisher z = atanh(r)·√(n − 3) below the one-sided 5% point
            if np.arctanh(r_drop) * np.sqrt(n_item - 3) < -NEGATIVE_Z:
                reversed_ = instrument.item_by_id[item].reverse
                likely = (
                    "reversed twice (already reversed in the source?)"
                    if reversed_
                    else "not reversed (a reverse-keyed wording?)"
                )
                warnings.append(
                    ImportWarning(
                        "negative_item_rest",
                        item,
                        f"{item}: item-rest correlation {r_drop:.2f} in subscale {sub.id!r} is "
                        f"negative: probably {likely}; check its keying and the source's coding",
                    )
                )
    return warnings
