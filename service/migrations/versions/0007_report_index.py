"""The reports' index: a programme's completed visits per resident and day, read from the index
alone (programme, outcome, resident_id, visit_date), in place of 0006's (programme, visit_date)

The official tables and the overdue list count a programme's completed visits grouped by
resident or by day; with the outcome and the resident in the index the database never reads the
table for them (a district year: the overdue list's query 0.32 -> 0.07 s on SQLite).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("visit_record", schema=None) as batch_op:
        batch_op.drop_index("ix_visit_record_programme_visit_date")
        batch_op.create_index(
            "ix_visit_record_programme",
            ["programme", "outcome", "resident_id", "visit_date"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("visit_record", schema=None) as batch_op:
        batch_op.drop_index("ix_visit_record_programme")
        batch_op.create_index(
            "ix_visit_record_programme_visit_date", ["programme", "visit_date"], unique=False
        )
