"""Small-cell suppression: primary cells hidden, and none recoverable from a published total."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from analysis.privacy.suppression import apply_mask, primary, suppressed_groups, suppression_mask


def test_hand_example():
    counts = np.array([[50, 3, 40], [30, 20, 25]])
    mask = suppression_mask(counts)
    # 3 is primary; row 0 then hides its smallest other cell (40); column 1 hides 20;
    # column 2 hides 25; every line now has 0 or >= 2 hidden cells
    assert mask.tolist() == [[False, True, True], [False, True, True]]


def test_zero_is_not_a_small_cell():
    assert primary(np.array([0, 1, 9, 10])).tolist() == [False, True, True, False]


def test_one_small_group_takes_the_next_smallest_with_it():
    assert suppressed_groups({"a": 100, "b": 4, "c": 30, "d": 12}) == {"b", "d"}
    assert suppressed_groups({"a": 100, "b": 40}) == set()
    assert suppressed_groups({"a": 100, "b": 4, "c": 5}) == {"b", "c"}


def test_apply_mask_shows_suppressed():
    import pandas as pd

    table = pd.DataFrame({"x": [1, 50], "y": [50, 50]})
    shown = apply_mask(table, suppression_mask(table.to_numpy()))
    assert shown.loc[0, "x"] == "suppressed"


@settings(max_examples=200, deadline=None)
@given(
    arrays(np.int64, st.tuples(st.integers(1, 5), st.integers(2, 6)), elements=st.integers(0, 40)),
    st.integers(2, 15),
)
def test_no_suppressed_cell_is_recoverable(counts, threshold):
    mask = suppression_mask(counts, threshold)
    # every primary cell is hidden
    assert not (primary(counts, threshold) & ~mask).any()
    # no row or column with a published total holds exactly one hidden cell
    for line in (*mask, *mask.T):
        assert line.sum() != 1 or len(line) == 1
