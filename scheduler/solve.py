"""The one entry point: a dataset and a week in, a checked plan out. No I/O, no printing."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

import scheduler.executor as worker
from scheduler.evaluate import Evaluation, evaluate, explain_unscheduled
from scheduler.executor import Executor, LocalExecutor
from scheduler.model import Dataset, Plan, Problem, Unscheduled
from scheduler.params import Deadline, SolveParams
from scheduler.programmes import (
    DueRules,
    Programme,
    apply_overrides,
    builtin_programmes,
    due_visits,
    request_links,
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
        links=request_links(dataset.requests, visits),
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


MIN_PART_SEARCH_S = 0.25  # the greedy start of a part is ready well within this
MIN_PART_SEARCH_NO_GREEDY_S = 1.0  # OR-Tools' own first solution needs about this long
IN_PROCESS_BELOW_S = 8.0  # time limits under which worker processes cost more than they give


class Cut(StrEnum):
    """How a week is cut into independent solves (:func:`solve`'s ``cut``).

    ``TEAM``: each team of each centre (each centre with cross-team cover), the parts sharing
    the one time limit of the week. ``CENTRE``: each centre is a solve of its own with the whole
    time limit (``plan --district``): the week takes about ``centres x limit / slots``.
    """

    TEAM = "team"
    CENTRE = "centre"


@dataclass(frozen=True, slots=True)
class PartProgress:
    """Where the parts of a solve stand (reported as each part is done).

    Attributes
    ----------
    done, running, total
        Parts solved, being solved now, and in all.
    centre_id
        The centre of the part that just finished (``None`` for the report before any has).
    seconds
        That part's solve time, in its worker.
    """

    done: int
    running: int
    total: int
    centre_id: str | None = None
    seconds: float | None = None


def _time_shares(
    parts: list[Problem], left_s: float, workers: int, floor_s: float
) -> dict[int, float]:
    """Each part's search time: the worker-seconds left shared in proportion to its visits."""
    total = sum(len(p.visits) for p in parts) or 1
    budget = left_s * min(workers, len(parts))
    return {id(p): min(left_s, max(floor_s, budget * len(p.visits) / total)) for p in parts}


def _solve_part(
    task: tuple[int, Problem, TravelTimeProvider, SolveParams, float, Plan | None],
) -> Plan:
    # Runs in a worker process: plain data in, plain data out (solver objects do not pickle).
    # The deadline comes as the seconds left: this process's clock need not agree the parent's.
    number, problem, travel, params, left_s, initial = task
    if worker.stop_requested():  # stopped before this part began: its start only, as in-process
        left_s = 0.0

    def progress(p: Progress) -> None:
        worker.report((number, p.visits_placed, p.best_cost))

    return solve_routing(
        problem,
        travel,
        params,
        deadline=Deadline.after(left_s),
        should_stop=worker.stop_requested,
        progress=progress if worker.can_report() else None,
        initial=initial,
    )


def _solve_centre(task: tuple[Problem, TravelTimeProvider, SolveParams]) -> Plan:
    # Runs in a worker: one centre's week as a solve of its own (its teams one after another).
    problem, travel, params = task
    plan, _ = solve(problem, params, travel=travel, should_stop=worker.stop_requested)
    return plan


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
    """Solves independent parts in this process or on an executor, reporting progress.

    Without an ``executor`` it makes a :class:`~scheduler.executor.LocalExecutor` of ``workers``
    processes for each run that needs one.
    """

    def __init__(
        self,
        total_visits: int,
        travel: TravelTimeProvider,
        workers: int,
        progress: ProgressCallback | None,
        should_stop: StopRequested | None,
        *,
        executor: Executor | None = None,
        on_part: Callable[[PartProgress], None] | None = None,
    ) -> None:
        self.total_visits = total_visits
        self.travel = travel
        self.workers = max(1, workers) if executor is None else executor.slots()
        self.progress = progress
        self.should_stop = should_stop
        self.executor = executor
        self.on_part = on_part
        self.started = time.monotonic()

    def run(
        self,
        parts: list[Problem],
        params: SolveParams,
        deadline: Deadline,
        initial: Plan | None = None,
        *,
        cut: Cut = Cut.TEAM,
    ) -> list[Plan]:
        """Solve every part: by ``deadline``, the parts sharing the time left (``Cut.TEAM``),
        or each with the whole ``params.time_limit_s`` of its own (``Cut.CENTRE``).

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

        if cut is Cut.CENTRE:
            return self._run_whole(parts, params, part_done, plans)
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

        def on_message(message: tuple[int, int, int]) -> None:
            number, placed, cost = message
            if order[id(parts[number])] not in plans:  # a finished part's last word is its plan
                latest[number] = (placed, cost)

        def on_tick() -> None:
            report()
            if self.should_stop is not None and self.should_stop():
                pool.request_stop()

        with self._executor(ignore_interrupt=True) as pool:
            # The time is shared out once the workers are up, so that the week still ends on time.
            pool.warm_up()
            limits = _time_shares(parts, deadline.left_s(floor_s), workers, floor_s)
            tasks = [
                (number, part, self.travel, params, limits[id(part)], starts[number])
                for number, part in enumerate(parts)
            ]
            pool.map(_solve_part, tasks, on_done=part_done, on_message=on_message, on_tick=on_tick)
        return [plans[i] for i in range(len(parts))]

    def _run_whole(
        self,
        parts: list[Problem],
        params: SolveParams,
        part_done: Callable[[int, Plan], None],
        plans: dict[int, Plan],
    ) -> list[Plan]:
        """Each part a solve of its own on the executor, reporting each part done."""
        tasks = [(part, self.travel, params) for part in parts]
        with self._executor(ignore_interrupt=False) as pool:
            # The executor does not report when a task starts; with every task submitted at once
            # each slot is busy until the queue runs dry: running is the slots or what is left.
            slots = pool.slots()
            done = 0

            def on_done(number: int, plan: Plan) -> None:
                nonlocal done
                done += 1
                part_done(number, plan)
                if self.on_part is not None:
                    centre_id = next(iter(parts[number].centres))
                    running = min(slots, len(tasks) - done)
                    self.on_part(
                        PartProgress(done, running, len(tasks), centre_id, plan.solve_seconds)
                    )

            def on_tick() -> None:
                if self.should_stop is not None and self.should_stop():
                    pool.request_stop()

            if self.on_part is not None:
                self.on_part(PartProgress(0, min(slots, len(tasks)), len(tasks)))
            pool.map(_solve_centre, tasks, on_done=on_done, on_tick=on_tick)
        return [plans[i] for i in range(len(parts))]

    def _executor(self, *, ignore_interrupt: bool) -> contextlib.AbstractContextManager[Executor]:
        """The executor given (left open for its owner), or a local one for this run only."""
        if self.executor is not None:
            return contextlib.nullcontext(self.executor)
        return LocalExecutor(self.workers, ignore_interrupt=ignore_interrupt)


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
    executor: Executor | None = None,
    cut: Cut = Cut.TEAM,
    on_part: Callable[[PartProgress], None] | None = None,
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
    executor
        Where the parts run instead (:func:`scheduler.executor.make_executor`: a local pool or
        a Dask cluster); its owner closes it. ``workers`` is then its slots.
    cut
        ``Cut.TEAM`` (the default) shares the time limit among the parts; ``Cut.CENTRE`` solves
        each centre as a solve of its own, each with the whole ``time_limit_s``
        (``plan --district``; with a travel model that pickles, and no cross-team warm start).
    on_part
        Called before the first part is done and after each one (``Cut.CENTRE``).

    Returns
    -------
    The plan (each unscheduled visit with its reason) and its evaluation.
    """
    params = params or SolveParams()
    travel = travel or GreatCircleTravel()
    started = time.monotonic()
    deadline = params.deadline()  # the one deadline of this solve; every step reads it
    runner = _PartsRunner(
        len(problem.visits),
        travel,
        workers,
        progress,
        should_stop,
        executor=executor,
        on_part=on_part,
    )
    if cut is Cut.CENTRE:
        # Each centre's plan comes back explained by its own solve; merged and checked here.
        centres = runner.run(split_independent(problem, by_team=False), params, deadline, cut=cut)
        merged = dataclasses.replace(
            merge_plans(centres), solve_seconds=round(time.monotonic() - started, 2)
        )
        return merged, evaluate(problem, merged, travel)
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
