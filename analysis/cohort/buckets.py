"""Repeated keys and ledger duplicates of a streaming import, in memory bounded by a bucket.

The streaming import (:mod:`analysis.cohort.streaming`) stages the new rows as one Parquet file
per partition, each row with its ledger key (``_key``: the pseudonym, and the waves) and its
source row (``_row``). Two questions need every key at once:

1. which rows repeat a key of an earlier row of the same import (the first row of each key, by
   source row, is kept; a later one is quarantined, ``duplicate_respondent_id``), and
2. which of the rows kept are in the cohort's ledger already (``duplicates``: counted, not added).

A hash join on Dask shuffled the whole rows of both sides (10 million × 58 columns against a
10-million-key ledger ran out of memory on 2 GB workers). Here only the keys move, on disk, and
each side is **hash-partitioned by key into the same number of buckets** (``pandas.util.
hash_array``, SipHash with pandas' fixed key: the same bucket in every process, whatever
``PYTHONHASHSEED``):

- *split* (one task per staged file and per ledger file): the keys, with the row and the
  position of the row in its staged file, written as one small Parquet file per bucket;
- *match* (one task per bucket): the bucket's staged keys sorted by (key, row); the first row of
  each run of equal keys is the first of that key (every row of a key is in one bucket), the
  rest repeat it; the first rows are looked up in the bucket's ledger keys
  (:func:`pyarrow.compute.is_in`, an Arrow hash table, no Python strings). The positions to drop
  are written per staged file; the task returns the number of duplicates and the repeated rows'
  positions with the row of their first occurrence (what the quarantine report needs).

Memory: a match task holds one bucket of both sides (at most about ``bucket_rows`` keys each,
as Arrow strings), a split task one staged or ledger file; the client only the repeated rows'
positions (the duplicates' positions stay on disk). Everything is written under the import's
staging folder (0700, removed before the commit, or with the generation on failure).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import pyarrow as pa

#: Keys per bucket (of the larger side) the match tasks aim at; 10 million keys: 10 buckets.
BUCKET_ROWS: Final = 1_000_000

KEY: Final = "_key"
ROW: Final = "_row"
_FILE_SHIFT: Final = 32  # a position: staged file index << 32 | row position in that file
_MODE: Final = 0o700


@dataclass(frozen=True)
class Matched:
    """What the match found over every bucket (see the module docstring)."""

    duplicates: int
    #: positions (file << 32 | row in file) of the rows repeating an earlier row's key
    later: np.ndarray
    #: for each of those, the source row of the key's first occurrence
    first: np.ndarray
    #: the folder of the positions to drop, one folder per staged file (``f00012/*.npy``)
    drops: Path

    def drop_folder(self, index: int) -> Path:
        return self.drops / f"f{index:05d}"


def bucket_count(new_rows: int, old_keys: int, bucket_rows: int = BUCKET_ROWS) -> int:
    """Buckets so that neither side holds more than about ``bucket_rows`` keys in one."""
    return max(1, math.ceil(max(new_rows, old_keys) / max(1, bucket_rows)))


def bucket_of(keys: pa.Array | pa.ChunkedArray, buckets: int) -> np.ndarray:
    """The bucket of every key, ``0 .. buckets - 1``; the same in every process."""
    values = np.asarray(keys.to_numpy(zero_copy_only=False), dtype=object)
    hashed = pd.util.hash_array(values, categorize=False)
    return (hashed % np.uint64(buckets)).astype(np.int64)


def _mkdir(path: Path) -> None:
    path.mkdir(mode=_MODE, parents=True, exist_ok=True)


def write_buckets(table: pa.Table, buckets: int, folder: Path, name: str) -> None:
    """The rows of ``table`` (column ``key`` and others) as ``folder/bNNNN/name.parquet``."""
    import pyarrow.parquet as pq

    if table.num_rows == 0:
        return
    which = bucket_of(table.column("key"), buckets)
    order = np.argsort(which, kind="stable")
    counts = np.bincount(which, minlength=buckets)
    ordered = table.take(order)
    start = 0
    for b, count in enumerate(counts):
        if count:
            target = folder / f"b{b:04d}"
            _mkdir(target)
            pq.write_table(ordered.slice(start, int(count)), target / f"{name}.parquet")
            os.chmod(target / f"{name}.parquet", 0o600)
            start += int(count)


def split_staged(path: str, index: int, buckets: int, folder: str) -> int:
    """A staged file's keys, rows and positions into the new side's buckets (a task)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    staged = pq.read_table(path, columns=[KEY, ROW])
    n = int(staged.num_rows)
    positions = (np.int64(index) << _FILE_SHIFT) + np.arange(n, dtype=np.int64)
    table = pa.table(
        {"key": staged.column(KEY), "row": staged.column(ROW), "pos": pa.array(positions)}
    )
    write_buckets(table, buckets, Path(folder), f"f{index:05d}")
    return n


