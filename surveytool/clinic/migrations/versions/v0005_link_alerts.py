"""An alert of a clinician's link is raised when the answer is saved, not when the answers are sent.

- alerts gain ``link_id``: the link whose answer raised the alert (None for an administration
  recorded in person);
- ``administration_id`` becomes nullable: an alert raised by a saved page belongs to no
  administration until the client sends the answers (then it is attached to it), and stays
  without one if the client never does;
- a unique index on ``(link_id, check_id)``: one alert per link and check, whichever process
  (several workers, two tabs) raises it.

Only a column and an index are added and one NOT NULL constraint dropped; no row is deleted or
rewritten. On SQLite the NOT NULL constraint is dropped as revision 0004 dropped the one of
``answer`` (the table's definition edited in the schema table, see there).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

_ADMINISTRATION_NOT_NULL = re.compile(
    r"(\badministration_id\s+INTEGER)\s+NOT\s+NULL", re.IGNORECASE
)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # SQLite adds a column with its reference in one statement (no ALTER of constraints)
        op.execute("ALTER TABLE alerts ADD COLUMN link_id INTEGER REFERENCES links (id)")
    else:
        op.add_column(
            "alerts",
            sa.Column("link_id", sa.Integer, sa.ForeignKey("links.id", name="fk_alerts_link_id")),
        )
    op.create_index("uq_alerts_link_check", "alerts", ["link_id", "check_id"], unique=True)
    if bind.dialect.name != "sqlite":
        op.alter_column("alerts", "administration_id", existing_type=sa.Integer, nullable=True)
        return
    sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'alerts'"
    ).scalar_one()
    relaxed, found = _ADMINISTRATION_NOT_NULL.subn(r"\1", sql)
    if found != 1:
        raise RuntimeError(f"unexpected definition of the alerts table: {sql}")
    version = int(bind.exec_driver_sql("PRAGMA schema_version").scalar_one())
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.exec_driver_sql(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'alerts'", (relaxed,)
    )
    bind.exec_driver_sql(f"PRAGMA schema_version = {version + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")
    problems = bind.exec_driver_sql("PRAGMA integrity_check").fetchall()
    if problems != [("ok",)]:
        raise RuntimeError(f"the clinic database fails its integrity check: {problems}")


def downgrade() -> None:
    raise NotImplementedError(
        "the clinic schema is not downgraded (it would drop records); restore a backup instead"
    )
