"""On time and strict urgency: the evaluator's findings and the planner's plans (issue 12)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from scheduler.evaluate import evaluate
from scheduler.evaluation.inversions import (
    Inversion,
    LateWithRoom,
    find_inversions,
    find_late_with_room,
)
from scheduler.model import Role, Staffing, Urgency
from scheduler.params import SolveParams
from scheduler.programmes import apply_overrides, builtin_programmes
from scheduler.solve import solve
from scheduler.timeliness import first_feasible_day, late_cost, timeliness_kpis
from scheduler.travel import GreatCircleTravel
from tests.scheduler import test_evaluate as hand
from tests.scheduler import test_solve as solved
from tests.scheduler.conftest import WEEK, clinician

FAST = SolveParams(time_limit_s=5, solution_limit=200)
TRAVEL = GreatCircleTravel()
DOCTOR_ONLY = Staffing(frozenset({Role.DOCTOR}))
NURSE_ONLY = Staffing(frozenset({Role.NURSE}))


def day(offset: int) -> dt.date:
    """A day of the reference week (0 = Monday)."""
    return WEEK + dt.timedelta(days=offset)


# --- the cost of a day late ------------------------------------------------------------------


def test_medicine_and_sick_bed_rounds_weigh_more_than_follow_ups() -> None:
    """The programme data carries the stakes: medicine 3, sick-bed rounds 3, follow-ups 1."""
    programmes = builtin_programmes()
    assert programmes["medicine_home"].stakes == 3
    assert programmes["sickbed_round"].stakes == 3
    assert programmes["followup_80"].stakes == 1


def test_programmes_yaml_overrides_the_stakes_and_refuses_nonsense() -> None:
    """``stakes`` is overridable like any field; 0 is refused with the programme named."""
    changed = apply_overrides(builtin_programmes(), {"followup_80": {"stakes": 2}})
    assert changed["followup_80"].stakes == 2
    with pytest.raises(ValueError, match=r"followup_80.*stakes"):
        apply_overrides(builtin_programmes(), {"followup_80": {"stakes": 0}})


def test_an_overdue_visit_pays_for_every_day_after_its_first_feasible_day() -> None:
    """Overdue medicine (stakes 3) on Thursday, first feasible Tuesday: 2 days x 10 x 3 = 60."""
    overdue = dataclasses.replace(solved.visit(urgency=Urgency.OVERDUE), stakes=3)
    costs = SolveParams().late_cost_per_day
    assert late_cost(overdue, day(3), day(1), costs) == 60
    assert late_cost(overdue, day(1), day(1), costs) == 0
    due = dataclasses.replace(solved.visit(), due_by=day(2))
    assert [late_cost(due, day(d), day(0), costs) for d in range(5)] == [0, 0, 0, 5, 10]


# --- (a) an overdue visit goes on its first feasible day ---------------------------------------


def test_an_overdue_visit_goes_on_its_first_feasible_day_not_with_its_neighbour() -> None:
    """The nurse is off on Monday; an overdue delivery 3 km out goes on Tuesday, her first day,
    although a visit next door that can only be on Thursday would make Thursday cheaper."""
    nurse = clinician("N1", Role.NURSE, work_days=[1, 2, 3, 4])
    overdue = dataclasses.replace(
        solved.visit(north_m=3000.0, urgency=Urgency.OVERDUE, programme="medicine_home"),
        due_by=WEEK - dt.timedelta(days=10),
        stakes=3,
    )
    neighbour = solved.visit(north_m=3050.0, days=range(3, 4))
    prob = solved.problem([nurse], [overdue, neighbour])
    plan, evaluation = solve(prob, FAST)
    assert first_feasible_day(prob, overdue) == day(1)
    assert [s.day for s in solved.stops_of(plan, overdue.visit_id)] == [day(1)]
    assert evaluation.kpis["on_time"]["overdue_on_first_feasible_day"] == 1  # type: ignore[index]
    assert evaluation.feasible and evaluation.kpis["late_with_room_earlier"] == 0


# --- (b) the evaluator finds inversions --------------------------------------------------------


def test_the_evaluator_lists_a_left_out_visit_and_the_less_urgent_one_in_its_place() -> None:
    """Overdue V fits nobody's Monday as planned; without optional W on N1's day it would.

    D1's day holds X, as urgent as V: no inversion there. The optional Y left out has nothing
    less urgent to displace.
    """
    slot = [(hand.MON, 9 * 60, 9 * 60 + 45)]
    v = hand.visit("V", hand.HOME_A, windows=slot, urgency=Urgency.OVERDUE)
    w = hand.visit("W", hand.HOME_B, windows=slot, urgency=Urgency.OPTIONAL)
    x = hand.visit("X", hand.HOME_C, windows=slot, urgency=Urgency.OVERDUE)
    y = hand.visit("Y", hand.HOME_A, windows=slot, urgency=Urgency.OPTIONAL)
    prob = hand.problem([v, w, x, y])
    made = hand.plan(
        hand.route(prob, hand.N1, hand.MON, [(w, 9 * 60)]),
        hand.route(prob, hand.D1, hand.MON, [(x, 9 * 60)]),
        unscheduled=["V", "Y"],
    )
    assert find_inversions(prob, made, TRAVEL) == [Inversion("V", "W", "N1", hand.MON)]
    evaluation = evaluate(prob, made, TRAVEL)
    assert [(f.rule, f.visit_id) for f in evaluation.violations] == [("inversion", "V")]
    assert evaluation.kpis["inversions"] == 1
    assert evaluation.feasible  # a finding, not a broken rule


def test_a_left_out_joint_visit_is_an_inversion_when_one_clinician_has_a_lower_one() -> None:
    """Due joint V (doctor and nurse) fits once optional W leaves N1's Monday: D1 is free."""
    slot = [(hand.MON, 9 * 60, 9 * 60 + 45)]
    v = hand.visit("V", hand.HOME_A, windows=slot, staffing=(hand.DOCTOR, hand.NURSE))
    w = hand.visit("W", hand.HOME_B, windows=slot, urgency=Urgency.OPTIONAL)
    prob = hand.problem([v, w])
    made = hand.plan(hand.route(prob, hand.N1, hand.MON, [(w, 9 * 60)]), unscheduled=["V"])
    assert find_inversions(prob, made, TRAVEL) == [Inversion("V", "W", "N1", hand.MON)]


