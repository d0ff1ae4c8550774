"""Properties of the scoring engine, checked with hypothesis on generated instruments and answers.

Weights are drawn from {0.5, 1, 2, 3} and answers are small integers, so every product and sum is
exact in float64 and most properties can be checked for exact equality.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

import surveytool
from surveytool.instrument.model import Instrument, score_ranges

SCALES: dict[str, dict[str, Any]] = {
    "s5": {"min": 1, "max": 5, "labels": {1: "Never", 5: "Always"}, "missing_codes": {9: "Skip"}},
    "s4": {"min": 0, "max": 3, "labels": {0: "None", 3: "All"}},
    "s7": {"min": 1, "max": 7},
}
ITEM_SCALES = ["s5", "s4", "s7", "s5", "s5", "s4", "s7", "s5", "s4"]  # items I0..I8
GROUPS = [["I0", "I1", "I2", "I3"], ["I4", "I5", "I6"], ["I7", "I8"]]
N_ITEMS = len(ITEM_SCALES)
FAST = settings(max_examples=50, deadline=None)

reverse_flags = st.lists(st.booleans(), min_size=N_ITEMS, max_size=N_ITEMS)
weights = st.lists(st.sampled_from([0.5, 1.0, 2.0, 3.0]), min_size=N_ITEMS, max_size=N_ITEMS)
methods = st.lists(st.sampled_from(["mean", "sum", "prorated_sum"]), min_size=3, max_size=3)
min_answered = st.lists(
    st.one_of(st.integers(1, 2), st.sampled_from([0.25, 0.5, 0.75, 1.0])), min_size=3, max_size=3
)
composite_methods = st.lists(st.sampled_from(["mean", "sum"]), min_size=2, max_size=2)
seeds = st.integers(0, 2**32 - 1)


def build(
    reverse: list[bool],
    weight: list[float],
    method: list[str],
    needed: list[int | float],
    comp_method: tuple[str, str] = ("mean", "sum"),
) -> Instrument:
    """Three subscales over mixed scales, a composite and a composite of a composite."""
    data = {
        "id": "prop",
        "version": "1.0.0",
        "title": "Property test instrument",
        "response_scales": SCALES,
        "items": [
            {
                "id": f"I{j}",
                "text": f"Item {j}",
                "scale": ITEM_SCALES[j],
                "reverse": reverse[j],
                "weight": weight[j],
            }
            for j in range(N_ITEMS)
        ],
        "subscales": [
            {
                "id": f"S{s}",
                "label": f"Subscale {s}",
                "items": GROUPS[s],
                "method": method[s],
                "min_answered": needed[s],
            }
            for s in range(3)
        ],
        "composites": [
            {
                "id": "C1",
                "label": "C1",
                "components": ["S0", "S1"],
                "method": comp_method[0],
                "min_answered": 1,
            },
            {"id": "C2", "label": "C2", "components": ["C1", "S2"], "method": comp_method[1]},
        ],
    }
    return Instrument.model_validate(data)


def answers(seed: int, n: int, missing: float) -> pd.DataFrame:
    """Integer answers on each item's scale, a share missing (NaN)."""
    rng = np.random.default_rng(seed)
    cols = {}
    for j, scale_id in enumerate(ITEM_SCALES):
        lo, hi = SCALES[scale_id]["min"], SCALES[scale_id]["max"]
        x = rng.integers(lo, hi + 1, size=n).astype(float)
        x[rng.random(n) < missing] = np.nan
        cols[f"I{j}"] = x
    return pd.DataFrame(cols)


