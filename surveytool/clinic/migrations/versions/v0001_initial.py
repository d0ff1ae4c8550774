"""The first clinic schema: clinicians, clients, administrations, answers, scores, alerts, notes,
and the hash-chained audit log (append-only: triggers refuse UPDATE and DELETE).

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "clinicians",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(200)),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("username", name="uq_clinicians_username"),
    )
    op.create_table(
        "clients",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("display_name", sa.String(200)),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("created_by_id", sa.Integer, sa.ForeignKey("clinicians.id")),
        sa.UniqueConstraint("code", name="uq_clients_code"),
    )
    op.create_table(
        "administrations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("client_id", sa.Integer, sa.ForeignKey("clients.id"), nullable=False),
        sa.Column("instrument_id", sa.String(64), nullable=False),
        sa.Column("instrument_version", sa.String(64), nullable=False),
        sa.Column("instrument_hash", sa.String(64), nullable=False),
        sa.Column("instrument_source", sa.Text, nullable=False),
        sa.Column("form", sa.String(64)),
        sa.Column("clinician_id", sa.Integer, sa.ForeignKey("clinicians.id")),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("started_at", sa.DateTime),
        sa.Column("administered_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_administrations_client_id", "administrations", ["client_id"])
    op.create_table(
        "item_answers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "administration_id", sa.Integer, sa.ForeignKey("administrations.id"), nullable=False
        ),
        sa.Column("item_id", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("value", sa.Integer),
        sa.UniqueConstraint("administration_id", "item_id", name="uq_answer_item"),
    )
    op.create_table(
        "scores",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "administration_id", sa.Integer, sa.ForeignKey("administrations.id"), nullable=False
        ),
        sa.Column("scale_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("n_answered", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("band", sa.String(200)),
        sa.Column("t_score", sa.Float),
        sa.Column("percentile", sa.Float),
        sa.Column("instrument_hash", sa.String(64), nullable=False),
        sa.Column("computed_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("administration_id", "scale_id", name="uq_score_scale"),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "administration_id", sa.Integer, sa.ForeignKey("administrations.id"), nullable=False
        ),
        sa.Column("client_id", sa.Integer, sa.ForeignKey("clients.id"), nullable=False),
        sa.Column("item_id", sa.String(64), nullable=False),
        sa.Column("answer", sa.Integer, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_alerts_client_id", "alerts", ["client_id"])
    op.create_table(
        "notes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("client_id", sa.Integer, sa.ForeignKey("clients.id"), nullable=False),
        sa.Column("clinician_id", sa.Integer, sa.ForeignKey("clinicians.id")),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
    )
    op.create_index("ix_notes_client_id", "notes", ["client_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("hash", name="uq_audit_log_hash"),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{event.lower()} BEFORE {event} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END; $$"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
        )


def downgrade() -> None:
    raise NotImplementedError(
        "the clinic schema is not downgraded (it would drop records); restore a backup instead"
    )
