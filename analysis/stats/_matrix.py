"""Shared numerics of the statistics: keyed answers and additive pairwise sums.

Everything the reliability and item statistics need is a sum over respondents, so one pass over
the answers in blocks of rows gives it all (and partitions of a cohort can be added up):

for each subscale with k items, a block of rows is laid out as the matrix

    B = [Y, Y², ..., Yᵐ, A, T, T², D]

where A is the answered mask (1/0), Y the keyed answer minus a fixed integer centre per item
(0 where missing), T the respondent's mean keyed answer over the answered items of the subscale
(psych's ``rowMeans(x, na.rm = TRUE)``, centred; 0 where no item is answered) and D whether T is
defined. ``Bᵀ B`` summed over the blocks holds, for every pair of items, the pairwise-complete
counts (AᵀA), sums (YᵀA), cross products (YᵀY) and sums of squares (Y²ᵀA), the power sums
Σ yᵖ of every item up to p = 2m (for skew, kurtosis and the answer frequencies), and the sums
that correlate each item with its subscale mean. With integer answers every product and sum of
the Y and A parts is an integer below 2⁵³, so they are exact whatever the summation order.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal, ParamSpec, Protocol, TypeVar

import numpy as np

from analysis.errors import AnalysisError
from analysis.stats._options import check_option
from analysis.stats._result import NO_PROBLEMS, Problems
from analysis.stats.moments import moments
from surveytool.scoring.plan import ScoringPlan

P = ParamSpec("P")
R = TypeVar("R")

#: Rows per block: the block's matrices stay in the CPU cache.
CHUNK_ROWS = 8192

#: Largest number of answer categories whose frequencies are recovered from power sums.
MAX_MOMENT_CATEGORIES = 11

Use = Literal["pairwise", "listwise"]
"""Missing answers: pairwise-complete sums, or only the rows complete on the items used."""

UNSCORED = "(unscored)"
"""Block name of the items that belong to no subscale (item statistics only)."""


def keyed_matrix(plan: ScoringPlan, values: np.ndarray) -> np.ndarray:
    """Answers with reverse keying on the declared range: x' = (min + max) − x (NaN stays NaN)."""
    keyed = np.array(values, dtype=np.float64, copy=True)
    if plan.reverse.any():
        cols = np.flatnonzero(plan.reverse)
        keyed[:, cols] = (plan.low[cols] + plan.high[cols]) - keyed[:, cols]
    return keyed


class Keying(Protocol):
    """What the sums need of a scoring plan: item ids, declared ranges and reverse keys."""

    @property
    def item_ids(self) -> tuple[str, ...]: ...

    @property
    def low(self) -> np.ndarray: ...

    @property
    def high(self) -> np.ndarray: ...

    @property
    def reverse(self) -> np.ndarray: ...


@dataclass(frozen=True)
class PlainKeying:
    """Keying of columns that are already keyed (no reversal), ranges from the data."""

    item_ids: tuple[str, ...]
    low: np.ndarray
    high: np.ndarray
    reverse: np.ndarray

    @classmethod
    def of(cls, item_ids: Sequence[str], values: np.ndarray) -> PlainKeying:
        with warnings.catch_warnings():  # an all-missing column: nanmin warns, range 0..0
            warnings.simplefilter("ignore", RuntimeWarning)
            low = np.nan_to_num(np.floor(np.nanmin(values, axis=0)))
            high = np.nan_to_num(np.ceil(np.nanmax(values, axis=0)))
        return cls(tuple(item_ids), low, high, np.zeros(len(item_ids), dtype=bool))


@dataclass(frozen=True)
class Block:
    """Items summed together: a subscale (or the unscored items)."""

    name: str
    columns: np.ndarray  # positions in the item matrix


def subscale_blocks(plan: ScoringPlan, *, include_unscored: bool = True) -> list[Block]:
    """One block per subscale of the plan; items in no subscale form a last block."""
    blocks = [Block(sub.id, np.asarray(sub.columns, dtype=np.intp)) for sub in plan.subscales]
    if include_unscored:
        seen = set(np.concatenate([b.columns for b in blocks]).tolist()) if blocks else set()
        rest = [j for j in range(len(plan.item_ids)) if j not in seen]
        if rest:
            blocks.append(Block(UNSCORED, np.array(rest, dtype=np.intp)))
    return blocks


def powers_needed(plan: Keying) -> int:
    """m in [Y, ..., Yᵐ]: power sums up to 2m give the frequencies of every category.

    At least 2 (sums of squares for pairwise correlations, 3rd and 4th moments); enough for
    ``MAX_MOMENT_CATEGORIES`` categories; wider scales count frequencies directly.
    """
    categories = int(np.max(plan.high - plan.low)) + 1 if len(plan.item_ids) else 1
    if categories > MAX_MOMENT_CATEGORIES:
        return 2
    return max(2, math.ceil((categories - 1) / 2))


