"""IRT likelihood-ratio DIF (multi-group graded response models).

No R reference here (R's mirt is GPL and not in Debian's packages): the log-likelihood at the
optimum is recomputed by a brute-force quadrature written in this test, checked to be a maximum,
and compared with the single-group calibration of :func:`analysis.stats.irt.grm_model` where the
two must agree; detection is checked on data with planted uniform and non-uniform DIF.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.errors import AnalysisError
from analysis.stats.irt import grm_model
from analysis.stats.irt_dif import IRTDIFResult, irt_dif_model

ITEMS = [f"i{j + 1}" for j in range(5)]


def simulate(n: int, seed: int, dif: bool) -> pd.DataFrame:
    """Two groups of n; the focal group's latent mean is 0.5; with ``dif``, item i3's thresholds
    are 0.9 higher (uniform DIF) and item i5's slope is 0.6 instead of 1.6 (non-uniform)."""
    rng = np.random.default_rng(seed)
    a = np.array([1.5, 1.2, 1.8, 1.1, 1.6])
    b = np.array([-1.2, 0.0, 1.2])[None, :] + rng.normal(0, 0.2, (5, 1))
    frames = []
    for mean, label in ((0.0, "ref"), (0.5, "focal")):
        theta = rng.normal(mean, 1.0, n)
        slopes = np.tile(a, (n, 1))
        cuts = np.tile(b, (n, 1, 1))
        if dif and label == "focal":
            cuts[:, 2, :] += 0.9
            slopes[:, 4] = 0.6
        p = 1 / (1 + np.exp(-slopes[:, :, None] * (theta[:, None, None] - cuts)))
        x = 1 + (rng.random((n, 5, 1)) < p).sum(axis=2)
        frame = pd.DataFrame(x.astype(float), columns=ITEMS)
        frame["group"] = label
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


Params = dict[tuple[str, str], np.ndarray]  # (group, item) -> [a, d1, d2, ...]


def parameters_of(result: IRTDIFResult) -> Params:
    frame = result.parameters.reset_index()
    d_columns = [str(c) for c in frame.columns if str(c).startswith("d")]
    out: Params = {}
    for record in frame.to_dict(orient="records"):
        values = [float(str(record["a"]))] + [float(str(record[c])) for c in d_columns]
        out[(str(record["group"]), str(record["item"]))] = np.array(values)
    return out


def brute_force_loglik(
    data: pd.DataFrame, params: Params, means: dict[str, float], sds: dict[str, float]
) -> float:
    """Σ_groups Σ_persons log Σ_q w_q Π_j P(x_ij | θ_q), every piece written out here."""
    nodes = np.linspace(-6.0, 6.0, 61)
    total = 0.0
    for label in means:
        block = data[data["group"] == label]
        weights = np.exp(-0.5 * ((nodes - means[label]) / sds[label]) ** 2)
        weights = weights / weights.sum()
        like = np.ones((len(block), len(nodes)))
        for item in ITEMS:
            values = params[(label, item)]
            a, d = values[0], values[1:][~np.isnan(values[1:])]
            star = 1 / (1 + np.exp(-(a * nodes[:, None] + d[None, :])))
            star = np.hstack([np.ones((len(nodes), 1)), star, np.zeros((len(nodes), 1))])
            probs = star[:, :-1] - star[:, 1:]  # nodes x categories
            codes = block[item].to_numpy(dtype=np.int64) - 1
            like *= probs[:, codes].T
        total += float(np.sum(np.log(like @ weights)))
    return total


@pytest.fixture(scope="module")
def planted() -> tuple[pd.DataFrame, IRTDIFResult]:
    data = simulate(700, seed=11, dif=True)
    return data, irt_dif_model(data[ITEMS], data["group"])


