"""The solver's plans: every rule held, the right visits kept, checked by the evaluator."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from scheduler.model import (
    Centre,
    Clinician,
    DayWindow,
    Location,
    Problem,
    Role,
    Staffing,
    Urgency,
    Visit,
)
from scheduler.params import SolveParams
from scheduler.programmes import builtin_programmes
from scheduler.solve import build_problem, solve
from scheduler.solvers.ortools_model import Progress
from tests.scheduler.conftest import CENTRE, WEEK, DatasetFactory, clinician, resident

FAST = SolveParams(time_limit_s=5, solution_limit=200)
DOCTOR_OR_NURSE = Staffing(frozenset({Role.DOCTOR, Role.NURSE}))
_ids = itertools.count()


def visit(
    *,
    north_m: float = 500.0,
    east_m: float = 0.0,
    duration: int = 30,
    staffing: tuple[Staffing, ...] = (DOCTOR_OR_NURSE,),
    days: range = range(5),
    window: tuple[int, int] = (8 * 60, 17 * 60),
    team: str = "T1",
    urgency: Urgency = Urgency.DUE,
    preferred: str | None = None,
    sample_return_min: int | None = None,
    programme: str = "followup_80",
) -> Visit:
    """A home visit near the centre, allowed on ``days`` (0 = the week's Monday)."""
    n = next(_ids)
    return Visit(
        visit_id=f"V{n}",
        programme=programme,
        team_id=team,
        centre_id="C1",
        location=Location(CENTRE.lat + north_m / 111_000, CENTRE.lon + east_m / 95_000),
        duration_min=duration,
        staffing=staffing,
        windows=tuple(DayWindow(WEEK + dt.timedelta(days=d), *window) for d in days),
        urgency=urgency,
        due_by=WEEK + dt.timedelta(days=6),
        resident_id=f"R{n}",
        preferred_clinician_id=preferred,
        sample_return_min=sample_return_min,
    )


def problem(clinicians: list[Clinician], visits: list[Visit], **kwargs: object) -> Problem:
    """A one-centre week."""
    return Problem(
        week_start=WEEK,
        centres={"C1": Centre("C1", "Centre", CENTRE)},
        clinicians=tuple(clinicians),
        visits=tuple(visits),
        **kwargs,  # type: ignore[arg-type]
    )


def stops_of(plan: object, visit_id: str) -> list:  # type: ignore[type-arg]
    return [s for s in plan.stops() if s.visit_id == visit_id]  # type: ignore[attr-defined]


def test_an_easy_week_is_fully_planned_and_passes_the_check() -> None:
    """Ten visits for two clinicians with room to spare: all planned, no violation."""
    staff = [clinician("D1", Role.DOCTOR), clinician("N1", Role.NURSE)]
    visits = [visit(north_m=200.0 * i, east_m=150.0 * (i % 3)) for i in range(10)]
    plan, evaluation = solve(problem(staff, visits), FAST)
    assert not plan.unscheduled
    assert evaluation.feasible, evaluation.violations


def test_no_visit_overlaps_lunch() -> None:
    """A 60-minute visit in 10:15-13:45 never crosses the 11:30-12:30 lunch."""
    staff = [clinician("N1", Role.NURSE)]
    v = visit(duration=60, window=(10 * 60 + 15, 13 * 60 + 45), days=range(1))
    plan, evaluation = solve(problem(staff, [v]), FAST)
    (stop,) = stops_of(plan, v.visit_id)
    assert stop.end_min <= 11 * 60 + 30 or stop.start_min >= 12 * 60 + 30
    assert evaluation.feasible


def test_a_visit_that_only_fits_across_lunch_is_left_out_with_a_reason() -> None:
    """A 60-minute visit that must start 10:45-11:45 would cross lunch: it is not planned."""
    staff = [clinician("N1", Role.NURSE)]
    v = visit(duration=60, window=(10 * 60 + 45, 12 * 60 + 45), days=range(1))
    plan, evaluation = solve(problem(staff, [v]), FAST)
    assert [u.visit_id for u in plan.unscheduled] == [v.visit_id]
    assert evaluation.feasible


def test_a_skill_visit_goes_to_the_clinician_with_the_skill() -> None:
    """A PICC line is maintained only by the nurse trained for it."""
    staff = [clinician("N1", Role.NURSE, ["wound"]), clinician("N2", Role.NURSE, ["picc"])]
    v = visit(staffing=(Staffing(frozenset({Role.NURSE}), frozenset({"picc"})),))
    plan, _ = solve(problem(staff, [v]), FAST)
    assert [s.clinician_id for s in stops_of(plan, v.visit_id)] == ["N2"]


def test_full_solves_leave_out_nothing_that_fits() -> None:
    """Given time, no visit is left out while a clinician could still do it."""
    staff = [clinician("D1", Role.DOCTOR), clinician("N1", Role.NURSE, work_days=[0, 1])]
    visits = [visit(north_m=60.0 * i, east_m=70.0 * (i % 5), duration=40) for i in range(90)]
    plan, evaluation = solve(problem(staff, visits), FAST)
    assert plan.unscheduled  # more than fits in the week
    assert not evaluation.missed, evaluation.missed


def test_the_signed_team_is_hard_unless_cover_is_allowed() -> None:
    """A resident of team T2 is not visited by team T1, unless the centre allows cover."""
    staff = [clinician("N1", Role.NURSE, team_id="T1")]
    v = visit(team="T2")
    plan, evaluation = solve(problem(staff, [v]), FAST)
    assert [u.visit_id for u in plan.unscheduled] == [v.visit_id]
    assert evaluation.feasible  # an unscheduled visit with a reason is a valid plan
    covered, evaluation = solve(problem(staff, [v], cross_team_cover=True), FAST)
    assert not covered.unscheduled and evaluation.feasible


def test_days_off_are_respected() -> None:
    """A nurse who works Mon-Wed is never planned on Thursday, the only day a visit allows."""
    staff = [clinician("N1", Role.NURSE, work_days=range(3))]
    v = visit(days=range(3, 4))
    plan, _ = solve(problem(staff, [v]), FAST)
    assert [u.visit_id for u in plan.unscheduled] == [v.visit_id]
    assert "nobody" in plan.unscheduled[0].reason


def test_an_overloaded_week_keeps_the_most_urgent() -> None:
    """One nurse, one day, room for about six 60-minute visits: the overdue ones are kept first."""
    staff = [clinician("N1", Role.NURSE, work_days=[0])]
    overdue = [visit(north_m=100.0 * i, duration=60, urgency=Urgency.OVERDUE) for i in range(4)]
    optional = [
        visit(north_m=100.0 * i + 50, duration=60, urgency=Urgency.OPTIONAL) for i in range(6)
    ]
    plan, evaluation = solve(problem(staff, overdue + optional), FAST)
    scheduled = {s.visit_id for s in plan.stops()}
    assert {v.visit_id for v in overdue} <= scheduled
    assert len(plan.unscheduled) >= 3
    assert evaluation.feasible
    assert all("full" in u.reason for u in plan.unscheduled)


def test_joint_visit_has_both_clinicians_at_the_same_time_and_the_sample_returns() -> None:
    """Health check: doctor and nurse start together; the blood reaches the centre in 150 min."""
    programme = builtin_programmes()["health_check"]
    staff = [clinician("D1", Role.DOCTOR, ["ecg"]), clinician("N1", Role.NURSE, ["blood_draw"])]
    checks = [
        visit(
            north_m=800.0 + 100 * i,
            duration=programme.duration_min,
            staffing=programme.staffing,
            window=(programme.day_window.start_min, programme.day_window.end_min),
            sample_return_min=programme.sample_return_min,
            programme="health_check",
        )
        for i in range(3)
    ]
    others = [visit(north_m=300.0 * i, east_m=400.0) for i in range(6)]
    plan, evaluation = solve(problem(staff, checks + others), FAST)
    assert evaluation.feasible, evaluation.violations
    for check in checks:
        rows = stops_of(plan, check.visit_id)
        assert sorted(s.clinician_id for s in rows) == ["D1", "N1"]
        assert len({(s.day, s.start_min) for s in rows}) == 1


def test_the_preferred_clinician_is_chosen_when_it_costs_nothing() -> None:
    """Continuity: of two equally placed nurses, the resident's own nurse visits her."""
    staff = [clinician("N1", Role.NURSE), clinician("N2", Role.NURSE)]
    v = visit(preferred="N2")
    plan, _ = solve(problem(staff, [v]), FAST)
    assert [s.clinician_id for s in stops_of(plan, v.visit_id)] == ["N2"]


def test_stopping_early_keeps_a_valid_plan() -> None:
    """A stop request (Ctrl-C) returns the best plan found so far, breaking no rule."""
    staff = [clinician("D1", Role.DOCTOR), clinician("N1", Role.NURSE)]
    visits = [visit(north_m=150.0 * i, east_m=90.0 * (i % 4)) for i in range(25)]
    plan, evaluation = solve(
        problem(staff, visits), SolveParams(time_limit_s=60), should_stop=lambda: True
    )
    assert plan.solve_seconds < 30
    assert evaluation.feasible


@pytest.mark.parametrize("mode_speed_order", [("walk", "car")])
def test_walking_routes_take_longer_than_driving(
    make_dataset: DatasetFactory, mode_speed_order: tuple[str, str]
) -> None:
    """Per-mode travel times: the same week walked costs more travel minutes than driven."""
    from scheduler.model import TravelMode

    people = [resident(f"R{i}", 85, north_m=600.0 * i, east_m=300.0 * (i % 2)) for i in range(6)]
    minutes = []
    for mode in mode_speed_order:
        staff = [clinician("N1", Role.NURSE, mode=TravelMode(mode))]
        data = make_dataset(people, clinicians=staff)
        plan, evaluation = solve(build_problem(data, dt.date(2026, 12, 28)), FAST)
        assert evaluation.feasible
        minutes.append(sum(r.travel_min for r in plan.routes))
    assert minutes[0] > minutes[1]


def test_teams_are_planned_as_independent_parts_unless_cover_is_allowed() -> None:
    """With the signed team hard, each team's week is its own problem; cover joins them."""
    from scheduler.solve import split_independent

    staff = [clinician("N1", Role.NURSE, team_id="T1"), clinician("N2", Role.NURSE, team_id="T2")]
    visits = [visit(team="T1"), visit(team="T2"), visit(team="T2")]
    parts = split_independent(problem(staff, visits))
    assert sorted((p.clinicians[0].team_id, len(p.visits)) for p in parts) == [("T1", 1), ("T2", 2)]
    assert len(split_independent(problem(staff, visits, cross_team_cover=True))) == 1


def test_parts_solved_in_worker_processes_give_a_valid_merged_plan() -> None:
    """Two workers: the merged plan of both teams passes the check, every visit accounted for."""
    staff = [clinician("N1", Role.NURSE, team_id="T1"), clinician("N2", Role.NURSE, team_id="T2")]
    visits = [visit(team=f"T{1 + i % 2}", north_m=100.0 * i) for i in range(8)]
    plan, evaluation = solve(problem(staff, visits), FAST, workers=2)
    assert evaluation.feasible and not evaluation.missed
    assert len(plan.stops()) == 8


@pytest.mark.slow
def test_a_stop_request_reaches_the_worker_processes() -> None:
    """Ctrl-C with the parts in worker processes: each search stops and keeps its plan, so a
    60 s week ends long before its limit with a valid plan, progress reported on the way."""
    staff = [clinician("N1", Role.NURSE, team_id="T1"), clinician("N2", Role.NURSE, team_id="T2")]
    visits = [visit(team=f"T{1 + i % 2}", north_m=100.0 * i) for i in range(16)]
    reports: list[Progress] = []
    plan, evaluation = solve(
        problem(staff, visits),
        SolveParams(time_limit_s=60),  # above IN_PROCESS_BELOW_S: the parts go to processes
        progress=reports.append,
        should_stop=lambda: True,
        workers=2,
    )
    assert plan.solve_seconds < 30
    assert evaluation.feasible and len(plan.stops()) == 16
    assert reports and reports[-1].visits_placed == 16


def test_a_two_centre_week_is_checked_centre_by_centre() -> None:
    """Several centres: planned and checked as a whole; a cross-centre stop is still caught."""
    import dataclasses

    from scheduler.evaluate import evaluate
    from scheduler.travel import GreatCircleTravel

    far = Location(CENTRE.lat + 0.05, CENTRE.lon)
    nurse_b = dataclasses.replace(clinician("NB", Role.NURSE, team_id="TB"), centre_id="C2")
    visits_a = [visit(north_m=100.0 * i) for i in range(3)]
    visits_b = [
        dataclasses.replace(visit(team="TB"), centre_id="C2", location=far) for _ in range(2)
    ]
    two = Problem(
        week_start=WEEK,
        centres={"C1": Centre("C1", "A", CENTRE), "C2": Centre("C2", "B", far)},
        clinicians=(clinician("NA", Role.NURSE), nurse_b),
        visits=tuple(visits_a + visits_b),
    )
    plan, evaluation = solve(two, FAST)
    assert evaluation.feasible and not plan.unscheduled
    assert evaluation.kpis["visits_scheduled"] == 5
    # Move one of centre B's stops onto centre A's nurse: the check must object.
    route_b = next(r for r in plan.routes if r.clinician_id == "NB")
    wrong = dataclasses.replace(route_b, clinician_id="NA", day=route_b.day)
    moved = dataclasses.replace(plan, routes=(*[r for r in plan.routes if r is not route_b], wrong))
    assert not evaluate(two, moved, GreatCircleTravel()).feasible
