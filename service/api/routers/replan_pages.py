"""The team leader's same-day changes in the browser (当天变更): the form on a plan, its job's
progress (the plan jobs' page), the changes to check before approving, and the approval.

- ``GET/POST /plans/{id}/same-day``: when (default now), who is absent (from that time, the
  whole day, or through a later day), who is running late, visits cancelled or postponed,
  urgent requests; the POST queues the re-plan (:func:`~service.api.routers.replans.
  start_replan_job`, the JSON route's checks) and opens its progress page;
- ``GET /plan-jobs/{id}/review``: each visit moved, dropped or added, from where to where and
  why, and the residents to tell (phones for the team leader; masked for an admin; audited);
- ``GET /plans/{id}/changes``: the review of the re-plan that made this version;
- ``POST /plans/{id}/approve-form``: the approval (with the revision the page showed).

Every form posts with the sign-in cookie and its CSRF token (:data:`CookieFormUser`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from maps.base import mask_name
from scheduler.model import format_hhmm
from scheduler.programmes import builtin_programmes
from service.api.access import audit, not_found, plan_visible
from service.api.deps import DbSession, RowId, ServiceSettings
from service.api.models import ReplanOut
from service.api.routers.jobs import job_visible
from service.api.routers.replans import replan_result, start_replan_job
from service.api.routers.workspace import PageUser, _in_words, _only
from service.api.web import CookieFormUser, render
from service.api.workspace import WEEKDAYS_EN, WEEKDAYS_ZH
from service.db.tables import (
    JobStatus,
    PlanRow,
    PlanStatus,
    UserRole,
)
from service.replan_job import (
    ReplanIn,
    centre_clinician_names,
    newest_replan_job_id,
    replan_form_rows,
    residents_by_id,
    visit_programmes,
)
from service.users import Principal
from service.week_edits import RefusedError
from service.week_edits import approve as approve_plan

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

VISIT_ROWS = 5  # visits cancelled or postponed, one per row
REQUEST_ROWS = 2  # urgent requests
SERVICES_ZH = {
    "catheter_care": "导尿管护理",
    "pressure_sore_care": "压疮护理",
    "infusion": "输液",
    "picc_maintenance": "PICC 维护",
    "tcm": "中医上门",
}
MOVES = ("moved_clinician", "moved_day", "shifted")
CHANGES_ZH = {
    "moved_clinician": ("换人", "another clinician"),
    "moved_day": ("改日", "another day"),
    "shifted": ("改时间", "another time"),
    "cancelled": ("取消", "cancelled"),
    "postponed": ("推迟", "postponed"),
    "unscheduled": ("退回待排", "back to the due list"),
    "added": ("新增", "added"),
}


def now() -> dt.datetime:
    """The service's local now (one place, so tests can set it)."""
    return dt.datetime.now()


@dataclass(frozen=True, slots=True)
class Choice:
    """An option of a select: its value and its text."""

    value: str
    text: str


def _day_text(day: dt.date) -> str:
    return f"{WEEKDAYS_ZH[day.weekday()]} {WEEKDAYS_EN[day.weekday()]} {day:%m-%d}"


def _editable_plan(session: DbSession, user: Principal, plan_id: int) -> PlanRow:
    """The plan of the form: a team leader's, of his centre (others: 403; out of sight: 404)."""
    _only(user, UserRole.TEAM_LEADER)
    return plan_visible(session, user, plan_id)


