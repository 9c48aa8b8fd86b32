"""Plans keep why each visit is due and why a left-out one is: reason in Chinese, urgency, kind,
last visit and rule

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _why_due() -> list[sa.Column[object]]:
    return [
        sa.Column("urgency", sa.String(length=16), nullable=False, server_default=""),
        sa.Column("last_visit", sa.Date(), nullable=True),
        sa.Column("rule_zh", sa.Text(), nullable=False, server_default=""),
        sa.Column("rule_en", sa.Text(), nullable=False, server_default=""),
    ]


def upgrade() -> None:
    with op.batch_alter_table("plan_stop", schema=None) as batch_op:
        for column in _why_due():
            batch_op.add_column(column)
        batch_op.add_column(sa.Column("due_by", sa.Date(), nullable=True))
    with op.batch_alter_table("plan_unscheduled", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason_zh", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(
            sa.Column("kind", sa.String(length=24), nullable=False, server_default="")
        )
        for column in _why_due():
            batch_op.add_column(column)


def downgrade() -> None:
    with op.batch_alter_table("plan_unscheduled", schema=None) as batch_op:
        for name in ("rule_en", "rule_zh", "last_visit", "urgency", "kind", "reason_zh"):
            batch_op.drop_column(name)
    with op.batch_alter_table("plan_stop", schema=None) as batch_op:
        for name in ("due_by", "rule_en", "rule_zh", "last_visit", "urgency"):
            batch_op.drop_column(name)
