"""What the workspace pages show, read in one place (the routers only map requests to these).

- :func:`leader_week_plan`: the plan a team leader lands on (his centre's current or next week);
- :func:`week_view`: a plan's week as timelines per clinician and day (visits, travel, waiting,
  lunch, overtime), what is left out and why (Chinese and English), and the KPIs, narrowed to
  what the user may see (a team leader: his team's clinicians and residents);
- :func:`centres_overview`, :func:`users_list`: the planner's and the admin's lists.

Residents appear with masked names here: a timeline needs to tell visits apart, not to name
people in full (the route of a day, opened from it, is where full details are).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from maps.base import mask_name
from scheduler.evaluate import compute_kpis, explain_unscheduled
from scheduler.evaluation.reasons import LeftOutKind
from scheduler.model import Problem, format_hhmm, monday_of
from scheduler.programmes import builtin_programmes
from scheduler.travel import GreatCircleTravel
from service.api.models import RouteView
from service.api.nurse import OUTCOME_WORDS, recorded_outcomes
from service.api.views import plan_problem, route_view
from service.db.plans import PlanHandle, latest_plan, load_plan
from service.db.tables import (
    CentreRow,
    ClinicianRow,
    CommitteeRow,
    PlanRouteRow,
    PlanRow,
    PlanStopRow,
    PlanUnscheduledRow,
    ResidentRow,
    UserRole,
    UserRow,
)
from service.settings import Settings
from service.users import Principal

__all__ = [
    "Block",
    "Lane",
    "LeftOutItem",
    "RouteSheet",
    "WeekFilters",
    "WeekTable",
    "WeekView",
    "centres_overview",
    "kpis_of",
    "leader_week_plan",
    "route_sheets",
    "users_list",
    "week_table",
    "week_view",
]

WEEKDAYS_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

KPI_LABELS: tuple[tuple[str, str, str], ...] = (
    ("visits_due", "应访", "visits due"),
    ("visits_scheduled", "已安排", "scheduled"),
    ("visits_unscheduled", "未安排", "left out"),
    ("travel_min_total", "路程(分钟)", "travel min"),
    ("overtime_min_total", "加班(分钟)", "overtime min"),
    ("continuity_rate", "固定医生率", "continuity"),
    ("utilisation", "工时利用率", "utilisation"),
)


def leader_week_plan(session: Session, centre_id: str, today: dt.date) -> PlanHandle | None:
    """The newest plan of the centre's current week, else of the next week, else ``None``."""
    this_week = monday_of(today)
    return latest_plan(session, centre_id, this_week) or latest_plan(
        session, centre_id, this_week + dt.timedelta(days=7)
    )


@dataclass(frozen=True, slots=True)
class Block:
    """One span of a clinician's day on the timeline."""

    kind: str  # visit, travel, wait, lunch, overtime
    start_min: int
    end_min: int
    left_pct: float
    width_pct: float
    label: str = ""
    title: str = ""
    programme: str = ""
    outcome: str = ""  # a visit recorded: completed, not_home, refused, ...
    visit_id: str = ""  # a visit's block opens its details

    @property
    def times(self) -> str:
        return f"{format_hhmm(self.start_min)}–{format_hhmm(self.end_min)}"


@dataclass(frozen=True, slots=True)
class Lane:
    """A clinician's day: the blocks and the route's figures."""

    clinician_id: str
    clinician_name: str
    day: dt.date
    day_zh: str
    day_en: str
    blocks: tuple[Block, ...]
    stops: int
    depart: str
    back: str
    travel_min: int
    overtime_min: int


@dataclass(frozen=True, slots=True)
class LeftOutItem:
    """A due visit the plan leaves out, and why (Chinese and English)."""

    visit_id: str
    programme_zh: str
    programme_en: str
    resident: str
    due_by: dt.date
    reason_zh: str
    reason_en: str
    alarm: bool = True  # due or overdue (an alarm); False: optional or not due this week


@dataclass(frozen=True, slots=True)
class WeekFilters:
    """The page's GET filters (empty: everything in sight)."""

    clinician_id: str = ""
    day: dt.date | None = None
    programme: str = ""


@dataclass
class WeekView:
    """A plan's week as the user may see it."""

    plan: PlanRow
    team_id: str | None
    lanes: list[Lane]
    left_out: list[LeftOutItem]  # alarms first (the evaluator's order of kinds)
    kpis: list[tuple[str, str, str]]  # (zh, en, value)
    clinicians: list[tuple[str, str]]  # (id, name) for the filter
    days: list[tuple[dt.date, str, str]]
    programmes: list[tuple[str, str, str]]  # (id, zh, en)
    hour_marks: list[tuple[str, float]]
    resident_ids: list[str] = field(default_factory=list)  # shown: for the audit log


