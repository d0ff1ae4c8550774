"""Parquet datasets as Dask DataFrames with bounded partitions.

A *dataset* is a folder of Parquet files (``part-0.parquet``, ``part-1.parquet`` ...; the names
Spark, Dask and pyarrow write) or one large Parquet file. :func:`read_dataset` reads its footers
only (never its data) and makes one partition per *piece*: consecutive row groups of one file
holding up to ``partition_rows`` rows (a row group is never split, so a file written as one
10-million-row group is one 10-million-row partition: write files with smaller row groups).
Each partition is read by :func:`read_piece` and given :func:`surveytool.io.sources.parquet_frame`,
so it holds exactly what the in-memory reader (:func:`~surveytool.io.sources.read_source`) holds
for the same rows.

Because the pieces come from the footers, the number of rows of every partition and its first
row's number in the whole dataset (:attr:`Dataset.offsets`) are known before any data is read:
the scoring engine numbers rows across partitions with them, as the in-memory path numbers them
in one table (1 for the first data row of the first file; files in name order).

Files whose name starts with ``.`` or ``_`` (``_SUCCESS``, ``_metadata``) are skipped, and so are
subfolders (a Hive-partitioned layout ``key=value/`` is refused: its keys would be lost). Every
file must have the same columns with the same types; a folder with none, a file that is not
Parquet, or columns that differ between files is a :class:`~surveytool.engine.cluster.EngineError`
naming the file and what to do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from surveytool.engine.cluster import EngineError

if TYPE_CHECKING:
    import dask.dataframe as dd
    import pandas as pd
    import pyarrow as pa

#: Rows per partition (at most; whole row groups): 250,000 respondents of a 58-item instrument
#: are about 130 MB of answers, and scoring them needs a few times that, well inside a 2 GB worker.
PARTITION_ROWS = 250_000

PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass(frozen=True)
class Piece:
    """One partition: row groups ``row_groups`` of ``path``, ``rows`` rows in all."""

    path: Path
    row_groups: tuple[int, ...]
    rows: int


@dataclass(frozen=True)
class Dataset:
    """A Parquet dataset read lazily: ``frame`` has one partition per piece of ``pieces``.

    ``columns`` and ``text_columns`` are the columns read and those read as text (ids, groups);
    ``schema`` is the files' common Arrow schema (without metadata).
    """

    path: Path
    files: tuple[Path, ...]
    pieces: tuple[Piece, ...]
    schema: pa.Schema
    columns: tuple[str, ...]
    text_columns: tuple[str, ...]
    frame: dd.DataFrame

    @property
    def rows(self) -> int:
        """Rows in the whole dataset."""
        return sum(p.rows for p in self.pieces)

    @property
    def offsets(self) -> tuple[int, ...]:
        """Rows before each partition (0 for the first): partition ``i``'s first row is row
        ``offsets[i] + 1`` of the dataset."""
        out, total = [], 0
        for piece in self.pieces:
            out.append(total)
            total += piece.rows
        return tuple(out)

    @property
    def npartitions(self) -> int:
        return len(self.pieces)


def dataset_files(path: str | Path) -> list[Path]:
    """The Parquet files of a dataset folder (name order), or ``[path]`` for one file."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.exists():
        raise EngineError(f"{path}: no such file or folder; check the path")
    if not path.is_dir():
        raise EngineError(f"{path}: neither a file nor a folder")
    files, folders = [], []
    for entry in sorted(path.iterdir(), key=lambda p: p.name):
        if entry.name.startswith((".", "_")):
            continue
        if entry.is_dir():
            folders.append(entry)
        elif entry.suffix.lower() in PARQUET_SUFFIXES:
            files.append(entry)
    if folders and any(f.name.count("=") == 1 for f in folders):
        raise EngineError(
            f"{path}: a Hive-partitioned folder ({folders[0].name}/ ...) is not read, its keys "
            "would be lost; write the dataset as plain files in one folder"
        )
    if not files:
        inside = f" (its subfolders {', '.join(f.name for f in folders[:3])} are not read)"
        raise EngineError(
            f"{path}: the folder holds no Parquet files (*.parquet, *.pq)"
            f"{inside if folders else ''}; give a folder of Parquet files, or one file"
        )
    return files


def _footer(path: Path) -> Any:
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except Exception as exc:  # pyarrow's errors: one line
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EngineError(
            f"{path}: cannot read it as Parquet ({reason}); remove the file from the folder or "
            "write it again"
        ) from None


def _schema_difference(first: pa.Schema, other: pa.Schema) -> str:
    names, others = list(first.names), list(other.names)
    missing = [n for n in names if n not in others]
    extra = [n for n in others if n not in names]
    if missing:
        return f"it lacks the column(s) {', '.join(map(repr, missing[:5]))}"
    if extra:
        return f"it has the extra column(s) {', '.join(map(repr, extra[:5]))}"
    for name in names:
        a, b = first.field(name).type, other.field(name).type
        if a != b:
            return f"its column {name!r} is {b}, not {a}"
    return "its columns are in another order"


