"""Centres: every signed-in user may list them (names and places are not personal data)."""

from __future__ import annotations

from fastapi import APIRouter

from service.api.access import not_found
from service.api.deps import CurrentUser, DbSession
from service.api.models import Centre
from service.db.tables import CentreRow
from service.registry_reads import active_centre, active_centres

router = APIRouter(prefix="/centres", tags=["centres"])


def _centre(row: CentreRow) -> Centre:
    return Centre(
        centre_id=row.centre_id, name=row.name, district=row.district, lat=row.lat, lon=row.lon
    )


@router.get("", response_model=list[Centre])
def list_centres(user: CurrentUser, session: DbSession) -> list[Centre]:
    """The active centres."""
    return [_centre(r) for r in active_centres(session)]


@router.get(
    "/{centre_id}", response_model=Centre, responses={404: {"description": "No such centre"}}
)
def get_centre(centre_id: str, user: CurrentUser, session: DbSession) -> Centre:
    """One centre."""
    row = active_centre(session, centre_id)
    if row is None:
        raise not_found("centre", centre_id)
    return _centre(row)
