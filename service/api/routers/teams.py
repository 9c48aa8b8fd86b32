"""Teams: a team is the set of clinicians sharing its id. Staff see their own centre's teams."""

from __future__ import annotations

from fastapi import APIRouter

from service.api.access import not_found
from service.api.deps import CurrentUser, DbSession
from service.api.models import Team
from service.registry_reads import team_counts
from service.users import Principal

router = APIRouter(prefix="/teams", tags=["teams"])


def _teams(session: DbSession, user: Principal, team_id: str | None = None) -> list[Team]:
    return [
        Team(team_id=t, centre_id=c, clinicians=n, residents=r)
        for t, c, n, r in team_counts(session, user, team_id)
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
