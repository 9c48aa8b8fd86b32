"""Object-level access rules, in one place, and the audit log of reads of residents' records.

Every rule answers "may this user see this object?"; a refusal is a 404 that names only what
was asked for, so guessing ids tells nothing about what exists. Role-level refusals (a nurse
calling a planner's endpoint) are 403 and come from :func:`service.api.deps.require_roles`.

- admin: everything;
- team_leader: his centre's plans, and of them his team's routes; his team's residents and
  records;
- clinician: her own routes in approved plans, and only the residents on them;
- planner: every centre, plans' figures and routes without residents; residents and visits
  pseudonymised (a visit's id holds its resident's); no map of homes.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import Any, TypeVar

from fastapi import HTTPException, Request, status
from sqlalchemy import Select, exists, select
from sqlalchemy.orm import Session

from maps.base import mask_name
from service.db.tables import (
    ClinicianRow,
    PlanRow,
    PlanStatus,
    PlanStopRow,
    ResidentRow,
    UserRole,
)
from service.users import Principal

__all__ = [
    "VISIBLE_PLAN_STATUSES_FOR_CLINICIANS",
    "audit",
    "clinician_visible",
    "mask_name",
    "mask_phone",
    "not_found",
    "plan_clinician",
    "plan_visible",
    "pseudonym",
    "resident_scope",
    "resident_visible",
    "visit_pseudonym",
]

VISIBLE_PLAN_STATUSES_FOR_CLINICIANS = (PlanStatus.APPROVED.value, PlanStatus.DONE.value)


def not_found(what: str, object_id: object) -> HTTPException:
    """The one answer for "does not exist" and "not yours"."""
    return HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no {what} {object_id}")


def mask_phone(phone: str) -> str:
    """13812345678 -> 138****5678."""
    digits = phone.strip()
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def pseudonym(resident_id: str, key: str) -> str:
    """A stable id for planners that cannot be turned back into the resident's id."""
    digest = hmac.new(key.encode(), resident_id.encode(), hashlib.sha256).hexdigest()
    return "P-" + digest[:12]


def visit_pseudonym(visit_id: str, key: str) -> str:
    """A visit's id for planners: the real one holds the resident's (``..-MH03-R01397-1206``).

    Keyed like :func:`pseudonym`, and apart from it (``visit:``), so a visit's pseudonym is
    never a resident's; the same visit keeps it from one response to the next.
    """
    return "V-" + pseudonym(f"visit:{visit_id}", key)[2:]


def _clinician_resident_ids(clinician_id: str) -> Select[Any]:
    return (
        select(PlanStopRow.resident_id)
        .join(PlanRow, PlanRow.plan_id == PlanStopRow.plan_id)
        .where(
            PlanStopRow.clinician_id == clinician_id,
            PlanRow.status.in_(VISIBLE_PLAN_STATUSES_FOR_CLINICIANS),
            PlanStopRow.resident_id.is_not(None),
        )
    )


_Query = TypeVar("_Query", bound=Select)  # type: ignore[type-arg]  # a select of any columns


def resident_scope(user: Principal, query: _Query) -> _Query:
    """``query`` narrowed to the residents ``user`` may see."""
    if user.role in (UserRole.ADMIN, UserRole.PLANNER):
        return query
    if user.role is UserRole.TEAM_LEADER:
        return query.where(ResidentRow.team_id == user.team_id)
    return query.where(ResidentRow.resident_id.in_(_clinician_resident_ids(str(user.clinician_id))))


def resident_visible(session: Session, user: Principal, resident_id: str) -> ResidentRow:
    """The resident, if ``user`` may read the record; else 404 (planners read aggregates only)."""
    if user.role is UserRole.PLANNER:
        raise not_found("resident", resident_id)
    row: ResidentRow | None = session.scalar(
        resident_scope(user, select(ResidentRow).where(ResidentRow.resident_id == resident_id))
    )
    if row is None:
        raise not_found("resident", resident_id)
    return row


def plan_visible(session: Session, user: Principal, plan_id: int) -> PlanRow:
    """The stored plan, if ``user`` may see it (clinicians: approved plans of her centre)."""
    row = session.get(PlanRow, plan_id)
    if row is None:
        raise not_found("plan", plan_id)
    if user.role in (UserRole.ADMIN, UserRole.PLANNER):
        return row
    if row.centre_id != user.centre_id:
        raise not_found("plan", plan_id)
    if user.role is UserRole.CLINICIAN and row.status not in VISIBLE_PLAN_STATUSES_FOR_CLINICIANS:
        raise not_found("plan", plan_id)
    return row


def clinician_visible(session: Session, user: Principal, clinician_id: str) -> ClinicianRow:
    """The clinician, if ``user`` may see her routes (herself; her team's leader; admin)."""
    row = session.get(ClinicianRow, clinician_id)
    allowed = row is not None and (
        user.role is UserRole.ADMIN
        or (user.role is UserRole.TEAM_LEADER and row.team_id == user.team_id)
        or (user.role is UserRole.CLINICIAN and row.clinician_id == user.clinician_id)
    )
    if row is None or not allowed:
        raise not_found("clinician", clinician_id)
    return row


def plan_clinician(
    session: Session, user: Principal, plan: PlanRow, clinician_id: str
) -> ClinicianRow:
    """A clinician of the plan's centre that ``user`` may see; 404 for anyone else (another
    centre's clinician has no route in this plan, whoever asks)."""
    row = clinician_visible(session, user, clinician_id)
    if row.centre_id != plan.centre_id:
        raise not_found("clinician", clinician_id)
    return row


def clinician_serves(session: Session, clinician_id: str, resident_id: str) -> bool:
    """Whether the resident is on one of the clinician's routes in an approved plan."""
    ids = _clinician_resident_ids(clinician_id).where(PlanStopRow.resident_id == resident_id)
    return bool(session.scalar(select(exists(ids))))


def audit(
    request: Request,
    user: Principal,
    action: str,
    resident_ids: Iterable[str],
    detail: str = "",
) -> None:
    """Record that ``user`` read these residents' records (see :mod:`service.api.audit`)."""
    request.app.state.audit.record(user, action, resident_ids, detail)
