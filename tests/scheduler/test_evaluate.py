"""The independent checker: one small test per rule, with exact numbers from the travel model."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

import pytest

from scheduler.evaluate import (
    Reason,
    compute_kpis,
    evaluate,
    explain_unscheduled,
    insertion_options,
)
from scheduler.model import (
    Centre,
    Clinician,
    DayWindow,
    DueBasis,
    Location,
    Plan,
    Problem,
    Role,
    Route,
    Staffing,
    Stop,
    TimeWindow,
    TravelMode,
    Unscheduled,
    Urgency,
    Visit,
    format_hhmm,
)
from scheduler.travel import GreatCircleTravel

MON = dt.date(2024, 6, 3)
TUE = MON + dt.timedelta(days=1)
SAT = MON + dt.timedelta(days=5)
TRAVEL = GreatCircleTravel()

CENTRE = Location(31.1100, 121.3800)
HOME_A = Location(31.1130, 121.3800)  # about 330 m north of the centre
HOME_B = Location(31.1130, 121.3830)
HOME_C = Location(31.1100, 121.3840)
FAR_AWAY = Location(31.3000, 121.3800)  # about 21 km north: a whole morning on foot

SHIFT = TimeWindow(8 * 60, 16 * 60 + 30)
LUNCH = TimeWindow(11 * 60 + 30, 13 * 60)
WEEKDAYS_ONLY = frozenset(range(5))


def leg(a: Location, b: Location) -> tuple[int, float]:
    """Minutes and km on foot, as the model defines them."""
    return TRAVEL.leg(a, b, TravelMode.WALK)


def clinician(
    clinician_id: str,
    role: Role,
    *,
    team: str = "T1",
    skills: Sequence[str] = (),
    work_days: frozenset[int] = WEEKDAYS_ONLY,
) -> Clinician:
    return Clinician(
        clinician_id=clinician_id,
        name=f"Name {clinician_id}",
        team_id=team,
        centre_id="C1",
        role=role,
        skills=frozenset(skills),
        travel_mode=TravelMode.WALK,
        work_days=work_days,
        shift=SHIFT,
        lunch=LUNCH,
    )


N1 = clinician("N1", Role.NURSE, skills=("wound", "blood_draw"))
D1 = clinician("D1", Role.DOCTOR, skills=("ecg",))
N2 = clinician("N2", Role.NURSE, team="T2", skills=("wound",))

NURSE = Staffing(frozenset({Role.NURSE}))
DOCTOR_OR_NURSE = Staffing(frozenset({Role.DOCTOR, Role.NURSE}))
DOCTOR = Staffing(frozenset({Role.DOCTOR}))


def visit(
    visit_id: str,
    location: Location,
    *,
    duration: int = 30,
    staffing: tuple[Staffing, ...] = (DOCTOR_OR_NURSE,),
    windows: Sequence[tuple[dt.date, int, int]] = ((MON, 8 * 60, 16 * 60),),
    programme: str = "fu80",
    team: str = "T1",
    preferred: str | None = None,
    sample_return_min: int | None = None,
    urgency: Urgency = Urgency.DUE,
) -> Visit:
    return Visit(
        visit_id=visit_id,
        programme=programme,
        team_id=team,
        centre_id="C1",
        location=location,
        duration_min=duration,
        staffing=staffing,
        windows=tuple(DayWindow(day, start, end) for day, start, end in windows),
        urgency=urgency,
        due_by=MON + dt.timedelta(days=6),
        resident_id=f"R-{visit_id}",
        preferred_clinician_id=preferred,
        sample_return_min=sample_return_min,
    )


def problem(
    visits: Sequence[Visit],
    clinicians: Sequence[Clinician] = (N1, D1, N2),
    **changes: object,
) -> Problem:
    base = Problem(
        week_start=MON,
        centres={"C1": Centre("C1", "Xinzhuang", CENTRE)},
        clinicians=tuple(clinicians),
        visits=tuple(visits),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def route(
    prob: Problem,
    who: Clinician,
    day: dt.date,
    items: Sequence[tuple[Visit, int | None] | tuple[Visit, int | None, bool]],
    *,
    depart: int | None = None,
) -> Route:
    """A route timed by hand: each item is (visit, start or None for on arrival[, via_centre])."""
    t = depart = who.shift.start_min if depart is None else depart
    prev = CENTRE
    stops: list[Stop] = []
    total_min, total_km = 0, 0.0
    for sequence, item in enumerate(items, start=1):
        v, start = item[0], item[1]
        via = len(item) > 2 and bool(item[2])
        if via:
            m1, k1 = leg(prev, CENTRE)
            m2, k2 = leg(CENTRE, v.location)
            minutes, km = m1 + prob.sample_handover_min + m2, k1 + k2
        else:
            minutes, km = leg(prev, v.location)
        arrival = t + minutes
        begin = arrival if start is None else start
        stops.append(
            Stop(v.visit_id, who.clinician_id, day, sequence, arrival, begin,
                 begin + v.duration_min, minutes, km, via)
        )  # fmt: skip
        total_min += minutes
        total_km += km
        t, prev = begin + v.duration_min, v.location
    back_min, back_km = leg(prev, CENTRE)
    back = t + back_min
    return Route(
        clinician_id=who.clinician_id,
        day=day,
        depart_min=depart,
        return_min=back,
        stops=tuple(stops),
        travel_min=total_min + back_min,
        travel_km=round(total_km + back_km, 3),
        work_min=back - depart,
        overtime_min=max(0, back - who.shift.end_min),
    )


def plan(*routes: Route, unscheduled: Sequence[str] = ()) -> Plan:
    return Plan(routes=routes, unscheduled=tuple(Unscheduled(v, "") for v in unscheduled))


def rules(prob: Problem, p: Plan, *, check_missed: bool = True) -> list[str]:
    return [v.rule for v in evaluate(prob, p, TRAVEL, check_missed=check_missed).violations]


def replace_stop(r: Route, index: int, **changes: object) -> Route:
    stops = list(r.stops)
    stops[index] = dataclasses.replace(stops[index], **changes)  # type: ignore[arg-type]
    return dataclasses.replace(r, stops=tuple(stops))


# --------------------------------------------------------------------------------------------
# A correct plan
# --------------------------------------------------------------------------------------------


def test_correct_plan_has_no_violations() -> None:
    """A plan timed leg by leg from the travel model, with a joint visit, passes every rule."""
    v1 = visit("V1", HOME_A, preferred="N1")
    v2 = visit("V2", HOME_B)
    check = visit("V3", HOME_C, duration=45, staffing=(DOCTOR, NURSE), programme="check")
    prob = problem([v1, v2, check])
    nurse = route(prob, N1, MON, [(v1, None), (v2, None), (check, 10 * 60)])
    doctor = route(prob, D1, MON, [(check, 10 * 60)])
    result = evaluate(prob, plan(nurse, doctor), TRAVEL)
    assert result.violations == ()
    assert result.feasible
    assert result.reasons == {}


# --------------------------------------------------------------------------------------------
# Times
# --------------------------------------------------------------------------------------------


def test_visit_outside_its_window_is_reported() -> None:
    """A visit running past the resident's window (09:45-10:15 in 08:00-10:00) is flagged."""
    v1 = visit("V1", HOME_A, windows=[(MON, 8 * 60, 10 * 60)])
    prob = problem([v1])
    result = evaluate(prob, plan(route(prob, N1, MON, [(v1, 9 * 60 + 45)])), TRAVEL)
    assert [v.rule for v in result.violations] == ["window"]
    assert "09:45-10:15" in result.violations[0].message
    assert result.violations[0].visit_id == "V1"


