"""Cohorts of any size: one reader for both forms, and the cohort-as-dataset writer.

A cohort comes in two forms, and :func:`open_cohort` reads both:

- **file** (``cohort.parquet``, the original form, still written for an output ending in
  ``.parquet``): one Parquet file whose ``surveytool`` key holds the
  :class:`~analysis.cohort.ledger.CohortMetadata` with the whole ledger (35 bytes per respondent
  inside the file's metadata, which bounds it to small cohorts).
- **dataset** (any other output path, a folder; what the Dask engine writes)::

      cohort/                       folder, mode 0700
        cohort.json                 the metadata (instrument id/version/hash, layout, key
                                    fingerprint, disclosure report, last import) and the name
                                    of the current generation; replaced atomically
        g000002/                    one generation: what one import wrote
          rows/part-00000.parquet   the rows, the same columns and types as the file form
          ledger/imports.parquet    one row per imported file (ImportEntry fields)
          ledger/respondents/part-00000.parquet   column ``key``: every respondent key accepted

  Every file is 0600, every folder 0700. An import writes a whole new generation folder beside
  the current one (under a temporary name, renamed when complete), then replaces ``cohort.json``
  with :func:`os.replace` (atomic): a reader sees the old cohort or the new one, and a crash or
  Ctrl-C at any point leaves the old cohort as it was (a leftover temporary or unreferenced
  generation folder is removed by the next import). Old generations are removed after the switch.

The reader API (stable; the cohort report and the Dask engine use it)::

    cohort = open_cohort(path)      # either form; CohortFileError when it is not a cohort
    cohort.form                     # "file" or "dataset"
    cohort.metadata                 # CohortMetadata (its ledger holds the imports; for the
                                    # dataset form its respondents list is left empty)
    cohort.ledger                   # CohortLedger: .imports, .respondents (count), .keys()
                                    # (a pandas Series), .keys_dask(), .next_batch, .file_entry()
    cohort.rows                     # number of rows, from the Parquet footers (no data read)
    cohort.frame()                  # the whole table as pandas (small cohorts), as load_cohort
    cohort.dask()                   # a Dask DataFrame, one partition per file or row group
    cohort.load()                   # a ledger.Cohort (frame + metadata with the full ledger)

Text columns (pseudonym, waves, groups, quasi-identifiers) come back as object columns holding
``str`` or ``None``, items as float64 (NaN = missing), ``import_batch`` as int64, in both forms
and from both ``frame()`` and ``dask()``.

Migration: :func:`migrate_cohort` (``surveytool cohort migrate OLD.parquet NEW``) writes a file
cohort as a dataset with the same rows, metadata and ledger; the old file is left in place.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import pandas as pd
from pydantic import ValidationError

from analysis.cohort.ledger import (
    BATCH_COLUMN,
    NOT_A_COHORT,
    Cohort,
    CohortMetadata,
    ImportEntry,
    Ledger,
    load_cohort,
    text_columns,
)
from analysis.errors import CohortFileError
from surveytool.io.files import fsync_file, fsync_folder, write_text_atomic
from surveytool.io.sources import COHORT_KIND

if TYPE_CHECKING:
    import dask.dataframe as dd
    import pyarrow as pa

METADATA_FILE: Final = "cohort.json"
ROWS: Final = "rows"
LEDGER: Final = "ledger"
IMPORTS_FILE: Final = "imports.parquet"
RESPONDENTS: Final = "respondents"
KEY_COLUMN: Final = "key"
FILE_MODE: Final = 0o600
FOLDER_MODE: Final = 0o700
_GENERATION = re.compile(r"^g(\d{6,})$")

CohortForm = Literal["file", "dataset"]


def is_dataset_path(path: str | Path) -> bool:
    """Whether ``path`` names a cohort dataset (a folder) rather than a cohort file."""
    path = Path(path)
    if path.is_dir():
        return True
    return path.suffix.lower() not in (".parquet", ".pq")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _parquet_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.parquet") if p.is_file())


@dataclass
class CohortLedger:
    """The ledger of either form: imported files, and the key of every respondent accepted."""

    imports: list[ImportEntry]
    _in_memory: Ledger | None = None
    _folder: Path | None = None
    _count: int | None = field(default=None, repr=False)

    @property
    def respondents(self) -> int:
        """How many respondent keys the ledger holds."""
        if self._in_memory is not None:
            return len(self._in_memory.respondents)
        if self._count is None:
            import pyarrow.parquet as pq

            self._count = sum(pq.ParquetFile(p).metadata.num_rows for p in self._files())
        return self._count

    def _files(self) -> list[Path]:
        return [] if self._folder is None else _parquet_files(self._folder)

    def keys(self) -> pd.Series:
        """Every respondent key, in the order accepted (object strings)."""
        if self._in_memory is not None:
            return pd.Series(self._in_memory.respondents, dtype=object, name=KEY_COLUMN)
        import pyarrow.parquet as pq

        files = self._files()
        if not files:
            return pd.Series([], dtype=object, name=KEY_COLUMN)
        column = pq.ParquetDataset([str(p) for p in files]).read([KEY_COLUMN]).column(0)
        return pd.Series(column.to_pylist(), dtype=object, name=KEY_COLUMN)

    def keys_arrow(self) -> pa.ChunkedArray:
        """Every respondent key as an Arrow string column (no Python strings)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self._in_memory is not None:
            return pa.chunked_array([pa.array(self._in_memory.respondents, pa.string())])
        files = self._files()
        if not files:
            return pa.chunked_array([], pa.string())
        return pq.ParquetDataset([str(p) for p in files]).read([KEY_COLUMN]).column(0)

    def keys_dask(self) -> dd.DataFrame:
        """The keys as a Dask DataFrame (column ``key``), one partition per file."""
        import dask

        files = self._files()
        if self._in_memory is not None or not files:
            empty: dd.DataFrame = _dd().from_pandas(self.keys().to_frame(), npartitions=1)
            return empty
        meta = pd.DataFrame({KEY_COLUMN: pd.Series([], dtype=object)})
        with dask.config.set({"dataframe.convert-string": False}):
            keys: dd.DataFrame = _dd().from_map(_read_keys, [str(p) for p in files], meta=meta)
        return keys

    def full(self) -> Ledger:
        """The whole ledger as the in-memory model (small cohorts)."""
        if self._in_memory is not None:
            return self._in_memory
        return Ledger(imports=list(self.imports), respondents=self.keys().tolist())

    def file_entry(self, sha256: str) -> ImportEntry | None:
        """The first import of the file with this hash, if any."""
        return next((e for e in self.imports if e.sha256 == sha256), None)

    @property
    def next_batch(self) -> int:
        return 1 + max((e.batch for e in self.imports), default=0)


