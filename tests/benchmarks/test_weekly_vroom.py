"""VROOM as a peer on the weekly problem: the mapping yields plans our evaluator accepts."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from scheduler.evaluate import evaluate
from scheduler.model import Problem
from scheduler.solve import build_problem, split_independent
from scheduler.travel import GreatCircleTravel

pytest.importorskip("vroom")

from benchmarks.weekly_vroom import common_subset, solve_vroom, vroom_input

WEEK = dt.date(2026, 11, 30)


@pytest.fixture(scope="module")
def one_team(tmp_path_factory: pytest.TempPathFactory) -> Problem:
    """The smallest team's week of the Minhang sample centre, without joint/sample visits."""
    from scenarios.sample import generate
    from scheduler.dataset import read_dataset, write_dataset

    folder: Path = tmp_path_factory.mktemp("sample")
    write_dataset(generate("centre"), folder)
    problem = build_problem(read_dataset(folder), WEEK)
    smallest = min(split_independent(problem), key=lambda p: len(p.visits))
    return common_subset(smallest)


def test_common_subset_leaves_out_joint_and_sample_visits(one_team: Problem) -> None:
    """Only visits VROOM can state are kept: one clinician, no lab sample."""
    assert one_team.visits
    assert not any(v.is_joint or v.sample_return_min is not None for v in one_team.visits)


def test_vroom_refuses_a_joint_visit(one_team: Problem) -> None:
    """A joint visit has no VROOM form: the mapping says so instead of dropping it silently."""
    visit = one_team.visits[0]
    joint = dataclasses.replace(visit, staffing=visit.staffing * 2)
    with pytest.raises(ValueError, match="no VROOM form"):
        vroom_input(dataclasses.replace(one_team, visits=(joint,)), GreatCircleTravel())


def test_vroom_plan_of_one_team_breaks_no_rule(one_team: Problem) -> None:
    """VROOM's answer, read back as our Plan, is feasible by our evaluator and places visits."""
    travel = GreatCircleTravel()
    plan = solve_vroom(one_team, travel, None, threads=1, exploration_level=1)
    evaluation = evaluate(one_team, plan, travel)
    assert evaluation.broken == ()
    assert len({s.visit_id for s in plan.stops()}) > len(one_team.visits) // 2
