"""The clinic's tables, as typed SQLAlchemy 2 ORM models (the schema at the newest migration).

The schema itself is created and changed only by the Alembic migrations in
``surveytool/clinic/migrations``; these models describe the newest revision, and a test checks
that the two agree.

Times are stored in UTC without a zone (the same on SQLite and PostgreSQL) and come back as
timezone-aware UTC datetimes (:class:`UTCDateTime`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A datetime kept as naive UTC in the database and returned as aware UTC."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # pragma: no cover - SQLAlchemy parses SQLite strings itself
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """Now, in UTC, to the microsecond (what both databases keep)."""
    return datetime.now(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)


# Roles of an account: a practice admin sees every client and runs the accounts; a clinician
# sees the clients assigned to them.
ADMIN = "admin"
CLINICIAN = "clinician"
ROLES = (ADMIN, CLINICIAN)

# Modes of an administration and their statuses.
IN_PERSON = "in_person"
BY_LINK = "link"
COMPLETE = "complete"
PARTIAL = "partial"


class Clinician(Base):
    __tablename__ = "clinicians"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    display_name: Mapped[str | None] = mapped_column(sa.String(200))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    active: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    role: Mapped[str] = mapped_column(sa.String(16), server_default=ADMIN)
    email: Mapped[str | None] = mapped_column(sa.String(254))
    totp_secret: Mapped[str | None] = mapped_column(sa.String(64))
    reset_hash: Mapped[str | None] = mapped_column(sa.String(64))
    reset_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN

    @property
    def name(self) -> str:
        return self.display_name or self.username


class Client(Base):
    """A client, known by a pseudonymous code; the display name never leaves this database."""

    __tablename__ = "clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    display_name: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("clinicians.id"))
    #: the clinician this client is assigned to (None: only admins see the client)
    clinician_id: Mapped[int | None] = mapped_column(sa.ForeignKey("clinicians.id"), index=True)

    administrations: Mapped[list[Administration]] = relationship(
        back_populates="client", order_by="Administration.administered_at"
    )


class Administration(Base):
    """One completed questionnaire: what was administered, by whom, when and how."""

    __tablename__ = "administrations"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("clients.id"), index=True)
    instrument_id: Mapped[str] = mapped_column(sa.String(64))
    instrument_version: Mapped[str] = mapped_column(sa.String(64))
    instrument_hash: Mapped[str] = mapped_column(sa.String(64))
    instrument_source: Mapped[str] = mapped_column(sa.Text)
    form: Mapped[str | None] = mapped_column(sa.String(64))
    clinician_id: Mapped[int | None] = mapped_column(sa.ForeignKey("clinicians.id"))
    actor: Mapped[str] = mapped_column(sa.String(200))
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    administered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    mode: Mapped[str] = mapped_column(sa.String(16), server_default=IN_PERSON)
    status: Mapped[str] = mapped_column(sa.String(16), server_default=COMPLETE)

    client: Mapped[Client] = relationship(back_populates="administrations")
    answers: Mapped[list[ItemAnswer]] = relationship(order_by="ItemAnswer.position")
    scores: Mapped[list[Score]] = relationship(order_by="Score.id")
    alerts: Mapped[list[Alert]] = relationship(order_by="Alert.id")


class ItemAnswer(Base):
    """One item's raw answer (a scale point or a missing code); NULL = not answered."""

    __tablename__ = "item_answers"
    __table_args__ = (sa.UniqueConstraint("administration_id", "item_id", name="uq_answer_item"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    administration_id: Mapped[int] = mapped_column(sa.ForeignKey("administrations.id"))
    item_id: Mapped[str] = mapped_column(sa.String(64))
    position: Mapped[int] = mapped_column(sa.Integer)
    value: Mapped[int | None] = mapped_column(sa.Integer)


class Score(Base):
    """One subscale or composite score, computed from the answers (re-computable)."""

    __tablename__ = "scores"
    __table_args__ = (sa.UniqueConstraint("administration_id", "scale_id", name="uq_score_scale"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    administration_id: Mapped[int] = mapped_column(sa.ForeignKey("administrations.id"))
    scale_id: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[str] = mapped_column(sa.String(16))
    value: Mapped[float | None] = mapped_column(sa.Float)
    n_answered: Mapped[int] = mapped_column(sa.Integer)
    status: Mapped[str] = mapped_column(sa.String(16))
    band: Mapped[str | None] = mapped_column(sa.String(200))
    t_score: Mapped[float | None] = mapped_column(sa.Float)
    percentile: Mapped[float | None] = mapped_column(sa.Float)
    instrument_hash: Mapped[str] = mapped_column(sa.String(64))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Alert(Base):
    """A critical check met at level alert; open until a clinician acknowledges it.

    What the clinician reads is stored as it was when the answer was given (the instrument file
    may change later): the check, the item's text, the answer and its label, the rule in words
    and why it was met (``rule``, ``skip``, ``missing_code``). Alerts stored before revision 0004
    have only the item id, the answer and the message (the other columns are None).

    On a clinician's link the alert is raised when the page with the answer is saved
    (``link_id``), before the answers are sent: ``administration_id`` is None until the client
    sends them (then the alert is attached to that administration), and stays None if they never
    do. One alert per link and check (a unique index).
    """

    __tablename__ = "alerts"
    __table_args__ = (sa.Index("uq_alerts_link_check", "link_id", "check_id", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    administration_id: Mapped[int | None] = mapped_column(sa.ForeignKey("administrations.id"))
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("clients.id"), index=True)
    item_id: Mapped[str] = mapped_column(sa.String(64))
    answer: Mapped[int | None] = mapped_column(sa.Integer)
    message: Mapped[str] = mapped_column(sa.Text)
    check_id: Mapped[str | None] = mapped_column(sa.String(64))
    item_text: Mapped[str | None] = mapped_column(sa.Text)
    answer_label: Mapped[str | None] = mapped_column(sa.String(200))
    rule: Mapped[str | None] = mapped_column(sa.Text)
    reason: Mapped[str | None] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("clinicians.id"))
    acknowledgement_note: Mapped[str | None] = mapped_column(sa.Text)
    link_id: Mapped[int | None] = mapped_column(sa.ForeignKey("links.id"))

    acknowledged_by: Mapped[Clinician | None] = relationship()
    client: Mapped[Client] = relationship()


class Note(Base):
    """A clinician's note about a client."""

    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("clients.id"), index=True)
    clinician_id: Mapped[int | None] = mapped_column(sa.ForeignKey("clinicians.id"))
    actor: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    text: Mapped[str] = mapped_column(sa.Text)


class Link(Base):
    """A single-use questionnaire link; only the SHA-256 of its token is kept.

    The first visit uses the token up (``used_at``) and turns it into a client session, whose
    token is kept as a hash too (``session_hash``); the session can submit answers once.
    """

    __tablename__ = "links"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("clients.id"), index=True)
    instrument_id: Mapped[str] = mapped_column(sa.String(64))
    instrument_source: Mapped[str] = mapped_column(sa.Text)
    form: Mapped[str | None] = mapped_column(sa.String(64))
    show_results: Mapped[bool] = mapped_column(sa.Boolean)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("clinicians.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    session_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    session_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    administration_id: Mapped[int | None] = mapped_column(sa.ForeignKey("administrations.id"))
    #: the answers given so far and the page reached (JSON), until the answers are sent
    progress: Mapped[str | None] = mapped_column(sa.Text)
    progress_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    client: Mapped[Client] = relationship()
    created_by: Mapped[Clinician | None] = relationship()

    def state(self, now: datetime) -> str:
        """``completed``, ``revoked``, ``opened``, ``expired`` or ``waiting``."""
        if self.completed_at is not None:
            return "completed"
        if self.revoked_at is not None:
            return "revoked"
        if self.used_at is not None:
            return "opened"
        if self.expires_at <= now:
            return "expired"
        return "waiting"


class LoginSession(Base):
    """A clinician's login session; only the SHA-256 of the session token is kept."""

    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    clinician_id: Mapped[int] = mapped_column(sa.ForeignKey("clinicians.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)

    clinician: Mapped[Clinician] = relationship()


class LoginAttempt(Base):
    """One login attempt (throttling reads these; failures are audited too)."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    username: Mapped[str] = mapped_column(sa.String(64), index=True)
    address: Mapped[str] = mapped_column(sa.String(64), index=True)
    succeeded: Mapped[bool] = mapped_column(sa.Boolean)


class Notification(Base):
    """One attempt to tell someone that an alert needs attention (no client data is sent)."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(sa.ForeignKey("alerts.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(16))  # "notify" or "escalate"
    recipient: Mapped[str] = mapped_column(sa.String(254))
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(sa.Text)


class Setting(Base):
    """One of the practice's settings (see :mod:`surveytool.clinic.settings`)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[str] = mapped_column(sa.Text)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ScaleReference(Base):
    """Reliability and SD of one scale, with where they come from (for reliable change)."""

    __tablename__ = "scale_references"
    __table_args__ = (sa.UniqueConstraint("instrument_id", "scale_id", name="uq_scale_reference"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_id: Mapped[str] = mapped_column(sa.String(64))
    scale_id: Mapped[str] = mapped_column(sa.String(64))
    reliability: Mapped[float] = mapped_column(sa.Float)
    sd: Mapped[float] = mapped_column(sa.Float)
    source: Mapped[str] = mapped_column(sa.Text)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
    added_by: Mapped[str] = mapped_column(sa.String(200))


class AuditEntry(Base):
    """One row of the append-only audit log (see :mod:`surveytool.clinic.audit`)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(sa.String(200))
    action: Mapped[str] = mapped_column(sa.String(64))
    target: Mapped[str] = mapped_column(sa.String(200))
    details: Mapped[str] = mapped_column(sa.Text)
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
