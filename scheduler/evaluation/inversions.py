"""Defects of urgency and timing a plan can have while breaking no hard rule.

* An **inversion**: a visit is left out while a visit of lower urgency sits where it could go
  instead: on the day of a clinician who may do it (signed team, or cover when allowed; role
  and skills), and with the lower one taken off that day, the left-out one fits its times.
* **Late with room earlier**: a visit is planned after its due date (an overdue visit always
  is) while, on an earlier day of its windows, someone who may do it had room for it in the
  plan as it stands.

Both are found with the evaluator's own simulation of a clinician-day (arrivals, windows,
lunch, shift, lab samples), never with the solver's: the planner repairs them before it writes,
and this module is how the evaluator checks that it did.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from scheduler.evaluation.results import Violation
from scheduler.evaluation.search import (
    Context,
    Day,
    Entry,
    assignments,
    by_centre,
    eligible_clinicians,
    insertions,
    joint_fits,
    single_starts,
)
from scheduler.evaluation.text import day_en, visit_label, who_text
from scheduler.model import Plan, Problem, Stop, Urgency, Visit
from scheduler.travel import TravelTimeProvider

__all__ = [
    "Inversion",
    "LateWithRoom",
    "find_inversions",
    "find_late_with_room",
    "inversions_in",
    "is_late",
    "late_with_room_in",
    "timing_findings",
]


_Found = TypeVar("_Found", "Inversion", "LateWithRoom")


@dataclass(frozen=True, slots=True, order=True)
class Inversion:
    """``visit_id`` is left out while ``instead_of``, less urgent, sits on a day it could take.

    ``clinician_id`` and ``day`` name that day: without ``instead_of`` the left-out visit fits.
    """

    visit_id: str
    instead_of: str
    clinician_id: str
    day: dt.date


@dataclass(frozen=True, slots=True, order=True)
class LateWithRoom:
    """``visit_id`` is planned late on ``planned_day``; ``clinician_ids`` had room on ``day``."""

    visit_id: str
    planned_day: dt.date
    day: dt.date
    clinician_ids: tuple[str, ...]


def find_inversions(problem: Problem, plan: Plan, travel: TravelTimeProvider) -> list[Inversion]:
    """Every pair of a left-out visit and a less urgent visit it could replace, sorted.

    Parameters
    ----------
    problem, plan, travel
        As for :func:`scheduler.evaluate.evaluate`.
    """
    return _centreby_centre(inversions_in, problem, plan, travel)


def find_late_with_room(
    problem: Problem, plan: Plan, travel: TravelTimeProvider
) -> list[LateWithRoom]:
    """Every visit planned late while someone who may do it had room on an earlier day.

    The earliest such day is given, with the clinicians (one per staffing place) who had room.
    """
    return _centreby_centre(late_with_room_in, problem, plan, travel)


def _centreby_centre(
    find: Callable[[Context], list[_Found]],
    problem: Problem,
    plan: Plan,
    travel: TravelTimeProvider,
) -> list[_Found]:
    # Centres share no clinician, and one travel table for a district would not fit in memory.
    return sorted(
        found
        for sub_problem, sub_plan in by_centre(problem, plan)
        for found in find(Context(sub_problem, sub_plan, travel))
    )


def is_late(visit: Visit, day: dt.date) -> bool:
    """Whether doing ``visit`` on ``day`` is late: after its due date, or it is overdue."""
    return visit.urgency is Urgency.OVERDUE or day > visit.due_by


# --- with the evaluator's context -------------------------------------------------------------


def inversions_in(ctx: Context) -> list[Inversion]:
    """:func:`find_inversions` on one centre's evaluation context."""
    problem = ctx.problem
    stops_on: dict[tuple[str, dt.date], list[Stop]] = {
        key: sorted(route.stops, key=lambda s: s.sequence) for key, route in ctx.routes.items()
    }
    found: list[Inversion] = []
    for visit in problem.visits:
        if visit.visit_id in ctx.scheduled or visit.urgency is Urgency.OPTIONAL:
            continue
        candidates = eligible_clinicians(problem, visit)
        for day in sorted({w.day for w in visit.windows} & ctx.week):
            entry = ctx.entry(visit, day)
            for clinician in candidates:
                stops = stops_on.get((clinician.clinician_id, day), [])
                lower = [
                    (i, ctx.visits[s.visit_id])
                    for i, s in enumerate(stops)
                    if s.visit_id in ctx.visits and ctx.visits[s.visit_id].urgency < visit.urgency
                ]
                if not lower or not problem.works_on(clinician, day):
                    continue
                planned = ctx.day_of(clinician, day, empty=False)
                empty = ctx.day_of(clinician, day, empty=True)
                if planned is None or empty is None:
                    continue
                if not visit.is_joint and not single_starts(empty, entry, first_only=True):
                    continue  # not even her empty day takes it
                for i, other in lower:
                    without = dataclasses.replace(
                        planned, entries=planned.entries[:i] + planned.entries[i + 1 :]
                    )
                    if _fits_with(ctx, visit, entry, clinician.clinician_id, without):
                        found.append(
                            Inversion(visit.visit_id, other.visit_id, clinician.clinician_id, day)
                        )
    return sorted(found)


