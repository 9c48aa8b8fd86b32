"""Same-day changes on a stored plan, as a job: ``POST /plans/{plan_id}/replan`` (当日调整).

The events are checked against the plan in the request (a mistake is a 422/404/409 at once),
then the re-plan runs as a job like a weekly plan (``GET /plan-jobs/{id}`` for its progress,
``DELETE`` to cancel: the best re-plan found so far is kept). From an approved plan it makes a
new draft version: nurses keep seeing the approved plan until the team leader approves the new
one (``POST /plans/{id}/approve``). ``GET /plan-jobs/{id}/changes`` lists what changed, for the
team leader to check and to tell the residents before he approves. A team leader changes only
his own team (its clinicians, visits and residents); the residents' phone numbers in the
changes are for him alone (an admin sees them masked), and the read is audited. New urgent
requests join the registers, so the next re-plan or weekly plan knows them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, status

from scheduler.replan import ReplanError, check_events
from service.api.access import (
    audit,
    mask_phone,
    not_found,
    plan_clinician,
    plan_visible,
    resident_visible,
)
from service.api.deps import DbSession, RowId, ServiceSettings
from service.api.errors import invalid
from service.api.models import ChangeOut, JobView, PlanSummary, ReplanOut
from service.api.routers.jobs import Anyone, job_visible, queue_job
from service.api.routers.plans import Editors, _summary
from service.db.tables import (
    PlanJobRow,
    PlanRow,
    PlanStatus,
    UserRole,
)
from service.plan_reads import visit_team
from service.replan_job import (
    ReplanIn,
    StaleRegistersError,
    centre_resident,
    events_of,
    minutes,
    replan_inputs,
    replanned_plan,
    request_exists,
    residents_by_id,
)
from service.users import Principal

__all__ = ["ChangeOut", "ReplanOut", "router", "start_replan_job"]

router = APIRouter(tags=["plans"])


def _check_scope(
    session: DbSession, user: Principal, plan_id: int, body: ReplanIn, row: PlanRow
) -> None:
    """Each event within the user's sight: 404 for what is not his (as for any other id)."""
    if not row.week_start <= body.date < row.week_start + dt.timedelta(days=7):
        raise invalid("body.date", f"{body.date} is not in the week of {row.week_start}")
    for who in [a.clinician_id for a in body.absent] + [late.clinician_id for late in body.late]:
        plan_clinician(session, user, row, who)  # the plan's centre, whoever asks
    for index, absent in enumerate(body.absent):
        last = absent.until or absent.from_date or body.date
        if last < max(body.date, absent.from_date or body.date):
            raise invalid(f"body.absent.{index}.until", f"{last} is before the absence starts")
    for visit_id in [*body.cancel, *(p.visit_id for p in body.postpone)]:
        team = visit_team(session, plan_id, visit_id)
        if team is None or (user.role is UserRole.TEAM_LEADER and team != user.team_id):
            raise not_found("visit", visit_id)
    for request in body.requests:
        if user.role is UserRole.TEAM_LEADER:
            resident_visible(session, user, request.resident_id)
        if centre_resident(session, request.resident_id, row.centre_id) is None:
            raise not_found("resident", request.resident_id)  # none, or of another centre
        if request_exists(session, request.request_id):
            raise invalid("body.requests.request_id", f"{request.request_id} exists already")


def start_replan_job(
    request: Request,
    session: DbSession,
    settings: ServiceSettings,
    user: Principal,
    row: PlanRow,
    body: ReplanIn,
) -> JobView:
    """Check the events against the plan ``row`` (as :func:`plan_visible` gave it to ``user``)
    and the user's sight, and queue the re-plan (the JSON route and the week page's form)."""
    plan_id = row.plan_id
    if row.status not in (PlanStatus.APPROVED.value, PlanStatus.DRAFT.value):
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"plan {plan_id} is {row.status}: re-plan its latest version",
        )
    if body.is_empty():
        raise invalid("body", "name at least one change: an absence, a visit, a request or a delay")
    _check_scope(session, user, plan_id, body, row)
    try:
        inputs = replan_inputs(session, row)
    except StaleRegistersError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    if inputs.latest.plan_id != plan_id:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"plan {plan_id} is not the latest version of its week "
            f"(plan {inputs.latest.plan_id} is): re-plan that one",
        )
    try:
        events = events_of(body, inputs.base, inputs.problem)
        check_events(
            inputs.dataset,
            inputs.problem,
            inputs.base,
            events,
            day=body.date,
            at_min=minutes(body.at),
        )
    except (ReplanError, ValueError) as exc:
        raise invalid("body", str(exc)) from None
    return queue_job(
        request,
        session,
        settings,
        user,
        centre_id=row.centre_id,
        week_start=row.week_start,
        team_id=user.team_id if user.role is UserRole.TEAM_LEADER else None,
        options={
            "kind": "replan",
            "time_limit_s": min(body.time_limit_s, settings.solve_time_limit_max_s),
            "events": body.model_dump(mode="json"),
            "base_revision": inputs.handle.revision,
        },
        base_plan_id=plan_id,
    )


