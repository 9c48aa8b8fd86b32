"""The one place where domain objects (:mod:`scheduler.model`) and table rows meet.

Rows travel as plain ``dict``s keyed by column name (what SQLAlchemy's bulk ``insert``/``update``
take and what ``select(table).mappings()`` gives back), so an import of 40,000 residents never
builds 40,000 ORM objects. Sets are stored as canonical text (the dataset's own spelling, sorted
or in weekday order), so that a value written out and read back in is equal to the one stored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from scheduler.dataset.values import (
    format_availability,
    format_weekdays,
    format_words,
    parse_availability,
    parse_weekdays,
)
from scheduler.evaluate import left_out_kind
from scheduler.model import (
    Centre,
    Clinician,
    Committee,
    Disability,
    HistoryRecord,
    Location,
    Place,
    Plan,
    Problem,
    Resident,
    Role,
    Route,
    ServiceRequest,
    SickbedEpisode,
    Stop,
    TimeWindow,
    TravelMode,
    Unscheduled,
    Visit,
    VisitOutcome,
    format_tests,
)
from scheduler.programmes import Programme, recorded_place_and_tests

__all__ = [
    "Row",
    "centre_from_row",
    "centre_row",
    "clinician_from_row",
    "clinician_row",
    "committee_from_row",
    "committee_row",
    "history_from_values",
    "history_row",
    "plan_from_rows",
    "plan_rows",
    "request_from_row",
    "request_row",
    "resident_from_row",
    "resident_row",
    "sickbed_from_row",
    "sickbed_row",
]

Row = dict[str, Any]
"""A table row as column name -> value."""


# --- canonical text of sets ------------------------------------------------------------------


def _words(text: str) -> frozenset[str]:
    return frozenset(w for w in text.split(";") if w)


# --- registers -------------------------------------------------------------------------------


def centre_row(centre: Centre) -> Row:
    """The ``centre`` row of a centre (active: it is in the register being imported)."""
    return {
        "centre_id": centre.centre_id,
        "name": centre.name,
        "lat": centre.location.lat,
        "lon": centre.location.lon,
        "district": centre.district,
        "active": True,
    }


def centre_from_row(row: Mapping[Any, Any]) -> Centre:
    """The centre of a ``centre`` row."""
    return Centre(row["centre_id"], row["name"], Location(row["lat"], row["lon"]), row["district"])


def committee_row(committee: Committee) -> Row:
    """The ``committee`` row of a residents' committee."""
    return {
        "committee_id": committee.committee_id,
        "centre_id": committee.centre_id,
        "name": committee.name,
        "lat": committee.location.lat,
        "lon": committee.location.lon,
        "active": True,
    }


def committee_from_row(row: Mapping[Any, Any]) -> Committee:
    """The committee of a ``committee`` row."""
    return Committee(
        row["committee_id"], row["centre_id"], row["name"], Location(row["lat"], row["lon"])
    )


def clinician_row(clinician: Clinician) -> Row:
    """The ``clinician`` row of a clinician."""
    lunch = clinician.lunch
    return {
        "clinician_id": clinician.clinician_id,
        "name": clinician.name,
        "team_id": clinician.team_id,
        "centre_id": clinician.centre_id,
        "role": clinician.role.value,
        "skills": format_words(clinician.skills),
        "travel_mode": clinician.travel_mode.value,
        "work_days": format_weekdays(clinician.work_days),
        "shift_start_min": clinician.shift.start_min,
        "shift_end_min": clinician.shift.end_min,
        "lunch_start_min": lunch.start_min if lunch else None,
        "lunch_end_min": lunch.end_min if lunch else None,
        "phone": clinician.phone,
        "active": True,
    }


def clinician_from_row(row: Mapping[Any, Any]) -> Clinician:
    """The clinician of a ``clinician`` row."""
    lunch = (
        TimeWindow(row["lunch_start_min"], row["lunch_end_min"])
        if row["lunch_start_min"] is not None and row["lunch_end_min"] is not None
        else None
    )
    return Clinician(
        clinician_id=row["clinician_id"],
        name=row["name"],
        team_id=row["team_id"],
        centre_id=row["centre_id"],
        role=Role(row["role"]),
        skills=_words(row["skills"]),
        travel_mode=TravelMode(row["travel_mode"]),
        work_days=parse_weekdays(row["work_days"]),
        shift=TimeWindow(row["shift_start_min"], row["shift_end_min"]),
        lunch=lunch,
        phone=row["phone"],
    )


