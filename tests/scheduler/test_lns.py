"""Ruin and recreate (scheduler/solvers/lns.py): pairs move tied, its construction places them."""

from __future__ import annotations

import time
from typing import Any

import pytest

from scheduler.model import MINUTES_PER_DAY, Problem, Role, Staffing, VisitLink
from scheduler.params import Deadline, SolveParams
from scheduler.solve import solve
from scheduler.solvers import ortools_model as om
from scheduler.solvers.lns import LnsParams, ruin_and_recreate
from scheduler.travel import GreatCircleTravel
from tests.scheduler.conftest import clinician
from tests.scheduler.test_solve import problem, visit

NURSE = Staffing(frozenset({Role.NURSE}))
REHAB = Staffing(frozenset({Role.REHAB}))
DOCTOR = Staffing(frozenset({Role.DOCTOR}))


def _pair_heavy_week() -> Problem:
    """Joint visits (doctor and nurse), linked visits (dressing, then exercises 20-90 min
    later) and single visits over two days; one nurse has a later lunch (a second frame of
    the model's time axis)."""
    staff = [
        clinician("D1", Role.DOCTOR, work_days=range(2)),
        clinician("N1", Role.NURSE, work_days=range(2)),
        clinician("N2", Role.NURSE, work_days=range(2), lunch=(12 * 60, 13 * 60)),
        clinician("R1", Role.REHAB, work_days=range(2)),
    ]
    joint = [
        visit(staffing=(DOCTOR, NURSE), north_m=300.0 * i, east_m=120.0 * i, days=range(2))
        for i in range(6)
    ]
    linked, links = [], []
    for i in range(5):
        dressing = visit(staffing=(NURSE,), north_m=-250.0 * i, duration=20, days=range(2))
        exercises = visit(staffing=(REHAB,), north_m=-250.0 * i, duration=40, days=range(2))
        linked += [dressing, exercises]
        links.append(VisitLink(dressing.visit_id, exercises.visit_id, 20, 90))
    singles = [visit(staffing=(NURSE,), east_m=-350.0 * i, days=range(2)) for i in range(8)]
    return problem(staff, joint + linked + singles, links=tuple(links))


def _model(week: Problem) -> tuple[list[om.Vehicle], om._Nodes, om._Matrices]:
    vehicles = om._vehicles(week)
    nodes = om._build_nodes(week, vehicles)
    modes = {vehicle.clinician.travel_mode for vehicle in vehicles}
    return vehicles, nodes, om._Matrices(GreatCircleTravel(), nodes.locations, modes)


def _assert_tied(
    vehicles: list[om.Vehicle], nodes: om._Nodes, routes: list[list[tuple[int, int]]]
) -> None:
    """Every visit node at most once; every pair both in, on two clinicians of one day,
    its starts ``lo..hi`` apart (minutes of the day: the halves may lie in different frames)."""
    where: dict[int, tuple[int, int]] = {}
    for v, route in enumerate(routes):
        for node, start in route:
            assert node not in where, f"node {node} twice"
            where[node] = (v, start - vehicles[v].offset_min)
    assert nodes.pairs
    for a, b, lo, hi in nodes.pairs:
        assert a in where and b in where, f"pair {a}-{b} not placed whole"
        (va, ta), (vb, tb) = where[a], where[b]
        assert vehicles[va].day_index == vehicles[vb].day_index
        assert vehicles[va].clinician.clinician_id != vehicles[vb].clinician.clinician_id
        assert lo <= tb - ta <= hi, (a, b, ta, tb, lo, hi)
        assert ta < MINUTES_PER_DAY and tb < MINUTES_PER_DAY


def test_pairs_moved_by_the_search_stay_tied_and_the_plan_gets_no_worse() -> None:
    """A second of ruin and recreate from the greedy start: every pair is still both in, on
    two clinicians of one day within its gap; the search moved pairs; the cost fell."""
    week = _pair_heavy_week()
    vehicles, nodes, matrices = _model(week)
    params = SolveParams(lns_share=1.0)
    pinned = om.place_joint_visits(week, vehicles, nodes, matrices)
    start = om.greedy_routes(week, params, vehicles, nodes, matrices, pinned)
    assert start is not None
    _assert_tied(vehicles, nodes, start)
    improved = om._improve_pairs(
        week, params, vehicles, nodes, matrices, start, Deadline.after(1.0)
    )
    _assert_tied(vehicles, nodes, improved)
    paired = nodes.paired()
    before = {node: (v, t) for v, route in enumerate(start) for node, t in route if node in paired}
    after = {
        node: (v, t) for v, route in enumerate(improved) for node, t in route if node in paired
    }
    assert before != after  # the search moved pairs, not only the single visits


