"""Saved self-assessment results, only when the person asks ("Save to compare later").

A local SQLite database in the user's data folder (created on first use; ``SURVEYTOOL_DATA_DIR``
overrides the folder). Results are filed under a personal code; the database stores only a keyed
hash of the code (HMAC-SHA-256 with a key file kept beside it), the answers and the scores.

Privacy, as the design asks ("files only they can read, and deletion deletes"):

- The folder is created 0700 and the database file 0600 before SQLite opens it; SQLite gives its
  ``-wal`` and ``-shm`` files the mode of the database file. Files of earlier versions (created
  with the umask's 0644) are narrowed to 0600 when the store opens.
- Deleting is secure: every connection runs with ``PRAGMA secure_delete=ON`` (deleted rows are
  overwritten with zeros in their pages), and after a delete a ``wal_checkpoint(TRUNCATE)`` copies
  those zeroed pages into the database file and empties the write-ahead log, whose older frames
  still held the rows as they were written. A checkpoint that cannot finish is an error, never a
  silent success.
- Codes: the pages offer a generated code (:func:`new_code`, 12 random characters, about 59
  bits); a code the person chooses must be hard to guess (:func:`check_new_code`: zxcvbn's
  estimate of at least 10^10 guesses), so two people do not end up sharing "123456".
"""

from __future__ import annotations

import contextlib
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
from surveytool.io.files import SECRET_MODE, create_secret_file
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
    # the country chosen for the support numbers (ISO 3166-1 alpha-2, "ZZ" another), if any
    sa.Column("country", sa.String(2)),
)

#: Characters of generated codes: digits and lower-case letters without 0, 1, i, l and o, which
#: are easily mistaken for one another when written down.
CODE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
CODE_GROUPS, CODE_GROUP_LENGTH = 3, 4
MIN_CODE_LENGTH, MAX_CODE_LENGTH = 6, 64
#: A chosen code must need at least this many guesses (log10) by zxcvbn's estimate; that is
#: zxcvbn's highest score, 4 ("very unguessable").
MIN_GUESSES_LOG10 = 10.0


