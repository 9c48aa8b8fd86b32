"""Same-day changes on a stored plan, as a job (当日调整): what the request, the form and the
worker share.

``POST /plans/{id}/replan`` (and the week page's form) checks the events against the plan in the
request, so a mistake comes back at once (422/404/409), then queues a job of kind ``replan``
(:func:`service.api.routers.jobs.queue_job`). The worker (:func:`run_replan`) re-plans with
:func:`scheduler.replan.replan`, checks the answer with the evaluator and saves it over the base
plan: from an approved plan a new **draft** version (nurses keep the approved plan until the
team leader approves the new one), over a draft the draft itself. The job's ``result`` holds the
KPIs, the re-plan's figures (``replan``: residents to tell as a count) and ``changes``, which
only :func:`service.api.routers.replans.job_changes` hands out (residents narrowed to the
reader, phones for the team leader, the read audited); the job's own view leaves them out.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, Field
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from scheduler.model import Dataset, Plan, Problem, ServiceRequest, TimeWindow
from scheduler.params import TIME_LIMIT_MIN_S, SolveParams
from scheduler.replan import (
    DEFAULT_TIME_LIMIT_S,
    Absence,
    Cancellation,
    Change,
    Event,
    Postponement,
    Replan,
    RunningLate,
    replan,
    where_at,
)
from scheduler.solve import PlanningOptions, build_problem
from service.api.deps import PlainText, PlanningDate
from service.db import mappers
from service.db.exporter import load_dataset
from service.db.plans import PlanConflictError, PlanHandle, load_plan, plan_versions, save_plan
from service.db.tables import (
    ClinicianRow,
    JobStatus,
    PlanJobRow,
    PlanRow,
    PlanStopRow,
    PlanUnscheduledRow,
    ResidentRow,
    ServiceRequestRow,
)
from service.roads import travel_with_roads
from service.settings import Settings

__all__ = [
    "AbsentIn",
    "LateIn",
    "PostponeIn",
    "ReplanIn",
    "ReplanInputs",
    "RequestIn",
    "StaleRegistersError",
    "centre_clinician_names",
    "centre_resident",
    "events_of",
    "newest_replan_job_id",
    "replan_form_rows",
    "replan_inputs",
    "replanned_plan",
    "request_exists",
    "residents_by_id",
    "run_replan",
    "visit_programmes",
]

HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"
REPLAN_TIME_LIMIT_MAX_S = 30.0  # a few seconds is the point; a job may take a little longer


def minutes(text: str) -> int:
    """``HH:MM`` (already checked by the models) as minutes after midnight."""
    hours, mins = text.split(":")
    return int(hours) * 60 + int(mins)


class AbsentIn(BaseModel):
    """A clinician away: from ``at`` on ``date`` (``whole_day``: all of it; ``from_date``: whole
    days from that later day), through ``until`` (default: that one day)."""

    clinician_id: PlainText = Field(max_length=64)
    until: PlanningDate | None = None
    whole_day: bool = Field(False, description="Away all of the first day, not from `at`")
    from_date: PlanningDate | None = Field(
        None, description="Away from this later day (whole days), not from `date`"
    )


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

    def is_empty(self) -> bool:
        """Whether it names no event at all."""
        return not (self.absent or self.cancel or self.postpone or self.late or self.requests)


class StaleRegistersError(Exception):
    """The plan cannot be re-planned as it is (e.g. the registers changed since it was made)."""


@dataclass(frozen=True, slots=True)
class ReplanInputs:
    """What a re-plan of a stored plan starts from."""

    dataset: Dataset
    problem: Problem
    base: Plan
    handle: PlanHandle
    latest: PlanHandle  # the newest version of the plan's week (maybe the plan itself)


def replan_inputs(session: Session, row: PlanRow) -> ReplanInputs:
    """The registers, the week and the stored plan ``row`` as the scheduler reads them.

    Raises
    ------
    StaleRegistersError
        Visits of the plan are no longer due (the registers changed since): plan the week again.
    """
    versions = plan_versions(session, row.centre_id, row.week_start)
    handle = next(h for h in versions if h.plan_id == row.plan_id)
    dataset = load_dataset(session, [row.centre_id])
    base = load_plan(session, row.plan_id)
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
    stale = ({s.visit_id for s in base.stops()} | {u.visit_id for u in base.unscheduled}) - set(
        signed
    )
    if stale:
        raise StaleRegistersError(
            f"the registers changed since plan {row.plan_id} was made ({len(stale)} of its "
            "visits are no longer due): plan the week again"
        )
    return ReplanInputs(dataset, problem, base, handle, versions[-1])


def events_of(body: ReplanIn, base: Plan, problem: Problem) -> list[Event]:
    """The events of a request, as :func:`scheduler.replan.replan` takes them.

    Raises
    ------
    ValueError
        A request whose window or dates cannot be (e.g. its end before its start).
    """
    at_min = minutes(body.at)
    events: list[Event] = []
    for a in body.absent:
        if a.from_date is not None and a.from_date > body.date:
            events.append(Absence(a.clinician_id, a.from_date, a.until, None))
        else:
            start = None if a.whole_day else (at_min or None)
            events.append(Absence(a.clinician_id, body.date, a.until, start))
    events += [Cancellation(visit_id) for visit_id in body.cancel]
    events += [Postponement(p.visit_id, p.to) for p in body.postpone]
    for late in body.late:
        where = where_at(base, problem, late.clinician_id, body.date, at_min)
        events.append(RunningLate(late.clinician_id, body.date, minutes(late.free_at), where))
    for r in body.requests:
        which = f"紧急申请（居民 {r.resident_id}）/ the urgent request for resident {r.resident_id}"
        if minutes(r.window_end) <= minutes(r.window_start):
            raise ValueError(
                f"{which}: 时段 {r.window_start}–{r.window_end} 结束不晚于开始 / its window "
                f"{r.window_start}–{r.window_end} ends before it starts"
            )
        if r.latest_date < r.earliest_date:
            raise ValueError(
                f"{which}: 截止日 {r.latest_date} 早于开始日 {r.earliest_date} / its last day "
                f"{r.latest_date} is before its first day {r.earliest_date}"
            )
        try:
            events.append(
                ServiceRequest(
                    r.request_id,
                    r.resident_id,
                    r.service,
                    r.earliest_date,
                    r.latest_date,
                    TimeWindow(minutes(r.window_start), minutes(r.window_end)),
                    r.duration_min,
                    frozenset(r.skills),
                )
            )
        except ValueError as exc:
            raise ValueError(f"request {r.request_id}: {exc}") from None
    return events


def stored_changes(changes: tuple[Change, ...]) -> list[dict[str, Any]]:
    """The changes as the job keeps them (phones are looked up when read, by who reads)."""
    return [
        {
            "visit_id": c.visit_id,
            "change": c.kind.value,
            "from": c.before,
            "to": c.after,
            "resident_id": c.resident_id,
            "had_to_move": c.had_to_move,
            "why": c.why,
        }
        for c in changes
    ]


def stored_summary(result: Replan) -> dict[str, Any]:
    """:meth:`Replan.summary` for the database: the residents to tell as a count (the plan's
    figures are read by planners, who see no residents)."""
    summary = dict(result.summary())
    told = summary["residents_to_tell"]
    summary["residents_to_tell"] = len(told) if isinstance(told, list) else told
    plain: dict[str, Any] = json.loads(json.dumps(summary, default=str))
    return plain


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _set(session: Session, job_id: int, **values: object) -> None:
    session.execute(update(PlanJobRow).where(PlanJobRow.job_id == job_id).values(**values))
    session.commit()


def run_replan(session: Session, job: PlanJobRow, settings: Settings, stop: Any) -> None:
    """The body of a ``replan`` job: re-plan, check, save over the base plan, keep the changes.

    An event that no longer applies (the plan changed since the request) fails the job with
    its reason; so does a new plan the evaluator refuses (nothing is saved).
    """
    started = time.monotonic()
    body = ReplanIn.model_validate(job.options["events"])
    assert job.base_plan_id is not None
    row = session.get(PlanRow, job.base_plan_id)
    if row is None:
        raise ValueError(f"plan {job.base_plan_id} is gone")
    try:
        inputs = replan_inputs(session, row)
    except StaleRegistersError as exc:
        raise ValueError(str(exc)) from None
    if inputs.handle.revision != job.options.get("base_revision", inputs.handle.revision):
        raise ValueError(
            f"plan {row.plan_id} changed since the re-plan was asked for (now "
            f"{inputs.handle.describe()}): ask again on the plan as it is"
        )
    events = events_of(body, inputs.base, inputs.problem)
    params = SolveParams(
        time_limit_s=float(job.options.get("time_limit_s", DEFAULT_TIME_LIMIT_S)),
        replan_tolerance_min=body.tolerance_min,
    )
    _set(session, job.job_id, visits_total=len(inputs.problem.visits) + len(body.requests))
    result = replan(
        inputs.dataset,
        inputs.problem,
        inputs.base,
        events,
        day=body.date,
        at_min=minutes(body.at),
        params=params,
        travel=travel_with_roads(settings),
        should_stop=stop.is_set,
    )
    placed = len({s.visit_id for s in result.plan.stops()})
    if not result.evaluation.feasible:
        first = result.evaluation.broken[0]
        _set(
            session,
            job.job_id,
            status=JobStatus.FAILED.value,
            finished_at=_now(),
            elapsed_s=round(time.monotonic() - started, 1),
            error=f"the re-plan breaks {len(result.evaluation.broken)} rule(s), e.g. "
            f"{first.rule}; nothing was saved",
        )
        return
    summary = stored_summary(result)
    kpis: dict[str, Any] = json.loads(
        json.dumps({**result.evaluation.kpis, "replan": summary}, default=str)
    )
    plan = dataclasses.replace(result.plan, solve_seconds=round(result.seconds, 2))
    try:
        new = save_plan(
            session,
            result.problem,
            plan,
            row.centre_id,
            base=inputs.handle,
            saved_by=job.requested_by,
            kpis=kpis,
        )
        added = [e for e in events if isinstance(e, ServiceRequest)]
        if added:
            session.execute(insert(ServiceRequestRow), [mappers.request_row(r) for r in added])
        session.commit()
    except PlanConflictError as exc:
        session.rollback()
        raise ValueError(str(exc)) from None
    _set(
        session,
        job.job_id,
        status=JobStatus.DONE.value,
        finished_at=_now(),
        elapsed_s=round(time.monotonic() - started, 1),
        plan_id=new.plan_id,
        result={
            **kpis,
            "changes": stored_changes(result.changes),
            "plan_revision": new.revision,
        },
        visits_placed=placed,
        error="cancelled: the best re-plan found so far was kept" if stop.is_set() else "",
    )


def centre_resident(session: Session, resident_id: str, centre_id: str) -> ResidentRow | None:
    """The resident, if she exists and belongs to ``centre_id`` (else None)."""
    resident = session.get(ResidentRow, resident_id)
    return resident if resident is not None and resident.centre_id == centre_id else None


def request_exists(session: Session, request_id: str) -> bool:
    """Whether a service request with this id is stored already."""
    return session.get(ServiceRequestRow, request_id) is not None


def replanned_plan(session: Session, plan_id: int) -> PlanRow | None:
    """The plan a re-plan job made, or None if it is gone."""
    return session.get(PlanRow, plan_id)


def residents_by_id(session: Session, ids: Iterable[str]) -> dict[str, ResidentRow]:
    """The stored residents of ``ids``, by id (unknown ids are left out)."""
    return {
        r.resident_id: r
        for r in session.scalars(select(ResidentRow).where(ResidentRow.resident_id.in_(ids)))
    }


def replan_form_rows(
    session: Session, team_id: str | None, plan: PlanRow
) -> tuple[list[ClinicianRow], list[ResidentRow], list[PlanStopRow]]:
    """What the re-plan form offers a team leader: his team's clinicians of the plan's centre,
    his team's residents (by id), and their stops in the plan (by day, start, clinician)."""
    clinicians = list(
        session.scalars(
            select(ClinicianRow)
            .where(ClinicianRow.team_id == team_id, ClinicianRow.centre_id == plan.centre_id)
            .order_by(ClinicianRow.clinician_id)
        ).all()
    )
    residents = list(
        session.scalars(
            select(ResidentRow)
            .where(ResidentRow.team_id == team_id)
            .order_by(ResidentRow.resident_id)
        ).all()
    )
    ids = [c.clinician_id for c in clinicians]
    stops = list(
        session.scalars(
            select(PlanStopRow)
            .where(PlanStopRow.plan_id == plan.plan_id, PlanStopRow.clinician_id.in_(ids))
            .order_by(PlanStopRow.visit_date, PlanStopRow.start_min, PlanStopRow.clinician_id)
        ).all()
    )
    return clinicians, residents, stops


