"""A team leader's hand edits of a plan: move a visit, take it out, and the verdict on the result.

A move takes the visit off its route (or off the left-out list), puts it on the chosen
clinician's day and times both routes again (:func:`scheduler.replan.retime_route`, the legs the
evaluator recomputes). Without a start time, the visit goes where the evaluator's insertion
search (:mod:`scheduler.evaluation.search`) finds room: first without moving any other visit of
that day, then with the day's visits at their earliest starts; where there is no room it goes at
the start of its window, and the verdict says which rule that breaks. Nothing here decides what
is allowed: :func:`verdict` asks :func:`scheduler.evaluate.evaluate`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from scheduler.evaluate import Violation, evaluate
from scheduler.evaluation.results import FINDINGS, RULE_NAMES
from scheduler.evaluation.search import Context, simulate, single_starts
from scheduler.model import Clinician, Plan, Problem, Route, Stop, Visit
from scheduler.pins import with_removed
from scheduler.replan import retime_route
from scheduler.travel import TravelTimeProvider

__all__ = [
    "Broken",
    "EditError",
    "Option",
    "Verdict",
    "move_visit",
    "remove_visit",
    "starts_with_room",
    "verdict",
    "who_could",
]


class EditError(ValueError):
    """An edit that cannot be made at all (unknown visit, clinician or day); Chinese and English."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh, self.en = zh, en


@dataclass(frozen=True, slots=True)
class Broken:
    """A rule an edit breaks: the rule in words (Chinese, English) and the evaluator's message."""

    rule: str
    rule_zh: str
    rule_en: str
    message: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """The evaluator's verdict on an edit: the hard rules it breaks that the plan did not."""

    broken: tuple[Broken, ...]

    @property
    def fine(self) -> bool:
        return not self.broken


def _key(v: Violation) -> tuple[str, str]:
    return (v.rule, v.message)


def verdict(
    problem: Problem, before: Plan, after: Plan, travel: TravelTimeProvider
) -> tuple[Verdict, dict[str, object]]:
    """What ``after`` breaks that ``before`` did not (the evaluator's hard rules), and the KPIs
    of ``after``."""
    old = evaluate(problem, before, travel, check_missed=False)
    new = evaluate(problem, after, travel, check_missed=False)
    known = {_key(v) for v in old.broken}
    broken = []
    for v in new.broken:
        if _key(v) in known or v.rule in FINDINGS:
            continue
        zh, en = RULE_NAMES.get(v.rule, (v.rule, v.rule))
        broken.append(Broken(v.rule, zh, en, v.message))
    return Verdict(tuple(broken)), new.kpis


def _sorted_stops(route: Route) -> list[Stop]:
    return sorted(route.stops, key=lambda s: s.sequence)


def _retimed(
    problem: Problem, travel: TravelTimeProvider, route: Route, stops: Sequence[Stop]
) -> Route:
    clinician = next(c for c in problem.clinicians if c.clinician_id == route.clinician_id)
    return retime_route(
        route,
        stops,
        clinician=clinician,
        centre=problem.centres[clinician.centre_id].location,
        visits={v.visit_id: v for v in problem.visits},
        handover=problem.sample_handover_min,
        travel=travel,
    )


def _without(problem: Problem, plan: Plan, travel: TravelTimeProvider, visit_id: str) -> Plan:
    """``plan`` with the visit neither on a route nor left out; its old day timed again."""
    routes = []
    for route in plan.routes:
        stops = _sorted_stops(route)
        kept = [s for s in stops if s.visit_id != visit_id]
        if len(kept) == len(stops):
            routes.append(route)
        elif kept:
            routes.append(_retimed(problem, travel, route, kept))
    return dataclasses.replace(
        plan,
        routes=tuple(routes),
        unscheduled=tuple(u for u in plan.unscheduled if u.visit_id != visit_id),
    )


