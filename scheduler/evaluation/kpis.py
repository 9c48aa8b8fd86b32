"""The plan's key figures, from the plan as given."""

from __future__ import annotations

import math
from collections import Counter, defaultdict

from scheduler.evaluation.reasons import LeftOutKind, left_out_kind
from scheduler.model import Plan, Problem, Stop, Urgency
from scheduler.timeliness import timeliness_kpis

__all__ = ["compute_kpis"]


def compute_kpis(problem: Problem, plan: Plan) -> dict[str, object]:
    """The plan's key figures, from the plan as given (no travel recomputed).

    Parameters
    ----------
    problem
        The week that was planned.
    plan
        Its plan.

    Returns
    -------
    dict[str, object]
        JSON-serialisable figures:

        - ``visits_due`` (every visit of the week's list, optional ones too),
          ``visits_scheduled``, ``joint_visits_scheduled``: counts of the problem's visits;
        - the visits not on a route, in three kinds (they add up with ``visits_scheduled`` to
          ``visits_due``): ``visits_unscheduled`` (due or overdue and left out: an alarm),
          ``visits_optional_not_placed`` (could have been done early, no room) and
          ``visits_not_due_this_week`` (optional, and nobody who may do it works a day the rule
          allows before the week ends);
        - ``travel_min_total``, ``travel_km_total`` (0.1 km), ``overtime_min_total``,
          ``work_min_total`` (return - depart), ``visit_min_total`` (clinician minutes at
          visits, a joint visit counted once per clinician): sums over the routes;
        - ``continuity_rate``: share of scheduled visits with a preferred clinician done by
          that clinician, 0..1 rounded to 3 places, ``None`` if no scheduled visit has one;
        - ``solve_seconds``;
        - ``routes`` (routes with at least one stop), ``clinicians_used``;
        - ``workload``: ``min_h``, ``max_h``, ``mean_h`` (2 places) and ``cv`` (population
          coefficient of variation, 3 places, ``None`` when nobody works) of the weekly work
          hours of the clinicians who work at least one day;
        - ``utilisation``: work minutes over the shift minutes less lunch of every working
          clinician-day of the week (3 places, ``None`` when nobody works);
        - ``by_programme`` and ``by_urgency`` (``optional``, ``due``, ``overdue``):
          ``{"due": n, "scheduled": m}``;
        - ``on_time``: the figures of :func:`scheduler.timeliness.timeliness_kpis` (visits on
          time and late, visit-days late, overdue visits on their first feasible day).
    """
    visits = {v.visit_id: v for v in problem.visits}
    stops_by_visit: dict[str, list[Stop]] = defaultdict(list)
    for stop in plan.stops():
        if stop.visit_id in visits:
            stops_by_visit[stop.visit_id].append(stop)
    scheduled = [v for v in problem.visits if v.visit_id in stops_by_visit]

    with_preference = [v for v in scheduled if v.preferred_clinician_id is not None]
    kept = sum(
        1
        for v in with_preference
        if any(s.clinician_id == v.preferred_clinician_id for s in stops_by_visit[v.visit_id])
    )
    continuity = round(kept / len(with_preference), 3) if with_preference else None

    work_by_clinician: dict[str, int] = defaultdict(int)
    for route in plan.routes:
        work_by_clinician[route.clinician_id] += route.return_min - route.depart_min
    working = [c for c in problem.clinicians if any(problem.works_on(c, d) for d in problem.days)]
    hours = [work_by_clinician.get(c.clinician_id, 0) / 60.0 for c in working]
    if hours:
        mean = sum(hours) / len(hours)
        spread = math.sqrt(sum((h - mean) ** 2 for h in hours) / len(hours))
        workload: dict[str, float | None] = {
            "min_h": round(min(hours), 2),
            "max_h": round(max(hours), 2),
            "mean_h": round(mean, 2),
            "cv": round(spread / mean, 3) if mean > 0 else 0.0,
        }
    else:
        workload = {"min_h": None, "max_h": None, "mean_h": None, "cv": None}

    available = 0
    for clinician in problem.clinicians:
        lunch = clinician.lunch.length_min if clinician.lunch is not None else 0
        days_worked = sum(1 for d in problem.days if problem.works_on(clinician, d))
        available += days_worked * (clinician.shift.length_min - lunch)
    known = {c.clinician_id for c in problem.clinicians}
    work_known = sum(m for cid, m in work_by_clinician.items() if cid in known)
    utilisation = round(work_known / available, 3) if available > 0 else None

    by_programme: dict[str, dict[str, int]] = {}
    for visit in sorted(problem.visits, key=lambda v: v.programme):
        entry = by_programme.setdefault(visit.programme, {"due": 0, "scheduled": 0})
        entry["due"] += 1
        entry["scheduled"] += int(visit.visit_id in stops_by_visit)
    by_urgency: dict[str, dict[str, int]] = {
        u.name.lower(): {"due": 0, "scheduled": 0} for u in Urgency
    }
    for visit in problem.visits:
        entry = by_urgency[visit.urgency.name.lower()]
        entry["due"] += 1
        entry["scheduled"] += int(visit.visit_id in stops_by_visit)

    kinds = Counter(
        left_out_kind(problem, v) for v in problem.visits if v.visit_id not in stops_by_visit
    )
    busy_routes = [r for r in plan.routes if r.stops]
    return {
        "visits_due": len(problem.visits),
        "visits_scheduled": len(scheduled),
        "visits_unscheduled": kinds[LeftOutKind.UNSCHEDULED],
        "visits_optional_not_placed": kinds[LeftOutKind.OPTIONAL],
        "visits_not_due_this_week": kinds[LeftOutKind.NOT_DUE_THIS_WEEK],
        "travel_min_total": sum(r.travel_min for r in plan.routes),
        "travel_km_total": round(sum(r.travel_km for r in plan.routes), 1),
        "overtime_min_total": sum(r.overtime_min for r in plan.routes),
        "continuity_rate": continuity,
        "solve_seconds": plan.solve_seconds,
        "visit_min_total": sum(
            visits[vid].duration_min * len(stops) for vid, stops in stops_by_visit.items()
        ),
        "work_min_total": sum(r.return_min - r.depart_min for r in plan.routes),
        "routes": len(busy_routes),
        "clinicians_used": len({r.clinician_id for r in busy_routes}),
        "workload": workload,
        "utilisation": utilisation,
        "by_programme": by_programme,
        "by_urgency": by_urgency,
        "joint_visits_scheduled": sum(1 for v in scheduled if v.is_joint),
        "on_time": timeliness_kpis(problem, plan),
    }
