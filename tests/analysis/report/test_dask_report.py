"""The cohort report on Dask equals the in-memory report, table by table (analysis.report.reduce).

One simulated cohort of 300 (PPAI 1.0.0, 3% careless, a group ``site`` with a group ``d`` of 5
so that suppression happens) is imported as a cohort file and written again as a dataset of
three part files (three partitions). The report is built in memory from the file and on Dask
from the dataset (synchronous scheduler, and the session's LocalCluster of two processes); every
table must be the same after rounding to 10 significant digits, text and ``suppressed`` cells
identical. With a sample of 150 (smaller than the cohort), every table but the COSMIN section's
still equals the in-memory report of all 300 (careless responding, scores, group comparisons,
the CFA and the figures come from counts and moments reduced over the partitions), and the
report's note names COSMIN as the one section on the sample.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from distributed import Client

import analysis
from analysis.cohort.dataset import open_cohort
from analysis.privacy.pseudonyms import PSEUDONYM_COLUMN
from analysis.report import CohortReport, build_cohort_report, write_report
from analysis.report.reduce import sample_frame
from surveytool.cli import cli
from surveytool.engine import cluster
from surveytool.scoring.simulate import SimulationSpec, simulate
from tests.analysis.report.cohorts import PPAI, as_dataset, imported, site_cohorts


@pytest.fixture(scope="module")
def cohorts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(cohort file, the same cohort as a dataset of three part files)."""
    return site_cohorts(tmp_path_factory.mktemp("dask_report"), seed=5)


@pytest.fixture(scope="module")
def in_memory(cohorts: tuple[Path, Path]) -> CohortReport:
    """The in-memory report of the dataset's rows (the same rows as the file; its name too)."""
    whole = open_cohort(cohorts[1]).load()
    pd.testing.assert_frame_equal(whole.frame, open_cohort(cohorts[0]).frame())
    return build_cohort_report(whole, PPAI, groups=["site"], figures=False)


def _rounded(frame: pd.DataFrame) -> pd.DataFrame:
    """Numbers to 10 significant digits; text (``suppressed`` included) as it is."""

    def cell(v: object) -> object:
        if isinstance(v, bool | np.bool_) or not isinstance(v, int | float | np.number):
            return v
        x = float(v)
        return x if not np.isfinite(x) or x == 0 else float(f"{x:.10g}")

    return frame.map(cell)


def _assert_same_tables(got: CohortReport, expected: CohortReport, names: list[str]) -> None:
    for name in names:
        a, b = got.table(name).frame, expected.table(name).frame
        pd.testing.assert_frame_equal(_rounded(a), _rounded(b), check_dtype=False, obj=name)


def _all_names(report: CohortReport) -> list[str]:
    return [t.name for t in report.tables]


def test_dask_report_equals_the_in_memory_report_synchronous(
    cohorts: tuple[Path, Path], in_memory: CohortReport
) -> None:
    with cluster(synchronous=True):
        got = build_cohort_report(cohorts[1], PPAI, groups=["site"], figures=False, engine="dask")
    assert _all_names(got) == _all_names(in_memory)
    _assert_same_tables(got, in_memory, _all_names(in_memory))
    assert got.respondents == in_memory.respondents == 300
    assert got.notes == in_memory.notes  # no sample note: the cohort is smaller than the sample
    # min-cell suppression identical (the small group d and its complement)
    suppressed = got.table("suppressed_cells").frame
    assert len(suppressed) > 0
    pd.testing.assert_frame_equal(suppressed, in_memory.table("suppressed_cells").frame)


def test_dask_report_equals_the_in_memory_report_on_a_local_cluster(
    cohorts: tuple[Path, Path], in_memory: CohortReport, dask_client: Client
) -> None:
    got = build_cohort_report(cohorts[1], PPAI, groups=["site"], figures=True, engine="dask")
    assert _all_names(got) == _all_names(in_memory)
    _assert_same_tables(got, in_memory, _all_names(in_memory))
    assert set(got.figures) >= {"scores", "items", "efa"}


def _whole_cohort_tables(report: CohortReport) -> list[str]:
    """The tables that rest on the whole cohort on Dask: all but the COSMIN section's."""
    return [t.name for t in report.tables if t.section != "cosmin" and t.name != "suppressed_cells"]


