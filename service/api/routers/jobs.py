"""Plans are jobs: ``POST /plans`` (in :mod:`service.api.routers.plans`, with the other ``/plans``
routes) queues a solve through :func:`start_plan_job` and answers at once with the job's id.

The solve runs in a worker process (:mod:`service.jobs`); ``GET /plan-jobs/{id}`` shows its
status and progress and, when done, the stored plan's id and KPIs; ``DELETE`` cancels (a running
solve stops and keeps its best plan). Users see their own jobs; team leaders also their team's,
admins all. Limits: the time limit and the number of jobs a user has waiting or running.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Request, status

from service import jobs, plan_reads
from service.api.access import not_found, plan_visible
from service.api.deps import (
    DbSession,
    RowId,
    ServiceSettings,
    require_roles,
)
from service.api.errors import invalid
from service.api.models import JobView, PlanRequest
from service.db.tables import PlanJobRow, UserRole
from service.jobs import ACTIVE_STATUSES
from service.users import Principal

router = APIRouter(tags=["plan jobs"])

Anyone = Annotated[Principal, require_roles(UserRole.ADMIN, UserRole.TEAM_LEADER, UserRole.PLANNER)]


_KINDS: dict[str, Literal["plan", "scenario", "replan"]] = {
    "scenario": "scenario",
    "replan": "replan",
}


def job_view(row: PlanJobRow) -> JobView:
    """The client's view of a job row."""
    return JobView(
        job_id=row.job_id,
        kind=_KINDS.get(str(row.options.get("kind")), "plan"),
        centre_id=row.centre_id,
        team_id=row.team_id,
        week_start=row.week_start,
        base_plan_id=row.base_plan_id,
        status=row.status,
        requested_by=row.requested_by,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        elapsed_s=row.elapsed_s,
        visits_placed=row.visits_placed,
        visits_total=row.visits_total,
        best_cost=row.best_cost,
        plan_id=row.plan_id,
        # A re-plan's changes name residents: GET /plan-jobs/{id}/changes hands them out.
        kpis=None
        if row.result is None
        else {k: v for k, v in row.result.items() if k != "changes"},
        message=row.error,
    )


def job_visible(session: DbSession, user: Principal, job_id: RowId) -> PlanJobRow:
    """The job, if it is the user's (or his team's, for a team leader; any, for admins)."""
    row = plan_reads.visible_job(session, user, job_id)
    if row is None:
        raise not_found("plan job", job_id)
    return row


def queue_job(
    request: Request,
    session: DbSession,
    settings: ServiceSettings,
    user: Principal,
    *,
    centre_id: str,
    week_start: dt.date,
    team_id: str | None,
    options: dict[str, Any],
    base_plan_id: int | None = None,
) -> JobView:
    """Check the limits, refuse a second active job for the same week, and queue."""
    time_limit = options.get("time_limit_s") or settings.solve_time_limit_default_s
    if time_limit > settings.solve_time_limit_max_s:
        raise invalid("body.time_limit_s", f"at most {settings.solve_time_limit_max_s:g} s")
    options["time_limit_s"] = float(time_limit)
    active_mine = plan_reads.active_job_count(session, user.username)
    if active_mine >= settings.jobs_per_user_max:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"you have {active_mine} plan jobs waiting or running (at most "
            f"{settings.jobs_per_user_max}); wait for one to finish or cancel one",
        )
    clash = plan_reads.active_job_for_week(session, centre_id, week_start)
    if clash is not None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"plan job {clash} for {centre_id} and the week of {week_start} is still "
            "waiting or running: follow it, or cancel it first",
        )
    row = jobs.enqueue(
        session,
        centre_id=centre_id,
        week_start=week_start,
        team_id=team_id,
        options=options,
        base_plan_id=base_plan_id,
        requested_by=user.username,
    )
    request.app.state.dispatcher.wake()
    return job_view(row)


def _scope(session: DbSession, user: Principal, body: PlanRequest) -> str | None:
    """The team the job plans, after the access rules; 404 for a centre out of sight."""
    if not plan_reads.centre_exists(session, body.centre_id) or (
        user.role is UserRole.TEAM_LEADER and body.centre_id != user.centre_id
    ):
        raise not_found("centre", body.centre_id)
    if user.role is UserRole.TEAM_LEADER:
        if body.team_id not in (None, user.team_id):
            raise not_found("team", body.team_id)
        return user.team_id
    if body.team_id is not None and not plan_reads.team_in_centre(
        session, body.centre_id, body.team_id
    ):
        raise not_found("team", body.team_id)
    return body.team_id


def start_plan_job(
    request: Request,
    session: DbSession,
    settings: ServiceSettings,
    user: Principal,
    body: PlanRequest,
) -> JobView:
    """Check the request against the access rules and the limits, and queue it (the JSON
    route and the "plan a week" form)."""
    if body.week_start.weekday() != 0:
        raise invalid(
            "body.week_start", f"{body.week_start} is a {body.week_start:%A}; give a Monday"
        )
    team_id = _scope(session, user, body)
    return queue_job(
        request,
        session,
        settings,
        user,
        centre_id=body.centre_id,
        week_start=body.week_start,
        team_id=team_id,
        options={
            "kind": "plan",
            "time_limit_s": body.time_limit_s,
            "cross_team_cover": body.cross_team_cover,
            "max_overtime_min": body.max_overtime_min,
        },
    )


@router.get("/plan-jobs", response_model=list[JobView])
def list_jobs(user: Anyone, session: DbSession) -> list[JobView]:
    """The user's recent jobs (admins: everyone's), newest first."""
    return [job_view(r) for r in plan_reads.recent_jobs(session, user)]


@router.get(
    "/plan-jobs/{job_id}", response_model=JobView, responses={404: {"description": "Not found"}}
)
def get_job(job_id: RowId, user: Anyone, session: DbSession) -> JobView:
    """Status, progress (elapsed, visits placed, best cost) and, when done, plan and KPIs."""
    return job_view(job_visible(session, user, job_id))


@router.delete(
    "/plan-jobs/{job_id}", response_model=JobView, responses={404: {"description": "Not found"}}
)
def cancel_job(request: Request, job_id: RowId, user: Anyone, session: DbSession) -> JobView:
    """Cancel: a queued job never runs; a running one stops and keeps its best plan so far."""
    return cancel(request, session, job_visible(session, user, job_id))


def cancel(request: Request, session: DbSession, row: PlanJobRow) -> JobView:
    """Cancel the job (the JSON route and the progress page's button)."""
    jobs.cancel(session, row)
    request.app.state.dispatcher.wake()
    return job_view(row)


@router.post(
    "/plan-jobs/{job_id}/rerun",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobView,
    responses={404: {"description": "Not found"}, 409: {"description": "Still active"}},
)
def rerun_job(
    request: Request, job_id: RowId, user: Anyone, session: DbSession, settings: ServiceSettings
) -> JobView:
    """Queue an interrupted, failed or cancelled job again, as a new job."""
    row = job_visible(session, user, job_id)
    if row.status in ACTIVE_STATUSES:
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail=f"plan job {job_id} is still {row.status}"
        )
    if row.base_plan_id is not None:
        plan_visible(session, user, row.base_plan_id)
    return queue_job(
        request,
        session,
        settings,
        user,
        centre_id=row.centre_id,
        week_start=row.week_start,
        team_id=row.team_id,
        options=dict(row.options),
        base_plan_id=row.base_plan_id,
    )