@dataclass
class BlockSums:
    """``Bᵀ B`` of one block summed over rows (see the module docstring for B)."""

    name: str
    columns: np.ndarray
    centre: np.ndarray  # the integer subtracted from each keyed item
    mean_centre: float  # T is the mean keyed answer minus this
    powers: int
    gram: np.ndarray

    @property
    def k(self) -> int:
        return len(self.columns)

    def part(self, a: str, b: str) -> np.ndarray:
        """A sub-matrix of the Gram matrix; names ``y1``..``ym``, ``a``, ``t``, ``t2``, ``d``."""
        out: np.ndarray = self.gram[np.ix_(self._index(a), self._index(b))]
        return out

    def _index(self, name: str) -> np.ndarray:
        k = self.k
        if name.startswith("y"):
            p = int(name[1:])
            return np.arange((p - 1) * k, p * k)
        offset = self.powers * k
        if name == "a":
            return np.arange(offset, offset + k)
        extra = {"t": 0, "t2": 1, "d": 2}[name]
        return np.array([offset + k + extra])


@dataclass
class ItemSums:
    """Additive sufficient statistics of one table of answers (add partitions with ``+``).

    ``n_obs``: rows of answers seen; ``blocks``: :class:`BlockSums` per subscale (and unscored items);
    ``counts``: directly counted answer frequencies, only for scales too wide for power sums;
    ``use``: ``"pairwise"`` or ``"listwise"`` (rows with a missing item of the subscale are left
    out of that subscale's sums); ``problems``: what validating the answers found (added up with
    the sums, so a statistic of added partitions still reports every problem).
    """

    item_ids: tuple[str, ...]
    low: np.ndarray
    high: np.ndarray
    reverse: np.ndarray
    n_obs: int
    use: Use
    blocks: list[BlockSums]
    counts: np.ndarray | None = field(default=None)
    problems: Problems = field(default=NO_PROBLEMS)

    def __add__(self, other: ItemSums) -> ItemSums:
        if self.item_ids != other.item_ids or self.use != other.use:
            raise AnalysisError("only sums of the same items and missing-data rule can be added")
        blocks = [
            BlockSums(a.name, a.columns, a.centre, a.mean_centre, a.powers, a.gram + b.gram)
            for a, b in zip(self.blocks, other.blocks, strict=True)
        ]
        counts = None
        if self.counts is not None and other.counts is not None:
            counts = self.counts + other.counts
        return ItemSums(
            self.item_ids,
            self.low,
            self.high,
            self.reverse,
            self.n_obs + other.n_obs,
            self.use,
            blocks,
            counts,
            self.problems + other.problems,
        )

    def block(self, name: str) -> BlockSums:
        for b in self.blocks:
            if b.name == name:
                return b
        raise KeyError(name)


@dataclass(frozen=True)
class _Layout:
    """Where each block's columns live in the per-chunk buffer (see the module docstring)."""

    blocks: list[Block]
    powers: int
    sign: np.ndarray
    shift: np.ndarray
    centre: np.ndarray
    mean_centres: list[float]
    widths: list[int]
    offsets: list[int]
    contiguous: list[slice | None]
    use: Use

    @property
    def total_width(self) -> int:
        return self.offsets[-1]


def _accumulate(layout: _Layout, values: np.ndarray, chunk_rows: int) -> list[np.ndarray]:
    """``Bᵀ B`` per block over the rows of ``values`` (the kernel; see the module docstring)."""
    m = layout.powers
    grams = [np.zeros((w, w)) for w in layout.widths]
    n = len(values)
    if n == 0:
        return grams
    buf = np.empty((min(chunk_rows, n), layout.total_width), order="F")
    for start in range(0, n, chunk_rows):
        block = values[start : start + chunk_rows]
        rows = len(block)
        buffer = buf[:rows]
        for b, spec in enumerate(layout.blocks):
            cols = spec.columns
            k = len(cols)
            o = layout.offsets[b]
            span = layout.contiguous[b]
            raw = block[:, span] if span is not None else block[:, cols]
            y = buffer[:, o : o + k]
            np.multiply(raw, layout.sign[cols], out=y)
            y += layout.shift[cols]
            missing = np.isnan(y)
            a = buffer[:, o + m * k : o + (m + 1) * k]
            np.logical_not(missing, out=a, casting="unsafe")
            np.copyto(y, 0.0, where=missing)
            count = a.sum(axis=1)
            if layout.use == "listwise":
                incomplete = count < k
                y[incomplete] = 0.0
                a[incomplete] = 0.0
                count[incomplete] = 0.0
            for p in range(2, m + 1):
                previous = buffer[:, o + (p - 2) * k : o + (p - 1) * k]
                np.multiply(previous, y, out=buffer[:, o + (p - 1) * k : o + p * k])
            t = buffer[:, o + (m + 1) * k]
            d = buffer[:, o + (m + 1) * k + 2]
            np.greater(count, 0.0, out=d, casting="unsafe")
            # T = mean keyed answer − c̄ = (Σ y + Σ centre over the answered) / count − c̄
            total = y.sum(axis=1)
            centres = layout.centre[cols]
            if np.any(centres != layout.mean_centres[b]):
                total += a @ (centres - layout.mean_centres[b])
            np.divide(total, np.maximum(count, 1.0), out=t)
            np.multiply(t, t, out=buffer[:, o + (m + 1) * k + 1])
            part = buffer[:, o : o + layout.widths[b]]
            grams[b] += part.T @ part
    return grams