def visit_programmes(
    session: Session, plan_ids: Iterable[int], visit_ids: Iterable[str]
) -> dict[str, str]:
    """The programme of each visit of ``visit_ids`` in the plans (routed or left unscheduled)."""
    plans, visits = list(plan_ids), list(visit_ids)
    programme_of: dict[str, str] = {}
    for table in (PlanStopRow, PlanUnscheduledRow):
        for visit_id, programme_id in session.execute(
            select(table.visit_id, table.programme).where(
                table.plan_id.in_(plans), table.visit_id.in_(visits)
            )
        ):
            programme_of[visit_id] = programme_id
    return programme_of


def centre_clinician_names(session: Session, centre_id: str) -> dict[str, str]:
    """Every clinician of the centre (active or not), id to name."""
    return {
        c.clinician_id: c.name
        for c in session.scalars(select(ClinicianRow).where(ClinicianRow.centre_id == centre_id))
    }


def newest_replan_job_id(session: Session, plan_id: int) -> int | None:
    """The newest done re-plan job that made plan ``plan_id``, or None."""
    jobs = session.scalars(
        select(PlanJobRow)
        .where(PlanJobRow.plan_id == plan_id, PlanJobRow.status == JobStatus.DONE.value)
        .order_by(PlanJobRow.job_id.desc())
    ).all()
    for job in jobs:
        if job.options.get("kind") == "replan":
            return job.job_id
    return None
