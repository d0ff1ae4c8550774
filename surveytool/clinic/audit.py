"""The audit log: who did what, when; append-only and hash-chained.

Each row's ``hash`` is SHA-256 over the previous row's hash (64 zeros before the first row)
followed by the canonical JSON of the row::

    hash_n = SHA-256( hash_{n-1} || JSON({"id", "at", "actor", "action", "target", "details"}) )

with sorted keys, no white space, UTF-8, ``at`` as ISO 8601 UTC to the microsecond, and
``details`` as the stored text (itself canonical JSON). Changing, inserting or deleting a row
breaks the chain at that row, which :func:`verify` reports. The database refuses UPDATE and
DELETE on the table (triggers made by the first migration), so changes need deliberate effort;
the chain makes them detectable. Truncating the newest rows cannot be told from the chain alone:
compare :attr:`VerifyResult.head` with one noted earlier (a backup keeps one too).

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
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from surveytool.clinic.models import AuditEntry, utcnow

GENESIS = "0" * 64
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
    return entry


@dataclass(frozen=True)
class VerifyResult:
    """What :func:`verify` found: ``ok``, rows checked, the head hash, the first bad row."""

    ok: bool
    rows: int
    head: str
    bad_id: int | None = None
    reason: str = ""

    @property
    def message(self) -> str:
        if self.ok:
            return f"audit log verified: {self.rows} rows, head {self.head}"
        return f"audit log broken at row {self.bad_id}: {self.reason}"


def verify(session: Session, *, batch: int = 2000) -> VerifyResult:
    """Walk the chain from the first row; stop at the first row that does not verify."""
    prev = GENESIS
    expected_id = 1
    rows = 0
    last_id = 0
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
            prev = entry.hash
            expected_id += 1
            rows += 1
            last_id = entry.id
        session.expunge_all()
        if seen < batch:
            return VerifyResult(True, rows, prev)


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