def test_visit_during_lunch_is_reported() -> None:
    """A visit 11:15-11:45 overlaps the 11:30-13:00 lunch break."""
    v1 = visit("V1", HOME_A)
    prob = problem([v1])
    result = evaluate(prob, plan(route(prob, N1, MON, [(v1, 11 * 60 + 15)])), TRAVEL)
    assert [v.rule for v in result.violations] == ["lunch"]
    assert "11:15-11:45" in result.violations[0].message
    assert "11:30-13:00" in result.violations[0].message


def test_travel_during_lunch_is_allowed() -> None:
    """Walking and waiting over lunch is fine; only the visit itself must avoid it."""
    v1 = visit("V1", HOME_A)
    prob = problem([v1])
    r = route(prob, N1, MON, [(v1, 13 * 60)], depart=11 * 60 + 40)
    assert rules(prob, plan(r)) == []


def test_return_after_shift_end_is_reported() -> None:
    """Back at the centre after 16:30 breaks the shift, unless overtime allows it."""
    v1 = visit("V1", HOME_A, windows=[(MON, 8 * 60, 17 * 60)])
    prob = problem([v1])
    r = route(prob, N1, MON, [(v1, 16 * 60 + 10)])
    back = 16 * 60 + 40 + leg(HOME_A, CENTRE)[0]
    result = evaluate(prob, plan(r), TRAVEL)
    assert [v.rule for v in result.violations] == ["shift"]
    assert format_hhmm(back) in result.violations[0].message
    assert r.overtime_min == back - SHIFT.end_min
    overtime_ok = dataclasses.replace(prob, max_overtime_min=30)
    assert rules(overtime_ok, plan(r)) == []


def test_departure_before_shift_is_reported() -> None:
    """Leaving the centre at 07:50 is before an 08:00 shift."""
    v1 = visit("V1", HOME_A)
    prob = problem([v1])
    r = route(prob, N1, MON, [(v1, 9 * 60)], depart=7 * 60 + 50)
    assert rules(prob, plan(r)) == ["shift"]


