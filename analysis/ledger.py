"""The cohort file and its import ledger.

A cohort is one Parquet file: the pseudonym column, wave, group and quasi-identifier columns (text),
the item columns (numeric codes, NaN = missing) and ``import_batch``. Its Parquet metadata (key
``surveytool``, see :func:`surveytool.io.tables.write_table`) holds the instrument id, version and
content hash, the layout, the key's fingerprint, the disclosure report of the last import, and the
ledger: every imported file (SHA-256 of its bytes, counts) and the key of every respondent row ever
accepted (pseudonym, plus wave values when the cohort has waves). Importing a row whose key is in
the ledger adds nothing, so importing the same file twice adds nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.anonymize import PSEUDONYM_COLUMN, as_text
from analysis.errors import CohortFileError

COHORT_KIND = "surveytool.cohort"
COHORT_FORMAT_VERSION = 1
BATCH_COLUMN = "import_batch"
_KEY_SEPARATOR = "\x1f"


def row_keys(pseudonyms: Sequence[str | None], waves: Sequence[Sequence[str | None]]) -> list[str]:
    """Ledger keys: the pseudonym, then each wave value, joined by a unit separator."""
    keys = []
    for i, pseudonym in enumerate(pseudonyms):
        parts = [pseudonym or ""] + [("" if w[i] is None else str(w[i])) for w in waves]
        keys.append(_KEY_SEPARATOR.join(parts))
    return keys


@dataclass
class Ledger:
    """Imported files and respondent keys, in the order they came."""

    imports: list[dict[str, Any]] = field(default_factory=list)
    respondents: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._seen = set(self.respondents)

    def knows(self, key: str) -> bool:
        return key in self._seen

    def add_respondents(self, keys: Iterable[str]) -> None:
        for key in keys:
            if key not in self._seen:
                self._seen.add(key)
                self.respondents.append(key)

    def file_entry(self, sha256: str) -> dict[str, Any] | None:
        """The first import of the file with this hash, if any."""
        return next((e for e in self.imports if e.get("sha256") == sha256), None)

    @property
    def next_batch(self) -> int:
        return 1 + max((int(e.get("batch", 0)) for e in self.imports), default=0)

    def as_dict(self) -> dict[str, Any]:
        return {"imports": list(self.imports), "respondents": list(self.respondents)}

    @classmethod
    def from_dict(cls, data: Any) -> Ledger:
        if not isinstance(data, dict):
            return cls()
        return cls(
            imports=[dict(e) for e in data.get("imports", []) if isinstance(e, dict)],
            respondents=[str(k) for k in data.get("respondents", [])],
        )


@dataclass(frozen=True)
class Layout:
    """What must agree between a cohort file and a new import into it."""

    instrument_id: str
    instrument_version: str
    instrument_hash: str
    key_fingerprint: str
    item_columns: tuple[str, ...]
    wave_columns: tuple[str, ...]
    group_columns: tuple[str, ...]
    quasi_identifiers: dict[str, dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "instrument_id": self.instrument_id,
            "instrument_version": self.instrument_version,
            "instrument_hash": self.instrument_hash,
            "key_fingerprint": self.key_fingerprint,
            "id_column": PSEUDONYM_COLUMN,
            "item_columns": list(self.item_columns),
            "wave_columns": list(self.wave_columns),
            "group_columns": list(self.group_columns),
            "quasi_identifiers": self.quasi_identifiers,
        }

    def columns(self) -> list[str]:
        return [
            PSEUDONYM_COLUMN,
            *self.wave_columns,
            *self.group_columns,
            *self.quasi_identifiers,
            *self.item_columns,
            BATCH_COLUMN,
        ]


@dataclass
class Cohort:
    """An existing cohort file: its table, metadata and ledger."""

    path: Path
    frame: pd.DataFrame
    metadata: dict[str, Any]
    ledger: Ledger


def read_cohort(path: Path) -> Cohort | None:
    """The cohort at ``path``, None if there is no file; refuses a file that is not a cohort."""
    if not path.exists():
        return None
    import pyarrow.parquet as pq

    from surveytool.io.tables import read_metadata

    try:
        metadata = read_metadata(path)
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow's errors: one line
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CohortFileError(
            f"{path} exists but cannot be read as a cohort ({reason}); choose another output path"
        ) from None
    if not metadata or metadata.get("kind") != COHORT_KIND:
        raise CohortFileError(
            f"{path} exists and is not a surveytool cohort; choose another output path "
            "(it is left untouched)"
        )
    frame = table.to_pandas()
    for col in [*metadata.get("wave_columns", []), *metadata.get("group_columns", [])]:
        if col in frame.columns:
            frame[col] = _text(frame[col])
    for col in metadata.get("quasi_identifiers", {}):
        if col in frame.columns:
            frame[col] = _text(frame[col])
    frame[PSEUDONYM_COLUMN] = _text(frame[PSEUDONYM_COLUMN])
    return Cohort(path, frame, metadata, Ledger.from_dict(metadata.get("ledger")))


def _text(values: pd.Series) -> pd.Series:
    text = as_text(values)
    return text.astype(object).where(text.notna(), None)


def check_layout(cohort: Cohort, layout: Layout) -> None:
    """Refuse to append to a cohort made with another instrument, key or column layout."""
    meta = cohort.metadata
    problems = []
    if (meta.get("instrument_id"), meta.get("instrument_hash")) != (
        layout.instrument_id,
        layout.instrument_hash,
    ):
        problems.append(
            f"it holds {meta.get('instrument_id')} {meta.get('instrument_version')} "
            f"(hash {str(meta.get('instrument_hash'))[:12]}), this import is "
            f"{layout.instrument_id} {layout.instrument_version} "
            f"(hash {layout.instrument_hash[:12]})"
        )
    if meta.get("key_fingerprint") != layout.key_fingerprint:
        problems.append(
            f"it was made with another pseudonym key (fingerprint {meta.get('key_fingerprint')}, "
            f"this key {layout.key_fingerprint}): give the key file it was made with"
        )
    for name in ("item_columns", "wave_columns", "group_columns"):
        if list(meta.get(name, [])) != list(getattr(layout, name)):
            problems.append(
                f"its {name.replace('_', ' ')} are {meta.get(name)}, this import's are "
                f"{list(getattr(layout, name))}"
            )
    if meta.get("quasi_identifiers", {}) != layout.quasi_identifiers:
        problems.append(
            "its quasi-identifiers or their generalization differ from this mapping's "
            f"({sorted(meta.get('quasi_identifiers', {}))} vs {sorted(layout.quasi_identifiers)})"
        )
    if problems:
        raise CohortFileError(
            f"cannot add to {cohort.path}: "
            + "; ".join(problems)
            + ". Use the same mapping and key, or import into a new cohort file."
        )
