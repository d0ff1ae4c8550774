"""Saved self-assessment results, only when the person asks ("Save to compare later").

A local SQLite database in the user's data folder (created on first use; ``SURVEYTOOL_DATA_DIR``
overrides the folder). Results are filed under a personal code the person chooses or is given;
the database stores only a keyed hash of the code (HMAC-SHA-256 with a key file kept beside it),
the answers and the scores. The person can delete everything filed under their code.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from surveytool.errors import SurveytoolError
from surveytool.io.keys import open_key_file

if TYPE_CHECKING:
    from surveytool.scoring.result import Provenance

_metadata = sa.MetaData()
saved_results = sa.Table(
    "saved_results",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("code_key", sa.String(64), nullable=False, index=True),
    sa.Column("instrument_id", sa.String(64), nullable=False),
    sa.Column("instrument_version", sa.String(32), nullable=False),
    sa.Column("instrument_hash", sa.String(64), nullable=False),
    sa.Column("form", sa.String(64)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("answers", sa.Text, nullable=False),
    sa.Column("scores", sa.Text, nullable=False),
)

_WORDS = [
    "amber",
    "birch",
    "cedar",
    "dawn",
    "ember",
    "fern",
    "grove",
    "harbor",
    "iris",
    "juniper",
    "kestrel",
    "lark",
    "maple",
    "meadow",
    "nettle",
    "orchid",
    "pebble",
    "quartz",
    "river",
    "sage",
    "thistle",
    "umber",
    "willow",
    "yarrow",
    "aspen",
    "brook",
    "clover",
    "delta",
    "echo",
    "finch",
    "garnet",
    "heron",
]


def data_dir() -> Path:
    """The user's data folder for surveytool (``SURVEYTOOL_DATA_DIR`` overrides it)."""
    override = os.environ.get("SURVEYTOOL_DATA_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_data_dir("surveytool", appauthor=False))


def new_code() -> str:
    """A personal code that is easy to write down, e.g. ``maple-river-heron-42``."""
    words = [secrets.choice(_WORDS) for _ in range(3)]
    return "-".join([*words, f"{secrets.randbelow(90) + 10}"])


def normalize_code(code: str) -> str:
    cleaned = "-".join(code.strip().lower().split())
    if len(cleaned) < 6:
        raise SurveytoolError(
            "a personal code needs at least 6 characters; choose a longer one or take the "
            "suggested code"
        )
    return cleaned


@dataclass(frozen=True)
class SavedResult:
    created_at: datetime
    form: str | None
    answers: dict[str, float | None]
    scores: dict[str, float | None]
    instrument_id: str = ""
    instrument_version: str = ""
    instrument_hash: str = ""

    @property
    def instrument_ref(self) -> str:
        """``id@version``: the bundled version the result was made with, to re-score it with."""
        return f"{self.instrument_id}@{self.instrument_version}"


class PersonalStore:
    """Saved results in ``<folder>/surveytool.sqlite3``."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or data_dir()
        self.path = self.folder / "surveytool.sqlite3"
        self._engine: sa.Engine | None = None

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            engine = sa.create_engine(f"sqlite:///{self.path}")

            @sa.event.listens_for(engine, "connect")
            def _pragmas(dbapi_connection: Any, _record: Any) -> None:
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.close()

            _metadata.create_all(engine)
            self._engine = engine
        return self._engine

    def _key(self) -> bytes:
        """The HMAC key of personal codes (a key file, created 0600 on first use)."""
        key = open_key_file(
            self.folder / "personal-codes.key",
            "surveytool personal-code key (HMAC-SHA-256). Deleting it makes saved results unreachable.",
            legacy_raw=True,  # earlier versions kept the 32 raw bytes
        )
        return key.secret

    def code_key(self, code: str) -> str:
        normalized = normalize_code(code)  # refuse a bad code before any file is created
        return hmac.new(self._key(), normalized.encode(), hashlib.sha256).hexdigest()

    def save(
        self,
        code: str,
        *,
        provenance: Provenance,
        answers: dict[str, float | None],
        scores: dict[str, float | None],
        created_at: datetime | None = None,
    ) -> None:
        """File one result under ``code``: its provenance (as the clinic stores it), the answers
        and the scores (scale id -> score, None when not scored)."""
        with self.engine.begin() as conn:
            conn.execute(
                saved_results.insert().values(
                    code_key=self.code_key(code),
                    **provenance.record_fields(),
                    created_at=created_at or datetime.now(UTC),
                    answers=json.dumps(answers),
                    scores=json.dumps(scores),
                )
            )

    def history(self, code: str, instrument_id: str) -> list[SavedResult]:
        """Saved results of one code and instrument, oldest first."""
        query = (
            sa.select(saved_results)
            .where(saved_results.c.code_key == self.code_key(code))
            .where(saved_results.c.instrument_id == instrument_id)
            .order_by(saved_results.c.created_at, saved_results.c.id)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            SavedResult(
                created_at=row["created_at"],
                form=row["form"],
                answers=json.loads(row["answers"]),
                scores=json.loads(row["scores"]),
                instrument_id=row["instrument_id"],
                instrument_version=row["instrument_version"],
                instrument_hash=row["instrument_hash"],
            )
            for row in rows
        ]

    def delete(self, code: str) -> int:
        """Delete everything saved under a code; returns how many results were deleted."""
        with self.engine.begin() as conn:
            result = conn.execute(
                saved_results.delete().where(saved_results.c.code_key == self.code_key(code))
            )
        return int(result.rowcount or 0)