def resident_row(resident: Resident, centre_id: str) -> Row:
    """The ``resident`` row of a resident whose team works at ``centre_id``."""
    return {
        "resident_id": resident.resident_id,
        "name": resident.name,
        "birth_date": resident.birth_date,
        "lat": resident.location.lat,
        "lon": resident.location.lon,
        "committee_id": resident.committee_id,
        "team_id": resident.team_id,
        "centre_id": centre_id,
        "preferred_clinician_id": resident.preferred_clinician_id,
        "disability": resident.disability.value,
        "hypertension": resident.hypertension,
        "diabetes": resident.diabetes,
        "home_sickbed": resident.home_sickbed,
        "homebound": resident.homebound,
        "availability": format_availability(resident.availability),
        "conditions": format_words(resident.conditions),
        "address": resident.address,
        "phone": resident.phone,
        "sex": resident.sex,
        "active": True,
        "signed": resident.signed,
        "signed_since": resident.signed_since,
    }


def resident_from_row(row: Mapping[Any, Any]) -> Resident:
    """The resident of a ``resident`` row that has coordinates."""
    if row["lat"] is None or row["lon"] is None:
        raise ValueError(f"resident {row['resident_id']} has no coordinates yet")
    return Resident(
        resident_id=row["resident_id"],
        name=row["name"],
        birth_date=row["birth_date"],
        location=Location(row["lat"], row["lon"]),
        committee_id=row["committee_id"],
        team_id=row["team_id"],
        preferred_clinician_id=row["preferred_clinician_id"],
        disability=Disability(row["disability"]),
        hypertension=row["hypertension"],
        diabetes=row["diabetes"],
        home_sickbed=row["home_sickbed"],
        homebound=row["homebound"],
        availability=parse_availability(row["availability"]),
        conditions=_words(row["conditions"]),
        address=row["address"],
        phone=row["phone"],
        sex=row["sex"],
        signed=row["signed"],
        signed_since=row["signed_since"],
    )


def request_row(request: ServiceRequest) -> Row:
    """The ``service_request`` row of an on-demand request."""
    return {
        "request_id": request.request_id,
        "resident_id": request.resident_id,
        "service": request.service,
        "earliest_date": request.earliest_date,
        "latest_date": request.latest_date,
        "window_start_min": request.window.start_min,
        "window_end_min": request.window.end_min,
        "duration_min": request.duration_min,
        "skills": format_words(request.skills),
        "after_request_id": request.after_request_id,
        "min_gap_min": request.min_gap_min,
        "max_gap_min": request.max_gap_min,
    }


def request_from_row(row: Mapping[Any, Any]) -> ServiceRequest:
    """The request of a ``service_request`` row."""
    return ServiceRequest(
        request_id=row["request_id"],
        resident_id=row["resident_id"],
        service=row["service"],
        earliest_date=row["earliest_date"],
        latest_date=row["latest_date"],
        window=TimeWindow(row["window_start_min"], row["window_end_min"]),
        duration_min=row["duration_min"],
        skills=_words(row["skills"]),
        after_request_id=row["after_request_id"],
        min_gap_min=row["min_gap_min"],
        max_gap_min=row["max_gap_min"],
    )


def history_row(record: HistoryRecord, programme: Programme | None) -> Row:
    """A ``visit_record`` row for a line of ``history.csv`` (an imported visit).

    The place and a health check's tests, when the line omits them, are ``programme``'s; the
    resident's flags the line gives are kept (those it omits are filled from the register by
    :func:`service.db.records.fill_flags`).
    """
    place, tests = recorded_place_and_tests(programme, record.place, record.tests, record.outcome)
    return {
        "resident_id": record.resident_id,
        "programme": record.programme,
        "visit_date": record.date,
        "outcome": record.outcome.value,
        "source": "import",
        "tests": format_tests(tests),
        "place": place.value,
        "disability": record.disability.value if record.disability else None,
        "hypertension": record.hypertension,
        "diabetes": record.diabetes,
    }


_OUTCOMES = {o.value: o for o in VisitOutcome}
_PLACES = {p.value: p for p in Place}
_DISABILITIES = {d.value: d for d in Disability}
_NO_TESTS: frozenset[str] = frozenset()


def history_from_values(
    resident_id: str,
    programme: str,
    date: dt.date,
    outcome: str,
    tests: str,
    place: str,
    disability: str | None = None,
    hypertension: bool | None = None,
    diabetes: bool | None = None,
) -> HistoryRecord:
    """The history record of a ``visit_record`` row's values, in the table's order.

    Dictionary look-ups instead of enum calls: a district's year is 200,000 rows.
    """
    return HistoryRecord(
        resident_id,
        programme,
        date,
        outcome=_OUTCOMES[outcome],
        tests=_words(tests) if tests else _NO_TESTS,
        place=_PLACES.get(place),
        disability=_DISABILITIES.get(disability) if disability else None,
        hypertension=hypertension,
        diabetes=diabetes,
    )