def test_arrival_faster_than_travel_is_reported() -> None:
    """An arrival 2 minutes earlier than the walk allows is caught, naming the right time."""
    v1, v2 = visit("V1", HOME_A), visit("V2", HOME_C)
    prob = problem([v1, v2])
    r = route(prob, N1, MON, [(v1, 9 * 60), (v2, 11 * 60)])
    expected = 9 * 60 + 30 + leg(HOME_A, HOME_C)[0]
    wrong = replace_stop(r, 1, arrival_min=expected - 2)
    result = evaluate(prob, plan(wrong), TRAVEL)
    assert [v.rule for v in result.violations] == ["travel"]
    assert format_hhmm(expected) in result.violations[0].message
    assert result.violations[0].visit_id == "V2"


def test_wrong_leg_minutes_are_reported() -> None:
    """A stop's travel minutes must be the model's leg, e.g. 6 min not 5."""
    v1 = visit("V1", HOME_A)
    prob = problem([v1])
    r = route(prob, N1, MON, [(v1, None)])
    minutes = leg(CENTRE, HOME_A)[0]
    result = evaluate(prob, plan(replace_stop(r, 0, travel_min=minutes - 1)), TRAVEL)
    assert [v.rule for v in result.violations] == ["travel"]
    assert f"is {minutes} min" in result.violations[0].message


def test_start_before_arrival_is_reported() -> None:
    """A visit cannot start before the clinician is at the door."""
    v1 = visit("V1", HOME_A)
    prob = problem([v1])
    r = route(prob, N1, MON, [(v1, None)])
    arrival = r.stops[0].arrival_min
    early = replace_stop(r, 0, start_min=arrival - 1, end_min=arrival + 29)
    early = dataclasses.replace(early, return_min=r.return_min - 1, work_min=r.work_min - 1)
    result = evaluate(prob, plan(early), TRAVEL)
    assert [v.rule for v in result.violations] == ["times"]
    message = result.violations[0].message
    assert f"starts at {format_hhmm(arrival - 1)}" in message
    assert f"arrives at {format_hhmm(arrival)}" in message


def test_sequence_gap_is_reported() -> None:
    """Stops numbered 1, 3 are not a valid sequence."""
    v1, v2 = visit("V1", HOME_A), visit("V2", HOME_B)
    prob = problem([v1, v2])
    r = route(prob, N1, MON, [(v1, None), (v2, None)])
    assert rules(prob, plan(replace_stop(r, 1, sequence=3))) == ["sequence"]


def test_route_totals_must_add_up() -> None:
    """The route's travel minutes are the sum of its legs including the way back."""
    v1, v2 = visit("V1", HOME_A), visit("V2", HOME_B)
    prob = problem([v1, v2])
    r = route(prob, N1, MON, [(v1, None), (v2, None)])
    total = leg(CENTRE, HOME_A)[0] + leg(HOME_A, HOME_B)[0] + leg(HOME_B, CENTRE)[0]
    assert r.travel_min == total
    result = evaluate(prob, plan(dataclasses.replace(r, travel_min=total + 1)), TRAVEL)
    assert [v.rule for v in result.violations] == ["totals"]
    assert f"add up to {total} min" in result.violations[0].message


# --------------------------------------------------------------------------------------------
# Who
# --------------------------------------------------------------------------------------------


def test_missing_skill_is_reported() -> None:
    """A PICC visit done by a nurse without the picc skill is flagged."""
    picc = visit("V1", HOME_A, staffing=(Staffing(frozenset({Role.NURSE}), frozenset({"picc"})),))
    prob = problem([picc])
    result = evaluate(prob, plan(route(prob, N1, MON, [(picc, None)])), TRAVEL)
    assert [v.rule for v in result.violations] == ["skill"]
    assert "picc" in result.violations[0].message


def test_other_team_needs_cover() -> None:
    """A nurse of team T2 may visit a T1 resident only when cross-team cover is on."""
    v1 = visit("V1", HOME_A)
    prob = problem([v1])
    p = plan(route(prob, N2, MON, [(v1, None)]))
    assert rules(prob, p) == ["team"]
    assert rules(dataclasses.replace(prob, cross_team_cover=True), p) == []


def test_route_on_day_off_is_reported() -> None:
    """A route on Saturday for a clinician who works Monday to Friday is flagged."""
    v1 = visit("V1", HOME_A, windows=[(SAT, 8 * 60, 12 * 60)])
    prob = problem([v1])
    result = evaluate(prob, plan(route(prob, N1, SAT, [(v1, None)])), TRAVEL)
    assert [v.rule for v in result.violations] == ["workday"]
    assert result.violations[0].day == SAT


def test_joint_visit_must_start_together() -> None:
    """Doctor and nurse of a health check starting one minute apart is a joint violation."""
    check = visit("V1", HOME_A, duration=45, staffing=(DOCTOR, NURSE))
    prob = problem([check])
    p = plan(route(prob, D1, MON, [(check, 9 * 60)]), route(prob, N1, MON, [(check, 9 * 60 + 1)]))
    result = evaluate(prob, p, TRAVEL)
    assert [v.rule for v in result.violations] == ["joint"]
    assert "09:00" in result.violations[0].message
    assert "09:01" in result.violations[0].message


