"""Visit records: a clinician records her visits (done or missed), a team leader his team's."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, Field
from sqlalchemy import select

from scheduler.model import HEALTH_CHECK_TESTS, OUTCOME_LABELS_ZH
from service.api.access import audit, clinician_serves, resident_visible
from service.api.deps import ROW_ID_MAX, DbSession, PlainText, PlanningDate, require_roles
from service.db.records import (
    RecordError,
    VisitReport,
    discharge_sickbed,
    open_sickbed,
    record_visit,
)
from service.db.tables import Place, SickbedEpisodeRow, UserRole, VisitOutcome, VisitRecordRow
from service.users import Principal

router = APIRouter(prefix="/records", tags=["records"])

Staff = Annotated[
    Principal, require_roles(UserRole.ADMIN, UserRole.TEAM_LEADER, UserRole.CLINICIAN)
]


class RecordRequest(BaseModel):
    """What happened at a visit (上门记录)."""

    resident_id: PlainText = Field(max_length=64)
    programme: PlainText = Field(max_length=64, examples=["followup_80"])
    date: PlanningDate
    outcome: VisitOutcome = Field(
        VisitOutcome.COMPLETED,
        description="; ".join(f"{o.value} {OUTCOME_LABELS_ZH[o]}" for o in VisitOutcome),
    )
    clinician_ids: list[Annotated[PlainText, Field(max_length=64)]] = Field(
        default_factory=list, max_length=4, description="Who went (default: me)"
    )
    note: PlainText = Field("", max_length=2000)
    systolic_mmhg: int | None = Field(None, ge=0, le=400, strict=True)
    diastolic_mmhg: int | None = Field(None, ge=0, le=300, strict=True)
    glucose_mmol_l: float | None = Field(None, ge=0, le=100, allow_inf_nan=False)
    plan_id: int | None = Field(None, ge=1, le=ROW_ID_MAX, strict=True)
    visit_id: PlainText | None = Field(None, max_length=128)
    tests: list[Annotated[PlainText, Field(max_length=32)]] = Field(
        default_factory=list,
        max_length=len(HEALTH_CHECK_TESTS),
        description="A health check's tests (default: those the programme includes): "
        + ", ".join(HEALTH_CHECK_TESTS),
    )
    place: Place | None = Field(
        None, description="home 入户 | committee 居委 (default: the programme's)"
    )


class Record(BaseModel):
    """A stored visit record."""

    record_id: int
    resident_id: str
    programme: str
    date: dt.date
    outcome: str
    source: str
    clinician_ids: list[str]
    note: str
    systolic_mmhg: int | None
    diastolic_mmhg: int | None
    glucose_mmol_l: float | None
    tests: list[str]
    place: str


def _record(row: VisitRecordRow) -> Record:
    return Record(
        record_id=row.record_id,
        resident_id=row.resident_id,
        programme=row.programme,
        date=row.visit_date,
        outcome=row.outcome,
        source=row.source,
        clinician_ids=[c for c in row.clinician_ids.split(";") if c],
        note=row.note,
        systolic_mmhg=row.systolic_mmhg,
        diastolic_mmhg=row.diastolic_mmhg,
        glucose_mmol_l=row.glucose_mmol_l,
        tests=[t for t in row.tests.split(";") if t],
        place=row.place,
    )


def _refused(exc: RecordError, what: str) -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail={
            "detail": f"the {what} was not stored",
            "errors": [{"field": "body", "reason": p} for p in exc.problems],
        },
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Record,
    responses={404: {"description": "No such resident in sight"}, 422: {"description": "Invalid"}},
)
def create_record(request: Request, body: RecordRequest, user: Staff, session: DbSession) -> Record:
    """Record a visit as done or missed; a completed visit becomes history (记录上门结果).
    Audited as the nurse page's save is ("record visit")."""
    resident_visible(session, user, body.resident_id)
    clinicians = tuple(body.clinician_ids)
    if user.role is UserRole.CLINICIAN:
        me = str(user.clinician_id)
        clinicians = clinicians or (me,)
        if me not in clinicians or not clinician_serves(session, me, body.resident_id):
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no resident {body.resident_id}")
    report = VisitReport(
        resident_id=body.resident_id,
        programme=body.programme,
        date=body.date,
        clinician_ids=clinicians,
        outcome=body.outcome,
        note=body.note,
        systolic_mmhg=body.systolic_mmhg,
        diastolic_mmhg=body.diastolic_mmhg,
        glucose_mmol_l=body.glucose_mmol_l,
        visit_id=body.visit_id,
        plan_id=body.plan_id,
        tests=frozenset(body.tests),
        place=body.place,
    )
    try:
        record_id = record_visit(session, report)
        session.commit()
    except RecordError as exc:
        session.rollback()
        raise _refused(exc, "record") from None
    row = session.get(VisitRecordRow, record_id)
    assert row is not None
    plan = f"plan {body.plan_id} " if body.plan_id is not None else ""
    audit(request, user, "record visit", [body.resident_id], f"{plan}record {record_id}")
    return _record(row)


