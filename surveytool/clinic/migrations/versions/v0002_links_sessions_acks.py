"""Questionnaires by link, clinician login sessions, alert acknowledgement, mode and status.

- administrations gain ``mode`` (existing rows: in person, the only mode of 0001) and ``status``
  (``partial`` when any item was left unanswered, else ``complete``; back-filled from the answers);
- alerts gain who acknowledged them, when, and a note;
- new tables ``links`` (single-use questionnaire links, token hashes only) and ``sessions``.

Only columns and tables are added; no existing row is deleted or rewritten except the back-fill.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column(
        "administrations",
        sa.Column("mode", sa.String(16), nullable=False, server_default="in_person"),
    )
    op.add_column(
        "administrations",
        sa.Column("status", sa.String(16), nullable=False, server_default="complete"),
    )
    op.execute(
        "UPDATE administrations SET status = 'partial' WHERE EXISTS (SELECT 1 FROM item_answers "
        "WHERE item_answers.administration_id = administrations.id AND item_answers.value IS NULL)"
    )
    op.add_column("alerts", sa.Column("acknowledged_at", sa.DateTime))
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with its reference in one statement (no ALTER of constraints)
        op.execute(
            "ALTER TABLE alerts ADD COLUMN acknowledged_by_id INTEGER REFERENCES clinicians (id)"
        )
    else:
        op.add_column(
            "alerts",
            sa.Column(
                "acknowledged_by_id",
                sa.Integer,
                sa.ForeignKey("clinicians.id", name="fk_alerts_acknowledged_by_id"),
            ),
        )
    op.add_column("alerts", sa.Column("acknowledgement_note", sa.Text))
    op.create_table(
        "links",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("client_id", sa.Integer, sa.ForeignKey("clients.id"), nullable=False),
        sa.Column("instrument_id", sa.String(64), nullable=False),
        sa.Column("instrument_source", sa.Text, nullable=False),
        sa.Column("form", sa.String(64)),
        sa.Column("show_results", sa.Boolean, nullable=False),
        sa.Column("created_by_id", sa.Integer, sa.ForeignKey("clinicians.id")),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
        sa.Column("used_at", sa.DateTime),
        sa.Column("session_hash", sa.String(64)),
        sa.Column("session_expires_at", sa.DateTime),
        sa.Column("completed_at", sa.DateTime),
        sa.Column("revoked_at", sa.DateTime),
        sa.Column("administration_id", sa.Integer, sa.ForeignKey("administrations.id")),
        sa.UniqueConstraint("token_hash", name="uq_links_token_hash"),
        sa.UniqueConstraint("session_hash", name="uq_links_session_hash"),
    )
    op.create_index("ix_links_client_id", "links", ["client_id"])
    op.create_table(
        "sessions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("clinician_id", sa.Integer, sa.ForeignKey("clinicians.id"), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
        sa.Column("last_seen_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("token_hash", name="uq_sessions_token_hash"),
    )
    op.create_index("ix_sessions_clinician_id", "sessions", ["clinician_id"])


def downgrade() -> None:
    raise NotImplementedError(
        "the clinic schema is not downgraded (it would drop records); restore a backup instead"
    )
