"""reliability and item_statistics on a Dask DataFrame: the in-memory results (issue 18).

The golden ``sim`` table with off-scale cells and a repeated respondent id is split into Dask
partitions; the tables equal the pandas path's within 1e-12 and the problems are the same (the
issue rows numbered in the whole frame), on the synchronous scheduler and on the session's
LocalCluster (two worker processes), with one warning on the caller's side.
"""

from __future__ import annotations

import warnings
from functools import reduce
from operator import add
from typing import Any

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest

import analysis
import surveytool
from analysis.errors import AnalysisError, ResponseProblemsWarning
from tests.analysis.stats.conftest import Dataset

ISSUE_ORDER = ["row", "column", "code"]


def _with_problems(sim: Dataset) -> Dataset:
    """sim with four off-scale cells (in three partitions) and a repeated id across partitions."""
    inst, table, kw = sim
    items = [c for c in table.columns if c not in ("id", "site", "sex")]
    table[items[0]] = table[items[0]].astype("float64")
    table[items[3]] = table[items[3]].astype("float64")
    table.loc[[5, 400, 899], items[0]] = 99.0
    table.loc[300, items[3]] = -4.0
    table.loc[700, "id"] = str(table["id"].iloc[10])  # quarantined in memory: first at row 11
    return inst, table, kw


def _issues(result: Any) -> pd.DataFrame:
    table: pd.DataFrame = result.problems.table
    return table.sort_values(ISSUE_ORDER).reset_index(drop=True)


