"""Stored plans: versions, status and optimistic locking.

A centre's week has a sequence of plan versions. A draft may be saved over (it is the work in
progress); an approved or done plan is never overwritten: saving on top of it makes the next
version, and approving that one marks the earlier approved version ``superseded``.

Two team leaders editing the same centre and week each hold a :class:`PlanHandle` (the version
and ``revision`` they loaded). Every save and status change is a compare-and-set on that
revision: the first succeeds and bumps it, the second finds it changed and is refused with
:class:`PlanConflictError`; nothing is merged. The functions work in the caller's transaction;
the caller commits (or rolls back after an error).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from scheduler.model import Plan, Problem
from service.db import mappers
from service.db.tables import (
    PlanRouteRow,
    PlanRow,
    PlanStatus,
    PlanStopRow,
    PlanUnscheduledRow,
    VisitOutcome,
    VisitRecordRow,
)

__all__ = [
    "PlanConflictError",
    "PlanHandle",
    "PlanStateError",
    "latest_plan",
    "load_plan",
    "plan_versions",
    "save_plan",
    "set_status",
    "unfinished_visits",
]


class PlanConflictError(Exception):
    """Someone else changed the plan since it was loaded; the save was refused."""


class PlanStateError(Exception):
    """The requested status change is not allowed (e.g. approving a done plan)."""


@dataclass(frozen=True, slots=True)
class PlanHandle:
    """What a client holds of a stored plan: which version, and the revision it saw."""

    plan_id: int
    centre_id: str
    week_start: dt.date
    version: int
    status: PlanStatus
    revision: int
    saved_by: str = ""

    def describe(self) -> str:
        """E.g. ``version 2 (approved, revision 3)``."""
        return f"version {self.version} ({self.status.value}, revision {self.revision})"


_ALLOWED: dict[PlanStatus, frozenset[PlanStatus]] = {
    PlanStatus.DRAFT: frozenset({PlanStatus.APPROVED}),
    PlanStatus.APPROVED: frozenset({PlanStatus.DONE, PlanStatus.SUPERSEDED}),
    PlanStatus.DONE: frozenset(),
    PlanStatus.SUPERSEDED: frozenset(),
}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _handle(row: PlanRow) -> PlanHandle:
    return PlanHandle(
        row.plan_id,
        row.centre_id,
        row.week_start,
        row.version,
        PlanStatus(row.status),
        row.revision,
        row.saved_by,
    )


def plan_versions(session: Session, centre_id: str, week_start: dt.date) -> list[PlanHandle]:
    """Every stored version of the centre's week, oldest first."""
    rows = session.scalars(
        select(PlanRow)
        .where(PlanRow.centre_id == centre_id, PlanRow.week_start == week_start)
        .order_by(PlanRow.version)
        .execution_options(populate_existing=True)
    )
    return [_handle(row) for row in rows]


def latest_plan(session: Session, centre_id: str, week_start: dt.date) -> PlanHandle | None:
    """The newest version of the centre's week, or ``None`` if none is stored."""
    versions = plan_versions(session, centre_id, week_start)
    return versions[-1] if versions else None


