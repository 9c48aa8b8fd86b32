"""Same-day re-plans: what was done stays, what can stay stays, only what must move moves."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from scheduler.dataset import DatasetError, read_dataset, read_requests
from scheduler.edits import who_could
from scheduler.evaluate import evaluate
from scheduler.evaluation.search import Context, single_starts
from scheduler.model import Dataset, Plan, Problem, ServiceRequest, Stop, TimeWindow
from scheduler.params import SolveParams
from scheduler.pins import REMOVED_REASON, Pin
from scheduler.replan import (
    MADE_ROOM_WHY,
    Absence,
    Cancellation,
    ChangeKind,
    Event,
    Postponement,
    Replan,
    ReplanError,
    RunningLate,
    replan,
    replan_around_pins,
)
from scheduler.solve import build_problem, solve
from scheduler.travel import GreatCircleTravel

SAMPLE = Path(__file__).resolve().parents[2] / "scenarios" / "data" / "minhang-centre"
WEEK = dt.date(2026, 11, 30)
TUESDAY = dt.date(2026, 12, 1)
TEN = 10 * 60
TEAMS = ("MH03-T1", "MH03-T4")  # two of the sample's six teams: the same shape, a third the size
SAMPLE_NURSE = "MH03-T4-N"  # draws blood for two health checks before 10:00 on Monday and Tuesday
NURSE = "MH03-T1-N"
FAST = SolveParams(time_limit_s=2.0)


@pytest.fixture(scope="module")
def week() -> tuple[Dataset, Problem, Plan]:
    """Two teams of the sample centre, their reference week planned once for this module."""
    full = read_dataset(SAMPLE)
    dataset = dataclasses.replace(
        full,
        clinicians={k: c for k, c in full.clinicians.items() if c.team_id in TEAMS},
        residents={k: r for k, r in full.residents.items() if r.team_id in TEAMS},
        requests=tuple(q for q in full.requests if full.residents[q.resident_id].team_id in TEAMS),
    )
    problem = build_problem(dataset, WEEK)
    plan, evaluation = solve(problem, SolveParams(time_limit_s=6.0))
    assert evaluation.feasible
    return dataset, problem, plan


def _by_visit(plan: Plan) -> dict[str, list[Stop]]:
    found: dict[str, list[Stop]] = {}
    for stop in plan.stops():
        found.setdefault(stop.visit_id, []).append(stop)
    return found


def _visits_of(plan: Plan, clinician_id: str) -> set[str]:
    return {s.visit_id for s in plan.stops() if s.clinician_id == clinician_id}


def _afternoon_visits(plan: Plan, not_of: str, count: int) -> list[str]:
    """Single-clinician visits on Tuesday after ten, of other clinicians than ``not_of``."""
    by_visit = _by_visit(plan)
    return [
        vid
        for vid, stops in sorted(by_visit.items())
        if len(stops) == 1
        and stops[0].day == TUESDAY
        and stops[0].start_min >= TEN + 30
        and stops[0].clinician_id != not_of
    ][:count]


@pytest.fixture(scope="module")
def sick_call(week: tuple[Dataset, Problem, Plan]) -> tuple[Plan, Replan]:
    """Tuesday 10:00: a nurse goes home sick, three visits are cancelled, two urgent requests."""
    dataset, problem, base = week
    # The other nurse's longest afternoon visits are cancelled: room for the urgent request.
    durations = {v.visit_id: v.duration_min for v in problem.visits}
    theirs = [v for v in _afternoon_visits(base, NURSE, 100) if v in _visits_of(base, SAMPLE_NURSE)]
    cancelled = sorted(theirs, key=lambda v: -durations[v])[:3]
    assert len(cancelled) == 3
    # Residents the register lets be visited at any time: a request's window is cut to the
    # resident's availability, and these requests are about room, not availability.
    residents = sorted(
        (r for r in dataset.residents.values() if r.team_id == "MH03-T4" and not r.availability),
        key=lambda r: r.resident_id,
    )
    urgent = [
        ServiceRequest(
            "U1",
            residents[0].resident_id,
            "catheter_care",
            TUESDAY,
            TUESDAY + dt.timedelta(days=2),
            TimeWindow(10 * 60 + 30, 16 * 60),
            30,
            frozenset({"catheter"}),
        ),
        ServiceRequest(
            "U2",
            residents[1].resident_id,
            "pressure_sore_care",
            TUESDAY,
            TUESDAY + dt.timedelta(days=1),
            TimeWindow(9 * 60, 16 * 60),
            40,
            frozenset({"wound"}),
        ),
    ]
    events: list[Event] = [
        Absence(NURSE, TUESDAY, None, TEN),
        *map(Cancellation, cancelled),
        *urgent,
    ]
    return base, replan(dataset, problem, base, events, day=TUESDAY, at_min=TEN, params=FAST)


def test_the_sick_call_replan_passes_the_evaluator(sick_call: tuple[Plan, Replan]) -> None:
    """The acceptance case's new plan breaks no rule of the project's own checker."""
    _, result = sick_call
    assert result.evaluation.feasible, result.evaluation.broken[:3]
    assert result.plan.status == "re-plan"


def test_the_absent_nurse_has_no_visit_after_she_left(sick_call: tuple[Plan, Replan]) -> None:
    """A nurse away from 10:00 keeps what she started before 10:00 and nothing after."""
    base, result = sick_call
    had = [s for s in base.stops() if s.clinician_id == NURSE and s.day == TUESDAY]
    assert any(s.start_min >= TEN for s in had), "the case needs visits to move"
    after = [
        s
        for s in result.plan.stops()
        if s.clinician_id == NURSE and s.day == TUESDAY and s.start_min >= TEN
    ]
    assert after == []


def test_the_evaluator_itself_knows_she_left_at_ten(sick_call: tuple[Plan, Replan]) -> None:
    """The re-plan's week says the nurse is away from 10:00 on Tuesday, so the evaluator (not
    only the re-plan) refuses a visit of hers after it: the plan before the change, checked
    against that week, breaks the workday rule at each of her visits after 10:00, naming the
    time; its search offers no start after 10:00 on her day; the new plan passes."""
    base, result = sick_call
    assert result.problem.away_from(NURSE, TUESDAY) == TEN
    assert result.problem.away_from(NURSE, TUESDAY + dt.timedelta(days=1)) is None
    old = evaluate(result.problem, base, GreatCircleTravel())
    away = [v for v in old.broken if v.rule == "workday"]
    theirs = {
        s.visit_id
        for s in base.stops()
        if s.clinician_id == NURSE and s.day == TUESDAY and s.start_min >= TEN
    }
    assert theirs and {v.visit_id for v in away} == theirs
    assert all("away from 10:00" in v.message for v in away)
    assert not [v for v in result.evaluation.broken if v.rule == "workday"]

    def starts_on_her_tuesday(problem: Problem) -> list[int]:
        ctx = Context(problem, result.plan, GreatCircleTravel())
        day = ctx.day_of(ctx.clinicians[NURSE], TUESDAY, empty=False)
        assert day is not None
        return [
            start
            for visit in problem.visits
            if not visit.is_joint and ctx.windows_on(visit, TUESDAY)
            for _, start in single_starts(day, ctx.entry(visit, TUESDAY), first_only=False)
        ]

    unaware = starts_on_her_tuesday(dataclasses.replace(result.problem, away=()))
    assert any(start >= TEN for start in unaware)  # her free afternoon, without the absence
    assert all(start < TEN for start in starts_on_her_tuesday(result.problem))


def test_nothing_done_before_the_change_moves(sick_call: tuple[Plan, Replan]) -> None:
    """Monday, and Tuesday's visits started before 10:00, are exactly as they were."""
    base, result = sick_call
    before = {
        (s.visit_id, s.clinician_id): s
        for s in base.stops()
        if s.day < TUESDAY or (s.day == TUESDAY and s.start_min < TEN)
    }
    now = {(s.visit_id, s.clinician_id): s for s in result.plan.stops()}
    assert before
    for key, stop in before.items():
        assert (now[key].day, now[key].start_min, now[key].sequence) == (
            stop.day,
            stop.start_min,
            stop.sequence,
        )
    new_before_ten = [
        s
        for s in result.plan.stops()
        if (s.day < TUESDAY or (s.day == TUESDAY and s.start_min < TEN))
        and (s.visit_id, s.clinician_id) not in before
    ]
    assert new_before_ten == []


