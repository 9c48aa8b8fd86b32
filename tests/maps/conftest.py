"""A tiny hand-made week and plan for the map tests (nothing is solved)."""

from __future__ import annotations

import datetime as dt

import pytest

from scheduler.evaluate import Reason
from scheduler.model import (
    Centre,
    Clinician,
    Committee,
    Dataset,
    DayWindow,
    Location,
    Plan,
    Problem,
    Resident,
    Role,
    Route,
    Staffing,
    Stop,
    TimeWindow,
    TravelMode,
    Unscheduled,
    Urgency,
    Visit,
)

WEEK = dt.date(2026, 11, 30)
MONDAY, TUESDAY = WEEK, WEEK + dt.timedelta(days=1)
CENTRE = Location(31.1500, 121.4000)

NAMES = {"R1": "王秀英", "R2": "李娜", "R3": "欧阳春花", "R4": "张建国"}


def _clinician(clinician_id: str, name: str, role: Role) -> Clinician:
    return Clinician(
        clinician_id,
        name,
        "T1",
        "C1",
        role,
        frozenset(),
        TravelMode.EBIKE,
        frozenset(range(5)),
        TimeWindow(8 * 60, 16 * 60 + 30),
        TimeWindow(11 * 60 + 30, 12 * 60 + 30),
    )


def _resident(resident_id: str, north_m: float, east_m: float) -> Resident:
    return Resident(
        resident_id=resident_id,
        name=NAMES[resident_id],
        birth_date=dt.date(1940, 6, 1),
        location=Location(CENTRE.lat + north_m / 111_000, CENTRE.lon + east_m / 95_000),
        committee_id="K1",
        team_id="T1",
        address=f"古美路{resident_id[1:]}号",
        phone=f"1380000000{resident_id[1:]}",
    )


def _visit(visit_id: str, resident: Resident, programme: str, duration: int) -> Visit:
    return Visit(
        visit_id=visit_id,
        programme=programme,
        team_id="T1",
        centre_id="C1",
        location=resident.location,
        duration_min=duration,
        staffing=(Staffing(frozenset({Role.DOCTOR, Role.NURSE})),),
        windows=(DayWindow(MONDAY, 8 * 60, 17 * 60), DayWindow(TUESDAY, 8 * 60, 17 * 60)),
        urgency=Urgency.DUE,
        due_by=WEEK + dt.timedelta(days=6),
        resident_id=resident.resident_id,
    )


@pytest.fixture(scope="session")
def dataset() -> Dataset:
    """Centre C1, team T1 (doctor D1, nurse N1) and four residents around the centre."""
    residents = {
        r.resident_id: r
        for r in (
            _resident("R1", 400, 100),
            _resident("R2", 600, 500),
            _resident("R3", -300, 700),
            _resident("R4", -500, -400),
        )
    }
    return Dataset(
        centres={"C1": Centre("C1", "古美社区卫生服务中心", CENTRE)},
        committees={"K1": Committee("K1", "C1", "古美一村", CENTRE)},
        clinicians={
            c.clinician_id: c
            for c in (
                _clinician("D1", "陈医生", Role.DOCTOR),
                _clinician("N1", "刘护士", Role.NURSE),
            )
        },
        residents=residents,
    )


@pytest.fixture(scope="session")
def problem(dataset: Dataset) -> Problem:
    """Four visits of team T1 in the reference week."""
    r = dataset.residents
    return Problem(
        week_start=WEEK,
        centres=dataset.centres,
        clinicians=tuple(dataset.clinicians.values()),
        visits=(
            _visit("V1", r["R1"], "followup_80", 30),
            _visit("V2", r["R2"], "medicine_home", 15),
            _visit("V3", r["R3"], "followup_80", 30),
            _visit("V4", r["R4"], "followup_80", 30),
        ),
    )


def _stop(visit_id: str, clinician_id: str, day: dt.date, seq: int, start: int, dur: int) -> Stop:
    return Stop(visit_id, clinician_id, day, seq, start, start, start + dur, 6, 0.8)


@pytest.fixture(scope="session")
def plan() -> Plan:
    """N1 visits V2, V1, V3 on Monday (in that order), D1 visits nothing; V4 is left out."""
    stops = (
        _stop("V2", "N1", MONDAY, 0, 8 * 60 + 10, 15),
        _stop("V1", "N1", MONDAY, 1, 8 * 60 + 35, 30),
        _stop("V3", "N1", MONDAY, 2, 9 * 60 + 20, 30),
    )
    route = Route("N1", MONDAY, 8 * 60, 10 * 60, stops, 30, 3.2, 120, 0)
    return Plan(routes=(route,), unscheduled=(Unscheduled("V4", "no clinician free"),))


@pytest.fixture(scope="session")
def reasons() -> dict[str, Reason]:
    """Why V4 is left out."""
    return {
        "V4": Reason(en="Every clinician of T1 is full on Mon-Fri", zh="T1 团队周一至周五已排满")
    }


@pytest.fixture(scope="session")
def replan() -> Plan:
    """A second plan against :func:`plan`: V3 dropped, V1 moved to D1 on Tuesday, V4 added.

    N1 keeps V2 at the same time on Monday (not a change) and now also visits V4 after it.
    """
    monday = (
        _stop("V2", "N1", MONDAY, 0, 8 * 60 + 10, 15),
        _stop("V4", "N1", MONDAY, 1, 8 * 60 + 50, 30),
    )
    tuesday = (_stop("V1", "D1", TUESDAY, 0, 9 * 60, 30),)
    return Plan(
        routes=(
            Route("N1", MONDAY, 8 * 60, 9 * 60 + 40, monday, 24, 2.9, 100, 0),
            Route("D1", TUESDAY, 8 * 60 + 45, 9 * 60 + 45, tuesday, 20, 1.4, 60, 0),
        ),
        unscheduled=(Unscheduled("V3", "no clinician free on Mon-Fri"),),
    )
