"""Registers, visit records, plans and the geocode cache

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "centre",
        sa.Column("centre_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("lat", sa.Double(), nullable=False),
        sa.Column("lon", sa.Double(), nullable=False),
        sa.Column("district", sa.String(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("centre_id", name=op.f("pk_centre")),
    )
    op.create_table(
        "geocode_cache",
        sa.Column("geocode_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=512), nullable=False),
        sa.Column("lat", sa.Double(), nullable=True),
        sa.Column("lon", sa.Double(), nullable=True),
        sa.Column("looked_up_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("geocode_id", name=op.f("pk_geocode_cache")),
        sa.UniqueConstraint("provider", "address", name=op.f("uq_geocode_cache_provider_address")),
    )
    op.create_table(
        "programme_override",
        sa.Column("programme", sa.String(length=64), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("programme", name=op.f("pk_programme_override")),
    )
    op.create_table(
        "clinician",
        sa.Column("clinician_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("team_id", sa.String(length=64), nullable=False),
        sa.Column("centre_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("skills", sa.String(), nullable=False),
        sa.Column("travel_mode", sa.String(length=16), nullable=False),
        sa.Column("work_days", sa.String(), nullable=False),
        sa.Column("shift_start_min", sa.Integer(), nullable=False),
        sa.Column("shift_end_min", sa.Integer(), nullable=False),
        sa.Column("lunch_start_min", sa.Integer(), nullable=True),
        sa.Column("lunch_end_min", sa.Integer(), nullable=True),
        sa.Column("phone", sa.String(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.centre_id"], name=op.f("fk_clinician_centre_id_centre")
        ),
        sa.PrimaryKeyConstraint("clinician_id", name=op.f("pk_clinician")),
    )
    with op.batch_alter_table("clinician", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_clinician_centre_id"), ["centre_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_clinician_team_id"), ["team_id"], unique=False)

    op.create_table(
        "committee",
        sa.Column("committee_id", sa.String(length=64), nullable=False),
        sa.Column("centre_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("lat", sa.Double(), nullable=False),
        sa.Column("lon", sa.Double(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.centre_id"], name=op.f("fk_committee_centre_id_centre")
        ),
        sa.PrimaryKeyConstraint("committee_id", name=op.f("pk_committee")),
    )
    with op.batch_alter_table("committee", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_committee_centre_id"), ["centre_id"], unique=False)

    op.create_table(
        "plan",
        sa.Column("plan_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("centre_id", sa.String(length=64), nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("saved_by", sa.String(), nullable=False),
        sa.Column("solver_status", sa.String(), nullable=False),
        sa.Column("objective", sa.BigInteger(), nullable=True),
        sa.Column("solve_seconds", sa.Double(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.centre_id"], name=op.f("fk_plan_centre_id_centre")
        ),
        sa.PrimaryKeyConstraint("plan_id", name=op.f("pk_plan")),
        sa.UniqueConstraint(
            "centre_id", "week_start", "version", name=op.f("uq_plan_centre_id_week_start_version")
        ),
    )
    op.create_table(
        "plan_route",
        sa.Column("route_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("clinician_id", sa.String(length=64), nullable=False),
        sa.Column("route_date", sa.Date(), nullable=False),
        sa.Column("depart_min", sa.Integer(), nullable=False),
        sa.Column("return_min", sa.Integer(), nullable=False),
        sa.Column("travel_min", sa.Integer(), nullable=False),
        sa.Column("travel_km", sa.Double(), nullable=False),
        sa.Column("work_min", sa.Integer(), nullable=False),
        sa.Column("overtime_min", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["plan.plan_id"],
            name=op.f("fk_plan_route_plan_id_plan"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("route_id", name=op.f("pk_plan_route")),
    )
    with op.batch_alter_table("plan_route", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plan_route_plan_id"), ["plan_id"], unique=False)

    op.create_table(
        "plan_stop",
        sa.Column("stop_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.String(length=128), nullable=False),
        sa.Column("resident_id", sa.String(length=64), nullable=True),
        sa.Column("committee_id", sa.String(length=64), nullable=True),
        sa.Column("programme", sa.String(length=64), nullable=False),
        sa.Column("clinician_id", sa.String(length=64), nullable=False),
        sa.Column("visit_date", sa.Date(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("arrival_min", sa.Integer(), nullable=False),
        sa.Column("start_min", sa.Integer(), nullable=False),
        sa.Column("end_min", sa.Integer(), nullable=False),
        sa.Column("travel_min", sa.Integer(), nullable=False),
        sa.Column("travel_km", sa.Double(), nullable=False),
        sa.Column("via_centre", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["plan.plan_id"],
            name=op.f("fk_plan_stop_plan_id_plan"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("stop_id", name=op.f("pk_plan_stop")),
    )
    with op.batch_alter_table("plan_stop", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plan_stop_plan_id"), ["plan_id"], unique=False)

    op.create_table(
        "plan_unscheduled",
        sa.Column("unscheduled_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.String(length=128), nullable=False),
        sa.Column("resident_id", sa.String(length=64), nullable=True),
        sa.Column("committee_id", sa.String(length=64), nullable=True),
        sa.Column("programme", sa.String(length=64), nullable=False),
        sa.Column("due_by", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["plan.plan_id"],
            name=op.f("fk_plan_unscheduled_plan_id_plan"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("unscheduled_id", name=op.f("pk_plan_unscheduled")),
    )
    with op.batch_alter_table("plan_unscheduled", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plan_unscheduled_plan_id"), ["plan_id"], unique=False)

    op.create_table(
        "resident",
        sa.Column("resident_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("lat", sa.Double(), nullable=True),
        sa.Column("lon", sa.Double(), nullable=True),
        sa.Column("committee_id", sa.String(length=64), nullable=False),
        sa.Column("team_id", sa.String(length=64), nullable=False),
        sa.Column("centre_id", sa.String(length=64), nullable=False),
        sa.Column("preferred_clinician_id", sa.String(length=64), nullable=True),
        sa.Column("disability", sa.String(length=8), nullable=False),
        sa.Column("hypertension", sa.Boolean(), nullable=False),
        sa.Column("diabetes", sa.Boolean(), nullable=False),
        sa.Column("home_sickbed", sa.Boolean(), nullable=False),
        sa.Column("homebound", sa.Boolean(), nullable=False),
        sa.Column("availability", sa.String(), nullable=False),
        sa.Column("conditions", sa.String(), nullable=False),
        sa.Column("address", sa.String(), nullable=False),
        sa.Column("phone", sa.String(), nullable=False),
        sa.Column("sex", sa.String(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["centre_id"], ["centre.centre_id"], name=op.f("fk_resident_centre_id_centre")
        ),
        sa.ForeignKeyConstraint(
            ["committee_id"],
            ["committee.committee_id"],
            name=op.f("fk_resident_committee_id_committee"),
        ),
        sa.ForeignKeyConstraint(
            ["preferred_clinician_id"],
            ["clinician.clinician_id"],
            name=op.f("fk_resident_preferred_clinician_id_clinician"),
        ),
        sa.PrimaryKeyConstraint("resident_id", name=op.f("pk_resident")),
    )
    with op.batch_alter_table("resident", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_resident_centre_id"), ["centre_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_resident_team_id"), ["team_id"], unique=False)

    op.create_table(
        "service_request",
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("resident_id", sa.String(length=64), nullable=False),
        sa.Column("service", sa.String(), nullable=False),
        sa.Column("earliest_date", sa.Date(), nullable=False),
        sa.Column("latest_date", sa.Date(), nullable=False),
        sa.Column("window_start_min", sa.Integer(), nullable=False),
        sa.Column("window_end_min", sa.Integer(), nullable=False),
        sa.Column("duration_min", sa.Integer(), nullable=False),
        sa.Column("skills", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["resident.resident_id"],
            name=op.f("fk_service_request_resident_id_resident"),
        ),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_service_request")),
    )
    with op.batch_alter_table("service_request", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_service_request_resident_id"), ["resident_id"], unique=False
        )

    op.create_table(
        "visit_record",
        sa.Column("record_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("resident_id", sa.String(length=64), nullable=False),
        sa.Column("programme", sa.String(length=64), nullable=False),
        sa.Column("visit_date", sa.Date(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("clinician_ids", sa.String(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("systolic_mmhg", sa.Integer(), nullable=True),
        sa.Column("diastolic_mmhg", sa.Integer(), nullable=True),
        sa.Column("glucose_mmol_l", sa.Double(), nullable=True),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("visit_id", sa.String(length=128), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plan.plan_id"], name=op.f("fk_visit_record_plan_id_plan")
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["resident.resident_id"],
            name=op.f("fk_visit_record_resident_id_resident"),
        ),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_visit_record")),
        sa.UniqueConstraint(
            "resident_id",
            "programme",
            "visit_date",
            name=op.f("uq_visit_record_resident_id_programme_visit_date"),
        ),
    )
    with op.batch_alter_table("visit_record", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_visit_record_resident_id"), ["resident_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("visit_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visit_record_resident_id"))

    op.drop_table("visit_record")
    with op.batch_alter_table("service_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_request_resident_id"))

    op.drop_table("service_request")
    with op.batch_alter_table("resident", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resident_team_id"))
        batch_op.drop_index(batch_op.f("ix_resident_centre_id"))

    op.drop_table("resident")
    with op.batch_alter_table("plan_unscheduled", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_unscheduled_plan_id"))

    op.drop_table("plan_unscheduled")
    with op.batch_alter_table("plan_stop", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_stop_plan_id"))

    op.drop_table("plan_stop")
    with op.batch_alter_table("plan_route", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_route_plan_id"))

    op.drop_table("plan_route")
    op.drop_table("plan")
    with op.batch_alter_table("committee", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_committee_centre_id"))

    op.drop_table("committee")
    with op.batch_alter_table("clinician", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clinician_team_id"))
        batch_op.drop_index(batch_op.f("ix_clinician_centre_id"))

    op.drop_table("clinician")
    op.drop_table("programme_override")
    op.drop_table("geocode_cache")
    op.drop_table("centre")
