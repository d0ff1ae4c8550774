"""Mergeable counts: two-way tables of every item pair, and exact counts of score values.

Both are plain integer counts, so parts of a cohort (partitions, files, workers) add up exactly
and in any order: the merged counts *are* the counts of the concatenated rows.

:class:`PairTables` holds, for p ordinal columns with categories ``levels[j]``, the one-hot
cross-product OᵀO (O: one column per item and category, 1 where the row gave that answer,
all 0 where the item is missing). Block (i, j) of it is the two-way table of items i and j over
the rows that answer both (pairwise complete); the diagonal of block (i, i) is item i's answer
frequencies. That is what the polychoric correlations (:func:`analysis.polychoric_matrix`) and
the answer-frequency tables need.

:class:`ValueCounts` counts each distinct value of a score exactly. A Likert subscale score is
the mean of the answered items, S/c with c the number answered (1 ≤ c ≤ k) and S an integer sum
between c·low and c·high, so it takes at most Σ_{c} (c·(high − low) + 1) distinct values (k = 4
items on 1..5: 1 + 5 + 9 + 13 + 17 = 45 values; 10 items on 1..7: 340); weighted scores and
composites (means of subscale means) take more, but still far fewer than respondents. Counting
those values is exact, small (one row per distinct value) and additive, so percentile tables and
quantiles from the merged counts equal those of the whole column exactly — a mergeable quantile
sketch (t-digest, KLL) would only approximate them, and is only needed when values are unbounded.
The kernel computes each score with the same float operations in every partition, so a value is
the same float wherever it occurs and the counts are keyed by it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analysis.errors import AnalysisError

#: Rows per one-hot block: OᵀO of a block is summed in float64 (exact below 2⁵³ per cell).
CHUNK_ROWS = 65536


@dataclass(frozen=True)
class PairTables:
    """Two-way tables of every pair of ``columns`` (see the module docstring); add with ``+``.

    ``levels[j]``: the categories of column j (increasing); ``counts``: the W x W matrix OᵀO,
    W = Σ len(levels[j]), int64; ``n_rows``: rows seen.
    """

    columns: tuple[str, ...]
    levels: tuple[tuple[float, ...], ...]
    counts: np.ndarray
    n_rows: int

    @property
    def offsets(self) -> np.ndarray:
        """Where each column's categories start in ``counts`` (and the total width last)."""
        return np.concatenate([[0], np.cumsum([len(v) for v in self.levels])]).astype(np.intp)

    def table(self, i: int, j: int) -> np.ndarray:
        """The two-way table of columns i (rows) and j (columns), pairwise complete."""
        o = self.offsets
        out: np.ndarray = self.counts[o[i] : o[i + 1], o[j] : o[j + 1]]
        return out

    def frequencies(self, j: int) -> np.ndarray:
        """The answer counts of column j, one per category of ``levels[j]``."""
        out: np.ndarray = np.diag(self.table(j, j)).copy()
        return out

    def observed(self) -> PairTables:
        """The same tables without the categories nobody chose (each column's observed levels)."""
        keep = np.diag(self.counts) > 0
        o = self.offsets
        levels = tuple(
            tuple(v for v, k in zip(lv, keep[o[j] : o[j + 1]], strict=True) if k)
            for j, lv in enumerate(self.levels)
        )
        return PairTables(self.columns, levels, self.counts[np.ix_(keep, keep)], self.n_rows)

    def __add__(self, other: PairTables) -> PairTables:
        if self.columns != other.columns or self.levels != other.levels:
            raise AnalysisError("only tables of the same columns and categories can be added")
        return PairTables(
            self.columns, self.levels, self.counts + other.counts, self.n_rows + other.n_rows
        )


