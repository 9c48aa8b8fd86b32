"""Clinicians: staff see their own team; admins and planners all (planners: masked phones)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from maps.base import mask_name
from service.api.access import mask_phone, not_found
from service.api.deps import CurrentUser, DbSession
from service.api.models import Clinician
from service.db.tables import ClinicianRow, UserRole
from service.registry_reads import active_clinicians, visible_clinician
from service.users import Principal

router = APIRouter(prefix="/clinicians", tags=["clinicians"])


def _clinician(user: Principal, row: ClinicianRow) -> Clinician:
    planner = user.role is UserRole.PLANNER
    return Clinician(
        clinician_id=row.clinician_id,
        name=mask_name(row.name) if planner else row.name,
        team_id=row.team_id,
        centre_id=row.centre_id,
        role=row.role,
        skills=[s for s in row.skills.split(";") if s],
        travel_mode=row.travel_mode,
        work_days=row.work_days,
        phone=mask_phone(row.phone) if planner else row.phone,
    )


@router.get("", response_model=list[Clinician])
def list_clinicians(
    user: CurrentUser,
    session: DbSession,
    team_id: Annotated[str | None, Query(max_length=64)] = None,
    centre_id: Annotated[str | None, Query(max_length=64)] = None,
) -> list[Clinician]:
    """Active clinicians the user may see, optionally of one team or centre."""
    rows = active_clinicians(session, user, team_id, centre_id)
    return [_clinician(user, r) for r in rows]


@router.get(
    "/{clinician_id:path}", response_model=Clinician, responses={404: {"description": "Not found"}}
)
def get_clinician(clinician_id: str, user: CurrentUser, session: DbSession) -> Clinician:
    """One clinician, if in the user's sight."""
    row = visible_clinician(session, user, clinician_id)
    if row is None:
        raise not_found("clinician", clinician_id)
    return _clinician(user, row)
