"""The greedy first solution: a plan is ready before the search, whatever the time limit."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from scheduler.evaluate import evaluate
from scheduler.model import Problem
from scheduler.params import SolveParams
from scheduler.solve import build_problem, solve
from scheduler.travel import GreatCircleTravel

WEEK = dt.date(2026, 11, 30)


@pytest.fixture(scope="module")
def sample_centre(tmp_path_factory: pytest.TempPathFactory) -> Problem:
    """The Minhang sample centre's reference week (572 visits, 24 clinicians)."""
    from scenarios.sample import generate
    from scheduler.dataset import read_dataset, write_dataset

    folder: Path = tmp_path_factory.mktemp("sample")
    write_dataset(generate("centre"), folder)
    return build_problem(read_dataset(folder), WEEK)


def test_a_very_short_time_limit_still_returns_a_full_plan(sample_centre: Problem) -> None:
    """At 0.1 s (OR-Tools' own first solution needs seconds here) the plan is not empty.

    The greedy start places most of the week before the search begins and is kept when the
    search is cut short; the plan breaks no rule.
    """
    plan, evaluation = solve(sample_centre, SolveParams(time_limit_s=0.1))
    placed = {s.visit_id for s in plan.stops()}
    assert len(placed) >= 0.8 * len(sample_centre.visits)
    assert evaluation.feasible


def test_a_stop_request_before_the_search_keeps_the_greedy_plan(sample_centre: Problem) -> None:
    """Ctrl-C at once still answers with the start: most of the week, breaking no rule."""
    plan, evaluation = solve(sample_centre, SolveParams(time_limit_s=60), should_stop=lambda: True)
    assert len({s.visit_id for s in plan.stops()}) >= 0.8 * len(sample_centre.visits)
    assert evaluation.feasible
    assert evaluate(sample_centre, plan, GreatCircleTravel()).feasible


def test_without_the_greedy_start_the_search_builds_its_own(sample_centre: Problem) -> None:
    """``greedy_start=False`` keeps OR-Tools' first-solution strategy (the old behaviour)."""
    from scheduler.solve import split_independent

    smallest = min(split_independent(sample_centre), key=lambda p: len(p.visits))
    plan, evaluation = solve(
        smallest, SolveParams(time_limit_s=60, solution_limit=1, greedy_start=False)
    )
    assert evaluation.feasible
    assert plan.stops()
