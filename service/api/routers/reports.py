"""Reports against the district's quotas.

``/reports/coverage``: per centre and team, the 80+ residents and the share visited this quarter
(the quarterly follow-up promise), centenarians and their rounds this month, home sick-beds, and
the latest plan of the week with its KPIs (aggregates only).

``/reports/tables/{annex1|annex2|annex3|coverage|all}`` (CSV, XLSX) and ``/reports/page``
(HTML with the charts): the seeds' official tables and the Minhang 789 coverage, computed from
the records (:mod:`service.reports`). The overdue list names residents: masked for team leaders
and admins, pseudonyms for planners, and every such read is audited.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from fastapi.responses import HTMLResponse

from maps.base import mask_name
from scheduler.model import age_in_years
from scheduler.programmes import Period
from service.api.access import audit, not_found, pseudonym
from service.api.deps import DbSession, PlanningDate, require_roles
from service.api.models import CoverageReport, TeamCoverage
from service.api.web import nav_links, role_home
from service.db.tables import (
    UserRole,
)
from service.reports import build
from service.reports.compute import (
    NO_RESIDENTS,
    Level,
    ReportError,
    Scope,
    no_records_notice,
)
from service.reports.export import PageForm, table_csv, tables_xlsx
from service.reports.reads import (
    active_centre_names,
    centre_exists,
    completed_visits,
    coverage_residents,
    has_visit_records,
    latest_plan_of_week,
)
from service.users import Principal

router = APIRouter(prefix="/reports", tags=["reports"])

Readers = Annotated[
    Principal, require_roles(UserRole.ADMIN, UserRole.PLANNER, UserRole.TEAM_LEADER)
]


@router.get(
    "/coverage", response_model=CoverageReport, responses={404: {"description": "Not found"}}
)
def coverage(
    user: Readers,
    session: DbSession,
    centre_id: Annotated[str, Query(max_length=64)],
    on: PlanningDate | None = None,
) -> CoverageReport:
    """Coverage of the care programmes so far this quarter and month, per team."""
    if not centre_exists(session, centre_id) or (
        user.role is UserRole.TEAM_LEADER and centre_id != user.centre_id
    ):
        raise not_found("centre", centre_id)
    on = on or dt.date.today()
    quarter_start = Period.QUARTER.bounds(on)[0]
    month_start = Period.MONTH.bounds(on)[0]
    residents = coverage_residents(session, centre_id)
    if user.role is UserRole.TEAM_LEADER:
        residents = [r for r in residents if r.team_id == user.team_id]
    done = completed_visits(session, centre_id, quarter_start, on)
    followed = {r.resident_id for r in done if r.programme == "followup_80"}
    rounds: dict[str, int] = {}
    for r in done:
        if r.programme == "centenarian_round" and r.visit_date >= month_start:
            rounds[r.resident_id] = rounds.get(r.resident_id, 0) + 1
    teams: dict[str, dict[str, int]] = {}
    for person in residents:
        t = teams.setdefault(
            person.team_id, dict.fromkeys(("n", "old", "seen", "cent", "rounds", "beds"), 0)
        )
        age = age_in_years(person.birth_date, on)
        t["n"] += 1
        t["beds"] += int(person.home_sickbed)
        if age >= 80:
            t["old"] += 1
            t["seen"] += int(person.resident_id in followed)
        if age >= 100:
            t["cent"] += 1
            t["rounds"] += rounds.get(person.resident_id, 0)
    team = user.team_id if user.role is UserRole.TEAM_LEADER else None
    notice = None
    if not residents:
        notice = NO_RESIDENTS
    elif not has_visit_records(session, centre_id, quarter_start, on, team):
        notice = no_records_notice(quarter_start, on)
    week = on - dt.timedelta(days=on.weekday())
    plan = latest_plan_of_week(session, centre_id, week)
    return CoverageReport(
        centre_id=centre_id,
        on=on,
        quarter_start=quarter_start,
        month_start=month_start,
        teams=[
            TeamCoverage(
                team_id=team_id,
                residents=t["n"],
                aged_80_plus=t["old"],
                followup_80_this_quarter=t["seen"],
                followup_80_share=round(t["seen"] / t["old"], 3) if t["old"] else None,
                centenarians=t["cent"],
                centenarian_rounds_this_month=t["rounds"],
                home_sickbeds=t["beds"],
            )
            for team_id, t in sorted(teams.items())
        ],
        latest_plan_id=plan.plan_id if plan else None,
        latest_plan_status=plan.status if plan else None,
        latest_plan_kpis=plan.kpis if plan else None,
        notice=notice,
    )


# --- the official tables, the 789 coverage and the report page --------------------------------

_MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _report_scope(
    user: Principal,
    session: DbSession,
    start: dt.date | None,
    end: dt.date | None,
    by: Level,
    centre_ids: list[str],
    kind: build.ReportKind,
) -> Scope:
    """The scope a user may see: a team leader his team (rows by team), others any centres."""
    last = end or dt.date.today()
    first = start or build.default_start(kind, last)
    if user.role is UserRole.TEAM_LEADER:
        centre = str(user.centre_id)
        if any(c != centre for c in centre_ids):
            raise not_found("centre", next(c for c in centre_ids if c != centre))
        try:
            return Scope(first, last, Level.TEAM, (centre,), user.team_id)
        except ReportError as exc:
            raise _unprocessable(exc) from None
    for centre_id in centre_ids:
        if not centre_exists(session, centre_id):
            raise not_found("centre", centre_id)
    try:
        return Scope(first, last, by, tuple(centre_ids))
    except ReportError as exc:
        raise _unprocessable(exc) from None


def _unprocessable(exc: ReportError) -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail={"detail": "the report was not made", "errors": [{"reason": str(exc)}]},
    )


def _name_of(request: Request, user: Principal) -> Callable[[str, str], str]:
    if user.role is UserRole.PLANNER:
        key = request.app.state.signing_key
        return lambda resident_id, _name: pseudonym(resident_id, key)
    return lambda resident_id, name: f"{resident_id} {mask_name(name)}"


def _make(
    request: Request, user: Principal, session: DbSession, kind: build.ReportKind, scope: Scope
) -> build.Report:
    try:
        report = build.make_report(session, kind, scope, _name_of(request, user))
    except ReportError as exc:
        raise _unprocessable(exc) from None
    if report.overdue:
        audit(
            request,
            user,
            "read report overdue",
            sorted({o.resident_id for o in report.overdue}),
            f"{kind.value} {scope.start}~{scope.end}",
        )
    return report


Start = Annotated[PlanningDate | None, Query(alias="from", description="First day (YYYY-MM-DD)")]
End = Annotated[PlanningDate | None, Query(alias="to", description="Last day (default: today)")]
By = Annotated[Level, Query(description="Rows per team, centre or district; total = the city")]
CentreIds = Annotated[list[str], Query(alias="centre_id", max_length=50)]


@router.get(
    "/tables/{kind}",
    response_class=Response,
    responses={
        200: {"content": {_MEDIA["csv"]: {}, _MEDIA["xlsx"]: {}}},
        404: {"description": "Not found"},
        422: {"description": "Cannot be made (no quota, a period that ends before it starts)"},
    },
)
def report_table(
    request: Request,
    kind: build.ReportKind,
    user: Readers,
    session: DbSession,
    start: Start = None,
    end: End = None,
    by: By = Level.DISTRICT,
    centre_ids: CentreIds = [],  # noqa: B006 (FastAPI's spelling of a repeatable query)
    format: Annotated[Literal["csv", "xlsx"], Query()] = "xlsx",
) -> Response:
    """An official table (annex1, annex2, annex3), the 789 coverage, or all, as CSV or XLSX
    (统计报表). A team leader gets his team's; the tables are refused if they do not add up."""
    if format == "csv" and kind in (build.ReportKind.ALL, build.ReportKind.COVERAGE):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=f"'{kind.value}' has several tables: ask for format=xlsx",
        )
    scope = _report_scope(user, session, start, end, by, centre_ids, kind)
    report = _make(request, user, session, kind, scope)
    try:
        body = (
            table_csv(report.tables[0])
            if format == "csv"
            else tables_xlsx(report.tables, report.charts)
        )
    except ReportError as exc:
        raise _unprocessable(exc) from None
    name = f"{kind.value}_{scope.start}_{scope.end}.{format}"
    return Response(
        body,
        media_type=_MEDIA[format],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _page_form(user: Principal, session: DbSession, scope: Scope) -> PageForm:
    """The served page's way back, its question (what this user may ask) and its files."""
    today = dt.date.today().isoformat()
    home = next((link for link in nav_links(user) if link.href == role_home(user, today)), None)
    centres = active_centre_names(session)
    if user.role is UserRole.TEAM_LEADER:
        centres = tuple(c for c in centres if c[0] == user.centre_id)
    query = urlencode(
        [("from", scope.start.isoformat()), ("to", scope.end.isoformat()), ("by", scope.by.value)]
        + [("centre_id", c) for c in scope.centre_ids]
    )
    files = [(f"/reports/tables/all?{query}&format=xlsx", "全部表格 every table (XLSX)")]
    files += [
        (f"/reports/tables/{kind}?{query}&format=csv", f"{name} (CSV)")
        for kind, name in (("annex1", "附件1"), ("annex2", "附件2"), ("annex3", "附件3"))
    ]
    return PageForm(
        home=(role_home(user, today), f"{home.zh} {home.en}" if home else "首页 Home"),
        start=scope.start.isoformat(),
        end=scope.end.isoformat(),
        by=scope.by.value,
        centres=centres,
        chosen=scope.centre_ids,
        levels=("team",) if user.role is UserRole.TEAM_LEADER else ("district", "centre", "team"),
        files=tuple(files),
    )


@router.get(
    "/page",
    response_class=HTMLResponse,
    responses={404: {"description": "Not found"}, 422: {"description": "Cannot be made"}},
)
def report_page_route(
    request: Request,
    user: Readers,
    session: DbSession,
    start: Start = None,
    end: End = None,
    by: By = Level.DISTRICT,
    centre_ids: CentreIds = [],  # noqa: B006
) -> HTMLResponse:
    """Every table with its charts on one page, no CDN (统计报告): the planner's page."""
    scope = _report_scope(user, session, start, end, by, centre_ids, build.ReportKind.ALL)
    report = _make(request, user, session, build.ReportKind.ALL, scope)
    try:
        page = build.report_page(report, scope, _page_form(user, session, scope))
    except ReportError as exc:
        raise _unprocessable(exc) from None
    return HTMLResponse(page)
