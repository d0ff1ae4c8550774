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


def line_mask(
    counts: pd.DataFrame | np.ndarray,
    threshold: int = DEFAULT_MIN_CELL,
    *,
    sensitive: np.ndarray | None = None,
) -> np.ndarray:
    """Cells to suppress in a table whose every row is a line with a published total.

    Primary suppression applies to the ``sensitive`` columns only (default: all): cells with
    1 ≤ n < threshold. A derived count (respondents who did not answer an item, or for whom an index
    could not be computed) is no small cell of its own, but it is suppressed as a complement like
    any other cell. In each line, while exactly one cell is hidden, or the hidden cells hold fewer
    than ``threshold`` respondents together (their sum is the total minus the published cells), the
    smallest published non-zero cell joins them. So a line is never more suppressed than that.
    """
    values = np.atleast_2d(np.asarray(counts, dtype=np.float64))
    values = np.nan_to_num(values, nan=0.0)
    mask = np.zeros(values.shape, dtype=bool)
    if threshold <= 1:
        return mask
    which = (
        np.ones(values.shape[1], dtype=bool)
        if sensitive is None
        else np.asarray(sensitive, dtype=bool)
    )
    mask = np.asarray(primary(values, threshold) & which[None, :], dtype=bool)
    for line, hide in zip(values, mask, strict=True):
        while hide.any():
            together = float(line[hide].sum())
            shown = np.flatnonzero(~hide & (line > 0))
            if not len(shown) or not (int(hide.sum()) == 1 or together < threshold):
                break
            hide[shown[np.argmin(line[shown])]] = True  # a view into ``mask``
    return mask


def hidden_columns(
    lines: np.ndarray, threshold: int = DEFAULT_MIN_CELL, *, forced: np.ndarray | None = None
) -> np.ndarray:
    """Columns (groups) to suppress in every line of a table whose lines each publish a total.

    A column is hidden as a whole when any line has it as a small cell, or when
    :func:`suppression_mask` picks it as the complement in a line where it
    would otherwise leave a single hidden cell; and while the hidden cells of a line hold fewer
    than ``threshold`` respondents together (their sum is the line's total minus the published
    cells), the smallest published cell of that line joins them. Repeats until every line is safe.
    ``forced`` columns are unpublished from the start for another reason (respondents without a
    group value, a cell without spread): they count as hidden cells of every line.
    This is the one complementary-suppression rule of group tables and norms
    (:mod:`analysis.stats.norms`).
    """
    counts = np.atleast_2d(np.asarray(lines, dtype=np.float64))
    hidden = (
        np.zeros(counts.shape[1], dtype=bool)
        if forced is None
        else np.asarray(forced, dtype=bool).copy()
    )
    if threshold <= 1:
        return hidden
    while True:
        # a column already hidden counts as a small cell wherever it has respondents
        marked = np.where(hidden[None, :] & (counts > 0), np.minimum(counts, 1.0), counts)
        mask = suppression_mask(marked, threshold, row_totals=True, column_totals=False)
        grown = hidden | mask.any(axis=0)
        for line in counts:
            together = float(line[grown & (line > 0)].sum())
            shown = np.flatnonzero(~grown & (line > 0))
            if 0 < together < threshold and len(shown):
                grown[shown[np.argmin(line[shown])]] = True
        if (grown == hidden).all():
            return hidden
        hidden = grown
