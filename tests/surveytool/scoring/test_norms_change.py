"""Reliable change (Jacobson & Truax 1991) and norm look-up, worked by hand.

    S_diff = √2 · SD · √(1 − r_xx),   RCI = (x₂ − x₁) / S_diff,   |RCI| ≥ 1.96 is reliable.

Fixture tests/fixtures/scoring/norms.yaml:
- dep (sum, better lower): sex=F mean 10 sd 4 r .84 n 100; sex=M mean 12 sd 5 r .90 n 80;
  fallback mean 11 sd 5 r .80 n 200
- well (mean, better higher): fallback mean 3 sd 0.5 r .75 n 200
- anx (mean, better lower): sex=F mean 2.5 sd 1 n 50, no reliability, no fallback
- unnormed (better lower): no norms
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from surveytool.errors import ScoringError
from surveytool.instrument.model import Better
from surveytool.scoring.change import (
    CRITICAL_RCI,
    Change,
    ReliableChange,
    classify,
    reliable_change,
    reliable_change_index,
)
from surveytool.scoring.norms import entry_for, norm_columns

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "scoring"


def by_scale(results: list[ReliableChange]) -> dict[str, ReliableChange]:
    return {r.scale: r for r in results}


# ---------------------------------------------------------------------------------------------
# the index
# ---------------------------------------------------------------------------------------------


def test_rci_by_hand():
    # SD 5, r .8: S_diff = √2 · 5 · √0.2 = 5 · √0.4 = √10 = 3.1622776601683795
    # 20 -> 14: RCI = -6 / √10 = -1.8973665961010275
    assert reliable_change_index(20, 14, 5, 0.8) == pytest.approx(-6 / math.sqrt(10), rel=1e-14)
    # SD 4, r .84: S_diff = √2 · 4 · 0.4 = 1.6√2 = 2.262741699796952; 10 -> 16: 6 / 2.2627 = 2.6517
    assert reliable_change_index(10, 16, 4, 0.84) == pytest.approx(
        6 / (1.6 * math.sqrt(2)), rel=1e-14
    )
    # no change: 0
    assert reliable_change_index(7, 7, 3, 0.7) == 0.0


@pytest.mark.parametrize(("sd", "r"), [(0, 0.8), (-1, 0.8), (5, 0), (5, 1), (5, 1.2)])
def test_rci_refuses_impossible_sd_or_reliability(sd, r):
    with pytest.raises(ScoringError, match="sd > 0 and 0 < reliability < 1"):
        reliable_change_index(1, 2, sd, r)


@pytest.mark.parametrize(
    ("rci", "better", "expected"),
    [
        (2.5, Better.LOWER, Change.deterioration),  # rise on a lower-is-better scale
        (-2.5, Better.LOWER, Change.improvement),
        (2.5, Better.HIGHER, Change.improvement),
        (-2.5, Better.HIGHER, Change.deterioration),
        (1.0, Better.LOWER, Change.no_change),
        (-1.0, Better.HIGHER, Change.no_change),
        (0.0, Better.HIGHER, Change.no_change),
        # |RCI| exactly 1.96 is reliable
        (1.96, Better.LOWER, Change.deterioration),
        (-1.96, Better.LOWER, Change.improvement),
        (1.96, Better.HIGHER, Change.improvement),
        (-1.96, Better.HIGHER, Change.deterioration),
        # the largest float below 1.96 is not
        (float(np.nextafter(1.96, 0)), Better.LOWER, Change.no_change),
        (-float(np.nextafter(1.96, 0)), Better.HIGHER, Change.no_change),
    ],
)
def test_classify(rci, better, expected):
    assert CRITICAL_RCI == 1.96
    assert classify(rci, better) is expected


def test_rci_exactly_196_end_to_end(normed):
    # SD 1, r .5: S_diff = √2 · 1 · √0.5 = 1 exactly; 0 -> 1.96: RCI = 1.96 -> reliable
    # (unnormed is lower-is-better, so a rise is a deterioration)
    out = by_scale(
        reliable_change(
            normed,
            {"unnormed": 0.0},
            {"unnormed": 1.96},
            sd={"unnormed": 1.0},
            reliability={"unnormed": 0.5},
        )
    )
    assert out["unnormed"].rci == 1.96
    assert out["unnormed"].classification is Change.deterioration


# ---------------------------------------------------------------------------------------------
# reliable_change over an instrument
# ---------------------------------------------------------------------------------------------


def test_reliable_change_from_fallback_norms(normed):
    out = by_scale(
        reliable_change(
            normed,
            {"dep": 10, "well": 3, "anx": 2, "unnormed": 1},
            {"dep": 16, "well": 2, "anx": 4, "unnormed": 3},
        )
    )
    assert list(out) == ["dep", "well", "anx", "unnormed"]
    dep = out["dep"]
    # fallback: SD 5, r .8 -> S_diff = √2 · 5 · √0.2 = √10; RCI = 6 / √10 = 1.897 < 1.96
    assert (dep.before, dep.after, dep.difference) == (10, 16, 6)
    assert dep.s_diff == pytest.approx(math.sqrt(10), rel=1e-14)
    assert dep.rci == pytest.approx(6 / math.sqrt(10), rel=1e-14)
    assert dep.classification is Change.no_change
    assert dep.source == "SD and reliability from norms (all, n=200)"
    well = out["well"]
    # SD 0.5, r .75: S_diff = √2 · 0.5 · 0.5 = √2/4 = 0.35355; RCI = -1 / (√2/4) = -2√2 = -2.828
    # a fall on a higher-is-better scale: deterioration
    assert well.s_diff == pytest.approx(math.sqrt(2) / 4, rel=1e-14)
    assert well.rci == pytest.approx(-2 * math.sqrt(2), rel=1e-14)
    assert well.classification is Change.deterioration
    assert well.source == "SD and reliability from norms (all, n=200)"


def test_reliable_change_uses_the_groups_norm(normed):
    before, after = {"dep": 16, "well": 2}, {"dep": 10, "well": 3}
    out = by_scale(reliable_change(normed, before, after, group={"sex": "F"}))
    dep = out["dep"]
    # sex=F: SD 4, r .84 -> S_diff = √2 · 4 · 0.4 = 1.6√2; RCI = -6 / (1.6√2) = -2.652
    # a fall on a lower-is-better scale: improvement
    assert dep.s_diff == pytest.approx(1.6 * math.sqrt(2), rel=1e-14)
    assert dep.rci == pytest.approx(-6 / (1.6 * math.sqrt(2)), rel=1e-14)
    assert dep.classification is Change.improvement
    assert dep.source == "SD and reliability from norms (sex=F, n=100)"
    # well has no sex=F entry: fallback; +1 on a higher-is-better scale: 2√2 -> improvement
    assert out["well"].classification is Change.improvement
    assert out["well"].source == "SD and reliability from norms (all, n=200)"
    # sex=M: SD 5, r .9 -> S_diff = √2 · 5 · √0.1 = 5√0.2 = √5 = 2.236; RCI = -6/√5 = -2.683
    dep_m = by_scale(reliable_change(normed, before, after, group={"sex": "M"}))["dep"]
    assert dep_m.s_diff == pytest.approx(math.sqrt(5), rel=1e-14)
    assert dep_m.rci == pytest.approx(-6 / math.sqrt(5), rel=1e-14)
    assert dep_m.source == "SD and reliability from norms (sex=M, n=80)"
    # a group with no entry falls back
    dep_x = by_scale(reliable_change(normed, before, after, group={"sex": "X"}))["dep"]
    assert dep_x.source == "SD and reliability from norms (all, n=200)"


def test_reliable_change_given_by_the_caller(normed):
    # caller: SD 2, r .875 for unnormed -> S_diff = √2 · 2 · √0.125 = 2 · √0.25 = 1; RCI = -2.5
    out = by_scale(
        reliable_change(
            normed,
            {"unnormed": 4.5, "dep": 10},
            {"unnormed": 2.0, "dep": 11},
            sd={"unnormed": 2.0, "dep": 1.0},
            reliability={"unnormed": 0.875, "dep": 0.5},
        )
    )
    un = out["unnormed"]
    assert un.s_diff == pytest.approx(1.0, rel=1e-14)
    assert un.rci == pytest.approx(-2.5, rel=1e-14)
    assert un.classification is Change.improvement
    assert un.source == "SD and reliability from the caller"
    # the caller's values win over the norms: dep S_diff = √2 · 1 · √0.5 = 1, RCI = 1
    dep = out["dep"]
    assert dep.rci == pytest.approx(1.0, rel=1e-14)
    assert dep.classification is Change.no_change
    assert dep.source == "SD and reliability from the caller"


def test_missing_sd_or_reliability_gives_nan_and_no_classification(normed):
    # anx: norm for sex=F has an SD but no reliability; unnormed has nothing
    out = by_scale(
        reliable_change(normed, {"anx": 1, "unnormed": 1}, {"anx": 5, "unnormed": 5}, group={})
    )
    for scale_id in ("anx", "unnormed"):
        rc = out[scale_id]
        assert rc.difference == 4
        assert math.isnan(rc.s_diff)
        assert math.isnan(rc.rci)
        assert rc.classification is None
        assert "no SD and reliability" in rc.source
        assert rc.as_dict()["classification"] is None
    # only one of the two given by the caller, nothing in the norms: still no number
    only_sd = by_scale(
        reliable_change(normed, {"unnormed": 1}, {"unnormed": 5}, sd={"unnormed": 1.0})
    )
    assert math.isnan(only_sd["unnormed"].rci)
    assert only_sd["unnormed"].classification is None


def test_scales_missing_from_either_administration_are_skipped(normed):
    out = by_scale(
        reliable_change(normed, {"dep": 10, "well": float("nan")}, {"dep": 12, "well": 3, "anx": 2})
    )
    assert list(out) == ["dep"]


def test_as_dict(normed):
    rc = reliable_change(normed, {"dep": 10}, {"dep": 20})[0]
    # fallback: RCI = 10 / √10 = √10 = 3.162 -> reliable rise on lower-is-better: deterioration
    assert rc.as_dict() == {
        "scale": "dep",
        "before": 10,
        "after": 20,
        "difference": 10,
        "s_diff": pytest.approx(math.sqrt(10), rel=1e-14),
        "rci": pytest.approx(math.sqrt(10), rel=1e-14),
        "classification": "reliable deterioration",
        "source": "SD and reliability from norms (all, n=200)",
    }


def test_source_says_where_sd_came_from_when_mixed(normed):
    # caller SD 3 with the fallback's r .8: S_diff = √2 · 3 · √0.2 = 3√0.4 = 1.897; RCI = 3.162
    dep = by_scale(reliable_change(normed, {"dep": 10}, {"dep": 16}, sd={"dep": 3.0}))["dep"]
    assert dep.s_diff == pytest.approx(3 * math.sqrt(0.4), rel=1e-14)
    assert "caller" in dep.source


def test_sd_from_norms_reliability_from_caller(normed):
    # anx, sex=F: SD 1 from the norms, r .5 from the caller: S_diff = √2 · 1 · √0.5 = 1
    # 2 -> 4: RCI = 2 -> reliable rise on a lower-is-better scale: deterioration
    anx = by_scale(
        reliable_change(
            normed, {"anx": 2}, {"anx": 4}, reliability={"anx": 0.5}, group={"sex": "F"}
        )
    )["anx"]
    assert anx.rci == pytest.approx(2.0, rel=1e-14)
    assert anx.classification is Change.deterioration


# ---------------------------------------------------------------------------------------------
# norm look-up
# ---------------------------------------------------------------------------------------------


def test_entry_for_exact_match_fallback_none(normed):
    assert entry_for(normed, "dep", {"sex": "F"}).mean == 10  # type: ignore[union-attr]
    assert entry_for(normed, "dep", {"sex": "M"}).mean == 12  # type: ignore[union-attr]
    assert entry_for(normed, "dep", {"sex": "X"}).mean == 11  # type: ignore[union-attr]
    assert entry_for(normed, "dep", {}).mean == 11  # type: ignore[union-attr]
    assert entry_for(normed, "anx", {"sex": "F"}).sd == 1  # type: ignore[union-attr]
    assert entry_for(normed, "anx", {"sex": "M"}) is None
    assert entry_for(normed, "anx", {}) is None
    assert entry_for(normed, "unnormed", {"sex": "F"}) is None
    # case matters: an exact match on the group value
    assert entry_for(normed, "dep", {"sex": "f"}).mean == 11  # type: ignore[union-attr]


def test_norm_columns_direct(normed):
    scores = np.array([8.0, 15.0, 30.0, np.nan, 11.0])
    groups = pd.DataFrame({"sex": ["F", "F", "F", "F", "M"]})
    cols = norm_columns(normed, "dep", scores, groups)
    # F: T = 50 + 10 (x - 10) / 4 -> 8: 45, 15: 62.5, 30: 100; M: 50 + 10 (11 - 12) / 5 = 48
    np.testing.assert_array_equal(cols["t"], [45.0, 62.5, 100.0, np.nan, 48.0])
    # table (6,5) (8,20) (12,60) (18,95): 8 -> 20; 15 -> 60 + 3/6 * 35 = 77.5; 30 -> held at 95
    # M: normal model Φ(-0.2) * 100 = 42.07402905608969
    pct = np.asarray(cols["percentile"], dtype=float)
    np.testing.assert_allclose(pct[:3], [20.0, 77.5, 95.0], rtol=1e-14)
    assert math.isnan(pct[3])
    assert pct[4] == pytest.approx(42.07402905608969, rel=1e-12)
    assert list(cols["percentile_source"]) == ["table", "table", "table", None, "normal"]