def test_joint_visit_needs_every_place_filled() -> None:
    """Two nurses cannot stand in for the doctor of a doctor + nurse visit."""
    check = visit("V1", HOME_A, duration=45, staffing=(DOCTOR, NURSE))
    prob = problem([check], cross_team_cover=True)
    p = plan(route(prob, N1, MON, [(check, 9 * 60)]), route(prob, N2, MON, [(check, 9 * 60)]))
    assert rules(prob, p) == ["skill"]


# --------------------------------------------------------------------------------------------
# Lab samples
# --------------------------------------------------------------------------------------------


def test_sample_back_too_late_is_reported() -> None:
    """A fasting blood sample that only returns with the nurse at the day's end is too late."""
    blood = visit("V1", HOME_A, sample_return_min=60)
    later = visit("V2", HOME_B)
    prob = problem([blood, later])
    r = route(prob, N1, MON, [(blood, None), (later, 9 * 60 + 30)])
    start = 8 * 60 + leg(CENTRE, HOME_A)[0]
    back = 10 * 60 + leg(HOME_B, CENTRE)[0]
    result = evaluate(prob, plan(r), TRAVEL)
    assert [v.rule for v in result.violations] == ["sample"]
    assert f"reaches the centre at {format_hhmm(back)}" in result.violations[0].message
    assert f"later than {format_hhmm(start + 60)}" in result.violations[0].message


def test_sample_dropped_at_centre_in_time() -> None:
    """Passing the centre (with a 5-min hand-over) before the next visit brings it back in time."""
    blood = visit("V1", HOME_A, sample_return_min=60)
    later = visit("V2", HOME_B)
    prob = problem([blood, later])
    r = route(prob, N1, MON, [(blood, None), (later, 9 * 60 + 30, True)])
    via_leg = leg(HOME_A, CENTRE)[0] + 5 + leg(CENTRE, HOME_B)[0]
    assert r.stops[1].travel_min == via_leg
    assert rules(prob, plan(r)) == []


# --------------------------------------------------------------------------------------------
# Accounting
# --------------------------------------------------------------------------------------------


def test_visit_both_scheduled_and_unscheduled_or_neither() -> None:
    """Every due visit is on a route or listed as unscheduled: exactly one of the two."""
    v1, v2 = visit("V1", HOME_A), visit("V2", HOME_B)
    prob = problem([v1, v2])
    p = plan(route(prob, N1, MON, [(v1, None)]), unscheduled=["V1"])
    result = evaluate(prob, p, TRAVEL, check_missed=False)
    assert [(v.rule, v.visit_id) for v in result.violations] == [
        ("accounting", "V1"),
        ("accounting", "V2"),
    ]
    assert "both" in result.violations[0].message
    assert "neither" in result.violations[1].message


def test_stop_of_unknown_visit_is_reported() -> None:
    """A stop naming a visit that is not due this week is an accounting error."""
    v1 = visit("V1", HOME_A)
    prob = problem([v1])
    r = route(prob, N1, MON, [(v1, None)])
    ghost = replace_stop(r, 0, visit_id="V99")
    found = evaluate(prob, plan(ghost, unscheduled=["V1"]), TRAVEL, check_missed=False)
    assert [(v.rule, v.visit_id) for v in found.violations] == [("accounting", "V99")]


def test_two_routes_for_one_clinician_day_are_reported() -> None:
    """A clinician has at most one route a day."""
    v1, v2 = visit("V1", HOME_A), visit("V2", HOME_B, windows=[(MON, 13 * 60, 16 * 60)])
    prob = problem([v1, v2])
    p = plan(route(prob, N1, MON, [(v1, None)]), route(prob, N1, MON, [(v2, 13 * 60)]))
    result = evaluate(prob, p, TRAVEL)
    assert [(v.rule, v.clinician_id, v.day) for v in result.violations] == [
        ("accounting", "N1", MON)
    ]


# --------------------------------------------------------------------------------------------
# Missed visits and insertion
# --------------------------------------------------------------------------------------------


def test_missed_visit_that_still_fits() -> None:
    """An unscheduled wound visit that N1 could add to her Monday is reported as missed."""
    v1 = visit("V1", HOME_A)
    wound = visit("V2", HOME_B, staffing=(Staffing(frozenset({Role.NURSE}), frozenset({"wound"})),))
    prob = problem([v1, wound], clinicians=(N1, D1))
    p = plan(route(prob, N1, MON, [(v1, None)]), unscheduled=["V2"])
    result = evaluate(prob, p, TRAVEL)
    assert [(v.rule, v.visit_id, v.clinician_id, v.day) for v in result.violations] == [
        ("missed", "V2", "N1", MON)
    ]
    assert insertion_options(prob, p, TRAVEL, wound) == [("N1", MON.isoformat())]


