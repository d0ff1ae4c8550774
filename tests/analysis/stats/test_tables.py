"""Mergeable counts (analysis.stats.tables): merged parts equal the counts of the whole.

References: each pair's table counted row by row, numpy's ``quantile(method="inverted_cdf")``,
and the polychoric and percentile functions on the whole column.
"""

from __future__ import annotations

import functools
import operator

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import analysis
from analysis.errors import AnalysisError
from analysis.stats.norms import percentile_points, percentile_points_from_counts
from analysis.stats.polychoric import polychoric_from_tables
from analysis.stats.tables import pair_tables, value_counts
from tests.analysis.stats.conftest import Dataset

LEVELS = [1.0, 2.0, 3.0, 4.0, 5.0]


@st.composite
def split_answers(draw: st.DrawFn) -> tuple[np.ndarray, list[int]]:
    rows = draw(st.integers(0, 50))
    cols = draw(st.integers(1, 4))
    x = draw(arrays(np.float64, (rows, cols), elements=st.sampled_from([*LEVELS, np.nan])))
    cuts = sorted(draw(st.lists(st.integers(0, rows), max_size=4)))
    return x, cuts


@settings(max_examples=150, deadline=None)
@given(split_answers())
def test_merged_tables_equal_one_pass_and_crosstab(case: tuple[np.ndarray, list[int]]) -> None:
    x, cuts = case
    names = [f"i{j}" for j in range(x.shape[1])]
    levels = [LEVELS] * x.shape[1]
    whole = pair_tables(x, names, levels)
    parts = [pair_tables(p, names, levels) for p in np.split(x, cuts)]
    merged = functools.reduce(operator.add, parts)
    np.testing.assert_array_equal(merged.counts, whole.counts)
    assert merged.n_rows == whole.n_rows == len(x)
    frame = pd.DataFrame(x, columns=names)
    for i in range(len(names)):
        counts = frame[names[i]].value_counts().reindex(LEVELS, fill_value=0).to_numpy()
        np.testing.assert_array_equal(whole.frequencies(i), counts)
        for j in range(len(names)):
            both = frame[[names[i], names[j]]].dropna()
            expected = np.zeros((len(LEVELS), len(LEVELS)), dtype=np.int64)
            for a, b in both.itertuples(index=False):
                expected[LEVELS.index(a), LEVELS.index(b)] += 1
            np.testing.assert_array_equal(whole.table(i, j), expected)


def test_polychorics_from_merged_tables_equal_the_whole(sim: Dataset) -> None:
    inst, table, kw = sim
    keyed = analysis.keyed_items(inst, table, **kw)
    items = [str(c) for c in keyed.columns][:8]
    values = keyed[items].to_numpy(dtype=np.float64, na_value=np.nan)
    declared = [[float(v) for v in range(1, 8)]] * len(items)
    parts = [pair_tables(p, items, declared) for p in np.array_split(values, 5)]
    merged = functools.reduce(operator.add, parts)
    from_tables = polychoric_from_tables(merged)
    whole = analysis.polychoric_matrix(keyed[items])
    pd.testing.assert_frame_equal(from_tables.rho, whole.rho, rtol=0, atol=1e-12)
    pd.testing.assert_frame_equal(from_tables.thresholds, whole.thresholds, rtol=0, atol=1e-12)
    pd.testing.assert_frame_equal(from_tables.n_pairs, whole.n_pairs)
    assert from_tables.categories == whole.categories


def test_values_outside_the_categories_are_refused() -> None:
    with pytest.raises(AnalysisError, match=r"'a' holds 6, which is not one of its categories"):
        pair_tables(np.array([[1.0], [6.0]]), ["a"], [LEVELS])
    with pytest.raises(AnalysisError, match="same columns and categories"):
        _ = pair_tables(np.ones((2, 1)), ["a"], [LEVELS]) + pair_tables(np.ones((2, 1)), ["b"])


def _reference_points(
    scores: np.ndarray, max_points: int, min_cell: int
) -> list[tuple[float, float]]:
    """percentile_points as it was written on the sorted column (before the counts)."""
    x = np.sort(scores[~np.isnan(scores)])
    n = len(x)
    if n == 0:
        return []
    points = np.unique(x)
    if len(points) > max_points:
        picked = np.quantile(x, np.linspace(0.0, 1.0, max_points), method="inverted_cdf")
        points = np.unique(np.concatenate([[x[0]], picked, [x[-1]]]))
    below = np.searchsorted(x, points, side="left")
    through = np.searchsorted(x, points, side="right")
    percent = 100.0 * (below + 0.5 * (through - below)) / n
    safe = (below >= min_cell) & (n - through >= min_cell)
    return [(float(s), float(p)) for s, p, ok in zip(points, percent, safe, strict=True) if ok]


# scores of a 4-item mean scale on 1..5: S/c for c answered items
MEANS = sorted({s / c for c in range(1, 5) for s in range(c, 5 * c + 1)})


@st.composite
def split_scores(draw: st.DrawFn) -> tuple[np.ndarray, list[int], int, int]:
    x = np.array(draw(st.lists(st.sampled_from([*MEANS, np.nan]), max_size=300)), dtype=np.float64)
    cuts = sorted(draw(st.lists(st.integers(0, len(x)), max_size=4)))
    return x, cuts, draw(st.integers(2, 60)), draw(st.integers(1, 12))


@settings(max_examples=200, deadline=None)
@given(split_scores())
def test_counts_give_the_whole_columns_quantiles_and_percentiles(
    case: tuple[np.ndarray, list[int], int, int],
) -> None:
    x, cuts, max_points, min_cell = case
    merged = functools.reduce(operator.add, [value_counts(p) for p in np.split(x, cuts)])
    whole = value_counts(x)
    np.testing.assert_array_equal(merged.values, whole.values)
    np.testing.assert_array_equal(merged.counts, whole.counts)
    assert merged.missing == whole.missing == int(np.isnan(x).sum())
    present = x[~np.isnan(x)]
    if len(present):
        q = np.linspace(0.0, 1.0, 37)
        np.testing.assert_array_equal(
            merged.quantile(q), np.quantile(present, q, method="inverted_cdf")
        )
    expected = _reference_points(x, max_points, min_cell)
    assert percentile_points_from_counts(merged, max_points, min_cell) == expected
    assert percentile_points(x, max_points, min_cell) == expected


def test_quantile_of_no_values_is_refused() -> None:
    with pytest.raises(AnalysisError, match="no values"):
        value_counts(np.array([np.nan])).quantile(np.array([0.5]))