def _fits_with(ctx: Context, visit: Visit, entry: Entry, clinician_id: str, changed: Day) -> bool:
    """Whether ``visit`` fits with ``clinician_id``'s day replaced by ``changed`` (her in it).

    A joint visit needs her and, as their days are planned, the others of its staffing.
    """
    if not visit.is_joint:
        return bool(single_starts(changed, entry, first_only=True))
    mine = single_starts(changed, entry, first_only=False)
    if not mine:
        return False
    others: dict[str, tuple[Day, list[tuple[int, int]]]] = {}
    for clinician in eligible_clinicians(ctx.problem, visit):
        me_again = clinician.clinician_id == clinician_id
        if me_again or not ctx.problem.works_on(clinician, changed.day):
            continue
        sim = ctx.day_of(clinician, changed.day, empty=False)
        if sim is not None and (singles := single_starts(sim, entry, first_only=False)):
            others[clinician.clinician_id] = (sim, singles)
    me = ctx.clinicians[clinician_id]
    for partners in itertools.combinations(others, len(visit.staffing) - 1):
        people = [me, *(ctx.clinicians[c] for c in partners)]
        if assignments(visit.staffing, people) is None:
            continue
        if joint_fits(entry, [(changed, mine), *(others[c] for c in partners)]):
            return True
    return False


def late_with_room_in(ctx: Context) -> list[LateWithRoom]:
    """:func:`find_late_with_room` on one centre's evaluation context."""
    planned_on: dict[str, dt.date] = {}
    for stop in ctx.plan.stops():
        planned_on.setdefault(stop.visit_id, stop.day)
    found: list[LateWithRoom] = []
    for visit in ctx.problem.visits:
        day = planned_on.get(visit.visit_id)
        if day is None or not is_late(visit, day):
            continue
        earlier = tuple(w for w in visit.windows if w.day < day)
        if not earlier:
            continue
        option = _first_room(ctx, dataclasses.replace(visit, windows=earlier))
        if option is not None:
            found.append(
                LateWithRoom(visit.visit_id, day, dt.date.fromisoformat(option[-1]), option[:-1])
            )
    return sorted(found)


def _first_room(ctx: Context, visit: Visit) -> tuple[str, ...] | None:
    options = insertions(ctx, visit, first_only=True)
    return options[0] if options else None


def timing_findings(ctx: Context) -> list[Violation]:
    """The evaluator's findings of this module, as violations with their rule codes.

    One ``inversion`` per left-out visit (naming the less urgent visits it could replace), one
    ``late_with_room_earlier`` per late visit.
    """
    out: list[Violation] = []
    by_visit: dict[str, list[Inversion]] = {}
    for inversion in inversions_in(ctx):
        by_visit.setdefault(inversion.visit_id, []).append(inversion)
    for visit_id, pairs in by_visit.items():
        visit = ctx.visits[visit_id]
        first = pairs[0]
        displaced = ctx.visits[first.instead_of]
        more = _and_more(pairs)
        out.append(
            Violation(
                "inversion",
                f"{_label(visit)} ({visit.urgency.name.lower()}) is left out while "
                f"{_label(displaced)} ({displaced.urgency.name.lower()}){more} sits on "
                f"{who_text(ctx.clinicians.get(first.clinician_id), first.clinician_id)}'s "
                f"{day_en(first.day)}, where it would fit instead.",
                visit_id=visit_id,
                clinician_id=first.clinician_id,
                day=first.day,
            )
        )
    for late in late_with_room_in(ctx):
        visit = ctx.visits[late.visit_id]
        why = "overdue" if visit.due_by >= late.planned_day else f"due by {visit.due_by:%m-%d}"
        names = " and ".join(who_text(ctx.clinicians.get(c), c) for c in late.clinician_ids)
        out.append(
            Violation(
                "late_with_room_earlier",
                f"{_label(visit)} ({why}) is planned on {day_en(late.planned_day)}, "
                f"but {names} had room for it on {day_en(late.day)}.",
                visit_id=late.visit_id,
                clinician_id=late.clinician_ids[0],
                day=late.day,
            )
        )
    return out


def _label(visit: Visit) -> str:
    return visit_label(visit, visit.visit_id)


def _and_more(pairs: Sequence[Inversion]) -> str:
    others = len({p.instead_of for p in pairs}) - 1
    return f" and {others} other less urgent visit{'s' if others > 1 else ''}" if others else ""