def starts_with_room(
    problem: Problem,
    plan: Plan,
    travel: TravelTimeProvider,
    visit: Visit,
    who: Clinician,
    day: dt.date,
) -> dict[str, int] | None:
    """Starts of the day's visits with ``visit`` in it where the evaluator's search finds room:
    the others where they are if it can, else at their earliest starts; ``None`` if no room."""
    ctx = Context(problem, plan, travel)
    sim = ctx.day_of(who, day, empty=False)
    if sim is None:
        return None
    # The lab sample of a joint visit may go back with the partner (the evaluator checks who
    # carries it): the search here does not hold this day to it.
    sim = dataclasses.replace(
        sim,
        entries=tuple(e._replace(sample=None) if e.fixed is not None else e for e in sim.entries),
    )
    route = ctx.routes.get((who.clinician_id, day))
    stops = _sorted_stops(route) if route else []
    entry = ctx.entry(visit, day)
    kept = dataclasses.replace(
        sim,
        entries=tuple(
            e._replace(fixed=s.start_min) for e, s in zip(sim.entries, stops, strict=True)
        ),
    )
    found = single_starts(kept, entry, first_only=True)
    if found:
        return {s.visit_id: s.start_min for s in stops} | {visit.visit_id: found[0][1]}
    for pos, _ in single_starts(sim, entry, first_only=False):
        trial = (*sim.entries[:pos], entry, *sim.entries[pos:])
        starts = simulate(sim, trial)
        if starts is not None:
            ids = [s.visit_id for s in stops]
            ids.insert(pos, visit.visit_id)
            return dict(zip(ids, starts, strict=True))
    return None


def move_visit(
    problem: Problem,
    plan: Plan,
    travel: TravelTimeProvider,
    visit_id: str,
    clinician_id: str,
    day: dt.date,
    start_min: int | None = None,
) -> Plan:
    """``plan`` with the visit on ``clinician_id``'s route of ``day`` (at ``start_min`` if
    given, else where there is room); both days timed again. The result may break rules: ask
    :func:`verdict`.

    Raises
    ------
    EditError
        The visit or clinician is not in the week, the day is not in it, or the visit is a
        joint one (its clinicians move together: lock it or re-plan).
    """
    visit = next((v for v in problem.visits if v.visit_id == visit_id), None)
    if visit is None:
        raise EditError(f"本周没有上门 {visit_id}", f"no visit {visit_id} in this week")
    if visit.is_joint:
        raise EditError(
            "这是多人联合上门，不能单独调整一位医护人员：请锁定它，或重新排班",
            "a joint visit cannot move one clinician at a time: lock it or re-plan around it",
        )
    who = next((c for c in problem.clinicians if c.clinician_id == clinician_id), None)
    if who is None:
        raise EditError(
            f"本周没有医护人员 {clinician_id}", f"no clinician {clinician_id} works this week"
        )
    if day not in problem.days:
        raise EditError(
            f"{day} 不在本周（{problem.week_start} 起）",
            f"{day} is not in the week of {problem.week_start}",
        )
    without = _without(problem, plan, travel, visit_id)
    target = next(
        (r for r in without.routes if (r.clinician_id, r.day) == (clinician_id, day)), None
    )
    stops = _sorted_stops(target) if target else []
    if start_min is None:
        starts = starts_with_room(problem, without, travel, visit, who, day)
        if starts is None:
            windows = sorted(w.start_min for w in visit.windows if w.day == day)
            start_min = windows[0] if windows else who.shift.start_min
        else:
            start_min = starts[visit_id]
            stops = [
                dataclasses.replace(
                    s,
                    start_min=starts[s.visit_id],
                    end_min=starts[s.visit_id] + (s.end_min - s.start_min),
                )
                for s in stops
            ]
    new = Stop(
        visit_id, clinician_id, day, 0, start_min, start_min, start_min + visit.duration_min, 0, 0
    )
    ordered = sorted([*stops, new], key=lambda s: (s.start_min, s.visit_id == visit_id))
    route = target or Route(clinician_id, day, 0, 0, (), 0, 0.0, 0, 0)
    others = [r for r in without.routes if r is not target]
    candidates = [
        dataclasses.replace(
            without,
            routes=tuple(
                sorted(
                    [*others, _retimed(problem, travel, dataclasses.replace(route, stops=v), v)],
                    key=lambda r: (r.clinician_id, r.day),
                )
            ),
        )
        for v in _via_variants(ordered, visit_id)
    ]
    if len(candidates) == 1:
        return candidates[0]
    # Where a lab sample is handed in on the way (the legs by the centre) is the planner's
    # choice as much as the order: the first way the evaluator finds nothing new against.
    known = {_key(v) for v in evaluate(problem, without, travel, check_missed=False).broken}
    for candidate in candidates:
        found = evaluate(problem, candidate, travel, check_missed=False).broken
        if all(_key(v) in known for v in found):
            return candidate
    return candidates[0]


