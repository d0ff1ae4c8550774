"""Parquet datasets on disk for the Dask tests: one frame written as several files and row groups.

    folder = write_parquet_dataset(frame, tmp_path / "responses", files=3, row_group_rows=40)

The files are ``part-000.parquet`` ... in row order (the engine reads files in name order), each
with row groups of at most ``row_group_rows`` rows, so a test exercises partitions that span files
and row groups. :func:`write_parquet_file` writes one file with several row groups.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def write_parquet_file(frame: pd.DataFrame, path: Path, *, row_group_rows: int = 1000) -> Path:
    """``frame`` as one Parquet file with row groups of at most ``row_group_rows`` rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, path, row_group_size=max(1, row_group_rows))
    return path


def write_parquet_dataset(
    frame: pd.DataFrame, folder: Path, *, files: int = 3, row_group_rows: int = 1000
) -> Path:
    """``frame`` split in row order into ``files`` Parquet files in ``folder`` (created)."""
    folder.mkdir(parents=True, exist_ok=True)
    bounds = np.linspace(0, len(frame), files + 1).round().astype(int)
    for i in range(files):
        part = frame.iloc[bounds[i] : bounds[i + 1]]
        write_parquet_file(part, folder / f"part-{i:03d}.parquet", row_group_rows=row_group_rows)
    return folder
