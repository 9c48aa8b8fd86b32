"""The one entry point: a dataset and a week in, a checked plan out. No I/O, no printing."""

from __future__ import annotations

import dataclasses
import datetime as dt
import multiprocessing
import signal
import time
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from scheduler.evaluate import Evaluation, evaluate, explain_unscheduled
from scheduler.model import Dataset, Plan, Problem, Unscheduled
from scheduler.params import Deadline, SolveParams
from scheduler.programmes import (
    DueRules,
    Programme,
    apply_overrides,
    builtin_programmes,
    due_visits,
)
from scheduler.solvers.ortools_model import (
    Progress,
    ProgressCallback,
    StopRequested,
    solve_routing,
)
from scheduler.travel import GreatCircleTravel, TravelTimeProvider


@dataclass(frozen=True, slots=True)
class PlanningOptions:
    """Policy settings of a planning run (they change what a valid plan is)."""

    cross_team_cover: bool = False
    max_overtime_min: int = 0
    sample_handover_min: int = 5


def build_problem(
    dataset: Dataset,
    week_start: dt.date,
    *,
    centre_ids: Iterable[str] | None = None,
    options: PlanningOptions | None = None,
    programmes: dict[str, Programme] | None = None,
    rules: DueRules | None = None,
) -> Problem:
    """The week's problem: the due visits and the clinicians of the chosen centres.

    Raises
    ------
    ValueError
        If a centre id is unknown, or (from :class:`Problem`) ``week_start`` is not a Monday.
    """
    options = options or PlanningOptions()
    wanted = list(centre_ids) if centre_ids else list(dataset.centres)
    unknown = [c for c in wanted if c not in dataset.centres]
    if unknown:
        known = ", ".join(sorted(dataset.centres))
        raise ValueError(f"unknown centre {', '.join(unknown)} (the dataset has {known})")
    if programmes is None:
        programmes = apply_overrides(builtin_programmes(), dataset.programme_overrides)
    visits = due_visits(dataset, week_start, centre_ids=wanted, programmes=programmes, rules=rules)
    return Problem(
        week_start=week_start,
        centres={c: dataset.centres[c] for c in wanted},
        clinicians=tuple(c for c in dataset.clinicians.values() if c.centre_id in wanted),
        visits=visits,
        cross_team_cover=options.cross_team_cover,
        max_overtime_min=options.max_overtime_min,
        sample_handover_min=options.sample_handover_min,
    )


def split_independent(problem: Problem, *, by_team: bool = True) -> list[Problem]:
    """The week cut into parts that share no clinician and no visit.

    Centres never share clinicians; with the signed team hard (no cross-team cover) teams do not
    either, so each team's week is its own, smaller routing problem. ``by_team=False`` cuts by
    centre only (a district's centres, each solved as a whole).
    """
    parts = []
    for centre_id, centre in problem.centres.items():
        clinicians = [c for c in problem.clinicians if c.centre_id == centre_id]
        visits = [v for v in problem.visits if v.centre_id == centre_id]
        groups = (
            sorted({c.team_id for c in clinicians} | {v.team_id for v in visits})
            if by_team and not problem.cross_team_cover
            else [None]
        )
        for team_id in groups:
            own = tuple(v for v in visits if team_id in (None, v.team_id))
            parts.append(
                dataclasses.replace(
                    problem,
                    centres={centre_id: centre},
                    clinicians=tuple(c for c in clinicians if team_id in (None, c.team_id)),
                    visits=own,
                    links=problem.links_among(own),  # a link's visits share team and centre
                )
            )
    return [p for p in parts if p.visits]


def merge_plans(plans: Iterable[Plan]) -> Plan:
    """One plan from the plans of independent parts."""
    plans = list(plans)
    return Plan(
        routes=tuple(r for p in plans for r in p.routes),
        unscheduled=tuple(u for p in plans for u in p.unscheduled),
        solve_seconds=round(max((p.solve_seconds for p in plans), default=0.0), 2),
        objective=sum(p.objective or 0 for p in plans),
        status="; ".join(sorted({p.status for p in plans})),
    )


_worker_stop: Any = None  # per worker process: the parent's stop request (an Event)
_worker_progress: Any = None  # per worker process: where to report progress (a Queue)


def _init_worker(stop_event: Any, progress_queue: Any) -> None:
    global _worker_stop, _worker_progress
    _worker_stop, _worker_progress = stop_event, progress_queue
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and tells us


MIN_PART_SEARCH_S = 0.25  # the greedy start of a part is ready well within this
MIN_PART_SEARCH_NO_GREEDY_S = 1.0  # OR-Tools' own first solution needs about this long
IN_PROCESS_BELOW_S = 8.0  # time limits under which worker processes cost more than they give


