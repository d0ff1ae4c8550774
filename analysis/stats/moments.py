"""Mergeable moments: pairwise-complete counts, means and centred (co)moments of many columns.

For p columns with missing values (NaN), :class:`Moments` holds, for every pair (i, j) of
columns, over the rows where both are present (pairwise complete, as R's
``cov(x, use = "pairwise")``):

- ``n[i, j]``: the number of those rows (``n[i, i]``: rows where column i is present);
- ``mean[i, j]``: the mean of column i over them (the pair's own mean, as R uses);
- ``square[i, j]`` = Σ (x_i − mean[i, j])² over them (the pair's sum of squares of i);
- ``comoment[i, j]`` = Σ (x_i − mean[i, j])·(x_j − mean[j, i]) over them (symmetric);

and per column, over its present rows, the centred third and fourth power sums
M3_i = Σ (x_i − x̄_i)³ and M4_i = Σ (x_i − x̄_i)⁴ (skew and kurtosis).

Everything is centred, so two parts merge without cancellation (Chan, Golub & LeVeque 1979 for
the second moments, Pébay 2008 for the third and fourth): with n = n_a + n_b and δ = x̄_b − x̄_a,

    x̄ = x̄_a + δ·n_b/n
    M2 = M2_a + M2_b + δ²·n_a·n_b/n                       (and C = C_a + C_b + δ_i·δ_j·n_a·n_b/n)
    M3 = M3_a + M3_b + δ³·n_a·n_b·(n_a − n_b)/n² + 3δ·(n_a·M2_b − n_b·M2_a)/n
    M4 = M4_a + M4_b + δ⁴·n_a·n_b·(n_a² − n_a·n_b + n_b²)/n³
         + 6δ²·(n_a²·M2_b + n_b²·M2_a)/n² + 4δ·(n_a·M3_b − n_b·M3_a)/n

applied elementwise to the pair matrices (each pair's own δ). Naive sums Σx, Σx² lose about
log10(N·x̄²/var) digits to cancellation; the merged centred moments keep the relative error of
one partition's two-pass moments, plus O(log₂(parts)·ε) from a balanced tree
(:func:`merge_tree`), so 10⁸ rows in 100 partitions lose no digits that matter.

Within one partition (:func:`moments`), the columns are first centred on their exact mean over
that partition; the pair corrections S·Sᵀ/n then only remove the tiny remainder of each pair's
own mean, so they do not cancel either.

No R equivalent (R computes from the whole data in memory); the results equal R's
``cov(x, use = "pairwise")`` and ``cor(x, use = "pairwise")`` on the concatenated rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from analysis.errors import AnalysisError

#: Rows per block of the one-pass kernel.
CHUNK_ROWS = 65536


@dataclass(frozen=True)
class Moments:
    """Pairwise-complete moments of ``columns`` (see the module docstring); merge with ``+``.

    ``n_rows``: the rows seen (present or not). The matrices are p x p (float64; ``n`` holds
    integers), ``m3`` and ``m4`` have length p.
    """

    columns: tuple[str, ...]
    n_rows: int
    n: np.ndarray
    mean: np.ndarray
    square: np.ndarray
    comoment: np.ndarray
    m3: np.ndarray
    m4: np.ndarray

    def __add__(self, other: Moments) -> Moments:
        return merge(self, other)

    # ---- per column ----------------------------------------------------------------------------

    @property
    def count(self) -> np.ndarray:
        """Present values per column."""
        return np.diag(self.n).copy()

    @property
    def column_mean(self) -> np.ndarray:
        """Mean per column over its present rows (NaN without any)."""
        n = self.count
        return np.where(n > 0, np.diag(self.mean), np.nan)

    def variance(self, ddof: int = 1) -> np.ndarray:
        """Variance per column, divisor n − ddof (NaN when n ≤ ddof)."""
        n = self.count
        with np.errstate(invalid="ignore", divide="ignore"):
            out: np.ndarray = np.where(n > ddof, np.diag(self.square) / (n - ddof), np.nan)
        return out

    def sd(self, ddof: int = 1) -> np.ndarray:
        """Standard deviation per column, divisor n − ddof."""
        out: np.ndarray = np.sqrt(self.variance(ddof))
        return out

    def skew(self) -> np.ndarray:
        """Sample skewness g1 = √n·M3 / M2^{3/2} (R's ``e1071::skewness(type = 1)``)."""
        n = self.count
        m2 = np.diag(self.square)
        with np.errstate(invalid="ignore", divide="ignore"):
            out: np.ndarray = np.where(n > 0, np.sqrt(n) * self.m3 / m2**1.5, np.nan)
        return out

    def kurtosis(self) -> np.ndarray:
        """Excess kurtosis g2 = n·M4 / M2² − 3 (R's ``e1071::kurtosis(type = 1)``)."""
        n = self.count
        m2 = np.diag(self.square)
        with np.errstate(invalid="ignore", divide="ignore"):
            out: np.ndarray = np.where(n > 0, n * self.m4 / (m2 * m2) - 3.0, np.nan)
        return out

    # ---- per pair ------------------------------------------------------------------------------

    def covariance(self) -> np.ndarray:
        """Pairwise-complete covariance, R's ``cov(x, use = "pairwise")``: C_ij / (n_ij − 1)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            out: np.ndarray = np.where(self.n > 1, self.comoment / (self.n - 1.0), np.nan)
        return out

    def correlation(self) -> np.ndarray:
        """Pairwise-complete correlation, R's ``cor(x, use = "pairwise")`` (each pair's own sds).

        r_ij = C_ij / √(S_ij · S_ji), S the pair's sums of squares; the diagonal is 1.
        """
        with np.errstate(invalid="ignore", divide="ignore"):
            r: np.ndarray = self.comoment / np.sqrt(self.square * self.square.T)
        r = np.where(self.n > 1, r, np.nan)
        np.fill_diagonal(r, 1.0)
        return r

    def select(self, columns: Sequence[str]) -> Moments:
        """The moments of a subset of the columns (in the order given)."""
        index = {c: i for i, c in enumerate(self.columns)}
        try:
            pos = np.array([index[c] for c in columns], dtype=np.intp)
        except KeyError as missing:
            raise AnalysisError(f"no moments of column {missing.args[0]!r}") from None
        grid = np.ix_(pos, pos)
        return Moments(
            tuple(columns),
            self.n_rows,
            self.n[grid],
            self.mean[grid],
            self.square[grid],
            self.comoment[grid],
            self.m3[pos],
            self.m4[pos],
        )


def moments(values: np.ndarray, columns: Sequence[str], *, chunk_rows: int = CHUNK_ROWS) -> Moments:
    """:class:`Moments` of an N x p matrix (NaN = missing) in one pass over blocks of rows.

    The columns are centred on their exact mean a (over the present rows); with the centred,
    zero-filled values Y and the present mask A, the block sums are N = AᵀA, S = YᵀA, P = YᵀY and
    Q = (Y²)ᵀA, and then mean = a + S/N, comoment = P − S·Sᵀ/N, square = Q − S²/N.
    """
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(columns):
        raise AnalysisError(f"moments need an N x {len(columns)} matrix, not {x.shape}")
    n_rows, p = x.shape
    present = ~np.isnan(x)
    count = present.sum(axis=0)
    totals = np.where(present, x, 0.0).sum(axis=0)
    centre = np.divide(totals, count, out=np.zeros(p), where=count > 0)
    n = np.zeros((p, p))
    s = np.zeros((p, p))
    cross = np.zeros((p, p))
    q = np.zeros((p, p))
    m3 = np.zeros(p)
    m4 = np.zeros(p)
    from analysis.stats._matrix import single_threaded_blas  # (it imports this module)

    # one BLAS thread: the same sums in the same order whatever machine or worker runs them
    with single_threaded_blas():
        for start in range(0, n_rows, chunk_rows):
            mask = present[start : start + chunk_rows]
            a = mask.astype(np.float64)
            y = np.where(mask, x[start : start + chunk_rows] - centre, 0.0)
            yy = y * y
            n += a.T @ a
            s += y.T @ a
            cross += y.T @ y
            q += yy.T @ a
    # the column's own sums: its mean remainder is S_ii/n_i (≈ 0), M3 and M4 in a second pass
    with np.errstate(invalid="ignore", divide="ignore"):
        safe = np.where(n > 0, n, 1.0)
        mean = np.where(n > 0, centre[:, None] + s / safe, 0.0)
        comoment = np.where(n > 0, cross - s * s.T / safe, 0.0)
        square = np.where(n > 0, q - s * s / safe, 0.0)
    own = np.diag(mean)
    for start in range(0, n_rows, chunk_rows):
        mask = present[start : start + chunk_rows]
        d = np.where(mask, x[start : start + chunk_rows] - own, 0.0)
        d2 = d * d
        m3 += (d2 * d).sum(axis=0)
        m4 += (d2 * d2).sum(axis=0)
    return Moments(tuple(columns), n_rows, n, mean, square, comoment, m3, m4)


def merge(a: Moments, b: Moments) -> Moments:
    """The moments of the rows of both parts (the updates of the module docstring)."""
    if a.columns != b.columns:
        raise AnalysisError("only moments of the same columns can be merged")
    n = a.n + b.n
    with np.errstate(invalid="ignore", divide="ignore"):
        safe = np.where(n > 0, n, 1.0)
        # a part without rows for a pair has mean 0 there and weight 0 in every correction
        delta = np.where((a.n > 0) & (b.n > 0), b.mean - a.mean, 0.0)
        both = (a.n > 0) & (b.n > 0)
        mean = np.where(both, a.mean + delta * (b.n / safe), np.where(a.n > 0, a.mean, b.mean))
        weight = a.n * b.n / safe
    square = a.square + b.square + delta * delta * weight
    comoment = a.comoment + b.comoment + delta * delta.T * weight
    na, nb, nn = np.diag(a.n), np.diag(b.n), np.diag(n)
    d = np.diag(delta)
    m2a, m2b = np.diag(a.square), np.diag(b.square)
    w = np.diag(weight)
    with np.errstate(invalid="ignore", divide="ignore"):
        total = np.where(nn > 0, nn, 1.0)
        m3 = a.m3 + b.m3 + d**3 * w * (na - nb) / total + 3.0 * d * (na * m2b - nb * m2a) / total
        m4 = (
            a.m4
            + b.m4
            + d**4 * w * (na * na - na * nb + nb * nb) / (total * total)
            + 6.0 * d * d * (na * na * m2b + nb * nb * m2a) / (total * total)
            + 4.0 * d * (na * b.m3 - nb * a.m3) / total
        )
    return Moments(a.columns, a.n_rows + b.n_rows, n, mean, square, comoment, m3, m4)


def merge_tree(parts: Iterable[Moments]) -> Moments:
    """Merge many parts pairwise in a balanced tree (rounding grows with log₂ of the parts)."""
    level = list(parts)
    if not level:
        raise AnalysisError("no moments to merge")
    while len(level) > 1:
        paired = [merge(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]