def test_no_missed_when_the_only_clinicians_day_is_full() -> None:
    """A visit that cannot fit around N1's long Monday visit is not blamed on the plan."""
    long_one = visit("V1", HOME_A, duration=120, windows=[(MON, 8 * 60, 11 * 60)])
    early = visit(
        "V2",
        HOME_B,
        duration=60,
        windows=[(MON, 8 * 60, 10 * 60)],
        staffing=(Staffing(frozenset({Role.NURSE}), frozenset({"wound"})),),
    )
    prob = problem([long_one, early], clinicians=(N1,))
    p = plan(route(prob, N1, MON, [(long_one, None)]), unscheduled=["V2"])
    assert rules(prob, p) == []
    assert insertion_options(prob, p, TRAVEL, early) == []


def test_sample_visit_inserted_with_a_detour_via_the_centre() -> None:
    """A blood draw fits before a fixed 10:00 visit if the nurse drops the sample on the way."""
    blood = visit("V1", HOME_A, sample_return_min=40, windows=[(MON, 8 * 60, 9 * 60 + 30)])
    fixed = visit("V2", HOME_B, windows=[(MON, 10 * 60, 10 * 60 + 45)], staffing=(NURSE,))
    prob = problem([blood, fixed], clinicians=(N1,))
    p = plan(route(prob, N1, MON, [(fixed, 10 * 60)]), unscheduled=["V1"])
    start = 8 * 60 + leg(CENTRE, HOME_A)[0]
    assert start + 30 + leg(HOME_A, CENTRE)[0] <= start + 40  # dropped in time via the centre
    assert insertion_options(prob, p, TRAVEL, blood) == [("N1", MON.isoformat())]
    # Without the detour the sample would only come back with the nurse at the end.
    strict = dataclasses.replace(blood, sample_return_min=20)
    assert insertion_options(problem([strict, fixed], clinicians=(N1,)), p, TRAVEL, strict) == []


def test_joint_visit_insertion_needs_both_clinicians() -> None:
    """An unscheduled health check fits when the doctor and the nurse are both free."""
    check = visit("V1", HOME_A, duration=45, staffing=(DOCTOR, NURSE))
    prob = problem([check], clinicians=(N1, D1))
    p = plan(unscheduled=["V1"])
    assert insertion_options(prob, p, TRAVEL, check) == [("D1", "N1", MON.isoformat())]
    only_nurse = problem([check], clinicians=(N1,))
    assert insertion_options(only_nurse, p, TRAVEL, check) == []


def test_insertion_keeps_partner_of_joint_visit_in_place() -> None:
    """Inserting before a joint visit must not delay it: its partner's route does not move."""
    check = visit("V1", HOME_A, duration=45, staffing=(DOCTOR, NURSE))
    extra = visit("V2", HOME_C, duration=60, windows=[(MON, 8 * 60, 9 * 60 + 30)])
    prob = problem([check, extra], clinicians=(N1, D1))
    start = 8 * 60 + leg(CENTRE, HOME_A)[0]  # the check starts as early as possible
    p = plan(
        route(prob, D1, MON, [(check, start)]),
        route(prob, N1, MON, [(check, start)]),
        unscheduled=["V2"],
    )
    # After the check (ends 08:51) the 60-min visit would end after its 09:30 window: nowhere.
    assert insertion_options(prob, p, TRAVEL, extra) == []


# --------------------------------------------------------------------------------------------
# Explanations
# --------------------------------------------------------------------------------------------


def _reason(prob: Problem, p: Plan, visit_id: str) -> Reason:
    return explain_unscheduled(prob, p, TRAVEL, [visit_id])[visit_id]


def test_explain_no_one_with_the_skill() -> None:
    """A PICC visit in a team whose nurse lacks picc names the skill in Chinese and English."""
    picc = visit("V1", HOME_A, staffing=(Staffing(frozenset({Role.NURSE}), frozenset({"picc"})),))
    prob = problem([picc])
    p = plan(unscheduled=["V1"])
    assert _reason(prob, p, "V1") == Reason(
        "no nurse of team T1 has skill picc (PICC care) (1 visit of team T1 this week needs one)",
        "T1团队没有具备 PICC 维护 picc 技能的护士（本周T1团队有 1 次访视需要）",
    )
    covered = dataclasses.replace(prob, cross_team_cover=True)
    assert _reason(covered, p, "V1").en.startswith(
        "no nurse of centre Xinzhuang has skill picc (PICC care)"
    )


def test_explain_no_second_clinician_for_a_joint_visit() -> None:
    """A visit needing two doctors cannot be done by a team with one doctor."""
    pair = visit("V1", HOME_A, staffing=(DOCTOR, DOCTOR))
    prob = problem([pair])
    assert _reason(prob, plan(unscheduled=["V1"]), "V1") == Reason(
        "team T1 has no 2 different clinicians to go together as a doctor and a doctor",
        "T1团队没有 2 名不同的人员可同时担任医生和医生",
    )