def _check_sampled(got: CohortReport, in_memory: CohortReport) -> None:
    """A Dask report on a sample of 150 of the 300: every table but COSMIN's equals the
    in-memory report of all 300, and the note names COSMIN as the one section sampled."""
    names = _whole_cohort_tables(in_memory)
    assert {"careless", "careless_flags", "score_descriptives", "score_correlations"} <= set(names)
    assert {"groups_site", "group_tests_site", "group_effects_site", "cfa_fit"} <= set(names)
    assert _all_names(got) == _all_names(in_memory)
    _assert_same_tables(got, in_memory, names)
    assert got.respondents == 300
    sample_notes = [n for n in got.notes if "seeded random sample of 150 respondents" in n]
    assert len(sample_notes) == 1
    assert "; validity evidence (COSMIN) rests on a seeded random sample" in sample_notes[0]
    for moved in ("careless responding", "score statistics and figures", "group comparisons"):
        assert moved in sample_notes[0].split(";")[0]
    assert "CFA rest on all 300 respondents" in sample_notes[0]
    assert [n for n in got.notes if n not in sample_notes] == list(in_memory.notes)
    # the suppressed cells of those tables are the same ones, for the same reasons
    cosmin = {f"{t.name}.csv" for t in in_memory.tables if t.section == "cosmin"}

    def whole(report: CohortReport) -> pd.DataFrame:
        cells = report.table("suppressed_cells").frame
        return cells[~cells["table"].isin(cosmin)].reset_index(drop=True)

    assert len(whole(got)) > 0
    pd.testing.assert_frame_equal(whole(got), whole(in_memory))


def test_a_sample_smaller_than_the_cohort_rests_only_cosmin_on_it(
    cohorts: tuple[Path, Path], in_memory: CohortReport
) -> None:
    with cluster(synchronous=True):
        got = build_cohort_report(
            cohorts[1], PPAI, groups=["site"], figures=False, engine="dask", sample_rows=150
        )
    _check_sampled(got, in_memory)


def test_a_sample_smaller_than_the_cohort_on_a_local_cluster_and_its_figures(
    cohorts: tuple[Path, Path], in_memory: CohortReport, dask_client: Client
) -> None:
    got = build_cohort_report(
        cohorts[1], PPAI, groups=["site"], figures=True, engine="dask", sample_rows=150
    )
    _check_sampled(got, in_memory)
    whole = open_cohort(cohorts[1]).load()
    drawn = build_cohort_report(whole, PPAI, groups=["site"], figures=True)
    # the figures from binned counts are those of the in-memory report, to the byte
    assert got.figures == drawn.figures


def test_cohort_report_command_on_dask(
    cohorts: tuple[Path, Path],
    in_memory: CohortReport,
    dask_session_client: Client,
    tmp_path: Path,
) -> None:
    out = tmp_path / "report"
    address = str(dask_session_client.scheduler_info()["address"])
    args = ["cohort", "report", str(cohorts[1]), "-i", "ppai@1.0.0", "--group", "site"]
    options = ["--no-figures", "--engine", "dask", "--scheduler", address, "-o", str(out)]
    result = CliRunner().invoke(cli, [*args, *options])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    memory = tmp_path / "memory"
    write_report(in_memory, memory)
    for name in ("reliability", "item_statistics", "efa_loadings", "groups_site"):
        got = pd.read_csv(out / f"{name}.csv", keep_default_na=False, dtype=str)
        expected = pd.read_csv(memory / f"{name}.csv", keep_default_na=False, dtype=str)
        pd.testing.assert_frame_equal(
            _rounded(got.map(_number)), _rounded(expected.map(_number)), obj=name
        )


def _number(text: str) -> object:
    try:
        return float(text)
    except ValueError:
        return text


def test_a_cohort_file_or_folder_reads_from_python_by_its_name(cohorts: tuple[Path, Path]) -> None:
    # the README's way in: analysis.open_cohort with a path as text, file or folder alike
    file, dataset = cohorts
    from_file, from_folder = analysis.open_cohort(str(file)), analysis.open_cohort(str(dataset))
    pd.testing.assert_frame_equal(from_file.frame(), from_folder.frame())
    assert from_file.metadata.instrument_id == from_folder.metadata.instrument_id == PPAI.id
    assert len(from_file.ledger.imports) == len(from_folder.ledger.imports) == 1
    assert from_folder.dask().npartitions == 3
    read = analysis.cohort.read_cohort(str(dataset))
    assert read is not None and len(read.frame) == len(from_file.frame())
    with pytest.raises(analysis.errors.CohortFileError, match="no such cohort"):
        analysis.open_cohort(str(dataset.with_name("none")))


