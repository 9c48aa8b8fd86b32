"""Read queries of the plan and plan-job routes (``/plans``, ``/plan-jobs``).

The routers parse the request, call these, and map the answer to HTTP; the queries live here
so the pages and the JSON API ask the same questions of the database.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.db.tables import (
    CentreRow,
    ClinicianRow,
    PlanJobRow,
    PlanPinRow,
    PlanRouteRow,
    PlanRow,
    PlanStopRow,
    PlanUnscheduledRow,
    ResidentRow,
    UserRole,
)
from service.jobs import ACTIVE_STATUSES
from service.users import Principal

# --------------------------------------------------------------------------------------------
# Plan jobs
# --------------------------------------------------------------------------------------------


def visible_job(session: Session, user: Principal, job_id: int) -> PlanJobRow | None:
    """The job, if it is the user's (or his team's, for a team leader; any, for admins)."""
    row = session.get(PlanJobRow, job_id)
    allowed = row is not None and (
        user.role is UserRole.ADMIN
        or row.requested_by == user.username
        or (
            user.role is UserRole.TEAM_LEADER
            and row.centre_id == user.centre_id
            and row.team_id == user.team_id
        )
    )
    return row if allowed else None


def active_job_count(session: Session, username: str) -> int:
    """How many jobs the user has waiting or running."""
    return (
        session.scalar(
            select(func.count()).where(
                PlanJobRow.requested_by == username, PlanJobRow.status.in_(ACTIVE_STATUSES)
            )
        )
        or 0
    )


def active_job_for_week(session: Session, centre_id: str, week_start: dt.date) -> int | None:
    """The id of a job waiting or running for the centre's week, if any."""
    return session.scalar(
        select(PlanJobRow.job_id).where(
            PlanJobRow.centre_id == centre_id,
            PlanJobRow.week_start == week_start,
            PlanJobRow.status.in_(ACTIVE_STATUSES),
        )
    )


def recent_jobs(session: Session, user: Principal) -> list[PlanJobRow]:
    """The user's 100 most recent jobs (admins: everyone's), newest first."""
    query = select(PlanJobRow).order_by(PlanJobRow.job_id.desc()).limit(100)
    if user.role is not UserRole.ADMIN:
        query = query.where(PlanJobRow.requested_by == user.username)
    return list(session.scalars(query))


def centre_exists(session: Session, centre_id: str) -> bool:
    """Whether the centre is registered."""
    return session.get(CentreRow, centre_id) is not None


def team_in_centre(session: Session, centre_id: str, team_id: str) -> bool:
    """Whether any clinician of the centre belongs to the team."""
    found = session.scalar(
        select(ClinicianRow.clinician_id).where(
            ClinicianRow.team_id == team_id, ClinicianRow.centre_id == centre_id
        )
    )
    return found is not None


# --------------------------------------------------------------------------------------------
# Stored plans
# --------------------------------------------------------------------------------------------


def plan_list(
    session: Session, user: Principal, centre_id: str | None, week_start: dt.date | None
) -> list[PlanRow]:
    """Up to 200 stored plan versions, newest week first (a team leader: his centre's)."""
    query = select(PlanRow).order_by(
        PlanRow.week_start.desc(), PlanRow.centre_id, PlanRow.version.desc()
    )
    if user.role is UserRole.TEAM_LEADER:
        query = query.where(PlanRow.centre_id == user.centre_id)
    if centre_id is not None:
        query = query.where(PlanRow.centre_id == centre_id)
    if week_start is not None:
        query = query.where(PlanRow.week_start == week_start)
    return list(session.scalars(query.limit(200)))


def team_clinicians(session: Session, user: Principal) -> set[str] | None:
    """A team leader's clinicians (None: no narrowing)."""
    if user.role is not UserRole.TEAM_LEADER:
        return None
    return set(
        session.scalars(
            select(ClinicianRow.clinician_id).where(ClinicianRow.team_id == user.team_id)
        )
    )