def test_visits_that_did_not_have_to_move_stay_within_the_tolerance(
    sick_call: tuple[Plan, Replan],
) -> None:
    """Every visit the events left a place keeps its clinician and day, start within 30 min."""
    base, result = sick_call
    was, now = _by_visit(base), _by_visit(result.plan)
    cancelled = {c.visit_id for c in result.changes if c.kind is ChangeKind.CANCELLED}
    stayed = [v for v in was if v not in result.had_to_move and v not in cancelled]
    assert len(stayed) > 50
    for visit_id in stayed:
        assert visit_id in now, f"{visit_id} did not have to move but left the plan"
        before = sorted((s.clinician_id, s.day) for s in was[visit_id])
        after = sorted((s.clinician_id, s.day) for s in now[visit_id])
        assert before == after, visit_id
        assert abs(now[visit_id][0].start_min - was[visit_id][0].start_min) <= 30, visit_id
    summary = result.summary()
    assert summary["moved_without_having_to"] == 0


def test_the_changes_list_every_visit_that_changed(sick_call: tuple[Plan, Replan]) -> None:
    """Cancellations, the nurse's visits moved or sent back, the urgent requests: one row each,
    each moved visit's resident among those to tell."""
    base, result = sick_call
    kinds = {c.visit_id: c.kind for c in result.changes}
    assert sum(k is ChangeKind.CANCELLED for k in kinds.values()) == 3
    nurse_later = {
        s.visit_id
        for s in base.stops()
        if s.clinician_id == NURSE and s.day == TUESDAY and s.start_min >= TEN
    }
    assert nurse_later <= set(kinds)
    for visit_id in nurse_later:
        assert kinds[visit_id] in (
            ChangeKind.MOVED_CLINICIAN,
            ChangeKind.MOVED_DAY,
            ChangeKind.UNSCHEDULED,
        )
    assert {"request-U1", "request-U2"} <= set(kinds)
    assert kinds["request-U1"] is ChangeKind.ADDED  # the other nurse has room after cancellations
    tell = result.summary()["residents_to_tell"]
    assert isinstance(tell, list)
    moved = [c for c in result.changes if c.kind is ChangeKind.MOVED_CLINICIAN]
    assert moved and all(c.resident_id in tell for c in moved if c.resident_id)
    left = {u.visit_id: u.reason for u in result.plan.unscheduled}
    for change in result.changes:
        if change.kind is ChangeKind.UNSCHEDULED:
            assert left[change.visit_id], "a visit sent back to the due list has a reason"


