"""A nurse corrects a visit record (更正): the version it replaces is kept in
``visit_record_version``; a discharged home sick-bed keeps the reason given (撤床原因)

The record keeps its id and always says what is true now, so the due list and the official
tables, which read ``visit_record`` only, count the corrected visit and nothing else.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "visit_record_version",
        sa.Column("version_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("clinician_ids", sa.String(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("systolic_mmhg", sa.Integer(), nullable=True),
        sa.Column("diastolic_mmhg", sa.Integer(), nullable=True),
        sa.Column("glucose_mmol_l", sa.Double(), nullable=True),
        sa.Column("tests", sa.String(), nullable=False),
        sa.Column("place", sa.String(length=16), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("superseded_by", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["visit_record.record_id"],
            name=op.f("fk_visit_record_version_record_id_visit_record"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("version_id", name=op.f("pk_visit_record_version")),
    )
    with op.batch_alter_table("visit_record_version", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_visit_record_version_record_id"), ["record_id"], unique=False
        )
    with op.batch_alter_table("sickbed_episode", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("discharge_reason", sa.Text(), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("sickbed_episode", schema=None) as batch_op:
        batch_op.drop_column("discharge_reason")
    with op.batch_alter_table("visit_record_version", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visit_record_version_record_id"))
    op.drop_table("visit_record_version")