def visit_team(session: Session, plan_id: int, visit_id: str) -> str | None:
    """The team a visit of the plan belongs to (its resident's), or None if not in the plan."""
    for table in (PlanStopRow, PlanUnscheduledRow):
        found = session.execute(
            select(table.resident_id, table.committee_id).where(
                table.plan_id == plan_id, table.visit_id == visit_id
            )
        ).first()
        if found is None:
            continue
        if found.resident_id:
            return session.scalar(
                select(ResidentRow.team_id).where(ResidentRow.resident_id == found.resident_id)
            )
        # A committee session: its team is the team of whoever the plan sends.
        return (
            session.scalar(
                select(ClinicianRow.team_id)
                .join(PlanStopRow, PlanStopRow.clinician_id == ClinicianRow.clinician_id)
                .where(PlanStopRow.plan_id == plan_id, PlanStopRow.visit_id == visit_id)
            )
            or ""
        )
    return None


def stop_counts(session: Session, plan_id: int) -> dict[tuple[str, dt.date], int]:
    """How many stops each clinician's route of each day has."""
    counts: dict[tuple[str, dt.date], int] = {}
    for clinician_id, day in session.execute(
        select(PlanStopRow.clinician_id, PlanStopRow.visit_date).where(
            PlanStopRow.plan_id == plan_id
        )
    ):
        counts[(clinician_id, day)] = counts.get((clinician_id, day), 0) + 1
    return counts


def plan_routes(session: Session, plan_id: int) -> list[PlanRouteRow]:
    """The plan's routes, by clinician and day."""
    return list(
        session.scalars(
            select(PlanRouteRow)
            .where(PlanRouteRow.plan_id == plan_id)
            .order_by(PlanRouteRow.clinician_id, PlanRouteRow.route_date)
        )
    )


def left_out(session: Session, user: Principal, plan_id: int) -> list[PlanUnscheduledRow]:
    """The visits the plan leaves out, in order (a team leader: his team's residents')."""
    rows = list(
        session.scalars(
            select(PlanUnscheduledRow)
            .where(PlanUnscheduledRow.plan_id == plan_id)
            .order_by(PlanUnscheduledRow.unscheduled_id)
        )
    )
    if user.role is UserRole.TEAM_LEADER:
        team_residents = set(
            session.scalars(
                select(ResidentRow.resident_id).where(ResidentRow.team_id == user.team_id)
            )
        )
        rows = [u for u in rows if u.resident_id in team_residents]
    return rows


def plan_pins(session: Session, plan_id: int) -> list[PlanPinRow]:
    """The visits fixed on the plan."""
    return list(session.scalars(select(PlanPinRow).where(PlanPinRow.plan_id == plan_id)))


def plan_stop(session: Session, plan_id: int, visit_id: str) -> PlanStopRow | None:
    """The visit's stop on the plan's routes, if it is on one."""
    return session.scalar(
        select(PlanStopRow).where(PlanStopRow.plan_id == plan_id, PlanStopRow.visit_id == visit_id)
    )


def export_stops(
    session: Session, plan_id: int
) -> list[tuple[PlanStopRow, str, str | None, str | None, str | None]]:
    """The plan's stops with the clinician's name and the resident's name, address and phone
    (none for a committee session), by day, clinician and order."""
    return [
        (stop, clinician_name, resident_name, address, phone)
        for stop, clinician_name, resident_name, address, phone in session.execute(
            select(
                PlanStopRow,
                ClinicianRow.name,
                ResidentRow.name,
                ResidentRow.address,
                ResidentRow.phone,
            )
            .join(ClinicianRow, ClinicianRow.clinician_id == PlanStopRow.clinician_id)
            .outerjoin(ResidentRow, ResidentRow.resident_id == PlanStopRow.resident_id)
            .where(PlanStopRow.plan_id == plan_id)
            .order_by(PlanStopRow.visit_date, PlanStopRow.clinician_id, PlanStopRow.sequence)
        )
    ]
