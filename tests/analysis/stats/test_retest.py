"""Within-person wave comparisons and test–retest reliability (analysis.stats.retest)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.stats.retest import compare_waves, icc

# Shrout & Fleiss (1979), Table 2: 6 targets rated by 4 judges (psych's data set ``sf``).
# Their Table 4 (and psych::ICC(sf)): ICC(2,1) = .29, ICC(3,1) = .71.
SHROUT_FLEISS = np.array(
    [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]],
    dtype=np.float64,
)


def _cell(frame: pd.DataFrame, column: str, **where: str) -> float:
    rows = frame.reset_index()
    for key, value in where.items():
        rows = rows[rows[key] == value]
    return float(rows[column].iloc[0])


def test_icc_matches_shrout_and_fleiss() -> None:
    a1, c1 = icc(SHROUT_FLEISS)
    assert a1 == pytest.approx(0.2898, abs=5e-4)
    assert c1 == pytest.approx(0.7148, abs=5e-4)


def test_paired_comparison_of_two_waves() -> None:
    rng = np.random.default_rng(7)
    before = rng.normal(3.0, 0.6, 40)
    after = before + rng.normal(0.3, 0.4, 40)
    frame = pd.DataFrame(
        {
            "who": [f"p{i}" for i in range(40)] * 2 + ["lonely"],
            "wave": ["1"] * 40 + ["2"] * 40 + ["2"],
            "calm": np.concatenate([before, after, [5.0]]),
        }
    )
    result = compare_waves(frame, "who", "wave", ["calm"])
    expected = stats.ttest_rel(after, before)
    paired = {"scale": "calm", "waves": "1 -> 2", "test": "paired_t"}
    assert _cell(result.tests, "n", **paired) == 40  # the person seen once is not paired
    t = _cell(result.tests, "statistic", **paired)
    assert t == pytest.approx(float(expected.statistic), rel=1e-12)
    assert _cell(result.tests, "p", **paired) == pytest.approx(float(expected.pvalue), rel=1e-12)
    d = after - before
    d_z = _cell(result.effects, "d_z", scale="calm")
    assert d_z == pytest.approx(d.mean() / d.std(ddof=1), rel=1e-12)
    w = stats.wilcoxon(after, before, method="approx", correction=True)
    assert _cell(result.tests, "p", test="wilcoxon") == pytest.approx(float(w.pvalue))
    a1, _ = icc(np.column_stack([before, after]))
    assert _cell(result.retest, "icc_a1", scale="calm") == pytest.approx(a1)
    sem = _cell(result.retest, "sem", scale="calm")
    assert sem == pytest.approx(before.std(ddof=1) * np.sqrt(1 - a1))
