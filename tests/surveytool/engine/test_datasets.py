"""Parquet datasets read as Dask DataFrames: pieces, offsets, the in-memory reader's values, and
clear refusals of bad folders and files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from distributed import Client

from surveytool.engine import EngineError, read_dataset
from surveytool.instrument.registry import load_instrument
from surveytool.io.sources import read_source
from surveytool.scoring.simulate import SimulationSpec, simulate
from tests.datasets import write_parquet_file


@pytest.fixture(scope="module")
def answers() -> pd.DataFrame:
    frame = simulate(load_instrument("ppai"), SimulationSpec(n=300, seed=5, missing=0.05))
    frame["site"] = ["north", "south", None][0:1] * 100 + ["south"] * 100 + [None] * 100
    return frame


def test_folder_pieces_offsets_and_values(
    answers: pd.DataFrame,
    parquet_dataset: Callable[..., Path],
    tmp_path: Path,
    dask_client: Client,
) -> None:
    folder = parquet_dataset(answers, files=3, row_group_rows=40)
    data = read_dataset(folder, text_columns=["respondent_id", "site"], partition_rows=80)
    # 100 rows per file in row groups of 40, 40, 20: pieces of at most 80 rows, never across files
    assert [p.rows for p in data.pieces] == [80, 20] * 3
    assert [p.row_groups for p in data.pieces] == [(0, 1), (2,)] * 3
    assert data.offsets == (0, 80, 100, 180, 200, 280)
    assert data.rows == 300 and data.frame.npartitions == 6
    # the partitions hold what the in-memory reader holds for the same rows
    whole = write_parquet_file(answers, tmp_path / "whole.parquet", row_group_rows=1000)
    expected = read_source(whole, text_columns=["respondent_id", "site"]).frame
    got = data.frame.compute().reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected)
    assert list(data.frame.dtypes) == list(expected.dtypes)


def test_one_file_read_by_row_groups(answers: pd.DataFrame, tmp_path: Path) -> None:
    path = write_parquet_file(answers, tmp_path / "big.parquet", row_group_rows=50)
    data = read_dataset(path, columns=["respondent_id", "DS5"], partition_rows=120)
    assert [p.rows for p in data.pieces] == [100, 100, 100]
    assert data.columns == ("respondent_id", "DS5")
    from surveytool.engine import cluster

    with cluster(synchronous=True):
        got = data.frame.compute()
    assert list(got.columns) == ["respondent_id", "DS5"]
    assert got["DS5"].tolist() == answers["DS5"].tolist()


def test_bad_folders_and_files(answers: pd.DataFrame, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "_SUCCESS").write_text("")
    with pytest.raises(EngineError, match=r"holds no Parquet files"):
        read_dataset(empty)
    with pytest.raises(EngineError, match=r"no such file or folder"):
        read_dataset(tmp_path / "nowhere")

    broken = tmp_path / "broken"
    write_parquet_file(answers.iloc[:10], broken / "part-0.parquet")
    (broken / "part-1.parquet").write_text("respondent_id,DS5\nR1,3\n")
    with pytest.raises(EngineError, match=r"part-1\.parquet: cannot read it as Parquet"):
        read_dataset(broken)

    mixed = tmp_path / "mixed"
    write_parquet_file(answers.iloc[:10], mixed / "part-0.parquet")
    write_parquet_file(answers.iloc[10:20].drop(columns=["DS5"]), mixed / "part-1.parquet")
    with pytest.raises(EngineError, match=r"part-1\.parquet: its columns differ .* lacks .*'DS5'"):
        read_dataset(mixed)

    typed = tmp_path / "typed"
    write_parquet_file(answers.iloc[:10], typed / "part-0.parquet")
    write_parquet_file(answers.iloc[10:20].astype({"DS5": "float64"}), typed / "part-1.parquet")
    with pytest.raises(EngineError, match=r"its column 'DS5' is double, not int64"):
        read_dataset(typed)

    good = write_parquet_file(answers.iloc[:10], tmp_path / "good" / "part-0.parquet").parent
    with pytest.raises(EngineError, match=r"'nope' are not in the dataset"):
        read_dataset(good, columns=["DS5", "nope"])
    with pytest.raises(EngineError, match=r"'id' are not in the dataset"):
        read_dataset(good, text_columns=["id"])

    hive = tmp_path / "hive"
    write_parquet_file(answers.iloc[:10], hive / "site=north" / "part-0.parquet")
    with pytest.raises(EngineError, match=r"Hive-partitioned"):
        read_dataset(hive)


def test_dtypes_decided_by_the_schema_not_by_the_rows_read(tmp_path: Path) -> None:
    """A file that pandas did not write (no pandas metadata): pyarrow's own ``to_pandas`` gives
    an integer column int64 in a row group without nulls and float64 in one with nulls (and
    rounds integers beyond 2**53). Read whole and by row groups, every piece is Int64, exact."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    big = 2**53 + 1
    table = pa.table(
        {
            "respondent_id": pa.array([big, big + 2, 3, 4, 5, 6], type=pa.int64()),
            "DS5": pa.array([1, 2, 3, None, 4, 5], type=pa.int64()),
            "score": pa.array([1.5, None, 2.0, 3.0, 4.0, 5.0], type=pa.float64()),
        }
    )
    path = tmp_path / "other-tool.parquet"
    pq.write_table(table, path, row_group_size=3)
    assert pq.ParquetFile(path).read_row_group(0).to_pandas()["DS5"].dtype == "int64"
    assert pq.ParquetFile(path).read_row_group(1).to_pandas()["DS5"].dtype == "float64"

    whole = read_source(path).frame
    assert whole["respondent_id"].dtype == "Int64" and whole["DS5"].dtype == "Int64"
    assert whole["score"].dtype == "float64"
    assert whole["respondent_id"].tolist() == [big, big + 2, 3, 4, 5, 6]
    assert whole["DS5"].tolist() == [1, 2, 3, pd.NA, 4, 5]
    data = read_dataset(path, partition_rows=3)
    assert [p.rows for p in data.pieces] == [3, 3]
    from surveytool.engine import cluster

    with cluster(synchronous=True):
        pieces = [part.compute() for part in data.frame.partitions]
    for piece in pieces:
        assert list(piece.dtypes) == list(whole.dtypes) == list(data.frame.dtypes)
    pd.testing.assert_frame_equal(pd.concat(pieces, ignore_index=True), whole)


def test_a_file_pandas_wrote_is_read_as_pandas_reads_it(tmp_path: Path) -> None:
    """Each number or boolean column's dtype as ``DataFrame.to_parquet`` recorded it: nullable
    integers, floats and booleans, numpy integers and floats (text is read_source's own, blank
    and missing as <NA>)."""
    frame = pd.DataFrame(
        {
            "i": pd.array([1, None, 3], dtype="Int64"),
            "f": pd.array([1.5, None, 2.0], dtype="Float64"),
            "b": pd.array([True, None, False], dtype="boolean"),
            "n": np.array([1, 2, 3], dtype=np.int64),
            "x": [1.0, np.nan, 2.5],
            "t": ["a", None, "c"],
        }
    )
    path = tmp_path / "pandas.parquet"
    frame.to_parquet(path)
    got = read_source(path).frame
    expected = pd.read_parquet(path)
    numbers = ["i", "f", "b", "n", "x"]
    assert list(got[numbers].dtypes) == list(expected[numbers].dtypes)
    pd.testing.assert_frame_equal(got[numbers], expected[numbers], check_column_type=False)
    assert got["t"].tolist() == ["a", pd.NA, "c"]
