"""Scoring on Dask equals scoring in memory: the same scores (bit for bit), bands, status, checks
and norms, the same issues (row numbers across partitions, repeated ids across files, column
issues once), the counts adding up; written as a Parquet dataset with the provenance, 0600/0700,
atomically; and the CLI on a real folder, with its refusals.

Each comparison reads the same rows twice: the dataset folder on Dask, and one Parquet file of the
same frame through the in-memory reader (``read_source``) and ``score_responses``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from dask.base import compute
from distributed import Client

import surveytool
from surveytool.cli import cli
from surveytool.engine import EngineError, cluster, read_dataset
from surveytool.engine.scoring import (
    quarantine_folder,
    read_scores_metadata,
    score_responses_dask,
    write_scores,
)
from surveytool.instrument.model import Instrument
from surveytool.instrument.registry import load_instrument
from surveytool.io.sources import read_source
from surveytool.scoring.result import ScoreResult
from tests.datasets import write_parquet_dataset, write_parquet_file

CLI_INSTRUMENT = Path(__file__).resolve().parents[2] / "fixtures" / "scoring" / "cli.yaml"
COUNTS = re.compile(r"rows read (\d+) = rows scored (\d+) \+ rows quarantined (\d+)")
ISSUE_ORDER = ["row", "column", "code", "value"]


@pytest.fixture(scope="module")
def ppai() -> Instrument:
    return load_instrument("ppai")


@pytest.fixture(scope="module")
def answers(ppai: Instrument) -> pd.DataFrame:
    """600 respondents with every kind of trouble, some of it across the files' boundaries."""
    frame = surveytool.simulate(ppai, surveytool.SimulationSpec(n=600, seed=11, missing=0.08))
    frame["DS5"] = [None if v is pd.NA else str(v) for v in frame["DS5"]]  # a text column
    frame.loc[3, "DS5"] = "Somewhat like me"  # a label of the scale
    frame.loc[4, "DS5"] = "often"  # not an answer
    frame.loc[150, "DS5"] = "7"  # off the scale
    frame.loc[250, "DS5"] = "2.5"  # not a whole number
    ids = frame["respondent_id"]
    ids[410] = ids[12]  # repeats an id of the first file in the third
    ids[520] = ids[12]
    ids[230] = ids[225]  # a repeat inside one partition
    ids[260] = ids[199]  # first in the first file, repeated in the second
    ids[300] = None  # an empty id
    frame["respondent_id"] = ids
    critical = ppai.checks[0]
    frame.loc[[410, 300], critical.item] = 5  # an alert in a quarantined row
    frame["note"] = "x"  # no item: a column issue, reported once
    return frame


def _memory(
    inst: Instrument,
    frame: pd.DataFrame,
    tmp: Path,
    id_column: str | None = None,
    group_columns: tuple[str, ...] = (),
) -> ScoreResult:
    text = [c for c in [id_column, *group_columns] if c]
    path = write_parquet_file(frame, tmp / "whole.parquet")
    source = read_source(path, text_columns=text).frame
    return surveytool.score_responses(
        inst, source, id_column=id_column, group_columns=group_columns
    )


def _plain(issues: pd.DataFrame) -> pd.DataFrame:
    """Issues sorted, missing cells as None (an object column holds None or NaN by chance)."""
    out = issues.sort_values(ISSUE_ORDER, na_position="first", kind="stable")
    out = out.astype(object).where(out.notna(), None)
    return out.reset_index(drop=True)


def _assert_same(scores: pd.DataFrame, issues: pd.DataFrame, expected: ScoreResult) -> None:
    scores = scores.reset_index(drop=True)
    pd.testing.assert_frame_equal(scores, expected.scores, check_exact=True)
    for col in expected.scores.columns:  # bit for bit, NaN where NaN
        if expected.scores[col].dtype == np.float64:
            assert np.array_equal(
                scores[col].to_numpy().view(np.uint64),
                expected.scores[col].to_numpy().view(np.uint64),
            ), col
    pd.testing.assert_frame_equal(_plain(issues), _plain(expected.issues))


