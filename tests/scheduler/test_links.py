"""Linked visits (a nurse's dressing before the therapist's exercises) and lateness inside a day."""

from __future__ import annotations

import dataclasses

import pytest

from scheduler.evaluate import evaluate
from scheduler.model import Plan, Role, Staffing, Unscheduled, Visit, VisitLink
from scheduler.params import SolveParams
from scheduler.solve import solve
from scheduler.travel import GreatCircleTravel
from tests.scheduler.conftest import clinician
from tests.scheduler.test_solve import problem, stops_of, visit

FAST = SolveParams(time_limit_s=5, solution_limit=200)
NURSE = Staffing(frozenset({Role.NURSE}))
REHAB = Staffing(frozenset({Role.REHAB}))


def _dressing_and_exercises(
    gap: tuple[int, int], second_window: tuple[int, int] = (8 * 60, 17 * 60)
) -> tuple[Visit, Visit, VisitLink]:
    dressing = visit(staffing=(NURSE,), days=range(1), duration=30)
    exercises = visit(staffing=(REHAB,), days=range(1), duration=45, window=second_window)
    exercises = dataclasses.replace(exercises, location=dressing.location)
    return dressing, exercises, VisitLink(dressing.visit_id, exercises.visit_id, *gap)


def test_the_exercises_follow_the_dressing_within_the_gap_by_another_clinician() -> None:
    """Dressing first, the therapist 30-60 min after it starts, the same day: both planned."""
    staff = [clinician("N1", Role.NURSE), clinician("R1", Role.REHAB)]
    dressing, exercises, link = _dressing_and_exercises((30, 60))
    others = [visit(staffing=(NURSE,), north_m=200.0 * i) for i in range(4)]
    plan, evaluation = solve(problem(staff, [dressing, exercises, *others], links=(link,)), FAST)
    assert evaluation.feasible, evaluation.violations
    (first,), (second,) = stops_of(plan, dressing.visit_id), stops_of(plan, exercises.visit_id)
    assert first.day == second.day
    assert 30 <= second.start_min - first.start_min <= 60
    assert {first.clinician_id, second.clinician_id} == {"N1", "R1"}


def test_linked_visits_that_cannot_meet_are_left_out_together() -> None:
    """Exercises only before 09:00 cannot follow a dressing by 2 hours: neither is planned."""
    staff = [clinician("N1", Role.NURSE), clinician("R1", Role.REHAB)]
    dressing, exercises, link = _dressing_and_exercises((120, 180), (8 * 60, 9 * 60))
    plan, evaluation = solve(problem(staff, [dressing, exercises], links=(link,)), FAST)
    assert {u.visit_id for u in plan.unscheduled} == {dressing.visit_id, exercises.visit_id}
    assert evaluation.feasible, evaluation.violations


def test_the_evaluator_reports_a_broken_link() -> None:
    """A gap outside the link, or one visit planned without the other, breaks rule ``link``."""
    staff = [clinician("N1", Role.NURSE), clinician("R1", Role.REHAB)]
    dressing, exercises, link = _dressing_and_exercises((30, 60))
    week = problem(staff, [dressing, exercises], links=(link,))
    plan, evaluation = solve(week, FAST)
    assert evaluation.feasible, evaluation.violations
    travel = GreatCircleTravel()
    # The exercises moved to start with the dressing: the gap is 0, not 30-60.
    (first,) = stops_of(plan, dressing.visit_id)
    moved = Plan(
        routes=tuple(
            dataclasses.replace(
                route,
                stops=tuple(
                    dataclasses.replace(s, start_min=first.start_min, arrival_min=s.arrival_min)
                    if s.visit_id == exercises.visit_id
                    else s
                    for s in route.stops
                ),
            )
            for route in plan.routes
        ),
        unscheduled=(),
    )
    assert any(
        v.rule == "link" and "0 min apart" in v.message
        for v in evaluate(week, moved, travel).violations
    )
    # Only the dressing planned.
    half = Plan(
        routes=tuple(r for r in plan.routes if r.clinician_id == first.clinician_id),
        unscheduled=(Unscheduled(exercises.visit_id, ""),),
    )
    assert "link" in {v.rule for v in evaluate(week, half, travel).violations}


