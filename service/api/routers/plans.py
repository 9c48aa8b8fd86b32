"""Stored plans: read them, fix visits (pin, lock, remove), re-solve, approve and export.

Team leaders work on their centre's plans and see and change only their own team's routes and
visits; planners read the figures and routes without residents; clinicians use ``/me``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from sqlalchemy.orm import Session

from scheduler.cells import neutralise_cell
from scheduler.evaluate import evaluate
from service import plan_reads
from service.api.access import audit, not_found, plan_clinician, plan_visible, visit_pseudonym
from service.api.deps import (
    CurrentUser,
    DbSession,
    PlanningDate,
    RowId,
    ServiceSettings,
    require_roles,
)
from service.api.errors import invalid
from service.api.models import (
    Approval,
    JobView,
    LeftOut,
    PinRequest,
    PinView,
    PlanDetail,
    PlanRequest,
    PlanSummary,
    Resolve,
    RouteSummary,
    RouteView,
)
from service.api.routers.jobs import queue_job, start_plan_job
from service.api.views import plan_problem, resident_ids_of, route_view
from service.api.workspace import kpis_of
from service.db.plans import load_plan
from service.db.tables import (
    PinKind,
    PlanPinRow,
    PlanRow,
    PlanStatus,
    UserRole,
)
from service.roads import travel_with_roads
from service.users import Principal
from service.week_edits import RefusedError, delete_pin, store_pin
from service.week_edits import approve as approve_plan

router = APIRouter(prefix="/plans", tags=["plans"])

Readers = Annotated[
    Principal, require_roles(UserRole.ADMIN, UserRole.TEAM_LEADER, UserRole.PLANNER)
]
Editors = Annotated[Principal, require_roles(UserRole.ADMIN, UserRole.TEAM_LEADER)]


def _summary(row: PlanRow) -> dict[str, Any]:
    return {
        "plan_id": row.plan_id,
        "centre_id": row.centre_id,
        "week_start": row.week_start,
        "version": row.version,
        "status": row.status,
        "revision": row.revision,
        "saved_by": row.saved_by,
        "solver_status": row.solver_status,
        "solve_seconds": row.solve_seconds,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "kpis": row.kpis,
    }


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobView,
    responses={
        409: {"description": "A job for this centre and week is waiting or running"},
        429: {"description": "Too many jobs of this user"},
    },
)
def create_plan_job(
    request: Request,
    response: Response,
    body: PlanRequest,
    user: Editors,
    session: DbSession,
    settings: ServiceSettings,
) -> JobView:
    """Queue the plan of a centre's week (or of one team); answers at once (生成周计划)."""
    view = start_plan_job(request, session, settings, user, body)
    response.headers["Location"] = f"/plan-jobs/{view.job_id}"
    return view


@router.get("", response_model=list[PlanSummary])
def list_plans(
    user: Readers,
    session: DbSession,
    centre_id: Annotated[str | None, Query(max_length=64)] = None,
    week_start: PlanningDate | None = None,
) -> list[PlanSummary]:
    """Stored plan versions, newest first (周计划列表)."""
    rows = plan_reads.plan_list(session, user, centre_id, week_start)
    return [PlanSummary(**_summary(r)) for r in rows]


