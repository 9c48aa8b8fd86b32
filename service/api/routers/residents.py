"""Residents, shown to each role only as far as it needs (see :mod:`service.api.access`).

Team leaders and admins see the full record; a clinician sees the residents on her routes with
what the visit needs (masked name, age, address, phone, conditions); planners see pseudonyms and
age bands, never names, addresses, phones or places. Every read is written to the audit log.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from maps.base import mask_name
from scheduler.model import age_in_years
from service.api.access import audit, pseudonym, resident_visible
from service.api.deps import CurrentUser, DbSession, ServiceSettings, WholeNumber
from service.api.errors import invalid
from service.api.models import Resident, ResidentPage
from service.db.tables import ResidentRow, UserRole
from service.registry_reads import resident_page
from service.users import Principal

router = APIRouter(prefix="/residents", tags=["residents"])


def _band(age: int) -> str:
    if age >= 100:
        return "100+"
    if age >= 90:
        return "90-99"
    if age >= 80:
        return "80-89"
    return "65-79" if age >= 65 else "<65"


def _view(user: Principal, row: ResidentRow, key: str, today: dt.date) -> Resident:
    age = age_in_years(row.birth_date, today)
    common: dict[str, Any] = {
        "age_band": _band(age),
        "centre_id": row.centre_id,
        "team_id": row.team_id,
        "committee_id": row.committee_id,
        "conditions": [c for c in row.conditions.split(";") if c],
        "hypertension": row.hypertension,
        "diabetes": row.diabetes,
        "disability": row.disability,
        "home_sickbed": row.home_sickbed,
        "homebound": row.homebound,
    }
    if user.role is UserRole.PLANNER:
        return Resident(resident_id=pseudonym(row.resident_id, key), sex=row.sex, **common)
    if user.role is UserRole.CLINICIAN:
        return Resident(
            resident_id=row.resident_id,
            name=mask_name(row.name),
            sex=row.sex,
            age=age,
            address=row.address,
            phone=row.phone,
            lat=row.lat,
            lon=row.lon,
            availability=row.availability,
            **common,
        )
    return Resident(
        resident_id=row.resident_id,
        name=row.name,
        sex=row.sex,
        birth_date=row.birth_date,
        age=age,
        address=row.address,
        phone=row.phone,
        lat=row.lat,
        lon=row.lon,
        availability=row.availability,
        **common,
    )


@router.get("", response_model=ResidentPage)
async def list_residents(
    request: Request,
    user: CurrentUser,
    settings: ServiceSettings,
    page: Annotated[int, WholeNumber, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, WholeNumber, Query(ge=1, le=10_000)] = 50,
    team_id: Annotated[str | None, Query(max_length=64)] = None,
    centre_id: Annotated[str | None, Query(max_length=64)] = None,
    committee_id: Annotated[str | None, Query(max_length=64)] = None,
    min_age: Annotated[int | None, WholeNumber, Query(ge=0, le=130)] = None,
    home_sickbed: bool | None = None,
) -> Response:
    """Residents in the user's sight, page by page (居民列表)."""
    if page_size > settings.page_size_max:
        raise invalid("query.page_size", f"at most {settings.page_size_max} per page")
    cache_key = (
        "residents",
        user.role,
        user.team_id,
        user.clinician_id,
        page,
        page_size,
        team_id,
        centre_id,
        committee_id,
        min_age,
        home_sickbed,
    )

    def render() -> tuple[bytes, list[str]]:
        with request.app.state.sessions() as session:
            return _render_page(session)

    def _render_page(session: Session) -> tuple[bytes, list[str]]:
        today = dt.date.today()
        total, rows = resident_page(
            session,
            user,
            today=today,
            page=page,
            page_size=page_size,
            team_id=team_id,
            centre_id=centre_id,
            committee_id=committee_id,
            min_age=min_age,
            home_sickbed=home_sickbed,
        )
        key = request.app.state.signing_key
        items = [_view(user, r, key, today) for r in rows]
        result = ResidentPage(items=items, total=total, page=page, page_size=page_size)
        return result.model_dump_json().encode(), [r.resident_id for r in rows]

    # The same page for the same scope is the same for a few seconds (service.api.cache); async,
    # so a cached page costs no thread hop; a miss reads the database in a worker thread.
    cache = request.app.state.read_cache
    cached = cache.peek(cache_key) or await run_in_threadpool(cache.get, cache_key, render)
    body, resident_ids = cached
    audit(request, user, "list residents", resident_ids, f"page {page}")
    return Response(body, media_type="application/json")


@router.get(
    "/{resident_id:path}",
    response_model=Resident,
    responses={404: {"description": "No such resident in the user's sight"}},
)
def get_resident(
    request: Request, resident_id: str, user: CurrentUser, session: DbSession
) -> Resident:
    """One resident's record, if in the user's sight (居民档案)."""
    row = resident_visible(session, user, resident_id)
    audit(request, user, "read resident", [row.resident_id])
    return _view(user, row, request.app.state.signing_key, dt.date.today())