@dataclass
class OpenCohort:
    """A cohort on disk, either form (see the module docstring); reads data only when asked."""

    path: Path
    form: CohortForm
    metadata: CohortMetadata
    ledger: CohortLedger
    files: list[Path]  # the Parquet files holding the rows

    @property
    def rows(self) -> int:
        """Number of rows (from the Parquet footers)."""
        import pyarrow.parquet as pq

        return sum(pq.ParquetFile(p).metadata.num_rows for p in self.files)

    @property
    def columns(self) -> list[str]:
        return self.metadata.columns()

    def frame(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The rows as one pandas frame (text columns as ``str``/``None`` objects)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        wanted = list(columns) if columns is not None else None
        try:
            tables = [pq.read_table(p, columns=wanted) for p in self.files]
        except Exception as exc:  # pyarrow's errors: one line
            raise CohortFileError(
                f"{self.path}: its rows cannot be read ({_first_line(exc)})"
            ) from None
        if tables:
            table = pa.concat_tables(tables, promote_options="permissive")
        else:
            table = _empty_table(self.metadata, wanted)
        return text_columns(table.to_pandas(), self.metadata)

    def dask(self, columns: Sequence[str] | None = None) -> dd.DataFrame:
        """The rows as a Dask DataFrame: one partition per file (dataset) or row group (file).

        Partitions are bounded by what the writer put in one file or row group (the dataset
        writer: at most :data:`ROWS_PER_FILE` rows), never the whole cohort.
        """
        import dask

        wanted = list(columns) if columns is not None else None
        meta = self._meta(wanted)
        pieces = self.pieces()
        if not pieces:
            nothing: dd.DataFrame = _dd().from_pandas(meta, npartitions=1)
            return nothing
        with dask.config.set({"dataframe.convert-string": False}):  # str/None, as frame()
            lazy: dd.DataFrame = _dd().from_map(
                _read_piece,
                pieces,
                columns=wanted,
                metadata=self.metadata,
                meta=meta,
                enforce_metadata=False,
            )
        return lazy

    def pieces(self) -> list[tuple[str, int | None]]:
        """The partitions of :meth:`dask`: (file, row group) for the file form, (file, None)."""
        import pyarrow.parquet as pq

        if self.form == "dataset":
            return [(str(p), None) for p in self.files]
        groups = pq.ParquetFile(self.path).metadata.num_row_groups
        return [(str(self.path), g) for g in range(groups)]

    def _meta(self, columns: list[str] | None) -> pd.DataFrame:
        return text_columns(_empty_table(self.metadata, columns).to_pandas(), self.metadata)

    def load(self) -> Cohort:
        """The whole cohort in memory: its frame and its metadata with the full ledger."""
        if self.form == "file":
            return load_cohort(self.path)
        metadata = self.metadata.model_copy(update={"ledger": self.ledger.full()})
        return Cohort(self.path, self.frame(), metadata)


def _dd() -> Any:
    """``dask.dataframe`` (untyped: its calls are made through ``Any``)."""
    import dask.dataframe

    return dask.dataframe


def _read_keys(path: str) -> pd.DataFrame:
    import pyarrow.parquet as pq

    column = pq.read_table(path, columns=[KEY_COLUMN]).column(0)
    return pd.DataFrame({KEY_COLUMN: pd.Series(column.to_pylist(), dtype=object)})


def _read_piece(
    piece: tuple[str, int | None], columns: list[str] | None, metadata: CohortMetadata
) -> pd.DataFrame:
    import pyarrow.parquet as pq

    path, group = piece
    if group is None:
        table = pq.read_table(path, columns=columns)
    else:
        table = pq.ParquetFile(path).read_row_group(group, columns=columns)
    return text_columns(table.to_pandas(), metadata)


def _empty_table(metadata: CohortMetadata, columns: list[str] | None) -> pa.Table:
    import pyarrow as pa

    types: dict[str, pa.DataType] = {}
    for col in metadata.columns():
        if col in metadata.item_columns:
            types[col] = pa.float64()
        elif col == BATCH_COLUMN:
            types[col] = pa.int64()
        else:
            types[col] = pa.string()
    names = columns if columns is not None else list(types)
    return pa.table({c: pa.array([], types.get(c, pa.string())) for c in names})


def open_cohort(path: str | Path) -> OpenCohort:
    """The cohort at ``path``, file or dataset; refuses what is not a cohort (a clear message)."""
    path = Path(path)
    if not path.exists():
        raise CohortFileError(f"{path}: no such cohort (neither a cohort file nor a folder)")
    if path.is_dir():
        return _open_dataset(path)
    cohort = _open_file(path)
    return cohort


def _open_file(path: Path) -> OpenCohort:
    from surveytool.io.tables import read_metadata

    try:
        raw = read_metadata(path)
    except Exception as exc:
        raise CohortFileError(
            f"{path} exists but cannot be read as a cohort ({_first_line(exc)}); {NOT_A_COHORT}"
        ) from None
    if not raw or raw.get("kind") != COHORT_KIND:
        raise CohortFileError(f"{path} exists and is not a surveytool cohort; {NOT_A_COHORT}")
    metadata = _validated(path, raw)
    ledger = CohortLedger(imports=list(metadata.ledger.imports), _in_memory=metadata.ledger)
    return OpenCohort(path, "file", metadata, ledger, [path])


def _validated(path: Path, raw: dict[str, Any]) -> CohortMetadata:
    try:
        return CohortMetadata.model_validate(raw)
    except ValidationError as exc:
        where = ".".join(map(str, exc.errors()[0]["loc"]))
        raise CohortFileError(
            f"{path} exists but its cohort metadata does not fit this version of surveytool "
            f"({where}: {exc.errors()[0]['msg']})"
        ) from None


def _read_pointer(folder: Path) -> dict[str, Any] | None:
    meta_file = folder / METADATA_FILE
    if not meta_file.is_file():
        return None
    try:
        raw = json.loads(meta_file.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise CohortFileError(
            f"{folder}: its {METADATA_FILE} cannot be read ({_first_line(exc)})"
        ) from None
    if not isinstance(raw, dict) or raw.get("kind") != COHORT_KIND:
        raise CohortFileError(f"{folder} is a folder but not a surveytool cohort dataset")
    return raw


def _open_dataset(folder: Path) -> OpenCohort:
    raw = _read_pointer(folder)
    if raw is None:
        raise CohortFileError(
            f"{folder} is a folder without {METADATA_FILE}: not a surveytool cohort dataset"
        )
    generation = str(raw.get("generation", ""))
    if not _GENERATION.match(generation) or not (folder / generation).is_dir():
        raise CohortFileError(
            f"{folder}: {METADATA_FILE} names the generation {generation!r}, which is missing"
        )
    base = folder / generation
    metadata = _validated(folder, raw["metadata"])
    imports = _read_imports(base / LEDGER / IMPORTS_FILE)
    metadata = metadata.model_copy(update={"ledger": Ledger(imports=imports)})
    ledger = CohortLedger(imports=imports, _folder=base / LEDGER / RESPONDENTS)
    return OpenCohort(folder, "dataset", metadata, ledger, _parquet_files(base / ROWS))


def _read_imports(path: Path) -> list[ImportEntry]:
    import pyarrow.parquet as pq

    if not path.is_file():
        return []
    return [ImportEntry.model_validate(r) for r in pq.read_table(path).to_pylist()]


# --- writing ------------------------------------------------------------------------------------

#: Rows per Parquet file of a dataset written from memory (bounds a partition of ``dask()``).
ROWS_PER_FILE: Final = 250_000


def _chmod_tree(folder: Path) -> None:
    os.chmod(folder, FOLDER_MODE)
    for path in folder.rglob("*"):
        os.chmod(path, FOLDER_MODE if path.is_dir() else FILE_MODE)


def _generations(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and _GENERATION.match(p.name))


class DatasetWriter:
    """Writes one new generation of a cohort dataset; :meth:`commit` makes it the cohort.

    Usage::

        with DatasetWriter(folder) as w:
            w.write_rows(frame)            # any number of times (one file each)
            w.write_keys(keys)             # any number of times
            w.commit(metadata)             # imports from metadata.ledger.imports

    Leaving the block without :meth:`commit` (an error, Ctrl-C) removes the new generation and
    leaves the cohort as it was.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        if self.folder.exists() and not self.folder.is_dir():
            raise CohortFileError(f"{self.folder} exists and is not a folder")
        self._created = not self.folder.exists()
        self.folder.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)
        os.chmod(self.folder, FOLDER_MODE)
        current = _read_pointer(self.folder)
        self.current: str | None = str(current["generation"]) if current else None
        numbers = [int(g[1:]) for g in _generations(self.folder)]
        self.generation = f"g{1 + max(numbers, default=0):06d}"
        self.tmp = self.folder / f".{self.generation}.{secrets.token_hex(6)}.tmp"
        self.tmp.mkdir(mode=FOLDER_MODE)  # 0700 from creation: staged rows are personal data
        os.chmod(self.tmp, FOLDER_MODE)
        (self.tmp / ROWS).mkdir(mode=FOLDER_MODE)
        (self.tmp / LEDGER).mkdir(mode=FOLDER_MODE)
        (self.tmp / LEDGER / RESPONDENTS).mkdir(mode=FOLDER_MODE)
        self._parts = 0
        self._key_parts = 0
        self.committed = False

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.committed:
            shutil.rmtree(self.tmp, ignore_errors=True)
            if self._created and self.current is None:
                shutil.rmtree(self.folder, ignore_errors=True)

    def rows_path(self, part: int) -> Path:
        return self.tmp / ROWS / f"part-{part:05d}.parquet"

    def keys_path(self, part: int) -> Path:
        return self.tmp / LEDGER / RESPONDENTS / f"part-{part:05d}.parquet"

    def next_rows_path(self) -> Path:
        path = self.rows_path(self._parts)
        self._parts += 1
        return path

    def next_keys_path(self) -> Path:
        path = self.keys_path(self._key_parts)
        self._key_parts += 1
        return path

    def write_rows(self, frame: pd.DataFrame, metadata: CohortMetadata) -> None:
        """Rows in the cohort's column order, split in files of :data:`ROWS_PER_FILE` rows."""
        for start in range(0, max(len(frame), 1), ROWS_PER_FILE):
            write_rows_file(
                frame.iloc[start : start + ROWS_PER_FILE], metadata, self.next_rows_path()
            )

    def write_keys(self, keys: Iterable[str] | pa.Array | pa.ChunkedArray) -> None:
        import pyarrow as pa

        array = keys if isinstance(keys, pa.Array | pa.ChunkedArray) else pa.array(list(keys))
        write_keys_file(array, self.next_keys_path())

    def commit(self, metadata: CohortMetadata) -> None:
        """Write the imports, rename the generation into place, switch ``cohort.json`` to it."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        # only the rows and the ledger are published: working files (the streaming import's
        # staged rows, with rows that k-anonymity suppressed) never reach the cohort
        for entry in self.tmp.iterdir():
            if entry.name not in (ROWS, LEDGER):
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        imports = [e.model_dump(mode="json") for e in metadata.ledger.imports]
        table = pa.Table.from_pylist(imports, schema=_imports_schema())
        pq.write_table(table, self.tmp / LEDGER / IMPORTS_FILE)
        _chmod_tree(self.tmp)
        for path in self.tmp.rglob("*.parquet"):
            fsync_file(path)
        final = self.folder / self.generation
        os.rename(self.tmp, final)
        stored = metadata.model_copy(update={"ledger": Ledger()}).as_metadata()
        pointer = {
            "kind": COHORT_KIND,
            "form": "dataset",
            "generation": self.generation,
            "metadata": stored,
        }
        write_text_atomic(self.folder / METADATA_FILE, json.dumps(pointer, indent=1) + "\n")
        os.chmod(self.folder / METADATA_FILE, FILE_MODE)
        fsync_folder(self.folder)
        self.committed = True
        for name in _generations(self.folder):
            if name != self.generation:
                shutil.rmtree(self.folder / name, ignore_errors=True)
        for leftover in self.folder.glob(".g*.tmp"):
            shutil.rmtree(leftover, ignore_errors=True)


def _imports_schema() -> pa.Schema:
    import pyarrow as pa

    types = {int: pa.int64(), str: pa.string()}
    fields = []
    for name, info in ImportEntry.model_fields.items():
        annotation = info.annotation
        base = next(
            (t for t in (int, str) if annotation is t or t in getattr(annotation, "__args__", ())),
            str,
        )
        fields.append(pa.field(name, types[base]))
    return pa.schema(fields)


def arrow_schema(metadata: CohortMetadata) -> pa.Schema:
    """The Arrow schema of a cohort's rows (text as string, items float64, batch int64)."""
    return _empty_table(metadata, None).schema


def write_rows_file(frame: pd.DataFrame, metadata: CohortMetadata, path: Path) -> None:
    """One Parquet file of cohort rows (mode 0600), the cohort's columns and types."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = metadata.columns()
    table = pa.Table.from_pandas(
        frame[columns], schema=arrow_schema(metadata), preserve_index=False
    )
    pq.write_table(table, path)
    os.chmod(path, FILE_MODE)


def write_keys_file(keys: pa.Array | pa.ChunkedArray, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({KEY_COLUMN: keys.cast(pa.string())}), path)
    os.chmod(path, FILE_MODE)


def write_dataset(folder: str | Path, frame: pd.DataFrame, metadata: CohortMetadata) -> list[Path]:
    """Write a whole cohort (rows, metadata with its full ledger) as a dataset; atomic."""
    with DatasetWriter(folder) as writer:
        writer.write_rows(frame, metadata)
        writer.write_keys(metadata.ledger.respondents)
        writer.commit(metadata)
    return [writer.folder]


def migrate_cohort(source: str | Path, target: str | Path) -> OpenCohort:
    """Write the file cohort ``source`` as the dataset ``target`` (same rows, metadata, ledger).

    ``source`` is left in place; ``target`` must not exist yet (a clear refusal otherwise).
    """
    source, target = Path(source), Path(target)
    old = open_cohort(source)
    if old.form != "file":
        raise CohortFileError(f"{source} is already a cohort dataset; nothing to migrate")
    if target.exists():
        raise CohortFileError(f"{target} exists; give a new folder for the migrated cohort")
    cohort = old.load()
    write_dataset(target, cohort.frame, cohort.metadata)
    return open_cohort(target)
