"""On time: which day a visit could first be done, how late a day is, and the week's figures.

One definition serves the solver (the cost of a visit on a later day) and the evaluator (the
figures a team leader reads), so that what the planner minimises is what the report counts.

* A visit is **late** on a day after its ``due_by``; it is **days late** by the difference.
* An **overdue** visit should already have happened: every day it still waits counts, from
  its **first feasible day** (the first day of its windows on which someone who may do it
  works), however far its ``due_by`` lies in the past (or, for a missed period, the future).
* The cost of a day is its days waited times the visit's weight: a weight per urgency
  (``SolveParams.late_cost_per_day``) times the programme's ``stakes`` (medicine and sick-bed
  rounds before follow-ups).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping

from scheduler.model import Plan, Problem, Urgency, Visit

__all__ = [
    "days_waited",
    "first_feasible_day",
    "late_cost",
    "timeliness_kpis",
]


def first_feasible_day(problem: Problem, visit: Visit) -> dt.date | None:
    """The first day of the week on which the visit could be done, ignoring the plan.

    A day of the visit's windows on which every staffing place has someone who may do the
    visit (team, role, skills) and works that day; ``None`` when there is no such day.
    """
    week = set(problem.days)
    for day in sorted({w.day for w in visit.windows} & week):
        working = [
            c
            for c in problem.clinicians
            if problem.works_on(c, day) and problem.may_serve(c, visit)
        ]
        if all(any(place.accepts(c) for c in working) for place in visit.staffing):
            return day
    return None


def days_waited(visit: Visit, day: dt.date, first_day: dt.date | None) -> int:
    """Days the visit waits if done on ``day``: what the solver pays for, per day.

    Overdue: days after its first feasible day (it should go on that day). Otherwise: days
    after its ``due_by`` (0 while it is on time).
    """
    if visit.urgency is Urgency.OVERDUE:
        return max(0, (day - (first_day or day)).days)
    return max(0, (day - visit.due_by).days)


def late_cost(
    visit: Visit,
    day: dt.date,
    first_day: dt.date | None,
    cost_per_day: Mapping[Urgency, int],
) -> int:
    """The solver's cost of doing ``visit`` on ``day`` rather than on time."""
    return days_waited(visit, day, first_day) * cost_per_day.get(visit.urgency, 0) * visit.stakes


def timeliness_kpis(problem: Problem, plan: Plan) -> dict[str, object]:
    """The plan's on-time figures.

    Returns
    -------
    dict[str, object]
        ``visits_on_time`` and ``visits_late`` (scheduled visits done by / after their
        ``due_by``), ``visit_days_late`` (their days after ``due_by``, summed),
        ``late_by_urgency`` (late visits per urgency), ``overdue_scheduled`` and
        ``overdue_on_first_feasible_day`` (overdue visits done on the first day anybody who may
        do them works), ``optional_scheduled`` (optional visits placed).
    """
    day_of: dict[str, dt.date] = {}
    for stop in plan.stops():
        day_of.setdefault(stop.visit_id, stop.day)
    late_by_urgency: dict[str, int] = defaultdict(int)
    on_time = late = days_late = overdue = overdue_first = optional = 0
    for visit in problem.visits:
        day = day_of.get(visit.visit_id)
        if day is None:
            continue
        if day > visit.due_by:
            late += 1
            days_late += (day - visit.due_by).days
            late_by_urgency[visit.urgency.name.lower()] += 1
        else:
            on_time += 1
        if visit.urgency is Urgency.OVERDUE:
            overdue += 1
            overdue_first += int(day == first_feasible_day(problem, visit))
        optional += int(visit.urgency is Urgency.OPTIONAL)
    return {
        "visits_on_time": on_time,
        "visits_late": late,
        "visit_days_late": days_late,
        "late_by_urgency": dict(sorted(late_by_urgency.items())),
        "overdue_scheduled": overdue,
        "overdue_on_first_feasible_day": overdue_first,
        "optional_scheduled": optional,
    }
