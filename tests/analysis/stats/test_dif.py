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


def test_the_proportional_odds_fit_matches_statsmodels() -> None:
    import warnings

    from statsmodels.miscmodels.ordinal_model import OrderedModel  # type: ignore[import-untyped]

    from analysis.stats.dif import _ordered_llf

    rng = np.random.default_rng(4)
    n = 3000
    theta = rng.normal(size=n)
    group = (rng.random(n) < 0.4).astype(float)
    y = np.digitize(theta + 0.5 * group + rng.logistic(size=n) * 0.7, [-1.5, -0.3, 0.6, 1.8])
    for exog in (theta[:, None], np.column_stack([theta, group, theta * group])):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = OrderedModel(y, exog, distr="logit").fit(
                method="bfgs", disp=False, maxiter=5000, gtol=1e-10
            )
        assert _ordered_llf(y, exog) == pytest.approx(float(theirs.llf), abs=1e-6)


def test_holm_matches_statsmodels() -> None:
    from statsmodels.stats.multitest import multipletests  # type: ignore[import-untyped]

    from analysis.stats.dif import _holm

    rng = np.random.default_rng(2)
    p = rng.random(40) ** 3
    p[[3, 17]] = np.nan
    ok = ~np.isnan(p)
    expected = multipletests(p[ok], method="holm")[1]
    assert np.allclose(_holm(p)[ok], expected, rtol=0, atol=1e-15)
    assert np.isnan(_holm(p)[[3, 17]]).all()


def test_repeated_rows_weighted_once_give_the_same_likelihood() -> None:
    """The models are fitted on distinct (answer, matching, group) rows with their counts: the
    likelihood of the rows themselves."""
    from analysis.stats.dif import _ordered_llf

    rng = np.random.default_rng(4)
    y = rng.integers(0, 4, 600)
    exog = np.column_stack([rng.integers(0, 5, 600) / 4.0, rng.integers(0, 2, 600)])
    distinct, first, weight = np.unique(
        np.column_stack([y, exog]), axis=0, return_index=True, return_counts=True
    )
    assert len(distinct) < 60
    once = _ordered_llf(y[first], exog[first], weight)
    assert once == pytest.approx(_ordered_llf(y, exog), rel=1e-12)


def test_rest_matching_is_each_items_mean_of_the_other_answered_items() -> None:
    """matching="rest" equals dif_model with the rest score computed column by column (the
    mean of the scale's other answered items), item for item."""
    from analysis.stats.dif import scale_items

    golden = Path(__file__).resolve().parents[2] / "golden"
    inst = load_instrument(golden / "bfi.yaml")
    table = pd.read_csv(golden / "bfi_items.csv")
    got = analysis.dif(
        inst,
        table,
        "gender",
        scale="agree",
        matching="rest",
        id_column="id",
        ignore_columns=["age"],
    ).items
    frame, group, _ = scale_items(
        inst, table, "gender", "agree", id_column="id", ignore_columns=["age"]
    )
    for name in frame.columns:
        rest = frame.drop(columns=name).mean(axis=1)
        one = dif_model(frame[[name]], group, rest).items
        for column in ("n", "chisq_12", "chisq_13", "chisq_23", "r2_1", "r2_2", "r2_3"):
            assert num(got, name, column) == pytest.approx(num(one, name, column), rel=1e-9)
