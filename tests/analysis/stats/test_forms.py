"""The (instrument, responses) form of the statistics of an items or a scores table.

Validate once with ``read_responses``, then any statistic: each result equals the one computed
on the table the form makes (``keyed_items`` or ``score_validated(...).scores``), and what
validation found is in the result's ``problems``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

import analysis
import surveytool
from analysis.errors import AnalysisError, ResponseProblemsWarning
from surveytool.responses import read_responses

if TYPE_CHECKING:
    from tests.analysis.stats.conftest import Dataset

SCALES = ["calm", "drive", "ease"]


def test_score_validated_equals_score_responses(golden_sim: Dataset) -> None:
    inst, table, kw = golden_sim
    whole = surveytool.score_responses(inst, table, **kw)
    again = surveytool.score_validated(inst, read_responses(inst, table, **kw))
    pd.testing.assert_frame_equal(again.scores, whole.scores)
    assert again.provenance == whole.provenance
    assert (again.rows_read, again.rows_scored) == (whole.rows_read, whole.rows_scored)


def test_score_validated_on_a_short_form_records_the_form() -> None:
    inst = surveytool.load_instrument("ppai")
    form = inst.short_forms[0].id
    table = surveytool.simulate(inst, surveytool.SimulationSpec(n=40, seed=3))
    whole = surveytool.score_responses(inst, table, form=form)
    again = surveytool.score_validated(inst, read_responses(inst, table), form=form)
    pd.testing.assert_frame_equal(again.scores, whole.scores)
    assert again.provenance.form == form == whole.provenance.form


def test_score_validated_names_the_items_it_lacks(golden_sim: Dataset) -> None:
    inst, table, kw = golden_sim
    some = read_responses(inst, table, item_ids=["C1", "C2"], **kw)
    with pytest.raises(surveytool.SurveytoolError, match="lack the items C3, C4"):
        surveytool.score_validated(inst, some)


def test_items_statistics_take_the_instrument_and_the_responses(golden_sim: Dataset) -> None:
    inst, table, kw = golden_sim
    responses = read_responses(inst, table, **kw)
    keyed = analysis.keyed_items(inst, responses)
    np.testing.assert_array_equal(
        analysis.efa(inst, responses, 3).loadings.to_numpy(),
        analysis.efa(keyed, 3).loadings.to_numpy(),
    )
    pa = analysis.parallel_analysis(inst, responses, n_iter=3, random_state=7)
    pd.testing.assert_frame_equal(
        pa.summary(), analysis.parallel_analysis(keyed, n_iter=3, random_state=7).summary()
    )
    assert analysis.kmo(inst, responses).overall == analysis.kmo(keyed).overall
    bart = analysis.bartlett_sphericity(inst, responses)
    assert (bart.statistic, bart.df) == (
        analysis.bartlett_sphericity(keyed).statistic,
        analysis.bartlett_sphericity(keyed).df,
    )


def test_score_statistics_take_the_instrument_and_the_responses(golden_sim: Dataset) -> None:
    inst, table, kw = golden_sim
    responses = read_responses(inst, table, **kw)
    scores = surveytool.score_responses(inst, table, **kw).scores
    pd.testing.assert_frame_equal(
        analysis.compare_groups(inst, responses, "sex", SCALES).summary(),
        analysis.compare_groups(scores, "sex", SCALES).summary(),
    )
    # without scales: every scored scale of the instrument
    pd.testing.assert_frame_equal(
        analysis.score_correlations(inst, responses).summary(),
        analysis.score_correlations(scores, inst).summary(),
    )


def test_compare_waves_reads_person_and_wave_from_the_group_columns(
    golden_sim: Dataset,
) -> None:
    inst, table, _ = golden_sim
    first, second = table.iloc[:300].copy(), table.iloc[300:600].copy()
    first["person"] = second["person"] = [f"p{i}" for i in range(300)]
    first["wave"], second["wave"] = "1", "2"
    waves = pd.concat([first, second], ignore_index=True).drop(columns=["id"])
    responses = read_responses(inst, waves, group_columns=["person", "wave"])
    scores = surveytool.score_responses(inst, waves, group_columns=["person", "wave"]).scores
    pd.testing.assert_frame_equal(
        analysis.compare_waves(inst, responses, "person", "wave").summary(),
        analysis.compare_waves(scores, "person", "wave", inst).summary(),
    )


def test_a_raw_table_in_the_instrument_form_keeps_its_problems(golden_sim: Dataset) -> None:
    inst, table, _ = golden_sim
    bad = table.drop(columns=["id", "site", "sex"])
    bad.loc[:19, "C1"] = 99
    with pytest.warns(ResponseProblemsWarning, match=r"^efa: .*20 off_scale"):
        result = analysis.efa(inst, bad, 3)
    assert result.problems.count == 20
    assert result.problems.codes == {"off_scale": 20}
    with pytest.warns(ResponseProblemsWarning, match=r"^score_correlations: .*20 off_scale"):
        corr = analysis.score_correlations(inst, bad)
    assert corr.problems.codes == {"off_scale": 20}


def test_validated_responses_carry_their_problems_without_a_warning(
    sim: Dataset, recwarn: pytest.WarningsRecorder
) -> None:
    inst, table, kw = sim
    table["D2"] = table["D2"].astype(object)
    table.loc[:4, "D2"] = "often"  # not a number and not a label
    responses = read_responses(inst, table, **kw)
    result = analysis.compare_groups(inst, responses, "site", SCALES)
    assert result.problems.codes == {"not_an_answer": 5}
    assert not [w for w in recwarn if issubclass(w.category, ResponseProblemsWarning)]


def test_the_instrument_form_needs_the_responses(golden_sim: Dataset) -> None:
    inst, _, _ = golden_sim
    with pytest.raises(TypeError, match=r"efa\(\) with an instrument needs the responses"):
        analysis.efa(inst)  # type: ignore[call-overload]


def test_build_norms_takes_validated_responses(golden_sim: Dataset) -> None:
    inst, table, kw = golden_sim
    responses = read_responses(inst, table, **kw)
    from_table = analysis.build_norms(inst, table, sample="sim", **kw)
    from_responses = analysis.build_norms(
        inst, responses, sample="sim", group_columns=kw["group_columns"]
    )
    assert from_responses.norms == from_table.norms
    with pytest.raises(AnalysisError, match="no group column 'wave'"):
        analysis.build_norms(inst, responses, sample="sim", group_columns=["wave"])
