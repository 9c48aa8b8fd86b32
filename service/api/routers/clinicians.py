"""Clinicians: staff see their own team; admins and planners all (planners: masked phones)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from maps.base import mask_name
from service.api.access import mask_phone, not_found
from service.api.deps import CurrentUser, DbSession
from service.api.models import Clinician
from service.db.tables import ClinicianRow, UserRole
from service.users import Principal

router = APIRouter(prefix="/clinicians", tags=["clinicians"])


def _visible(user: Principal, row: ClinicianRow) -> bool:
    if user.role in (UserRole.ADMIN, UserRole.PLANNER):
        return True
    return row.team_id == user.team_id


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
    query = select(ClinicianRow).where(ClinicianRow.active.is_(True))
    if user.role in (UserRole.TEAM_LEADER, UserRole.CLINICIAN):
        query = query.where(ClinicianRow.team_id == user.team_id)
    if team_id is not None:
        query = query.where(ClinicianRow.team_id == team_id)
    if centre_id is not None:
        query = query.where(ClinicianRow.centre_id == centre_id)
    rows = session.scalars(query.order_by(ClinicianRow.clinician_id))
    return [_clinician(user, r) for r in rows]


@router.get(
    "/{clinician_id}", response_model=Clinician, responses={404: {"description": "Not found"}}
)
def get_clinician(clinician_id: str, user: CurrentUser, session: DbSession) -> Clinician:
    """One clinician, if in the user's sight."""
    row = session.get(ClinicianRow, clinician_id)
    if row is None or not row.active or not _visible(user, row):
        raise not_found("clinician", clinician_id)
    return _clinician(user, row)
