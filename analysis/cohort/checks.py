"""Checks a careful analyst would make before trusting the data; each gives an :class:`ImportWarning`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

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


@dataclass
class ItemRestSums:
    """Additive sums behind :func:`item_rest_warnings` (pairwise-complete, keyed items).

    Per subscale (its items in order): for items i, j ``n[i, j]`` rows with both answered,
    ``s[i, j]`` the sum of item i over them, ``q[i, j]`` the sum of the products, and ``rows``
    the rows answering any of its items. Sums of partitions add up (``a + b``; ``a - b`` takes
    rows out again), so the Dask import reaches the in-memory warnings exactly:
    C_ij = (q_ij − s_ij s_ji / n_ij) / (n_ij − 1), pandas' pairwise-complete ``DataFrame.cov``.
    """

    blocks: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, int]]

    def _combine(self, other: ItemRestSums, sign: int) -> ItemRestSums:
        out = {}
        for sub, (n, s, q, rows) in self.blocks.items():
            n2, s2, q2, rows2 = other.blocks[sub]
            out[sub] = (n + sign * n2, s + sign * s2, q + sign * q2, rows + sign * rows2)
        return ItemRestSums(out)

    def __add__(self, other: ItemRestSums) -> ItemRestSums:
        return self._combine(other, 1)

    def __sub__(self, other: ItemRestSums) -> ItemRestSums:
        return self._combine(other, -1)


def _members(instrument: Instrument, item_ids: Sequence[str]) -> dict[str, list[str]]:
    position = set(item_ids)
    found = {sub.id: [i for i in sub.items if i in position] for sub in instrument.subscales}
    return {sub: members for sub, members in found.items() if len(members) >= 3}


def item_rest_sums(
    instrument: Instrument, item_ids: Sequence[str], values: np.ndarray
) -> ItemRestSums:
    """The :class:`ItemRestSums` of ``values`` (rows × ``item_ids``, NaN = missing)."""
    position = {item: j for j, item in enumerate(item_ids)}
    blocks = {}
    for sub, members in _members(instrument, item_ids).items():
        block = np.array(values[:, [position[i] for i in members]], dtype=np.float64)
        for j, item in enumerate(members):
            if instrument.item_by_id[item].reverse:
                scale = instrument.scale_of(item)
                block[:, j] = scale.min + scale.max - block[:, j]
        present = ~np.isnan(block)
        m = present.astype(np.float64)
        x0 = np.where(present, block, 0.0)
        blocks[sub] = (m.T @ m, x0.T @ m, x0.T @ x0, int(present.any(axis=1).sum()))
    return ItemRestSums(blocks)


def item_rest_warnings(
    instrument: Instrument, item_ids: Sequence[str], values: np.ndarray
) -> list[ImportWarning]:
    """Items whose corrected item-total (item-rest) correlation is negative, per subscale.

    r_drop(i) = (Σ_j C_ij − C_ii) / √(C_ii · ΣC[−i,−i]) on the keyed items (FORMULAS.md), C the
    pairwise-complete covariance matrix (pandas ``DataFrame.cov``). In R:
    ``psych::alpha(x, check.keys = FALSE)$item.stats$r.drop``. Only correlations below zero beyond
    chance are reported (Fisher z-test, one-sided 5%), so small samples do not raise false alarms.
    """
    return item_rest_from_sums(instrument, item_ids, item_rest_sums(instrument, item_ids, values))


def item_rest_from_sums(
    instrument: Instrument, item_ids: Sequence[str], sums: ItemRestSums
) -> list[ImportWarning]:
    """:func:`item_rest_warnings` from the additive sums (see :class:`ItemRestSums`)."""
    warnings: list[ImportWarning] = []
    for sub_id, members in _members(instrument, item_ids).items():
        n, s, q, rows = sums.blocks[sub_id]
        if rows < MIN_ROWS_FOR_CORRELATION or (n < MIN_ROWS_FOR_CORRELATION).any():
            continue
        cov = (q - s * s.T / n) / (n - 1)
        total = cov.sum()
        for i, item in enumerate(members):
            rest_var = total - 2 * cov[i].sum() + cov[i, i]
            denominator = cov[i, i] * rest_var
            if denominator <= 0:
                continue
            r_drop = (cov[i].sum() - cov[i, i]) / np.sqrt(denominator)
            n_item = int(n[i, i])
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
                        f"{item}: item-rest correlation {r_drop:.2f} in subscale {sub_id!r} is "
                        f"negative: probably {likely}; check its keying and the source's coding",
                    )
                )
    return warnings