def test_explain_nobody_works_when_the_visit_can_be_done() -> None:
    """A visit possible only on Saturday morning cannot be done by a weekday team.

    Built by hand, the visit carries no register facts, so the reason quotes its windows and
    does not pretend they are the resident's availability.
    """
    v1 = visit("V1", HOME_A, windows=[(SAT, 9 * 60, 11 * 60)])
    prob = problem([v1])
    assert _reason(prob, plan(unscheduled=["V1"]), "V1") == Reason(
        "it can only be done Sat 09:00-11:00, and nobody of team T1 who may do it works then "
        "(shift without lunch)",
        "只能在周六 09:00-11:00 进行，T1团队能做此项服务的人员这些时间都不上班（除午休）",
    )


def test_explain_lunch_time_only_window() -> None:
    """A window that lies inside everyone's lunch break counts as nobody working then."""
    v1 = visit("V1", HOME_A, windows=[(MON, 11 * 60 + 30, 13 * 60), (TUE, 11 * 60 + 30, 13 * 60)])
    prob = problem([v1])
    reason = _reason(prob, plan(unscheduled=["V1"]), "V1")
    assert reason.en.startswith("it can only be done Mon, Tue 11:30-13:00, and nobody")


def test_explain_too_far() -> None:
    """A home 6 hours away on foot does not fit in an 8.5-hour day: the trip is named."""
    v1 = visit("V1", FAR_AWAY)
    prob = problem([v1])
    out, back = leg(CENTRE, FAR_AWAY)[0], leg(FAR_AWAY, CENTRE)[0]
    assert out == back
    assert _reason(prob, plan(unscheduled=["V1"]), "V1") == Reason(
        f"too far to fit in a working day: {out} min each way from the centre",
        f"路程太远，一个工作日内排不下：离中心单程 {out} 分钟",
    )


def test_explain_sample_cannot_be_back() -> None:
    """A 30-min blood draw whose sample must be at the lab 30 min after the start cannot be."""
    blood = visit("V1", HOME_A, sample_return_min=30)
    prob = problem([blood])
    back = leg(HOME_A, CENTRE)[0]
    reason = _reason(prob, plan(unscheduled=["V1"]), "V1")
    assert reason.en == (
        "the lab sample cannot reach the centre within 30 min of the start: the visit takes "
        f"30 min and the way back {back} min"
    )
    assert reason.zh.startswith("化验样本无法在开始后 30 分钟内送回中心")


def test_explain_capacity() -> None:
    """When the only nurse's Monday morning is taken, the reason compares like with like.

    The visit may only run 08:00-10:00; the nurse is out 08:00-10:12 with a 2-hour visit, so she
    is busy all of the 2.0 h she works inside those times (not "2.2 h of 7.0 h" for the day).
    """
    long_one = visit("V1", HOME_A, duration=120, windows=[(MON, 8 * 60, 11 * 60)])
    early = visit("V2", HOME_B, duration=60, windows=[(MON, 8 * 60, 10 * 60)], staffing=(NURSE,))
    prob = problem([long_one, early], clinicians=(N1,))
    r = route(prob, N1, MON, [(long_one, None)])
    assert r.return_min > 10 * 60
    assert _reason(prob, plan(r, unscheduled=["V2"]), "V2") == Reason(
        "full: the clinicians of team T1 who may do it are busy 2.0 h of the 2.0 h they work "
        "within the visit's times Mon 08:00-10:00",
        "已排满：T1团队能做此项服务的人员（访视只能在周一 08:00-10:00）"
        "已排 2.0 小时（共 2.0 小时）",
    )


def test_explain_capacity_leaves_lunch_out_of_both_sides() -> None:
    """A nurse out 08:00-16:xx with lunch 11:30-13:00 is busy for the day less lunch, compared
    with her 7.0 h of work (8.5 h shift less lunch): never "8.1 h planned of 7.0 h"."""
    morning = visit("V1", HOME_A, duration=180)
    afternoon = visit("V2", HOME_B, duration=180)
    more = visit("V3", HOME_C, staffing=(NURSE,), windows=[(MON, 8 * 60, 17 * 60)])
    prob = problem([morning, afternoon, more], clinicians=(N1,))
    r = route(prob, N1, MON, [(morning, None), (afternoon, 13 * 60)])
    busy = (LUNCH.start_min - r.depart_min) + (r.return_min - LUNCH.end_min)
    assert r.return_min - r.depart_min > 7 * 60  # the old count, lunch included, says 8.1 h
    assert _reason(prob, plan(r, unscheduled=["V3"]), "V3") == Reason(
        f"full: the clinicians of team T1 who may do it are busy {busy / 60:.1f} h of the 7.0 h "
        "they work on the visit's days (lunch excluded on both sides); up to 60 min of overtime "
        "would place it (Name N1 (N1) on Mon 2024-06-03)",
        f"已排满：T1团队能做此项服务的人员（访视可做的日子，均不含午休）已排 {busy / 60:.1f} 小时"
        "（共 7.0 小时）；允许加班至多 60 分钟即可排入（2024-06-03（周一）由 Name N1 上门）",
    )