def test_score_histograms_from_counts_are_those_of_the_scores() -> None:
    from analysis.report import figures
    from analysis.stats.tables import value_counts

    rng = np.random.default_rng(3)
    answered = rng.integers(1, 5, 400)  # means of 1..4 answered items on 1..5
    on_grid = rng.integers(1, 6, (400, 4)).cumsum(axis=1)[np.arange(400), answered - 1] / answered
    off_grid = rng.normal(3.0, 0.7, 400).round(3)  # off the grid: equal-width fine bins
    few = np.array([2.0, 2.5, np.nan, 3.0])  # fewer than min_cell: suppressed
    scores = {"a": np.where(rng.random(400) < 0.05, np.nan, on_grid), "b": off_grid, "c": few}
    labels, ranges, steps = {"a": "A"}, {"a": (1.0, 5.0), "b": (1.0, 5.0)}, {"a": 0.25}
    for min_cell in (1, 10):
        expected = figures.score_distributions(
            scores, labels, ranges, steps=steps, min_cell=min_cell
        )
        got = figures.score_distributions_from_counts(
            {k: value_counts(v) for k, v in scores.items()},
            labels,
            ranges,
            steps=steps,
            min_cell=min_cell,
        )
        assert got == expected
        for values in scores.values():
            edges = np.linspace(0.5, 5.5, 12)
            bins = figures.safe_bins(values, edges, min_cell)
            counted = figures.safe_bins_from_counts(value_counts(values), edges, min_cell)
            np.testing.assert_array_equal(counted[0], bins[0])
            np.testing.assert_array_equal(counted[1], bins[1])


@pytest.fixture(scope="module")
def waves(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(cohort file, dataset of two parts) of 2 waves x 120 people, a wave in each part."""
    folder = tmp_path_factory.mktemp("dask_report_waves")
    first, second = (
        simulate(PPAI, SimulationSpec(n=120, seed=3)),
        simulate(PPAI, SimulationSpec(n=120, seed=4)),
    )
    second["respondent_id"] = first["respondent_id"].to_numpy()
    first.insert(1, "wave", "baseline")
    second.insert(1, "wave", "follow-up")
    both = pd.concat([first, second], ignore_index=True)
    file = imported(both, folder, "waves", {"id_column": "respondent_id", "waves": ["wave"]})
    return file, as_dataset(file, folder / "dataset", 2)


def test_waves_of_the_same_people_are_compared_on_the_whole_cohort_not_the_sample(
    waves: tuple[Path, Path],
) -> None:
    file, dataset = waves
    memory = build_cohort_report(file, PPAI, groups=["wave"], figures=False)
    assert "waves_wave" in _all_names(memory) and "groups_wave" not in _all_names(memory)
    with cluster(synchronous=True):
        sample = open_cohort(dataset).dask()
        drawn = sample_frame(sample, 240, 12, 0)
        # in the sample of 12 nobody is seen twice: the sample alone would compare the waves
        # as independent groups
        assert not drawn[PSEUDONYM_COLUMN].duplicated().any()
        got = build_cohort_report(
            dataset, PPAI, groups=["wave"], figures=False, engine="dask", sample_rows=12
        )
    assert "waves_wave" in _all_names(got) and "groups_wave" not in _all_names(got)
    (note,) = [n for n in got.notes if "seeded random sample of 12" in n]
    assert "; validity evidence (COSMIN) rests on a seeded random sample" in note
    assert "within-person comparisons over wave" in note.split(";")[0]
    # the within-person comparisons and the retest reliability rest on every pair of rows
    wave_tables = ["waves_wave", "wave_tests_wave", "wave_effects_wave", "retest_wave"]
    _assert_same_tables(got, memory, wave_tables)
    assert memory.table("wave_tests_wave").frame["n"].min() == 120


def test_within_person_comparisons_on_a_local_cluster_equal_the_in_memory_ones(
    waves: tuple[Path, Path], dask_client: Client
) -> None:
    _, dataset = waves
    whole = open_cohort(dataset).load()
    memory = build_cohort_report(whole, PPAI, groups=["wave"], figures=False)
    assert "retest_wave" in _all_names(memory)
    got = build_cohort_report(
        dataset, PPAI, groups=["wave"], figures=False, engine="dask", sample_rows=100
    )
    names = [t.name for t in memory.tables if t.section != "cosmin"]
    names.remove("suppressed_cells")
    _assert_same_tables(got, memory, names)