def test_planted_dif_is_found_after_purification(
    planted: tuple[pd.DataFrame, IRTDIFResult],
) -> None:
    _, result = planted
    flagged = set(result.items.index[result.items["flagged"].to_numpy()])
    assert flagged == {"i3", "i5"}
    assert result.rounds >= 2
    assert set(result.anchors) == {"i1", "i2", "i4"}
    p_slope, p_intercepts = result.items["p_slope"], result.items["p_intercepts"]
    assert float(p_slope["i5"]) < 1e-4  # non-uniform
    assert float(p_slope["i3"]) > 0.01  # uniform only
    assert float(p_intercepts["i3"]) < 1e-10
    # on the clean anchors the focal group's latent mean is about 0.5 (simulated)
    assert result.means["focal"] == pytest.approx(0.5, abs=0.15)
    assert result.sds["focal"] == pytest.approx(1.0, abs=0.15)
    df = result.items["df"]
    assert (df == result.items["df_slope"] + result.items["df_intercepts"]).all()
    assert (df == 4).all()


def test_loglik_is_the_brute_force_maximum(planted: tuple[pd.DataFrame, IRTDIFResult]) -> None:
    data, result = planted
    params = parameters_of(result)
    best = brute_force_loglik(data, params, result.means, result.sds)
    assert best == pytest.approx(result.loglik, abs=1e-6)
    # a maximum: moving any one parameter of the model lowers the log-likelihood (an anchor's
    # parameter is one for both groups; a studied item's is each group's own)
    for labels, item, position in (
        (("ref", "focal"), "i1", 0),
        (("focal",), "i3", 2),
        (("ref",), "i5", 0),
        (("ref", "focal"), "i4", 1),
    ):
        for step in (-0.01, 0.01):
            moved = {key: value.copy() for key, value in params.items()}
            for label in labels:
                moved[(label, item)][position] += step
            assert brute_force_loglik(data, moved, result.means, result.sds) < best
    for step in (-0.01, 0.01):
        means = {**result.means, "focal": result.means["focal"] + step}
        assert brute_force_loglik(data, params, means, result.sds) < best


def test_identical_groups_show_no_dif_and_match_one_group_calibration() -> None:
    one = simulate(400, seed=3, dif=False)
    one = one[one["group"] == "ref"]
    twice = pd.concat([one.assign(group="a"), one.assign(group="b")], ignore_index=True)
    result = irt_dif_model(twice[ITEMS], twice["group"])
    assert result.items["g2"].max() < 1e-4
    assert not result.items["flagged"].any()
    assert result.means["b"] == pytest.approx(0.0, abs=1e-4)
    assert result.sds["b"] == pytest.approx(1.0, abs=1e-4)
    # every item equal across two copies: the single-group GRM, twice
    single = grm_model(one[ITEMS])
    assert result.loglik == pytest.approx(2 * single.loglik, abs=1e-4)
    params = parameters_of(result)
    slopes = single.items["a"]
    for item in ITEMS:
        assert params[("a", item)][0] == pytest.approx(float(slopes[item]), abs=1e-3)


def test_bad_input_is_refused() -> None:
    data = simulate(150, seed=5, dif=False)
    with pytest.raises(AnalysisError, match="at least two groups"):
        irt_dif_model(data[ITEMS], ["x"] * len(data))
    with pytest.raises(AnalysisError, match="at least three items"):
        irt_dif_model(data[ITEMS[:2]], data["group"])
    with pytest.raises(AnalysisError, match="no item i9"):
        irt_dif_model(data[ITEMS], data["group"], anchors=["i9"])
    with pytest.raises(AnalysisError, match="no item q1 among the items"):
        irt_dif_model(data[ITEMS], data["group"], studied=["q1"])
    sparse = data.copy()
    sparse.loc[(sparse["group"] == "focal") & (sparse["i2"] == 4), "i2"] = 3
    with pytest.raises(AnalysisError, match=r"item i2: group 'focal' uses 3 of its 4 answers"):
        irt_dif_model(sparse[ITEMS], sparse["group"])


def test_irt_dif_of_an_instrument_scale() -> None:
    from pathlib import Path

    import analysis
    from surveytool.instrument.registry import load_instrument

    golden = Path(__file__).resolve().parents[2] / "golden"
    inst = load_instrument(golden / "bfi.yaml")
    table = pd.read_csv(golden / "bfi_items.csv").head(1200)
    result = analysis.irt_dif(
        inst, table, "gender", scale="agree", id_column="id", ignore_columns=["age"]
    )
    assert set(result.groups) == {"1", "2"}
    assert list(result.items.index) == ["A1", "A2", "A3", "A4", "A5"]
    assert result.n_obs <= 1200
    assert result.problems.count == 0