def test_explain_capacity_names_the_health_check_hours() -> None:
    """A health check may only run 07:30-10:30: the hours compared are those inside it, and the
    reason names the programme's window as the limit that binds."""
    basis = DueBasis(
        rule_en="no visit on record · yearly · year ends 12-31",
        rule_zh="无服务记录 · 每年度一次 · 本年度截止 12-31",
        earliest=MON,
        time_limit=TimeWindow(7 * 60 + 30, 10 * 60 + 30),
        time_limit_en="annual health check (fasting blood) hours",
        time_limit_zh="年度健康体检（空腹采血）时段",
    )
    long_one = visit("V1", HOME_A, duration=150, windows=[(MON, 8 * 60, 11 * 60)])
    check = dataclasses.replace(
        visit("V2", HOME_B, duration=45, windows=[(MON, 7 * 60 + 30, 10 * 60 + 30)]),
        staffing=(NURSE,),
        basis=basis,
    )
    prob = problem([long_one, check], clinicians=(N1,))
    r = route(prob, N1, MON, [(long_one, None)])
    assert r.return_min > 10 * 60 + 30
    reason = _reason(prob, plan(r, unscheduled=["V2"]), "V2")
    assert reason.en.startswith(
        "full: the clinicians of team T1 who may do it are busy 2.5 h of the 2.5 h they work "
        "within the visit's times Mon 07:30-10:30 (annual health check (fasting blood) hours "
        "07:30-10:30)"
    )
    assert "年度健康体检（空腹采血）时段 07:30-10:30" in reason.zh


def test_explain_still_fits() -> None:
    """A visit left out although it fits is explained as such, not blamed on capacity."""
    v1 = visit("V1", HOME_A)
    prob = problem([v1], clinicians=(N1,))
    reason = _reason(prob, plan(unscheduled=["V1"]), "V1")
    assert reason.en == (
        "it still fits (for example with Name N1 (N1) on Mon 2024-06-03) but the plan leaves it out"
    )


def test_evaluate_explains_every_unscheduled_visit() -> None:
    """The evaluation carries a reason for each visit that is not on a route."""
    picc = visit("V1", HOME_A, staffing=(Staffing(frozenset({Role.NURSE}), frozenset({"picc"})),))
    prob = problem([picc])
    result = evaluate(prob, plan(unscheduled=["V1"]), TRAVEL)
    assert result.feasible
    assert list(result.reasons) == ["V1"]


# --------------------------------------------------------------------------------------------
# KPIs
# --------------------------------------------------------------------------------------------


def test_kpis_count_continuity_and_totals() -> None:
    """Continuity counts visits done by their preferred clinician; totals sum the routes."""
    v1 = visit("V1", HOME_A, preferred="N1")
    v2 = visit("V2", HOME_B, preferred="D1", programme="sickbed")
    v3 = visit("V3", HOME_C)
    check = visit(
        "V4", HOME_C, duration=45, staffing=(DOCTOR, NURSE), programme="check",
        urgency=Urgency.OVERDUE, windows=[(TUE, 8 * 60, 12 * 60)],
    )  # fmt: skip
    lost = visit("V5", FAR_AWAY, urgency=Urgency.OPTIONAL)
    prob = problem([v1, v2, v3, check, lost])
    r1 = route(prob, N1, MON, [(v1, None), (v2, None), (v3, None)])
    r2 = route(prob, N1, TUE, [(check, 9 * 60)])
    r3 = route(prob, D1, TUE, [(check, 9 * 60)])
    p = dataclasses.replace(plan(r1, r2, r3, unscheduled=["V5"]), solve_seconds=1.5)
    assert rules(prob, p) == []
    kpis = compute_kpis(prob, p)
    routes = (r1, r2, r3)
    assert kpis["visits_due"] == 5
    assert kpis["visits_scheduled"] == 4
    assert kpis["visits_unscheduled"] == 0  # the one left out is optional: no alarm
    assert kpis["visits_optional_not_placed"] == 1
    assert kpis["visits_not_due_this_week"] == 0
    assert kpis["continuity_rate"] == 0.5  # V1 by N1 yes, V2 by N1 instead of D1 no
    assert kpis["travel_min_total"] == sum(r.travel_min for r in routes)
    assert kpis["travel_km_total"] == round(sum(r.travel_km for r in routes), 1)
    assert kpis["overtime_min_total"] == 0
    assert kpis["solve_seconds"] == 1.5
    assert kpis["visit_min_total"] == 30 * 3 + 45 * 2
    assert kpis["work_min_total"] == sum(r.work_min for r in routes)
    assert kpis["routes"] == 3
    assert kpis["clinicians_used"] == 2
    assert kpis["joint_visits_scheduled"] == 1
    assert kpis["by_programme"] == {
        "check": {"due": 1, "scheduled": 1},
        "fu80": {"due": 3, "scheduled": 2},
        "sickbed": {"due": 1, "scheduled": 1},
    }
    assert kpis["by_urgency"] == {
        "optional": {"due": 1, "scheduled": 0},
        "due": {"due": 3, "scheduled": 3},
        "overdue": {"due": 1, "scheduled": 1},
    }
    available = 3 * 5 * (8.5 - 1.5) * 60  # three clinicians, five days, 7 h a day
    assert kpis["utilisation"] == round(kpis["work_min_total"] / available, 3)
    n1_h = (r1.work_min + r2.work_min) / 60
    workload = kpis["workload"]
    assert isinstance(workload, dict)
    assert workload["max_h"] == round(n1_h, 2)
    assert workload["min_h"] == 0.0
    assert workload["mean_h"] == pytest.approx(round((n1_h + r3.work_min / 60) / 3, 2))