def _claim(session: Session, base: PlanHandle, **values: object) -> None:
    """Compare-and-set: bump ``base``'s revision if nobody else has; else refuse."""
    result = session.execute(
        update(PlanRow)
        .where(PlanRow.plan_id == base.plan_id, PlanRow.revision == base.revision)
        .values(revision=base.revision + 1, updated_at=_now(), **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise _conflict(session, base)


def _conflict(session: Session, base: PlanHandle | None) -> PlanConflictError:
    if base is None:
        return PlanConflictError("a plan for this centre and week was saved by someone else")
    current = latest_plan(session, base.centre_id, base.week_start)
    now = f"; it is now {current.describe()}" if current else ""
    by = f", saved by {current.saved_by}" if current and current.saved_by else ""
    return PlanConflictError(
        f"the plan of {base.centre_id} for the week of {base.week_start} was changed by someone "
        f"else since you loaded {base.describe()}{now}{by}: reload it and apply your changes "
        "again (nothing was saved)"
    )


def save_plan(
    session: Session,
    problem: Problem,
    plan: Plan,
    centre_id: str,
    *,
    base: PlanHandle | None,
    saved_by: str = "",
    kpis: dict[str, object] | None = None,
) -> PlanHandle:
    """Store ``plan`` for ``centre_id`` and the problem's week.

    ``base`` is the version the user started from (``None`` for the first plan of the week).
    A draft ``base`` is saved over; an approved or done one gets a new draft version on top.

    Raises
    ------
    PlanConflictError
        Another save got there first (``base`` is not the latest, or changed meanwhile).
    """
    week = problem.week_start
    latest = latest_plan(session, centre_id, week)
    if base is None:
        if latest is not None:
            raise PlanConflictError(
                f"a plan of {centre_id} for the week of {week} already exists "
                f"({latest.describe()}): load it and save your changes on top of it"
            )
        return _insert(session, problem, plan, centre_id, 1, saved_by, kpis)
    if latest is None or latest.plan_id != base.plan_id or latest.revision != base.revision:
        raise _conflict(session, base)
    if base.status is PlanStatus.DRAFT:
        _claim(
            session,
            base,
            saved_by=saved_by,
            solver_status=plan.status,
            objective=plan.objective,
            solve_seconds=plan.solve_seconds,
            kpis=kpis,
        )
        for table in (PlanRouteRow, PlanStopRow, PlanUnscheduledRow):
            session.execute(delete(table).where(table.plan_id == base.plan_id))
        _insert_content(session, problem, plan, base.plan_id)
        return _handle(_reload(session, base.plan_id))
    _claim(session, base)  # the approved plan stays as it is; only its revision moves
    return _insert(session, problem, plan, centre_id, base.version + 1, saved_by, kpis)


def _reload(session: Session, plan_id: int) -> PlanRow:
    row = session.get(PlanRow, plan_id, populate_existing=True)
    assert row is not None
    return row


def _insert(
    session: Session,
    problem: Problem,
    plan: Plan,
    centre_id: str,
    version: int,
    saved_by: str,
    kpis: dict[str, object] | None = None,
) -> PlanHandle:
    now = _now()
    try:
        with session.begin_nested():
            plan_id = session.execute(
                insert(PlanRow)
                .values(
                    centre_id=centre_id,
                    week_start=problem.week_start,
                    version=version,
                    status=PlanStatus.DRAFT.value,
                    revision=1,
                    saved_by=saved_by,
                    solver_status=plan.status,
                    objective=plan.objective,
                    solve_seconds=plan.solve_seconds,
                    kpis=kpis,
                    created_at=now,
                    updated_at=now,
                )
                .returning(PlanRow.plan_id)
            ).scalar_one()
    except IntegrityError:  # the same version was inserted by a concurrent save
        raise PlanConflictError(
            f"version {version} of the plan of {centre_id} for the week of "
            f"{problem.week_start} was just saved by someone else: reload it (nothing was saved)"
        ) from None
    _insert_content(session, problem, plan, plan_id)
    return _handle(_reload(session, plan_id))


def _insert_content(session: Session, problem: Problem, plan: Plan, plan_id: int) -> None:
    routes, stops, unscheduled = mappers.plan_rows(problem, plan, plan_id)
    for table, rows in ((PlanRouteRow, routes), (PlanStopRow, stops)):
        if rows:
            session.execute(insert(table), rows)
    if unscheduled:
        session.execute(insert(PlanUnscheduledRow), unscheduled)


def set_status(session: Session, base: PlanHandle, status: PlanStatus) -> PlanHandle:
    """Approve a draft or mark an approved plan done (checked against ``base``'s revision).

    Approving supersedes the earlier approved version of the same week.
    """
    if status not in _ALLOWED[base.status]:
        raise PlanStateError(
            f"{base.describe()} of {base.centre_id} cannot become {status.value}"
            + (
                ": approved and done plans are never changed; save a new version"
                if base.status is not PlanStatus.DRAFT
                else ""
            )
        )
    _claim(session, base, status=status.value)
    if status is PlanStatus.APPROVED:
        for older in plan_versions(session, base.centre_id, base.week_start):
            if older.version < base.version and older.status is PlanStatus.APPROVED:
                _claim(session, older, status=PlanStatus.SUPERSEDED.value)
    return _handle(_reload(session, base.plan_id))


def load_plan(session: Session, plan_id: int) -> Plan:
    """The stored plan, routes by (clinician, date), stops in sequence."""
    row = session.execute(select(PlanRow.__table__).where(PlanRow.plan_id == plan_id)).mappings()
    plan = row.one()
    routes = session.execute(
        select(PlanRouteRow.__table__)
        .where(PlanRouteRow.plan_id == plan_id)
        .order_by(PlanRouteRow.clinician_id, PlanRouteRow.route_date)
    ).mappings()
    stops = session.execute(
        select(PlanStopRow.__table__).where(PlanStopRow.plan_id == plan_id)
    ).mappings()
    left = session.execute(
        select(PlanUnscheduledRow.__table__)
        .where(PlanUnscheduledRow.plan_id == plan_id)
        .order_by(PlanUnscheduledRow.unscheduled_id)
    ).mappings()
    return mappers.plan_from_rows(plan, routes, stops, left)


def unfinished_visits(session: Session, plan_id: int) -> list[str]:
    """Planned home visits with no completed record on or after their planned day.

    They are not in the history, so the care programmes put them back on the due list.
    """
    stops = session.execute(
        select(PlanStopRow.visit_id, PlanStopRow.resident_id, PlanStopRow.programme)
        .where(PlanStopRow.plan_id == plan_id, PlanStopRow.resident_id.is_not(None))
        .distinct()
    ).all()
    plan = session.get(PlanRow, plan_id)
    assert plan is not None
    done = {
        (r.resident_id, r.programme)
        for r in session.execute(
            select(VisitRecordRow.resident_id, VisitRecordRow.programme).where(
                VisitRecordRow.outcome == VisitOutcome.COMPLETED.value,
                VisitRecordRow.visit_date >= plan.week_start,
            )
        )
    }
    return sorted(s.visit_id for s in stops if (s.resident_id, s.programme) not in done)
