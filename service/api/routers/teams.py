"""Teams: a team is the set of clinicians sharing its id. Staff see their own centre's teams."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import func, select

from service.api.access import not_found
from service.api.deps import CurrentUser, DbSession
from service.api.models import Team
from service.db.tables import ClinicianRow, ResidentRow, UserRole
from service.users import Principal

router = APIRouter(prefix="/teams", tags=["teams"])


def _teams(session: DbSession, user: Principal, team_id: str | None = None) -> list[Team]:
    query = (
        select(ClinicianRow.team_id, ClinicianRow.centre_id, func.count())
        .where(ClinicianRow.active.is_(True))
        .group_by(ClinicianRow.team_id, ClinicianRow.centre_id)
        .order_by(ClinicianRow.team_id)
    )
    if user.role in (UserRole.TEAM_LEADER, UserRole.CLINICIAN):
        query = query.where(ClinicianRow.centre_id == user.centre_id)
    if team_id is not None:
        query = query.where(ClinicianRow.team_id == team_id)
    residents = dict(
        session.execute(
            select(ResidentRow.team_id, func.count())
            .where(ResidentRow.active.is_(True))
            .group_by(ResidentRow.team_id)
        ).all()
    )
    return [
        Team(team_id=t, centre_id=c, clinicians=n, residents=residents.get(t, 0))
        for t, c, n in session.execute(query).all()
    ]


@router.get("", response_model=list[Team])
def list_teams(user: CurrentUser, session: DbSession) -> list[Team]:
    """The teams the user may see (staff: their own centre's)."""
    return _teams(session, user)


@router.get("/{team_id}", response_model=Team, responses={404: {"description": "No such team"}})
def get_team(team_id: str, user: CurrentUser, session: DbSession) -> Team:
    """One team."""
    found = _teams(session, user, team_id)
    if not found:
        raise not_found("team", team_id)
    return found[0]