def _both(
    name: str, inst: Any, frame: Any, *args: Any, **kw: Any
) -> tuple[Any, list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = getattr(analysis, name)(inst, frame, *args, **kw)
    return result, caught


def _check(sim: Dataset, npartitions: int, use: str = "pairwise") -> None:
    inst, table, kw = _with_problems(sim)
    frame = dd.from_pandas(table, npartitions=npartitions)
    assert frame.npartitions == npartitions
    names = ["reliability", "item_statistics"] if use == "pairwise" else ["reliability"]
    extra = {"use": use} if use != "pairwise" else {}
    for name in names:
        expected, _ = _both(name, inst, table, **kw, **extra)
        got, caught = _both(name, inst, frame, **kw, **extra)
        pd.testing.assert_frame_equal(got.summary(), expected.summary(), rtol=0, atol=1e-12)
        assert got.n_obs == expected.n_obs == len(table) - 1
        assert got.problems.count == expected.problems.count == 5
        assert got.problems.codes == expected.problems.codes
        pd.testing.assert_frame_equal(_issues(got), _issues(expected))
        assert sorted(_issues(got)["row"]) == [6, 301, 401, 701, 900]  # rows of the whole frame
        if name == "reliability":
            pd.testing.assert_frame_equal(got.items, expected.items, rtol=0, atol=1e-12)
            for scale, cov in expected.covariances.items():
                pd.testing.assert_frame_equal(got.covariances[scale], cov, rtol=0, atol=1e-12)
        else:
            pd.testing.assert_frame_equal(got.frequencies, expected.frequencies)
        problems = [w for w in caught if issubclass(w.category, ResponseProblemsWarning)]
        assert len(problems) == 1, [str(w.message) for w in caught]
        assert str(problems[0].message).startswith(f"{name}: the responses have 5 problem(s)")
        assert problems[0].filename == __file__  # on the caller's line


@pytest.mark.parametrize("npartitions", [3, 4])
def test_synchronous_equals_pandas(sim: Dataset, npartitions: int) -> None:
    with dask.config.set(scheduler="synchronous"):
        _check(sim, npartitions)


def test_listwise_synchronous_equals_pandas(sim: Dataset) -> None:
    with dask.config.set(scheduler="synchronous"):
        _check(sim, 4, use="listwise")


def test_local_cluster_equals_pandas(sim: Dataset, dask_client: Any) -> None:
    _check(sim, 4)


def test_sums_of_a_dask_frame_are_those_of_the_table(sim: Dataset) -> None:
    """sufficient_statistics of a Dask DataFrame feed both functions, as the table's do."""
    inst, table, kw = _with_problems(sim)
    with dask.config.set(scheduler="synchronous"), warnings.catch_warnings():
        warnings.simplefilter("ignore", ResponseProblemsWarning)
        sums = analysis.sufficient_statistics(inst, dd.from_pandas(table, npartitions=3), **kw)
        expected = analysis.sufficient_statistics(inst, table, **kw)
    assert sums.n_obs == expected.n_obs
    assert sums.problems.count == expected.problems.count
    pd.testing.assert_frame_equal(
        analysis.reliability(inst, sums).summary(),
        analysis.reliability(inst, expected).summary(),
        rtol=0,
        atol=1e-12,
    )


def test_unknown_keyword_is_refused(sim: Dataset) -> None:
    inst, table, _ = sim
    wrong: dict[str, Any] = {"idcolumn": "id"}
    with pytest.raises(TypeError, match="'idcolumn'"):
        analysis.reliability(inst, dd.from_pandas(table, npartitions=2), **wrong)


CORRELATION_STATISTICS = [
    ("efa", (2,), {}, lambda r: r.summary()),
    ("efa", (3,), {"rotation": "varimax", "use": "listwise"}, lambda r: r.loadings),
    ("parallel_analysis", (), {"n_iter": 5, "random_state": 3}, lambda r: r.summary()),
    ("kmo", (), {}, lambda r: r.items.to_frame()),
    ("bartlett_sphericity", (), {"n_obs": 500}, lambda r: r.summary()),
    ("bartlett_sphericity", (), {"use": "listwise"}, lambda r: r.summary()),
    ("omega", (), {}, lambda r: r.summary()),
    ("omega", (), {"n_factors": 2, "use": "listwise"}, lambda r: r.loadings),
]


@pytest.mark.parametrize(("name", "args", "options", "table"), CORRELATION_STATISTICS)
def test_correlation_statistics_of_a_dask_frame_equal_the_tables(
    sim: Dataset, name: str, args: tuple[Any, ...], options: dict[str, Any], table: Any
) -> None:
    """efa, parallel_analysis, kmo, bartlett_sphericity and omega of a Dask DataFrame (the
    keyed items' moments reduced over partitions, the correlation matrix from them) equal the
    in-memory results within 1e-12, with the same problems and one warning on the caller's
    line; pairwise and listwise."""
    inst, frame, kw = _with_problems(sim)
    read = {"id_column": kw["id_column"]} if name == "omega" and "id_column" in kw else {}
    with dask.config.set(scheduler="synchronous"):
        for npartitions in (3, 4):
            parts = dd.from_pandas(frame, npartitions=npartitions)
            expected, _ = _both(name, inst, frame, *args, **options, **read)
            got, caught = _both(name, inst, parts, *args, **options, **read)
            pd.testing.assert_frame_equal(
                table(got), table(expected), check_dtype=False, rtol=1e-12, atol=1e-12
            )
            assert got.n_obs == expected.n_obs
            assert got.problems.count == expected.problems.count > 0
            pd.testing.assert_frame_equal(_issues(got), _issues(expected))
            problems = [w for w in caught if issubclass(w.category, ResponseProblemsWarning)]
            assert len(problems) == 1, [str(w.message) for w in caught]
            assert problems[0].filename == __file__  # on the caller's line


def test_correlation_statistics_of_a_dask_frame_take_the_reading_options(sim: Dataset) -> None:
    """On Dask the answers are read by the statistic itself: id_column (ids repeated across
    partitions quarantined) and group columns as read_responses(...) reads them in memory."""
    inst, frame, _ = _with_problems(sim)
    read = {"id_column": "id", "group_columns": ["site", "sex"]}
    responses = surveytool.read_responses(inst, frame, **read)  # type: ignore[arg-type]
    with dask.config.set(scheduler="synchronous"), warnings.catch_warnings():
        warnings.simplefilter("ignore", ResponseProblemsWarning)
        for name, args in (("efa", (2,)), ("kmo", ()), ("bartlett_sphericity", ())):
            expected = getattr(analysis, name)(inst, responses, *args)
            got = getattr(analysis, name)(inst, dd.from_pandas(frame, npartitions=4), *args, **read)
            pd.testing.assert_frame_equal(got.summary(), expected.summary(), rtol=1e-12, atol=1e-12)
            assert got.n_obs == expected.n_obs == len(frame) - 1
            assert got.problems.codes == expected.problems.codes
            assert "unmatched_column" not in got.problems.codes  # id and groups were read
    with pytest.raises(TypeError, match="'idcolumn'"):
        efa: Any = analysis.efa
        efa(inst, dd.from_pandas(frame, npartitions=2), 2, idcolumn="id")


def test_efa_of_a_dask_frame_on_the_local_cluster(sim: Dataset, dask_client: Any) -> None:
    inst, frame, _ = _with_problems(sim)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResponseProblemsWarning)
        expected = analysis.efa(inst, frame, 2)
        got = analysis.efa(inst, dd.from_pandas(frame, npartitions=4), 2)
    pd.testing.assert_frame_equal(got.summary(), expected.summary(), rtol=1e-12, atol=1e-12)
    pd.testing.assert_frame_equal(got.loadings, expected.loadings, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["keyed_items"])