def _time_shares(
    parts: list[Problem], left_s: float, workers: int, floor_s: float
) -> dict[int, float]:
    """Each part's search time: the worker-seconds left shared in proportion to its visits."""
    total = sum(len(p.visits) for p in parts) or 1
    budget = left_s * min(workers, len(parts))
    return {id(p): min(left_s, max(floor_s, budget * len(p.visits) / total)) for p in parts}


def _worker_ready() -> None:
    """Nothing: run once per worker process to wait until the workers are up."""


def _solve_part(
    number: int,
    problem: Problem,
    travel: TravelTimeProvider,
    params: SolveParams,
    left_s: float,
    initial: Plan | None,
) -> Plan:
    # Runs in a worker process: plain data in, plain data out (solver objects do not pickle).
    # The deadline comes as the seconds left: this process's clock need not agree the parent's.
    deadline = Deadline.after(left_s)
    stop = _worker_stop.is_set if _worker_stop is not None else None
    queue = _worker_progress

    def report(p: Progress) -> None:
        queue.put((number, p.visits_placed, p.best_cost))

    return solve_routing(
        problem,
        travel,
        params,
        deadline=deadline,
        should_stop=stop,
        progress=report if queue is not None else None,
        initial=initial,
    )


def _restrict(plan: Plan, part: Problem) -> Plan:
    """The routes and unscheduled visits of ``plan`` that belong to ``part``."""
    clinicians = {c.clinician_id for c in part.clinicians}
    visits = {v.visit_id for v in part.visits}
    return dataclasses.replace(
        plan,
        routes=tuple(r for r in plan.routes if r.clinician_id in clinicians),
        unscheduled=tuple(u for u in plan.unscheduled if u.visit_id in visits),
    )


class _PartsRunner:
    """Solves independent parts in this process or in worker processes, reporting progress."""

    def __init__(
        self,
        total_visits: int,
        travel: TravelTimeProvider,
        workers: int,
        progress: ProgressCallback | None,
        should_stop: StopRequested | None,
    ) -> None:
        self.total_visits = total_visits
        self.travel = travel
        self.workers = max(1, workers)
        self.progress = progress
        self.should_stop = should_stop
        self.started = time.monotonic()

    def run(
        self,
        parts: list[Problem],
        params: SolveParams,
        deadline: Deadline,
        initial: Plan | None = None,
    ) -> list[Plan]:
        """Solve every part by ``deadline``, the parts sharing the time left.

        The plans come back in the order of ``parts``.
        """
        order = {id(part): i for i, part in enumerate(parts)}
        # Bigger parts get more of the time; the biggest go first so the workers finish together.
        parts = sorted(parts, key=lambda p: -len(p.visits))
        # Starting worker processes (a fresh interpreter each, importing OR-Tools) takes 2-4 s
        # on a busy machine: under a short limit the parts go faster one after another here.
        workers = self.workers if deadline.left_s() >= IN_PROCESS_BELOW_S else 1
        floor_s = MIN_PART_SEARCH_S if params.greedy_start else MIN_PART_SEARCH_NO_GREEDY_S
        starts = [None if initial is None else _restrict(initial, p) for p in parts]
        plans: dict[int, Plan] = {}  # by position in ``parts``
        latest: dict[int, tuple[int, int]] = {}  # part -> (visits placed, best cost)

        def report() -> None:
            if self.progress is not None:
                placed = sum(v for v, _ in latest.values())
                cost = sum(c for _, c in latest.values())
                elapsed = time.monotonic() - self.started
                self.progress(Progress(elapsed, placed, self.total_visits, cost))

        def part_done(number: int, plan: Plan) -> None:
            plans[order[id(parts[number])]] = plan
            latest[number] = (len({s.visit_id for s in plan.stops()}), plan.objective or 0)
            report()

        if workers <= 1 or len(parts) <= 1:
            # One after another: each part takes its share of the time *left*, so a part that
            # ends early leaves its time to the next and one that overran takes it from them.
            waiting = sum(len(p.visits) for p in parts)
            for number, part in enumerate(parts):
                share = len(part.visits) / waiting if waiting else 1.0
                waiting -= len(part.visits)
                part_deadline = deadline.share(share, floor_s)
                if self.should_stop is not None and self.should_stop():
                    part_deadline = Deadline.after(0.0)  # stopped: each part its start only

                def on_progress(p: Progress, number: int = number) -> None:
                    latest[number] = (p.visits_placed, p.best_cost)
                    report()

                plan = solve_routing(
                    part,
                    self.travel,
                    params,
                    deadline=part_deadline,
                    should_stop=self.should_stop,
                    progress=on_progress,
                    initial=starts[number],
                )
                part_done(number, plan)
            return [plans[i] for i in range(len(parts))]
        context = multiprocessing.get_context("spawn")
        stop_event, queue = context.Event(), context.Queue()
        pool = ProcessPoolExecutor(
            self.workers, mp_context=context, initializer=_init_worker, initargs=(stop_event, queue)
        )
        with pool:
            # Each worker is a fresh interpreter importing OR-Tools, 2-4 s on a busy machine:
            # the time is shared out once they are up, so that the week still ends on time.
            for ready in [pool.submit(_worker_ready) for _ in range(self.workers)]:
                ready.result()
            limits = _time_shares(parts, deadline.left_s(floor_s), workers, floor_s)
            pending = {
                pool.submit(
                    _solve_part,
                    number,
                    part,
                    self.travel,
                    params,
                    limits[id(part)],
                    starts[number],
                ): number
                for number, part in enumerate(parts)
            }
            while pending:
                finished, _ = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
                while not queue.empty():
                    number, placed, cost = queue.get_nowait()
                    if number in pending.values():  # a finished part's last word is its plan
                        latest[number] = (placed, cost)
                report()
                for future in finished:
                    part_done(pending.pop(future), future.result())
                if self.should_stop is not None and self.should_stop():
                    stop_event.set()
        return [plans[i] for i in range(len(parts))]