def _via_variants(ordered: list[Stop], visit_id: str) -> list[tuple[Stop, ...]]:
    """The day's stops as given, then with the legs to the moved visit and to the stop after
    it by way of the centre or not (the first one as given)."""
    at = next(i for i, s in enumerate(ordered) if s.visit_id == visit_id)
    variants = [tuple(ordered)]
    if at == 0 and at + 1 == len(ordered):
        return variants
    for new_via in (False, True) if at > 0 else (False,):
        for next_via in (False, True) if at + 1 < len(ordered) else (None,):
            trial = list(ordered)
            trial[at] = dataclasses.replace(trial[at], via_centre=new_via)
            if next_via is not None:
                trial[at + 1] = dataclasses.replace(trial[at + 1], via_centre=next_via)
            if tuple(trial) not in variants:
                variants.append(tuple(trial))
    return variants


def remove_visit(problem: Problem, plan: Plan, travel: TravelTimeProvider, visit_id: str) -> Plan:
    """``plan`` with the visit taken out of the week by the team leader (listed as left out,
    with :data:`scheduler.pins.REMOVED_REASON`); its day timed again."""
    if not any(v.visit_id == visit_id for v in problem.visits):
        raise EditError(f"本周没有上门 {visit_id}", f"no visit {visit_id} in this week")
    return with_removed(_without(problem, plan, travel, visit_id), [visit_id])


@dataclass(frozen=True, slots=True)
class Option:
    """Whether a clinician could do a visit on a day: ``start`` where there is room (the
    earliest, without moving her other visits when it can), else why not (``why``)."""

    clinician_id: str
    day: dt.date
    start_min: int | None
    why: str  # "" (room), "off" (not a work day), "window" (no window that day), "full"


def who_could(
    problem: Problem,
    plan: Plan,
    travel: TravelTimeProvider,
    visit_id: str,
    team_id: str | None = None,
) -> list[Option]:
    """Every clinician (of ``team_id``, if given) with the role and skills the visit needs and
    whose team may serve it, for each day of the week: room, or why not. The visit itself is
    first taken out of ``plan``."""
    visit = next((v for v in problem.visits if v.visit_id == visit_id), None)
    if visit is None:
        raise EditError(f"本周没有上门 {visit_id}", f"no visit {visit_id} in this week")
    without = _without(problem, plan, travel, visit_id)
    window_days = {w.day for w in visit.windows}
    options = []
    for who in problem.clinicians:
        if team_id is not None and who.team_id != team_id:
            continue
        if not problem.may_serve(who, visit) or not any(p.accepts(who) for p in visit.staffing):
            continue
        for day in problem.days:
            if not problem.works_on(who, day):
                options.append(Option(who.clinician_id, day, None, "off"))
            elif day not in window_days:
                options.append(Option(who.clinician_id, day, None, "window"))
            else:
                starts = starts_with_room(problem, without, travel, visit, who, day)
                start = None if starts is None else starts[visit_id]
                options.append(Option(who.clinician_id, day, start, "" if starts else "full"))
    return options
