"""What the official tables need: signed residents, health-check tests, the visit's place,
home sick-bed episodes, quotas; one vocabulary of visit outcomes

Stored rows are brought in line: an outcome written in the CLI's old words (``done``, ``missed``)
becomes ``completed`` / ``not_home``; each record's place is its programme's (committee sessions
at the committee, the rest at home); a completed health check that names no tests gets those
the programme includes (Tianjin 三.(一)). Every resident already registered counts as signed.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here (a migration must not change when the code does).
_OUTCOMES = ("completed", "not_home", "refused", "hospitalised", "deceased")
_OLD_WORDS = {"done": "completed", "missed": "not_home"}
_COMMITTEE_PROGRAMMES = ("medicine_delivery", "medication_guidance")
_HEALTH_CHECK_DEFAULT_TESTS = "blood_routine;urine_routine;liver;kidney;lipids;ecg"


def upgrade() -> None:
    with op.batch_alter_table("resident", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signed", sa.Boolean(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("signed_since", sa.Date(), nullable=True))

    record = sa.table(
        "visit_record",
        sa.column("outcome", sa.String),
        sa.column("programme", sa.String),
        sa.column("place", sa.String),
        sa.column("tests", sa.String),
    )
    with op.batch_alter_table("visit_record", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tests", sa.String(), server_default="", nullable=False))
        batch_op.add_column(
            sa.Column("place", sa.String(length=16), server_default="home", nullable=False)
        )
    for old, new in _OLD_WORDS.items():
        op.execute(record.update().where(record.c.outcome == old).values(outcome=new))
    op.execute(
        record.update()
        .where(record.c.programme.in_(_COMMITTEE_PROGRAMMES))
        .values(place="committee")
    )
    op.execute(
        record.update()
        .where(
            record.c.programme == "health_check",
            record.c.outcome == "completed",
            record.c.tests == "",
        )
        .values(tests=_HEALTH_CHECK_DEFAULT_TESTS)
    )
    with op.batch_alter_table("visit_record", schema=None) as batch_op:
        batch_op.create_check_constraint(
            "outcome", "outcome IN (" + ", ".join(f"'{o}'" for o in _OUTCOMES) + ")"
        )
        batch_op.create_check_constraint("place", "place IN ('home', 'committee')")

    op.create_table(
        "sickbed_episode",
        sa.Column("episode_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("resident_id", sa.String(length=64), nullable=False),
        sa.Column("opened", sa.Date(), nullable=False),
        sa.Column("discharged", sa.Date(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["resident.resident_id"],
            name=op.f("fk_sickbed_episode_resident_id_resident"),
        ),
        sa.PrimaryKeyConstraint("episode_id", name=op.f("pk_sickbed_episode")),
        sa.UniqueConstraint(
            "resident_id", "opened", name=op.f("uq_sickbed_episode_resident_id_opened")
        ),
    )
    with op.batch_alter_table("sickbed_episode", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sickbed_episode_resident_id"), ["resident_id"], unique=False
        )
    op.create_table(
        "report_quota",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(length=128), nullable=False),
        sa.Column("signed_elders", sa.Integer(), nullable=False),
        sa.Column("home_visits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", "unit", name=op.f("pk_report_quota")),
    )


def downgrade() -> None:
    op.drop_table("report_quota")
    with op.batch_alter_table("sickbed_episode", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sickbed_episode_resident_id"))
    op.drop_table("sickbed_episode")
    with op.batch_alter_table("visit_record", schema=None) as batch_op:
        batch_op.drop_constraint("ck_visit_record_place", type_="check")
        batch_op.drop_constraint("ck_visit_record_outcome", type_="check")
        batch_op.drop_column("place")
        batch_op.drop_column("tests")
    with op.batch_alter_table("resident", schema=None) as batch_op:
        batch_op.drop_column("signed_since")
        batch_op.drop_column("signed")
