"""Each visit record keeps the resident's flags on the day it was recorded (disability,
hypertension, diabetes), and each discharged home sick-bed the disability, so that a report over
a past period counts people as they were then, not as the register says today

Stored rows take the resident's flags as they are now: the best that is known of them. An index
on (programme, visit_date) lets a report read one programme's visits of a period without reading
the year.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RESIDENT = sa.table(
    "resident",
    sa.column("resident_id", sa.String),
    sa.column("disability", sa.String),
    sa.column("hypertension", sa.Boolean),
    sa.column("diabetes", sa.Boolean),
)


def _now(table: sa.TableClause, column: str) -> sa.ScalarSelect[object]:
    """The resident's ``column`` today, for a row of ``table``."""
    return (
        sa.select(_RESIDENT.c[column])
        .where(_RESIDENT.c.resident_id == table.c.resident_id)
        .scalar_subquery()
    )


def upgrade() -> None:
    with op.batch_alter_table("visit_record", schema=None) as batch_op:
        batch_op.add_column(sa.Column("disability", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("hypertension", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("diabetes", sa.Boolean(), nullable=True))
        batch_op.create_index(
            "ix_visit_record_programme_visit_date", ["programme", "visit_date"], unique=False
        )
    with op.batch_alter_table("sickbed_episode", schema=None) as batch_op:
        batch_op.add_column(sa.Column("disability", sa.String(length=8), nullable=True))
    record = sa.table(
        "visit_record",
        sa.column("resident_id", sa.String),
        sa.column("disability", sa.String),
        sa.column("hypertension", sa.Boolean),
        sa.column("diabetes", sa.Boolean),
    )
    op.execute(
        record.update().values(
            disability=_now(record, "disability"),
            hypertension=_now(record, "hypertension"),
            diabetes=_now(record, "diabetes"),
        )
    )
    episode = sa.table(
        "sickbed_episode",
        sa.column("resident_id", sa.String),
        sa.column("discharged", sa.Date),
        sa.column("disability", sa.String),
    )
    op.execute(
        episode.update()
        .where(episode.c.discharged.is_not(None))
        .values(disability=_now(episode, "disability"))
    )


def downgrade() -> None:
    with op.batch_alter_table("sickbed_episode", schema=None) as batch_op:
        batch_op.drop_column("disability")
    with op.batch_alter_table("visit_record", schema=None) as batch_op:
        batch_op.drop_index("ix_visit_record_programme_visit_date")
        batch_op.drop_column("diabetes")
        batch_op.drop_column("hypertension")
        batch_op.drop_column("disability")
