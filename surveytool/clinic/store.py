"""The clinic database: where it is, opening it, migrating it, transactions and backups.

- SQLite file by default: ``clinic.sqlite3`` in the user's data folder (``SURVEYTOOL_DATA_DIR``
  overrides the folder), created with owner-only permissions; WAL journal, foreign keys on.
  Write transactions start with ``BEGIN IMMEDIATE`` so two writers queue up instead of failing
  half-way, and so the audit log's hash chain is appended by one writer at a time.
- PostgreSQL by URL (``--database-url`` or ``SURVEYTOOL_DATABASE_URL``), through psycopg 3.
- The schema is made and changed only by the Alembic migrations shipped inside this package
  (``surveytool/clinic/migrations``), run programmatically, so they work from an installed wheel.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from surveytool.clinic.audit import APPENDED
from surveytool.clinic.errors import ClinicError, SchemaError
from surveytool.io.files import create_secret_file

DEFAULT_FILE = "clinic.sqlite3"
ENV_URL = "SURVEYTOOL_DATABASE_URL"
ENV_HEAD = "SURVEYTOOL_AUDIT_HEAD"
MIGRATIONS = "surveytool.clinic:migrations"
_WRITE = "clinic_write"
_PG_MIGRATE = 0x5355525646  # advisory lock key: one migration at a time


def default_url() -> str:
    """The default database: ``clinic.sqlite3`` in the user's data folder."""
    from surveytool.personal_store import data_dir

    return f"sqlite:///{data_dir() / DEFAULT_FILE}"


def resolve_url(explicit: str | None = None) -> str:
    """The database URL: the one given, else ``SURVEYTOOL_DATABASE_URL``, else the default file.

    ``postgres://`` and ``postgresql://`` URLs use psycopg 3 (the driver surveytool installs).
    """
    url = explicit or os.environ.get(ENV_URL) or default_url()
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix) :]
    return url


def display_url(url: str) -> str:
    """The URL without its password, fit to print."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "(unreadable URL)"


def _alembic_config() -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    return config


@cache
def head_revision() -> str:
    """The newest schema revision this surveytool knows."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


