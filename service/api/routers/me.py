"""The signed-in clinician's own day: ``/me/routes/{date}`` as JSON, or as a map page.

A browser (``Accept: text/html``) gets the map page a nurse opens on her phone; an app gets
JSON. Only approved plans are shown: a draft may still change. The page links the day before
and after, and each stop has its record form, which posts to ``POST /me/records`` (with the
cookie and its CSRF token): the visit is stored through the same function as ``POST /records``.
A record she made that day has a second form, ``POST /me/records/correct`` (更正): the record
then says what is true now, and what it said before is kept.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query, Request, Response, status
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from maps.base import MapPage
from service.api.access import audit, not_found
from service.api.deps import (
    ROW_ID_MAX,
    DbSession,
    PlanningDate,
    ServiceSettings,
    WholeNumber,
    require_roles,
)
from service.api.models import RouteView
from service.api.nurse import (
    FormValues,
    approved_plan,
    correction_refusal,
    day_recording,
    own_stop,
    parse_record_form,
    save_correction,
    save_from_page,
    stored_record,
)
from service.api.pages import day_page
from service.api.routers import workspace as workspace_pages
from service.api.security import page_response
from service.api.views import resident_ids_of, route_view
from service.api.web import CookieFormUser, csrf_token
from service.api.web import render as render_page
from service.db.tables import PlanRow, UserRole
from service.users import Principal

router = APIRouter(prefix="/me", tags=["me"])

Clinician = Annotated[Principal, require_roles(UserRole.CLINICIAN)]


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
    wants_html = format == "html" or (
        format is None and "text/html" in request.headers.get("accept", "")
    )
    if plan is None:
        if wants_html:  # the day before or after may be in a week not approved yet
            return render_page(
                request,
                user,
                "me_no_plan.html",
                {"day": date, "week": week, "links": _day_links(date)},
            )  # a page to browse on from (200: a phone's console stays clean), not an error
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
    if wants_html:
        token = csrf_token(request)

        def page_of_the_day() -> MapPage:
            # Not cached: what is recorded changes during the day.
            with request.app.state.sessions() as session:
                recording = day_recording(
                    session, plan, clinician_id, date, token, workspace_pages.today()
                )
            return day_page(
                request,
                settings,
                plan,
                clinician_id,
                date,
                day_links=_day_links(date),
                recording=recording,
            )

        page = await run_in_threadpool(page_of_the_day)
        return page_response(page, settings.map_tiles)
    return Response(body, media_type="application/json")


def _day_links(day: dt.date) -> tuple[str, str]:
    one = dt.timedelta(days=1)
    return f"/me/routes/{day - one}", f"/me/routes/{day + one}"


_NOT_ON_ROUTE = "您已审核的路线上没有这次上门 / no such visit on your approved route"


def _answer(
    request: Request,
    user: Principal,
    code: int,
    *,
    day: dt.date | None = None,
    summary: str = "",
    problems: tuple[str, ...] | list[str] = (),
    already: bool = False,
) -> Response:
    """The answer to the page's script (JSON), or to a form posted without it (a page)."""
    saved = code < status.HTTP_400_BAD_REQUEST
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse(
            {"saved": saved, "already": already, "summary": summary, "errors": list(problems)},
            status_code=code,
        )
    if saved and day is not None:
        return RedirectResponse(f"/me/routes/{day}", status.HTTP_303_SEE_OTHER)
    return render_page(
        request,
        user,
        "record_refused.html",
        {"problems": problems, "back": f"/me/routes/{day}" if day else "/"},
        code,
    )


