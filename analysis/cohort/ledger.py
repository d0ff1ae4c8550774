"""The cohort file, its metadata and its import ledger, as pydantic models that round-trip.

A cohort is one Parquet file: the pseudonym column, wave, group and quasi-identifier columns (text),
the item columns (numeric codes, NaN = missing) and ``import_batch``. Its Parquet metadata (key
``surveytool``, see :func:`surveytool.io.tables.write_table`) is a :class:`CohortMetadata`: the
instrument id, version and content hash, the :class:`Layout`, the key's fingerprint, the disclosure
report of the last import, and the :class:`Ledger`: every imported file (:class:`ImportEntry`,
SHA-256 of its bytes, counts) and the key of every respondent row ever accepted (pseudonym, plus
wave values when the cohort has waves). Importing a row whose key is in the ledger adds nothing, so
importing the same file twice adds nothing. ``CohortMetadata.model_validate(m.as_metadata())``
gives ``m`` back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from analysis.cells import as_text
from analysis.errors import CohortFileError
from analysis.privacy.pseudonyms import PSEUDONYM_COLUMN
from surveytool.io.sources import COHORT_BATCH_COLUMN, COHORT_KIND

COHORT_FORMAT_VERSION: Final = 1
BATCH_COLUMN = COHORT_BATCH_COLUMN
_KEY_SEPARATOR = "\x1f"


def row_keys(pseudonyms: Sequence[str | None], waves: Sequence[Sequence[str | None]]) -> list[str]:
    """Ledger keys: the pseudonym, then each wave value, joined by a unit separator."""
    if not waves:
        return [p or "" for p in pseudonyms]
    keys = []
    for i, pseudonym in enumerate(pseudonyms):
        parts = [pseudonym or ""] + [("" if w[i] is None else str(w[i])) for w in waves]
        keys.append(_KEY_SEPARATOR.join(parts))
    return keys


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ImportEntry(_Model):
    """One imported file in the ledger: what it was and what it added."""

    batch: int
    source: str
    sha256: str
    format: str
    format_variant: str
    format_detected: str
    mapping_sha256: str | None
    imported_at: str
    rows_read: int
    rows_imported: int
    rows_quarantined: int
    duplicates: int
    rows_excluded: int
    rows_unanswered: int = 0
    rows_invalid_id: int
    rows_suppressed: int
    suppressed_from_existing: int
    k: int | None


class Ledger(_Model):
    """Imported files and respondent keys, in the order they came."""

    imports: list[ImportEntry] = Field(default_factory=list)
    respondents: list[str] = Field(default_factory=list)
    _seen: set[str] = PrivateAttr(default_factory=set)

    def model_post_init(self, context: Any, /) -> None:
        self._seen = set(self.respondents)

    def knows(self, key: str) -> bool:
        return key in self._seen

    def known(self, keys: Sequence[str]) -> np.ndarray:
        """Whether each key is in the ledger (one boolean per key)."""
        seen = self._seen  # a pydantic private attribute: looked up once, not per key
        return np.fromiter((key in seen for key in keys), dtype=bool, count=len(keys))

    def add_respondents(self, keys: Iterable[str]) -> None:
        seen, respondents = self._seen, self.respondents
        if not seen:
            new = list(dict.fromkeys(keys))
            seen.update(new)
            respondents.extend(new)
            return
        for key in keys:
            if key not in seen:
                seen.add(key)
                respondents.append(key)

    def file_entry(self, sha256: str) -> ImportEntry | None:
        """The first import of the file with this hash, if any."""
        return next((e for e in self.imports if e.sha256 == sha256), None)

    @property
    def next_batch(self) -> int:
        return 1 + max((e.batch for e in self.imports), default=0)


class Layout(_Model):
    """What must agree between a cohort file and a new import into it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    instrument_id: str
    instrument_version: str
    instrument_hash: str
    key_fingerprint: str
    id_column: Literal["pseudonym"] = PSEUDONYM_COLUMN
    item_columns: tuple[str, ...]
    wave_columns: tuple[str, ...]
    group_columns: tuple[str, ...]
    quasi_identifiers: dict[str, dict[str, Any]]

    def columns(self) -> list[str]:
        return [
            PSEUDONYM_COLUMN,
            *self.wave_columns,
            *self.group_columns,
            *self.quasi_identifiers,
            *self.item_columns,
            BATCH_COLUMN,
        ]


class CohortMetadata(Layout):
    """The whole metadata of a cohort file (its Parquet ``surveytool`` key)."""

    model_config = ConfigDict(extra="forbid", frozen=False)

    kind: Literal["surveytool.cohort"] = COHORT_KIND
    cohort_format_version: Literal[1] = COHORT_FORMAT_VERSION
    form: str | None = None
    surveytool_version: str
    k: int | None = None
    ledger: Ledger = Field(default_factory=Ledger)
    disclosure: dict[str, Any] = Field(default_factory=dict)
    last_import: dict[str, Any] = Field(default_factory=dict)

    def as_metadata(self) -> dict[str, Any]:
        """The JSON-ready form written into the Parquet file."""
        return self.model_dump(mode="json")


