"""A team leader's fixed decisions, turned into the problem the solver re-plans around.

A *pin* puts a visit on one clinician's route on one day (and, if given, at one start time); a
*lock* is a pin at the visit's current place and time; a *removal* takes the visit out of the
week. Pins are expressed in the problem itself, so the solver and the evaluator need nothing
new and check them like any other rule: the visit may only start in the pinned window, and
only the pinned clinician holds the one-off skill ``pin:<clinician_id>`` that the visit's
staffing asks for. Pinned visits get the highest urgency, so the search drops them last.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from scheduler.model import (
    Clinician,
    DayWindow,
    Plan,
    Problem,
    Staffing,
    Unscheduled,
    Urgency,
    Visit,
)

__all__ = ["REMOVED_REASON", "Pin", "PinError", "apply_pins", "with_removed"]

REMOVED_REASON = "removed from this week by the team leader / 组长已将此次上门移出本周"


class PinError(ValueError):
    """A pin that cannot hold (unknown visit or clinician, wrong day, wrong skills)."""


@dataclass(frozen=True, slots=True)
class Pin:
    """Fix ``visit_id`` to ``clinician_id`` on ``day`` (at ``start_min`` if given)."""

    visit_id: str
    clinician_id: str
    day: dt.date
    start_min: int | None = None


def _pin_skill(clinician_id: str) -> str:
    return f"pin:{clinician_id}"


def _pinned_visit(visit: Visit, pin: Pin, clinician: Clinician, problem: Problem) -> Visit:
    if not problem.may_serve(clinician, visit):
        raise PinError(f"{pin.clinician_id} is not in the team of visit {visit.visit_id}")
    if not problem.works_on(clinician, pin.day):
        raise PinError(f"{pin.clinician_id} does not work on {pin.day}")
    places = list(visit.staffing)
    index = next((i for i, p in enumerate(places) if p.accepts(clinician)), None)
    if index is None:
        raise PinError(
            f"{pin.clinician_id} cannot do visit {visit.visit_id}: it needs "
            + "; ".join(p.describe() for p in visit.staffing)
        )
    place = places[index]
    places[index] = Staffing(place.roles, place.skills | {_pin_skill(clinician.clinician_id)})
    if pin.start_min is None:
        windows = tuple(w for w in visit.windows if w.day == pin.day)
        if not windows:
            raise PinError(f"visit {visit.visit_id} cannot take place on {pin.day}")
    else:
        end = pin.start_min + visit.duration_min
        if not any(
            w.day == pin.day and w.start_min <= pin.start_min and end <= w.end_min
            for w in visit.windows
        ):
            raise PinError(
                f"visit {visit.visit_id} cannot start at {pin.start_min // 60:02d}:"
                f"{pin.start_min % 60:02d} on {pin.day}: outside the resident's windows"
            )
        windows = (DayWindow(pin.day, pin.start_min, end),)
    return dataclasses.replace(
        visit, staffing=tuple(places), windows=windows, urgency=Urgency.OVERDUE
    )


def apply_pins(problem: Problem, pins: Iterable[Pin], removed: Iterable[str] = ()) -> Problem:
    """The problem with ``pins`` fixed and ``removed`` visits taken out.

    Raises
    ------
    PinError
        A pin names an unknown visit or clinician, or cannot hold by the visit's own rules.
    """
    visits = {v.visit_id: v for v in problem.visits}
    clinicians = {c.clinician_id: c for c in problem.clinicians}
    pinned_to: dict[str, set[str]] = {}
    for pin in pins:
        visit, clinician = visits.get(pin.visit_id), clinicians.get(pin.clinician_id)
        if visit is None:
            raise PinError(f"no visit {pin.visit_id} in the week of {problem.week_start}")
        if clinician is None:
            raise PinError(
                f"no clinician {pin.clinician_id} works the week of {problem.week_start}"
            )
        visits[pin.visit_id] = _pinned_visit(visit, pin, clinician, problem)
        pinned_to.setdefault(pin.clinician_id, set()).add(_pin_skill(pin.clinician_id))
    for visit_id in removed:
        visits.pop(visit_id, None)
    new_clinicians = tuple(
        dataclasses.replace(c, skills=c.skills | pinned_to[c.clinician_id])
        if c.clinician_id in pinned_to
        else c
        for c in problem.clinicians
    )
    kept = tuple(visits.values())
    return dataclasses.replace(
        problem, clinicians=new_clinicians, visits=kept, links=problem.links_among(kept)
    )


def with_removed(plan: Plan, removed: Sequence[str]) -> Plan:
    """``plan`` with the removed visits listed as unscheduled, with the reason."""
    extra = tuple(Unscheduled(visit_id, REMOVED_REASON) for visit_id in removed)
    return dataclasses.replace(plan, unscheduled=plan.unscheduled + extra)
