"""The engine's schedulers: the session LocalCluster, an existing cluster by address, the
synchronous scheduler, the choice of engine, and clear refusals."""

from __future__ import annotations

import os
from pathlib import Path

import dask
import dask.dataframe as dd
import pandas as pd
import pytest
from distributed import Client

from surveytool.engine import (
    DASK_ROWS,
    EngineError,
    choose_engine,
    cluster,
    dask_threshold,
    parse_memory_limit,
)
from tests.datasets import write_parquet_file


def _pids(frame: dd.DataFrame) -> set[int]:
    def pid(part: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"pid": [os.getpid()]})

    return set(frame.map_partitions(pid, meta={"pid": "int64"}).compute()["pid"])


def test_session_cluster_runs_tasks_in_two_worker_processes(dask_client: Client) -> None:
    info = dask_client.scheduler_info()
    assert len(info["workers"]) == 2
    assert all(w["nthreads"] == 1 for w in info["workers"].values())
    frame = dd.from_pandas(pd.DataFrame({"a": range(64)}), npartitions=8)
    pids = _pids(frame)
    assert os.getpid() not in pids and 1 <= len(pids) <= 2


def test_existing_cluster_by_address(dask_session_client: Client) -> None:
    address = str(dask_session_client.scheduler_info()["address"])
    frame = dd.from_pandas(pd.DataFrame({"a": range(10)}), npartitions=2)
    with cluster(scheduler=address) as client:
        assert client is not None and client.scheduler_info()["address"] == address
        assert int(frame["a"].sum().compute()) == 45
        assert os.getpid() not in _pids(frame)
    assert dask.config.get("scheduler", None) is None


def test_synchronous_runs_here() -> None:
    frame = dd.from_pandas(pd.DataFrame({"a": range(10)}), npartitions=3)
    with cluster(synchronous=True) as client:
        assert client is None
        assert _pids(frame) == {os.getpid()}


def test_refusals() -> None:
    with (
        pytest.raises(EngineError, match=r"workers must be a whole number of at least 1"),
        cluster(workers=0),
    ):
        pass
    with (
        pytest.raises(
            EngineError, match=r"cannot reach the Dask scheduler at 'tcp://127\.0\.0\.1:9'"
        ),
        cluster(scheduler="tcp://127.0.0.1:9", connect_timeout=1),
    ):
        pass
    assert parse_memory_limit("2GB") == 2_000_000_000
    assert parse_memory_limit("1.5GiB") == 1.5 * 2**30
    assert parse_memory_limit(None) is None
    for bad in ("lots", "2XB", "10MB"):
        with pytest.raises(EngineError, match=r"memory limit"):
            parse_memory_limit(bad)


def test_choose_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    frame = pd.DataFrame({"FF1": range(50)})
    small = write_parquet_file(frame, tmp_path / "small.parquet")
    csv = tmp_path / "a.csv"
    csv.write_text("FF1\n1\n")
    assert choose_engine("memory", tmp_path) == "memory"
    assert choose_engine("dask", csv) == "dask"
    assert choose_engine("auto", tmp_path) == "dask"  # a folder is a dataset
    assert choose_engine("auto", csv) == "memory"
    assert dask_threshold() == DASK_ROWS
    assert choose_engine("auto", small) == "memory"
    monkeypatch.setenv("SURVEYTOOL_DASK_ROWS", "49")
    assert choose_engine("auto", small) == "dask"
    monkeypatch.setenv("SURVEYTOOL_DASK_ROWS", "many")
    with pytest.raises(EngineError, match=r"SURVEYTOOL_DASK_ROWS='many' is not a row count"):
        choose_engine("auto", small)
    with pytest.raises(EngineError, match=r"unknown engine 'spark'"):
        choose_engine("spark", small)