def test_postponing_moves_a_visit_to_its_new_day_or_out_of_the_week(
    week: tuple[Dataset, Problem, Plan],
) -> None:
    """Postponed to Thursday: on Thursday (or back to the due list); to next week: listed as
    postponed, with the day in its reason."""
    dataset, problem, base = week
    first, second = _afternoon_visits(base, "", 2)
    thursday = dt.date(2026, 12, 3)
    next_week = dt.date(2026, 12, 9)
    events = [Postponement(first, thursday), Postponement(second, next_week)]
    result = replan(dataset, problem, base, events, day=TUESDAY, at_min=TEN, params=FAST)
    assert result.evaluation.feasible
    kinds = {c.visit_id: c.kind for c in result.changes}
    now = _by_visit(result.plan)
    if first in now:
        assert now[first][0].day == thursday and kinds[first] is ChangeKind.MOVED_DAY
    else:
        assert kinds[first] is ChangeKind.UNSCHEDULED
    assert kinds[second] is ChangeKind.POSTPONED and second not in now
    reason = {u.visit_id: u.reason for u in result.plan.unscheduled}[second]
    assert "2026-12-09" in reason


def test_a_visit_already_done_cannot_be_cancelled(week: tuple[Dataset, Problem, Plan]) -> None:
    """Cancelling Monday's visit on Tuesday is refused with the visit named."""
    dataset, problem, base = week
    monday = next(s for s in base.stops() if s.day == WEEK)
    with pytest.raises(ReplanError, match=monday.visit_id):
        replan(
            dataset,
            problem,
            base,
            [Cancellation(monday.visit_id)],
            day=TUESDAY,
            at_min=TEN,
            params=FAST,
        )


