"""The simple registry reads behind the centre, team, clinician and resident routes.

The routers (``service.api.routers``) parse the request, call one of these and map the result to
HTTP; what each role may see is decided here the same way for the pages and the JSON API.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.api.access import resident_scope
from service.db.tables import CentreRow, ClinicianRow, ResidentRow, UserRole
from service.users import Principal


def active_centres(session: Session) -> Sequence[CentreRow]:
    """The active centres, by id."""
    return session.scalars(
        select(CentreRow).where(CentreRow.active.is_(True)).order_by(CentreRow.centre_id)
    ).all()


def active_centre(session: Session, centre_id: str) -> CentreRow | None:
    """One active centre, or None."""
    row = session.get(CentreRow, centre_id)
    return row if row is not None and row.active else None


def team_counts(
    session: Session, user: Principal, team_id: str | None = None
) -> list[tuple[str, str, int, int]]:
    """(team, centre, active clinicians, active residents) of each team the user may see.

    Staff (team leaders, clinicians) see their own centre's teams; ``team_id`` narrows to one.
    """
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
    residents: dict[str, int] = dict(
        session.execute(
            select(ResidentRow.team_id, func.count())
            .where(ResidentRow.active.is_(True))
            .group_by(ResidentRow.team_id)
        ).all()
    )
    return [(t, c, n, residents.get(t, 0)) for t, c, n in session.execute(query).all()]


def _sees_clinician(user: Principal, row: ClinicianRow) -> bool:
    """Admins and planners see every clinician; staff their own team."""
    if user.role in (UserRole.ADMIN, UserRole.PLANNER):
        return True
    return row.team_id == user.team_id


def active_clinicians(
    session: Session, user: Principal, team_id: str | None, centre_id: str | None
) -> Sequence[ClinicianRow]:
    """Active clinicians the user may see, optionally of one team or centre, by id."""
    query = select(ClinicianRow).where(ClinicianRow.active.is_(True))
    if user.role in (UserRole.TEAM_LEADER, UserRole.CLINICIAN):
        query = query.where(ClinicianRow.team_id == user.team_id)
    if team_id is not None:
        query = query.where(ClinicianRow.team_id == team_id)
    if centre_id is not None:
        query = query.where(ClinicianRow.centre_id == centre_id)
    return session.scalars(query.order_by(ClinicianRow.clinician_id)).all()


def visible_clinician(session: Session, user: Principal, clinician_id: str) -> ClinicianRow | None:
    """One active clinician in the user's sight, or None."""
    row = session.get(ClinicianRow, clinician_id)
    if row is None or not row.active or not _sees_clinician(user, row):
        return None
    return row


def resident_page(
    session: Session,
    user: Principal,
    *,
    today: dt.date,
    page: int,
    page_size: int,
    team_id: str | None = None,
    centre_id: str | None = None,
    committee_id: str | None = None,
    min_age: int | None = None,
    home_sickbed: bool | None = None,
) -> tuple[int, Sequence[ResidentRow]]:
    """(total, one page of rows) of the active residents in the user's sight, by id."""
    query = resident_scope(user, select(ResidentRow).where(ResidentRow.active.is_(True)))
    if team_id is not None:
        query = query.where(ResidentRow.team_id == team_id)
    if centre_id is not None:
        query = query.where(ResidentRow.centre_id == centre_id)
    if committee_id is not None:
        query = query.where(ResidentRow.committee_id == committee_id)
    if min_age is not None:
        # Born on or before this day min_age years ago (29 February counts as 28 February).
        day = today.day if (today.month, today.day) != (2, 29) else 28
        latest_birth = dt.date(today.year - min_age, today.month, day)
        query = query.where(ResidentRow.birth_date <= latest_birth)
    if home_sickbed is not None:
        query = query.where(ResidentRow.home_sickbed.is_(home_sickbed))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(ResidentRow.resident_id).offset((page - 1) * page_size).limit(page_size)
    ).all()
    return total, rows
