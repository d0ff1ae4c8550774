"""A practice, not a demo: roles and assignment, second factor and password reset, login
attempts in the database, link progress kept server-side, notifications of alerts, the
practice's settings and its reliability references.

- clinicians gain ``role`` (``admin`` or ``clinician``; existing accounts become admins, as
  each could see everything before), ``email`` (where alert notifications go), ``totp_secret``,
  a one-time password-reset code (hash and expiry) and ``password_changed_at``;
- clients gain ``clinician_id``, the clinician they are assigned to (existing clients: the
  clinician who added them);
- links gain ``progress`` (the answers given so far, page by page) and ``progress_at``;
- new tables ``login_attempts`` (throttling and the audit of failed logins), ``notifications``
  (every attempt to tell someone of an alert), ``settings`` (the practice's configuration) and
  ``scale_references`` (reliability and SD per scale, with their source).

Only columns and tables are added; no existing row is deleted; the back-fills are stated above.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def _add_reference(table: str, column: str, target: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with its reference in one statement (no ALTER of constraints)
        op.execute(f"ALTER TABLE {table} ADD COLUMN {column} INTEGER REFERENCES {target} (id)")
    else:
        op.add_column(
            table,
            sa.Column(
                column, sa.Integer, sa.ForeignKey(f"{target}.id", name=f"fk_{table}_{column}")
            ),
        )


def upgrade() -> None:
    op.add_column(
        "clinicians", sa.Column("role", sa.String(16), nullable=False, server_default="admin")
    )
    op.add_column("clinicians", sa.Column("email", sa.String(254)))
    op.add_column("clinicians", sa.Column("totp_secret", sa.String(64)))
    op.add_column("clinicians", sa.Column("reset_hash", sa.String(64)))
    op.add_column("clinicians", sa.Column("reset_expires_at", sa.DateTime))
    op.add_column("clinicians", sa.Column("password_changed_at", sa.DateTime))
    _add_reference("clients", "clinician_id", "clinicians")
    op.create_index("ix_clients_clinician_id", "clients", ["clinician_id"])
    op.execute("UPDATE clients SET clinician_id = created_by_id")
    op.add_column("links", sa.Column("progress", sa.Text))
    op.add_column("links", sa.Column("progress_at", sa.DateTime))
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("succeeded", sa.Boolean, nullable=False),
    )
    op.create_index("ix_login_attempts_address", "login_attempts", ["address"])
    op.create_index("ix_login_attempts_username", "login_attempts", ["username"])
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("recipient", sa.String(254), nullable=False),
        sa.Column("attempted_at", sa.DateTime, nullable=False),
        sa.Column("sent_at", sa.DateTime),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_notifications_alert_id", "notifications", ["alert_id"])
    op.create_table(
        "settings",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("changed_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "scale_references",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("instrument_id", sa.String(64), nullable=False),
        sa.Column("scale_id", sa.String(64), nullable=False),
        sa.Column("reliability", sa.Float, nullable=False),
        sa.Column("sd", sa.Float, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("added_at", sa.DateTime, nullable=False),
        sa.Column("added_by", sa.String(200), nullable=False),
        sa.UniqueConstraint("instrument_id", "scale_id", name="uq_scale_reference"),
    )


def downgrade() -> None:
    raise NotImplementedError(
        "the clinic schema is not downgraded (it would drop records); restore a backup instead"
    )