def _plan_quality(plan: Plan) -> tuple[int, int]:
    """More visits placed first, then less travel."""
    return len({s.visit_id for s in plan.stops()}), -sum(r.travel_min for r in plan.routes)


COVER_WARM_START_SHARE = 0.4  # of the time limit, for the team-by-team plan that cover improves
COVER_MIN_SEARCH_S = 1.0  # the search with cover allowed gets this long even past the deadline


def solve(
    problem: Problem,
    params: SolveParams | None = None,
    *,
    travel: TravelTimeProvider | None = None,
    progress: ProgressCallback | None = None,
    should_stop: StopRequested | None = None,
    workers: int = 1,
) -> tuple[Plan, Evaluation]:
    """Plan the week and check the plan with the independent evaluator.

    The week is cut into independent parts (:func:`split_independent`); each gets a share of
    the time limit, and ``workers`` processes solve them side by side. When cross-team cover is
    allowed, the teams are first planned on their own (a good start, found fast), and each
    centre's search then starts from that plan with cover allowed.

    Parameters
    ----------
    problem
        The week to plan.
    params
        Search limits and soft-goal weights; ``time_limit_s`` is for this whole call, all
        parts together (what it means at each entry point: :class:`SolveParams`).
    travel
        Travel-time provider (great-circle by default).
    progress
        Called with elapsed time, visits placed and best cost as the search improves.
    should_stop
        Polled during the search; returning ``True`` stops it and keeps the best plan so far.
    workers
        Processes to solve parts in (1: in this process). Under a time limit shorter than
        ``IN_PROCESS_BELOW_S`` the parts are solved in this process one after another:
        starting the processes would take most of the time.

    Returns
    -------
    The plan (each unscheduled visit with its reason) and its evaluation.
    """
    params = params or SolveParams()
    travel = travel or GreatCircleTravel()
    started = time.monotonic()
    deadline = params.deadline()  # the one deadline of this solve; every step reads it
    runner = _PartsRunner(len(problem.visits), travel, workers, progress, should_stop)
    if problem.cross_team_cover:
        by_team = dataclasses.replace(problem, cross_team_cover=False)
        first = deadline.share(COVER_WARM_START_SHARE)
        warm = merge_plans(runner.run(split_independent(by_team), params, first))
        covered_parts = split_independent(problem)
        rest = deadline.at_least(COVER_MIN_SEARCH_S)
        improved = runner.run(covered_parts, params, rest, warm)
        # Keep, centre by centre, whichever plan places more visits (then travels less): the
        # search with cover allowed is slower, and a short time limit may not let it catch up.
        plans = []
        for part in covered_parts:
            mine = {c.clinician_id for c in part.clinicians}
            candidates = [_restrict(warm, part)] + [
                p
                for p in improved
                if {r.clinician_id for r in p.routes} <= mine
                and {u.visit_id for u in p.unscheduled} <= {v.visit_id for v in part.visits}
            ]
            plans.append(max(candidates, key=_plan_quality))
    else:
        plans = runner.run(split_independent(problem), params, deadline)
    covered = {u.visit_id for p in plans for u in p.unscheduled}
    covered |= {s.visit_id for p in plans for s in p.stops()}
    plan = merge_plans(plans)
    plan = dataclasses.replace(
        plan,
        unscheduled=plan.unscheduled
        + tuple(Unscheduled(v.visit_id, "") for v in problem.visits if v.visit_id not in covered),
        solve_seconds=round(time.monotonic() - started, 2),
    )
    reasons = explain_unscheduled(problem, plan, travel, [u.visit_id for u in plan.unscheduled])
    plan = dataclasses.replace(
        plan,
        unscheduled=tuple(
            Unscheduled(u.visit_id, reasons[u.visit_id].en, reasons[u.visit_id].zh)
            if u.visit_id in reasons
            else u
            for u in plan.unscheduled
        ),
    )
    return plan, evaluate(problem, plan, travel)