def _form_context(session: DbSession, user: Principal, plan: PlanRow) -> dict[str, Any]:
    """What the form offers: the week's days, the team's clinicians, visits and residents."""
    days = [plan.week_start + dt.timedelta(days=i) for i in range(7)]
    current = now()
    default_day = current.date() if current.date() in days else days[0]
    clinicians, residents, stops = replan_form_rows(session, user.team_id, plan)
    names = {c.clinician_id: c.name for c in clinicians}
    masked = {r.resident_id: mask_name(r.name) for r in residents}
    catalogue = builtin_programmes()
    seen: set[str] = set()
    visits = []
    for stop in stops:
        if stop.visit_id in seen:  # a joint visit: one choice
            continue
        seen.add(stop.visit_id)
        programme = catalogue.get(stop.programme)
        who = masked.get(stop.resident_id or "", stop.committee_id or "")
        visits.append(
            Choice(
                stop.visit_id,
                f"{_day_text(stop.visit_date)} {format_hhmm(stop.start_min)} · "
                f"{names.get(stop.clinician_id, stop.clinician_id)} · "
                f"{programme.name_zh if programme else stop.programme} · {who}",
            )
        )
    services = builtin_programmes()["special_service"].services
    skills = sorted({s for c in clinicians for s in c.skills.split(";") if s})
    return {
        "plan": plan,
        "days": [Choice(d.isoformat(), _day_text(d)) for d in days],
        "default_day": default_day.isoformat(),
        "default_at": f"{current:%H}:{current.minute - current.minute % 5:02d}",
        "clinicians": [Choice(c.clinician_id, f"{c.name} ({c.clinician_id})") for c in clinicians],
        "visits": visits,
        "residents": [
            Choice(r.resident_id, f"{masked[r.resident_id]} ({r.resident_id})") for r in residents
        ],
        "services": [
            Choice(sid, f"{SERVICES_ZH.get(sid, sid)} {sid} · {rule.duration_min} min")
            for sid, rule in services.items()
        ],
        "skills": skills,
        "visit_rows": range(VISIT_ROWS),
        "request_rows": range(REQUEST_ROWS),
        "resident_ids": [r.resident_id for r in residents],
    }


@router.get("/plans/{plan_id}/same-day", response_class=HTMLResponse)
def same_day_form(
    request: Request, plan_id: RowId, user: PageUser, session: DbSession
) -> HTMLResponse:
    """The form of same-day changes on a plan (team leader only)."""
    plan = _editable_plan(session, user, plan_id)
    context = _form_context(session, user, plan)
    audit(request, user, "read same-day form", context.pop("resident_ids"), f"plan {plan_id}")
    error = ""
    if plan.status not in (PlanStatus.APPROVED.value, PlanStatus.DRAFT.value):
        error = (
            f"此计划为 {plan.status}，请在最新版本上调整 / plan {plan_id} is {plan.status}: "
            "make the changes on the latest version of the week"
        )
    return render(request, user, "same_day.html", {**context, "error": error, "values": {}})


def _text(form: FormData, name: str) -> str:
    value = form.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def _texts(form: FormData, name: str) -> list[str]:
    return [v.strip() if isinstance(v, str) else "" for v in form.getlist(name)]


def body_of(form: FormData, plan_id: int) -> dict[str, Any]:
    """The form's fields as the JSON body of ``POST /plans/{id}/replan`` (blank rows skipped)."""
    day = _text(form, "date")
    body: dict[str, Any] = {"date": day, "at": _text(form, "at"), "absent": [], "late": []}
    body["cancel"], body["postpone"], body["requests"] = [], [], []
    rows = zip(
        _texts(form, "clinician"),
        _texts(form, "absent_mode"),
        _texts(form, "absent_until"),
        _texts(form, "late_until"),
        strict=False,
    )
    for clinician_id, mode, until, late in rows:
        if mode in ("from", "day"):
            body["absent"].append(
                {"clinician_id": clinician_id, "whole_day": mode == "day", "until": until or None}
            )
        if late:
            body["late"].append({"clinician_id": clinician_id, "free_at": late})
    visits = zip(
        _texts(form, "visit"), _texts(form, "visit_action"), _texts(form, "visit_to"), strict=False
    )
    for visit_id, action, to in visits:
        if not visit_id:
            continue
        if action == "postpone":
            body["postpone"].append({"visit_id": visit_id, "to": to})
        else:
            body["cancel"].append(visit_id)
    stamp = f"{now():%Y%m%d%H%M%S}"
    for index in range(REQUEST_ROWS):
        resident = _text(form, f"req_resident_{index}")
        if not resident:
            continue
        first = _text(form, f"req_from_{index}") or day
        body["requests"].append(
            {
                # An id of the plan and the moment only (no personal data in ids).
                "request_id": f"sd-{plan_id}-{stamp}-{index + 1}",
                "resident_id": resident,
                "service": _text(form, f"req_service_{index}"),
                "earliest_date": first,
                "latest_date": _text(form, f"req_to_{index}") or first,
                "window_start": _text(form, f"req_start_{index}"),
                "window_end": _text(form, f"req_end_{index}"),
                "duration_min": _whole(_text(form, f"req_duration_{index}")),
                "skills": [s for s in _texts(form, f"req_skills_{index}") if s],
            }
        )
    return body


