"""The signed-in clinician's own day: ``/me/routes/{date}`` as JSON, or as a map page.

A browser (``Accept: text/html``) gets the map page a nurse opens on her phone; an app gets
JSON. Only approved plans are shown: a draft may still change.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from service.api.access import VISIBLE_PLAN_STATUSES_FOR_CLINICIANS, audit, not_found
from service.api.deps import PlanningDate, ServiceSettings, require_roles
from service.api.pages import day_page
from service.api.security import page_response
from service.api.views import RouteView, resident_ids_of, route_view
from service.db.tables import PlanRow, UserRole
from service.users import Principal

router = APIRouter(prefix="/me", tags=["me"])

Clinician = Annotated[Principal, require_roles(UserRole.CLINICIAN)]


def approved_plan(session: Session, centre_id: str, day: dt.date) -> PlanRow | None:
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
async def my_route(
    request: Request,
    date: PlanningDate,
    user: Clinician,
    settings: ServiceSettings,
    format: Annotated[Literal["json", "html"] | None, Query()] = None,
) -> Response:
    """My stops for the day, in order, with times (我的当日路线)."""
    # The hottest read of the service: async, answered from the cache without a thread hop or
    # a connection; only a miss reads the database, in a worker thread with its own session.
    cache = request.app.state.read_cache
    week = date - dt.timedelta(days=date.weekday())
    clinician_id = str(user.clinician_id)

    def read_plan() -> PlanRow | None:
        with request.app.state.sessions() as session:
            return approved_plan(session, str(user.centre_id), date)

    plan_key = ("approved plan", user.centre_id, week)
    plan: PlanRow | None = cache.peek(plan_key) or await run_in_threadpool(
        cache.get, plan_key, read_plan
    )
    if plan is None:
        raise not_found("approved plan for the week of", week)

    def render() -> tuple[bytes, list[str]]:
        with request.app.state.sessions() as session:
            view = route_view(session, plan, clinician_id, date, full_names=False)
        return view.model_dump_json().encode(), list(resident_ids_of(view))

    # An approved plan never changes in place: the same version's route is the same bytes.
    route_key = ("route", plan.plan_id, plan.updated_at, clinician_id, date)
    cached = cache.peek(route_key) or await run_in_threadpool(cache.get, route_key, render)
    body, resident_ids = cached
    audit(request, user, "read own route", resident_ids, f"plan {plan.plan_id} {date}")
    wants_html = format == "html" or (
        format is None and "text/html" in request.headers.get("accept", "")
    )
    if wants_html:
        page = await run_in_threadpool(day_page, request, settings, plan, clinician_id, date)
        return page_response(page, settings.map_tiles)
    return Response(body, media_type="application/json")