def _format_kpi(key: str, value: object) -> str:
    if value is None:
        return "–"
    if key in ("continuity_rate", "utilisation") and isinstance(value, int | float):
        return f"{value:.0%}"
    return str(value)


def _scale(start: int, end: int, first: int, last: int) -> tuple[float, float]:
    """Left edge and width (% of the track) of [start, end]: both edges from the same origin,
    so that a block ending when the next begins touches it and never runs over it."""
    span = max(last - first, 1)

    def at(minute: int) -> float:
        return round(100 * (minute - first) / span, 3)

    left = at(start)
    return left, round(at(max(end, start + 1)) - left, 3)


def _lane_blocks(
    route: PlanRouteRow,
    stops: list[PlanStopRow],
    clinician: ClinicianRow,
    names: dict[str, str],
    programmes_filter: str,
    first: int,
    last: int,
    outcomes: dict[tuple[str, str, dt.date], str] | None = None,
) -> list[Block]:
    """Travel, waiting, visits, lunch and overtime of one route, positioned on [first, last]."""
    catalogue = builtin_programmes()
    blocks: list[Block] = []

    def add(kind: str, start: int, end: int, **text: str) -> None:
        if end > start:
            left, width = _scale(start, end, first, last)
            blocks.append(Block(kind, start, end, left, width, **text))

    lunch = (
        (clinician.lunch_start_min, clinician.lunch_end_min)
        if clinician.lunch_start_min is not None and clinician.lunch_end_min is not None
        else None
    )
    cursor = route.depart_min
    travelled = 0
    for stop in stops:
        travel_start = stop.arrival_min - stop.travel_min
        add("travel", travel_start, stop.arrival_min, title=f"路程 travel {stop.travel_min} min")
        add("wait", stop.arrival_min, stop.start_min, title="等候 waiting")
        travelled += stop.travel_min
        if programmes_filter and stop.programme != programmes_filter:
            cursor = stop.end_min
            continue
        programme = catalogue.get(stop.programme)
        zh = programme.name_zh if programme else stop.programme
        en = programme.name_en if programme else stop.programme
        who = names.get(stop.resident_id or "", stop.committee_id or "")
        outcome = (outcomes or {}).get((stop.resident_id or "", stop.programme, stop.visit_date))
        said = f" · {OUTCOME_WORDS.get(outcome, outcome)}" if outcome else ""
        add(
            "visit",
            stop.start_min,
            stop.end_min,
            label=zh,
            title=f"{format_hhmm(stop.start_min)}–{format_hhmm(stop.end_min)} {zh} {en} {who}"
            + said,
            programme=stop.programme,
            outcome=outcome or "",
            visit_id=stop.visit_id,
        )
        cursor = stop.end_min
    back_travel = max(route.travel_min - travelled, 0)
    if back_travel and route.return_min > cursor:
        add("travel", route.return_min - back_travel, route.return_min, title="返回 back")
    if route.overtime_min > 0:
        add(
            "overtime",
            route.return_min - route.overtime_min,
            route.return_min,
            title=f"加班 overtime {route.overtime_min} min",
        )
    if lunch and route.depart_min < lunch[1] and route.return_min > lunch[0]:
        # Lunch is what is left of its window between the day's travel (the plan may travel
        # then); waiting during lunch is lunch. No two blocks of the lane overlap.
        busy = [(b.start_min, b.end_min) for b in blocks if b.kind in ("travel", "visit")]
        waits = [b for b in blocks if b.kind == "wait"]
        blocks[:] = [b for b in blocks if b.kind != "wait"]
        for wait in waits:
            for start, end in _minus([(wait.start_min, wait.end_min)], [lunch]):
                add("wait", start, end, title=wait.title)
        for start, end in _minus([lunch], busy):
            add("lunch", start, end, label="午休", title="午休 Lunch")
        blocks.sort(key=lambda b: (b.start_min, b.end_min))
    return blocks


