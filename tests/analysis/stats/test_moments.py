"""Mergeable moments (analysis.stats.moments): merged parts equal one pass over the whole.

References: pandas' pairwise ``DataFrame.cov``/``corr`` (R's ``cov``/``cor(use = "pairwise")``),
the centred power sums computed directly, and :func:`analysis.reliability` for alpha.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import analysis
from analysis.errors import AnalysisError
from analysis.stats.moments import Moments, merge, merge_tree, moments
from analysis.stats.reliability import alpha_from_covariance
from tests.analysis.stats.conftest import Dataset
from tests.frames import num

FIELDS = ("n", "mean", "square", "comoment", "m3", "m4")


def _close(a: Moments, b: Moments, rtol: float = 1e-12) -> None:
    assert a.columns == b.columns
    assert a.n_rows == b.n_rows
    np.testing.assert_array_equal(a.n, b.n)
    for name in FIELDS[1:]:
        x, y = getattr(a, name), getattr(b, name)
        scale = max(1.0, float(np.max(np.abs(y), initial=0.0)))
        np.testing.assert_allclose(x, y, rtol=0, atol=rtol * scale, err_msg=name)


def _likert(draw: Callable[[st.SearchStrategy[Any]], Any]) -> np.ndarray:
    rows = draw(st.integers(0, 60))
    cols = draw(st.integers(1, 5))
    x: np.ndarray = draw(arrays(np.float64, (rows, cols), elements=st.integers(1, 7).map(float)))
    holes = draw(arrays(np.bool_, (rows, cols)))
    x[holes & (np.arange(rows)[:, None] % 3 == 0)] = np.nan
    return x


@st.composite
def split_table(draw: st.DrawFn) -> tuple[np.ndarray, list[int]]:
    x = _likert(draw)
    cuts = sorted(draw(st.lists(st.integers(0, len(x)), max_size=5)))
    return x, cuts


@settings(max_examples=150, deadline=None)
@given(split_table())
def test_merged_parts_equal_one_pass(case: tuple[np.ndarray, list[int]]) -> None:
    x, cuts = case
    names = [f"c{j}" for j in range(x.shape[1])]
    whole = moments(x, names)
    parts = [moments(part, names) for part in np.split(x, cuts)]
    _close(merge_tree(parts), whole)
    # and merging one at a time (a different order of the same updates)
    running = parts[0]
    for part in parts[1:]:
        running = running + part
    _close(running, whole)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_one_pass_equals_pandas_pairwise(data: st.DataObject) -> None:
    x = _likert(data.draw)
    frame = pd.DataFrame(x)
    m = moments(x, [str(c) for c in frame.columns])
    expected_cov = frame.cov(min_periods=2).to_numpy()
    np.testing.assert_allclose(m.covariance(), expected_cov, rtol=1e-12, atol=1e-12)
    expected_cor = frame.corr(min_periods=2).to_numpy().copy()
    got = m.correlation()
    np.fill_diagonal(expected_cor, 1.0)
    both = ~np.isnan(expected_cor)
    np.testing.assert_allclose(got[both], expected_cor[both], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(m.count, frame.count().to_numpy())


def test_per_column_moments_against_direct_sums() -> None:
    rng = np.random.default_rng(1)
    x = rng.integers(1, 8, size=(500, 3)).astype(float)
    x[rng.random(x.shape) < 0.1] = np.nan
    m = moments(x, ["a", "b", "c"])
    for j in range(3):
        col = x[~np.isnan(x[:, j]), j]
        d = col - col.mean()
        assert m.column_mean[j] == pytest.approx(col.mean(), rel=1e-14)
        assert m.variance()[j] == pytest.approx(col.var(ddof=1), rel=1e-13)
        assert m.m3[j] == pytest.approx(float(np.sum(d**3)), rel=1e-12, abs=1e-9)
        assert m.m4[j] == pytest.approx(float(np.sum(d**4)), rel=1e-12)
        n = len(col)
        assert m.skew()[j] == pytest.approx(np.sqrt(n) * np.sum(d**3) / np.sum(d**2) ** 1.5)
        assert m.kurtosis()[j] == pytest.approx(n * np.sum(d**4) / np.sum(d**2) ** 2 - 3.0)


def test_merge_keeps_precision_where_raw_sums_cancel() -> None:
    # mean 1e8, sd 1: Σx² − (Σx)²/n loses every digit in float64; the centred merge keeps them
    rng = np.random.default_rng(7)
    x = 1e8 + rng.standard_normal((200_000, 2))
    parts = [moments(p, ["a", "b"]) for p in np.array_split(x, 101)]
    merged = merge_tree(parts)
    centred = x - x.mean(axis=0)
    two_pass = (centred**2).sum(axis=0) / (len(x) - 1)
    np.testing.assert_allclose(merged.variance(), two_pass, rtol=1e-9)
    naive = ((x**2).sum(axis=0) - x.sum(axis=0) ** 2 / len(x)) / (len(x) - 1)
    assert np.max(np.abs(naive / two_pass - 1.0)) > 1e-3  # the trap the merge avoids


def test_alpha_from_merged_moments_equals_reliability(sim: Dataset) -> None:
    inst, table, kw = sim
    keyed = analysis.keyed_items(inst, table, **kw)
    names = [str(c) for c in keyed.columns]
    values = keyed.to_numpy(dtype=np.float64, na_value=np.nan)
    parts = [moments(p, names) for p in np.array_split(values, 7)]
    merged = merge_tree(parts)
    rel = analysis.reliability(inst, table, **kw)
    for sub in inst.subscales:
        items = list(rel.covariances[sub.id].index)
        cov = merged.select(items).covariance()
        np.testing.assert_allclose(cov, rel.covariances[sub.id].to_numpy(), rtol=0, atol=1e-12)
        scale, _ = alpha_from_covariance(pd.DataFrame(cov, index=items, columns=items), len(table))
        for column in ("raw_alpha", "std_alpha", "g6", "average_r", "ase"):
            expected = num(rel.scales, sub.id, column)
            assert scale[column] == pytest.approx(expected, abs=1e-12), column
        means = merged.select(items).column_mean
        got_means = np.array([num(rel.items, (sub.id, i), "mean") for i in items])
        np.testing.assert_allclose(means, got_means, rtol=0, atol=1e-12)


def test_merge_refuses_other_columns() -> None:
    a = moments(np.ones((3, 2)), ["a", "b"])
    b = moments(np.ones((3, 2)), ["a", "c"])
    with pytest.raises(AnalysisError, match="same columns"):
        merge(a, b)
    with pytest.raises(AnalysisError, match="no moments to merge"):
        merge_tree([])
    with pytest.raises(AnalysisError, match="no moments of column 'z'"):
        a.select(["z"])
