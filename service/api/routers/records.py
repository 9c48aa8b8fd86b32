"""Visit records: a clinician records her visits (done or missed), a team leader his team's."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status

from service.api.access import audit, clinician_serves, resident_visible
from service.api.deps import DbSession, require_roles
from service.api.models import Record, RecordRequest, SickbedEpisode, SickbedRequest
from service.db.records import (
    RecordError,
    VisitReport,
    record_visit,
    resident_records,
    sickbed_episode,
    visit_record,
)
from service.db.tables import UserRole, VisitRecordRow
from service.sickbeds import change_sickbed
from service.users import Principal

router = APIRouter(prefix="/records", tags=["records"])

Staff = Annotated[
    Principal, require_roles(UserRole.ADMIN, UserRole.TEAM_LEADER, UserRole.CLINICIAN)
]


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
    row = visit_record(session, record_id)
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
    rows = resident_records(session, resident_id)
    audit(request, user, "read records", [resident_id])
    return [_record(r) for r in rows]


Leaders = Annotated[Principal, require_roles(UserRole.ADMIN, UserRole.TEAM_LEADER)]


def _sickbed_change(
    request: Request, body: SickbedRequest, user: Principal, session: DbSession, discharge: bool
) -> SickbedEpisode:
    try:
        episode_id = change_sickbed(
            session, user, body.resident_id, body.date, discharge=discharge, reason=body.reason
        )
    except RecordError as exc:
        raise _refused(exc, "sick-bed change") from None
    row = sickbed_episode(session, episode_id)
    assert row is not None
    action = "record sickbed discharge" if discharge else "record sickbed open"
    audit(request, user, action, [body.resident_id], f"episode {episode_id}")
    return SickbedEpisode(
        episode_id=row.episode_id,
        resident_id=row.resident_id,
        opened=row.opened,
        discharged=row.discharged,
        discharge_reason=row.discharge_reason,
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
def open_sickbed_route(
    request: Request, body: SickbedRequest, user: Leaders, session: DbSession
) -> SickbedEpisode:
    """Open a home sick-bed (建床) for one of my team's residents (audited)."""
    return _sickbed_change(request, body, user, session, discharge=False)


@router.post("/sickbeds/discharge", response_model=SickbedEpisode, responses=_SICKBED_RESPONSES)
def discharge_sickbed_route(
    request: Request, body: SickbedRequest, user: Leaders, session: DbSession
) -> SickbedEpisode:
    """Discharge a resident's open home sick-bed (撤床); Annex 3 counts it (audited)."""
    return _sickbed_change(request, body, user, session, discharge=True)