def test_a_late_clinician_starts_her_next_visits_after_she_is_free(
    week: tuple[Dataset, Problem, Plan],
) -> None:
    """Held up until 11:00 where she is: her visits after that start no earlier than she can
    get there from that place."""
    dataset, problem, base = week
    route = next(
        r for r in base.routes if r.day == TUESDAY and sum(s.start_min >= TEN for s in r.stops) >= 2
    )
    visits = {v.visit_id: v for v in problem.visits}
    clinician = next(c for c in problem.clinicians if c.clinician_id == route.clinician_id)
    where = visits[route.stops[0].visit_id].location
    late = RunningLate(route.clinician_id, TUESDAY, 11 * 60, where)
    result = replan(dataset, problem, base, [late], day=TUESDAY, at_min=TEN, params=FAST)
    assert result.evaluation.feasible
    travel = GreatCircleTravel()
    for stop in result.plan.stops():
        if (stop.clinician_id, stop.day) != (route.clinician_id, TUESDAY) or stop.start_min < TEN:
            continue
        leg = travel.leg(where, visits[stop.visit_id].location, clinician.travel_mode)[0]
        assert stop.start_min >= 11 * 60 + leg, stop.visit_id


def test_a_request_only_the_absent_nurse_could_do_goes_back_saying_so(
    week: tuple[Dataset, Problem, Plan],
) -> None:
    """A catheter request for Tuesday afternoon in the team whose only catheter nurse left at
    10:00: back to the due list with the reason that nobody else has room (because she is
    absent), not a guess from what is left (too far, full)."""
    dataset, problem, base = week
    resident = min(
        (r for r in dataset.residents.values() if r.team_id == "MH03-T1" and not r.availability),
        key=lambda r: r.resident_id,
    )
    request = ServiceRequest(
        "ONLY-HER",
        resident.resident_id,
        "catheter_care",
        TUESDAY,
        TUESDAY,
        TimeWindow(10 * 60 + 30, 16 * 60),
        30,
        frozenset({"catheter"}),
    )
    events: list[Event] = [Absence(NURSE, TUESDAY, None, TEN), request]
    result = replan(dataset, problem, base, events, day=TUESDAY, at_min=TEN, params=FAST)
    assert result.evaluation.feasible
    reason = next(u for u in result.plan.unscheduled if u.visit_id == "request-ONLY-HER")
    assert reason.reason.startswith("nobody else who may do it has room"), reason
    assert reason.reason.endswith("(new urgent request)")  # in English only
    assert reason.reason_zh.startswith("本周") and reason.reason_zh.endswith("（新的紧急上门申请）")
    change = next(c for c in result.changes if c.visit_id == "request-ONLY-HER")
    assert change.why == f"{reason.reason} / {reason.reason_zh}"  # as every change: en / zh


def test_a_cancelled_replan_still_answers_with_a_checked_plan(
    week: tuple[Dataset, Problem, Plan],
) -> None:
    """Asked to stop from the start (a job cancelled while it runs), the re-plan answers well
    within its time limit with a plan the evaluator passes, the absent nurse off after 10:00."""
    dataset, problem, base = week
    slow = SolveParams(time_limit_s=20.0)
    absence = Absence(NURSE, TUESDAY, None, TEN)
    result = replan(
        dataset,
        problem,
        base,
        [absence],
        day=TUESDAY,
        at_min=TEN,
        params=slow,
        should_stop=lambda: True,
    )
    assert result.seconds < 10
    assert result.evaluation.feasible, result.evaluation.broken[:3]
    assert not [
        s
        for s in result.plan.stops()
        if s.clinician_id == NURSE and s.day == TUESDAY and s.start_min >= TEN
    ]


def test_an_absence_over_several_days_empties_her_routes_of_those_days(
    week: tuple[Dataset, Problem, Plan],
) -> None:
    """Away all of Tuesday and Wednesday: no route of hers on either day, her visits placed
    with colleagues or sent back with a reason, and the evaluator (which now sees those days
    off her week) passes."""
    dataset, problem, base = week
    wednesday = TUESDAY + dt.timedelta(days=1)
    absence = Absence(NURSE, TUESDAY, wednesday)
    result = replan(dataset, problem, base, [absence], day=TUESDAY, params=FAST)
    assert result.evaluation.feasible, result.evaluation.broken[:3]
    assert not [
        r for r in result.plan.routes if r.clinician_id == NURSE and r.day in (TUESDAY, wednesday)
    ]
    hers = {
        s.visit_id
        for s in base.stops()
        if s.clinician_id == NURSE and s.day in (TUESDAY, wednesday)
    }
    assert hers and hers <= result.had_to_move
    left = {u.visit_id: u.reason for u in result.plan.unscheduled}
    placed = {s.visit_id for s in result.plan.stops()}
    assert all(v in placed or left[v] for v in hers)