@pytest.fixture(params=["cluster", "synchronous"])
def scheduler(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "cluster":
        request.getfixturevalue("dask_client")
        yield "cluster"
    else:
        with cluster(synchronous=True):
            yield "synchronous"


@pytest.mark.parametrize("id_column", ["respondent_id", None])
def test_dataset_scores_equal_memory(
    ppai: Instrument, answers: pd.DataFrame, tmp_path: Path, scheduler: str, id_column: str | None
) -> None:
    folder = write_parquet_dataset(answers, tmp_path / "ds", files=3, row_group_rows=40)
    expected = _memory(ppai, answers, tmp_path, id_column=id_column)
    codes = set(expected.issues["code"])
    assert {"off_scale", "not_whole_number", "not_an_answer", "unmatched_column"} <= codes
    if id_column:
        assert {"duplicate_respondent_id", "empty_respondent_id", "critical_in_quarantine"} <= codes
    text = [id_column] if id_column else []
    data = read_dataset(folder, text_columns=text, partition_rows=80)
    assert data.npartitions == 9  # 200 rows per file: row groups 40 x 5, pieces 80, 80, 40
    result = score_responses_dask(ppai, data, id_column=id_column)
    scores, issues = compute(result.scores, result.issues)
    _assert_same(scores, issues, expected)
    read, scored, quarantined = result.counts()
    assert (read, scored, quarantined) == (
        expected.rows_read,
        expected.rows_scored,
        expected.rows_quarantined,
    )
    assert read == scored + quarantined == 600


def test_api_accepts_any_dask_dataframe(
    ppai: Instrument, answers: pd.DataFrame, tmp_path: Path, dask_client: Client
) -> None:
    """surveytool.score / score_responses take a Dask DataFrame and return Dask DataFrames."""
    expected = _memory(ppai, answers, tmp_path, id_column="respondent_id")
    source = read_source(
        write_parquet_file(answers, tmp_path / "w.parquet"), text_columns=["respondent_id"]
    ).frame
    frame = dd.from_pandas(source, npartitions=7, sort=False)
    lazy = surveytool.score(ppai, frame, id_column="respondent_id")
    assert isinstance(lazy, dd.DataFrame)
    assert list(lazy.columns) == list(expected.scores.columns)
    assert list(lazy.dtypes) == list(expected.scores.dtypes)  # the explicit meta is right
    result = surveytool.score_responses(ppai, frame, id_column="respondent_id")
    scores, issues = compute(lazy, result.issues)
    _assert_same(scores, issues, expected)
    with pytest.raises(surveytool.ScoringError, match=r"strict scoring of a Dask DataFrame"):
        surveytool.score(ppai, frame, strict=True)


def test_groups_and_norms_on_dask(tmp_path: Path) -> None:
    inst = load_instrument(CLI_INSTRUMENT)
    rng = np.random.default_rng(3)
    n = 240
    frame = pd.DataFrame(
        {
            "pid": [f"p{i}" for i in range(n)],
            "site": rng.choice(["A", "B", "C"], n),
            **{f"Q{k}": rng.integers(1, 6, n).astype(float) for k in range(1, 8)},
        }
    )
    frame.loc[rng.random(n) < 0.1, "Q2"] = np.nan
    frame.loc[7, "Q3"] = 9  # the declared missing code
    folder = write_parquet_dataset(frame, tmp_path / "ds", files=4, row_group_rows=25)
    expected = _memory(inst, frame, tmp_path, id_column="pid", group_columns=("site",))
    assert "alpha_t" in expected.scores.columns
    with cluster(synchronous=True):
        data = read_dataset(folder, text_columns=["pid", "site"], partition_rows=50)
        result = score_responses_dask(inst, data, id_column="pid", group_columns=["site"])
        scores, issues = compute(result.scores, result.issues)
    _assert_same(scores, issues, expected)


def test_written_dataset(
    ppai: Instrument, answers: pd.DataFrame, tmp_path: Path, dask_client: Client
) -> None:
    folder = write_parquet_dataset(answers, tmp_path / "ds", files=3, row_group_rows=40)
    expected = _memory(ppai, answers, tmp_path, id_column="respondent_id")
    data = read_dataset(folder, text_columns=["respondent_id"], partition_rows=80)
    out = tmp_path / "scores.parquet"
    written = write_scores(ppai, data, out, id_column="respondent_id")
    assert written.counts_line() == expected.counts_line()
    assert written.parts == 9 and written.quarantine == quarantine_folder(out)
    assert written.issue_counts == dict(expected.issues["code"].value_counts())
    assert written.kind_counts == dict(expected.issues["kind"].value_counts())
    # the provenance of the in-memory writer, in every part
    metadata = read_scores_metadata(out)
    assert metadata == expected.provenance.as_metadata()
    parts = sorted(out.iterdir())
    assert [p.name for p in parts] == [f"part-{i:05d}.parquet" for i in range(9)]
    for part in [out, written.quarantine]:
        assert os.stat(part).st_mode & 0o777 == 0o700
        for file in part.iterdir():
            assert os.stat(file).st_mode & 0o777 == 0o600
    # read back: the scores and the issues of the in-memory path
    back = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
    pd.testing.assert_frame_equal(back, expected.scores, check_exact=True)
    issues = pd.concat(
        [pd.read_parquet(p) for p in sorted(written.quarantine.iterdir())], ignore_index=True
    )
    pd.testing.assert_frame_equal(_plain(issues), _plain(expected.issues))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_a_failing_partition_leaves_the_old_scores(
    ppai: Instrument, answers: pd.DataFrame, tmp_path: Path
) -> None:
    folder = write_parquet_dataset(answers, tmp_path / "ds", files=3, row_group_rows=40)
    out = tmp_path / "scores"
    with cluster(synchronous=True):
        data = read_dataset(folder, text_columns=["respondent_id"])
        write_scores(ppai, data, out, id_column="respondent_id")
        before = {p.name: p.read_bytes() for p in out.iterdir()}
        (folder / "part-002.parquet").write_bytes(b"PAR1 damaged after the footers were read")
        with pytest.raises(EngineError, match=r"a partition could not be scored .*nothing was"):
            write_scores(ppai, data, out)  # no id column: no second look at the footers
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "ds",
        "scores",
        "scores.quarantine.parquet",
    ]