@router.get("/{plan_id}", response_model=PlanDetail, responses={404: {"description": "Not found"}})
def get_plan(
    request: Request,
    plan_id: RowId,
    user: Readers,
    session: DbSession,
    settings: ServiceSettings,
) -> PlanDetail:
    """A plan: KPIs, every route of the user's sight, and what it leaves out, with reasons."""
    row = plan_visible(session, user, plan_id)
    mine = plan_reads.team_clinicians(session, user)
    counts = plan_reads.stop_counts(session, plan_id)
    routes = [
        RouteSummary(
            clinician_id=r.clinician_id,
            date=r.route_date,
            stops=counts.get((r.clinician_id, r.route_date), 0),
            depart=r.depart_min,
            back=r.return_min,
            travel_min=r.travel_min,
            travel_km=r.travel_km,
            work_min=r.work_min,
            overtime_min=r.overtime_min,
        )
        for r in plan_reads.plan_routes(session, plan_id)
        if mine is None or r.clinician_id in mine
    ]
    left_rows = plan_reads.left_out(session, user, plan_id)
    hide = user.role is UserRole.PLANNER
    key = request.app.state.signing_key
    unscheduled = [
        LeftOut(
            visit_id=visit_pseudonym(u.visit_id, key) if hide else u.visit_id,
            programme=u.programme,
            due_by=u.due_by,
            resident_id=None if hide else u.resident_id,
            reason=u.reason,
            reason_zh=u.reason_zh,
            urgency=u.urgency,
            kind=u.kind,
            last_visit=u.last_visit,
            rule_zh=u.rule_zh,
            rule_en=u.rule_en,
        )
        for u in left_rows
    ]
    # A planner reads them too, under pseudonyms: the log says whose visits were read.
    audit(request, user, "read plan", [u.resident_id or "" for u in left_rows], f"plan {plan_id}")
    summary = _summary(row)
    # The figures of the week page: a team leader's team's (as his jobs show them, not the
    # centre's), else the centre's as stored, or counted when the plan was stored without them.
    team = user.team_id if user.role is UserRole.TEAM_LEADER else None
    if team is not None or not row.kpis:
        summary["kpis"] = _figures(session, settings, row, team)
    return PlanDetail(**summary, routes=routes, unscheduled=unscheduled)


def _figures(
    session: Session, settings: ServiceSettings, row: PlanRow, team_id: str | None
) -> dict[str, Any]:
    """The KPIs of the week page (:func:`~service.api.workspace.kpis_of`: of ``team_id``'s
    visits and clinicians, or of the centre), with the hard rules the plan breaks among them
    (``violations``, the evaluator's count, as a stored plan's KPIs carry it)."""
    problem, _ = plan_problem(session, row)
    kpis = kpis_of(session, row, team_id, problem)
    plan = load_plan(session, row.plan_id)
    if team_id is not None:
        problem = dataclasses.replace(
            problem,
            clinicians=tuple(c for c in problem.clinicians if c.team_id == team_id),
            visits=tuple(v for v in problem.visits if v.team_id == team_id),
        )
        mine = {c.clinician_id for c in problem.clinicians}
        wanted = {v.visit_id for v in problem.visits}
        plan = dataclasses.replace(
            plan,
            routes=tuple(r for r in plan.routes if r.clinician_id in mine),
            unscheduled=tuple(u for u in plan.unscheduled if u.visit_id in wanted),
        )
    checked = evaluate(problem, plan, travel_with_roads(settings), check_missed=False)
    kpis["violations"] = len(checked.broken)
    plain: dict[str, Any] = json.loads(json.dumps(kpis, default=str))
    return plain


@router.get(
    "/{plan_id}/routes/{clinician_id:path}/{date}",
    response_model=RouteView,
    responses={404: {"description": "Not found"}},
)
def get_route(
    request: Request,
    plan_id: RowId,
    clinician_id: str,
    date: PlanningDate,
    user: CurrentUser,
    session: DbSession,
) -> RouteView:
    """A clinician's route on a day: stops in order, times, travel, the visit's purpose."""
    plan = plan_visible(session, user, plan_id)
    plan_clinician(session, user, plan, clinician_id)
    view = route_view(
        session, plan, clinician_id, date, full_names=user.role is not UserRole.CLINICIAN
    )
    audit(request, user, "read route", resident_ids_of(view), f"plan {plan_id} {date}")
    return view


def _editable(session: Session, user: Principal, plan_id: RowId) -> PlanRow:
    row = plan_visible(session, user, plan_id)
    if row.status != PlanStatus.DRAFT.value:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"plan {plan_id} is {row.status}; only drafts change (re-plan for a new draft)",
        )
    return row


@router.get(
    "/{plan_id}/pins", response_model=list[PinView], responses={404: {"description": "Not found"}}
)
def list_pins(plan_id: RowId, user: Editors, session: DbSession) -> list[PinView]:
    """The visits fixed on this plan."""
    plan_visible(session, user, plan_id)
    return [_pin_view(r) for r in plan_reads.plan_pins(session, plan_id)]


