"""The body of a plan job, run in its own process (see :mod:`service.jobs`).

Plain data in (the settings as a dict, the job id, a stop event); everything else is read from
and written to the database, so nothing of the solver crosses a process boundary. The plan is
saved only if the project's evaluator finds no broken rule; its KPIs are kept with it.

A job is a task of the executor (:func:`job_task`, given to
:meth:`scheduler.executor.Executor.submit`): locally a process of its own, started before its
job, which imports the solver and makes its database engine (:func:`ready_for_jobs`) and then
waits for the job. A job so starts at once instead of after the seconds a new interpreter takes
to import OR-Tools and the rest.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from scheduler.evaluate import evaluate
from scheduler.executor import stop_requested
from scheduler.model import Plan, Problem, Unscheduled
from scheduler.params import TIME_LIMIT_DEFAULT_S, SolveParams
from scheduler.pins import Pin, PinError, apply_pins, with_removed
from scheduler.replan import PINNED_WHY, ChangeKind, Replan, replan_around_pins
from scheduler.roads import OsrmTravel, fallback_report
from scheduler.solve import PlanningOptions, build_problem, merge_plans, solve
from scheduler.solvers.ortools_model import Progress
from service.db.exporter import load_dataset
from service.db.plans import latest_plan, load_plan, save_plan
from service.db.session import make_engine
from service.db.tables import JobStatus, PinKind, PlanJobRow, PlanPinRow
from service.roads import travel_with_roads
from service.settings import Settings

__all__ = ["job_task", "ready_for_jobs", "run_job", "team_problem"]

log = logging.getLogger("homevisit.worker")
_PROGRESS_EVERY_S = 1.0


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _plain(kpis: dict[str, object]) -> dict[str, Any]:
    """KPIs as JSON the database column takes (dates and other values as text)."""
    loaded: dict[str, Any] = json.loads(json.dumps(kpis, default=str))
    return loaded


def team_problem(problem: Problem, team_id: str) -> Problem:
    """The part of the centre's week that belongs to one team."""
    return dataclasses.replace(
        problem,
        clinicians=tuple(c for c in problem.clinicians if c.team_id == team_id),
        visits=tuple(v for v in problem.visits if v.team_id == team_id),
        cross_team_cover=False,
    )


def _other_teams(plan: Plan, problem: Problem, team_id: str) -> Plan:
    """What ``plan`` holds for every team but ``team_id`` (kept when one team re-plans)."""
    theirs = {c.clinician_id for c in problem.clinicians if c.team_id != team_id}
    their_visits = {v.visit_id for v in problem.visits if v.team_id != team_id}
    return Plan(
        routes=tuple(r for r in plan.routes if r.clinician_id in theirs),
        unscheduled=tuple(u for u in plan.unscheduled if u.visit_id in their_visits),
    )


NOT_PLANNED_REASON = "its team has not planned this week yet / 所属团队尚未排本周计划"
NOT_PLANNED_REASON_ZH = "所属团队尚未排本周计划"


def _account_for_all(plan: Plan, problem: Problem) -> Plan:
    """Every visit of the centre's week in the plan: other teams' unplanned ones as left out."""
    placed = {s.visit_id for s in plan.stops()} | {u.visit_id for u in plan.unscheduled}
    missing = tuple(
        Unscheduled(v.visit_id, NOT_PLANNED_REASON, NOT_PLANNED_REASON_ZH)
        for v in problem.visits
        if v.visit_id not in placed
    )
    return dataclasses.replace(plan, unscheduled=plan.unscheduled + missing)


def _set(session: Session, job_id: int, **values: object) -> None:
    session.execute(update(PlanJobRow).where(PlanJobRow.job_id == job_id).values(**values))
    session.commit()


_warm_engine: Engine | None = None  # the engine made ahead by ready_for_jobs, in a worker


@contextlib.contextmanager
def ready_for_jobs(settings: Settings) -> Iterator[None]:
    """Make a worker process ready for a job before it has one (:class:`~scheduler.executor.
    LocalExecutor` enters this in each process it starts ahead): the modules of every kind of
    job imported and the database engine made, one connection opened, so the first query of the
    job does not wait for it. The engine is disposed when the process is done (or let go)."""
    global _warm_engine
    # The kinds of job import these only when they run; a worker started ahead has them ready.
    import scenarios.scenario  # noqa: F401
    import service.replan_job  # noqa: F401

    engine = make_engine(settings.database_url)
    try:
        with engine.connect():
            pass
        _warm_engine = engine
        yield
    finally:
        _warm_engine = None
        engine.dispose()


