"""The team leader's edits of his week in the browser: a visit's details, move / lock / take
out (a form; a what-if link checks a move without saving), re-plan around the
changes, the versions of the week and their comparison (approval from the week page is
``POST /plans/{id}/approve-form``, :mod:`service.api.routers.replan_pages`).

Handlers map the request, call :mod:`service.week_edits` (or the jobs' functions) and render a
template; every form is posted with the sign-in cookie and its CSRF token
(:data:`service.api.web.CookieFormUser`). A refusal is shown on the page in Chinese and English
with its status (409 for a stale revision or a plan that is not a draft), never a 500.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from scheduler.params import TIME_LIMIT_DEFAULT_S, TIME_LIMIT_MAX_S
from service.api.access import audit, plan_visible
from service.api.deps import DbSession, PlanningDate, RowId, ServiceSettings, WholeNumber
from service.api.routers.plans import queue_resolve_job
from service.api.routers.workspace import PageUser, today
from service.api.web import CookieFormUser, render
from service.db.tables import PlanRow, UserRole
from service.users import Principal
from service.week_edits import (
    RefusedError,
    apply_move,
    apply_removal,
    clear_pin,
    compare_versions,
    new_draft,
    set_lock,
    try_move,
    visit_details,
    week_versions,
)

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"
VisitId = Annotated[str, "the visit's id"]


def _leaders(user: Principal) -> None:
    if user.role not in (UserRole.TEAM_LEADER, UserRole.ADMIN):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"the {user.role.value} role cannot change plans",
        )


def _plan(session: DbSession, user: Principal, plan_id: int) -> PlanRow:
    _leaders(user)
    return plan_visible(session, user, plan_id)


def _visit_page(
    request: Request,
    session: DbSession,
    settings: ServiceSettings,
    user: Principal,
    plan: PlanRow,
    visit_id: str,
    extra: dict[str, object] | None = None,
    status_code: int = status.HTTP_200_OK,
) -> HTMLResponse:
    session.refresh(plan)
    try:
        details = visit_details(session, settings, user, plan, visit_id, today())
    except RefusedError as exc:
        raise HTTPException(exc.status_code, detail=exc.en) from None
    audit(request, user, "read visit details", details.resident_ids, f"plan {plan.plan_id}")
    context: dict[str, object] = {"visit": details, "verdict": None, "error": None, "done": ""}
    context.update(extra or {})
    return render(request, user, "visit.html", context, status_code=status_code)


def _refused(
    request: Request,
    session: DbSession,
    settings: ServiceSettings,
    user: Principal,
    plan: PlanRow,
    visit_id: str,
    exc: RefusedError,
) -> HTMLResponse:
    if exc.status_code == status.HTTP_404_NOT_FOUND:
        raise HTTPException(exc.status_code, detail=exc.en)
    session.rollback()
    return _visit_page(
        request, session, settings, user, plan, visit_id, {"error": exc}, exc.status_code
    )


def _visit_edit(
    request: Request,
    session: DbSession,
    settings: ServiceSettings,
    user: Principal,
    plan_id: int,
    visit_id: str,
    edit: Callable[[PlanRow], dict[str, object]],
    changes_plan: bool = False,
) -> HTMLResponse:
    """What the visit's forms share: the plan in the user's scope (leaders only), ``edit`` on
    it (a refusal, a stale revision among them, is shown on the visit's page with its status),
    then the visit's page with what ``edit`` gives it (the verdict, what was done). A change
    to the plan (``changes_plan``) empties the read cache."""
    plan = _plan(session, user, plan_id)
    try:
        extra = edit(plan)
    except RefusedError as exc:
        return _refused(request, session, settings, user, plan, visit_id, exc)
    if changes_plan:
        request.app.state.read_cache.clear()
    return _visit_page(request, session, settings, user, plan, visit_id, extra)


@router.get("/plans/{plan_id}/visits/{visit_id:path}", response_class=HTMLResponse)
def visit_page(
    request: Request,
    plan_id: RowId,
    visit_id: VisitId,
    user: PageUser,
    session: DbSession,
    settings: ServiceSettings,
    to_clinician: Annotated[str, Query(max_length=64)] = "",
    to_day: Annotated[str, Query(max_length=10)] = "",
    to_start: Annotated[str, Query(max_length=5)] = "",
) -> HTMLResponse:
    """A visit: the resident, why it is due, its windows, where it is, who else could do it.

    With ``to_clinician`` and ``to_day`` (and ``to_start``): the verdict of that move, nothing
    saved (a what-if link; then "Move" applies it).
    """

    def what_if(plan: PlanRow) -> dict[str, object]:
        if not (to_clinician and to_day):
            return {}
        day = _day(to_day)
        found = try_move(
            session, settings, user, plan, visit_id, to_clinician, day, _start(to_start)
        )[1]
        proposal = {"clinician_id": to_clinician, "day": to_day, "start": to_start}
        return {"verdict": found, "done": "check", "proposal": proposal}

    return _visit_edit(request, session, settings, user, plan_id, visit_id, what_if)


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise RefusedError(
            f"日期“{text}”不是 YYYY-MM-DD 格式的日期",
            f"the day {text!r} is not a date YYYY-MM-DD",
            status.HTTP_422_UNPROCESSABLE_CONTENT,
        ) from None


def _start(text: str) -> int | None:
    """Minutes after midnight of an HH:MM start ("" for none)."""
    if not text:
        return None
    if re.fullmatch(HHMM, text) is None:
        raise RefusedError(
            f"开始时间“{text}”不是 HH:MM 格式的时间（例如 09:30）",
            f"the start {text!r} is not a time HH:MM (e.g. 09:30)",
            status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    return int(text[:2]) * 60 + int(text[3:])


@router.post("/plans/{plan_id}/visits/{visit_id:path}/move", response_class=HTMLResponse)
def move(
    request: Request,
    plan_id: RowId,
    visit_id: VisitId,
    user: CookieFormUser,
    session: DbSession,
    settings: ServiceSettings,
    clinician_id: Annotated[str, Form(max_length=64)],
    day: Annotated[PlanningDate, Form()],
    revision: Annotated[int, Form(ge=1, le=2_147_483_647)],
    start: Annotated[str, Form(max_length=5)] = "",
    action: Annotated[str, Form(pattern="^(check|apply)$")] = "check",
) -> HTMLResponse:
    """Check a move (the verdict, nothing stored) or apply it to the draft (and pin it)."""

    def move_it(plan: PlanRow) -> dict[str, object]:
        start_min = _start(start)
        if action == "apply":
            found = apply_move(
                session, settings, user, plan, revision, visit_id, clinician_id, day, start_min
            )
        else:
            _, found, _ = try_move(
                session, settings, user, plan, visit_id, clinician_id, day, start_min
            )
        proposal = {"clinician_id": clinician_id, "day": day.isoformat(), "start": start}
        return {"verdict": found, "done": action, "proposal": proposal}

    return _visit_edit(
        request, session, settings, user, plan_id, visit_id, move_it, changes_plan=action == "apply"
    )


@router.post("/plans/{plan_id}/visits/{visit_id:path}/remove", response_class=HTMLResponse)
def remove(
    request: Request,
    plan_id: RowId,
    visit_id: VisitId,
    user: CookieFormUser,
    session: DbSession,
    settings: ServiceSettings,
    revision: Annotated[int, Form(ge=1, le=2_147_483_647)],
) -> HTMLResponse:
    """Take the visit out of the draft's week."""

    def remove_it(plan: PlanRow) -> dict[str, object]:
        found = apply_removal(session, settings, user, plan, revision, visit_id)
        return {"verdict": found, "done": "remove"}

    return _visit_edit(
        request, session, settings, user, plan_id, visit_id, remove_it, changes_plan=True
    )


@router.post("/plans/{plan_id}/visits/{visit_id:path}/lock", response_class=HTMLResponse)
def lock(
    request: Request,
    plan_id: RowId,
    visit_id: VisitId,
    user: CookieFormUser,
    session: DbSession,
    settings: ServiceSettings,
) -> HTMLResponse:
    """Lock the visit where it is for the next re-plan."""

    def lock_it(plan: PlanRow) -> dict[str, object]:
        set_lock(session, settings, user, plan, visit_id)
        return {"done": "lock"}

    return _visit_edit(request, session, settings, user, plan_id, visit_id, lock_it)


@router.post("/plans/{plan_id}/visits/{visit_id:path}/unpin", response_class=HTMLResponse)
def unpin(
    request: Request,
    plan_id: RowId,
    visit_id: VisitId,
    user: CookieFormUser,
    session: DbSession,
    settings: ServiceSettings,
) -> HTMLResponse:
    """Let the next re-plan place the visit freely again."""

    def unpin_it(plan: PlanRow) -> dict[str, object]:
        clear_pin(session, settings, user, plan, visit_id)
        return {"done": "unpin"}

    return _visit_edit(request, session, settings, user, plan_id, visit_id, unpin_it)


def _message(request: Request, user: Principal, plan: PlanRow, exc: RefusedError) -> HTMLResponse:
    return render(request, user, "edit_refused.html", {"plan": plan, "error": exc}, exc.status_code)


@router.post("/plans/{plan_id}/new-draft", response_model=None)
def make_draft(
    request: Request,
    plan_id: RowId,
    user: CookieFormUser,
    session: DbSession,
    settings: ServiceSettings,
) -> Response:
    """Copy the approved plan as the next version, a draft to adjust."""
    plan = _plan(session, user, plan_id)
    try:
        handle = new_draft(session, settings, user, plan)
    except RefusedError as exc:
        return _message(request, user, plan, exc)
    return RedirectResponse(f"/plans/{handle.plan_id}/week", status.HTTP_303_SEE_OTHER)


@router.post("/plans/{plan_id}/replan-around", response_model=None)
def replan_around(
    request: Request,
    plan_id: RowId,
    user: CookieFormUser,
    session: DbSession,
    settings: ServiceSettings,
    time_limit_s: Annotated[int, WholeNumber, Form(ge=1, le=int(TIME_LIMIT_MAX_S))] = int(
        TIME_LIMIT_DEFAULT_S
    ),
) -> Response:
    """Re-plan the week around the pins, as a job; then its progress page."""
    plan = _plan(session, user, plan_id)
    if plan.status != "draft":
        exc = RefusedError(
            "只有草稿可以重新排班：请先“生成新草稿”",
            f"plan {plan_id} is {plan.status}; only a draft is re-planned (make a new draft)",
        )
        return _message(request, user, plan, exc)
    try:
        job = queue_resolve_job(request, session, settings, user, plan, time_limit_s)
    except HTTPException as exc:  # too long a limit, a job already running: said on the page
        busy = RefusedError(
            "现在不能重新排班（时间上限过长，或本周已有排班任务在进行）",
            str(exc.detail),
            exc.status_code,
        )
        return _message(request, user, plan, busy)
    return RedirectResponse(f"/plan-jobs/{job.job_id}/progress", status.HTTP_303_SEE_OTHER)


@router.get("/plans/{plan_id}/versions", response_class=HTMLResponse)
def versions_page(
    request: Request,
    plan_id: RowId,
    user: PageUser,
    session: DbSession,
    settings: ServiceSettings,
) -> HTMLResponse:
    """The versions of the plan's week, newest first, and a form to compare any two."""
    plan = _plan(session, user, plan_id)
    return render(
        request,
        user,
        "versions.html",
        {"plan": plan, "versions": week_versions(session, settings, user, plan)},
    )


@router.get("/plans/{plan_id}/compare", response_class=HTMLResponse)
def compare_page(
    request: Request,
    plan_id: RowId,
    user: PageUser,
    session: DbSession,
    settings: ServiceSettings,
    other: Annotated[int, Query(ge=1, le=2_147_483_647)],
) -> HTMLResponse:
    """What changed between two versions of the week, from the older to the newer."""
    plan = _plan(session, user, plan_id)
    other_plan = plan_visible(session, user, other)
    try:
        comparison = compare_versions(session, settings, user, plan, other_plan)
    except RefusedError as exc:
        raise HTTPException(exc.status_code, detail=exc.en) from None
    audit(
        request,
        user,
        "read version comparison",
        comparison.resident_ids,
        f"plans {comparison.old.plan_id} {comparison.new.plan_id}",
    )
    return render(
        request,
        user,
        "compare.html",
        {"plan": plan, "cmp": comparison, "team_id": user.team_id},
    )
