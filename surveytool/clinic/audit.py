"""The audit log: who did what, when; append-only and hash-chained.

Each row's ``hash`` is SHA-256 over the previous row's hash (64 zeros before the first row)
followed by the canonical JSON of the row::

    hash_n = SHA-256( hash_{n-1} || JSON({"id", "at", "actor", "action", "target", "details"}) )

with sorted keys, no white space, UTF-8, ``at`` as ISO 8601 UTC to the microsecond, and
``details`` as the stored text (itself canonical JSON). Changing, inserting or deleting a row
breaks the chain at that row, which :func:`verify` reports. The database refuses UPDATE and
DELETE on the table (triggers made by the first migration), so changes need deliberate effort;
the chain makes them detectable.

The chain covers the clinical record: each act's audit row names the content hashes of the
clinical rows it wrote (administration, answers, scores, alerts, notes; see
:mod:`surveytool.clinic.record`), and :func:`verify` compares every clinical row with the newest
hash committed to it, so a row changed, deleted or added directly in the database fails too.

Truncating the newest rows cannot be told from the chain alone, so after every committed change
the head (newest row id and hash) is written to a file outside the database (:func:`write_head`;
see :meth:`surveytool.clinic.store.ClinicStore.head_path`), which ``verify-audit`` checks
(:func:`check_head`); ``surveytool clinic audit-head`` prints it, to be kept elsewhere too.

Rows are appended inside the caller's transaction, so an audit row commits together with the
change it describes. Appends are serialized: SQLite write transactions start with BEGIN
IMMEDIATE; on PostgreSQL a transaction-scoped advisory lock is taken first.

Audit rows name clients by their pseudonymous code and internal id, never by display name, and
hold no answers.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from surveytool.clinic.errors import AuditError
from surveytool.clinic.models import AuditEntry, utcnow

GENESIS = "0" * 64
#: the key of an audit row's details that names the clinical rows' content hashes
RECORD = "record"
APPENDED = "audit_appended"  # session.info: the transaction added audit rows
_PG_LOCK_KEY = 0x5355525645  # "SURVE": one advisory lock for the audit chain


def canonical_json(value: Any) -> str:
    """Sorted keys, no white space, UTF-8 text (non-ASCII kept as is)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _timestamp(at: datetime) -> str:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def row_hash(
    prev_hash: str, *, id: int, at: datetime, actor: str, action: str, target: str, details: str
) -> str:
    """SHA-256 over the previous hash and the row's canonical JSON (see the module docstring)."""
    body = canonical_json(
        {
            "id": id,
            "at": _timestamp(at),
            "actor": actor,
            "action": action,
            "target": target,
            "details": details,
        }
    )
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def append(
    session: Session,
    actor: str,
    action: str,
    target: str = "",
    details: dict[str, Any] | None = None,
    *,
    at: datetime | None = None,
) -> AuditEntry:
    """Add one row at the end of the chain, in the caller's transaction."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    last = session.execute(
        sa.select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)
    ).first()
    next_id, prev = (1, GENESIS) if last is None else (last.id + 1, last.hash)
    when = (at or utcnow()).astimezone(UTC)
    text = canonical_json(details or {})
    entry = AuditEntry(
        id=next_id,
        at=when,
        actor=actor,
        action=action,
        target=target,
        details=text,
        prev_hash=prev,
        hash=row_hash(
            prev, id=next_id, at=when, actor=actor, action=action, target=target, details=text
        ),
    )
    session.add(entry)
    session.flush()
    session.info[APPENDED] = True
    return entry


@dataclass(frozen=True)
class VerifyResult:
    """What :func:`verify` found: ``ok``, rows checked, the head hash, the first bad row, and
    the clinical rows that differ from what the chain committed to (``record``)."""

    ok: bool
    rows: int
    head: str
    bad_id: int | None = None
    reason: str = ""
    record: tuple[str, ...] = ()
    records_checked: int = 0

    @property
    def message(self) -> str:
        if self.ok:
            return (
                f"audit log verified: {self.rows} rows, {self.records_checked} clinical records "
                f"match, head {self.head}"
            )
        if self.bad_id is not None:
            return f"audit log broken at row {self.bad_id}: {self.reason}"
        shown = "; ".join(self.record[:10])
        more = f" (and {len(self.record) - 10} more)" if len(self.record) > 10 else ""
        return f"the clinical record does not match the audit log: {shown}{more}"


def verify(session: Session, *, batch: int = 2000) -> VerifyResult:
    """Walk the chain from the first row, stopping at the first row that does not verify; then
    compare every clinical row with the newest commitment to it (:mod:`~surveytool.clinic.record`)."""
    from surveytool.clinic import record

    prev = GENESIS
    expected_id = 1
    rows = 0
    last_id = 0
    committed: dict[str, tuple[str, int]] = {}
    while True:
        chunk = session.execute(
            sa.select(AuditEntry)
            .where(AuditEntry.id > last_id)
            .order_by(AuditEntry.id)
            .limit(batch)
            .execution_options(yield_per=batch)
        ).scalars()
        seen = 0
        for entry in chunk:
            seen += 1
            if entry.id != expected_id:
                return VerifyResult(False, rows, prev, expected_id, f"row {expected_id} is missing")
            if entry.prev_hash != prev:
                return VerifyResult(
                    False, rows, prev, entry.id, "its previous hash does not match the row before"
                )
            recomputed = row_hash(
                prev,
                id=entry.id,
                at=entry.at,
                actor=entry.actor,
                action=entry.action,
                target=entry.target,
                details=entry.details,
            )
            if recomputed != entry.hash:
                return VerifyResult(
                    False, rows, prev, entry.id, "its content does not match its hash"
                )
            if '"record"' in entry.details:
                for key, value in json.loads(entry.details).get(RECORD, {}).items():
                    committed[key] = (value, entry.id)
            prev = entry.hash
            expected_id += 1
            rows += 1
            last_id = entry.id
        session.expunge_all()
        if seen < batch:
            break
    problems = record.check(session, committed)
    session.expunge_all()
    return VerifyResult(
        not problems, rows, prev, record=tuple(problems), records_checked=len(committed)
    )


# ---------------------------------------------------------------------------------------------
# The head, kept outside the database
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Head:
    """The newest audit row's id and hash, as written to the head file after a change."""

    id: int
    hash: str
    at: str = ""

    def text(self) -> str:
        return canonical_json({"id": self.id, "hash": self.hash, "at": self.at}) + "\n"


