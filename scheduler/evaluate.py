"""The independent checker of a plan: violations, KPIs and why visits are left out.

This module is the oracle the solver is tested against. It never imports the solver: every time,
leg and constraint is recomputed from the :class:`~scheduler.model.Problem`, the
:class:`~scheduler.model.Plan` and a :class:`~scheduler.travel.TravelTimeProvider` (travel times
are part of the problem definition).

It is the public entry; the parts live in :mod:`scheduler.evaluation`: the rules, one function per
rule code (:mod:`~scheduler.evaluation.rules`, whose docstring lists the codes), the reasons of
unscheduled visits (:mod:`~scheduler.evaluation.reasons`), the KPIs
(:mod:`~scheduler.evaluation.kpis`) and the insertion search they share
(:mod:`~scheduler.evaluation.search`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from scheduler.evaluation.inversions import timing_findings
from scheduler.evaluation.kpis import compute_kpis
from scheduler.evaluation.reasons import Explainer, LeftOutKind, left_out_kind
from scheduler.evaluation.results import FINDINGS, Evaluation, Reason, Violation
from scheduler.evaluation.rules import check_plan
from scheduler.evaluation.search import Context, by_centre, insertions
from scheduler.model import Plan, Problem, Visit
from scheduler.travel import TravelTimeProvider

__all__ = [
    "Evaluation",
    "LeftOutKind",
    "Reason",
    "Violation",
    "compute_kpis",
    "evaluate",
    "explain_unscheduled",
    "insertion_options",
    "left_out_kind",
]

# Public API
# --------------------------------------------------------------------------------------------


def evaluate(
    problem: Problem, plan: Plan, travel: TravelTimeProvider, *, check_missed: bool = True
) -> Evaluation:
    """Check a plan against every rule and compute its KPIs and explanations.

    Parameters
    ----------
    problem
        The week that was planned.
    plan
        The answer to check.
    travel
        The travel-time provider that defines the legs (the same one the plan was made with).
    check_missed
        Also report the findings about how good the plan is: unscheduled visits that still
        fit feasibly into some clinician's day (rule ``missed``), left-out visits a less urgent
        one keeps out (``inversion``) and late visits that had room on an earlier day
        (``late_with_room_earlier``). These are the slowest checks.

    Returns
    -------
    Evaluation
        The violations (empty for a feasible plan), the KPIs of :func:`compute_kpis` and, for
        every unscheduled visit, the reason of :func:`explain_unscheduled`.
    """
    if len(problem.centres) > 1:
        # Centres share no clinician: checking them one by one keeps the travel tables small
        # (a district has ~10,000 places; one table for all of them would take gigabytes).
        parts = [
            evaluate(p, q, travel, check_missed=check_missed) for p, q in by_centre(problem, plan)
        ]
        kpis = compute_kpis(problem, plan)
        violations = [v for part in parts for v in part.violations]
        _count_findings(kpis, violations)
        reasons = {k: r for part in parts for k, r in part.reasons.items()}
        return Evaluation(violations=tuple(violations), kpis=kpis, reasons=reasons)
    ctx = Context(problem, plan, travel)
    violations = check_plan(ctx, check_missed_visits=check_missed)
    if check_missed:
        violations += timing_findings(ctx)
    unscheduled = [v.visit_id for v in problem.visits if v.visit_id not in ctx.scheduled]
    explainer = Explainer(ctx, unscheduled)
    reasons = {vid: explainer.explain(ctx.visits[vid]) for vid in unscheduled}
    kpis = compute_kpis(problem, plan)
    _count_findings(kpis, violations)
    return Evaluation(violations=tuple(violations), kpis=kpis, reasons=reasons)


def _count_findings(kpis: dict[str, object], violations: Sequence[Violation]) -> None:
    """The KPIs counted from the violations: the findings by kind, the broken rules in all."""
    kpis["visits_still_fit"] = sum(v.rule == "missed" for v in violations)
    kpis["inversions"] = sum(v.rule == "inversion" for v in violations)
    kpis["late_with_room_earlier"] = sum(v.rule == "late_with_room_earlier" for v in violations)
    kpis["violations"] = sum(v.rule not in FINDINGS for v in violations)


def explain_unscheduled(
    problem: Problem, plan: Plan, travel: TravelTimeProvider, visit_ids: Iterable[str]
) -> dict[str, Reason]:
    """Say why each of ``visit_ids`` is not in the plan, in English and Chinese.

    An optional visit nobody who may do it could start on a working day this week is "not due
    this week" (see :class:`~scheduler.evaluation.reasons.LeftOutKind`); an optional visit's
    reason starts with "optional". Otherwise the first reason that applies is given:

    a. a staffing place nobody of the team (or centre, with cross-team cover) may fill: the role
       is missing, or the role is there without the skill; with how many visits of the batch
       need the same;
    b. no time when the visit may be done and someone who may do it works: the rule allows it
       only on days nobody works, or the resident's availability (quoted from the register)
       leaves no time within the programme's hours or the request's window;
    c. even an otherwise empty day cannot reach it and get back in time;
    d. its lab sample cannot reach the centre in time;
    then, if the visit still fits into the plan, that it does; otherwise
    e. the eligible clinicians' time inside the visit's windows is taken (hours busy of hours
       worked, both without lunch), naming the windows and what sets them.

    Where cross-team cover (when off) or an hour more of overtime would place the visit, the
    reason says so, naming who and which day.

    Parameters
    ----------
    problem, plan, travel
        As for :func:`evaluate`.
    visit_ids
        The visits to explain; ids that are not visits of the problem are skipped.

    Returns
    -------
    dict[str, Reason]
        Visit id to reason.
    """
    if len(problem.centres) > 1:
        wanted = list(visit_ids)
        reasons: dict[str, Reason] = {}
        for sub_problem, sub_plan in by_centre(problem, plan):
            reasons |= explain_unscheduled(sub_problem, sub_plan, travel, wanted)
        return reasons
    ctx = Context(problem, plan, travel)
    wanted = [vid for vid in visit_ids if vid in ctx.visits]
    explainer = Explainer(ctx, wanted)
    return {vid: explainer.explain(ctx.visits[vid]) for vid in wanted}


def insertion_options(
    problem: Problem, plan: Plan, travel: TravelTimeProvider, visit: Visit
) -> list[tuple[str, ...]]:
    """Where ``visit`` could still be inserted into the plan without breaking any rule.

    Every position of every route of an eligible clinician on a day of the visit's windows is
    tried (an empty day too), with the day re-timed at the earliest starts; the stops of joint
    visits keep their start (their partner's route is not moved). A lab-sample visit may send
    the next leg past the centre. For a joint visit, routes of different clinicians on the same
    day must take it at one common start.

    Parameters
    ----------
    problem, plan, travel
        As for :func:`evaluate`.
    visit
        The visit to place (normally one of ``plan.unscheduled``).

    Returns
    -------
    list[tuple[str, ...]]
        One tuple per feasible clinician-day (or set of clinicians for a joint visit): the
        clinician ids in the order of ``visit.staffing``, then the day as an ISO date, e.g.
        ``("N1", "2024-06-04")``; ordered by day. Empty if the visit fits nowhere.
    """
    ctx = Context(problem, plan, travel)
    ctx.legs.index(visit.location)  # before any matrix is built
    return insertions(ctx, visit)