def test_a_visit_may_start_late_at_a_cost_rather_than_be_left_out() -> None:
    """Two 30-min visits in one 09:00-09:30 window and one nurse: one starts late."""
    staff = [clinician("N1", Role.NURSE, work_days=[0])]
    on_time = [
        visit(staffing=(NURSE,), days=range(1), window=(9 * 60, 9 * 60 + 30)) for _ in range(2)
    ]
    plan, _ = solve(problem(staff, on_time), FAST)
    assert len(plan.unscheduled) == 1  # without an allowance, one does not fit
    late = [dataclasses.replace(v, late_allowed_min=60, late_cost_per_min=2) for v in on_time]
    plan, evaluation = solve(problem(staff, late), FAST)
    assert not plan.unscheduled
    assert evaluation.feasible, evaluation.violations
    starts = sorted(s.start_min for s in plan.stops())
    # The latest on-time start is 09:00: the second starts late, within the hour allowed.
    assert starts[0] == 9 * 60 and 9 * 60 < starts[1] <= 10 * 60


def test_a_start_past_the_lateness_allowance_breaks_the_window() -> None:
    staff = [clinician("N1", Role.NURSE, work_days=[0])]
    v = visit(staffing=(NURSE,), days=range(1), window=(9 * 60, 10 * 60))
    v = dataclasses.replace(v, late_allowed_min=15, late_cost_per_min=1)
    week = problem(staff, [v])
    plan, evaluation = solve(week, FAST)
    assert evaluation.feasible
    route = plan.routes[0]
    for start, broken in ((9 * 60 + 45, False), (10 * 60 + 5, True)):
        (stop,) = route.stops
        shifted = dataclasses.replace(
            route,
            stops=(dataclasses.replace(stop, start_min=start, end_min=start + 30),),
            return_min=route.return_min - stop.end_min + start + 30,
            work_min=route.work_min - stop.end_min + start + 30,
        )
        found = evaluate(week, Plan((shifted,), ()), GreatCircleTravel()).violations
        assert ("window" in {x.rule for x in found}) is broken


@pytest.mark.parametrize("nurse_lunch", [(11 * 60 + 30, 12 * 60 + 30), (12 * 60, 13 * 60)])
def test_joint_visits_meet_across_different_lunch_times(nurse_lunch: tuple[int, int]) -> None:
    """Doctor and nurse with other lunch hours still start their joint visits together."""
    staff = [
        clinician("D1", Role.DOCTOR),
        clinician("N1", Role.NURSE, lunch=nurse_lunch),
    ]
    pair = (Staffing(frozenset({Role.DOCTOR})), NURSE)
    joint = [visit(staffing=pair, north_m=300.0 * i, duration=40) for i in range(4)]
    singles = [visit(staffing=(NURSE,), east_m=250.0 * i) for i in range(4)]
    plan, evaluation = solve(problem(staff, joint + singles), FAST)
    assert evaluation.feasible, evaluation.violations
    assert not plan.unscheduled
    for v in joint:
        assert len({(s.day, s.start_min) for s in stops_of(plan, v.visit_id)}) == 1


def test_ruin_and_recreate_keeps_every_pair_tied() -> None:
    """A week of joint and linked visits searched by ruin and recreate alone: all planned,
    every rule held (each joint visit at one start, each link within its gap)."""
    staff = [
        clinician("D1", Role.DOCTOR),
        clinician("N1", Role.NURSE),
        clinician("N2", Role.NURSE, lunch=(12 * 60, 13 * 60)),
        clinician("R1", Role.REHAB),
    ]
    pair = (Staffing(frozenset({Role.DOCTOR})), NURSE)
    joint = [visit(staffing=pair, north_m=250.0 * i, east_m=90.0 * i) for i in range(6)]
    linked = []
    links = []
    for i in range(4):
        dressing = visit(staffing=(NURSE,), north_m=-200.0 * i, duration=20)
        exercises = visit(staffing=(REHAB,), north_m=-200.0 * i, duration=40)
        linked += [dressing, exercises]
        links.append(VisitLink(dressing.visit_id, exercises.visit_id, 20, 90))
    singles = [visit(staffing=(NURSE,), east_m=300.0 * i) for i in range(8)]
    week = problem(staff, joint + linked + singles, links=tuple(links))
    params = SolveParams(time_limit_s=4, lns_share=1.0)
    plan, evaluation = solve(week, params)
    assert evaluation.feasible, evaluation.violations
    assert not plan.unscheduled
