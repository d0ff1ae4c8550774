"""Small-cell suppression for published tables (FORMULAS.md, "Disclosure control").

A reported group or cell with 1 ≤ n < threshold (default 10) is suppressed (*primary*), together
with whatever other cell would let it be recovered by subtraction from a published total
(*secondary*, or complementary, suppression): in every line that publishes a total, a single
suppressed cell is never left alone; the smallest other cell in that line is suppressed with it,
and this repeats until no line has exactly one suppressed cell.

In R: there is no psych equivalent; this is the rule of ``sdcTable``'s simple heuristics
(primary suppression by frequency, then the minimal-cell secondary pattern per margin).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

DEFAULT_MIN_CELL = 10
SUPPRESSED = "suppressed"


def primary(counts: np.ndarray, threshold: int = DEFAULT_MIN_CELL) -> np.ndarray:
    """Cells with 1 ≤ n < threshold."""
    counts = np.asarray(counts)
    return (counts >= 1) & (counts < threshold)


def suppression_mask(
    counts: pd.DataFrame | np.ndarray,
    threshold: int = DEFAULT_MIN_CELL,
    *,
    row_totals: bool = True,
    column_totals: bool = True,
) -> np.ndarray:
    """Boolean mask of cells to suppress in a table of counts whose margins are published.

    Parameters
    ----------
    counts
        Non-negative counts, one cell per (row, column).
    threshold
        Smallest publishable count (cells with 1 ≤ n < threshold are suppressed).
    row_totals, column_totals
        Whether each row's / column's total is published (then a lone suppressed cell in that
        line could be recovered by subtraction, so a second cell is suppressed with it).
    """
    values = np.asarray(counts, dtype=float)
    if values.ndim == 1:
        values = values[None, :]
    mask = primary(values, threshold)
    changed = True
    while changed:
        changed = False
        lines: list[tuple[int, np.ndarray, np.ndarray]] = []
        if row_totals:
            lines += [(0, values[i], mask[i]) for i in range(values.shape[0])]
        if column_totals:
            lines += [(1, values[:, j], mask[:, j]) for j in range(values.shape[1])]
        for _axis, line_values, line_mask in lines:
            if int(line_mask.sum()) != 1 or len(line_values) < 2:
                continue
            candidates = np.flatnonzero(~line_mask)
            nonzero = candidates[line_values[candidates] > 0]
            pool = nonzero if len(nonzero) else candidates
            pick = pool[np.argmin(line_values[pool])]
            line_mask[pick] = True  # a view into ``mask``: marks the cell in the table
            changed = True
    return mask.reshape(np.asarray(counts).shape)


def suppressed_groups(
    sizes: Mapping[str, int] | pd.Series, threshold: int = DEFAULT_MIN_CELL
) -> set[str]:
    """Groups whose statistics must not be published (primary and complementary).

    A table of group statistics is published with the overall figures, so the groups form one
    line with a total: one small group is suppressed together with the next smallest.
    """
    series = pd.Series(sizes, dtype=float)
    if series.empty:
        return set()
    mask = suppression_mask(series.to_numpy()[None, :], threshold, column_totals=False)[0]
    return {str(name) for name, hidden in zip(series.index, mask, strict=True) if hidden}


def apply_mask(table: pd.DataFrame, mask: np.ndarray) -> pd.DataFrame:
    """The table as text with masked cells shown as ``suppressed``."""
    out = table.astype(object).copy()
    out = out.mask(pd.DataFrame(mask, index=table.index, columns=table.columns), SUPPRESSED)
    return out


def hidden_columns(lines: np.ndarray, threshold: int = DEFAULT_MIN_CELL) -> np.ndarray:
    """Columns (groups) to suppress in every line of a table whose lines each publish a total.

    A column is hidden as a whole when any line has it as a small cell, or when
    :func:`suppression_mask` picks it as the complement in a line where it
    would otherwise leave a single hidden cell; and, as :mod:`analysis.stats.norms` does, while the
    hidden cells of a line hold fewer than ``threshold`` respondents together (their sum is the
    line's total minus the published cells), the smallest published cell of that line joins them.
    Repeats until every line is safe.
    """
    counts = np.atleast_2d(np.asarray(lines, dtype=np.float64))
    hidden = np.zeros(counts.shape[1], dtype=bool)
    if threshold <= 1:
        return hidden
    while True:
        # a column already hidden counts as a small cell wherever it has respondents
        forced = np.where(hidden[None, :] & (counts > 0), np.minimum(counts, 1.0), counts)
        mask = suppression_mask(forced, threshold, row_totals=True, column_totals=False)
        grown = hidden | mask.any(axis=0)
        for line in counts:
            together = float(line[grown & (line > 0)].sum())
            shown = np.flatnonzero(~grown & (line > 0))
            if 0 < together < threshold and len(shown):
                grown[shown[np.argmin(line[shown])]] = True
        if (grown == hidden).all():
            return hidden
        hidden = grown