def pieces_of(
    files: Sequence[Path], partition_rows: int = PARTITION_ROWS
) -> tuple[Any, list[Piece]]:
    """The common schema of ``files`` (the first file's, with its pandas metadata) and their
    pieces; refuses files whose columns or types differ."""
    if partition_rows < 1:
        raise EngineError(f"partition rows must be at least 1 (got {partition_rows})")
    schema = None
    pieces: list[Piece] = []
    for path in files:
        footer = _footer(path)
        this = footer.schema_arrow
        if schema is None:
            schema = this
        elif not this.remove_metadata().equals(schema.remove_metadata()):
            raise EngineError(
                f"{path}: its columns differ from those of {files[0].name} "
                f"({_schema_difference(schema, this)}); every file of a dataset needs the same "
                "columns with the same types"
            )
        meta = footer.metadata
        group: list[int] = []
        rows = 0
        for i in range(meta.num_row_groups):
            n = meta.row_group(i).num_rows
            if group and rows + n > partition_rows:
                pieces.append(Piece(path, tuple(group), rows))
                group, rows = [], 0
            group.append(i)
            rows += n
        if group and rows:
            pieces.append(Piece(path, tuple(group), rows))
    return schema, pieces


def read_piece(
    piece: Piece,
    columns: Sequence[str] | None = None,
    text_columns: Sequence[str] = (),
    schema: Any = None,
) -> pd.DataFrame:
    """One partition in memory: the piece's row groups, as the in-memory reader gives them.

    ``schema`` (the dataset's, default the piece's file's) decides each column's dtype
    (:func:`surveytool.io.sources.arrow_frame`), so every partition has the dtypes of the meta.
    """
    import pyarrow.parquet as pq

    from surveytool.io.sources import parquet_frame

    table = pq.ParquetFile(piece.path).read_row_groups(
        list(piece.row_groups), columns=list(columns) if columns is not None else None
    )
    return parquet_frame(table, text_columns=text_columns, schema=schema)


def _empty_piece(schema: Any, columns: Sequence[str] | None, text_columns: Sequence[str]) -> Any:
    from surveytool.io.sources import parquet_frame

    table = schema.empty_table()
    if columns is not None:
        table = table.select(list(columns))
    return parquet_frame(table, text_columns=text_columns)


def read_dataset(
    path: str | Path,
    *,
    columns: Sequence[str] | None = None,
    text_columns: Sequence[str] = (),
    partition_rows: int = PARTITION_ROWS,
) -> Dataset:
    """A Parquet folder or file as a :class:`Dataset` (a Dask DataFrame and its pieces).

    Parameters
    ----------
    path
        A folder of Parquet files, or one Parquet file (read by row groups).
    columns
        The columns to read (default all); a column that is not in the files is refused.
    text_columns
        Columns read as text (ids, groups), as :func:`~surveytool.io.sources.read_source` reads
        them.
    partition_rows
        At most this many rows per partition (whole row groups; see the module docstring).
    """
    import dask
    import dask.dataframe as dd

    path = Path(path)
    files = dataset_files(path)
    schema, pieces = pieces_of(files, partition_rows)
    names = list(schema.names)
    if columns is not None:
        missing = [c for c in columns if c not in names]
        if missing:
            raise EngineError(
                f"{path}: the column(s) {', '.join(map(repr, missing[:10]))} are not in the "
                f"dataset; its columns are: {', '.join(names[:30])}"
            )
    absent = [c for c in text_columns if c not in names]
    if absent:
        raise EngineError(
            f"{path}: the column(s) {', '.join(map(repr, absent[:10]))} are not in the dataset; "
            f"its columns are: {', '.join(names[:30])}"
        )
    if not pieces:
        raise EngineError(f"{path}: the dataset has columns but no rows")
    chosen = tuple(columns) if columns is not None else tuple(names)
    texts = tuple(c for c in text_columns if c in chosen)
    meta = _empty_piece(schema, columns, texts)
    with dask.config.set({"dataframe.convert-string": False}):  # text stays as read_source's
        frame = dd.from_map(
            read_piece,
            list(pieces),
            columns=list(chosen) if columns is not None else None,
            text_columns=texts,
            schema=schema,
            meta=meta,
            divisions=None,
            label="read-survey-parquet",
            enforce_metadata=False,
        )
    return Dataset(
        path=path,
        files=tuple(files),
        pieces=tuple(pieces),
        schema=schema.remove_metadata(),
        columns=chosen,
        text_columns=texts,
        frame=frame,
    )
