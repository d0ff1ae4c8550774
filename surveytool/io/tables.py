"""Writing tables (CSV, TSV, Parquet, JSON, JSON lines), chosen by extension, with metadata.

Writes are atomic (:func:`surveytool.io.files.atomic_path`): the data goes to a temporary file in
the target folder, which replaces the target only when complete, so a crash never leaves a
half-written file. Metadata (a score file's provenance, a cohort's disclosure report) is stored in
the file where the format has room for it (Parquet schema metadata, the JSON payload) and in a
``<file>.meta.json`` sidecar otherwise. Reading tables is :mod:`surveytool.io.sources`' work.

Tables hold personal data (scores, quarantine reports, cohorts), so they are written mode 0600
from creation unless ``secret=False``. CSV and TSV files may be opened in a spreadsheet: a text
cell or column name that a spreadsheet would execute as a formula (starting with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return) is written with a ``'`` in front
(:func:`surveytool.io.files.escape_formula`; numbers are untouched). Parquet and JSON keep every
value as it is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from surveytool.errors import ResponsesError
from surveytool.io.files import atomic_path, escape_formulas

WRITE_FORMATS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".jsonl": "jsonl",
    ".tsv": "tsv",
}

METADATA_KEY = b"surveytool"


def table_format(path: Path, formats: Mapping[str, str] = WRITE_FORMATS) -> str:
    """The format name of ``path`` by its extension, one of ``formats``; refuses any other."""
    fmt = formats.get(path.suffix.lower())
    if fmt is None:
        raise ResponsesError(
            f"{path}: cannot tell the format from the extension {path.suffix or '(none)'!r}; "
            f"use one of {', '.join(sorted(set(formats)))}"
        )
    return fmt


def write_table(
    frame: pd.DataFrame,
    path: str | Path,
    metadata: Mapping[str, Any] | None = None,
    *,
    secret: bool = True,
) -> list[Path]:
    """Write ``frame`` atomically; ``metadata`` goes into Parquet/JSON metadata or a CSV sidecar.

    ``secret`` (the default): mode 0600 from creation. CSV/TSV cells that a spreadsheet would
    execute get a leading ``'``. Returns the files written (the table, and for CSV/TSV with
    metadata, ``<file>.meta.json``).
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
        with atomic_path(path, secret=secret) as tmp:
            pq.write_table(table, tmp)
    elif fmt == "json":
        payload = {"metadata": dict(metadata or {}), "records": _records(frame)}
        with atomic_path(path, secret=secret) as tmp:
            tmp.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n", "utf-8")
    elif fmt == "jsonl":
        with atomic_path(path, secret=secret) as tmp, tmp.open("w", encoding="utf-8") as fh:
            for record in _records(frame):
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    else:
        shown = escape_formulas(frame)
        with atomic_path(path, secret=secret) as tmp:
            shown.to_csv(
                tmp, index=False, sep="," if fmt == "csv" else "\t", quoting=_quoting(shown)
            )
    if metadata is not None and fmt in ("csv", "tsv", "jsonl"):
        sidecar = path.with_name(path.name + ".meta.json")
        with atomic_path(sidecar, secret=secret) as tmp:
            tmp.write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n", "utf-8")
        written.append(sidecar)
    return written


def _quoting(frame: pd.DataFrame) -> int:
    """``csv.QUOTE_MINIMAL``, or every text cell quoted when one holds a carriage return: the
    csv module (under pandas) quotes only the line terminator's characters, ``\\n``, so a bare
    ``\\r`` would end the row in a spreadsheet and start a new one with the rest of the cell."""
    import csv

    def has_cr(value: object) -> bool:
        return isinstance(value, str) and "\r" in value

    texts = [
        frame.iloc[:, i]
        for i in range(frame.shape[1])
        if not pd.api.types.is_numeric_dtype(frame.iloc[:, i].dtype)
    ]

    def any_cr(text: pd.Series) -> bool:
        if isinstance(text.dtype, pd.StringDtype):  # at once, not cell by cell
            return bool(text.str.contains("\r", regex=False).fillna(False).any())
        return bool(text.map(has_cr).any())

    if any(has_cr(c) for c in frame.columns) or any(any_cr(t) for t in texts):
        return csv.QUOTE_NONNUMERIC
    return csv.QUOTE_MINIMAL


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
