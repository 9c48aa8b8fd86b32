"""Read queries of the plan and plan-job routes (``/plans``, ``/plan-jobs``).

The routers parse the request, call these, and map the answer to HTTP; the queries live here
so the pages and the JSON API ask the same questions of the database.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.db.tables import CentreRow, ClinicianRow, PlanJobRow, UserRole
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