def split_ledger(path: str, index: int, buckets: int, folder: str) -> int:
    """A ledger file's keys into the old side's buckets (a task)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=["key"])
    keys = table.column(0)
    write_buckets(pa.table({"key": keys}), buckets, Path(folder), f"l{index:05d}")
    return int(table.num_rows)


def _read_bucket(folder: Path, columns: list[str]) -> pa.Table | None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    if not files:
        return None
    return pa.concat_tables([pq.read_table(f, columns=columns) for f in files])


def match_bucket(b: int, root: str, repeats: bool) -> tuple[int, np.ndarray, np.ndarray]:
    """One bucket: repeated keys (when ``repeats``), then the ledger lookup (a task).

    Returns the number of duplicates, and the positions and first rows of the repeated rows;
    writes the positions to drop under ``root/drop/fNNNNN/bNNNN.npy``.
    """
    import pyarrow.compute as pc

    base = Path(root)
    none = np.array([], dtype=np.int64)
    new = _read_bucket(base / "new" / f"b{b:04d}", ["key", "row", "pos"])
    if new is None or new.num_rows == 0:
        return 0, none, none
    new = new.sort_by([("key", "ascending"), ("row", "ascending"), ("pos", "ascending")])
    keys = new.column("key").combine_chunks()
    rows = new.column("row").to_numpy()
    positions = new.column("pos").to_numpy()
    n = len(keys)
    later = np.zeros(n, dtype=bool)
    first = rows
    if repeats and n > 1:
        starts = np.ones(n, dtype=bool)
        differs = pc.not_equal(keys.slice(1), keys.slice(0, n - 1))
        starts[1:] = differs.to_numpy(zero_copy_only=False)
        run = np.cumsum(starts) - 1
        first = rows[np.flatnonzero(starts)][run]
        later = ~starts
    dup = np.zeros(n, dtype=bool)
    old = _read_bucket(base / "old" / f"b{b:04d}", ["key"])
    if old is not None and old.num_rows:
        kept = np.flatnonzero(~later)
        found = pc.is_in(keys.take(kept), value_set=old.column("key").combine_chunks())
        dup[kept] = found.to_numpy(zero_copy_only=False)
    drop = positions[later | dup]
    files = drop >> _FILE_SHIFT
    for f in np.unique(files):
        target = base / "drop" / f"f{int(f):05d}"
        _mkdir(target)
        inside = np.sort(drop[files == f] & ((np.int64(1) << _FILE_SHIFT) - 1))
        np.save(target / f"b{b:04d}.npy", inside)
    return int(dup.sum()), positions[later], first[later]


def match_keys(
    root: Path,
    staged: list[str],
    ledger_files: list[Path],
    new_rows: int,
    old_keys: int,
    repeats: bool,
    bucket_rows: int = BUCKET_ROWS,
) -> Matched:
    """Split both sides into buckets and match each bucket, on Dask's current scheduler.

    ``staged`` are the staged files (index = position in this list), ``ledger_files`` the
    ledger's key files (the cohort dataset's ``ledger/respondents/*.parquet``).
    """
    import importlib

    dask: Any = importlib.import_module("dask")
    buckets = bucket_count(new_rows, old_keys, bucket_rows)
    for side in ("new", "old", "drop"):
        _mkdir(root / side)
    tasks = [
        dask.delayed(split_staged)(path, i, buckets, str(root / "new"))
        for i, path in enumerate(staged)
    ]
    tasks += [
        dask.delayed(split_ledger)(str(path), j, buckets, str(root / "old"))
        for j, path in enumerate(ledger_files)
    ]
    dask.compute(*tasks)
    found = dask.compute(
        *[dask.delayed(match_bucket)(b, str(root), repeats) for b in range(buckets)]
    )
    duplicates = sum(int(d) for d, _, _ in found)
    later = np.concatenate([np.asarray(p, dtype=np.int64) for _, p, _ in found])
    first = np.concatenate([np.asarray(r, dtype=np.int64) for _, _, r in found])
    return Matched(duplicates, later, first, root / "drop")


def kept_rows(path: str, drops: str, columns: list[str]) -> pd.DataFrame:
    """A staged file's rows without those to drop (a partition of the fresh rows)."""
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=columns)
    folder = Path(drops)
    files = sorted(folder.glob("*.npy")) if folder.is_dir() else []
    if files:
        keep = np.ones(table.num_rows, dtype=bool)
        keep[np.concatenate([np.load(f) for f in files])] = False
        table = table.filter(keep)
    return _objects(table.to_pandas())


def picked_rows(
    path: str, positions: np.ndarray, first: np.ndarray, columns: list[str]
) -> pd.DataFrame:
    """The rows at ``positions`` of a staged file, with ``_first`` (a task)."""
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=columns).take(positions)
    frame = _objects(table.to_pandas())
    frame["_first"] = first
    return frame


def position_in_file(positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(staged file index, row position in that file) of each position."""
    return positions >> _FILE_SHIFT, positions & ((np.int64(1) << _FILE_SHIFT) - 1)


def _objects(frame: pd.DataFrame) -> pd.DataFrame:
    """Arrow's text columns as ``str``/``None`` objects (the cohort's convention)."""
    for col in frame.columns:
        if frame[col].dtype != object and not pd.api.types.is_numeric_dtype(frame[col].dtype):
            frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    return frame
