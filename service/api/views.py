"""Reading stored plans for the API and the pages: routes with their residents, and the week's
problem a stored plan was made for (for map pages and checks)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from maps.base import mask_name
from scheduler.model import Problem, Resident, format_hhmm
from scheduler.programmes import builtin_programmes
from scheduler.solve import build_problem
from service.api.cache import ReadCache
from service.api.models import RouteStop, RouteView
from service.db.exporter import load_dataset
from service.db.tables import (
    ClinicianRow,
    PlanRouteRow,
    PlanRow,
    PlanStopRow,
    PlanUnscheduledRow,
    ResidentRow,
)

__all__ = [
    "RouteStop",
    "RouteView",
    "day_route_residents",
    "plan_problem",
    "residents_on_maps",
    "route_view",
    "team_in_centre",
]


def route_view(
    session: Session, plan: PlanRow, clinician_id: str, day: dt.date, *, full_names: bool
) -> RouteView:
    """The stored route of ``clinician_id`` on ``day`` (an empty day if she has no stops)."""
    route = session.scalar(
        select(PlanRouteRow).where(
            PlanRouteRow.plan_id == plan.plan_id,
            PlanRouteRow.clinician_id == clinician_id,
            PlanRouteRow.route_date == day,
        )
    )
    stops = session.scalars(
        select(PlanStopRow)
        .where(
            PlanStopRow.plan_id == plan.plan_id,
            PlanStopRow.clinician_id == clinician_id,
            PlanStopRow.visit_date == day,
        )
        .order_by(PlanStopRow.sequence)
    ).all()
    resident_ids = [s.resident_id for s in stops if s.resident_id]
    residents = {
        r.resident_id: r
        for r in session.scalars(
            select(ResidentRow).where(ResidentRow.resident_id.in_(resident_ids))
        )
    }
    programmes = builtin_programmes()
    items = []
    for stop in stops:
        resident = residents.get(stop.resident_id or "")
        programme = programmes.get(stop.programme)
        items.append(
            RouteStop(
                sequence=stop.sequence,
                visit_id=stop.visit_id,
                programme=stop.programme,
                programme_zh=programme.name_zh if programme else stop.programme,
                programme_en=programme.name_en if programme else stop.programme,
                bring_zh=programme.bring_zh if programme else "",
                bring_en=programme.bring_en if programme else "",
                arrival=format_hhmm(stop.arrival_min),
                start=format_hhmm(stop.start_min),
                end=format_hhmm(stop.end_min),
                duration_min=stop.end_min - stop.start_min,
                travel_min=stop.travel_min,
                travel_km=stop.travel_km,
                via_centre=stop.via_centre,
                resident_id=stop.resident_id,
                committee_id=stop.committee_id,
                resident_name=(
                    None
                    if resident is None
                    else resident.name
                    if full_names
                    else mask_name(resident.name)
                ),
                address=resident.address if resident else None,
                phone=resident.phone if resident else None,
                lat=resident.lat if resident else None,
                lon=resident.lon if resident else None,
                urgency=stop.urgency,
                due_by=stop.due_by,
                last_visit=stop.last_visit,
                rule_zh=stop.rule_zh,
                rule_en=stop.rule_en,
            )
        )
    return RouteView(
        plan_id=plan.plan_id,
        plan_status=plan.status,
        clinician_id=clinician_id,
        date=day,
        depart=format_hhmm(route.depart_min) if route else None,
        back=format_hhmm(route.return_min) if route else None,
        travel_min=route.travel_min if route else 0,
        travel_km=route.travel_km if route else 0.0,
        work_min=route.work_min if route else 0,
        stops=items,
    )


def resident_ids_of(route: RouteView) -> Iterable[str]:
    """The residents a route shows (for the audit log)."""
    return (s.resident_id for s in route.stops if s.resident_id)


_PROBLEMS = ReadCache[tuple[Problem, Mapping[str, Resident]]](maxsize=8, ttl_s=math.inf)
"""The last few stored plans' problems, by database, plan and revision."""


def plan_problem(session: Session, plan: PlanRow) -> tuple[Problem, Mapping[str, Resident]]:
    """The week's problem for a stored plan and the residents (rebuilt from the registers
    through the caller's session, on the service's one engine; cached per plan revision)."""

    def build() -> tuple[Problem, Mapping[str, Resident]]:
        dataset = load_dataset(session, [plan.centre_id])
        # What was due is decided by the history before the week: visits recorded during the
        # week must not make the plan's own visits disappear from its problem.
        dataset = dataclasses.replace(
            dataset, history=tuple(h for h in dataset.history if h.date < plan.week_start)
        )
        problem = build_problem(dataset, plan.week_start, centre_ids=[plan.centre_id])
        return problem, dataset.residents

    database = str(session.get_bind().engine.url)  # without its password
    return _PROBLEMS.get((database, plan.plan_id, plan.updated_at), build)


def residents_on_maps(session: Session, plan_ids: list[int], team_id: str | None) -> list[str]:
    """The residents whose visits (placed or left out) a team or comparison map shows.

    ``team_id`` narrows them to that team's clinicians' stops and its residents' left-out
    visits, as the pages do.
    """
    stops = select(PlanStopRow.resident_id).where(PlanStopRow.plan_id.in_(plan_ids))
    left = select(PlanUnscheduledRow.resident_id).where(PlanUnscheduledRow.plan_id.in_(plan_ids))
    if team_id is not None:
        stops = stops.join(
            ClinicianRow, ClinicianRow.clinician_id == PlanStopRow.clinician_id
        ).where(ClinicianRow.team_id == team_id)
        left = left.join(
            ResidentRow, ResidentRow.resident_id == PlanUnscheduledRow.resident_id
        ).where(ResidentRow.team_id == team_id)
    return [r for query in (stops, left) for r in session.scalars(query) if r]


def day_route_residents(
    session: Session, plan_id: int, clinician_id: str, date: dt.date
) -> list[str | None]:
    """The residents of a clinician's stops on one day of the plan (None: a committee stop)."""
    return list(
        session.scalars(
            select(PlanStopRow.resident_id).where(
                PlanStopRow.plan_id == plan_id,
                PlanStopRow.clinician_id == clinician_id,
                PlanStopRow.visit_date == date,
            )
        ).all()
    )


def team_in_centre(session: Session, team_id: str, centre_id: str) -> bool:
    """Whether any clinician (active or not) of ``team_id`` belongs to ``centre_id``."""
    return (
        session.scalar(
            select(ClinicianRow.clinician_id).where(
                ClinicianRow.team_id == team_id, ClinicianRow.centre_id == centre_id
            )
        )
        is not None
    )
