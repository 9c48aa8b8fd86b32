"""Visit records: a clinician records her visits (done or missed), a team leader his team's."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, Field
from sqlalchemy import select

from service.api.access import audit, clinician_serves, resident_visible
from service.api.deps import ROW_ID_MAX, DbSession, PlainText, PlanningDate, require_roles
from service.db.records import RecordError, VisitReport, record_visit
from service.db.tables import UserRole, VisitOutcome, VisitRecordRow
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
    outcome: VisitOutcome = VisitOutcome.COMPLETED
    clinician_ids: list[Annotated[PlainText, Field(max_length=64)]] = Field(
        default_factory=list, max_length=4, description="Who went (default: me)"
    )
    note: PlainText = Field("", max_length=2000)
    systolic_mmhg: int | None = Field(None, ge=0, le=400, strict=True)
    diastolic_mmhg: int | None = Field(None, ge=0, le=300, strict=True)
    glucose_mmol_l: float | None = Field(None, ge=0, le=100, allow_inf_nan=False)
    plan_id: int | None = Field(None, ge=1, le=ROW_ID_MAX, strict=True)
    visit_id: PlainText | None = Field(None, max_length=128)


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
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Record,
    responses={404: {"description": "No such resident in sight"}, 422: {"description": "Invalid"}},
)
def create_record(body: RecordRequest, user: Staff, session: DbSession) -> Record:
    """Record a visit as done or missed; a completed visit becomes history (记录上门结果)."""
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
    )
    try:
        record_id = record_visit(session, report)
        session.commit()
    except RecordError as exc:
        session.rollback()
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail={
                "detail": "the record was not stored",
                "errors": [{"field": "body", "reason": p} for p in exc.problems],
            },
        ) from None
    row = session.get(VisitRecordRow, record_id)
    assert row is not None
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
