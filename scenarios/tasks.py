"""The scenarios' tasks for an executor (:mod:`scheduler.executor`): module-level functions,
plain data in and out, each solving in one process."""

from __future__ import annotations

import datetime as dt

from scenarios.scenario import Scenario, ScenarioResult, run_scenario
from scheduler.model import Dataset, Plan
from scheduler.params import SolveParams
from scheduler.solve import build_problem, solve


def plan_centre(args: tuple[Dataset, dt.date, str, SolveParams]) -> tuple[str, Plan]:
    """Plan one centre's week (``dataset, week, centre_id, params``) in this process."""
    dataset, week, centre_id, params = args
    problem = build_problem(dataset, week, centre_ids=[centre_id])
    plan, _ = solve(problem, params, workers=1)
    return centre_id, plan


def plan_scenario(args: tuple[Scenario, SolveParams]) -> ScenarioResult:
    """Plan and check one scenario's week (``scenario, params``) in this process."""
    scenario, params = args
    return run_scenario(scenario, params, workers=1)
