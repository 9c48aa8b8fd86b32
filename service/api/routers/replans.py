"""Same-day changes on a stored plan: ``POST /plans/{plan_id}/replan`` (当日调整).

A re-plan takes seconds, so it answers directly with the new version and the changes instead of
running as a job. From an approved plan it makes a new draft version: nurses keep seeing the
approved plan until the team leader approves the new one (``POST /plans/{id}/approve``). A team
leader changes only his own team (its clinicians, visits and residents); the residents' phone
numbers in the answer are for him alone (an admin sees them masked). New urgent requests join
the registers, so the next re-plan or weekly plan knows them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, Field
from sqlalchemy import insert, select

from scheduler.model import Plan, Problem, ServiceRequest, TimeWindow
from scheduler.params import TIME_LIMIT_MIN_S, SolveParams
from scheduler.replan import (
    DEFAULT_TIME_LIMIT_S,
    Absence,
    Cancellation,
    Change,
    Event,
    Postponement,
    ReplanError,
    RunningLate,
    replan,
    where_at,
)
from scheduler.solve import PlanningOptions, build_problem
from service.api.access import (
    audit,
    mask_phone,
    not_found,
    plan_clinician,
    plan_visible,
    resident_visible,
)
from service.api.deps import DbSession, PlainText, PlanningDate, RowId, ServiceSettings
from service.api.errors import invalid
from service.api.routers.plans import HHMM, Editors, PlanSummary, _summary, _visit_team
from service.db import mappers
from service.db.exporter import load_dataset
from service.db.plans import PlanConflictError, load_plan, plan_versions, save_plan
from service.db.tables import (
    PlanRow,
    PlanStatus,
    ResidentRow,
    ServiceRequestRow,
    UserRole,
)
from service.users import Principal

router = APIRouter(prefix="/plans", tags=["plans"])

REPLAN_TIME_LIMIT_MAX_S = 30.0  # it answers in the request: a few seconds is the point


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


class AbsentIn(BaseModel):
    """A clinician away from ``at`` on ``date`` (``until``: through that day)."""

    clinician_id: PlainText = Field(max_length=64)
    until: PlanningDate | None = None


class PostponeIn(BaseModel):
    """A visit moved to another day (in the week, or later: back to the due list)."""

    visit_id: PlainText = Field(max_length=128)
    to: PlanningDate


class LateIn(BaseModel):
    """A clinician held up where she is (her visit in progress at ``at``) until ``free_at``."""

    clinician_id: PlainText = Field(max_length=64)
    free_at: str = Field(pattern=HHMM, description="HH:MM")


class RequestIn(BaseModel):
    """A new urgent request (the columns of requests.csv)."""

    request_id: str = Field(min_length=1, max_length=64, pattern=r"^[\w.-]+$")
    resident_id: PlainText = Field(max_length=64)
    service: PlainText = Field(max_length=64)
    earliest_date: PlanningDate
    latest_date: PlanningDate
    window_start: str = Field(pattern=HHMM)
    window_end: str = Field(pattern=HHMM)
    duration_min: int = Field(gt=0, le=600, strict=True)
    skills: list[Annotated[PlainText, Field(max_length=64)]] = Field(
        default_factory=list, max_length=10
    )


class ReplanIn(BaseModel):
    """What happened, and when (当日变动)."""

    date: PlanningDate
    at: str = Field("00:00", pattern=HHMM, description="Visits started before it stay")
    absent: list[AbsentIn] = Field(default_factory=list, max_length=50)
    cancel: list[Annotated[PlainText, Field(max_length=128)]] = Field(
        default_factory=list, max_length=200
    )
    postpone: list[PostponeIn] = Field(default_factory=list, max_length=200)
    late: list[LateIn] = Field(default_factory=list, max_length=50)
    requests: list[RequestIn] = Field(default_factory=list, max_length=50)
    time_limit_s: float = Field(
        DEFAULT_TIME_LIMIT_S, ge=TIME_LIMIT_MIN_S, le=REPLAN_TIME_LIMIT_MAX_S, allow_inf_nan=False
    )
    tolerance_min: int = Field(30, ge=0, le=240, strict=True)


class ChangeOut(BaseModel):
    """One visit that changed; ``phone`` in full for the team leader only."""

    visit_id: str
    change: str
    from_: str = Field(serialization_alias="from")
    to: str
    resident_id: str | None
    phone: str | None
    had_to_move: bool
    why: str


class ReplanOut(BaseModel):
    """The new version (a draft until approved), its figures and the changes."""

    plan: PlanSummary
    base_plan_id: int
    seconds: float
    summary: dict[str, Any]
    changes: list[ChangeOut]


def _check_scope(
    session: DbSession, user: Principal, plan_id: int, body: ReplanIn, row: PlanRow
) -> None:
    """Each event within the user's sight: 404 for what is not his (as for any other id)."""
    if not row.week_start <= body.date < row.week_start + dt.timedelta(days=7):
        raise invalid("body.date", f"{body.date} is not in the week of {row.week_start}")
    for who in [a.clinician_id for a in body.absent] + [late.clinician_id for late in body.late]:
        plan_clinician(session, user, row, who)  # the plan's centre, whoever asks
    for visit_id in [*body.cancel, *(p.visit_id for p in body.postpone)]:
        team = _visit_team(session, plan_id, visit_id)
        if team is None or (user.role is UserRole.TEAM_LEADER and team != user.team_id):
            raise not_found("visit", visit_id)
    for request in body.requests:
        if user.role is UserRole.TEAM_LEADER:
            resident_visible(session, user, request.resident_id)
        resident = session.get(ResidentRow, request.resident_id)
        if resident is None or resident.centre_id != row.centre_id:
            raise not_found("resident", request.resident_id)  # none, or of another centre
        if session.get(ServiceRequestRow, request.request_id) is not None:
            raise invalid("body.requests.request_id", f"{request.request_id} exists already")