def sickbed_row(episode: SickbedEpisode) -> Row:
    """The ``sickbed_episode`` row of an imported episode (the disability of a discharge the
    file does not give is the register's, :func:`service.db.records.fill_flags`)."""
    return {
        "resident_id": episode.resident_id,
        "opened": episode.opened,
        "discharged": episode.discharged,
        "source": "import",
        "disability": episode.disability.value if episode.disability else None,
    }


def sickbed_from_row(row: Mapping[Any, Any]) -> SickbedEpisode:
    """The episode of a ``sickbed_episode`` row."""
    disability = row["disability"] if row["discharged"] is not None else None
    return SickbedEpisode(
        row["resident_id"],
        row["opened"],
        row["discharged"],
        _DISABILITIES.get(disability) if disability else None,
    )


# --- plans -----------------------------------------------------------------------------------


def plan_rows(problem: Problem, plan: Plan, plan_id: int) -> tuple[list[Row], list[Row], list[Row]]:
    """The ``plan_route``, ``plan_stop`` and ``plan_unscheduled`` rows of a plan."""
    visits = {v.visit_id: v for v in problem.visits}
    routes: list[Row] = []
    stops: list[Row] = []
    for route in plan.routes:
        routes.append(
            {
                "plan_id": plan_id,
                "clinician_id": route.clinician_id,
                "route_date": route.day,
                "depart_min": route.depart_min,
                "return_min": route.return_min,
                "travel_min": route.travel_min,
                "travel_km": route.travel_km,
                "work_min": route.work_min,
                "overtime_min": route.overtime_min,
            }
        )
        for stop in route.stops:
            visit = visits[stop.visit_id]
            stops.append(
                {
                    "plan_id": plan_id,
                    "visit_id": stop.visit_id,
                    "resident_id": visit.resident_id,
                    "committee_id": visit.committee_id,
                    "programme": visit.programme,
                    "clinician_id": stop.clinician_id,
                    "visit_date": stop.day,
                    "sequence": stop.sequence,
                    "arrival_min": stop.arrival_min,
                    "start_min": stop.start_min,
                    "end_min": stop.end_min,
                    "travel_min": stop.travel_min,
                    "travel_km": stop.travel_km,
                    "via_centre": stop.via_centre,
                    "due_by": visit.due_by,
                    **_why_due(visit),
                }
            )
    unscheduled: list[Row] = []
    for left in plan.unscheduled:
        visit = visits[left.visit_id]
        unscheduled.append(
            {
                "plan_id": plan_id,
                "visit_id": left.visit_id,
                "resident_id": visit.resident_id,
                "committee_id": visit.committee_id,
                "programme": visit.programme,
                "due_by": visit.due_by,
                "reason": left.reason,
                "reason_zh": left.reason_zh,
                "kind": left_out_kind(problem, visit).value,
                **_why_due(visit),
            }
        )
    return routes, stops, unscheduled


def _why_due(visit: Visit) -> Row:
    """The urgency, last visit and rule of a visit, as stored with a plan."""
    basis = visit.basis
    return {
        "urgency": visit.urgency.name.lower(),
        "last_visit": basis.last_visit if basis else None,
        "rule_zh": basis.rule_zh if basis else "",
        "rule_en": basis.rule_en if basis else "",
    }


def plan_from_rows(
    plan: Mapping[Any, Any],
    routes: Iterable[Mapping[Any, Any]],
    stops: Iterable[Mapping[Any, Any]],
    unscheduled: Iterable[Mapping[Any, Any]],
) -> Plan:
    """The plan stored in a ``plan`` row and its routes, stops and unscheduled visits."""
    by_route: dict[tuple[str, dt.date], list[Stop]] = {}
    for s in stops:
        by_route.setdefault((s["clinician_id"], s["visit_date"]), []).append(
            Stop(
                s["visit_id"],
                s["clinician_id"],
                s["visit_date"],
                s["sequence"],
                s["arrival_min"],
                s["start_min"],
                s["end_min"],
                s["travel_min"],
                s["travel_km"],
                s["via_centre"],
            )
        )
    return Plan(
        routes=tuple(
            Route(
                r["clinician_id"],
                r["route_date"],
                r["depart_min"],
                r["return_min"],
                tuple(
                    sorted(
                        by_route.get((r["clinician_id"], r["route_date"]), []),
                        key=lambda stop: stop.sequence,
                    )
                ),
                r["travel_min"],
                r["travel_km"],
                r["work_min"],
                r["overtime_min"],
            )
            for r in routes
        ),
        unscheduled=tuple(
            Unscheduled(u["visit_id"], u["reason"], u.get("reason_zh") or "") for u in unscheduled
        ),
        solve_seconds=plan["solve_seconds"],
        objective=plan["objective"],
        status=plan["solver_status"],
    )
