"""The workspace pages for browsers: each role's landing page, the team leader's week, the
"plan a week" form and its live progress, the planner's and the admin's lists.

Handlers map the request, call :mod:`service.api.workspace` (reads) or the jobs' functions
(writes), and render a template of :mod:`service.api.web`. Pages are read with the sign-in
cookie; forms post with it and a CSRF token (:data:`service.api.web.CookieFormUser`).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from scheduler.model import monday_of
from scheduler.params import TIME_LIMIT_MAX_S
from service.api.access import audit, plan_visible
from service.api.deps import (
    TOKEN_COOKIE,
    DbSession,
    PlanningDate,
    RowId,
    ServiceSettings,
    WholeNumber,
    get_principal,
)
from service.api.models import PlanRequest
from service.api.routers.jobs import cancel, job_view, job_visible, start_plan_job
from service.api.web import CookieFormUser, render, role_home
from service.api.workspace import (
    WeekFilters,
    centres_overview,
    leader_week_plan,
    route_sheets,
    users_list,
    week_table,
    week_view,
)
from service.db.tables import UserRole
from service.users import Principal
from service.week_edits import pin_count

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def today() -> dt.date:
    """The service's today (one place, so tests can set the date the pages open on)."""
    return dt.date.today()


async def page_user(request: Request) -> Principal:
    """The signed-in user of a page; without a valid cookie, the sign-in page (then back)."""
    try:
        return await get_principal(request, None)
    except HTTPException as exc:
        if exc.status_code != status.HTTP_401_UNAUTHORIZED:
            raise
        target = request.url.path
        raise HTTPException(
            status.HTTP_303_SEE_OTHER, headers={"Location": f"/login?next={target}"}
        ) from None


PageUser = Annotated[Principal, Depends(page_user)]


def _only(user: Principal, *roles: UserRole) -> None:
    if user.role not in roles:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, detail=f"the {user.role.value} role cannot open this page"
        )


@router.post("/logout")
def sign_out(user: CookieFormUser) -> RedirectResponse:
    """Forget the sign-in cookie in this browser."""
    response = RedirectResponse("/login", status.HTTP_303_SEE_OTHER)
    response.delete_cookie(TOKEN_COOKIE)
    return response


@router.get("/")
def home(user: PageUser) -> RedirectResponse:
    """Each role's own page."""
    return RedirectResponse(role_home(user, today().isoformat()), status.HTTP_303_SEE_OTHER)


@router.get("/week", response_model=None)
def my_week(request: Request, user: PageUser, session: DbSession) -> Response:
    """A team leader's week: the newest plan of his centre's current (or next) week."""
    _only(user, UserRole.TEAM_LEADER)
    handle = leader_week_plan(session, str(user.centre_id), today())
    if handle is None:
        return render(request, user, "no_plan.html", {"week": monday_of(today())})
    return RedirectResponse(f"/plans/{handle.plan_id}/week", status.HTTP_303_SEE_OTHER)


@router.get("/plans/{plan_id}/week", response_class=HTMLResponse)
def plan_week(
    request: Request,
    plan_id: RowId,
    user: PageUser,
    session: DbSession,
    settings: ServiceSettings,
    clinician: Annotated[str, Query(max_length=64)] = "",
    day: Annotated[str, Query(max_length=10)] = "",
    programme: Annotated[str, Query(max_length=64)] = "",
) -> HTMLResponse:
    """A plan's week: timelines per clinician and day, what is left out and why, the KPIs."""
    _only(user, UserRole.TEAM_LEADER, UserRole.ADMIN)
    plan = plan_visible(session, user, plan_id)
    view = week_view(session, settings, user, plan, _filters(clinician, day, programme))
    audit(request, user, "read week page", view.resident_ids, f"plan {plan_id}")
    return render(
        request,
        user,
        "week.html",
        {
            "view": view,
            "filters": {"clinician": clinician, "day": day, "programme": programme},
            "pins": pin_count(session, plan_id),
        },
    )


def _filters(clinician: str, day: str, programme: str) -> WeekFilters:
    try:
        chosen_day = dt.date.fromisoformat(day) if day else None
    except ValueError:
        chosen_day = None  # a hand-typed day that is no date shows the whole week
    return WeekFilters(clinician, chosen_day, programme)