def _events(body: ReplanIn, base: Plan, problem: Problem) -> list[Event]:
    at_min = _minutes(body.at)
    events: list[Event] = [
        Absence(a.clinician_id, body.date, a.until, at_min or None) for a in body.absent
    ]
    events += [Cancellation(visit_id) for visit_id in body.cancel]
    events += [Postponement(p.visit_id, p.to) for p in body.postpone]
    for late in body.late:
        where = where_at(base, problem, late.clinician_id, body.date, at_min)
        events.append(RunningLate(late.clinician_id, body.date, _minutes(late.free_at), where))
    for r in body.requests:
        try:
            events.append(
                ServiceRequest(
                    r.request_id,
                    r.resident_id,
                    r.service,
                    r.earliest_date,
                    r.latest_date,
                    TimeWindow(_minutes(r.window_start), _minutes(r.window_end)),
                    r.duration_min,
                    frozenset(r.skills),
                )
            )
        except ValueError as exc:
            raise invalid("body.requests", f"{r.request_id}: {exc}") from None
    return events


@router.post(
    "/{plan_id}/replan",
    response_model=ReplanOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        404: {"description": "Not found"},
        409: {"description": "Not the latest version, changed meanwhile, or the check failed"},
        422: {"description": "An event that cannot apply"},
    },
)
def replan_plan(
    request: Request,
    plan_id: RowId,
    body: ReplanIn,
    user: Editors,
    session: DbSession,
    settings: ServiceSettings,
) -> ReplanOut:
    """Re-plan after same-day changes with the least disruption; a new draft (当日调整重排)."""
    row = plan_visible(session, user, plan_id)
    if row.status not in (PlanStatus.APPROVED.value, PlanStatus.DRAFT.value):
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"plan {plan_id} is {row.status}: re-plan its latest version",
        )
    _check_scope(session, user, plan_id, body, row)
    handle = next(
        h for h in plan_versions(session, row.centre_id, row.week_start) if h.plan_id == plan_id
    )
    dataset = load_dataset(session, [row.centre_id])
    base = load_plan(session, plan_id)
    teams = {c.clinician_id: c.team_id for c in dataset.clinicians.values()}
    plain = build_problem(dataset, row.week_start, centre_ids=[row.centre_id])
    signed = {v.visit_id: v.team_id for v in plain.visits}
    # A plan made with cross-team cover has visits done by another team: keep that rule.
    cover = any(teams.get(s.clinician_id) != signed.get(s.visit_id) for s in base.stops())
    problem = (
        build_problem(
            dataset,
            row.week_start,
            centre_ids=[row.centre_id],
            options=PlanningOptions(cross_team_cover=True),
        )
        if cover
        else plain
    )
    stale = sorted(
        ({s.visit_id for s in base.stops()} | {u.visit_id for u in base.unscheduled}) - set(signed)
    )
    if stale:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"the registers changed since plan {plan_id} was made ({len(stale)} of its "
            "visits are no longer due): plan the week again",
        )
    params = SolveParams(
        time_limit_s=min(body.time_limit_s, settings.solve_time_limit_max_s),
        replan_tolerance_min=body.tolerance_min,
    )
    try:
        events = _events(body, base, problem)
        result = replan(
            dataset,
            problem,
            base,
            events,
            day=body.date,
            at_min=_minutes(body.at),
            params=params,
        )
    except ReplanError as exc:
        raise invalid("body", str(exc)) from None
    if not result.evaluation.feasible:
        first = result.evaluation.broken[0]
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"the re-plan breaks {len(result.evaluation.broken)} rule(s), e.g. "
            f"{first.rule}; nothing was saved",
        )
    kpis: dict[str, Any] = json.loads(
        json.dumps({**result.evaluation.kpis, "replan": result.summary()}, default=str)
    )
    try:
        new = save_plan(
            session,
            result.problem,
            result.plan,
            row.centre_id,
            base=handle,
            saved_by=user.username,
            kpis=kpis,
        )
        added = [e for e in events if isinstance(e, ServiceRequest)]
        if added:
            session.execute(insert(ServiceRequestRow), [mappers.request_row(r) for r in added])
        session.commit()
    except PlanConflictError as exc:
        session.rollback()
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    changes = _changes_out(session, user, result.changes)
    audit(
        request,
        user,
        "replan",
        [c.resident_id for c in changes if c.resident_id],
        f"plan {plan_id} -> {new.plan_id}",
    )
    new_row = session.get(PlanRow, new.plan_id, populate_existing=True)
    assert new_row is not None
    return ReplanOut(
        plan=PlanSummary(**_summary(new_row)),
        base_plan_id=plan_id,
        seconds=round(result.seconds, 2),
        summary=json.loads(json.dumps(result.summary())),
        changes=changes,
    )


def _changes_out(session: DbSession, user: Principal, changes: Sequence[Change]) -> list[ChangeOut]:
    """The changes as the user may see them: residents of other teams not named to a leader,
    phones in full for the team leader, masked for an admin."""
    ids = {c.resident_id for c in changes if c.resident_id}
    residents = {
        r.resident_id: r
        for r in session.scalars(select(ResidentRow).where(ResidentRow.resident_id.in_(ids)))
    }
    out = []
    for change in changes:
        resident = residents.get(change.resident_id)
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
                visit_id=change.visit_id,
                change=change.kind.value,
                from_=change.before,
                to=change.after,
                resident_id=change.resident_id if mine else None,
                phone=phone,
                had_to_move=change.had_to_move,
                why=change.why,
            )
        )
    return out
