"""Alerts say what a clinician needs: the check, the item's text, the answer's label, the rule.

- alerts gain ``check_id``, ``item_text``, ``answer_label``, ``rule`` and ``reason`` (all nullable:
  alerts stored before have only the item id, the answer and the message);
- ``answer`` becomes nullable: a check may alert on a skipped item (``on_skip: alert``).

Only columns are added and one constraint relaxed; no row is deleted or rewritten.

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


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("check_id", sa.String(64)))
        batch.add_column(sa.Column("item_text", sa.Text))
        batch.add_column(sa.Column("answer_label", sa.String(200)))
        batch.add_column(sa.Column("rule", sa.Text))
        batch.add_column(sa.Column("reason", sa.String(16)))
        batch.alter_column("answer", existing_type=sa.Integer, nullable=True)


def downgrade() -> None:
    raise NotImplementedError(
        "the clinic schema is not downgraded (it would drop records); restore a backup instead"
    )