def _pin_view(row: PlanPinRow) -> PinView:
    start = None if row.start_min is None else f"{row.start_min // 60:02d}:{row.start_min % 60:02d}"
    return PinView(
        visit_id=row.visit_id,
        kind=row.kind,
        clinician_id=row.clinician_id,
        date=row.visit_date,
        start=start,
        set_by=row.set_by,
    )


@router.put(
    "/{plan_id}/pins",
    response_model=PinView,
    responses={404: {"description": "Not found"}, 409: {"description": "Not a draft"}},
)
def set_pin(plan_id: RowId, body: PinRequest, user: Editors, session: DbSession) -> PinView:
    """Pin, lock or remove a visit; the next re-solve keeps it so (固定/锁定/移出)."""
    plan = _editable(session, user, plan_id)
    team = plan_reads.visit_team(session, plan_id, body.visit_id)
    if team is None or (user.role is UserRole.TEAM_LEADER and team != user.team_id):
        raise not_found("visit", body.visit_id)
    clinician_id, day, start = body.clinician_id, body.date, None
    if body.kind == "lock":
        stop = plan_reads.plan_stop(session, plan_id, body.visit_id)
        if stop is None:
            raise invalid("body.kind", f"visit {body.visit_id} is not on a route: pin it instead")
        clinician_id, day, start = stop.clinician_id, stop.visit_date, stop.start_min
    elif body.kind == "pin":
        if clinician_id is None or day is None:
            raise invalid("body.clinician_id", "a pin needs clinician_id and date")
        plan_clinician(session, user, plan, clinician_id)
        if not plan.week_start <= day < plan.week_start + dt.timedelta(days=7):
            raise invalid("body.date", f"{day} is not in the week of {plan.week_start}")
        if body.start is not None:
            hours, minutes = body.start.split(":")
            start = int(hours) * 60 + int(minutes)
    else:
        clinician_id, day = None, None
    row = store_pin(
        session, plan_id, body.visit_id, PinKind(body.kind), user.username, clinician_id, day, start
    )
    session.commit()
    return _pin_view(row)


@router.delete(
    "/{plan_id}/pins/{visit_id:path}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"description": "Not found"}},
)
def clear_pin(plan_id: RowId, visit_id: str, user: Editors, session: DbSession) -> Response:
    """Let the solver place this visit freely again."""
    _editable(session, user, plan_id)
    team = plan_reads.visit_team(session, plan_id, visit_id)
    if team is None or (user.role is UserRole.TEAM_LEADER and team != user.team_id):
        raise not_found("visit", visit_id)
    if not delete_pin(session, plan_id, visit_id):
        raise not_found("pin of visit", visit_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{plan_id}/resolve",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobView,
    responses={404: {"description": "Not found"}, 409: {"description": "Not a draft, or busy"}},
)
def resolve(
    request: Request,
    plan_id: RowId,
    body: Resolve,
    user: Editors,
    session: DbSession,
    settings: ServiceSettings,
) -> JobView:
    """Re-plan the week around the pins, as a job (the result is a new draft) (重新排班)."""
    plan = _editable(session, user, plan_id)
    return queue_resolve_job(request, session, settings, user, plan, body.time_limit_s)


def queue_resolve_job(
    request: Request,
    session: Session,
    settings: ServiceSettings,
    user: Principal,
    plan: PlanRow,
    time_limit_s: float | None,
) -> JobView:
    """Queue the re-plan of the draft ``plan`` around its pins (a team leader's: his team's),
    for the JSON route and the week page's button."""
    return queue_job(
        request,
        session,
        settings,
        user,
        centre_id=plan.centre_id,
        week_start=plan.week_start,
        team_id=user.team_id if user.role is UserRole.TEAM_LEADER else None,
        options={"kind": "plan", "time_limit_s": time_limit_s},
        base_plan_id=plan.plan_id,
    )


@router.post(
    "/{plan_id}/approve",
    response_model=PlanSummary,
    responses={404: {"description": "Not found"}, 409: {"description": "Changed meanwhile"}},
)
def approve(
    request: Request, plan_id: RowId, body: Approval, user: Editors, session: DbSession
) -> PlanSummary:
    """Approve the draft you looked at; nurses see approved plans only (审核通过)."""
    row = plan_visible(session, user, plan_id)
    try:
        approve_plan(session, row, body.revision)
    except RefusedError as exc:
        raise HTTPException(exc.status_code, detail=exc.en) from None
    request.app.state.read_cache.clear()  # nurses see the approved plan at once (here)
    session.refresh(row)
    return PlanSummary(**_summary(row))