class _StopRequest:
    """The job's cancel request as the solver asks it: the executor's stop request."""

    @staticmethod
    def is_set() -> bool:
        return stop_requested()


def job_task(task: tuple[Settings, int]) -> None:
    """A plan job as a task of :meth:`~scheduler.executor.Executor.submit`: ``(settings,
    job_id)`` in; the job's outcome is written to its row. Its cancel request is the task's
    stop request; it uses the engine its worker made ahead (:func:`ready_for_jobs`), if any."""
    settings, job_id = task
    run_job(settings, job_id, _StopRequest(), engine=_warm_engine)


def run_job(settings: Settings, job_id: int, stop: Any, *, engine: Engine | None = None) -> None:
    """Solve job ``job_id`` and store its plan; every outcome is written to the job's row.

    Runs in a process of its own, so it makes its own engine (an engine does not cross a
    process) unless its warm worker made one ahead (``engine``, disposed by its maker);
    ``settings`` are the service's, as they are."""
    owned = engine is None
    engine = engine if engine is not None else make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            job = session.get(PlanJobRow, job_id)
            assert job is not None
            try:
                if job.options.get("kind") == "scenario":
                    _run_scenario(session, job, settings, stop)
                elif job.options.get("kind") == "replan":
                    from service.replan_job import run_replan

                    run_replan(session, job, settings, stop)
                else:
                    _run_plan(session, job, settings, stop)
            except (PinError, ValueError) as exc:
                session.rollback()
                _set(
                    session,
                    job_id,
                    status=JobStatus.FAILED.value,
                    finished_at=_now(),
                    error=str(exc),
                )
            except Exception as exc:  # the job fails; the message stays free of residents' data
                log.exception("plan job %s failed", job_id)
                session.rollback()
                _set(
                    session,
                    job_id,
                    status=JobStatus.FAILED.value,
                    finished_at=_now(),
                    error=f"the solve failed ({type(exc).__name__}); see the server log",
                )
    finally:
        if owned:
            engine.dispose()


def _progress_writer(session: Session, job_id: int) -> Any:
    last = [0.0]

    def report(progress: Progress) -> None:
        now = time.monotonic()
        if now - last[0] < _PROGRESS_EVERY_S:
            return
        last[0] = now
        _set(
            session,
            job_id,
            elapsed_s=round(progress.elapsed_s, 1),
            visits_placed=progress.visits_placed,
            visits_total=progress.visits_total,
            best_cost=progress.best_cost,
        )

    return report


def _run_plan(session: Session, job: PlanJobRow, settings: Settings, stop: Any) -> None:
    options = job.options
    dataset = load_dataset(session, [job.centre_id])
    problem = build_problem(
        dataset,
        job.week_start,
        centre_ids=[job.centre_id],
        options=PlanningOptions(
            cross_team_cover=bool(options.get("cross_team_cover", False)),
            max_overtime_min=int(options.get("max_overtime_min", 0)),
        ),
    )
    to_solve = team_problem(problem, job.team_id) if job.team_id else problem
    _set(session, job.job_id, visits_total=len(to_solve.visits))
    params = SolveParams(time_limit_s=float(options.get("time_limit_s") or TIME_LIMIT_DEFAULT_S))
    started = time.monotonic()
    # The road routers of the settings (HOMEVISIT_ROADS_*_URL), else the great-circle model:
    # the same provider plans and checks the plan.
    travel = travel_with_roads(settings)
    moves: dict[str, int] | None = None
    pins: list[Pin] = []
    removed: list[str] = []
    draft = Plan(routes=(), unscheduled=())
    if job.base_plan_id is not None:
        pins, removed = _pins(session, job.base_plan_id)
        draft = _part_of(load_plan(session, job.base_plan_id), to_solve)
    if draft.routes:
        # Re-plan around the pins: the draft as it stands, only what the pins force moves.
        around = replan_around_pins(
            dataset,
            to_solve,
            draft,
            pins,
            removed,
            params=params,
            travel=travel,
            should_stop=stop.is_set,
        )
        plan, moves = dataclasses.replace(around.plan, status="re-plan around pins"), _moves(around)
    else:  # a new plan (or a draft with no route of the team): solved from scratch
        plan, _ = solve(
            apply_pins(to_solve, pins, removed),
            params,
            travel=travel,
            progress=_progress_writer(session, job.job_id),
            should_stop=stop.is_set,
            workers=settings.solve_workers,
        )
        plan = with_removed(plan, removed)
    team_plan = plan
    latest = latest_plan(session, job.centre_id, job.week_start)
    if job.team_id:
        kept = (
            _other_teams(load_plan(session, latest.plan_id), problem, job.team_id)
            if latest is not None
            else Plan(routes=(), unscheduled=())
        )
        plan = _account_for_all(merge_plans([plan, kept]), problem)
    evaluation = evaluate(problem, plan, travel)
    if evaluation.broken:
        first = evaluation.broken[0]
        _set(
            session,
            job.job_id,
            status=JobStatus.FAILED.value,
            finished_at=_now(),
            error=f"the plan breaks {len(evaluation.broken)} rule(s), e.g. {first.rule}; "
            "nothing was saved",
        )
        return
    kpis = _kpis(problem, evaluation.kpis, travel)
    plan = dataclasses.replace(plan, solve_seconds=round(time.monotonic() - started, 1))
    handle = save_plan(
        session, problem, plan, job.centre_id, base=latest, saved_by=job.requested_by, kpis=kpis
    )
    if job.team_id:  # the job's figures are the team's own; the stored plan's are the centre's
        mine = team_problem(problem, job.team_id)
        kpis = _kpis(mine, evaluate(mine, team_plan, travel).kpis, travel)
    if moves is not None:
        kpis["moves"] = moves
    stopped = stop.is_set()
    _set(
        session,
        job.job_id,
        status=JobStatus.DONE.value,
        finished_at=_now(),
        plan_id=handle.plan_id,
        result=kpis,
        visits_placed=len({s.visit_id for s in team_plan.stops()}),
        error="cancelled: the best plan found so far was kept" if stopped else "",
    )


