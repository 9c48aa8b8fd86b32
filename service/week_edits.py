"""The team leader's edits of a week, for the pages (the routers only map requests to these).

- :func:`visit_details`: a visit of a plan as the user may see it: the resident, why it is due
  (rule, last visit, due by, urgency), its windows, where it is, its pin, and who else could do
  it on each day (the evaluator's insertion search on the plan without it);
- :func:`try_move`, :func:`apply_move`, :func:`apply_removal`, :func:`set_lock`,
  :func:`clear_pin`: move a visit (check first, or apply to the draft with the form's
  revision), take it out, lock it, free it; the verdict is :func:`scheduler.edits.verdict`;
- :func:`new_draft`: an approved plan copied as the next draft version;
- :func:`week_versions`, :func:`compare_versions`: the versions of the week and what changed
  between two of them, always from the older to the newer;
- :func:`approve`: publish a draft with the optimistic lock.

Refusals are :class:`RefusedError` with a Chinese and an English message and the HTTP status the
pages answer with.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from maps.base import mask_name
from maps.compare import ChangeKind, plan_changes
from scheduler.edits import Broken, EditError, Verdict, move_visit, remove_visit, verdict, who_could
from scheduler.evaluate import evaluate
from scheduler.evaluation.results import RULE_NAMES
from scheduler.model import Plan, Problem, Visit, age_in_years, format_hhmm
from scheduler.programmes import builtin_programmes
from scheduler.travel import TravelTimeProvider
from service.api.views import plan_problem
from service.api.workspace import kpis_of
from service.db.plans import (
    PlanConflictError,
    PlanHandle,
    PlanStateError,
    load_plan,
    plan_versions,
    save_plan,
    set_status,
)
from service.db.tables import (
    ClinicianRow,
    PinKind,
    PlanPinRow,
    PlanRow,
    PlanStatus,
    PlanStopRow,
    PlanUnscheduledRow,
    ResidentRow,
    UserRole,
)
from service.roads import travel_with_roads
from service.settings import Settings
from service.users import Principal

__all__ = [
    "RefusedError",
    "VisitDetails",
    "apply_move",
    "apply_removal",
    "approve",
    "clear_pin",
    "compare_versions",
    "new_draft",
    "old_to_new",
    "set_lock",
    "store_pin",
    "try_move",
    "visit_details",
    "week_versions",
]

WEEKDAYS_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
URGENCY = {
    "overdue": ("已逾期", "overdue"),
    "due": ("本周应访", "due"),
    "optional": ("可提前", "optional"),
}
PIN_NAMES = {
    "pin": ("已固定", "pinned"),
    "lock": ("已锁定", "locked"),
    "remove": ("已移出", "taken out"),
}
ROLE_NAMES = {
    "doctor": ("医生", "doctor"),
    "nurse": ("护士", "nurse"),
    "assistant": ("助理", "assistant"),
    "rehab": ("康复师", "rehab"),
}


class RefusedError(Exception):
    """An edit the page refuses, in Chinese and English, with the status it answers with."""

    def __init__(self, zh: str, en: str, status_code: int = 409) -> None:
        super().__init__(en)
        self.zh, self.en, self.status_code = zh, en, status_code


def _not_found(what_zh: str, what_en: str, object_id: object) -> RefusedError:
    return RefusedError(f"没有{what_zh} {object_id}", f"no {what_en} {object_id}", 404)


def _day_words(day: dt.date) -> tuple[str, str]:
    return WEEKDAYS_ZH[day.weekday()], WEEKDAYS_EN[day.weekday()]


# --------------------------------------------------------------------------------------------
# What the pages show of a visit
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResidentCard:
    """The resident as a team leader (or admin) may see him (the full record, as the API's)."""

    resident_id: str
    name: str
    sex: str
    age: int
    address: str
    phone: str
    conditions: str
    disability: str
    availability: str


@dataclass(frozen=True, slots=True)
class Placement:
    clinician_id: str
    clinician_name: str
    day: dt.date
    day_zh: str
    day_en: str
    start: str
    end: str


@dataclass(frozen=True, slots=True)
class Window:
    day: dt.date
    day_zh: str
    day_en: str
    times: str


@dataclass(frozen=True, slots=True)
class OptionRow:
    """A clinician who could do the visit, with each day of the week: a start time where there
    is room, else why not (Chinese, English)."""

    clinician_id: str
    name: str
    role_zh: str
    role_en: str
    cells: tuple[tuple[dt.date, str, str, bool], ...]  # (day, zh, en, room)


@dataclass
class VisitDetails:
    """A visit of a plan, for its page."""

    plan: PlanRow
    visit_id: str
    programme_zh: str
    programme_en: str
    duration_min: int
    joint: bool
    resident: ResidentCard | None
    committee_id: str
    urgency_zh: str
    urgency_en: str
    due_by: dt.date
    last_visit: dt.date | None
    rule_zh: str
    rule_en: str
    limit_zh: str
    limit_en: str
    windows: list[Window]
    placed: list[Placement]
    left_out_zh: str
    left_out_en: str
    pin_zh: str
    pin_en: str
    pin_kind: str
    options: list[OptionRow]
    days: list[tuple[dt.date, str, str]]
    clinicians: list[tuple[str, str]]  # the team's, for the move form
    current: tuple[Broken, ...]  # the rules the visit breaks where it is now
    resident_ids: list[str] = dataclasses.field(default_factory=list)

    @property
    def editable(self) -> bool:
        return self.plan.status == PlanStatus.DRAFT.value


def _team(user: Principal) -> str | None:
    return user.team_id if user.role is UserRole.TEAM_LEADER else None


def _visit_of(problem: Problem, user: Principal, visit_id: str) -> Visit:
    """The visit of the week, if it is the user's team's (else 404, as for any unknown id)."""
    visit = next((v for v in problem.visits if v.visit_id == visit_id), None)
    team = _team(user)
    if visit is None or (team is not None and visit.team_id != team):
        raise _not_found("上门", "visit", visit_id)
    return visit


def _world(settings: Settings, session: Session, plan: PlanRow) -> tuple[Problem, Plan, Any]:
    problem, _ = plan_problem(session, plan)
    return problem, load_plan(session, plan.plan_id), travel_with_roads(settings)


def _resident_card(session: Session, resident_id: str, today: dt.date) -> ResidentCard | None:
    row = session.get(ResidentRow, resident_id)
    if row is None:
        return None
    disability = {"none": "无 none", "semi": "半失能 semi-disabled", "full": "失能 disabled"}
    return ResidentCard(
        resident_id=row.resident_id,
        name=row.name,
        sex=row.sex,
        age=age_in_years(row.birth_date, today),
        address=row.address,
        phone=row.phone,
        conditions=row.conditions.replace(";", "、"),
        disability=disability.get(row.disability, row.disability),
        availability=row.availability,
    )


def _current_breaks(
    problem: Problem, plan: Plan, travel: TravelTimeProvider, visit_id: str
) -> tuple[Broken, ...]:
    """The hard rules the stored plan breaks about this visit or on its days (the evaluator's)."""
    days = {(s.clinician_id, s.day) for s in plan.stops() if s.visit_id == visit_id}
    found = []
    for v in evaluate(problem, plan, travel, check_missed=False).broken:
        if v.visit_id == visit_id or (v.visit_id is None and (v.clinician_id, v.day) in days):
            zh, en = RULE_NAMES.get(v.rule, (v.rule, v.rule))
            found.append(Broken(v.rule, zh, en, v.message))
    return tuple(found)


def visit_details(
    session: Session,
    settings: Settings,
    user: Principal,
    plan: PlanRow,
    visit_id: str,
    today: dt.date,
) -> VisitDetails:
    """The visit's page (call after :func:`service.api.access.plan_visible`)."""
    problem, stored, travel = _world(settings, session, plan)
    visit = _visit_of(problem, user, visit_id)
    team = _team(user)
    names = {
        c.clinician_id: c.name
        for c in session.scalars(
            select(ClinicianRow).where(ClinicianRow.centre_id == plan.centre_id)
        )
    }
    programme = builtin_programmes().get(visit.programme)
    basis = visit.basis
    stop_row = session.scalar(
        select(PlanStopRow).where(
            PlanStopRow.plan_id == plan.plan_id, PlanStopRow.visit_id == visit_id
        )
    )
    left_row = session.scalar(
        select(PlanUnscheduledRow).where(
            PlanUnscheduledRow.plan_id == plan.plan_id, PlanUnscheduledRow.visit_id == visit_id
        )
    )
    row = stop_row or left_row
    urgency = row.urgency if row is not None and row.urgency else visit.urgency.name.lower()
    pin = session.scalar(
        select(PlanPinRow).where(
            PlanPinRow.plan_id == plan.plan_id, PlanPinRow.visit_id == visit_id
        )
    )
    pin_zh, pin_en = PIN_NAMES.get(pin.kind, ("", "")) if pin else ("", "")
    if pin is not None and pin.clinician_id and pin.visit_date:
        at = f" {format_hhmm(pin.start_min)}" if pin.start_min is not None else ""
        where = f"{names.get(pin.clinician_id, pin.clinician_id)} · {pin.visit_date}{at}"
        pin_zh, pin_en = f"{pin_zh}：{where}", f"{pin_en}: {where}"
    placed = [
        Placement(
            s.clinician_id,
            names.get(s.clinician_id, s.clinician_id),
            s.day,
            *_day_words(s.day),
            format_hhmm(s.start_min),
            format_hhmm(s.end_min),
        )
        for s in stored.stops()
        if s.visit_id == visit_id
    ]
    roles = {c.clinician_id: c.role.value for c in problem.clinicians}
    by_clinician: dict[str, list[tuple[dt.date, str, str, bool]]] = {}
    for option in who_could(problem, stored, travel, visit_id, team):
        if option.start_min is not None:
            text = (
                f"有空 {format_hhmm(option.start_min)}",
                f"room {format_hhmm(option.start_min)}",
            )
        else:
            text = {
                "off": ("休息", "off"),
                "window": ("不可上门", "no window"),
                "full": ("已满", "full"),
            }[option.why]
        by_clinician.setdefault(option.clinician_id, []).append(
            (option.day, text[0], text[1], option.start_min is not None)
        )
    options = [
        OptionRow(
            cid,
            names.get(cid, cid),
            *ROLE_NAMES.get(roles.get(cid, ""), (roles.get(cid, ""), roles.get(cid, ""))),
            tuple(cells),
        )
        for cid, cells in sorted(by_clinician.items())
    ]
    resident = _resident_card(session, visit.resident_id, today) if visit.resident_id else None
    limit_zh = basis.time_limit_zh if basis else ""
    limit_en = basis.time_limit_en if basis else ""
    if basis is not None:
        limit_zh += f" {basis.time_limit}"
        limit_en += f" {basis.time_limit}"
    return VisitDetails(
        plan=plan,
        visit_id=visit_id,
        programme_zh=programme.name_zh if programme else visit.programme,
        programme_en=programme.name_en if programme else visit.programme,
        duration_min=visit.duration_min,
        joint=visit.is_joint,
        resident=resident,
        committee_id=visit.committee_id or "",
        urgency_zh=URGENCY.get(urgency, (urgency, urgency))[0],
        urgency_en=URGENCY.get(urgency, (urgency, urgency))[1],
        due_by=visit.due_by,
        last_visit=basis.last_visit if basis else (row.last_visit if row is not None else None),
        rule_zh=basis.rule_zh if basis else (row.rule_zh if row is not None else ""),
        rule_en=basis.rule_en if basis else (row.rule_en if row is not None else ""),
        limit_zh=limit_zh,
        limit_en=limit_en,
        windows=[
            Window(
                w.day, *_day_words(w.day), f"{format_hhmm(w.start_min)}–{format_hhmm(w.end_min)}"
            )
            for w in sorted(visit.windows, key=lambda w: (w.day, w.start_min))
        ],
        placed=placed,
        left_out_zh=left_row.reason_zh if left_row is not None else "",
        left_out_en=left_row.reason if left_row is not None else "",
        pin_zh=pin_zh,
        pin_en=pin_en,
        pin_kind=pin.kind if pin else "",
        options=options,
        days=[(d, *_day_words(d)) for d in problem.days],
        clinicians=sorted(
            (c.clinician_id, c.name)
            for c in problem.clinicians
            if team is None or c.team_id == team
        ),
        current=_current_breaks(problem, stored, travel, visit_id),
        resident_ids=[visit.resident_id] if visit.resident_id else [],
    )


# --------------------------------------------------------------------------------------------
# Edits of a draft
# --------------------------------------------------------------------------------------------


def _draft(plan: PlanRow) -> None:
    if plan.status != PlanStatus.DRAFT.value:
        raise RefusedError(
            "只有草稿可以修改：已审核的计划请先“生成新草稿”",
            f"plan {plan.plan_id} is {plan.status}; only drafts change (make a new draft first)",
        )


def _handle(session: Session, plan: PlanRow, revision: int) -> PlanHandle:
    found = next(
        h
        for h in plan_versions(session, plan.centre_id, plan.week_start)
        if h.plan_id == plan.plan_id
    )
    if found.revision != revision:
        raise RefusedError(
            f"此计划在您打开后已被修改（您看到的是第 {revision} 次修订，"
            f"现在是第 {found.revision} 次）：请刷新页面，核对后再操作",
            f"plan {plan.plan_id} changed since you loaded revision {revision} (it is now "
            f"revision {found.revision}): reload it and check it again",
        )
    return found


def _clinician_of_team(session: Session, user: Principal, plan: PlanRow, clinician_id: str) -> None:
    row = session.get(ClinicianRow, clinician_id)
    team = _team(user)
    if row is None or row.centre_id != plan.centre_id or (team is not None and row.team_id != team):
        raise _not_found("医护人员", "clinician", clinician_id)


def _week_day(plan: PlanRow, day: dt.date) -> None:
    if not plan.week_start <= day < plan.week_start + dt.timedelta(days=7):
        raise RefusedError(
            f"{day} 不在本周（{plan.week_start} 起）",
            f"{day} is not in the week of {plan.week_start}",
            422,
        )


def try_move(
    session: Session,
    settings: Settings,
    user: Principal,
    plan: PlanRow,
    visit_id: str,
    clinician_id: str,
    day: dt.date,
    start_min: int | None,
) -> tuple[Plan, Verdict, dict[str, object]]:
    """The plan with the visit moved, the evaluator's verdict on the move and the new KPIs
    (nothing is stored)."""
    problem, stored, travel = _world(settings, session, plan)
    _visit_of(problem, user, visit_id)
    _clinician_of_team(session, user, plan, clinician_id)
    _week_day(plan, day)
    try:
        moved = move_visit(problem, stored, travel, visit_id, clinician_id, day, start_min)
    except EditError as exc:
        raise RefusedError(exc.zh, exc.en, 422) from None
    found, kpis = verdict(problem, stored, moved, travel)
    return moved, found, kpis


def _plain(kpis: dict[str, object]) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(json.dumps(kpis, default=str))
    return loaded


def _save(
    session: Session,
    settings: Settings,
    user: Principal,
    plan: PlanRow,
    revision: int,
    changed: Plan,
    kpis: dict[str, object],
) -> None:
    handle = _handle(session, plan, revision)
    problem, _ = plan_problem(session, plan)
    try:
        save_plan(
            session,
            problem,
            changed,
            plan.centre_id,
            base=handle,
            saved_by=user.username,
            kpis=_plain(kpis),
        )
    except PlanConflictError as exc:
        session.rollback()
        raise RefusedError(
            "此计划在您打开后已被他人修改，未保存任何更改：请刷新页面后重试", str(exc)
        ) from None


def store_pin(
    session: Session,
    plan_id: int,
    visit_id: str,
    kind: PinKind,
    set_by: str,
    clinician_id: str | None = None,
    day: dt.date | None = None,
    start_min: int | None = None,
) -> PlanPinRow:
    """Keep a decision about a visit with the plan (replacing the one it had); the next
    re-plan keeps it so. The caller commits."""
    session.execute(
        delete(PlanPinRow).where(PlanPinRow.plan_id == plan_id, PlanPinRow.visit_id == visit_id)
    )
    row = PlanPinRow(
        plan_id=plan_id,
        visit_id=visit_id,
        kind=kind.value,
        clinician_id=clinician_id,
        visit_date=day,
        start_min=start_min,
        set_by=set_by,
        set_at=dt.datetime.now(dt.UTC),
    )
    session.add(row)
    return row


def apply_move(
    session: Session,
    settings: Settings,
    user: Principal,
    plan: PlanRow,
    revision: int,
    visit_id: str,
    clinician_id: str,
    day: dt.date,
    start_min: int | None,
) -> Verdict:
    """Move the visit in the draft (checked against ``revision``) and pin it there (the day,
    and the time if one was given), so that a re-plan keeps it; the verdict of the move."""
    _draft(plan)
    _handle(session, plan, revision)
    moved, found, kpis = try_move(
        session, settings, user, plan, visit_id, clinician_id, day, start_min
    )
    _save(session, settings, user, plan, revision, moved, kpis)
    store_pin(
        session, plan.plan_id, visit_id, PinKind.PIN, user.username, clinician_id, day, start_min
    )
    session.commit()
    return found


def apply_removal(
    session: Session,
    settings: Settings,
    user: Principal,
    plan: PlanRow,
    revision: int,
    visit_id: str,
) -> Verdict:
    """Take the visit out of the draft's week (a re-plan leaves it out too)."""
    _draft(plan)
    _handle(session, plan, revision)
    problem, stored, travel = _world(settings, session, plan)
    _visit_of(problem, user, visit_id)
    try:
        removed = remove_visit(problem, stored, travel, visit_id)
    except EditError as exc:
        raise RefusedError(exc.zh, exc.en, 422) from None
    found, kpis = verdict(problem, stored, removed, travel)
    _save(session, settings, user, plan, revision, removed, kpis)
    store_pin(session, plan.plan_id, visit_id, PinKind.REMOVE, user.username)
    session.commit()
    return found


def set_lock(
    session: Session, settings: Settings, user: Principal, plan: PlanRow, visit_id: str
) -> None:
    """Lock the visit where it is (clinician, day and start) for the next re-plan."""
    _draft(plan)
    problem, _ = plan_problem(session, plan)
    _visit_of(problem, user, visit_id)
    stop = session.scalar(
        select(PlanStopRow).where(
            PlanStopRow.plan_id == plan.plan_id, PlanStopRow.visit_id == visit_id
        )
    )
    if stop is None:
        raise RefusedError(
            "此上门不在路线上，无法锁定：请先把它移到某位医护人员的某一天",
            f"visit {visit_id} is not on a route: move it to a clinician's day first",
            422,
        )
    store_pin(
        session,
        plan.plan_id,
        visit_id,
        PinKind.LOCK,
        user.username,
        stop.clinician_id,
        stop.visit_date,
        stop.start_min,
    )
    session.commit()


def clear_pin(
    session: Session, settings: Settings, user: Principal, plan: PlanRow, visit_id: str
) -> None:
    """Let the next re-plan place the visit freely again."""
    _draft(plan)
    problem, _ = plan_problem(session, plan)
    _visit_of(problem, user, visit_id)
    delete_pin(session, plan.plan_id, visit_id)


def delete_pin(session: Session, plan_id: int, visit_id: str) -> bool:
    """Drop the visit's pin, lock or removal from the plan and commit; False if it had none."""
    result = session.execute(
        delete(PlanPinRow).where(PlanPinRow.plan_id == plan_id, PlanPinRow.visit_id == visit_id)
    )
    session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def pin_count(session: Session, plan_id: int) -> int:
    """How many decisions the next re-plan keeps."""
    return int(
        session.scalar(
            select(func.count()).select_from(PlanPinRow).where(PlanPinRow.plan_id == plan_id)
        )
        or 0
    )


# --------------------------------------------------------------------------------------------
# Versions: a new draft, the list, the comparison, approval
# --------------------------------------------------------------------------------------------


def new_draft(session: Session, settings: Settings, user: Principal, plan: PlanRow) -> PlanHandle:
    """The approved (or done) plan copied as the next version, a draft to edit."""
    if plan.status == PlanStatus.DRAFT.value:
        raise RefusedError(
            "这已经是草稿，可直接修改", f"plan {plan.plan_id} is already a draft: edit it"
        )
    versions = plan_versions(session, plan.centre_id, plan.week_start)
    latest = versions[-1]
    if latest.plan_id != plan.plan_id:
        raise RefusedError(
            f"本周已有更新的版本 v{latest.version}（{latest.status.value}）：请在那一版上修改",
            f"the week has a newer version v{latest.version} ({latest.status.value}): "
            "edit that one",
        )
    problem, _ = plan_problem(session, plan)
    try:
        handle = save_plan(
            session,
            problem,
            load_plan(session, plan.plan_id),
            plan.centre_id,
            base=latest,
            saved_by=user.username,
            kpis=plan.kpis,
        )
    except PlanConflictError as exc:
        session.rollback()
        raise RefusedError("本周计划刚被他人修改：请刷新页面后重试", str(exc)) from None
    session.commit()
    return handle


@dataclass(frozen=True, slots=True)
class VersionLine:
    plan_id: int
    version: int
    status: str
    revision: int
    saved_by: str
    updated_at: dt.datetime
    scheduled: object
    left_out: object
    travel_min: object
    pins: int


def week_versions(
    session: Session, settings: Settings, user: Principal, plan: PlanRow
) -> list[VersionLine]:
    """Every version of the plan's centre and week, newest first, with the figures the week
    page shows for it (a team leader: his team's)."""
    rows = session.scalars(
        select(PlanRow)
        .where(PlanRow.centre_id == plan.centre_id, PlanRow.week_start == plan.week_start)
        .order_by(PlanRow.version.desc())
    ).all()
    team = _team(user)
    problem: Problem | None = None  # the week's, built once for all the versions
    lines = []
    for row in rows:
        if team or not row.kpis:
            if problem is None:
                problem, _ = plan_problem(session, plan)
            kpis = kpis_of(session, row, team, problem)
        else:
            kpis = row.kpis
        lines.append(
            VersionLine(
                row.plan_id,
                row.version,
                row.status,
                row.revision,
                row.saved_by,
                row.updated_at,
                kpis.get("visits_scheduled", "–"),
                kpis.get("visits_unscheduled", "–"),
                kpis.get("travel_min_total", "–"),
                pin_count(session, row.plan_id),
            )
        )
    return lines


def old_to_new(plan_a: PlanRow, plan_b: PlanRow) -> tuple[PlanRow, PlanRow]:
    """Two versions of a week, the older first, whatever order they were given in."""

    def age(plan: PlanRow) -> tuple[dt.date, int, int]:
        return (plan.week_start, plan.version, plan.plan_id)

    return (plan_a, plan_b) if age(plan_a) <= age(plan_b) else (plan_b, plan_a)


@dataclass(frozen=True, slots=True)
class ChangeLine:
    kind: str
    kind_zh: str
    kind_en: str
    visit_id: str
    programme_zh: str
    programme_en: str
    resident: str
    before: str
    after: str


@dataclass
class Comparison:
    old: PlanRow
    new: PlanRow
    changes: list[ChangeLine]
    counts: dict[str, int]
    resident_ids: list[str]


def compare_versions(
    session: Session, settings: Settings, user: Principal, plan_a: PlanRow, plan_b: PlanRow
) -> Comparison:
    """What the newer of two versions drops, moves and adds against the older (a team leader:
    his team's routes), residents' names masked as on the week page."""
    if plan_a.centre_id != plan_b.centre_id or plan_a.week_start != plan_b.week_start:
        raise _not_found("同一周的版本", "version of the same week", plan_b.plan_id)
    old, new = old_to_new(plan_a, plan_b)
    plans = [load_plan(session, p.plan_id) for p in (old, new)]
    team = _team(user)
    clinicians = {
        c.clinician_id: c
        for c in session.scalars(
            select(ClinicianRow).where(ClinicianRow.centre_id == old.centre_id)
        )
    }
    if team is not None:
        mine = {cid for cid, c in clinicians.items() if c.team_id == team}
        plans = [
            dataclasses.replace(p, routes=tuple(r for r in p.routes if r.clinician_id in mine))
            for p in plans
        ]
    changes = plan_changes(plans[0], plans[1])
    stop_rows = session.execute(
        select(
            PlanStopRow.visit_id,
            PlanStopRow.resident_id,
            PlanStopRow.committee_id,
            PlanStopRow.programme,
        ).where(PlanStopRow.plan_id.in_([old.plan_id, new.plan_id]))
    ).all()
    about = {r.visit_id: (r.resident_id, r.programme) for r in stop_rows}
    committees = {r.visit_id: r.committee_id or "" for r in stop_rows}
    resident_ids = sorted({rid for rid, _ in about.values() if rid})
    names = {
        rid: mask_name(name)
        for rid, name in session.execute(
            select(ResidentRow.resident_id, ResidentRow.name).where(
                ResidentRow.resident_id.in_(resident_ids)
            )
        )
    }
    catalogue = builtin_programmes()
    words = {
        ChangeKind.DROPPED: ("取消", "dropped"),
        ChangeKind.MOVED: ("调整", "moved"),
        ChangeKind.ADDED: ("新增", "added"),
    }

    def who(clinician_id: str) -> str:
        found = clinicians.get(clinician_id)
        return found.name if found else clinician_id

    def where(assignments: tuple[Any, ...]) -> str:
        return "; ".join(
            f"{who(a.clinician_id)} "
            f"{WEEKDAYS_ZH[a.day.weekday()]} {a.day.strftime('%m-%d')} {format_hhmm(a.start_min)}"
            for a in assignments
        )

    lines = []
    for change in changes:
        resident_id, programme_id = about.get(change.visit_id, (None, ""))
        programme = catalogue.get(programme_id)
        lines.append(
            ChangeLine(
                kind=change.kind.value,
                kind_zh=words[change.kind][0],
                kind_en=words[change.kind][1],
                visit_id=change.visit_id,
                programme_zh=programme.name_zh if programme else programme_id,
                programme_en=programme.name_en if programme else programme_id,
                resident=names.get(resident_id or "", committees.get(change.visit_id, "")),
                before=where(change.before),
                after=where(change.after),
            )
        )
    counts = {kind.value: sum(1 for c in changes if c.kind is kind) for kind in ChangeKind}
    shown = sorted({about[c.visit_id][0] or "" for c in changes if c.visit_id in about} - {""})
    return Comparison(old, new, lines, counts, shown)


def approve(session: Session, plan: PlanRow, revision: int) -> PlanHandle:
    """Approve the draft the user looked at (its ``revision``); nurses then see it.

    Raises :class:`RefusedError` (409) when it changed meanwhile or cannot be approved.
    """
    handle = _handle(session, plan, revision)
    try:
        approved = set_status(session, handle, PlanStatus.APPROVED)
        session.commit()
    except (PlanConflictError, PlanStateError) as exc:
        session.rollback()
        raise RefusedError(
            "此计划不能审核：只有最新的草稿可以审核，或它刚被他人修改（请刷新页面）", str(exc)
        ) from None
    return approved
