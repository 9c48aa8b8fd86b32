"""A request may be the second visit of a pair (前序申请编号): done after another request of the
same resident, the same day, by another clinician, starting ``min_gap_min``-``max_gap_min``
minutes after that one starts

Stored requests are on their own (no ``after_request_id``, gaps 0), as they were planned before.
No foreign key to ``service_request``: the two of a pair are written in one bulk insert in no
set order, and the reader has already refused a pair naming a request the register lacks.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("service_request", schema=None) as batch_op:
        batch_op.add_column(sa.Column("after_request_id", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("min_gap_min", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("max_gap_min", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("service_request", schema=None) as batch_op:
        batch_op.drop_column("max_gap_min")
        batch_op.drop_column("min_gap_min")
        batch_op.drop_column("after_request_id")
