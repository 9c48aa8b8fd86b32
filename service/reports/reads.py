"""The database reads of the coverage report (``/reports/coverage``) and the report routes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from service.db.tables import CentreRow, PlanRow, ResidentRow, VisitOutcome, VisitRecordRow


def centre_exists(session: Session, centre_id: str) -> bool:
    """Whether the centre is stored (active or not)."""
    return session.get(CentreRow, centre_id) is not None


def coverage_residents(session: Session, centre_id: str) -> Sequence[Row[str, str, dt.date, bool]]:
    """(resident_id, team_id, birth_date, home_sickbed) of the centre's active residents."""
    return session.execute(
        select(
            ResidentRow.resident_id,
            ResidentRow.team_id,
            ResidentRow.birth_date,
            ResidentRow.home_sickbed,
        ).where(ResidentRow.centre_id == centre_id, ResidentRow.active.is_(True))
    ).all()


def completed_visits(
    session: Session, centre_id: str, first: dt.date, last: dt.date
) -> Sequence[Row[str, str, dt.date]]:
    """(resident_id, programme, visit_date) of the completed visits to the centre's residents
    from ``first`` to ``last`` (both included)."""
    return session.execute(
        select(VisitRecordRow.resident_id, VisitRecordRow.programme, VisitRecordRow.visit_date)
        .join(ResidentRow, ResidentRow.resident_id == VisitRecordRow.resident_id)
        .where(
            ResidentRow.centre_id == centre_id,
            VisitRecordRow.outcome == VisitOutcome.COMPLETED.value,
            VisitRecordRow.visit_date >= first,
            VisitRecordRow.visit_date <= last,
        )
    ).all()


def has_visit_records(
    session: Session, centre_id: str, first: dt.date, last: dt.date, team_id: str | None = None
) -> bool:
    """Whether any visit of the centre's (or the team's) residents is recorded from ``first`` to
    ``last``, whatever its outcome."""
    query = (
        select(VisitRecordRow.record_id)
        .join(ResidentRow, ResidentRow.resident_id == VisitRecordRow.resident_id)
        .where(
            ResidentRow.centre_id == centre_id,
            VisitRecordRow.visit_date >= first,
            VisitRecordRow.visit_date <= last,
        )
        .limit(1)
    )
    if team_id is not None:
        query = query.where(ResidentRow.team_id == team_id)
    return session.scalar(query) is not None


def latest_plan_of_week(session: Session, centre_id: str, week: dt.date) -> PlanRow | None:
    """The newest version of the centre's plan for the week starting ``week``, whatever status."""
    return session.scalar(
        select(PlanRow)
        .where(PlanRow.centre_id == centre_id, PlanRow.week_start == week)
        .order_by(PlanRow.version.desc())
        .limit(1)
    )


def active_centre_names(session: Session) -> tuple[tuple[str, str], ...]:
    """(centre_id, name) of the active centres, by id."""
    return tuple(
        session.execute(
            select(CentreRow.centre_id, CentreRow.name)
            .where(CentreRow.active.is_(True))
            .order_by(CentreRow.centre_id)
        ).all()
    )
