"""Fixtures shared by every test folder (``tests/surveytool/...`` and ``tests/analysis/...``).

Dask: ``dask_client`` is one :class:`distributed.LocalCluster` for the whole session (processes,
two workers, one thread each, 1 GB each; closed at the end of the session), made by
:func:`surveytool.engine.cluster` and made Dask's default scheduler for the test that asks for
it (only that test: others run where they say, e.g. ``cluster(synchronous=True)``).
``parquet_dataset`` writes a frame as a folder of Parquet files (see :mod:`tests.datasets`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import pandas as pd
    from distributed import Client


@pytest.fixture(scope="session")
def dask_session_client() -> Iterator[Client]:
    """The session's LocalCluster client (not activated; use ``dask_client`` in a test)."""
    from surveytool.engine import cluster

    with cluster(workers=2, memory_limit="1GB", threads_per_worker=1, default=False) as client:
        assert client is not None
        yield client


@pytest.fixture
def dask_client(dask_session_client: Client) -> Iterator[Client]:
    """The session's LocalCluster (two worker processes), Dask's default scheduler in this test."""
    from surveytool.engine import activate

    with activate(dask_session_client):
        yield dask_session_client


@pytest.fixture
def parquet_dataset(tmp_path: Path) -> Callable[..., Path]:
    """``make(frame, files=3, row_group_rows=1000, name="dataset")`` -> a Parquet folder."""
    from tests.datasets import write_parquet_dataset

    def make(
        frame: pd.DataFrame, files: int = 3, row_group_rows: int = 1000, name: str = "dataset"
    ) -> Path:
        return write_parquet_dataset(
            frame, tmp_path / name, files=files, row_group_rows=row_group_rows
        )

    return make
