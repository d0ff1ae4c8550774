"""The shape every statistics result shares: short repr, summary(), n_obs, problems; the exports."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest

import analysis
import analysis.stats
from analysis.errors import AnalysisError
from analysis.stats import Result

if TYPE_CHECKING:
    import surveytool
    from tests.analysis.stats.conftest import Dataset

SCALES = ["calm", "drive", "ease"]


@pytest.fixture(scope="module")
def results(golden_sim: Dataset, sim_scored: surveytool.ScoreResult) -> dict[str, Result]:
    inst, table, kw = golden_sim
    responses = sim_scored.responses
    keyed = analysis.keyed_items(inst, responses)
    return {
        "reliability": analysis.reliability(inst, responses),
        "omega": analysis.omega(inst, responses),
        "items": analysis.item_statistics(inst, responses),
        "careless": analysis.careless_responding(inst, responses),
        "efa": analysis.efa(keyed, 3),
        "parallel": analysis.parallel_analysis(keyed, n_iter=3),
        "kmo": analysis.kmo(keyed),
        "bartlett": analysis.bartlett_sphericity(keyed),
        "cfa": analysis.cfa(inst, responses),
        "correlations": analysis.score_correlations(sim_scored.scores, SCALES),
        "groups": analysis.compare_groups(sim_scored.scores, "sex", SCALES),
        "norms": analysis.build_norms(inst, table, sample="simulated cohort", **kw),
    }


def test_results_are_frozen_with_a_short_repr_and_a_summary(results: dict[str, Result]) -> None:
    for name, result in results.items():
        assert isinstance(result, Result), name
        text = repr(result)
        assert len(text) < 400, (name, len(text), text)
        assert text.startswith(type(result).__name__ + "("), name
        assert "problems='no problems'" in text, name
        assert isinstance(result.summary(), pd.DataFrame), name
        assert len(result.summary()) > 0, name
        field = dataclasses.fields(result)[0].name
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(result, field, None)


def test_sample_sizes_are_n_obs(results: dict[str, Result]) -> None:
    n = 900
    for name in ("reliability", "omega", "items", "careless", "efa", "parallel", "kmo", "bartlett"):
        sized: Any = results[name]
        assert sized.n_obs == n, name
    cfa = results["cfa"]
    assert isinstance(cfa, analysis.CFAResult)
    assert cfa.n_obs == cfa.fit["n_obs"]
    bartlett = results["bartlett"]
    assert isinstance(bartlett, analysis.Bartlett)
    row = bartlett.summary().iloc[0]
    assert (row["statistic"], row["df"], row["pvalue"]) == (
        bartlett.statistic,
        bartlett.df,
        bartlett.pvalue,
    )


def test_random_state_takes_a_seed_or_a_generator(bfi_keyed: pd.DataFrame) -> None:
    by_seed = analysis.parallel_analysis(bfi_keyed, n_iter=3, random_state=5)
    by_generator = analysis.parallel_analysis(
        bfi_keyed, n_iter=3, random_state=np.random.default_rng(5)
    )
    pd.testing.assert_frame_equal(by_seed.eigenvalues, by_generator.eigenvalues)
    assert by_seed.random_state == 5 and by_generator.random_state is None
    with pytest.raises(AnalysisError, match="random_state must be an int, a numpy Generator"):
        analysis.parallel_analysis(bfi_keyed, random_state="5")  # type: ignore[call-overload]


def test_options_name_their_parameter(bfi_keyed: pd.DataFrame) -> None:
    with pytest.raises(AnalysisError, match="unknown method 'ml': the parameter method takes"):
        analysis.efa(bfi_keyed, 2, method="ml")  # type: ignore[call-overload]
    with pytest.raises(AnalysisError, match="unknown use 'everything'"):
        analysis.correlation_matrix(bfi_keyed, use="everything")  # type: ignore[arg-type]


def test_read_options_are_checked(golden_sim: Dataset) -> None:
    inst, table, _ = golden_sim
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) 'id'"):
        analysis.reliability(inst, table, id="id")  # type: ignore[call-arg]


def test_analysis_exports_user_level_names_not_kernels() -> None:
    for kernel in (
        "ItemSums",
        "fit_indices",
        "hedges_g",
        "alpha_from_covariance",
        "omega_from_correlation",
        "efa_from_correlation",
        "disattenuate",
    ):
        assert kernel not in analysis.__all__, kernel
        assert kernel in analysis.stats.__all__, kernel
    for public in ("reliability", "item_statistics", "efa", "cfa", "Reliability", "Problems"):
        assert public in analysis.__all__, public
    assert all(hasattr(analysis, name) for name in analysis.__all__)