@cache
def known_revisions() -> tuple[str, ...]:
    """Every schema revision, oldest first."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config())
    return tuple(rev.revision for rev in reversed(list(script.walk_revisions())))


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size: int
    integrity: str
    audit_rows: int
    #: the backup's audit head (``<backup>.audit-head``), None when its log is empty
    head_path: Path | None = None


def backup_head_path(database: Path) -> Path:
    """The audit head file of a SQLite database file (``<file>.audit-head``, beside it)."""
    return database.with_name(database.name + ".audit-head")


class ClinicStore:
    """One clinic database. Open with :meth:`open` (checks the schema) or :meth:`init`."""

    def __init__(self, url: str | None = None, *, connect_args: dict[str, Any] | None = None):
        self.url = resolve_url(url)
        try:
            parsed = sa.engine.make_url(self.url)
        except sa.exc.ArgumentError:
            raise ClinicError(
                f"cannot read the database URL {self.url!r}; use sqlite:///PATH or "
                "postgresql://USER:PASSWORD@HOST/DATABASE"
            ) from None
        self.backend = parsed.get_backend_name()
        if self.backend not in ("sqlite", "postgresql"):
            raise ClinicError(
                f"unsupported database {self.backend!r}: use a SQLite file (sqlite:///PATH) or "
                "PostgreSQL (postgresql://...)"
            )
        self.sqlite_path: Path | None = None
        if self.backend == "sqlite":
            database = parsed.database or ""
            if database in ("", ":memory:") or database.startswith("file:"):
                raise ClinicError("the clinic database must be a file: use sqlite:///PATH")
            self.sqlite_path = Path(database)
        self._connect_args = dict(connect_args or {})
        self._engine: sa.Engine | None = None
        self._sessions: sessionmaker[Session] | None = None
        self._ready = False

    # ---- engine --------------------------------------------------------------------------
    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            self._engine = self._make_engine()
        return self._engine

    def _make_engine(self) -> sa.Engine:
        if self.sqlite_path is None:
            try:
                return sa.create_engine(
                    self.url, pool_pre_ping=True, connect_args=self._connect_args
                )
            except ModuleNotFoundError as exc:  # pragma: no cover - psycopg is a dependency
                raise ClinicError(f"the PostgreSQL driver is missing ({exc.name})") from None
        path = self.sqlite_path
        try:
            if not path.exists():
                # owner-only from the first byte (in a new folder, 0700): it holds clients' answers
                create_secret_file(path, b"")
        except FileExistsError:
            pass
        except OSError as exc:
            raise ClinicError(f"cannot create the clinic database {path}: {exc.strerror}") from None
        engine = sa.create_engine(
            self.url,
            connect_args={"timeout": 30, "check_same_thread": False, **self._connect_args},
            poolclass=sa.QueuePool,
        )

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            # autocommit at the driver level; transactions are begun explicitly below
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @sa.event.listens_for(engine, "begin")
        def _begin(conn: sa.Connection) -> None:
            immediate = conn.get_execution_options().get(_WRITE, False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine

    @property
    def is_sqlite(self) -> bool:
        return self.sqlite_path is not None

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
            self._sessions = None

    # ---- schema --------------------------------------------------------------------------
    def revision(self) -> str | None:
        """The database's schema revision (None: no clinic schema yet)."""
        from alembic.runtime.migration import MigrationContext

        try:
            with self.engine.connect() as conn:
                return MigrationContext.configure(conn).get_current_revision()
        except sa.exc.OperationalError as exc:
            raise ClinicError(f"cannot open the clinic database: {_reason(exc)}") from None

    def upgrade(self, target: str = "head") -> tuple[str | None, str]:
        """Run the migrations up to ``target`` in one transaction; returns (before, after).

        The revision is read inside the same write transaction (SQLite: BEGIN IMMEDIATE;
        PostgreSQL: an advisory lock), so two processes starting on an empty database at once
        migrate it once.
        """
        from alembic import command
        from alembic.runtime.migration import MigrationContext

        config = _alembic_config()
        try:
            with self.engine.execution_options(**{_WRITE: True}).begin() as conn:
                if self.backend == "postgresql":
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATE})
                before = MigrationContext.configure(conn).get_current_revision()
                tables = set(sa.inspect(conn).get_table_names()) - {"alembic_version"}
                if before is None and tables:
                    raise SchemaError(
                        f"{display_url(self.url)} holds tables but no clinic schema revision; "
                        "it is not a surveytool clinic database; point surveytool at another database"
                    )
                if before is not None and before not in known_revisions():
                    raise SchemaError(_newer(before))
                config.attributes["connection"] = conn
                command.upgrade(config, target)
                after = MigrationContext.configure(conn).get_current_revision()
                if before in BEFORE_RECORD_COVERAGE and after not in BEFORE_RECORD_COVERAGE:
                    _commit_existing_record(conn, before)
        except sa.exc.OperationalError as exc:
            raise ClinicError(f"cannot open the clinic database: {_reason(exc)}") from None
        assert after is not None
        self._ready = after == head_revision()
        if after != before:
            self.write_head()
        return before, after

    def ensure_ready(self) -> None:
        """Create the schema in an empty database; refuse an older or unknown revision."""
        if self._ready:
            return
        current = self.revision()
        head = head_revision()
        if current == head:
            self._ready = True
            return
        if current is None:
            self.upgrade()
            return
        if current not in known_revisions():
            raise SchemaError(_newer(current))
        raise SchemaError(
            f"the clinic database is at schema revision {current}, this surveytool needs {head}: "
            "back it up (surveytool clinic backup PATH), then run `surveytool clinic init` to "
            "upgrade it"
        )

    # ---- sessions ------------------------------------------------------------------------
    def _maker(self) -> sessionmaker[Session]:
        if self._sessions is None:
            self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        return self._sessions

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction: everything in it is committed together, or nothing is."""
        session = self.begin_write()
        try:
            yield session
        except BaseException as exc:
            self.end_write(session, exc)
            raise
        self.end_write(session)

    def begin_write(self) -> Session:
        """The session of a write transaction, for a caller that cannot hold :meth:`write` open
        in one ``with`` (the web's write dependency begins on the event loop and ends in a
        worker thread); end it with :meth:`end_write`. Touches no database yet: SQLite's
        ``BEGIN IMMEDIATE`` runs at the first statement."""
        self.ensure_ready()
        session = Session(
            bind=self.engine.execution_options(**{_WRITE: True}), expire_on_commit=False
        )
        session.begin()
        return session

    def end_write(self, session: Session, failed: BaseException | None = None) -> None:
        """Commit the transaction of :meth:`begin_write` (then the audit head, when it added
        audit rows), or roll it back when the work in it ``failed``; closes the session.

        A database error, whether it ended the work or the commit, is raised as
        :class:`ClinicError` (nothing is kept); ``failed``, any other error, is the caller's to
        raise again."""
        try:
            if failed is not None:
                session.rollback()
                if isinstance(failed, sa.exc.OperationalError):
                    raise ClinicError(
                        f"the clinic database refused the change: {_reason(failed)}"
                    ) from None
                return
            session.commit()
            if session.info.get(APPENDED):
                self.write_head()
        except sa.exc.OperationalError as exc:
            raise ClinicError(f"the clinic database refused the change: {_reason(exc)}") from None
        finally:
            session.close()

    # ---- the audit head, outside the database --------------------------------------------
    def head_path(self) -> Path:
        """Where the audit chain's head is kept: ``SURVEYTOOL_AUDIT_HEAD``, else beside the
        SQLite file (``clinic.sqlite3.audit-head``), else (PostgreSQL) in the data folder."""
        explicit = os.environ.get(ENV_HEAD)
        if explicit:
            return Path(explicit)
        if self.sqlite_path is not None:
            return backup_head_path(self.sqlite_path)
        from surveytool.personal_store import data_dir

        key = hashlib.sha256(display_url(self.url).encode("utf-8")).hexdigest()[:16]
        return data_dir() / f"clinic-{key}.audit-head"

    def write_head(self) -> None:
        """Write the newest audit row's id and hash to :meth:`head_path` (after a commit)."""
        from surveytool.clinic.audit import current_head, write_head

        with self._maker()() as session:
            head = current_head(session)
        if head is not None:
            try:
                write_head(self.head_path(), head)
            except OSError as exc:
                from surveytool.clinic.errors import HeadWriteError

                raise HeadWriteError(
                    f"the change was saved, but the audit head file {self.head_path()} could "
                    f"not be written ({exc.strerror}); check the folder's permissions"
                ) from None

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only view (its changes, if any, are rolled back)."""
        self.ensure_ready()
        session = self._maker()()
        try:
            yield session
        finally:
            session.close()  # ends the transaction; loaded objects stay readable, detached

    # ---- backup --------------------------------------------------------------------------
    def _backup_into(self, partial: Path) -> tuple[str, Any]:
        """Copy the database into ``partial`` (an empty file), check it; its integrity text and
        audit verification."""
        assert self.sqlite_path is not None
        source = sqlite3.connect(self.sqlite_path, timeout=30)
        target = sqlite3.connect(partial)
        try:
            source.backup(target)
            target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            target.close()
            source.close()
        check = sqlite3.connect(partial)
        try:
            rows = check.execute("PRAGMA integrity_check").fetchall()
            fk_problems = check.execute("PRAGMA foreign_key_check").fetchall()
        finally:
            check.close()
        integrity = "; ".join(str(r[0]) for r in rows)
        if integrity != "ok" or fk_problems:
            raise ClinicError(
                f"the backup copy failed its integrity check ({integrity}; "
                f"{len(fk_problems)} foreign-key problem(s)); nothing was kept"
            )
        copy = sa.create_engine(f"sqlite:///{partial}")  # plain: keeps journal_mode=DELETE
        try:
            from surveytool.clinic.audit import current_head, verify

            with Session(copy) as session:
                result = verify(session)
                head = current_head(session)
        finally:
            copy.dispose()
        if not result.ok:
            raise ClinicError(f"the backup's audit log does not verify: {result.message}")
        return integrity, (result, head)

    def backup(self, destination: Path) -> BackupResult:
        """Copy a SQLite database with SQLite's online backup API, then check the copy.

        The copy is written beside the destination and renamed only after ``PRAGMA
        integrity_check`` says ``ok`` and its audit chain verifies, so a file at
        ``destination`` is always a complete, checked backup. PostgreSQL: use ``pg_dump``.
        """
        if self.sqlite_path is None:
            raise ClinicError(
                "backup copies SQLite files; for PostgreSQL use pg_dump (for example "
                "`pg_dump --format=custom --file=clinic.dump DATABASE`)"
            )
        if not self.sqlite_path.exists():
            raise ClinicError(
                f"no clinic database at {self.sqlite_path}: nothing to back up (check "
                "--database-url, env SURVEYTOOL_DATABASE_URL)"
            )
        self.ensure_ready()
        destination = Path(destination)
        if destination.exists():
            raise ClinicError(f"{destination} already exists; choose a new file name")
        from surveytool.io.files import atomic_path, same_file

        if same_file(destination, self.sqlite_path):
            raise ClinicError("the backup must be another file than the database itself")
        if not destination.parent.is_dir():
            raise ClinicError(f"no folder {destination.parent}; create it first")
        head_file = backup_head_path(destination)
        if head_file.exists():
            raise ClinicError(f"{head_file} already exists; choose a new file name")
        try:
            with atomic_path(destination, secret=True, overwrite=False) as partial:
                integrity, (result, head) = self._backup_into(partial)
        except FileExistsError:
            raise ClinicError(f"{destination} already exists; choose a new file name") from None
        except sqlite3.Error as exc:  # "database or disk is full", ...
            raise ClinicError(
                f"{destination}: the backup could not be written ({exc}); nothing was kept"
            ) from None
        if head is not None:
            # the copy's head beside it: a restored backup (both files copied back) verifies
            # against its own head, as the database did
            from surveytool.io.files import write_text_atomic

            write_text_atomic(head_file, head.text(), secret=True)
        return BackupResult(
            destination,
            destination.stat().st_size,
            integrity,
            result.rows,
            head_file if head is not None else None,
        )


#: revisions whose audit rows did not yet commit to the clinical rows' content hashes
BEFORE_RECORD_COVERAGE = ("0001", "0002")


def _commit_existing_record(conn: sa.Connection, before: str) -> None:
    """One audit row that commits to every clinical row already there (upgrading a database
    from before the record was covered); from then on a change to them is detected."""
    from surveytool.clinic import audit, record

    with Session(bind=conn) as session:
        existing = record.current(session)
        audit.append(
            session,
            "surveytool clinic init",
            "record.baseline",
            "",
            {"from_revision": before, "rows": len(existing), audit.RECORD: existing},
        )
        session.flush()


def _reason(exc: sa.exc.DBAPIError) -> str:
    return str(exc.orig).splitlines()[0] if exc.orig is not None else str(exc)


def _newer(revision: str) -> str:
    return (
        f"the clinic database is at schema revision {revision!r}, which this surveytool does "
        "not know (a newer surveytool made it); upgrade surveytool"
    )


def open_store(url: str | None = None, *, create: bool = True) -> ClinicStore:
    """A store whose schema is ready.

    ``create=True`` (the server) creates the schema in an empty database; ``create=False`` (the
    clinic commands) refuses a database that does not exist or holds no clinic schema, so a
    mistyped path is never created empty and then, say, "verified" by ``verify-audit``.
    """
    store = ClinicStore(url)
    if not create:
        missing = (
            store.sqlite_path is not None and not store.sqlite_path.exists()
        ) or store.revision() is None
        if missing:
            store.dispose()
            raise ClinicError(
                f"no clinic database at {display_url(store.url)}: create it with "
                "`surveytool clinic init`, or give the right one with --database-url "
                "(env SURVEYTOOL_DATABASE_URL)"
            )
    store.ensure_ready()
    return store