def test_statistics_without_a_dask_path_say_so(sim: Dataset, name: str) -> None:
    """A statistic that needs the rows refuses a Dask DataFrame with a message, no traceback."""
    inst, table, kw = sim
    with pytest.raises(AnalysisError, match=rf"^{name} takes a pandas DataFrame .*compute\(\)"):
        getattr(analysis, name)(inst, dd.from_pandas(table, npartitions=2), **kw)


# ---- the report's sections from counts and moments of partitions (issue 18) -------------------


def _parts(frame: pd.DataFrame, n: int = 3) -> list[pd.DataFrame]:
    return [frame.iloc[p] for p in np.array_split(np.arange(len(frame)), n)]


def _close(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Equal within 1e-12, relative or absolute (the counted sums are exact; the rows' are not)."""
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, rtol=1e-12, atol=1e-12)


def test_score_sections_from_counts_of_partitions_equal_the_rows(sim: Dataset) -> None:
    from analysis.report.reduce import score_sums
    from analysis.stats.groups import compare_groups_from_counts
    from analysis.stats.scores import describe_counts, score_correlations_from_moments

    inst, table, kw = sim
    scored = surveytool.score_responses(inst, table, **kw).scores
    scales = [s for s in inst.scored_ids() if s in scored.columns]
    sums = reduce(add, [score_sums(p, scales, ["site", "sex"]) for p in _parts(scored)])
    # descriptives: n, min, max, median exact; moments within rounding
    _close(describe_counts(sums.counts.overall), analysis.describe_scores(scored, scales))
    corr = score_correlations_from_moments(sums.moments)
    expected = analysis.score_correlations(scored, scales)
    _close(corr.pairs, expected.pairs)
    _close(corr.matrix, expected.matrix)
    # group tests, every one the API has, for three groups and for two
    sites = sorted(scored["site"].dropna().astype(str).unique())
    assert len(sites) >= 3
    for group, levels, tests in (
        ("site", sites, ["welch_anova", "anova", "kruskal"]),
        ("sex", sorted(scored["sex"].dropna().astype(str).unique())[:2], None),
        ("site", sites[:2], ["welch_t", "student_t", "mann_whitney"]),
    ):
        counts = {s: sums.by_group(s, group) for s in scales}
        got = compare_groups_from_counts(counts, group, levels, tests=tests)  # type: ignore[arg-type]
        api = analysis.compare_groups(
            scored,
            group,
            scales,
            levels=levels,
            tests=tests,  # type: ignore[arg-type]
        )
        _close(got.tests, api.tests)
        _close(got.effects, api.effects)
        _close(got.descriptives, api.descriptives)
    # the rows per group value add up over the partitions
    assert sum(sums.rows["site"].values()) == len(scored)


def test_cfa_from_merged_moments_equals_the_cfa_of_the_rows(sim: Dataset) -> None:
    from analysis.report.reduce import complete_moments
    from analysis.stats.cfa import cfa_from_moments, cfa_model, subscale_factors

    inst, table, kw = sim
    keyed = analysis.keyed_items(inst, table, **kw)
    merged = reduce(add, [complete_moments(inst, p) for p in _parts(keyed, 4)])
    assert merged is not None
    got = cfa_from_moments(merged, subscale_factors(inst))
    expected = cfa_model(keyed, subscale_factors(inst))
    assert got.n_obs == expected.n_obs
    # the same optimum of the same S (polished by Newton steps: L-BFGS-B alone stops about 1e-8
    # from it): merged moments differ from the rows' covariance by rounding only
    pd.testing.assert_series_equal(got.fit, expected.fit, rtol=1e-11, atol=1e-12)
    pd.testing.assert_frame_equal(got.loadings, expected.loadings, rtol=1e-11, atol=1e-12)
    pd.testing.assert_frame_equal(
        got.factor_correlations, expected.factor_correlations, rtol=1e-11, atol=1e-12
    )


def test_careless_flags_of_partitions_against_the_cohort_centre_equal_the_rows(
    sim: Dataset,
) -> None:
    from analysis.stats.careless import careless_centre, careless_sums

    inst, table, kw = sim
    validated = surveytool.score_responses(inst, table, **kw).responses
    expected = analysis.careless_responding(inst, validated).table
    parts = _parts(table)
    centre = careless_centre(reduce(add, [careless_sums(inst, p, **kw) for p in parts]))
    got = pd.concat(
        [analysis.careless_responding(inst, p, centre=centre, **kw).table for p in parts]
    )
    got = got.loc[expected.index]
    flags = [c for c in expected.columns if c.startswith("flag_")] + ["n_flags"]
    pd.testing.assert_frame_equal(got[flags], expected[flags])
    numbers = [c for c in expected.columns if c not in flags]
    pd.testing.assert_frame_equal(got[numbers], expected[numbers], rtol=1e-12, atol=1e-12)
    assert centre.irv_median == float(np.nanmedian(expected["irv"]))


def test_within_person_comparisons_from_counted_pairs_equal_the_rows() -> None:
    from analysis.stats.retest import (
        PairedCounts,
        compare_waves,
        compare_waves_from_counts,
        paired_scores,
    )

    rng = np.random.default_rng(1)
    n = 300
    base = rng.integers(1, 6, (n, 4)).mean(axis=1)  # means of 4 items: ties everywhere
    later = np.clip(base + rng.integers(-1, 2, n) * 0.25, 1, 5)  # many zero differences
    third = np.clip(later + rng.integers(-1, 2, n) * 0.25, 1, 5)
    people = [f"p{i}" for i in range(n)]
    scores = pd.DataFrame(
        {
            "who": people * 3,
            "wave": ["1"] * n + ["2"] * n + ["3"] * n,
            "calm": np.concatenate([base, later, third]),
            "other": np.concatenate([third, base, later]),
        }
    )
    scores.loc[5, "calm"] = np.nan
    scores = scores.drop(index=[7, n + 9])  # people missing a wave
    expected = compare_waves(scores, "who", "wave", ["calm", "other"])
    text = scores["wave"].astype("string")
    pairs = {}
    for first, second in (("1", "2"), ("2", "3")):
        for scale in ("calm", "other"):
            parts = []
            for chunk in np.array_split(np.arange(n), 3):  # each person's rows in one part
                keep = scores["who"].isin([people[i] for i in chunk]).to_numpy()
                x, y = paired_scores(scores[keep], "who", text[keep], first, second, scale)
                parts.append(PairedCounts.of(x, y))
            pairs[(scale, f"{first} -> {second}")] = reduce(add, parts)
    got = compare_waves_from_counts(pairs, "wave", ["1", "2", "3"])
    for name in ("tests", "effects", "retest"):
        _close(getattr(got, name), getattr(expected, name))
    assert got.tests["n"].min() == n - 3  # a missing score and two missing rows


def test_build_norms_of_a_dask_frame_equals_the_table(sim: Dataset, dask_client: Any) -> None:
    """build_norms of a Dask DataFrame (exact counts and reliability sums reduced over the
    partitions, an id repeated across partitions quarantined): the in-memory norms, number for
    number, and the same problems; on the synchronous scheduler and the LocalCluster."""
    inst, frame, kw = _with_problems(sim)
    options: dict[str, Any] = {
        "sample": "the golden sim table",
        "group_columns": ["site"],
        "min_cell": 30,
        **({"id_column": kw["id_column"]} if "id_column" in kw else {}),
    }
    expected, _ = _both("build_norms", inst, frame, **options)
    assert expected.suppressed.shape[0] < expected.table.shape[0]  # some cells published
    for scheduler in ("synchronous", None):  # None: the session's LocalCluster
        with dask.config.set(scheduler=scheduler) if scheduler else warnings.catch_warnings():
            got, caught = _both(
                "build_norms", inst, dd.from_pandas(frame, npartitions=4), **options
            )
        assert analysis.norms_yaml(got.norms) == analysis.norms_yaml(expected.norms)
        pd.testing.assert_frame_equal(got.table, expected.table)
        assert got.problems.codes == expected.problems.codes  # off-scale, repeated id, sex
        pd.testing.assert_frame_equal(_issues(got), _issues(expected))
        problems = [w for w in caught if issubclass(w.category, ResponseProblemsWarning)]
        assert len(problems) == 1 and problems[0].filename == __file__
