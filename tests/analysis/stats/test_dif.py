"""DIF by ordinal logistic regression: planted uniform and non-uniform DIF found, clean items
not flagged, the effect-size classes and the Holm adjustment as stated."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import analysis
from analysis.errors import AnalysisError
from analysis.stats.dif import _size, dif_model
from analysis.stats.irt import _category_probabilities
from surveytool.instrument.registry import load_instrument
from tests.frames import num

ITEMS = [f"I{j + 1}" for j in range(6)]


def simulate(n: int, seed: int) -> tuple[pd.DataFrame, pd.Series, np.ndarray]:
    """Two groups; I3 is 0.9 logits easier in group b (uniform DIF), I5's slope 2.0 in a and 0.6
    in b (non-uniform)."""
    rng = np.random.default_rng(seed)
    group = np.where(np.arange(n) < n // 2, "a", "b")
    theta = rng.normal(size=n)
    d = np.array([1.8, 0.4, -0.6, -1.9])
    out = {}
    for name in ITEMS:
        column = np.empty(n)
        for label in ("a", "b"):
            rows = group == label
            a = 0.6 if (name == "I5" and label == "b") else (2.0 if name == "I5" else 1.4)
            shift = 0.9 if (name == "I3" and label == "b") else 0.0
            prob = _category_probabilities(a, d + shift, theta[rows], "logistic")
            cum = np.cumsum(prob, axis=1)
            u = rng.random(int(rows.sum()))
            column[rows] = (u[:, None] > cum[:, :-1]).sum(axis=1) + 1.0
        out[name] = column
    return pd.DataFrame(out), pd.Series(group), theta


def test_planted_dif_is_found_and_clean_items_are_not() -> None:
    items, group, theta = simulate(4000, seed=3)
    result = dif_model(items, group, pd.Series(theta))
    table = result.items
    assert bool(table.loc["I3", "flagged"]) and bool(table.loc["I5", "flagged"])
    assert not table.loc[["I1", "I2", "I4", "I6"], "flagged"].any()
    # I3: uniform (the group term), I5: non-uniform (the interaction)
    assert num(table, "I3", "p_12") < 1e-6
    assert num(table, "I5", "p_23") < 1e-6
    assert num(table, "I3", "delta_r2_12") > num(table, "I3", "delta_r2_23")
    # χ²₁₃ = χ²₁₂ + χ²₂₃ (nested models)
    for name in ITEMS:
        total = num(table, name, "chisq_12") + num(table, name, "chisq_23")
        assert num(table, name, "chisq_13") == pytest.approx(total, abs=1e-4)
    # Holm: the adjusted p values are at least the raw ones and keep their order
    assert (table["p_13_holm"] >= table["p_13"] - 1e-15).all()
    assert result.groups == ("a", "b")


def test_effect_size_classes() -> None:
    assert _size(0.01, (0.035, 0.070)) == "negligible"
    assert _size(0.05, (0.035, 0.070)) == "moderate"
    assert _size(0.09, (0.035, 0.070)) == "large"
    assert _size(0.2, (0.13, 0.26)) == "moderate"
    assert _size(float("nan"), (0.13, 0.26)) == "not computed"


def test_through_the_instrument_and_refusals() -> None:
    items, group, _ = simulate(1500, seed=8)
    with pytest.raises(AnalysisError, match="two groups"):
        dif_model(items, pd.Series(["a"] * len(items)), items.mean(axis=1))
    with pytest.raises(AnalysisError, match="alpha"):
        dif_model(items, group, items.mean(axis=1), alpha=2.0)
    golden = Path(__file__).resolve().parents[2] / "golden"
    inst = load_instrument(golden / "bfi.yaml")
    table = pd.read_csv(golden / "bfi_items.csv")
    for matching in ("irt", "rest"):
        result = analysis.dif(
            inst,
            table,
            "gender",
            scale="agree",
            matching=matching,
            id_column="id",
            ignore_columns=["age"],
        )
        assert list(result.items.index) == ["A1", "A2", "A3", "A4", "A5"]
        assert result.matching == matching
        assert result.items["n"].min() > 2700
    with pytest.raises(AnalysisError, match="no subscale"):
        analysis.dif(inst, table, "gender", scale="nope", id_column="id", ignore_columns=["age"])