# --- (c) the planner repairs them --------------------------------------------------------------


def test_an_optional_joint_visit_placed_first_gives_way_to_an_overdue_one() -> None:
    """Joint visits are reserved before the rest: an optional one takes the only slot an
    overdue visit has. The plan written swaps them: the overdue visit in, the optional out."""
    staff = [
        clinician("D1", Role.DOCTOR, work_days=[0]),
        clinician("N1", Role.NURSE, work_days=[0]),
    ]
    slot = (9 * 60, 9 * 60 + 45)
    joint = solved.visit(
        staffing=(DOCTOR_ONLY, NURSE_ONLY), urgency=Urgency.OPTIONAL, days=range(1), window=slot
    )
    overdue = solved.visit(east_m=300.0, urgency=Urgency.OVERDUE, days=range(1), window=slot)
    prob = solved.problem(staff, [joint, overdue])
    plan, evaluation = solve(prob, FAST)
    assert [u.visit_id for u in plan.unscheduled] == [joint.visit_id]
    assert solved.stops_of(plan, overdue.visit_id)
    assert find_inversions(prob, plan, TRAVEL) == []
    assert evaluation.feasible and evaluation.kpis["inversions"] == 0


def test_a_full_day_keeps_the_overdue_visits_and_leaves_no_inversion() -> None:
    """One nurse, one day, more work than fits, optional visits closer in: none of them sits
    where a left-out overdue or due visit could go."""
    nurse = clinician("N1", Role.NURSE, work_days=[0])
    urgent = [
        solved.visit(north_m=900.0 + 100 * i, duration=60, days=range(1), urgency=u)
        for i, u in enumerate([Urgency.OVERDUE] * 3 + [Urgency.DUE] * 3)
    ]
    optional = [
        solved.visit(north_m=50.0 * i, duration=45, days=range(1), urgency=Urgency.OPTIONAL)
        for i in range(6)
    ]
    prob = solved.problem([nurse], urgent + optional)
    plan, evaluation = solve(prob, FAST)
    assert plan.unscheduled  # the day is too short for all of it
    assert find_inversions(prob, plan, TRAVEL) == []
    assert evaluation.feasible and evaluation.kpis["inversions"] == 0


