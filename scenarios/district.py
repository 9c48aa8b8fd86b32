"""A district's week planned centre by centre, side by side, through an :class:`Executor`.

Centres share no clinician and no visit, so a district's week is as many independent solves as
it has centres. Each centre's problem (plain data) goes to a worker, which plans it with
:func:`scheduler.solve.solve` in one process and sends back the plan (plain data); the plans are
merged here and the whole is checked by the independent evaluator, which goes centre by centre
itself. Solver objects never cross a process boundary.

``time_limit_s`` of the parameters is each centre's limit: the district takes about
``centres x limit / slots`` of wall time, where ``slots`` is how many solves run at once.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

from scenarios.executor import Executor
from scheduler.evaluate import Evaluation, evaluate
from scheduler.model import Plan, Problem
from scheduler.params import SolveParams
from scheduler.solve import merge_plans, solve, split_independent
from scheduler.travel import GreatCircleTravel, TravelParams

__all__ = [
    "CentreSolve",
    "DistrictProgress",
    "centre_problems",
    "plan_district",
    "solve_centre",
]


@dataclass(frozen=True, slots=True)
class CentreSolve:
    """One centre's solve as plain data: its week, the search limits and the travel model."""

    problem: Problem
    params: SolveParams
    travel: TravelParams = dataclasses.field(default_factory=TravelParams)


@dataclass(frozen=True, slots=True)
class DistrictProgress:
    """Where a district's solves stand.

    Attributes
    ----------
    done, running, total
        Centres planned, being planned now, and in all.
    centre_id
        The centre that just finished (``None`` for the report before any has).
    centre_seconds
        That centre's solve time, in its worker.
    """

    done: int
    running: int
    total: int
    centre_id: str | None = None
    centre_seconds: float | None = None


def centre_problems(problem: Problem) -> list[Problem]:
    """The week cut into one problem per centre with visits, the largest first.

    Largest first so that a pool that takes tasks in order does not end with one big centre
    running alone.
    """
    return sorted(split_independent(problem, by_team=False), key=lambda p: -len(p.visits))


def solve_centre(task: CentreSolve) -> Plan:
    """Plan one centre's week in this process (the executor's task: plain data in and out)."""
    plan, _ = solve(task.problem, task.params, travel=GreatCircleTravel(task.travel), workers=1)
    return plan


def plan_district(
    problem: Problem,
    params: SolveParams,
    executor: Executor,
    *,
    travel: TravelParams | None = None,
    progress: Callable[[DistrictProgress], None] | None = None,
) -> tuple[Plan, Evaluation]:
    """Plan every centre of ``problem`` on ``executor``, merge the plans and check the whole.

    Parameters
    ----------
    problem
        The week of one or more centres (:func:`scheduler.solve.build_problem`).
    params
        Search limits and weights; ``time_limit_s`` is each centre's limit.
    executor
        Where the centre solves run (:func:`scenarios.executor.make_executor`).
    travel
        The travel model (the great-circle defaults if not given).
    progress
        Called before the first solve finishes and after each one.

    Returns
    -------
    The merged plan (its ``solve_seconds`` is the wall time of the whole) and its evaluation.
    """
    travel = travel or TravelParams()
    started = time.monotonic()
    parts = centre_problems(problem)
    tasks = [CentreSolve(part, params, travel) for part in parts]
    # The executor does not report when a task starts; with every task submitted at once each
    # slot is busy until the queue runs dry, so the solves running are the slots or what is left.
    slots = executor.slots()
    done = 0

    def on_done(index: int, plan: Plan) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            centre_id = next(iter(parts[index].centres))
            running = min(slots, len(tasks) - done)
            progress(DistrictProgress(done, running, len(tasks), centre_id, plan.solve_seconds))

    if progress is not None:
        progress(DistrictProgress(0, min(slots, len(tasks)), len(tasks)))
    plans = executor.map(solve_centre, tasks, on_done=on_done)
    merged = dataclasses.replace(
        merge_plans(plans), solve_seconds=round(time.monotonic() - started, 2)
    )
    return merged, evaluate(problem, merged, GreatCircleTravel(travel))
