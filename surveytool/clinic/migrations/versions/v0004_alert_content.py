"""Alerts say what a clinician needs: the check, the item's text, the answer's label, the rule.

- alerts gain ``check_id``, ``item_text``, ``answer_label``, ``rule`` and ``reason`` (all nullable:
  alerts stored before have only the item id, the answer and the message);
- ``answer`` becomes nullable: a check may alert on a skipped item (``on_skip: alert``).

Only columns are added and one NOT NULL constraint dropped; no row is deleted or rewritten.
SQLite cannot drop a NOT NULL constraint with ALTER TABLE, and rebuilding the table would delete
and re-insert alerts that notifications refer to (refused while foreign keys are on). SQLite
documents another way for exactly this change, which leaves the stored rows as they are: edit the
table's definition in the schema table (``writable_schema``) and bump ``schema_version``
(https://www.sqlite.org/lang_altertable.html, "Making Other Kinds Of Table Schema Changes").

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

_ANSWER_NOT_NULL = re.compile(r"(\banswer\s+INTEGER)\s+NOT\s+NULL", re.IGNORECASE)


def upgrade() -> None:
    op.add_column("alerts", sa.Column("check_id", sa.String(64)))
    op.add_column("alerts", sa.Column("item_text", sa.Text))
    op.add_column("alerts", sa.Column("answer_label", sa.String(200)))
    op.add_column("alerts", sa.Column("rule", sa.Text))
    op.add_column("alerts", sa.Column("reason", sa.String(16)))
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        op.alter_column("alerts", "answer", existing_type=sa.Integer, nullable=True)
        return
    sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'alerts'"
    ).scalar_one()
    relaxed, found = _ANSWER_NOT_NULL.subn(r"\1", sql)
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