def current_head(session: Session) -> Head | None:
    last = session.execute(
        sa.select(AuditEntry.id, AuditEntry.hash, AuditEntry.at)
        .order_by(AuditEntry.id.desc())
        .limit(1)
    ).first()
    return None if last is None else Head(last.id, last.hash, _timestamp(last.at))


def read_head(path: Path) -> Head | None:
    """The head file's content; None when there is none yet. Unreadable: :class:`AuditError`."""
    try:
        data = json.loads(path.read_text("utf-8"))
        return Head(int(data["id"]), str(data["hash"]), str(data.get("at", "")))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AuditError(
            f"cannot read the audit head file {path} ({exc}); restore it from a copy, or "
            "compare the head printed by `surveytool clinic audit-head` with one kept elsewhere"
        ) from None


def write_head(path: Path, head: Head) -> None:
    """Write the head file atomically (owner-only), never moving it backwards."""
    from surveytool.io.files import LockFile, write_text_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    with LockFile(path.with_name(path.name + ".lock")):
        try:
            known = read_head(path)
        except AuditError:
            known = None
        if known is None or known.id <= head.id:
            write_text_atomic(path, head.text(), secret=True)


def check_head(result: VerifyResult, session: Session, head: Head | None) -> VerifyResult:
    """Compare the chain with the head kept outside the database: rows deleted from the end
    of the log (the head names a row the database no longer has, or another hash) fail."""
    if head is None or not result.ok:
        return result
    if head.id > result.rows:
        return VerifyResult(
            False,
            result.rows,
            result.head,
            head.id,
            f"the newest rows were removed: the head file names row {head.id} ({head.at}), the "
            f"log ends at row {result.rows}",
        )
    stored = session.execute(sa.select(AuditEntry.hash).where(AuditEntry.id == head.id)).scalar()
    if stored != head.hash:
        return VerifyResult(
            False,
            result.rows,
            result.head,
            head.id,
            "its hash is not the one the head file names (the log was rewritten)",
        )
    return result


def entries_for(session: Session, target_prefixes: list[str]) -> list[AuditEntry]:
    """Audit rows whose target is one of ``target_prefixes`` (e.g. ``client:7``), oldest first."""
    if not target_prefixes:
        return []
    return list(
        session.execute(
            sa.select(AuditEntry)
            .where(AuditEntry.target.in_(target_prefixes))
            .order_by(AuditEntry.id)
        ).scalars()
    )