@dataclass
class Cohort:
    """An existing cohort file: its table and metadata (with the ledger)."""

    path: Path
    frame: pd.DataFrame
    metadata: CohortMetadata

    @property
    def ledger(self) -> Ledger:
        return self.metadata.ledger


#: What to do when a file given as a cohort is not one (a raw export, say).
NOT_A_COHORT = (
    "a cohort is the Parquet file or folder that a cohort import writes: import the answers "
    "into a cohort first, then read the cohort"
)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def load_cohort(path: str | Path, *, as_output: bool = False) -> Cohort:
    """The cohort at ``path`` (a cohort file, or a cohort dataset folder: see
    :mod:`analysis.cohort.dataset`) with its whole table and ledger in memory; refuses what cannot
    be read or is not a cohort.

    ``as_output``: the path is where an import would write, so the message says to choose another
    output path (the file is left untouched).
    """
    path = Path(path)
    if path.is_dir():
        from analysis.cohort.dataset import open_cohort

        try:
            return open_cohort(path).load()
        except CohortFileError as exc:
            advice = "; choose another output path (it is left untouched)" if as_output else ""
            raise CohortFileError(f"{exc}{advice}") from None
    import pyarrow.parquet as pq

    from surveytool.io.tables import read_metadata

    advice = "; choose another output path" if as_output else f"; {NOT_A_COHORT}"
    try:
        raw = read_metadata(path)
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow's errors: one line
        raise CohortFileError(
            f"{path} exists but cannot be read as a cohort ({_first_line(exc)}){advice}"
        ) from None
    if not raw or raw.get("kind") != COHORT_KIND:
        untouched = " (it is left untouched)" if as_output else ""
        raise CohortFileError(f"{path} exists and is not a surveytool cohort{advice}{untouched}")
    try:
        metadata = CohortMetadata.model_validate(raw)
    except ValidationError as exc:
        where = ".".join(map(str, exc.errors()[0]["loc"]))
        raise CohortFileError(
            f"{path} exists but its cohort metadata does not fit this version of surveytool "
            f"({where}: {exc.errors()[0]['msg']}){advice}"
        ) from None
    return Cohort(path, text_columns(table.to_pandas(), metadata), metadata)


def text_columns(frame: pd.DataFrame, layout: Layout) -> pd.DataFrame:
    """The pseudonym, wave, group and quasi-identifier columns as ``str``/``None`` objects."""
    for col in [
        PSEUDONYM_COLUMN,
        *layout.wave_columns,
        *layout.group_columns,
        *layout.quasi_identifiers,
    ]:
        if col in frame.columns:
            frame[col] = _text(frame[col])
    return frame


def read_cohort(path: str | Path) -> Cohort | None:
    """The cohort an import writes to: None if there is none yet (see :func:`load_cohort`).

    A folder without ``cohort.json`` that holds nothing but leftovers of an interrupted first
    import counts as no cohort yet. To read a cohort, use :func:`analysis.open_cohort`.
    """
    path = Path(path)
    if not path.exists():
        return None
    leftovers = path.is_dir() and not (path / "cohort.json").exists()
    if leftovers and all(p.name.startswith((".", "g0")) for p in path.iterdir()):
        return None
    return load_cohort(path, as_output=True)


def _text(values: pd.Series) -> pd.Series:
    text = as_text(values)
    return text.astype(object).where(text.notna(), None)


def check_layout(cohort: Cohort, layout: Layout) -> None:
    """Refuse to append to a cohort made with another instrument, key or column layout."""
    meta = cohort.metadata
    problems = []
    if (meta.instrument_id, meta.instrument_hash) != (layout.instrument_id, layout.instrument_hash):
        problems.append(
            f"it holds {meta.instrument_id} {meta.instrument_version} "
            f"(hash {meta.instrument_hash[:12]}), this import is "
            f"{layout.instrument_id} {layout.instrument_version} "
            f"(hash {layout.instrument_hash[:12]})"
        )
    if meta.key_fingerprint != layout.key_fingerprint:
        problems.append(
            f"it was made with another pseudonym key (fingerprint {meta.key_fingerprint}, "
            f"this key {layout.key_fingerprint}): give the key file it was made with"
        )
    for name in ("item_columns", "wave_columns", "group_columns"):
        if list(getattr(meta, name)) != list(getattr(layout, name)):
            problems.append(
                f"its {name.replace('_', ' ')} are {list(getattr(meta, name))}, this import's are "
                f"{list(getattr(layout, name))}"
            )
    if meta.quasi_identifiers != layout.quasi_identifiers:
        problems.append(
            "its quasi-identifiers or their generalization differ from this mapping's "
            f"({sorted(meta.quasi_identifiers)} vs {sorted(layout.quasi_identifiers)})"
        )
    if problems:
        raise CohortFileError(
            f"cannot add to {cohort.path}: "
            + "; ".join(problems)
            + ". Use the same mapping and key, or import into a new cohort file."
        )