def test_the_construction_places_every_pair_feasibly() -> None:
    """From empty routes, the search's own construction (no iteration) places every visit:
    each pair tied, each route feasible, the cost falling from all penalties to travel."""
    week = _pair_heavy_week()
    vehicles, nodes, matrices = _model(week)
    pinned: dict[int, tuple[int, int]] = {}  # the tours' domains read the pins
    tours = om.make_tours(week, vehicles, nodes, matrices, pinned)
    extra = om._vehicle_costs(week, SolveParams(), vehicles, nodes)
    penalty = [
        10_000 if v is not None and nodes.part_of[n] == 0 else 0
        for n, v in enumerate(nodes.visit_of)
    ]
    mode = vehicles[0].clinician.travel_mode
    start_cost, best_cost, iterations = ruin_and_recreate(
        vehicles,
        nodes,
        tours,
        extra,
        pinned,
        penalty,
        matrices.minutes[mode],
        LnsParams(deadline=time.monotonic() + 60, iterations=0),
    )
    assert iterations == 0
    assert start_cost == 10_000 * len(week.visits)  # nothing placed at first
    assert best_cost < 10_000  # everything placed
    for tour in tours:
        assert tour.update()
    routes = [list(zip(t.stops, t.earliest[1:-1], strict=True)) for t in tours]
    _assert_tied(vehicles, nodes, routes)
    placed = {node for route in routes for node, _ in route}
    assert placed == {n for n, v in enumerate(nodes.visit_of) if v is not None}
    assert set(pinned) == nodes.paired()  # each pair pinned where the construction put it


def test_a_pair_heavy_week_is_searched_from_the_plan_of_ruin_and_recreate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Beyond a small week, ruin and recreate builds and improves the start (from empty
    routes), and the routing search goes on from it (handed every visit), not from a start of
    its own: everything planned, every rule held."""
    handed: list[list[list[int]] | None] = []
    solve_model = om._solve_model

    def spy(inputs: Any, how: Any, start_routes: list[list[int]] | None = None) -> Any:
        handed.append(start_routes)
        return solve_model(inputs, how, start_routes)

    given = _spy_on_ruin_and_recreate(monkeypatch)
    monkeypatch.setattr(om, "_solve_model", spy)
    monkeypatch.setattr(om, "SMALL_WEEK_VISITS", 0)  # this week counted as a large one
    week = _pair_heavy_week()
    plan, evaluation = solve(week, SolveParams(time_limit_s=4, lns_share=0.5))
    assert evaluation.feasible, evaluation.violations
    assert not plan.unscheduled
    assert given == [(0, True)]  # from empty routes, building its own start
    assert handed and handed[0] is not None
    assert sum(len(route) for route in handed[0]) == len(week.visits) + sum(
        len(v.staffing) - 1 for v in week.visits
    )


def _spy_on_ruin_and_recreate(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, bool]]:
    """Record, for each call of ruin and recreate, the visits in the start it was given and
    whether it was to build starts of its own."""
    given: list[tuple[int, bool]] = []
    search = om.ruin_and_recreate

    def spy(*args: Any) -> Any:
        tours, params = args[2], args[-1]
        given.append((sum(len(tour.stops) for tour in tours), params.construct))
        return search(*args)

    monkeypatch.setattr(om, "ruin_and_recreate", spy)
    return given


def test_a_small_pair_heavy_week_is_searched_from_the_reserved_slots(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A small week (Mankowska's sets B-E) starts from the pairs' reserved slots and the
    regret insertion, and ruin and recreate keeps that start instead of building its own (from
    its own, Mankowska B1 settled 2.6 % above the best known, from the reserved slots 0.2 %):
    everything planned, every rule held."""
    given = _spy_on_ruin_and_recreate(monkeypatch)
    week = _pair_heavy_week()
    nodes = _model(week)[1]
    assert om._pair_heavy(nodes) and om._small(nodes)
    plan, evaluation = solve(week, SolveParams(time_limit_s=4, lns_share=0.5))
    assert evaluation.feasible, evaluation.violations
    assert not plan.unscheduled
    visit_nodes = len(week.visits) + sum(len(v.staffing) - 1 for v in week.visits)
    assert given == [(visit_nodes, False)]  # the whole regret start, no construction
