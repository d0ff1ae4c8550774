"""Reading and writing tables (CSV, TSV, XLSX, Parquet, SPSS .sav, JSON lines), chosen by extension.

Reads never guess silently: the format comes from the extension, and a file that cannot be read at
all raises :class:`~surveytool.errors.ResponsesError` with a one-line reason. Writes are atomic: the
data goes to a temporary file in the target folder, which replaces the target only when complete,
so a crash never leaves a half-written file.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from surveytool.errors import ResponsesError

READ_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".txt": "tsv",
    ".xlsx": "xlsx",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".sav": "sav",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
WRITE_FORMATS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".jsonl": "jsonl",
    ".tsv": "tsv",
}

METADATA_KEY = b"surveytool"

#: Cells read as "not answered" in text files (FORMULAS.md: blank and NA count as missing).
NA_STRINGS = ("", "NA", "N/A", "n/a", "NaN", "nan", "NULL", "null")


def table_format(path: Path, formats: Mapping[str, str]) -> str:
    fmt = formats.get(path.suffix.lower())
    if fmt is None:
        raise ResponsesError(
            f"{path}: cannot tell the format from the extension {path.suffix or '(none)'!r}; "
            f"use one of {', '.join(sorted(set(formats)))}"
        )
    return fmt


def read_table(
    path: str | Path,
    *,
    sheet: str | int | None = None,
    text_columns: Sequence[str] = (),
) -> pd.DataFrame:
    """Read a responses table; the format comes from the extension.

    Text formats are read with every column as text where it is not clean numbers (pandas'
    inference), empty cells as missing. ``text_columns`` (ids, groups) are read as text, so
    ``007`` stays ``007`` and a group code ``1`` stays ``"1"``. SPSS files keep their numeric
    codes; user-defined missing values are read as missing.
    """
    as_text = {c: "string" for c in text_columns}
    path = Path(path)
    fmt = table_format(path, READ_FORMATS)
    if not path.is_file():
        raise ResponsesError(f"{path}: no such file")
    try:
        if fmt in ("csv", "tsv"):
            return pd.read_csv(
                path,
                sep="," if fmt == "csv" else "\t",
                skipinitialspace=False,
                keep_default_na=False,
                na_values=list(NA_STRINGS),
                encoding="utf-8-sig",
                low_memory=False,
                dtype=as_text or None,
            )
        if fmt == "xlsx":
            frame = pd.read_excel(
                path,
                sheet_name=0 if sheet is None else sheet,
                engine="openpyxl",
                dtype={c: str for c in text_columns} or None,
            )
            return _as_text(frame, text_columns)
        if fmt == "parquet":
            return _as_text(pd.read_parquet(path), text_columns)
        if fmt == "sav":
            import pyreadstat

            frame, _meta = pyreadstat.read_sav(str(path), user_missing=False)
            return _as_text(frame, text_columns)
        return _as_text(pd.read_json(path, lines=True, dtype=False), text_columns)
    except ResponsesError:
        raise
    except UnicodeDecodeError as exc:
        raise ResponsesError(f"{path}: not UTF-8 text ({exc.reason}); save it as UTF-8") from None
    except Exception as exc:  # any parser's own error: one line, no traceback
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ResponsesError(f"{path}: cannot read it as {fmt}: {reason}") from None


def _as_text(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Columns as text; whole-number floats (1.0 from a numeric column) written as "1"."""
    for col in columns:
        if col in frame.columns and not pd.api.types.is_string_dtype(frame[col].dtype):
            values = frame[col]
            if pd.api.types.is_float_dtype(values.dtype):
                present = values.dropna()
                if bool((present == present.round()).all()):
                    values = values.astype("Int64")
            frame[col] = values.astype("string")
    return frame


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """A temporary path beside ``target`` that replaces it only if the block completes."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600; give the file the permissions a plain open() would have
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_table(
    frame: pd.DataFrame, path: str | Path, metadata: Mapping[str, Any] | None = None
) -> list[Path]:
    """Write ``frame`` atomically; ``metadata`` goes into Parquet/JSON metadata or a CSV sidecar.

    Returns the files written (the table, and for CSV/TSV with metadata, ``<file>.meta.json``).
    """
    path = Path(path)
    fmt = table_format(path, WRITE_FORMATS)
    written = [path]
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        if metadata is not None:
            existing = dict(table.schema.metadata or {})
            existing[METADATA_KEY] = json.dumps(metadata, sort_keys=True).encode("utf-8")
            table = table.replace_schema_metadata(existing)
        with atomic_path(path) as tmp:
            pq.write_table(table, tmp)
    elif fmt == "json":
        payload = {"metadata": dict(metadata or {}), "records": _records(frame)}
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n", "utf-8")
    elif fmt == "jsonl":
        with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8") as fh:
            for record in _records(frame):
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    else:
        with atomic_path(path) as tmp:
            frame.to_csv(tmp, index=False, sep="," if fmt == "csv" else "\t")
    if metadata is not None and fmt in ("csv", "tsv", "jsonl"):
        sidecar = path.with_name(path.name + ".meta.json")
        with atomic_path(sidecar) as tmp:
            tmp.write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n", "utf-8")
        written.append(sidecar)
    return written


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts: floats keep every digit (Python's shortest round-trip repr),
    missing values become null, other objects their text."""
    out = []
    columns = [str(c) for c in frame.columns]
    for row in frame.astype(object).itertuples(index=False, name=None):
        record: dict[str, Any] = {}
        for name, value in zip(columns, row, strict=True):
            if value is None or value is pd.NA or (isinstance(value, float) and value != value):
                record[name] = None
            elif isinstance(value, bool | int | float | str):
                record[name] = value
            elif hasattr(value, "item"):  # numpy scalars
                record[name] = value.item()
            else:
                record[name] = str(value)
        out.append(record)
    return out


def read_metadata(path: str | Path) -> dict[str, Any] | None:
    """The surveytool metadata written by :func:`write_table`, or None."""
    path = Path(path)
    fmt = table_format(path, WRITE_FORMATS)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        meta = pq.read_schema(path).metadata or {}
        raw = meta.get(METADATA_KEY)
        return None if raw is None else dict(json.loads(raw))
    if fmt == "json":
        return dict(json.loads(path.read_text("utf-8")).get("metadata") or {}) or None
    sidecar = path.with_name(path.name + ".meta.json")
    return dict(json.loads(sidecar.read_text("utf-8"))) if sidecar.is_file() else None
