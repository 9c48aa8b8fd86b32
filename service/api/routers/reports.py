"""Reports against the district's quotas: aggregates only, never a resident.

Per centre and team: the 80+ residents and the share visited this quarter (the quarterly
follow-up promise), centenarians and their rounds this month, home sick-beds, and the latest
plan of the week with its KPIs.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from scheduler.model import age_in_years
from scheduler.programmes import Period
from service.api.access import not_found
from service.api.deps import DbSession, PlanningDate, require_roles
from service.db.tables import (
    CentreRow,
    PlanRow,
    ResidentRow,
    UserRole,
    VisitOutcome,
    VisitRecordRow,
)
from service.users import Principal

router = APIRouter(prefix="/reports", tags=["reports"])

Readers = Annotated[
    Principal, require_roles(UserRole.ADMIN, UserRole.PLANNER, UserRole.TEAM_LEADER)
]


class TeamCoverage(BaseModel):
    """One team's progress (团队指标进度)."""

    team_id: str
    residents: int
    aged_80_plus: int
    followup_80_this_quarter: int
    followup_80_share: float | None = Field(description="Share of 80+ visited this quarter")
    centenarians: int
    centenarian_rounds_this_month: int
    home_sickbeds: int


class CoverageReport(BaseModel):
    """A centre's progress against the quotas on a day (覆盖率报告)."""

    centre_id: str
    on: dt.date
    quarter_start: dt.date
    month_start: dt.date
    teams: list[TeamCoverage]
    latest_plan_id: int | None
    latest_plan_status: str | None
    latest_plan_kpis: dict[str, Any] | None


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
    if session.get(CentreRow, centre_id) is None or (
        user.role is UserRole.TEAM_LEADER and centre_id != user.centre_id
    ):
        raise not_found("centre", centre_id)
    on = on or dt.date.today()
    quarter_start = Period.QUARTER.bounds(on)[0]
    month_start = Period.MONTH.bounds(on)[0]
    residents = session.execute(
        select(
            ResidentRow.resident_id,
            ResidentRow.team_id,
            ResidentRow.birth_date,
            ResidentRow.home_sickbed,
        ).where(ResidentRow.centre_id == centre_id, ResidentRow.active.is_(True))
    ).all()
    if user.role is UserRole.TEAM_LEADER:
        residents = [r for r in residents if r.team_id == user.team_id]
    done = session.execute(
        select(VisitRecordRow.resident_id, VisitRecordRow.programme, VisitRecordRow.visit_date)
        .join(ResidentRow, ResidentRow.resident_id == VisitRecordRow.resident_id)
        .where(
            ResidentRow.centre_id == centre_id,
            VisitRecordRow.outcome == VisitOutcome.COMPLETED.value,
            VisitRecordRow.visit_date >= quarter_start,
            VisitRecordRow.visit_date <= on,
        )
    ).all()
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
    week = on - dt.timedelta(days=on.weekday())
    plan = session.scalar(
        select(PlanRow)
        .where(PlanRow.centre_id == centre_id, PlanRow.week_start == week)
        .order_by(PlanRow.version.desc())
        .limit(1)
    )
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
    )