@router.get("", response_model=list[Record], responses={404: {"description": "Not in sight"}})
def list_records(
    request: Request,
    user: Staff,
    session: DbSession,
    resident_id: Annotated[str, Query(max_length=64)],
) -> list[Record]:
    """A resident's visit records, newest first (上门记录)."""
    resident_visible(session, user, resident_id)
    rows = session.scalars(
        select(VisitRecordRow)
        .where(VisitRecordRow.resident_id == resident_id)
        .order_by(VisitRecordRow.visit_date.desc())
        .limit(200)
    )
    audit(request, user, "read records", [resident_id])
    return [_record(r) for r in rows]


class SickbedRequest(BaseModel):
    """A home sick-bed opened (建床) or discharged (撤床) on a day."""

    resident_id: PlainText = Field(max_length=64)
    date: PlanningDate


class SickbedEpisode(BaseModel):
    """A stored home sick-bed episode."""

    episode_id: int
    resident_id: str
    opened: dt.date
    discharged: dt.date | None


Leaders = Annotated[Principal, require_roles(UserRole.ADMIN, UserRole.TEAM_LEADER)]


def _sickbed_change(
    body: SickbedRequest, user: Principal, session: DbSession, discharge: bool
) -> SickbedEpisode:
    resident_visible(session, user, body.resident_id)
    change = discharge_sickbed if discharge else open_sickbed
    try:
        episode_id = change(session, body.resident_id, body.date)
        session.commit()
    except RecordError as exc:
        session.rollback()
        raise _refused(exc, "sick-bed change") from None
    row = session.get(SickbedEpisodeRow, episode_id)
    assert row is not None
    return SickbedEpisode(
        episode_id=row.episode_id,
        resident_id=row.resident_id,
        opened=row.opened,
        discharged=row.discharged,
    )


_SICKBED_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such resident in sight"},
    422: {"description": "Refused, with every reason"},
}


@router.post(
    "/sickbeds/open",
    status_code=status.HTTP_201_CREATED,
    response_model=SickbedEpisode,
    responses=_SICKBED_RESPONSES,
)
def open_sickbed_route(body: SickbedRequest, user: Leaders, session: DbSession) -> SickbedEpisode:
    """Open a home sick-bed (建床) for one of my team's residents."""
    return _sickbed_change(body, user, session, discharge=False)


@router.post("/sickbeds/discharge", response_model=SickbedEpisode, responses=_SICKBED_RESPONSES)
def discharge_sickbed_route(
    body: SickbedRequest, user: Leaders, session: DbSession
) -> SickbedEpisode:
    """Discharge a resident's open home sick-bed (撤床); Annex 3 counts it."""
    return _sickbed_change(body, user, session, discharge=True)
