"""The graded response model: recovery of known parameters, the marginal likelihood and EAP
scores against brute-force integration, the probit model against the ordinal CFA, information
and scoring from published parameters.

No R reference here (R's mirt is GPL and not in Debian): the checks are an independent
computation in the test (scipy.integrate.quad over θ for every response pattern), parameter
recovery on data simulated from known parameters, and the identity between a probit graded
model and the one-factor ordinal CFA (a = λ/√(1 − λ²), d_k = −τ_k/√(1 − λ²)).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

import analysis
from analysis.errors import AnalysisError
from analysis.stats.irt import (
    _Answers,
    _category_probabilities,
    _codes,
    _marginal,
    _quadrature,
    grm_model,
    score_with_parameters,
)
from analysis.stats.ordinal_cfa import ordinal_cfa_model
from tests.frames import num

SLOPES = np.array([1.2, 1.8, 0.9, 1.5, 2.0, 1.1])
INTERCEPTS = [np.array([2.0, 0.5, -0.8, -2.2]) * s for s in (1.0, 1.1, 0.9, 1.2, 1.0, 0.8)]
ITEMS = [f"I{j + 1}" for j in range(6)]


def simulate(n: int, seed: int, link: str = "logistic", missing: float = 0.05) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=n)
    out = {}
    for j, name in enumerate(ITEMS):
        prob = _category_probabilities(SLOPES[j], INTERCEPTS[j], theta, link)
        cum = np.cumsum(prob, axis=1)
        u = rng.random(n)
        out[name] = (u[:, None] > cum[:, :-1]).sum(axis=1).astype(float) + 1.0
    frame = pd.DataFrame(out)
    return frame.mask(rng.random(frame.shape) < missing)


@pytest.fixture(scope="module")
def fitted() -> tuple[pd.DataFrame, analysis.GRMResult]:
    data = simulate(3000, seed=11)
    return data, grm_model(data)


def test_known_parameters_are_recovered(fitted: tuple[pd.DataFrame, analysis.GRMResult]) -> None:
    _, result = fitted
    assert result.converged
    items = result.items
    for j, name in enumerate(ITEMS):
        assert abs(num(items, name, "a") - SLOPES[j]) < 4 * num(items, name, "a_se")
        for k in range(4):
            est, se = num(items, name, f"d{k + 1}"), num(items, name, f"d{k + 1}_se")
            assert abs(est - INTERCEPTS[j][k]) < 4 * se, (name, k)
    assert (items[["a_se", "d1_se", "d4_se"]] > 0).all().all()
    # slope-threshold form: b = -d / a
    b = result.thresholds
    assert num(b, "I2", "b1") == pytest.approx(-num(items, "I2", "d1") / num(items, "I2", "a"))


def brute_force_moments(result: analysis.GRMResult, rows: np.ndarray) -> np.ndarray:
    """For each respondent, ∫ θᵖ φ(θ) Π_j P_j,x_j(θ) dθ for p = 0, 1, 2, by a 2000-point
    Gauss–Legendre rule on [−10, 10] (an independent rule: the model uses 61 equally spaced
    points on [−6, 6]); missing answers skipped."""
    x, w = np.polynomial.legendre.leggauss(2000)
    theta, w = 10.0 * x, 10.0 * w
    lik = np.tile(norm.pdf(theta), (rows.shape[0], 1))
    for j, name in enumerate(ITEMS):
        a = num(result.items, name, "a")
        d = result.items.loc[name, ["d1", "d2", "d3", "d4"]].to_numpy(dtype=float)
        prob = _category_probabilities(a, d, theta, "logistic")  # nodes x categories
        seen = ~np.isnan(rows[:, j])
        lik[seen] *= prob[:, rows[seen, j].astype(int) - 1].T
    return np.stack([lik @ (w * theta**power) for power in (0, 1, 2)], axis=1)


def test_marginal_likelihood_and_eap_against_brute_force(
    fitted: tuple[pd.DataFrame, analysis.GRMResult],
) -> None:
    data, result = fitted
    rows = data.to_numpy(dtype=float)
    moments = brute_force_moments(result, rows)
    params = [
        (
            num(result.items, n, "a"),
            result.items.loc[n, ["d1", "d2", "d3", "d4"]].to_numpy(dtype=float),
        )
        for n in ITEMS
    ]
    codes = _codes(rows, result.categories)
    nodes, weights = _quadrature(result.n_quadrature)
    ours, _ = _marginal(params, _Answers.of(codes, [5] * 6), nodes, weights, "logistic")
    answered = ~np.isnan(rows).all(axis=1)
    assert ours == pytest.approx(float(np.sum(np.log(moments[answered, 0]))), rel=1e-9)
    assert result.loglik == pytest.approx(ours, rel=1e-12)

    scores = result.scores(data)
    mean = moments[:, 1] / moments[:, 0]
    sd = np.sqrt(moments[:, 2] / moments[:, 0] - mean**2)
    assert np.abs(scores["theta"].to_numpy() - mean).max() < 1e-5
    assert np.abs(scores["se"].to_numpy() - sd).max() < 1e-5
    assert np.allclose(scores["t"].to_numpy(), 50 + 10 * scores["theta"].to_numpy())


def test_map_scores_and_information(fitted: tuple[pd.DataFrame, analysis.GRMResult]) -> None:
    data, result = fitted
    eap = result.scores(data.iloc[:50])
    map_ = result.scores(data.iloc[:50], method="MAP")
    assert np.corrcoef(eap["theta"], map_["theta"])[0, 1] > 0.99
    # information = sum_k (dP_k/dθ)² / P_k, checked by differences of the category probabilities
    grid = np.array([-2.0, 0.0, 1.5])
    info = result.information(grid)
    a = num(result.items, "I3", "a")
    d = result.items.loc["I3", ["d1", "d2", "d3", "d4"]].to_numpy(dtype=float)
    h = 1e-6
    dp = (
        _category_probabilities(a, d, grid + h, "logistic")
        - _category_probabilities(a, d, grid - h, "logistic")
    ) / (2 * h)
    expected = np.sum(dp**2 / _category_probabilities(a, d, grid, "logistic"), axis=1)
    assert np.allclose(info["I3"].to_numpy(), expected, rtol=1e-6)
    assert np.allclose(info["test"].to_numpy(), info[ITEMS].sum(axis=1).to_numpy())


def test_probit_graded_model_agrees_with_the_ordinal_cfa() -> None:
    data = simulate(6000, seed=5, link="probit", missing=0.0)
    grm = grm_model(data, link="probit")
    cfa = ordinal_cfa_model(data, {"f": ITEMS})
    for name in ITEMS:
        lam = num(cfa.loadings, name, "std_all")
        a = lam / np.sqrt(1 - lam * lam)
        assert num(grm.items, name, "a") == pytest.approx(a, rel=0.08)
        tau = cfa.thresholds[cfa.thresholds["item"] == name]["estimate"].to_numpy()
        d = grm.items.loc[name, ["d1", "d2", "d3", "d4"]].to_numpy(dtype=float)
        assert np.allclose(d, -tau / np.sqrt(1 - lam * lam), atol=0.08)


def test_scoring_with_published_parameters_in_the_promis_layout(
    fitted: tuple[pd.DataFrame, analysis.GRMResult],
) -> None:
    data, result = fitted
    table = result.thresholds.rename(columns={f"b{k}": f"cb{k}" for k in range(1, 5)})
    table = table[["a", "cb1", "cb2", "cb3", "cb4"]]
    ours = score_with_parameters(table, data.iloc[:20])
    model = result.scores(data.iloc[:20])
    assert np.allclose(ours["theta"], model["theta"], atol=1e-9)
    assert (ours["n_answered"] == data.iloc[:20].notna().sum(axis=1)).all()
    bad = table.copy()
    bad.loc["I1", "cb2"] = -5.0
    with pytest.raises(AnalysisError, match="increase"):
        score_with_parameters(bad, data.iloc[:5])
    with pytest.raises(AnalysisError, match="no answers column"):
        score_with_parameters(table, data.iloc[:5].drop(columns="I4"))
    with pytest.raises(AnalysisError, match="not calibrated"):
        result.scores(pd.DataFrame({name: [9.0] for name in ITEMS}))