def pair_tables(
    values: np.ndarray,
    columns: Sequence[str],
    levels: Sequence[Sequence[float]] | None = None,
    *,
    chunk_rows: int = CHUNK_ROWS,
) -> PairTables:
    """:class:`PairTables` of an N x p matrix of ordinal answers (NaN = missing).

    ``levels``: the categories of each column, for example the declared range of each item, so
    that every partition counts on the same categories (then the tables add up); default: each
    column's observed values. A value that is not one of its column's levels is an error.
    """
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(columns):
        raise AnalysisError(f"tables need an N x {len(columns)} matrix, not {x.shape}")
    n_rows, p = x.shape
    present = ~np.isnan(x)
    if levels is None:
        chosen = [np.unique(x[present[:, j], j]) for j in range(p)]
    else:
        if len(levels) != p:
            raise AnalysisError(f"levels has {len(levels)} entries for {p} columns")
        chosen = [np.asarray(sorted(set(map(float, lv))), dtype=np.float64) for lv in levels]
    codes = np.full(x.shape, -1, dtype=np.int64)
    for j in range(p):
        seen = present[:, j]
        column = x[seen, j]
        code = np.searchsorted(chosen[j], column)
        inside = code < len(chosen[j])
        valid = inside.copy()
        valid[inside] = chosen[j][code[inside]] == column[inside]
        if not valid.all():
            bad = float(column[~valid][0])
            raise AnalysisError(
                f"column {columns[j]!r} holds {bad:g}, which is not one of its categories "
                f"{[float(v) for v in chosen[j]]}"
            )
        codes[seen, j] = code
    offsets = np.concatenate([[0], np.cumsum([len(c) for c in chosen])]).astype(np.intp)
    width = int(offsets[-1])
    counts = np.zeros((width, width), dtype=np.int64)
    for start in range(0, n_rows, chunk_rows):
        block = codes[start : start + chunk_rows]
        onehot = np.zeros((len(block), width), dtype=np.float64)
        rows, cols = np.nonzero(block >= 0)
        onehot[rows, offsets[cols] + block[rows, cols]] = 1.0
        counts += np.rint(onehot.T @ onehot).astype(np.int64)
    return PairTables(
        tuple(columns), tuple(tuple(float(v) for v in c) for c in chosen), counts, n_rows
    )


@dataclass(frozen=True)
class ValueCounts:
    """Exact counts of the distinct values of one numeric column (NaN not counted); add with ``+``.

    ``values``: increasing; ``counts``: int64, one per value; ``missing``: NaN values seen.
    """

    values: np.ndarray
    counts: np.ndarray
    missing: int = 0

    @property
    def n(self) -> int:
        """Values counted (NaN excluded)."""
        return int(self.counts.sum())

    def __add__(self, other: ValueCounts) -> ValueCounts:
        values = np.concatenate([self.values, other.values])
        counts = np.concatenate([self.counts, other.counts])
        merged, where = np.unique(values, return_inverse=True)
        return ValueCounts(
            merged,
            np.bincount(where, weights=counts, minlength=len(merged)).astype(np.int64)
            if len(merged)
            else np.zeros(0, dtype=np.int64),
            self.missing + other.missing,
        )

    def quantile(self, q: np.ndarray) -> np.ndarray:
        """``numpy.quantile(x, q, method="inverted_cdf")`` of the counted values (R's type 1).

        The smallest value whose cumulative share reaches q: with virtual index v = n·q − 1,
        the sorted value at ⌊v⌋ + (1 if v has a fractional part), clipped to [0, n − 1].
        """
        n = self.n
        if n == 0:
            raise AnalysisError("no values to take quantiles of")
        probs = np.asarray(q, dtype=np.float64)
        virtual = n * probs - 1.0
        previous = np.floor(virtual)
        index = np.clip(previous + (virtual - previous > 0), 0, n - 1).astype(np.int64)
        through = np.cumsum(self.counts)
        out: np.ndarray = self.values[np.searchsorted(through, index, side="right")]
        return out


def value_counts(x: np.ndarray) -> ValueCounts:
    """:class:`ValueCounts` of a column (NaN counted as missing)."""
    data = np.asarray(x, dtype=np.float64).ravel()
    missing = np.isnan(data)
    values, counts = np.unique(data[~missing], return_counts=True)
    return ValueCounts(values, counts.astype(np.int64), int(missing.sum()))