def _whole(text: str) -> int | str:
    return int(text) if text.isdigit() else text  # not a number: the model says so, by name


FIELD_NAMES = {
    "date": "日期 date",
    "at": "时间 time",
    "absent": "缺勤 absent",
    "late": "延误 running late",
    "cancel": "取消 cancelled",
    "postpone": "推迟 postponed",
    "requests": "紧急申请 urgent request",
}


def _validation_words(exc: ValidationError) -> str:
    """The first problem of the form, naming the field as the form shows it."""
    first = exc.errors()[0]
    where = [str(part) for part in first["loc"]]
    label = FIELD_NAMES.get(where[0], where[0]) if where else ""
    row = (
        f" (第 {int(where[1]) + 1} 行 row {int(where[1]) + 1})"
        if len(where) > 1 and where[1].isdigit()
        else ""
    )
    field = f" · {where[-1]}" if len(where) > 2 else ""
    value = first.get("input")
    shown = f" “{value}”" if isinstance(value, str | int) and value != "" else ""
    return f"{label}{row}{field}{shown}: {first['msg']}"


@router.post("/plans/{plan_id}/same-day", response_model=None)
async def same_day_start(
    request: Request,
    plan_id: RowId,
    user: CookieFormUser,
    session: DbSession,
    settings: ServiceSettings,
) -> Response:
    """Queue the re-plan of the changes; then its progress page (or the form, with why not)."""
    plan = _editable_plan(session, user, plan_id)
    form = await request.form()
    raw = body_of(form, plan_id)
    try:
        body = ReplanIn.model_validate(raw)
        job = start_replan_job(request, session, settings, user, plan, body)
    except ValidationError as exc:
        return _form_again(request, user, session, plan, _validation_words(exc), 422, form)
    except HTTPException as exc:
        if exc.status_code == status.HTTP_404_NOT_FOUND:
            raise
        return _form_again(request, user, session, plan, _in_words(exc), exc.status_code, form)
    return RedirectResponse(f"/plan-jobs/{job.job_id}/progress", status.HTTP_303_SEE_OTHER)


def _form_again(
    request: Request,
    user: Principal,
    session: DbSession,
    plan: PlanRow,
    error: str,
    status_code: int,
    form: FormData,
) -> HTMLResponse:
    context = _form_context(session, user, plan)
    context.pop("resident_ids")
    values = {key: _texts(form, key) for key in form if key != "csrf_token"}
    return render(
        request,
        user,
        "same_day.html",
        {**context, "error": error, "values": values},
        status_code=status_code,
    )


@router.get("/plan-jobs/{job_id}/review", response_model=None)
def review_page(request: Request, job_id: RowId, user: PageUser, session: DbSession) -> Response:
    """The changes of a re-plan, to check and to tell, before approving its draft."""
    _only(user, UserRole.TEAM_LEADER, UserRole.ADMIN)
    job = job_visible(session, user, job_id)
    if job.options.get("kind") != "replan":
        raise not_found("re-plan job", job_id)
    if job.status != JobStatus.DONE.value or job.plan_id is None or job.result is None:
        return RedirectResponse(f"/plan-jobs/{job_id}/progress", status.HTTP_303_SEE_OTHER)
    out = replan_result(session, user, job)
    rows = _review_rows(session, out)
    audit(
        request,
        user,
        "read re-plan changes",
        [c.resident_id for c in out.changes if c.resident_id],
        f"job {job_id} plan {out.plan.plan_id}",
    )
    return render(
        request,
        user,
        "replan_review.html",
        {
            "out": out,
            "rows": rows,
            "can_approve": out.plan.status == PlanStatus.DRAFT.value,
            "summary": out.summary,
        },
    )