def _part_of(plan: Plan, part: Problem) -> Plan:
    """The routes and left-out visits of ``plan`` that belong to ``part`` (a team's week)."""
    clinicians = {c.clinician_id for c in part.clinicians}
    visits = {v.visit_id for v in part.visits}
    return Plan(
        routes=tuple(r for r in plan.routes if r.clinician_id in clinicians),
        unscheduled=tuple(u for u in plan.unscheduled if u.visit_id in visits),
    )


def _moves(around: Replan) -> dict[str, int]:
    """How many visits a re-plan around pins moved (to another clinician or day, or off the
    routes): the pinned ones, the others that had to, the others that did not have to."""
    moved = [
        c
        for c in around.changes
        if c.before
        and c.kind in (ChangeKind.MOVED_CLINICIAN, ChangeKind.MOVED_DAY, ChangeKind.UNSCHEDULED)
    ]
    pinned = sum(c.why == PINNED_WHY for c in moved)
    had_to = sum(c.had_to_move for c in moved) - pinned
    return {
        "pinned_moved": pinned,
        "others_moved": len(moved) - pinned,
        "others_had_to_move": had_to,
        "others_moved_without_having_to": len(moved) - pinned - had_to,
        "newly_placed": sum(
            not c.before and c.kind is ChangeKind.MOVED_DAY for c in around.changes
        ),
    }


def _kpis(problem: Problem, kpis: dict[str, object], travel: object) -> dict[str, Any]:
    """The KPIs as stored, with the residents that had no road when road times were used."""
    stored = _plain(kpis)
    if isinstance(travel, OsrmTravel):  # which residents (ids) had no road, as `plan` reports
        stored["roads"] = _plain(dict(fallback_report(problem, travel)))
    return stored


def _pins(session: Session, plan_id: int) -> tuple[list[Pin], list[str]]:
    rows = session.scalars(select(PlanPinRow).where(PlanPinRow.plan_id == plan_id)).all()
    pins = [
        Pin(r.visit_id, str(r.clinician_id), r.visit_date, r.start_min)  # type: ignore[arg-type]
        for r in rows
        if r.kind in (PinKind.PIN.value, PinKind.LOCK.value)
    ]
    removed = [r.visit_id for r in rows if r.kind == PinKind.REMOVE.value]
    return pins, removed


def _run_scenario(session: Session, job: PlanJobRow, settings: Settings, stop: Any) -> None:
    from scenarios.scenario import bundled_scenarios, load_scenario, run_scenario

    name = str(job.options["scenario"])
    path = next(p for p in bundled_scenarios() if p.stem == name)
    scenario = load_scenario(path)
    limit = job.options.get("time_limit_s") or TIME_LIMIT_DEFAULT_S
    params = SolveParams(time_limit_s=float(limit))
    result = run_scenario(scenario, params, workers=settings.solve_workers)
    _set(
        session,
        job.job_id,
        status=JobStatus.DONE.value,
        finished_at=_now(),
        result=_plain(result.row()),
        visits_placed=int(result.evaluation.kpis["visits_scheduled"]),  # type: ignore[call-overload]
    )