def test_continuity_is_none_without_preferences() -> None:
    """With no preferred clinician anywhere there is no continuity rate to report."""
    v1 = visit("V1", HOME_A)
    prob = problem([v1])
    assert compute_kpis(prob, plan(route(prob, N1, MON, [(v1, None)])))["continuity_rate"] is None


# --------------------------------------------------------------------------------------------
# Branches of the rule functions the tests above do not reach
# --------------------------------------------------------------------------------------------


def test_route_outside_the_planned_week_is_reported() -> None:
    """A route dated the Monday after the planned week is a workday violation naming that day."""
    v1 = visit("V1", HOME_A)
    prob = problem([v1])
    next_monday = MON + dt.timedelta(days=7)
    r = route(prob, N1, next_monday, [(v1, 9 * 60)])
    result = evaluate(prob, plan(r), TRAVEL, check_missed=False)
    assert [v.rule for v in result.violations if v.rule == "workday"] == ["workday"]
    assert "outside the planned week" in result.violations[0].message


def test_joint_visit_on_two_days_is_reported() -> None:
    """Doctor on Monday and nurse on Tuesday for one health check is a joint violation."""
    days = [(MON, 8 * 60, 16 * 60), (TUE, 8 * 60, 16 * 60)]
    check = visit("V1", HOME_A, duration=45, staffing=(DOCTOR, NURSE), windows=days)
    prob = problem([check])
    p = plan(route(prob, D1, MON, [(check, 9 * 60)]), route(prob, N1, TUE, [(check, 9 * 60)]))
    result = evaluate(prob, p, TRAVEL)
    assert [v.rule for v in result.violations] == ["joint"]
    assert "different days" in result.violations[0].message


def test_joint_visit_by_one_clinician_twice_is_one_joint_violation() -> None:
    """The same nurse on both stops of a joint visit is reported once, as joint (not skill too)."""
    check = visit("V1", HOME_A, duration=45, staffing=(DOCTOR, NURSE))
    prob = problem([check])
    r = route(prob, N1, MON, [(check, 9 * 60)])
    p = plan(r, r)
    assert [v for v in rules(prob, p) if v != "accounting"] == ["joint"]


def test_wrong_end_and_return_times_are_reported() -> None:
    """A stop shown ending 5 min late, and the route's return that ignores it: two times errors."""
    v1 = visit("V1", HOME_A)
    prob = problem([v1])
    r = route(prob, N1, MON, [(v1, 9 * 60)])
    wrong = replace_stop(r, 0, end_min=9 * 60 + 35)
    result = evaluate(prob, plan(wrong), TRAVEL)
    assert [v.rule for v in result.violations] == ["times", "times"]
    assert "so it ends at 09:30" in result.violations[0].message
    back = 9 * 60 + 35 + leg(HOME_A, CENTRE)[0]
    assert f"so it is back at {format_hhmm(back)}" in result.violations[1].message


def test_work_and_overtime_totals_must_add_up() -> None:
    """A route's work minutes are return - depart and its overtime what runs past the shift."""
    v1 = visit("V1", HOME_A)
    prob = problem([v1])
    r = route(prob, N1, MON, [(v1, 9 * 60)])
    wrong = dataclasses.replace(r, work_min=r.work_min + 1, overtime_min=10)
    result = evaluate(prob, plan(wrong), TRAVEL)
    assert [v.rule for v in result.violations] == ["totals", "totals"]
    assert f"is {r.work_min} min" in result.violations[0].message
    assert "is 0 min" in result.violations[1].message


def test_route_of_a_clinician_whose_centre_is_unknown_cannot_be_timed() -> None:
    """A clinician signed to a centre the problem does not have: accounting, and no timing."""
    v1 = visit("V1", HOME_A)
    elsewhere = dataclasses.replace(N1, centre_id="C9")
    prob = problem([v1], clinicians=(elsewhere,))
    result = evaluate(prob, plan(route(prob, elsewhere, MON, [(v1, 9 * 60)])), TRAVEL)
    assert [v.rule for v in result.violations] == ["accounting"]
    assert "centre C9 is not among the problem's centres" in result.violations[0].message