@router.get("/plans/{plan_id}/print", response_class=HTMLResponse)
def print_sheets(
    request: Request,
    plan_id: RowId,
    user: PageUser,
    session: DbSession,
    clinician: Annotated[str, Query(max_length=64)] = "",
    day: Annotated[str, Query(max_length=10)] = "",
) -> HTMLResponse:
    """Route sheets for A4: one page per clinician and day (stops, times, resident as the nurse
    sees them, address, what to bring, phone)."""
    _only(user, UserRole.TEAM_LEADER, UserRole.ADMIN)
    plan = plan_visible(session, user, plan_id)
    sheets = route_sheets(session, user, plan, _filters(clinician, day, ""))
    residents = [s.resident_id for sheet in sheets for s in sheet.route.stops if s.resident_id]
    audit(request, user, "print route sheets", residents, f"plan {plan_id}")
    return render(
        request, user, "print.html", {"plan": plan, "sheets": sheets, "week": week_table(sheets)}
    )


@router.get("/overview", response_class=HTMLResponse)
def centres_page(request: Request, user: PageUser, session: DbSession) -> HTMLResponse:
    """The planner's overview: every centre with its newest plan's figures."""
    _only(user, UserRole.PLANNER, UserRole.ADMIN)
    return render(request, user, "centres.html", {"centres": centres_overview(session)})


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, user: PageUser, session: DbSession) -> HTMLResponse:
    """The admin's page: centres and users."""
    _only(user, UserRole.ADMIN)
    return render(
        request,
        user,
        "admin.html",
        {"centres": centres_overview(session), "users": users_list(session)},
    )


def _next_mondays(today: dt.date) -> list[dt.date]:
    monday = monday_of(today)
    return [monday + dt.timedelta(days=7 * i) for i in range(4)]


@router.get("/plan-week", response_class=HTMLResponse)
def plan_form(request: Request, user: PageUser, settings: ServiceSettings) -> HTMLResponse:
    """Choose the week and the time limit, and start the solve."""
    _only(user, UserRole.TEAM_LEADER)
    return _form(request, user, settings, "")


def _form(
    request: Request,
    user: Principal,
    settings: ServiceSettings,
    error: str,
    status_code: int = status.HTTP_200_OK,
) -> HTMLResponse:
    return render(
        request,
        user,
        "plan_form.html",
        {
            "weeks": _next_mondays(today()),
            "time_limit_default": int(settings.solve_time_limit_default_s),
            "time_limit_max": int(settings.solve_time_limit_max_s),
            "error": error,
        },
        status_code=status_code,
    )


def _in_words(exc: HTTPException) -> str:
    """An API refusal as the form shows it (the reasons of a 422, else the detail)."""
    detail = exc.detail
    if isinstance(detail, dict):
        return "; ".join(str(e.get("reason", "")) for e in detail.get("errors", []))
    return str(detail)


@router.post("/plan-week", response_model=None)
def start_plan(
    request: Request,
    user: CookieFormUser,
    session: DbSession,
    settings: ServiceSettings,
    week_start: Annotated[PlanningDate, Form()],
    time_limit_s: Annotated[int, WholeNumber, Form(ge=1, le=int(TIME_LIMIT_MAX_S))],
) -> Response:
    """Queue the solve of the team's week; then its progress page."""
    _only(user, UserRole.TEAM_LEADER)
    try:
        body = PlanRequest(
            centre_id=str(user.centre_id),
            week_start=week_start,
            team_id=user.team_id,
            time_limit_s=time_limit_s,
            max_overtime_min=0,
        )
        job = start_plan_job(request, session, settings, user, body)
    except ValidationError as exc:
        return _form(request, user, settings, str(exc.errors()[0]["msg"]), 422)
    except HTTPException as exc:
        if exc.status_code == status.HTTP_404_NOT_FOUND:
            raise
        return _form(request, user, settings, _in_words(exc), exc.status_code)
    return RedirectResponse(f"/plan-jobs/{job.job_id}/progress", status.HTTP_303_SEE_OTHER)


@router.get("/plan-jobs/{job_id}/progress", response_class=HTMLResponse)
def progress_page(
    request: Request, job_id: RowId, user: PageUser, session: DbSession
) -> HTMLResponse:
    """The solve's live progress (the page polls ``GET /plan-jobs/{id}`` every second)."""
    _only(user, UserRole.TEAM_LEADER, UserRole.ADMIN)
    job = job_view(job_visible(session, user, job_id))
    return render(request, user, "progress.html", {"job": job})


@router.post("/plan-jobs/{job_id}/cancel", response_model=None)
def cancel_from_page(
    request: Request, job_id: RowId, user: CookieFormUser, session: DbSession
) -> RedirectResponse:
    """The progress page's cancel button: the job stops and keeps its best plan so far."""
    _only(user, UserRole.TEAM_LEADER, UserRole.ADMIN)
    row = job_visible(session, user, job_id)
    cancel(request, session, row)
    return RedirectResponse(f"/plan-jobs/{job_id}/progress", status.HTTP_303_SEE_OTHER)
