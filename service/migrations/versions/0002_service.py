"""Users, audit log, plan jobs and pins; KPIs kept with each plan

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "app_user",
        sa.Column("user_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("centre_id", sa.String(length=64), nullable=True),
        sa.Column("team_id", sa.String(length=64), nullable=True),
        sa.Column("clinician_id", sa.String(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_app_user")),
        sa.UniqueConstraint("username", name=op.f("uq_app_user_username")),
    )
    op.create_table(
        "audit_log",
        sa.Column("audit_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("resident_ids", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("audit_id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_username"), ["username"], unique=False)

    op.create_table(
        "plan_job",
        sa.Column("job_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("centre_id", sa.String(length=64), nullable=False),
        sa.Column("team_id", sa.String(length=64), nullable=True),
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("base_plan_id", sa.Integer(), nullable=True),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("elapsed_s", sa.Double(), nullable=False),
        sa.Column("visits_placed", sa.Integer(), nullable=False),
        sa.Column("visits_total", sa.Integer(), nullable=False),
        sa.Column("best_cost", sa.BigInteger(), nullable=True),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("worker_pid", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_plan_job")),
    )
    with op.batch_alter_table("plan_job", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plan_job_centre_id"), ["centre_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_plan_job_requested_by"), ["requested_by"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_plan_job_status"), ["status"], unique=False)

    op.create_table(
        "service_secret",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_service_secret")),
    )
    op.create_table(
        "plan_pin",
        sa.Column("pin_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("clinician_id", sa.String(length=64), nullable=True),
        sa.Column("visit_date", sa.Date(), nullable=True),
        sa.Column("start_min", sa.Integer(), nullable=True),
        sa.Column("set_by", sa.String(length=64), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plan.plan_id"], name=op.f("fk_plan_pin_plan_id_plan"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pin_id", name=op.f("pk_plan_pin")),
        sa.UniqueConstraint("plan_id", "visit_id", name=op.f("uq_plan_pin_plan_id_visit_id")),
    )
    with op.batch_alter_table("plan_pin", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plan_pin_plan_id"), ["plan_id"], unique=False)

    with op.batch_alter_table("plan", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kpis", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("plan", schema=None) as batch_op:
        batch_op.drop_column("kpis")

    with op.batch_alter_table("plan_pin", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_pin_plan_id"))

    op.drop_table("plan_pin")
    op.drop_table("service_secret")
    with op.batch_alter_table("plan_job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_job_status"))
        batch_op.drop_index(batch_op.f("ix_plan_job_requested_by"))
        batch_op.drop_index(batch_op.f("ix_plan_job_centre_id"))

    op.drop_table("plan_job")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_username"))
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))

    op.drop_table("audit_log")
    op.drop_table("app_user")