def _count_categories(plan: Keying, values: np.ndarray, categories: int) -> np.ndarray:
    """Answer counts per item and category, for scales too wide for power sums."""
    counts = np.zeros((values.shape[1], categories), dtype=np.int64)
    for start in range(0, len(values), CHUNK_ROWS):
        codes = values[start : start + CHUNK_ROWS] - plan.low
        for c in range(categories):
            counts[:, c] += (codes == c).sum(axis=0)
    return counts


def single_threaded_blas() -> contextlib.AbstractContextManager[object]:
    """Limit BLAS to one thread while many small matrix products and decompositions run.

    OpenBLAS's threads spin-wait between calls; on a machine busy with other work, thousands of
    small products or 25 x 25 eigen-decompositions then take 20 times longer than on one thread.
    The sums kernel parallelises over row ranges itself. threadpoolctl is used when it is
    installed (it comes with scikit-learn, which semopy needs).
    """
    try:
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - installed with semopy's scikit-learn
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")  # type: ignore[no-any-return]


def one_blas_thread(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorator: run ``fn`` with :func:`single_threaded_blas`."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with single_threaded_blas():
            return fn(*args, **kwargs)

    return wrapper


def item_sums(
    plan: Keying,
    values: np.ndarray,
    blocks: Sequence[Block],
    *,
    use: Use = "pairwise",
    powers: int | None = None,
    frequencies: bool = True,
    chunk_rows: int = CHUNK_ROWS,
    workers: int | None = None,
) -> ItemSums:
    """One pass over an N x I matrix of raw answers (NaN = missing): :class:`ItemSums`.

    Vectorised per block of ``chunk_rows`` rows; the only Python loops are over row blocks and
    subscales. Large tables are split into ``workers`` row ranges summed in parallel threads
    (numpy releases the GIL); default: the number of CPUs, at most 4.
    """
    check_option("use", use, Use)
    values = np.asarray(values, dtype=np.float64)
    n, n_items = values.shape
    chosen = list(blocks)
    m = powers if powers is not None else powers_needed(plan)
    centre = np.floor((plan.low + plan.high) / 2.0)
    widths = [(m + 1) * len(b.columns) + 3 for b in chosen]
    contiguous: list[slice | None] = []
    for b in chosen:
        cols = b.columns
        is_range = len(cols) > 0 and bool(np.all(np.diff(cols) == 1))
        contiguous.append(slice(int(cols[0]), int(cols[-1]) + 1) if is_range else None)
    layout = _Layout(
        blocks=chosen,
        powers=m,
        sign=np.where(plan.reverse, -1.0, 1.0),
        # keyed minus centre = sign * x + shift
        shift=np.where(plan.reverse, plan.low + plan.high, 0.0) - centre,
        centre=centre,
        mean_centres=[float(centre[b.columns].mean()) if len(b.columns) else 0.0 for b in chosen],
        widths=widths,
        offsets=[0, *np.cumsum(widths).astype(int).tolist()],
        contiguous=contiguous,
        use=use,
    )
    threads = workers if workers is not None else min(os.cpu_count() or 1, 4)
    threads = max(1, min(threads, n // (4 * chunk_rows)))
    with single_threaded_blas():
        if threads == 1:
            grams = _accumulate(layout, values, chunk_rows)
        else:
            bounds = np.linspace(0, n, threads + 1).astype(int)
            with ThreadPoolExecutor(threads) as pool:
                parts = list(
                    pool.map(
                        lambda i: _accumulate(
                            layout, values[bounds[i] : bounds[i + 1]], chunk_rows
                        ),
                        range(threads),
                    )
                )
            grams = [np.sum([g[b] for g in parts], axis=0) for b in range(len(chosen))]
    categories = int(np.max(plan.high - plan.low)) + 1 if n_items else 0
    counts = (
        _count_categories(plan, values, categories)
        if frequencies and categories > MAX_MOMENT_CATEGORIES
        else None
    )
    return ItemSums(
        item_ids=plan.item_ids,
        low=plan.low,
        high=plan.high,
        reverse=plan.reverse,
        n_obs=n,
        use=use,
        blocks=[
            BlockSums(
                spec.name,
                spec.columns,
                centre[spec.columns],
                layout.mean_centres[b],
                m,
                np.asarray(grams[b]),
            )
            for b, spec in enumerate(chosen)
        ],
        counts=counts,
    )


# ---- covariance and correlation from the sums ----------------------------------------------------


def pairwise_covariance(b: BlockSums) -> tuple[np.ndarray, np.ndarray]:
    """Pairwise-complete covariance (R's ``cov(x, use = "pairwise")``) and the pair counts.

    C_ij = (Σ y_i y_j − Σ_{j answered} y_i · Σ_{i answered} y_j / n_ij) / (n_ij − 1), each sum over
    the rows where both items are answered, so the means are those of the pair (as R does).
    """
    n = b.part("a", "a")
    s = b.part("y1", "a")  # s[i, j] = Σ y_i over rows where j (and i) is answered
    p = b.part("y1", "y1")
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = (p - s * s.T / n) / (n - 1.0)
    return cov, n


def cov_to_cor(cov: np.ndarray) -> np.ndarray:
    """R's ``cov2cor``: C_ij / √(C_ii C_jj)."""
    sd = np.sqrt(np.diag(cov))
    with np.errstate(invalid="ignore", divide="ignore"):
        r: np.ndarray = cov / np.outer(sd, sd)
    np.fill_diagonal(r, 1.0)
    return r


def inverse(matrix: np.ndarray) -> np.ndarray:
    """Inverse, or the Moore–Penrose pseudo-inverse when the matrix is singular."""
    try:
        return np.linalg.inv(matrix)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(matrix)


def smc(r: np.ndarray) -> np.ndarray:
    """Squared multiple correlations 1 − 1/(R⁻¹)_jj, clamped to [0, 1] (as ``psych::smc``)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        values = 1.0 - 1.0 / np.diag(inverse(r))
    return np.clip(values, 0.0, 1.0)


def power_sums(b: BlockSums) -> np.ndarray:
    """k x (2m + 1) matrix of Σ yᵖ per item, p = 0..2m (y = keyed answer − centre)."""
    k, m = b.k, b.powers
    out = np.empty((k, 2 * m + 1))
    a = b.part("a", "a")
    out[:, 0] = np.diag(a)
    for p in range(1, m + 1):
        out[:, p] = np.diag(b.part(f"y{p}", "a"))
    for p in range(m + 1, 2 * m + 1):
        out[:, p] = np.diag(b.part(f"y{p - m}", f"y{m}"))
    return out


def frequencies_from_power_sums(sums: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """Counts f_c of each node v_c from Σ_c f_c v_cᵖ = S_p, p = 0..K−1, solved exactly.

    The power sums are exact integers, so the Vandermonde system is solved in rational
    arithmetic (K ≤ 11 unknowns) and the counts are exact.
    """
    k = len(nodes)
    target = [Fraction(round(float(v))) for v in sums[:k]]
    matrix = [[Fraction(int(v)) ** p for v in nodes] for p in range(k)]
    # Gaussian elimination on the k x k Vandermonde system (distinct integer nodes: nonsingular)
    aug = [[*row, target[i]] for i, row in enumerate(matrix)]
    for col in range(k):
        pivot = next(r for r in range(col, k) if aug[r][col] != 0)
        aug[col], aug[pivot] = aug[pivot], aug[col]
        for r in range(k):
            if r != col and aug[r][col] != 0:
                factor = aug[r][col] / aug[col][col]
                aug[r] = [x - factor * y for x, y in zip(aug[r], aug[col], strict=True)]
    return np.array([float(aug[i][k] / aug[i][i]) for i in range(k)])


def pairwise_cor(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairwise-complete Pearson correlations of the columns of a matrix (NaN = missing).

    R's ``cor(x, use = "pairwise")``: every correlation uses the rows where both columns are
    present, with that pair's means and variances. From the mergeable moments
    (:func:`analysis.stats.moments.moments`), the one home of the pairwise sums, so that the
    correlations of merged partitions are the same numbers.
    """
    x = np.asarray(values, dtype=np.float64)
    m = moments(x, [str(j) for j in range(x.shape[1])])
    return m.correlation(), m.n
