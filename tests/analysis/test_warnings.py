"""Numeric warnings go into the import and report summaries, not to the console."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from analysis.errors import computation_warnings


def test_numeric_warnings_are_collected_and_others_pass_on() -> None:
    with warnings.catch_warnings(record=True) as outside:
        warnings.simplefilter("always")
        with computation_warnings() as numeric:
            for _ in range(3):
                np.mean(np.array([], dtype=float))  # RuntimeWarning: Mean of empty slice
            warnings.warn("for the caller", UserWarning, stacklevel=1)
    assert "RuntimeWarning: Mean of empty slice (3x)" in numeric  # each message once, counted
    assert all(text.startswith("RuntimeWarning") for text in numeric)
    assert [str(w.message) for w in outside] == ["for the caller"]


def test_nothing_collected_leaves_an_empty_list() -> None:
    with computation_warnings() as numeric:
        pass
    assert numeric == []
    with pytest.raises(ZeroDivisionError), computation_warnings():
        _ = 1 / 0