EXPORT_COLUMNS_ZH = {
    "visit_date": "日期 date",
    "clinician_id": "医护人员 clinician",
    "clinician_name": "姓名 name",
    "sequence": "顺序 order",
    "arrival": "到达 arrival",
    "start": "开始 start",
    "end": "结束 end",
    "programme": "服务项目 programme",
    "resident_id": "居民编号 resident",
    "resident_name": "居民 resident name",
    "address": "地址 address",
    "phone": "电话 phone",
    "travel_min": "路程(分钟) travel min",
    "travel_km": "路程(公里) travel km",
    "visit_id": "上门编号 visit",
}


@router.get(
    "/{plan_id}/export",
    responses={
        200: {
            "content": {
                "text/csv": {},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
            },
            "description": "The plan's stops, with Chinese (and English) headers",
        },
        404: {"description": "Not found"},
    },
    response_class=Response,
)
def export_plan(
    request: Request,
    plan_id: RowId,
    user: Editors,
    session: DbSession,
    format: Annotated[Literal["csv", "xlsx"], Query()] = "csv",
) -> Response:
    """The plan's stops as CSV (UTF-8 with BOM, opens in Excel) or XLSX (导出)."""
    row = plan_visible(session, user, plan_id)
    mine = plan_reads.team_clinicians(session, user)
    stops = plan_reads.export_stops(session, plan_id)
    records = []
    for stop, clinician_name, resident_name, address, phone in stops:
        if mine is not None and stop.clinician_id not in mine:
            continue
        records.append(
            {
                "visit_date": stop.visit_date.isoformat(),
                "clinician_id": stop.clinician_id,
                "clinician_name": clinician_name,
                "sequence": stop.sequence,
                "arrival": f"{stop.arrival_min // 60:02d}:{stop.arrival_min % 60:02d}",
                "start": f"{stop.start_min // 60:02d}:{stop.start_min % 60:02d}",
                "end": f"{stop.end_min // 60:02d}:{stop.end_min % 60:02d}",
                "programme": stop.programme,
                "resident_id": stop.resident_id or stop.committee_id or "",
                "resident_name": resident_name or "",
                "address": address or "",
                "phone": phone or "",
                "travel_min": stop.travel_min,
                "travel_km": stop.travel_km,
                "visit_id": stop.visit_id,
            }
        )
    audit(request, user, "export plan", [str(r["resident_id"]) for r in records], f"plan {plan_id}")
    name = f"plan-{row.centre_id}-{row.week_start}-v{row.version}"
    if format == "xlsx":
        return Response(
            _xlsx(records),
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    # Text that could start a formula is neutralised (scheduler.cells); numbers stay numbers.
    safe = [{k: neutralise_cell(v) for k, v in r.items()} for r in records]
    frame = pd.DataFrame(safe, columns=list(EXPORT_COLUMNS_ZH)).rename(columns=EXPORT_COLUMNS_ZH)
    text = frame.to_csv(index=False)
    return Response(
        ("\ufeff" + text).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def _xlsx(records: list[dict[str, Any]]) -> bytes:
    """The stops as a workbook: every text a string cell, never a formula.

    openpyxl takes any string starting with ``=`` for a formula; text is neutralised
    (scheduler.cells) and typed as a string, and the control characters a workbook cannot hold
    (a NUL typed into a register) are shown as U+FFFD instead of failing the export.
    """
    book = Workbook(write_only=True)
    sheet = book.create_sheet("计划 plan")
    sheet.append(list(EXPORT_COLUMNS_ZH.values()))
    for record in records:
        cells = []
        for column in EXPORT_COLUMNS_ZH:
            value = record[column]
            if isinstance(value, str):
                text = ILLEGAL_CHARACTERS_RE.sub("\ufffd", str(neutralise_cell(value)))
                cell = WriteOnlyCell(sheet, value=text)
                cell.data_type = "s"
            else:
                cell = WriteOnlyCell(sheet, value=value)
            cells.append(cell)
        sheet.append(cells)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