def _run(args: list[str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_cli_on_a_folder(
    ppai: Instrument, answers: pd.DataFrame, tmp_path: Path, dask_session_client: Client
) -> None:
    folder = write_parquet_dataset(answers, tmp_path / "ds", files=3, row_group_rows=40)
    expected = _memory(ppai, answers, tmp_path, id_column="respondent_id")
    address = str(dask_session_client.scheduler_info()["address"])
    out = tmp_path / "scores"
    code, stdout, stderr = _run(
        [
            "score",
            "-i",
            "ppai",
            str(folder),
            "--id-column",
            "respondent_id",
            "-o",
            str(out),
            "--engine",
            "dask",
            "--scheduler",
            address,
        ]
    )
    assert code == 0, stderr
    found = COUNTS.search(stdout)
    assert found is not None and found.group(0) == expected.counts_line()
    assert f"{len(expected.issues)} issue(s)" in stderr
    assert "Traceback" not in stderr + stdout
    back = pd.concat([pd.read_parquet(p) for p in sorted(out.iterdir())], ignore_index=True)
    pd.testing.assert_frame_equal(back, expected.scores, check_exact=True)
    # --strict: issues, so no scores (the earlier run's go), the quarantine stays
    code, stdout, stderr = _run(
        [
            "score",
            "-i",
            "ppai",
            str(folder),
            "--id-column",
            "respondent_id",
            "-o",
            str(out),
            "--strict",
            "--scheduler",
            address,
        ]
    )
    assert code == 1 and "nothing was scored" in stderr
    assert not out.exists() and quarantine_folder(out).is_dir()


def test_cli_refusals(answers: pd.DataFrame, tmp_path: Path) -> None:
    folder = write_parquet_dataset(answers, tmp_path / "ds", files=2)
    empty = tmp_path / "empty"
    empty.mkdir()
    mixed = tmp_path / "mixed"
    write_parquet_file(answers.iloc[:10], mixed / "a.parquet")
    write_parquet_file(answers.iloc[10:20].drop(columns=["note"]), mixed / "b.parquet")
    out = str(tmp_path / "out")
    cases = {
        "--workers 0": (
            ["score", "-i", "ppai", str(folder), "-o", out, "--workers", "0"],
            2,
            "'--workers': 0 is not in the range",
        ),
        "no parquet": (
            ["score", "-i", "ppai", str(empty), "-o", out],
            1,
            "the folder holds no Parquet files",
        ),
        "mixed": (
            ["score", "-i", "ppai", str(mixed), "-o", out],
            1,
            "b.parquet: its columns differ from those of a.parquet",
        ),
        "csv out": (
            ["score", "-i", "ppai", str(folder), "-o", out + ".csv"],
            1,
            "on the Dask engine the scores are a Parquet dataset",
        ),
        "memory folder": (
            ["score", "-i", "ppai", str(folder), "-o", out, "--engine", "memory"],
            1,
            "a folder is read as a Parquet dataset",
        ),
        "memory limit": (
            ["score", "-i", "ppai", str(folder), "-o", out, "--memory-limit", "a lot"],
            1,
            "the memory limit 'a lot' is not a size",
        ),
    }
    for name, (args, want, message) in cases.items():
        code, _stdout, stderr = _run(args)
        assert code == want, name
        assert message in stderr, (name, stderr)
        assert "Traceback" not in stderr, name
        assert (
            len([line for line in stderr.splitlines() if line.startswith(("error", "Error"))]) == 1
        )
    assert not Path(out).exists()


def test_a_folder_holding_other_files_is_never_replaced(
    answers: pd.DataFrame, tmp_path: Path
) -> None:
    """The dataset is written whole (a sibling folder renamed over the old one): an output
    folder with anything but an earlier run's parts, or with the input inside, is refused
    before any work, and every file stays."""
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.docx").write_bytes(b"a year of work")
    inside = tmp_path / "inside"
    write_parquet_dataset(answers.iloc[:50], inside, files=1)
    folder = write_parquet_dataset(answers, tmp_path / "ds", files=2)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    cases = {
        "other files": (str(folder), str(mine), "the folder holds other files (thesis.docx)"),
        "the input folder": (str(inside), str(inside), "the scores would overwrite the responses"),
        "parent of the input": (str(folder), str(tmp_path), "would replace the folder that holds"),
        "current folder": (str(folder), ".", "would replace the folder that holds"),
    }
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        for name, (source, out, message) in cases.items():
            code, _stdout, stderr = _run(
                ["score", "-i", "ppai", source, "-o", out, "--engine", "dask", "--workers", "1"]
            )
            assert code == 1, (name, stderr)
            assert message in stderr, (name, stderr)
            assert "Traceback" not in stderr, name
    finally:
        os.chdir(cwd)
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before


def _on_both_engines(
    frame: pd.DataFrame, tmp_path: Path, client: Client
) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """``score -i ppai`` of ``frame`` (a Parquet file of 100-row groups) on both engines: the
    quarantine in memory (its CSV, text cells), on Dask (its Parquet dataset), and the output."""
    source = write_parquet_file(frame, tmp_path / "in.parquet", row_group_rows=100)
    address = str(client.scheduler_info()["address"])
    common = ["score", "-i", "ppai", str(source), "--id-column", "respondent_id"]
    code, out_m, err_m = _run([*common, "-o", str(tmp_path / "m.parquet"), "--engine", "memory"])
    assert code == 0, err_m
    code, out_d, err_d = _run(
        [*common, "-o", str(tmp_path / "d"), "--engine", "dask", "--scheduler", address]
    )
    assert code == 0, err_d
    memory = pd.read_csv(tmp_path / "m.quarantine.csv", dtype=str, keep_default_na=False)
    dask_folder = quarantine_folder(tmp_path / "d")
    on_dask = pd.concat([pd.read_parquet(p) for p in sorted(dask_folder.iterdir())])
    return memory, on_dask, "\n".join([out_m, err_m, out_d, err_d])


@pytest.mark.parametrize("dtype", ["Int64", "float64"])
def test_off_scale_values_read_the_same_on_both_engines(
    ppai: Instrument, tmp_path: Path, dask_session_client: Client, dtype: str
) -> None:
    """An off-scale 7 in a Parquet file is shown alike by ``score --engine memory`` and
    ``--engine dask``, for whole-number and floating columns (the tryout saw 7.0 vs 7)."""
    frame = surveytool.simulate(ppai, surveytool.SimulationSpec(n=300, seed=5, missing=0.0))
    for item in ppai.items:
        frame[item.id] = frame[item.id].astype("Int64" if dtype == "Int64" else "float64")
    frame.loc[[3, 250], "DS1"] = 7
    memory, on_dask, _ = _on_both_engines(frame, tmp_path, dask_session_client)
    shown = sorted(memory.loc[memory["column"] == "DS1", "value"])
    assert shown == sorted(on_dask.loc[on_dask["column"] == "DS1", "value"].astype(str))
    assert len(shown) == 2


def test_identifiers_in_item_cells_are_redacted_alike_on_both_engines(
    ppai: Instrument, tmp_path: Path, dask_session_client: Client
) -> None:
    """Names, phone numbers, postcodes, e-mail and IP addresses typed into item cells reach
    neither quarantine (the CSV in memory, the Parquet dataset on Dask) nor the console."""
    secrets = ["Maria", "Gonzalez, Maria", "call 07700900123", "SW1A 2AA", "m@example.org"]
    secrets.append("10.1.2.3")
    frame = surveytool.simulate(ppai, surveytool.SimulationSpec(n=300, seed=5, missing=0.0))
    frame["DS1"] = frame["DS1"].astype(object)
    rows = [3, 60, 110, 170, 230, 290]  # spread over the partitions
    frame.loc[rows, "DS1"] = secrets
    frame.loc[5, "DS1"] = "9x"
    frame["DS1"] = frame["DS1"].astype(str)
    memory, on_dask, output = _on_both_engines(frame, tmp_path, dask_session_client)
    for shown in (memory, on_dask):
        ds1 = shown[shown["column"] == "DS1"]
        assert sorted(ds1["row"].astype(int)) == sorted([*[r + 1 for r in rows], 6])
        assert ds1["value"].str.startswith("<redacted: looks like ").sum() == len(secrets)
        assert "9x" in ds1["value"].tolist()
    for text in (memory.to_csv(), on_dask.to_csv(), output):
        for secret in [*secrets, "07700900123", "SW1A", "Gonzalez", "10.1.2"]:
            assert secret not in text
    assert [m.groups() for m in COUNTS.finditer(output)] == [("300", "300", "0")] * 2
