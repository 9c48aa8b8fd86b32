"""The Mankowska et al. (2014) HHCRSP benchmark: reader, independent evaluator, solver adapter."""

from __future__ import annotations

import copy

import pytest

from benchmarks.hhcrsp import HhcrspParams, solve_hhcrsp
from benchmarks.mankowska import (
    DATA,
    MankowskaInstance,
    evaluate,
    read_best_solution,
    read_index,
    read_instance,
)

pytestmark = pytest.mark.skipif(not DATA.exists(), reason="benchmark data not present")


@pytest.fixture(scope="module")
def a1() -> MankowskaInstance:
    return read_instance(DATA / "instances" / "InstanzCPLEX_HCSRP_10_1.txt", "A1")


def _best_known(name: str) -> float:
    index = read_index().set_index("instance")
    return float(index.loc[name, "best_known_objective"])


def test_reader_counts_set_a_instance(a1: MankowskaInstance) -> None:
    """A1 has 10 patients, 3 caregivers, 6 services and patients 8, 9, 10 (DS 11 10 9) double."""
    assert list(a1.patients) == list(range(1, 11))
    assert a1.caregivers == 3
    assert a1.requires.shape == (12, 6)
    assert a1.double_service_nodes == (8, 9, 10)
    assert a1.services_of(10) == (2, 5)
    assert a1.distance.shape == (12, 12)
    assert a1.duration.shape == (12, 3, 6)
    assert (a1.gap_min[8], a1.gap_max[8]) == (0, 0)  # simultaneous
    assert (a1.window_open[1], a1.window_close[1]) == (345, 465)
    problem = a1.to_problem()
    assert sum(len(p.services) for p in problem.patients) == 13


def test_evaluator_scores_every_best_known_solution() -> None:
    """All 70 published best solutions are feasible and score their bks.csv value (within
    2e-3: published times carry 3 decimals); A2 and C9 are published without start times."""
    mismatches = []
    for row in read_index().itertuples(index=False):
        instance = read_instance(DATA / str(row.file), str(row.instance))
        evaluation = evaluate(instance, read_best_solution(str(row.instance)))
        best_known = float(str(row.best_known_objective))
        if not evaluation.feasible or abs(evaluation.objective - best_known) > 2e-3:
            mismatches.append((row.instance, evaluation.objective, best_known))
    assert mismatches == []


def test_evaluator_pins_a1_components(a1: MankowskaInstance) -> None:
    """A1's best solution: distance 654.596, no tardiness."""
    evaluation = evaluate(a1, read_best_solution("A1"))
    assert evaluation.distance == pytest.approx(654.596, abs=1e-3)
    assert evaluation.total_tardiness == 0
    assert evaluation.max_tardiness == 0


def test_evaluator_rejects_unqualified_caregiver(a1: MankowskaInstance) -> None:
    """Caregiver 1 (services 4, 5) doing patient 9's service 0 is reported."""
    routes = copy.deepcopy(read_best_solution("A1"))
    visit = next(v for v in routes[0] if v[:2] == [9, 0])
    routes[0].remove(visit)
    routes[1].append(visit)
    violations = evaluate(a1, routes).violations
    assert any("not qualified" in v for v in violations)


def test_evaluator_rejects_broken_synchronisation(a1: MankowskaInstance) -> None:
    """Patient 8's simultaneous services starting one minute apart are reported."""
    routes = copy.deepcopy(read_best_solution("A1"))
    routes[1][0][2] = float(routes[1][0][2] or 0) + 1  # [8, 5, 46.0] -> 47.0
    violations = evaluate(a1, routes).violations
    assert any("patient 8: gap" in v for v in violations)


def test_evaluator_rejects_missing_service(a1: MankowskaInstance) -> None:
    """A route without patient 7's visit is reported as a service not done."""
    routes = copy.deepcopy(read_best_solution("A1"))
    routes[0] = [v for v in routes[0] if v[0] != 7]
    violations = evaluate(a1, routes).violations
    assert violations == ["patient 7: services [2] not done"]


def test_evaluator_rejects_early_start(a1: MankowskaInstance) -> None:
    """A start before the caregiver can arrive is reported."""
    routes = copy.deepcopy(read_best_solution("A1"))
    routes[2][-1][2] = 400.0  # patient 4 after patient 9 at 416.454
    violations = evaluate(a1, routes).violations
    assert any("before arrival" in v for v in violations)


def test_solver_feasible_on_set_a(a1: MankowskaInstance) -> None:
    """The OR-Tools adapter returns routes the evaluator accepts, close to the optimum."""
    params = HhcrspParams(time_limit_s=10.0, lns_iterations=200, solution_limit=50)
    solution = solve_hhcrsp(a1.to_problem(), params)
    routes = [[(v.patient_node, v.service, v.start) for v in route] for route in solution.routes]
    evaluation = evaluate(a1, routes)
    assert solution.feasible
    assert evaluation.feasible, evaluation.violations
    assert evaluation.objective < 1.2 * _best_known("A1")


def test_the_product_engine_plans_set_a_through_the_adapter(a1: MankowskaInstance) -> None:
    """A1 as the planner's own week: 10 patients, joint and linked visits, solved by
    ``scheduler.solve``; both evaluators accept it and it is close to the optimum."""
    from benchmarks.mankowska import planner_routes, solve_with_engine, to_planner_problem

    problem = to_planner_problem(a1)
    assert len(problem.clinicians) == 3
    assert sum(len(v.staffing) for v in problem.visits) == 13  # 10 patients, 3 double
    assert len(problem.links) == 2 and sum(v.is_joint for v in problem.visits) == 1
    plan, checked = solve_with_engine(a1, 5.0)
    assert checked.feasible, checked.violations
    assert not plan.unscheduled
    evaluation = evaluate(a1, planner_routes(a1, plan))
    assert evaluation.feasible, evaluation.violations
    assert evaluation.objective < 1.05 * _best_known("A1")
