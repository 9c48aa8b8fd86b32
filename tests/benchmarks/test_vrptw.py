"""The VRPTW benchmark: the Solomon reader, the independent evaluator and the solver adapter."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from benchmarks.vrptw import (
    DATA,
    Instance,
    evaluate,
    read_instance,
    read_solution,
    solve_isolated,
    tenths_matrix,
)
from benchmarks.vrptw_solver import VrptwData, VrptwParams, solve_vrptw

C101 = DATA / "solomon" / "C101.txt"
pytestmark = pytest.mark.skipif(not C101.exists(), reason="shared benchmark data not present")


@pytest.fixture(scope="module")
def c101() -> Instance:
    return read_instance(C101)


@pytest.fixture(scope="module")
def c101_best() -> list[list[int]]:
    routes, _ = read_solution(C101.with_suffix(".sol"))
    return routes


def first_customers(instance: Instance, count: int) -> Instance:
    """The depot and the first ``count`` customers, as a smaller instance."""
    keep = count + 1
    fields = ("x_hundredths", "y_hundredths", "demand", "ready", "due", "service")
    cut = {name: getattr(instance, name)[:keep] for name in fields}
    return dataclasses.replace(instance, name=f"{instance.name}-{count}", **cut)


def as_data(instance: Instance) -> VrptwData:
    tenths = 10
    return VrptwData(
        distance=tenths_matrix(instance),
        demand=instance.demand,
        capacity=instance.capacity,
        window_start=tuple(t * tenths for t in instance.ready),
        window_end=tuple(t * tenths for t in instance.due),
        service=tuple(t * tenths for t in instance.service),
        vehicles=instance.vehicles,
    )


def test_reader_parses_c101(c101: Instance) -> None:
    """C101 has 100 customers, 25 vehicles of capacity 200, the depot at (40, 50)."""
    assert c101.customers == 100
    assert (c101.vehicles, c101.capacity) == (25, 200)
    assert (c101.x_hundredths[0], c101.y_hundredths[0]) == (4000, 5000)
    assert (c101.ready[0], c101.due[0]) == (0, 1236)
    assert (c101.demand[1], c101.ready[1], c101.due[1], c101.service[1]) == (10, 912, 967, 90)


def test_evaluator_accepts_the_best_known_c101(c101: Instance, c101_best: list[list[int]]) -> None:
    """The CVRPLIB solution is feasible and costs 827.3 with truncated arcs."""
    scored = evaluate(c101, c101_best)
    assert scored.feasible, scored.violations
    assert scored.distance == pytest.approx(827.3, abs=1e-9)
    assert scored.vehicles == 10


def test_evaluator_rejects_a_broken_window(c101: Instance, c101_best: list[list[int]]) -> None:
    """Serving route 1 backwards reaches customer 1 (due 967) before customer 5 (due 67)."""
    routes = [list(reversed(c101_best[0])), *c101_best[1:]]
    scored = evaluate(c101, routes)
    assert not scored.feasible
    assert any("due" in violation for violation in scored.violations)


def test_evaluator_rejects_exceeded_capacity(c101: Instance, c101_best: list[list[int]]) -> None:
    """Two full C101 routes merged carry more than 200."""
    merged = c101_best[0] + c101_best[1]
    scored = evaluate(c101, [merged, *c101_best[2:]])
    assert not scored.feasible
    assert any("capacity" in violation for violation in scored.violations)


def test_evaluator_rejects_a_missing_customer(c101: Instance, c101_best: list[list[int]]) -> None:
    """Dropping a customer is infeasible even though it shortens the tour."""
    routes = [c101_best[0][1:], *c101_best[1:]]
    scored = evaluate(c101, routes)
    assert not scored.feasible
    assert any("not visited" in violation for violation in scored.violations)


def test_ortools_adapter_solves_25_customers_of_c101(c101: Instance) -> None:
    """The OR-Tools engine returns a feasible plan for every customer within its 1 s limit."""
    small = first_customers(c101, 25)
    solution = solve_vrptw(as_data(small), VrptwParams(time_limit_s=1.0, engine="ortools"))
    scored = evaluate(small, [list(route) for route in solution.routes])
    assert scored.feasible, scored.violations
    assert solution.distance == round(scored.distance * 10)


def test_a_zero_time_limit_still_returns_visits(c101: Instance) -> None:
    """With no time to search, the greedy construction is the plan: all customers, feasible."""
    solution = solve_vrptw(as_data(c101), VrptwParams(time_limit_s=0.0))
    scored = evaluate(c101, [list(route) for route in solution.routes])
    assert solution.engine == "greedy"
    assert scored.feasible, scored.violations


def test_pyvrp_engine_and_peers_are_scored(c101: Instance) -> None:
    """The PyVRP engine and the VROOM peer give feasible plans on 25 customers (when installed)."""
    pytest.importorskip("pyvrp")
    pytest.importorskip("vroom")
    small = first_customers(c101, 25)
    solution = solve_vrptw(as_data(small), VrptwParams(time_limit_s=0.5, engine="pyvrp"))
    assert evaluate(small, [list(route) for route in solution.routes]).feasible
    outcome = solve_isolated("vroom", small, 0.5, 1, 0)
    assert evaluate(small, outcome["routes"]).feasible, outcome["error"]


def test_reader_keeps_two_decimal_coordinates(tmp_path: Path) -> None:
    """Synthetic coordinates such as 62.51 are kept exactly, in hundredths."""
    text = (
        "T\n\nVEHICLE\nNUMBER CAPACITY\n 2 10\n\nCUSTOMER\nCUST NO. XCOORD. YCOORD. DEMAND "
        "READY TIME DUE DATE SERVICE TIME\n\n"
        " 0 50.00 50.00 0 0 600 0\n 1 62.51 89.72 1 270 390 10\n"
    )
    path = tmp_path / "T.txt"
    path.write_text(text)
    instance = read_instance(path)
    assert (instance.x_hundredths[1], instance.y_hundredths[1]) == (6251, 8972)
    # sqrt(12.51^2 + 39.72^2) = 41.6434...: truncated to 41.6 each way.
    assert evaluate(instance, [[1]]).distance == pytest.approx(83.2)