def scores_only(table: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    keep = []
    for scale_id in instrument.scored_ids():
        keep += [scale_id, f"{scale_id}_n", f"{scale_id}_status", f"{scale_id}_band"]
    return table[keep]


@FAST
@given(reverse_flags, weights, methods, min_answered, seeds, st.integers(1, 30))
def test_reversing_twice_is_the_identity(reverse, weight, method, needed, seed, n):
    # score(I, X) == score(I with every reverse flag flipped, min + max - X)
    inst = build(reverse, weight, method, needed)
    flipped = build([not r for r in reverse], weight, method, needed)
    frame = answers(seed, n, missing=0.2)
    mirrored = frame.copy()
    for j, scale_id in enumerate(ITEM_SCALES):
        lo, hi = SCALES[scale_id]["min"], SCALES[scale_id]["max"]
        mirrored[f"I{j}"] = (lo + hi) - frame[f"I{j}"]
    a = scores_only(surveytool.score(inst, frame), inst)
    b = scores_only(surveytool.score(flipped, mirrored), inst)
    pd.testing.assert_frame_equal(a, b, check_exact=True)


@FAST
@given(reverse_flags, weights, methods, min_answered, seeds, st.integers(2, 30), st.randoms())
def test_permuting_respondents_permutes_scores(reverse, weight, method, needed, seed, n, rnd):
    inst = build(reverse, weight, method, needed)
    frame = answers(seed, n, missing=0.15)
    frame.insert(0, "pid", [f"r{i}" for i in range(n)])
    order = list(range(n))
    rnd.shuffle(order)
    a = surveytool.score(inst, frame, id_column="pid")
    b = surveytool.score(inst, frame.iloc[order].reset_index(drop=True), id_column="pid")
    pd.testing.assert_frame_equal(
        a.iloc[order].reset_index(drop=True), b.reset_index(drop=True), check_exact=True
    )


@FAST
@given(reverse_flags, weights, methods, min_answered, seeds, st.integers(1, 20), st.randoms())
def test_permuting_columns_changes_nothing(reverse, weight, method, needed, seed, n, rnd):
    inst = build(reverse, weight, method, needed)
    frame = answers(seed, n, missing=0.15)
    frame.insert(0, "pid", [f"r{i}" for i in range(n)])
    frame["note"] = "x"  # a column that is not an item, reported as unknown either way
    columns = list(frame.columns)
    rnd.shuffle(columns)
    a = surveytool.score_responses(inst, frame, id_column="pid")
    b = surveytool.score_responses(inst, frame[columns], id_column="pid")
    pd.testing.assert_frame_equal(a.scores, b.scores, check_exact=True)
    assert a.issues.to_dict("records") == b.issues.to_dict("records")


@FAST
@given(
    reverse_flags,
    weights,
    methods,
    min_answered,
    composite_methods,
    seeds,
    st.integers(1, 40),
    st.sampled_from([0.0, 0.3, 0.7]),
)
def test_scores_stay_within_the_scale_range(
    reverse, weight, method, needed, comp_method, seed, n, missing
):
    inst = build(reverse, weight, method, needed, tuple(comp_method))
    table = surveytool.score(inst, answers(seed, n, missing))
    for scale_id, (lo, hi) in score_ranges(inst).items():
        values = table[scale_id].dropna().to_numpy()
        assert np.all(values >= lo - 1e-9), (scale_id, lo, values.min())
        assert np.all(values <= hi + 1e-9), (scale_id, hi, values.max())


@FAST
@given(reverse_flags, seeds, st.integers(1, 40))
def test_prorated_sum_equals_sum_when_complete(reverse, seed, n):
    # unit weights: prorated = (Σx / k) · k = Σx when every item is answered
    ones = [1.0] * N_ITEMS
    as_sum = build(reverse, ones, ["sum"] * 3, [1, 1, 1])
    as_prorated = build(reverse, ones, ["prorated_sum"] * 3, [1, 1, 1])
    frame = answers(seed, n, missing=0.0)
    a = surveytool.score(as_sum, frame)
    b = surveytool.score(as_prorated, frame)
    for scale_id in ("S0", "S1", "S2"):
        np.testing.assert_allclose(b[scale_id], a[scale_id], rtol=1e-14, atol=0)
        assert a[scale_id].notna().all()


@FAST
@given(reverse_flags, weights, methods, min_answered, seeds, st.integers(1, 20), st.randoms())
def test_labels_score_like_their_codes(reverse, weight, method, needed, seed, n, rnd):
    # scale points with a label may be given as that label in any case with outer spaces
    inst = build(reverse, weight, method, needed)
    frame = answers(seed, n, missing=0.1)
    texts = frame.astype(object)
    for j, scale_id in enumerate(ITEM_SCALES):
        labels = SCALES[scale_id].get("labels", {})
        col = [
            (
                rnd.choice([str.upper, str.lower, str.title])(labels[int(v)])
                + " " * rnd.randint(0, 2)
                if not np.isnan(v) and int(v) in labels
                else v
            )
            for v in frame[f"I{j}"]
        ]
        texts[f"I{j}"] = pd.Series(col, dtype=object)
    a = surveytool.score(inst, frame)
    b = surveytool.score(inst, texts)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