def data_dir() -> Path:
    """The user's data folder for surveytool (``SURVEYTOOL_DATA_DIR`` overrides it)."""
    override = os.environ.get("SURVEYTOOL_DATA_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_data_dir("surveytool", appauthor=False))


def normalize_code(code: str) -> str:
    """The code as stored (lower case, runs of white space as one ``-``); refuses a code too
    short or too long to be one."""
    cleaned = "-".join(code.strip().lower().split())
    if len(cleaned) < MIN_CODE_LENGTH:
        raise SurveytoolError(
            f"a personal code needs at least {MIN_CODE_LENGTH} characters; take the code "
            "offered on the page or write a longer one"
        )
    if len(cleaned) > MAX_CODE_LENGTH:
        raise SurveytoolError(
            f"a personal code can have at most {MAX_CODE_LENGTH} characters; "
            f"yours has {len(cleaned)}"
        )
    return cleaned


def guesses_log10(code: str) -> float:
    """zxcvbn's estimate of how many guesses (log10) finding ``code`` would take."""
    from zxcvbn import zxcvbn

    return float(zxcvbn(normalize_code(code))["guesses_log10"])


def check_new_code(code: str) -> str:
    """The normalized code, or :class:`SurveytoolError` saying why it is too easy to guess.

    Saving under a code needs it to be hard to guess (zxcvbn, at least 10^10 guesses): anyone
    who types the same code later sees these results as "before".
    """
    from zxcvbn import zxcvbn

    normalized = normalize_code(code)
    estimate = zxcvbn(normalized)
    if float(estimate["guesses_log10"]) >= MIN_GUESSES_LOG10:
        return normalized
    warning = str(estimate["feedback"].get("warning") or "").rstrip(".")
    why = f" ({warning.lower()})" if warning else ""
    raise SurveytoolError(
        f"that personal code is too easy to guess{why}: someone else could type the same code "
        "and see your results. Take the code offered on the page, or write a longer one of "
        "several uncommon words"
    )


def new_code() -> str:
    """A generated personal code, easy to write down, e.g. ``k7qm-3xpa-9rtd`` (about 59 bits).

    Drawn with :mod:`secrets`; a draw that zxcvbn would find guessable (say, a run like
    ``2345``) is drawn again, so a generated code always passes :func:`check_new_code`.
    """
    while True:
        groups = (
            "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_GROUP_LENGTH))
            for _ in range(CODE_GROUPS)
        )
        code = "-".join(groups)
        if guesses_log10(code) >= MIN_GUESSES_LOG10:
            return code


@dataclass(frozen=True)
class SavedResult:
    created_at: datetime
    form: str | None
    answers: dict[str, float | None]
    scores: dict[str, float | None]
    instrument_id: str = ""
    instrument_version: str = ""
    instrument_hash: str = ""
    country: str = ""

    @property
    def instrument_ref(self) -> str:
        """``id@version``: the bundled version the result was made with, to re-score it with."""
        return f"{self.instrument_id}@{self.instrument_version}"


class CheckpointError(SurveytoolError):
    """The write-ahead log could not be emptied after a delete (another program holds it)."""


class PersonalStore:
    """Saved results in ``<folder>/surveytool.sqlite3`` (0600; the folder 0700)."""

    def __init__(self, folder: Path | None = None, *, busy_timeout: float = 10.0) -> None:
        """``busy_timeout``: seconds to wait for another program that has the database locked."""
        self.folder = folder or data_dir()
        self.busy_timeout = busy_timeout
        self.path = self.folder / "surveytool.sqlite3"
        self._engine: sa.Engine | None = None

    @property
    def files(self) -> list[Path]:
        """The database file and the SQLite files beside it, those that exist."""
        names = (self.path, *(self.path.with_name(self.path.name + s) for s in ("-wal", "-shm")))
        return [p for p in names if p.exists()]

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            # owner-only before SQLite opens it (folder 0700); -wal and -shm get the same mode
            with contextlib.suppress(FileExistsError):
                create_secret_file(self.path, b"")
            for path in self.files:  # made by an earlier version with the umask's mode
                os.chmod(path, SECRET_MODE)
            engine = sa.create_engine(f"sqlite:///{self.path}")

            @sa.event.listens_for(engine, "connect")
            def _pragmas(dbapi_connection: Any, _record: Any) -> None:
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA secure_delete=ON")
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.execute(f"PRAGMA busy_timeout={round(self.busy_timeout * 1000)}")
                cursor.close()

            _metadata.create_all(engine)
            with engine.begin() as conn:  # a store made before results kept the country
                columns = {c["name"] for c in sa.inspect(conn).get_columns("saved_results")}
                if "country" not in columns:
                    conn.execute(sa.text("ALTER TABLE saved_results ADD COLUMN country VARCHAR(2)"))
            self._engine = engine
        return self._engine

    def dispose(self) -> None:
        """Close every pooled connection (the files stay)."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

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
        country: str = "",
    ) -> None:
        """File one result under ``code`` (which must pass :func:`check_new_code`): its
        provenance (as the clinic stores it), the answers, the scores (scale id -> score,
        None when not scored) and the country the person chose for the support numbers."""
        check_new_code(code)  # before any file is created
        with self.engine.begin() as conn:
            conn.execute(
                saved_results.insert().values(
                    code_key=self.code_key(code),
                    **provenance.record_fields(),
                    created_at=created_at or datetime.now(UTC),
                    answers=json.dumps(answers),
                    scores=json.dumps(scores),
                    country=country or None,
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
                created_at=row["created_at"].replace(tzinfo=UTC),  # stored in UTC
                form=row["form"],
                answers=json.loads(row["answers"]),
                scores=json.loads(row["scores"]),
                instrument_id=row["instrument_id"],
                instrument_version=row["instrument_version"],
                instrument_hash=row["instrument_hash"],
                country=row["country"] or "",
            )
            for row in rows
        ]

    def count(self, code: str) -> int:
        """How many results are saved under a code (0 without creating any file)."""
        normalize_code(code)
        if not self.path.exists():
            return 0
        query = (
            sa.select(sa.func.count())
            .select_from(saved_results)
            .where(saved_results.c.code_key == self.code_key(code))
        )
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def delete(self, code: str) -> int:
        """Delete everything saved under a code, securely; returns how many results went.

        The rows are overwritten with zeros (``secure_delete``), then the write-ahead log, which
        still holds them as they were written, is checkpointed into the database file and
        truncated to nothing. Raises :class:`CheckpointError` if that cannot finish.
        """
        normalize_code(code)
        if not self.path.exists():
            return 0  # nothing was ever saved: no file is created to say so
        with self.engine.begin() as conn:
            result = conn.execute(
                saved_results.delete().where(saved_results.c.code_key == self.code_key(code))
            )
        count = int(result.rowcount or 0)
        self.checkpoint()
        return count

    def checkpoint(self) -> None:
        """Copy the write-ahead log into the database file and truncate it to zero bytes
        (waiting up to the busy timeout for readers in other programs)."""
        with self.engine.connect() as conn:
            busy, _log, _done = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
        if busy:
            raise CheckpointError(
                f"the saved results were deleted, but {self.path}-wal could not be emptied "
                "because another program has the database open; close it and delete again to "
                "finish"
            )