@router.post(
    "/plans/{plan_id}/replan",
    response_model=JobView,
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        404: {"description": "Not found"},
        409: {"description": "Not the latest version, a job of the week is running, or stale"},
        422: {"description": "An event that cannot apply"},
        429: {"description": "Too many jobs of this user"},
    },
)
def replan_plan(
    request: Request,
    response: Response,
    plan_id: RowId,
    body: ReplanIn,
    user: Editors,
    session: DbSession,
    settings: ServiceSettings,
) -> JobView:
    """Re-plan after same-day changes with the least disruption, as a job; a new draft
    (当日调整重排). Follow ``GET /plan-jobs/{job_id}``, then ``GET /plan-jobs/{job_id}/changes``."""
    row = plan_visible(session, user, plan_id)
    view = start_replan_job(request, session, settings, user, row, body)
    response.headers["Location"] = f"/plan-jobs/{view.job_id}"
    return view


def replan_job_of(session: DbSession, user: Principal, job_id: int) -> PlanJobRow:
    """A finished re-plan job the user may see, with its plan; 404 otherwise (409 while it runs)."""
    row = job_visible(session, user, job_id)
    if row.options.get("kind") != "replan":
        raise not_found("re-plan job", job_id)
    if row.plan_id is None or row.result is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"re-plan job {job_id} is {row.status}: it has no new plan"
            + (f" ({row.error})" if row.error else ""),
        )
    return row


@router.get(
    "/plan-jobs/{job_id}/changes",
    response_model=ReplanOut,
    responses={404: {"description": "Not found"}, 409: {"description": "Not done"}},
)
def job_changes(request: Request, job_id: RowId, user: Anyone, session: DbSession) -> ReplanOut:
    """The changes a re-plan job made, with the residents to tell (phones: team leader only;
    the read is audited)."""
    if user.role is UserRole.PLANNER:
        raise not_found("re-plan job", job_id)
    out = replan_result(session, user, replan_job_of(session, user, job_id))
    audit(
        request,
        user,
        "read re-plan changes",
        [c.resident_id for c in out.changes if c.resident_id],
        f"job {job_id} plan {out.plan.plan_id}",
    )
    return out


def replan_result(session: DbSession, user: Principal, job: PlanJobRow) -> ReplanOut:
    """The result of a done re-plan job as ``user`` may read it (not audited here)."""
    assert job.plan_id is not None and job.result is not None and job.base_plan_id is not None
    plan = replanned_plan(session, job.plan_id)
    if plan is None:
        raise not_found("plan", job.plan_id)
    stored = job.result.get("changes", [])
    summary = job.result.get("replan", {})
    return ReplanOut(
        job_id=job.job_id,
        plan=PlanSummary(**_summary(plan)),
        base_plan_id=job.base_plan_id,
        seconds=float(summary.get("seconds", job.elapsed_s)),
        summary=summary,
        changes=_changes_out(session, user, stored),
        plan_changed_since=plan.revision != job.result.get("plan_revision", plan.revision),
    )


def _changes_out(
    session: DbSession, user: Principal, changes: Sequence[dict[str, Any]]
) -> list[ChangeOut]:
    """The changes as the user may see them: residents of other teams not named to a leader,
    phones in full for the team leader, masked for an admin."""
    ids = {str(c["resident_id"]) for c in changes if c.get("resident_id")}
    residents = residents_by_id(session, ids)
    out = []
    for change in changes:
        resident = residents.get(str(change.get("resident_id") or ""))
        mine = resident is not None and (
            user.role is not UserRole.TEAM_LEADER or resident.team_id == user.team_id
        )
        phone = None
        if mine and resident is not None and resident.phone:
            phone = (
                resident.phone if user.role is UserRole.TEAM_LEADER else mask_phone(resident.phone)
            )
        out.append(
            ChangeOut(
                visit_id=str(change["visit_id"]) if mine or not change.get("resident_id") else "",
                change=str(change["change"]),
                from_=str(change["from"]),
                to=str(change["to"]),
                resident_id=resident.resident_id if mine and resident is not None else None,
                phone=phone,
                had_to_move=bool(change["had_to_move"]),
                why=str(change["why"]),
            )
        )
    return out
