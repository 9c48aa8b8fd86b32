"""Map pages of stored plans, drawn by :mod:`maps` (which never solves) and served with the
service's own Leaflet copy (``/assets``) and the tile setting."""

from __future__ import annotations

import dataclasses
import datetime as dt

from fastapi import Request

from maps.base import MapPage
from maps.compare import render_plan_comparison
from maps.day import render_clinician_day
from maps.record_form import Recording
from maps.week import render_team_week
from service.api.nurse import committee_names
from service.api.views import plan_problem
from service.db.plans import load_plan
from service.db.tables import PlanRow
from service.roads import leg_geometries
from service.settings import Settings

__all__ = ["ASSETS_URL", "comparison_page", "day_page", "team_week_page"]

ASSETS_URL = "/assets"


def day_page(
    request: Request,
    settings: Settings,
    plan_row: PlanRow,
    clinician_id: str,
    day: dt.date,
    *,
    mask_names: bool = True,
    day_links: tuple[str | None, str | None] = (None, None),
    recording: Recording | None = None,
) -> MapPage:
    """One clinician's day of a stored plan, as a map page (with the days around it and the
    record forms of the nurse's own page, when given)."""
    with request.app.state.sessions() as session:
        problem, residents = plan_problem(session, plan_row)
        plan = load_plan(session, plan_row.plan_id)
        committees = committee_names(session, plan_row.centre_id)
    return render_clinician_day(
        problem,
        plan,
        clinician_id,
        day,
        residents,
        tiles=settings.map_tiles,
        leg_geometry_by_mode=leg_geometries(settings),
        mask_names=mask_names,
        assets_url=ASSETS_URL,
        committees=committees,
        day_links=day_links,
        recording=recording,
    )


def team_week_page(
    request: Request, settings: Settings, plan_row: PlanRow, team_id: str
) -> MapPage:
    """A team's week of a stored plan, as a map page (no resident names)."""
    with request.app.state.sessions() as session:
        problem, residents = plan_problem(session, plan_row)
        plan = load_plan(session, plan_row.plan_id)
    # The stored plan keeps each left-out visit's reason: the page uses it as it is.
    return render_team_week(
        problem,
        plan,
        team_id,
        {},
        residents,
        tiles=settings.map_tiles,
        leg_geometry_by_mode=leg_geometries(settings),
        assets_url=ASSETS_URL,
    )


def comparison_page(
    request: Request, settings: Settings, plan_a: PlanRow, plan_b: PlanRow, team_id: str | None
) -> MapPage:
    """Two stored plans of a centre on one map, and what moved between them (names masked).

    ``team_id`` narrows both plans to one team's routes (a team leader's view).
    """
    with request.app.state.sessions() as session:
        problem_a, residents = plan_problem(session, plan_a)
        problem_b, _ = plan_problem(session, plan_b)
        plans = [load_plan(session, p.plan_id) for p in (plan_a, plan_b)]
    if team_id is not None:
        mine = {c.clinician_id for c in problem_a.clinicians if c.team_id == team_id}
        plans = [
            dataclasses.replace(p, routes=tuple(r for r in p.routes if r.clinician_id in mine))
            for p in plans
        ]
    return render_plan_comparison(
        problem_a,
        plans[0],
        plans[1],
        f"v{plan_a.version} ({plan_a.status})",
        f"v{plan_b.version} ({plan_b.status})",
        problem_b=problem_b,
        residents=residents,
        tiles=settings.map_tiles,
        leg_geometry_by_mode=leg_geometries(settings),
        assets_url=ASSETS_URL,
    )