@router.post("/records", include_in_schema=False, response_model=None)
def record_from_page(
    request: Request,
    user: CookieFormUser,
    session: DbSession,
    plan_id: Annotated[int, WholeNumber, Form(ge=1, le=ROW_ID_MAX)],
    visit_id: Annotated[str, Form(max_length=128)],
    outcome: Annotated[str, Form(max_length=32)] = "completed",
    systolic_mmhg: Annotated[str, Form(max_length=16)] = "",
    diastolic_mmhg: Annotated[str, Form(max_length=16)] = "",
    glucose_mmol_l: Annotated[str, Form(max_length=16)] = "",
    tests: Annotated[list[str] | None, Form(max_length=16)] = None,
    place: Annotated[str, Form(max_length=16)] = "",
    note: Annotated[str, Form(max_length=500)] = "",
    discharge_sickbed: Annotated[str, Form(max_length=4)] = "",
) -> Response:
    """The day page's record form: a stop of my own approved route, done or missed, with its
    readings (记录上门结果); stored like ``POST /records``, and audited."""
    if user.role is not UserRole.CLINICIAN:
        problem = "只有医护人员在此记录自己的上门 / only a clinician records her own visits here"
        return _answer(request, user, status.HTTP_403_FORBIDDEN, problems=[problem])
    stop = own_stop(session, user, plan_id, visit_id)
    if stop is None:
        return _answer(request, user, status.HTTP_404_NOT_FOUND, problems=[_NOT_ON_ROUTE])
    form = FormValues(
        outcome=outcome,
        systolic_mmhg=systolic_mmhg,
        diastolic_mmhg=diastolic_mmhg,
        glucose_mmol_l=glucose_mmol_l,
        tests=tuple(tests or ()),
        place=place,
        note=note,
        discharge_sickbed=bool(discharge_sickbed),
    )
    report, problems = parse_record_form(form, stop, str(user.clinician_id))
    day = stop.visit_date
    if report is None:
        return _answer(request, user, 422, day=day, problems=problems)
    result = save_from_page(session, stop, report, discharge=form.discharge_sickbed)
    if result.problems:
        return _answer(request, user, 422, day=day, problems=result.problems)
    audit(
        request,
        user,
        "record visit" if not result.already else "read own record",
        [str(stop.resident_id)],
        f"plan {plan_id} record {result.record_id}",
    )
    code = status.HTTP_200_OK if result.already else status.HTTP_201_CREATED
    return _answer(request, user, code, day=day, summary=result.summary, already=result.already)


@router.post("/records/correct", include_in_schema=False, response_model=None)
def correct_from_page(
    request: Request,
    user: CookieFormUser,
    session: DbSession,
    plan_id: Annotated[int, WholeNumber, Form(ge=1, le=ROW_ID_MAX)],
    visit_id: Annotated[str, Form(max_length=128)],
    outcome: Annotated[str, Form(max_length=32)] = "completed",
    systolic_mmhg: Annotated[str, Form(max_length=16)] = "",
    diastolic_mmhg: Annotated[str, Form(max_length=16)] = "",
    glucose_mmol_l: Annotated[str, Form(max_length=16)] = "",
    tests: Annotated[list[str] | None, Form(max_length=16)] = None,
    place: Annotated[str, Form(max_length=16)] = "",
    note: Annotated[str, Form(max_length=500)] = "",
    reason: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Correct the record of a stop of my own approved route (更正), on the visit's day while
    the week's plan is open: the record says what is true now, the version it replaces is
    kept with who replaced it, when and why; audited."""
    if user.role is not UserRole.CLINICIAN:
        problem = "只有医护人员在此更正自己的记录 / only a clinician corrects her own records here"
        return _answer(request, user, status.HTTP_403_FORBIDDEN, problems=[problem])
    stop = own_stop(session, user, plan_id, visit_id)
    if stop is None:
        return _answer(request, user, status.HTTP_404_NOT_FOUND, problems=[_NOT_ON_ROUTE])
    day = stop.visit_date
    row = stored_record(session, stop)
    plan = session.get(PlanRow, plan_id)
    assert plan is not None  # own_stop found the stop in it
    if row is None:
        problem = "这次上门还没有记录，请先记录 / this visit has no record yet: record it first"
        return _answer(request, user, status.HTTP_404_NOT_FOUND, day=day, problems=[problem])
    refusal = correction_refusal(row, str(user.clinician_id), plan, workspace_pages.today())
    if refusal is not None:
        return _answer(request, user, status.HTTP_409_CONFLICT, day=day, problems=[refusal])
    form = FormValues(
        outcome=outcome,
        systolic_mmhg=systolic_mmhg,
        diastolic_mmhg=diastolic_mmhg,
        glucose_mmol_l=glucose_mmol_l,
        tests=tuple(tests or ()),
        place=place,
        note=note,
    )
    report, problems = parse_record_form(form, stop, str(user.clinician_id))
    if report is None:
        return _answer(request, user, 422, day=day, problems=problems)
    result = save_correction(session, row, report, by=user.username, reason=reason)
    if result.problems:
        return _answer(request, user, 422, day=day, problems=result.problems)
    audit(
        request,
        user,
        "correct visit record" if not result.already else "read own record",
        [str(stop.resident_id)],
        f"plan {plan_id} record {result.record_id}",
    )
    return _answer(
        request, user, status.HTTP_200_OK, day=day, summary=result.summary, already=result.already
    )