def test_two_samples_handed_in_on_one_pass_cost_one_handover_and_leave_room_for_a_due_visit() -> (
    None
):
    """The district's MH06 inversions, small: two overdue blood draws at one home, both samples
    handed in on one pass at the centre (one 5-minute handover, as the evaluator and the written
    plan time it), then due U, which must start by 09:05. Charged a handover per sample, the
    planner could not fit both draws and U: it left a draw out while U sat where, timed as the
    evaluator times it, the draw fitted (an inversion). Optional O gives way to them all."""
    nurse = clinician("N1", Role.NURSE, work_days=[0], shift=(8 * 60, 9 * 60 + 45), lunch=None)
    home = {"north_m": 600.0, "days": range(1), "urgency": Urgency.OVERDUE}
    draws = [
        solved.visit(**home, duration=20, window=(8 * 60, 9 * 60 + 20), sample_return_min=55)  # type: ignore[arg-type]
        for _ in range(2)
    ]
    due = solved.visit(east_m=600.0, days=range(1), window=(9 * 60 + 3, 9 * 60 + 35))
    optional = solved.visit(east_m=600.0, days=range(1), urgency=Urgency.OPTIONAL)
    prob = solved.problem([nurse], [*draws, due, optional])
    plan, evaluation = solve(prob, FAST)
    assert [u.visit_id for u in plan.unscheduled] == [optional.visit_id]
    (stop,) = solved.stops_of(plan, due.visit_id)
    assert stop.via_centre  # the samples go in on the way to U
    assert find_inversions(prob, plan, TRAVEL) == []
    assert evaluation.feasible and evaluation.kpis["inversions"] == 0


# --- (d) late with room earlier ----------------------------------------------------------------


def test_the_evaluator_finds_a_late_visit_that_had_room_on_an_earlier_day() -> None:
    """Overdue L on Tuesday while N1's Monday is free: found, with N1 and Monday named. M on
    Tuesday is due that day (on time); K is late but Tuesday is its only day: neither found."""
    both_days = [(hand.MON, 8 * 60, 16 * 60), (hand.TUE, 8 * 60, 16 * 60)]
    late = hand.visit("L", hand.HOME_A, windows=both_days, urgency=Urgency.OVERDUE)
    on_time = dataclasses.replace(hand.visit("M", hand.HOME_B, windows=both_days), due_by=hand.TUE)
    no_earlier = dataclasses.replace(
        hand.visit("K", hand.HOME_C, windows=[(hand.TUE, 8 * 60, 16 * 60)]), due_by=hand.MON
    )
    prob = hand.problem([late, on_time, no_earlier])
    made = hand.plan(
        hand.route(prob, hand.N1, hand.TUE, [(late, None), (on_time, None), (no_earlier, None)])
    )
    assert find_late_with_room(prob, made, TRAVEL) == [
        LateWithRoom("L", hand.TUE, hand.MON, ("N1",))
    ]
    evaluation = evaluate(prob, made, TRAVEL)
    assert [(f.rule, f.visit_id) for f in evaluation.violations] == [
        ("late_with_room_earlier", "L")
    ]
    assert evaluation.kpis["late_with_room_earlier"] == 1
    figures = timeliness_kpis(prob, made)
    assert (figures["visits_late"], figures["visit_days_late"]) == (1, 1)  # K, a day after MON


def test_the_planner_moves_late_visits_to_the_earliest_day_with_room() -> None:
    """Overdue deliveries spread over a week with room every day all go on Monday, the first
    feasible day; none is late with room earlier."""
    nurse = clinician("N1", Role.NURSE)
    overdue = [
        dataclasses.replace(
            solved.visit(north_m=400.0 + 200 * i, duration=20, urgency=Urgency.OVERDUE),
            due_by=WEEK - dt.timedelta(days=3),
        )
        for i in range(5)
    ]
    prob = solved.problem([nurse], overdue)
    plan, evaluation = solve(prob, FAST)
    assert {s.day for s in plan.stops()} == {WEEK}
    assert find_late_with_room(prob, plan, TRAVEL) == []
    assert evaluation.kpis["on_time"]["overdue_on_first_feasible_day"] == 5  # type: ignore[index]
