"""Norms on Dask equal the in-memory norms exactly (analysis.report.reduce.reduce_norms).

One simulated cohort of 300 (PPAI 1.0.0, a group ``site`` with a group ``d`` of 5, so that
min_cell suppression and its complement happen) is imported as a cohort file and written again
as a dataset of three part files (three partitions). Norms are built in memory from the file and
on Dask from the dataset, on the synchronous scheduler and on the session's LocalCluster of two
processes: the norms block (YAML text) must be identical, and so must the table of cells with
their suppression. A cohort of two waves of the same people is refused, normed by wave and
pooled on Dask as in memory, and the CLI writes the same norms.yaml on both engines.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result
from distributed import Client

import analysis
from analysis.errors import AnalysisError
from analysis.report import cohort_norms
from analysis.stats.norms import (
    MAX_DISTINCT,
    REASON_COMPLEMENT,
    REASON_SMALL,
    NormsResult,
    score_counts,
)
from surveytool.cli import cli
from surveytool.engine import cluster
from surveytool.scoring.simulate import SimulationSpec, simulate
from tests.analysis.report.cohorts import PPAI, as_dataset, imported, site_cohorts


@pytest.fixture(scope="module")
def cohorts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(cohort file, the same cohort as a dataset of three part files)."""
    return site_cohorts(tmp_path_factory.mktemp("dask_norms"), seed=7)


@pytest.fixture(scope="module")
def in_memory(cohorts: tuple[Path, Path]) -> NormsResult:
    return cohort_norms(cohorts[0], PPAI, groups=["site"])


def _assert_same(got: NormsResult, expected: NormsResult) -> None:
    # the sample words name the cohort (file or folder); everything else is identical
    assert got.norms.entries == expected.norms.entries
    assert analysis.norms_yaml(got.norms.model_copy(update={"sample": "s"})) == analysis.norms_yaml(
        expected.norms.model_copy(update={"sample": "s"})
    )
    pd.testing.assert_frame_equal(got.table, expected.table)


def test_dask_norms_equal_the_in_memory_norms_synchronous(
    cohorts: tuple[Path, Path], in_memory: NormsResult
) -> None:
    with cluster(synchronous=True):
        got = cohort_norms(cohorts[1], PPAI, groups=["site"], engine="dask")
    _assert_same(got, in_memory)
    # min_cell suppression happened, and identically: d is small, one more cell its complement
    reasons = got.suppressed.groupby("cell")["reason"].first().to_dict()
    assert reasons["d"] == REASON_SMALL
    assert REASON_COMPLEMENT in reasons.values()
    assert got.suppressed["n"].isna().all()  # an unpublished cell's n is not shown
    assert {e.n for e in got.norms.entries if not e.group} == {300}
    assert got.norms.sample.endswith("300 respondents") or "300 respondents" in got.norms.sample
    assert got.problems == in_memory.problems


def test_dask_norms_equal_the_in_memory_norms_on_a_local_cluster(
    cohorts: tuple[Path, Path], in_memory: NormsResult, dask_client: Client
) -> None:
    got = cohort_norms(cohorts[1], PPAI, groups=["site"], engine="dask")
    _assert_same(got, in_memory)
    overall = cohort_norms(cohorts[1], PPAI, engine="dask")
    _assert_same(overall, cohort_norms(cohorts[0], PPAI))


def test_partitioning_does_not_change_a_number(
    cohorts: tuple[Path, Path], in_memory: NormsResult, tmp_path: Path
) -> None:
    seven = as_dataset(cohorts[0], tmp_path / "seven", 7)
    with cluster(synchronous=True):
        got = cohort_norms(seven, PPAI, groups=["site"], min_cell=10, engine="dask")
    _assert_same(got, in_memory)


def _run(*args: object) -> Result:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


