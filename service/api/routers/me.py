"""The signed-in clinician's own day: ``/me/routes/{date}`` as JSON, or as a map page.

A browser (``Accept: text/html``) gets the map page a nurse opens on her phone; an app gets
JSON. Only approved plans are shown: a draft may still change.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from service.api.access import VISIBLE_PLAN_STATUSES_FOR_CLINICIANS, audit, not_found
from service.api.deps import DbSession, ServiceSettings, require_roles
from service.api.pages import day_page
from service.api.views import RouteView, resident_ids_of, route_view
from service.db.tables import PlanRow, UserRole
from service.users import Principal

router = APIRouter(prefix="/me", tags=["me"])

Clinician = Annotated[Principal, require_roles(UserRole.CLINICIAN)]


def approved_plan(session: DbSession, centre_id: str, day: dt.date) -> PlanRow | None:
    """The newest approved (or done) plan of the centre's week holding ``day``."""
    week = day - dt.timedelta(days=day.weekday())
    return session.scalar(
        select(PlanRow)
        .where(
            PlanRow.centre_id == centre_id,
            PlanRow.week_start == week,
            PlanRow.status.in_(VISIBLE_PLAN_STATUSES_FOR_CLINICIANS),
        )
        .order_by(PlanRow.version.desc())
        .limit(1)
    )


@router.get(
    "/routes/{date}",
    response_model=None,
    responses={
        200: {
            "model": RouteView,
            "content": {"text/html": {}},
            "description": "The route as JSON, or as a map page for a browser",
        },
        404: {"description": "No approved plan for that week"},
    },
)
def my_route(
    request: Request,
    date: dt.date,
    user: Clinician,
    session: DbSession,
    settings: ServiceSettings,
    format: Annotated[Literal["json", "html"] | None, Query()] = None,
) -> RouteView | HTMLResponse:
    """My stops for the day, in order, with times (我的当日路线)."""
    plan = approved_plan(session, str(user.centre_id), date)
    if plan is None:
        raise not_found("approved plan for the week of", date - dt.timedelta(days=date.weekday()))
    clinician_id = str(user.clinician_id)
    wants_html = format == "html" or (
        format is None and "text/html" in request.headers.get("accept", "")
    )
    view = route_view(session, plan, clinician_id, date, full_names=False)
    audit(session, user, "read own route", resident_ids_of(view), f"plan {plan.plan_id} {date}")
    if wants_html:
        return HTMLResponse(day_page(request, settings, plan, clinician_id, date))
    return view