def test_a_requests_file_with_an_unknown_resident_is_refused_with_row_and_column(
    week: tuple[Dataset, Problem, Plan], tmp_path: Path
) -> None:
    """A new request naming a resident the registers do not have: the file, row 2, column
    resident_id and the value are named."""
    dataset, _, _ = week
    path = tmp_path / "urgent.csv"
    path.write_text(
        "request_id,resident_id,service,earliest_date,latest_date,window_start,window_end,"
        "duration_min\nU9,NOBODY,catheter_care,2026-12-01,2026-12-01,10:00,12:00,30\n",
        encoding="utf-8",
    )
    with pytest.raises(DatasetError) as caught:
        read_requests(path, dataset)
    problem = caught.value.problems[0]
    assert (problem.file, problem.row, problem.column, problem.value) == (
        "urgent.csv",
        2,
        "resident_id",
        "NOBODY",
    )


def test_each_round_starts_from_the_current_routes(
    week: tuple[Dataset, Problem, Plan], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The search of every round is warm-started from the routes as they stand (OR-Tools reads
    them in), also when the absent nurse did joint visits with lab samples before she left, and
    when the visit she was to hand her samples in on the way to is cancelled: a start the model
    refused would make the re-plan slow and lose visits."""
    from ortools.constraint_solver import pywrapcp

    dataset, problem, base = week
    reads: list[bool] = []
    read = pywrapcp.RoutingModel.ReadAssignmentFromRoutes

    def spy(self: pywrapcp.RoutingModel, routes: object, close: bool) -> object:
        found = read(self, routes, close)
        reads.append(found is not None)
        return found

    monkeypatch.setattr(pywrapcp.RoutingModel, "ReadAssignmentFromRoutes", spy)
    for day in (WEEK, TUESDAY):
        absence = Absence(SAMPLE_NURSE, day, None, TEN)
        result = replan(dataset, problem, base, [absence], day=day, at_min=TEN, params=FAST)
        assert result.evaluation.feasible
    by_centre = [s for s in base.stops() if s.via_centre and s.day == TUESDAY]
    assert by_centre, "the case needs a leg that hands samples in"
    events: list[Event] = [Cancellation(s.visit_id) for s in by_centre]
    result = replan(dataset, problem, base, events, day=TUESDAY, at_min=8 * 60, params=FAST)
    assert result.evaluation.feasible
    assert reads and all(reads)


def test_joint_visits_that_must_move_meet_at_one_time_or_go_back_with_a_reason(
    week: tuple[Dataset, Problem, Plan],
) -> None:
    """The nurse away Tuesday and Wednesday: each doctor-and-nurse visit of hers is either on
    two routes of one later day at one start, with nobody else moved for it, or back on the
    due list with a reason."""
    dataset, problem, base = week
    wednesday = TUESDAY + dt.timedelta(days=1)
    absence = Absence(SAMPLE_NURSE, TUESDAY, wednesday)
    result = replan(dataset, problem, base, [absence], day=TUESDAY, params=FAST)
    assert result.evaluation.feasible, result.evaluation.broken[:3]
    visits = {v.visit_id: v for v in problem.visits}
    joint = [
        vid
        for vid, stops in _by_visit(base).items()
        if visits[vid].is_joint
        and any(s.clinician_id == SAMPLE_NURSE and s.day in (TUESDAY, wednesday) for s in stops)
    ]
    assert joint, "the case needs joint visits to move"
    now = _by_visit(result.plan)
    left = {u.visit_id: u.reason for u in result.plan.unscheduled}
    placed = 0
    for visit_id in joint:
        if visit_id in now:
            stops = now[visit_id]
            assert len(stops) == 2 and len({(s.day, s.start_min) for s in stops}) == 1
            assert stops[0].day > wednesday
            placed += 1
        else:
            assert left[visit_id]
    assert 0 <= placed <= len(joint)


# --- re-planning around a team leader's pins ------------------------------------------------


def _pin_onto(problem: Problem, plan: Plan, why: str) -> Pin:
    """The first single-clinician visit (by id) another clinician could do on another day whose
    day has room for it (``why`` ""), or not (``why`` "full")."""
    travel = GreatCircleTravel()
    visits = {v.visit_id: v for v in problem.visits}
    for stop in sorted(plan.stops(), key=lambda s: s.visit_id):
        visit = visits[stop.visit_id]
        if visit.is_joint or visit.sample_return_min is not None:
            continue
        for option in who_could(problem, plan, travel, stop.visit_id):
            elsewhere = option.clinician_id != stop.clinician_id and option.day != stop.day
            if option.why == why and elsewhere:
                return Pin(stop.visit_id, option.clinician_id, option.day)
    raise LookupError(f"no visit to pin onto a day that is {why or 'free'}")


def _where(plan: Plan) -> dict[str, tuple[frozenset[str], dt.date]]:
    return {
        vid: (frozenset(s.clinician_id for s in ss), ss[0].day)
        for vid, ss in _by_visit(plan).items()
    }


@pytest.fixture(scope="module")
def pinned_onto_full_day(week: tuple[Dataset, Problem, Plan]) -> tuple[Pin, Replan]:
    dataset, problem, plan = week
    pin = _pin_onto(problem, plan, "full")
    return pin, replan_around_pins(dataset, problem, plan, [pin], params=FAST)


def test_a_pin_onto_a_full_day_moves_only_the_visits_it_forces_out(
    week: tuple[Dataset, Problem, Plan], pinned_onto_full_day: tuple[Pin, Replan]
) -> None:
    _, problem, plan = week
    pin, result = pinned_onto_full_day
    assert evaluate(problem, result.plan, GreatCircleTravel()).feasible
    assert any(
        (s.clinician_id, s.day) == (pin.clinician_id, pin.day)
        for s in _by_visit(result.plan)[pin.visit_id]
    )
    before, after = _where(plan), _where(result.plan)
    moved = {v for v, w in before.items() if after.get(v) != w} - {pin.visit_id}
    # The pinned day had no room: someone made room, and only those who had to moved.
    assert moved and moved <= result.had_to_move
    assert len(moved) <= 5, moved  # from scratch, the same pin moved dozens
    assert result.summary()["moved_without_having_to"] == 0
    made_room = {c.visit_id for c in result.changes if c.why == MADE_ROOM_WHY}
    assert moved <= made_room
    # What had to move is placed again wherever there is room: nothing is lost for nothing.
    assert len(_by_visit(result.plan)) >= len(_by_visit(plan)) - len(moved)


def test_a_pin_onto_a_day_with_room_moves_nothing_else_and_a_removal_leaves_the_week(
    week: tuple[Dataset, Problem, Plan],
) -> None:
    dataset, problem, plan = week
    pin = _pin_onto(problem, plan, "")
    gone = next(
        s.visit_id
        for s in sorted(plan.stops(), key=lambda s: s.visit_id)
        if s.visit_id != pin.visit_id
    )
    result = replan_around_pins(dataset, problem, plan, [pin], [gone], params=FAST)
    assert evaluate(problem, result.plan, GreatCircleTravel()).feasible
    before, after = _where(plan), _where(result.plan)
    assert after[pin.visit_id] == (frozenset({pin.clinician_id}), pin.day)
    assert gone not in after
    assert {u.visit_id: u.reason for u in result.plan.unscheduled}[gone] == REMOVED_REASON
    moved = {v for v, w in before.items() if after.get(v) != w} - {pin.visit_id, gone}
    assert moved == set()
    # Every other visit keeps its start within the tolerance, but those the pinned visit needed
    # the time of (its day has room once they start earlier or later).
    starts = {(s.visit_id, s.clinician_id): s.start_min for s in plan.stops()}
    for stop in result.plan.stops():
        if stop.visit_id not in result.had_to_move:
            assert abs(stop.start_min - starts[(stop.visit_id, stop.clinician_id)]) <= 30
    assert result.summary()["moved_without_having_to"] == 0