def test_cli_norms_on_a_dataset_folder_write_the_same_file(
    cohorts: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset = cohorts[1]
    paths = {}
    for engine in ("memory", "dask"):
        out = tmp_path / f"{engine}.yaml"
        made = _run(
            "cohort", "norms", dataset, "-i", "ppai@1.0.0", "--group", "site",
            "--sample", "simulated", "--engine", engine, "--workers", "1", "-o", out,
        )  # fmt: skip
        assert made.exit_code == 0, made.output
        assert "not published: d (n below min_cell" in made.output
        paths[engine] = out
    assert paths["dask"].read_text("utf-8") == paths["memory"].read_text("utf-8")
    # auto: Dask for a folder over the threshold (here 0 rows), memory below it
    monkeypatch.setenv("SURVEYTOOL_DASK_ROWS", "0")
    auto = tmp_path / "auto.yaml"
    made = _run(
        "cohort", "norms", dataset, "-i", "ppai@1.0.0", "--group", "site",
        "--sample", "simulated", "--workers", "1", "-o", auto,
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    assert auto.read_text("utf-8") == paths["memory"].read_text("utf-8")


@pytest.fixture(scope="module")
def waves(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(cohort file, dataset of two parts) of 2 waves x 120 people, a wave in each part."""
    folder = tmp_path_factory.mktemp("dask_norms_waves")
    spec = SimulationSpec(n=120, seed=3)
    first, second = simulate(PPAI, spec), simulate(PPAI, SimulationSpec(n=120, seed=4))
    second["respondent_id"] = first["respondent_id"].to_numpy()
    first.insert(1, "wave", "baseline")
    second.insert(1, "wave", "follow-up")
    both = pd.concat([first, second], ignore_index=True)
    file = imported(both, folder, "waves", {"id_column": "respondent_id", "waves": ["wave"]})
    return file, as_dataset(file, folder / "dataset", 2)


def test_dask_norms_keep_the_wave_rules(waves: tuple[Path, Path]) -> None:
    file, dataset = waves
    with cluster(synchronous=True):
        for engine in ("memory", "dask"):
            with pytest.raises(AnalysisError, match="240 rows of 120 people in several waves"):
                cohort_norms(dataset, PPAI, engine=engine)
            with pytest.raises(AnalysisError, match="its values: baseline, follow-up"):
                cohort_norms(dataset, PPAI, wave={"wave": "later"}, engine=engine)
        for options in (
            {"wave": {"wave": "follow-up"}},
            {"pool_waves": True},
            {"groups": ["wave"]},
        ):
            expected = cohort_norms(file, PPAI, **options)
            got = cohort_norms(dataset, PPAI, engine="dask", **options)
            _assert_same(got, expected)
            assert got.norms.sample.split(": ", 1)[1] == expected.norms.sample.split(": ", 1)[1]


def test_a_scale_with_more_distinct_values_than_the_bound_is_refused() -> None:
    values = np.arange(MAX_DISTINCT + 1, dtype=np.float64) / 7.0
    half = len(values) // 2
    first = score_counts(pd.DataFrame({"x": values[:half]}), ["x"])
    second = score_counts(pd.DataFrame({"x": values[half:]}), ["x"])
    with pytest.raises(AnalysisError, match=r"'x' takes more than 1000000 distinct values") as e:
        _ = first + second
    assert str(e.value).endswith("use the in-memory engine (a pandas DataFrame: frame.compute())")
    # raised in a Dask worker, the message comes back whole, its parameter spelled by the CLI
    import pickle

    from analysis.errors import Phrase

    back = pickle.loads(pickle.dumps(e.value))
    assert isinstance(back.args[0], Phrase) and str(back) == str(e.value)
    cli = back.args[0].spell(lambda p: f"--{p.name} {p.value}")
    assert cli.endswith("use the in-memory engine (--engine memory)")
    # within the bound, the merged counts are those of the whole column
    small = score_counts(pd.DataFrame({"x": values[:10]}), ["x"])
    merged = small + score_counts(pd.DataFrame({"x": values[:10]}), ["x"])
    assert merged.overall["x"].n == 20 and len(merged.overall["x"].values) == 10