@dataclass(frozen=True, slots=True)
class ReviewRow:
    """A change as the page lists it."""

    kind: str
    kind_zh: str
    kind_en: str
    what: str  # the programme and the resident (masked name)
    before: str
    after: str
    why_zh: str
    why_en: str
    resident_id: str
    phone: str
    moved_needlessly: bool  # moved though the events left it its place


def _review_rows(session: DbSession, out: ReplanOut) -> list[ReviewRow]:
    ids = {c.resident_id for c in out.changes if c.resident_id}
    names = {i: mask_name(r.name) for i, r in residents_by_id(session, ids).items()}
    visit_ids = [c.visit_id for c in out.changes if c.visit_id]
    programme_of = visit_programmes(session, [out.plan.plan_id, out.base_plan_id], visit_ids)
    clinicians = centre_clinician_names(session, out.plan.centre_id)
    catalogue = builtin_programmes()
    rows = []
    for change in out.changes:
        programme = catalogue.get(programme_of.get(change.visit_id, ""))
        label = f"{programme.name_zh} {programme.name_en}" if programme else ""
        zh, en = CHANGES_ZH.get(change.change, (change.change, change.change))
        who = names.get(change.resident_id or "", "")
        # The scheduler words a reason "English / 中文" (changes.csv): the page puts 中文 first.
        why_en, _, why_zh = _named(change.why, clinicians).partition(" / ")
        rows.append(
            ReviewRow(
                change.change,
                zh,
                en,
                f"{label} · {who}" if who else label,
                _placement(change.from_, clinicians),
                _placement(change.to, clinicians),
                why_zh,
                why_en,
                change.resident_id or "",
                change.phone or "",
                change.change in MOVES and not change.had_to_move,
            )
        )
    return rows


def _named(text: str, clinicians: dict[str, str]) -> str:
    """``text`` with each clinician's id as her name (the longest ids first)."""
    for clinician_id in sorted(clinicians, key=len, reverse=True):
        text = text.replace(clinician_id, clinicians[clinician_id])
    return text


def _placement(text: str, clinicians: dict[str, str]) -> str:
    """``MH03-T1-N 2026-12-01 10:30`` as ``徐琼 周二 12-01 10:30`` (a bare date too; a joint
    visit's ``A+B`` as both names)."""
    parts = text.split()
    for index, part in enumerate(parts):
        if index == 0 and len(parts) == 3:
            parts[0] = "+".join(clinicians.get(c, c) for c in part.split("+"))
            continue
        try:
            day = dt.date.fromisoformat(part)
        except ValueError:
            continue
        parts[index] = f"{WEEKDAYS_ZH[day.weekday()]} {day:%m-%d}"
    return " ".join(parts)


@router.get("/plans/{plan_id}/changes", response_model=None)
def plan_changes(plan_id: RowId, user: PageUser, session: DbSession) -> Response:
    """The review of the newest re-plan that made this version (404 if none did)."""
    _only(user, UserRole.TEAM_LEADER, UserRole.ADMIN)
    plan_visible(session, user, plan_id)
    job_id = newest_replan_job_id(session, plan_id)
    if job_id is not None:
        job_visible(session, user, job_id)
        return RedirectResponse(f"/plan-jobs/{job_id}/review", status.HTTP_303_SEE_OTHER)
    raise not_found("re-plan of plan", plan_id)


@router.post("/plans/{plan_id}/approve-form", response_model=None)
def approve_form(
    request: Request,
    plan_id: RowId,
    user: CookieFormUser,
    session: DbSession,
    revision: Annotated[int, Form(ge=1, le=2_147_483_647)],
) -> Response:
    """Approve the version the page showed (its revision); then its week."""
    _only(user, UserRole.TEAM_LEADER, UserRole.ADMIN)
    plan = plan_visible(session, user, plan_id)
    try:
        approve_plan(session, plan, revision)
    except RefusedError as exc:  # changed meanwhile, or not a draft: said in both languages
        return render(
            request,
            user,
            "approve_refused.html",
            {"plan_id": plan_id, "detail": exc.en, "detail_zh": exc.zh},
            status_code=exc.status_code,
        )
    request.app.state.read_cache.clear()  # nurses see the approved plan at once
    return RedirectResponse(f"/plans/{plan_id}/week", status.HTTP_303_SEE_OTHER)