def _minus(spans: list[tuple[int, int]], cuts: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of ``spans`` outside every one of ``cuts`` (minutes, ends exclusive)."""
    for cut_start, cut_end in cuts:
        spans = [
            piece
            for start, end in spans
            for piece in ((start, min(end, cut_start)), (max(start, cut_end), end))
            if piece[1] > piece[0]
        ]
    return spans


def _left_out(
    session: Session,
    plan: PlanRow,
    rows: list[PlanUnscheduledRow],
    names: dict[str, str],
) -> list[LeftOutItem]:
    """The left-out visits with their reasons in both languages (explained again from the
    week's problem; the stored English reason when a visit is no longer in it)."""
    reasons = {}
    if rows:
        problem, _ = plan_problem(session, plan)
        reasons = explain_unscheduled(
            problem,
            load_plan(session, plan.plan_id),
            GreatCircleTravel(),
            [r.visit_id for r in rows],
        )
    catalogue = builtin_programmes()
    items = []
    for row in rows:
        programme = catalogue.get(row.programme)
        reason = reasons.get(row.visit_id)
        items.append(
            LeftOutItem(
                visit_id=row.visit_id,
                programme_zh=programme.name_zh if programme else row.programme,
                programme_en=programme.name_en if programme else row.programme,
                resident=names.get(row.resident_id or "", row.committee_id or ""),
                due_by=row.due_by,
                reason_zh=reason.zh if reason else "",
                reason_en=reason.en if reason else row.reason,
                # Rows stored before the kinds existed carry their urgency only.
                alarm=row.kind == LeftOutKind.UNSCHEDULED
                or (not row.kind and row.urgency in ("due", "overdue")),
            )
        )
    return items


def week_view(
    session: Session, settings: Settings, user: Principal, plan: PlanRow, filters: WeekFilters
) -> WeekView:
    """The plan's week for ``user`` (call after :func:`service.api.access.plan_visible`)."""
    team_id = user.team_id if user.role is UserRole.TEAM_LEADER else None
    clinician_query = select(ClinicianRow).where(ClinicianRow.centre_id == plan.centre_id)
    if team_id is not None:
        clinician_query = clinician_query.where(ClinicianRow.team_id == team_id)
    clinicians = {c.clinician_id: c for c in session.scalars(clinician_query)}
    routes = [
        r
        for r in session.scalars(
            select(PlanRouteRow)
            .where(PlanRouteRow.plan_id == plan.plan_id)
            .order_by(PlanRouteRow.clinician_id, PlanRouteRow.route_date)
        )
        if r.clinician_id in clinicians
    ]
    stops_by_route: dict[tuple[str, dt.date], list[PlanStopRow]] = defaultdict(list)
    for stop in session.scalars(
        select(PlanStopRow)
        .where(PlanStopRow.plan_id == plan.plan_id)
        .order_by(PlanStopRow.clinician_id, PlanStopRow.visit_date, PlanStopRow.sequence)
    ):
        if stop.clinician_id in clinicians:
            stops_by_route[(stop.clinician_id, stop.visit_date)].append(stop)
    left_query = select(PlanUnscheduledRow).where(PlanUnscheduledRow.plan_id == plan.plan_id)
    if team_id is not None:
        left_query = left_query.join(
            ResidentRow, ResidentRow.resident_id == PlanUnscheduledRow.resident_id
        ).where(ResidentRow.team_id == team_id)
    left_rows = list(session.scalars(left_query.order_by(PlanUnscheduledRow.unscheduled_id)))
    resident_ids = sorted(
        {s.resident_id for stops in stops_by_route.values() for s in stops if s.resident_id}
        | {r.resident_id for r in left_rows if r.resident_id}
    )
    names = _masked_names(session, resident_ids)
    outcomes = recorded_outcomes(session, [s for stops in stops_by_route.values() for s in stops])

    shown_routes = [
        r
        for r in routes
        if (not filters.clinician_id or r.clinician_id == filters.clinician_id)
        and (filters.day is None or r.route_date == filters.day)
    ]
    first = min(
        [r.depart_min for r in routes] + [c.shift_start_min for c in clinicians.values()] or [480]
    )
    last = max(
        [r.return_min for r in routes] + [c.shift_end_min for c in clinicians.values()] or [1020]
    )
    first, last = (first // 60) * 60, -(-last // 60) * 60
    lanes = []
    for route in shown_routes:
        stops = stops_by_route.get((route.clinician_id, route.route_date), [])
        clinician = clinicians[route.clinician_id]
        lanes.append(
            Lane(
                clinician_id=route.clinician_id,
                clinician_name=clinician.name,
                day=route.route_date,
                day_zh=WEEKDAYS_ZH[route.route_date.weekday()],
                day_en=WEEKDAYS_EN[route.route_date.weekday()],
                blocks=tuple(
                    _lane_blocks(
                        route, stops, clinician, names, filters.programme, first, last, outcomes
                    )
                ),
                stops=len(stops),
                depart=format_hhmm(route.depart_min),
                back=format_hhmm(route.return_min),
                travel_min=route.travel_min,
                overtime_min=route.overtime_min,
            )
        )
    lanes.sort(key=lambda lane: (lane.day, lane.clinician_id))
    if filters.programme:
        left_rows = [r for r in left_rows if r.programme == filters.programme]
    catalogue = builtin_programmes()
    seen_programmes = sorted(
        {s.programme for stops in stops_by_route.values() for s in stops}
        | {r.programme for r in left_rows}
    )
    days = [plan.week_start + dt.timedelta(days=i) for i in range(7)]
    kpis = kpis_of(session, plan, team_id) if team_id is not None or not plan.kpis else plan.kpis
    return WeekView(
        plan=plan,
        team_id=team_id,
        lanes=lanes,
        left_out=_left_out(session, plan, left_rows, names),
        kpis=[
            (zh, en, _format_kpi(key, kpis.get(key))) for key, zh, en in KPI_LABELS if key in kpis
        ],
        clinicians=sorted((c.clinician_id, c.name) for c in clinicians.values()),
        days=[(d, WEEKDAYS_ZH[d.weekday()], WEEKDAYS_EN[d.weekday()]) for d in days],
        programmes=[
            (
                p,
                catalogue[p].name_zh if p in catalogue else p,
                catalogue[p].name_en if p in catalogue else p,
            )
            for p in seen_programmes
        ],
        hour_marks=[
            (f"{h:02d}", _scale(h * 60, h * 60 + 1, first, last)[0])
            for h in range(first // 60, last // 60 + 1)
        ],
        resident_ids=resident_ids,
    )


def kpis_of(
    session: Session, plan: PlanRow, team_id: str | None, problem: Problem | None = None
) -> dict[str, object]:
    """The evaluator's KPIs of the plan as it is, of one team's visits and clinicians (a team
    leader's figures), or of the centre when the plan was stored without them.

    ``problem`` is the week's (:func:`plan_problem`), when the caller has it already: every
    version of a centre's week has the same.
    """
    if problem is None:
        problem, _ = plan_problem(session, plan)
    stored = load_plan(session, plan.plan_id)
    if team_id is not None:
        mine = {c.clinician_id for c in problem.clinicians if c.team_id == team_id}
        visits = tuple(v for v in problem.visits if v.team_id == team_id)
        wanted = {v.visit_id for v in visits}
        problem = dataclasses.replace(
            problem,
            clinicians=tuple(c for c in problem.clinicians if c.team_id == team_id),
            visits=visits,
        )
        stored = dataclasses.replace(
            stored,
            routes=tuple(r for r in stored.routes if r.clinician_id in mine),
            unscheduled=tuple(u for u in stored.unscheduled if u.visit_id in wanted),
        )
    return compute_kpis(problem, stored)


def _masked_names(session: Session, resident_ids: Iterable[str]) -> dict[str, str]:
    ids = list(resident_ids)
    if not ids:
        return {}
    return {
        rid: mask_name(name)
        for rid, name in session.execute(
            select(ResidentRow.resident_id, ResidentRow.name).where(
                ResidentRow.resident_id.in_(ids)
            )
        )
    }


@dataclass(frozen=True, slots=True)
class RouteSheet:
    """One printed page: a clinician's day as she sees it on her phone."""

    clinician_name: str
    day_zh: str
    day_en: str
    route: RouteView
    lunch: str = ""  # "12:00–13:00", or "" for a clinician without a lunch break
    committees: dict[str, str] = field(default_factory=dict)  # id -> name, of its sessions


def route_sheets(
    session: Session, user: Principal, plan: PlanRow, filters: WeekFilters
) -> list[RouteSheet]:
    """The plan's routes in ``user``'s sight (a team leader: his team's), one per clinician and
    day with stops, narrowed by the filters; residents as the nurse sees them (masked names),
    committee sessions by the committee's name, the clinician's lunch break."""
    clinicians = {
        c.clinician_id: c
        for c in session.scalars(
            select(ClinicianRow).where(ClinicianRow.centre_id == plan.centre_id)
        )
        if user.role is not UserRole.TEAM_LEADER or c.team_id == user.team_id
    }
    committees = dict(
        session.execute(
            select(CommitteeRow.committee_id, CommitteeRow.name).where(
                CommitteeRow.centre_id == plan.centre_id
            )
        ).all()
    )
    routes = session.execute(
        select(PlanRouteRow.clinician_id, PlanRouteRow.route_date)
        .where(PlanRouteRow.plan_id == plan.plan_id)
        .order_by(PlanRouteRow.route_date, PlanRouteRow.clinician_id)
    ).all()
    sheets = []
    for clinician_id, day in routes:
        clinician = clinicians.get(clinician_id)
        if clinician is None:
            continue
        if filters.clinician_id and clinician_id != filters.clinician_id:
            continue
        if filters.day is not None and day != filters.day:
            continue
        view = route_view(session, plan, clinician_id, day, full_names=False)
        if view.stops:
            lunch = (
                f"{format_hhmm(clinician.lunch_start_min)}–{format_hhmm(clinician.lunch_end_min)}"
                if clinician.lunch_start_min is not None and clinician.lunch_end_min is not None
                else ""
            )
            sessions = {s.committee_id for s in view.stops if s.committee_id}
            sheets.append(
                RouteSheet(
                    clinician.name,
                    WEEKDAYS_ZH[day.weekday()],
                    WEEKDAYS_EN[day.weekday()],
                    view,
                    lunch,
                    {c: committees.get(c, c) for c in sorted(sessions)},
                )
            )
    return sheets


@dataclass(frozen=True, slots=True)
class WeekTable:
    """The printed week at a glance: one row per clinician, one cell per day (or ``None``)."""

    days: list[tuple[dt.date, str, str]]  # date, weekday in Chinese, in English
    rows: list[tuple[str, list[RouteSheet | None]]]  # clinician name, a cell per day


def week_table(sheets: Iterable[RouteSheet]) -> WeekTable:
    """The route sheets as a week's table: clinicians by name, days in order."""
    sheets = list(sheets)
    dates = sorted({s.route.date for s in sheets})
    by_clinician: dict[str, dict[dt.date, RouteSheet]] = defaultdict(dict)
    names: dict[str, str] = {}
    for sheet in sheets:
        by_clinician[sheet.route.clinician_id][sheet.route.date] = sheet
        names[sheet.route.clinician_id] = sheet.clinician_name
    order = sorted(names, key=lambda c: (names[c], c))
    return WeekTable(
        [(d, WEEKDAYS_ZH[d.weekday()], WEEKDAYS_EN[d.weekday()]) for d in dates],
        [(names[c], [by_clinician[c].get(d) for d in dates]) for c in order],
    )


@dataclass(frozen=True, slots=True)
class CentreLine:
    """A centre and its newest plan's figures."""

    centre_id: str
    name: str
    district: str
    plan_id: int | None
    week_start: dt.date | None
    version: int | None
    status: str
    kpis: list[tuple[str, str, str]]


def centres_overview(session: Session) -> list[CentreLine]:
    """Every active centre with its newest plan (by week, then version) and that plan's KPIs."""
    newest = (
        select(PlanRow.centre_id, func.max(PlanRow.week_start).label("week"))
        .group_by(PlanRow.centre_id)
        .subquery()
    )
    lines = []
    for centre in session.scalars(
        select(CentreRow).where(CentreRow.active.is_(True)).order_by(CentreRow.centre_id)
    ):
        week = session.scalar(select(newest.c.week).where(newest.c.centre_id == centre.centre_id))
        plan = (
            session.scalar(
                select(PlanRow)
                .where(PlanRow.centre_id == centre.centre_id, PlanRow.week_start == week)
                .order_by(PlanRow.version.desc())
                .limit(1)
            )
            if week is not None
            else None
        )
        lines.append(
            CentreLine(
                centre_id=centre.centre_id,
                name=centre.name,
                district=centre.district,
                plan_id=plan.plan_id if plan else None,
                week_start=plan.week_start if plan else None,
                version=plan.version if plan else None,
                status=plan.status if plan else "",
                kpis=[
                    (zh, en, _format_kpi(key, plan.kpis.get(key)))
                    for key, zh, en in KPI_LABELS
                    if plan and plan.kpis and key in plan.kpis
                ],
            )
        )
    return lines


@dataclass(frozen=True, slots=True)
class UserLine:
    """A user as the admin's list shows it (never the password hash)."""

    username: str
    role: str
    centre_id: str
    team_id: str
    clinician_id: str
    active: bool


def users_list(session: Session) -> list[UserLine]:
    """Every user, by name."""
    return [
        UserLine(
            u.username,
            u.role,
            u.centre_id or "",
            u.team_id or "",
            u.clinician_id or "",
            u.active,
        )
        for u in session.scalars(select(UserRow).order_by(UserRow.username))
    ]
