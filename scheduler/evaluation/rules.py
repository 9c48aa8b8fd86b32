"""The rules of a plan, one function per rule code.

Each ``check_<code>`` appends the :class:`~scheduler.evaluation.results.Violation` objects of its
rule to ``out``; :func:`check_plan` runs them all in a stable order: accounting, who does each
visit (team, skill, joint), then route by route (workday, sequence, travel, times, window,
lunch, shift, totals), lab samples and missed visits.

``accounting``
    every due visit is either on the routes or listed as unscheduled, never both or neither; stops
    name known visits and clinicians; a visit has one stop per staffing place; one route per
    clinician and day.
``team``, ``skill``, ``workday``
    who may do a visit: the signed team (or cover of the same centre when allowed), a role and the
    skills of a staffing place, a clinician who works that day of the planned week (and has not
    left: no visit starts after she is away, :class:`~scheduler.model.Away`).
``joint``
    the stops of a joint visit are by different clinicians on the same day at the same start.
``link``
    two linked visits (:class:`~scheduler.model.VisitLink`) are both planned or both left out,
    by two different clinicians on the same day, the second starting within the link's gap
    after the first.
``sequence``
    the stops of a route are numbered 1..n without gaps.
``travel``, ``times``, ``window``, ``lunch``, ``shift``, ``totals``
    the times recomputed leg by leg: arrivals, starts, ends, the visit windows (a visit allowed
    to start late may start up to ``late_allowed_min`` past its window), the lunch break,
    the shift with its allowed overtime, and the route's totals.
``sample``
    a lab sample reaches the centre in time.
``missed``
    an unscheduled visit still fits feasibly into some clinician's day.

:mod:`~scheduler.evaluation.inversions` adds ``inversion`` (a visit left out while a less
urgent one sits where it could go) and ``late_with_room_earlier`` (a visit planned late while
someone who may do it had room on an earlier day). These and ``missed`` are findings about how
good the plan is (:data:`~scheduler.evaluation.results.FINDINGS`), not broken rules.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scheduler.evaluation.results import Violation
from scheduler.evaluation.search import Context, assignments
from scheduler.evaluation.text import (
    ROLE_EN,
    cap,
    centre_name,
    day_en,
    hm,
    place_text,
    visit_label,
    who_text,
)
from scheduler.model import Clinician, Route, Staffing, Stop, Visit

__all__ = [
    "ROUTE_KM_TOLERANCE",
    "STOP_KM_TOLERANCE",
    "check_accounting",
    "check_joint",
    "check_link",
    "check_lunch",
    "check_missed",
    "check_plan",
    "check_sample",
    "check_sequence",
    "check_shift",
    "check_skill",
    "check_team",
    "check_times",
    "check_totals",
    "check_travel",
    "check_window",
    "check_workday",
    "time_route",
]

STOP_KM_TOLERANCE = 0.01  # a stop's leg km may differ from the model by rounding only
ROUTE_KM_TOLERANCE = 0.05  # a route's total km likewise (several legs summed)

# Where a sample is first back at the centre: (visit id, clinician id, day) -> minute.
SampleArrivals = dict[tuple[str, str, dt.date], int]


# --------------------------------------------------------------------------------------------
# accounting
# --------------------------------------------------------------------------------------------


def check_accounting(ctx: Context, out: list[Violation]) -> dict[str, list[Stop]]:
    """Accounting rules; returns the stops of every known visit."""
    stops_of = _account_routes(ctx, out)
    listed = _account_unscheduled(ctx, out)
    _account_visits(ctx, stops_of, listed, out)
    return stops_of


def _account_routes(ctx: Context, out: list[Violation]) -> dict[str, list[Stop]]:
    """Routes of known clinicians with a known centre, one a day, stops of known visits."""
    stops_of: dict[str, list[Stop]] = defaultdict(list)
    seen_routes: set[tuple[str, dt.date]] = set()
    for route in ctx.plan.routes:
        clinician = ctx.clinicians.get(route.clinician_id)
        who = who_text(clinician, route.clinician_id)
        key = (route.clinician_id, route.day)
        if clinician is None:
            out.append(
                Violation(
                    "accounting",
                    f"The route on {day_en(route.day)} belongs to clinician "
                    f"{route.clinician_id}, who is not among this week's clinicians.",
                    clinician_id=route.clinician_id,
                    day=route.day,
                )
            )
        if key in seen_routes:
            out.append(
                Violation(
                    "accounting",
                    f"{who} has more than one route on {day_en(route.day)}.",
                    clinician_id=route.clinician_id,
                    day=route.day,
                )
            )
        seen_routes.add(key)
        for stop in route.stops:
            if stop.clinician_id != route.clinician_id or stop.day != route.day:
                out.append(
                    Violation(
                        "accounting",
                        f"Stop {stop.sequence} ({stop.visit_id}) on {who}'s route of "
                        f"{day_en(route.day)} is labelled for {stop.clinician_id} on "
                        f"{day_en(stop.day)}.",
                        visit_id=stop.visit_id,
                        clinician_id=route.clinician_id,
                        day=route.day,
                    )
                )
            if stop.visit_id not in ctx.visits:
                out.append(
                    Violation(
                        "accounting",
                        f"{who}'s route on {day_en(route.day)} has a stop for visit "
                        f"{stop.visit_id}, which is not among this week's due visits.",
                        visit_id=stop.visit_id,
                        clinician_id=route.clinician_id,
                        day=route.day,
                    )
                )
            else:
                stops_of[stop.visit_id].append(stop)
        timeable = all(s.visit_id in ctx.visits for s in route.stops)
        if clinician is not None and timeable and ctx.centre_of(clinician) is None:
            out.append(
                Violation(
                    "accounting",
                    f"{who}'s centre {clinician.centre_id} is not among the problem's centres, "
                    f"so the route on {day_en(route.day)} cannot be timed.",
                    clinician_id=route.clinician_id,
                    day=route.day,
                )
            )
    return stops_of


def _account_unscheduled(ctx: Context, out: list[Violation]) -> dict[str, int]:
    """The unscheduled list names known visits, each once; returns how often each is listed."""
    listed: dict[str, int] = defaultdict(int)
    for item in ctx.plan.unscheduled:
        listed[item.visit_id] += 1
        if item.visit_id not in ctx.visits:
            out.append(
                Violation(
                    "accounting",
                    f"Visit {item.visit_id} is listed as unscheduled but is not among this "
                    "week's due visits.",
                    visit_id=item.visit_id,
                )
            )
    for visit_id, count in listed.items():
        if count > 1 and visit_id in ctx.visits:
            out.append(
                Violation(
                    "accounting",
                    f"Visit {visit_id} is listed {count} times as unscheduled.",
                    visit_id=visit_id,
                )
            )
    return listed


def _account_visits(
    ctx: Context,
    stops_of: Mapping[str, list[Stop]],
    listed: Mapping[str, int],
    out: list[Violation],
) -> None:
    """Every due visit is planned (with one stop per place) or listed, never both or neither."""
    for visit in ctx.problem.visits:
        label = visit_label(visit, visit.visit_id)
        stops = stops_of.get(visit.visit_id, [])
        is_listed = visit.visit_id in listed
        if stops and is_listed:
            out.append(
                Violation(
                    "accounting",
                    f"{cap(label)} is both on a route and listed as unscheduled.",
                    visit_id=visit.visit_id,
                )
            )
        elif not stops and not is_listed:
            out.append(
                Violation(
                    "accounting",
                    f"{cap(label)} is neither on a route nor listed as unscheduled.",
                    visit_id=visit.visit_id,
                )
            )
        need = len(visit.staffing)
        if stops and len(stops) != need:
            names = ", ".join(
                f"{who_text(ctx.clinicians.get(s.clinician_id), s.clinician_id)} on {day_en(s.day)}"
                for s in stops
            )
            out.append(
                Violation(
                    "accounting",
                    f"{cap(label)} needs {need} clinician{'s' if need > 1 else ''} "
                    f"but appears on {len(stops)} stops ({names}).",
                    visit_id=visit.visit_id,
                )
            )


# --------------------------------------------------------------------------------------------
# team, skill, joint: who does each visit
# --------------------------------------------------------------------------------------------


def _people(ctx: Context, stops: Sequence[Stop]) -> list[Clinician] | None:
    """The clinicians of ``stops``, or ``None`` if one is unknown (accounting reports it)."""
    people = [ctx.clinicians.get(s.clinician_id) for s in stops]
    if any(p is None for p in people):
        return None
    return [p for p in people if p is not None]


def check_team(ctx: Context, stops_of: Mapping[str, list[Stop]], out: list[Violation]) -> None:
    """Each stop is by a clinician of the visit's team (or its centre, with cross-team cover)."""
    problem = ctx.problem
    for visit in problem.visits:
        for stop in stops_of.get(visit.visit_id, []):
            clinician = ctx.clinicians.get(stop.clinician_id)
            if clinician is None or problem.may_serve(clinician, visit):
                continue
            if problem.cross_team_cover:
                rule_text = (
                    f"of team {visit.team_id} or another team of centre "
                    f"{centre_name(problem, visit.centre_id)}"
                )
            else:
                rule_text = f"of team {visit.team_id}"
            out.append(
                Violation(
                    "team",
                    f"{cap(visit_label(visit, visit.visit_id))} is done by "
                    f"{who_text(clinician, clinician.clinician_id)} of team {clinician.team_id} "
                    f"on {day_en(stop.day)}, but it needs a clinician {rule_text}.",
                    visit_id=visit.visit_id,
                    clinician_id=clinician.clinician_id,
                    day=stop.day,
                )
            )


def check_skill(ctx: Context, stops_of: Mapping[str, list[Stop]], out: list[Violation]) -> None:
    """Each clinician has the role and skills of a staffing place; a joint visit fills them all."""
    for visit in ctx.problem.visits:
        stops = stops_of.get(visit.visit_id, [])
        people = _people(ctx, stops)
        if not stops or people is None:
            continue
        if not visit.is_joint:
            place = visit.staffing[0]
            for clinician, stop in zip(people, stops, strict=True):
                if not place.accepts(clinician):
                    out.append(_skill_violation(visit, clinician, stop.day, place))
            continue
        ids = {c.clinician_id for c in people}
        # A wrong count or one clinician twice: the accounting and joint checks report it.
        if len(people) != len(visit.staffing) or len(ids) != len(people):
            continue
        if assignments(visit.staffing, people) is None:
            names = " and ".join(who_text(c, c.clinician_id) for c in people)
            needs = " and a ".join(place_text(p, zh=False) for p in visit.staffing)
            out.append(
                Violation(
                    "skill",
                    f"{cap(visit_label(visit, visit.visit_id))} needs a {needs}, which {names} "
                    "cannot cover between them.",
                    visit_id=visit.visit_id,
                    day=stops[0].day,
                )
            )


def _skill_violation(
    visit: Visit, clinician: Clinician, day: dt.date, place: Staffing
) -> Violation:
    who = who_text(clinician, clinician.clinician_id)
    missing = sorted(place.skills - clinician.skills)
    if clinician.role not in place.roles:
        lack = f"is a {ROLE_EN[clinician.role]}"
    else:
        lack = f"lacks skill{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
    return Violation(
        "skill",
        f"{cap(visit_label(visit, visit.visit_id))} on {day_en(day)} needs a "
        f"{place_text(place, zh=False)}, but {who} {lack}.",
        visit_id=visit.visit_id,
        clinician_id=clinician.clinician_id,
        day=day,
    )


def check_joint(ctx: Context, stops_of: Mapping[str, list[Stop]], out: list[Violation]) -> None:
    """The stops of a joint visit are by different clinicians, on one day, at one start."""
    for visit in ctx.problem.visits:
        stops = stops_of.get(visit.visit_id, [])
        people = _people(ctx, stops)
        if not visit.is_joint or not stops or people is None:
            continue
        if len(people) != len(visit.staffing):  # the accounting check reports the count
            continue
        label = visit_label(visit, visit.visit_id)
        names = " and ".join(who_text(c, c.clinician_id) for c in people)
        if len({c.clinician_id for c in people}) != len(people):
            out.append(
                Violation(
                    "joint",
                    f"{cap(label)} needs {len(visit.staffing)} different clinicians "
                    f"but the same clinician is on more than one of its stops ({names}).",
                    visit_id=visit.visit_id,
                )
            )
            continue
        days = {s.day for s in stops}
        if len(days) > 1:
            out.append(
                Violation(
                    "joint",
                    f"{cap(label)} is a joint visit but {names} are planned on "
                    f"different days ({', '.join(day_en(d) for d in sorted(days))}).",
                    visit_id=visit.visit_id,
                )
            )
        elif len({s.start_min for s in stops}) > 1:
            times = ", ".join(
                f"{who_text(c, c.clinician_id)} at {hm(s.start_min)}"
                for c, s in zip(people, stops, strict=True)
            )
            out.append(
                Violation(
                    "joint",
                    f"{cap(label)} is a joint visit but its clinicians start at "
                    f"different times on {day_en(stops[0].day)}: {times}.",
                    visit_id=visit.visit_id,
                    day=stops[0].day,
                )
            )


def check_link(ctx: Context, stops_of: Mapping[str, list[Stop]], out: list[Violation]) -> None:
    """Linked visits: both or neither, two clinicians, one day, the gap between their starts."""
    by_id = {v.visit_id: v for v in ctx.problem.visits}
    for link in ctx.problem.links:
        first, second = by_id[link.first_id], by_id[link.second_id]
        a, b = stops_of.get(link.first_id, []), stops_of.get(link.second_id, [])
        label = f"{visit_label(first, first.visit_id)} and {visit_label(second, second.visit_id)}"
        if len(a) != 1 or len(b) != 1:
            if bool(a) != bool(b):
                planned = first if a else second
                out.append(
                    Violation(
                        "link",
                        f"{cap(label)} are linked, but only "
                        f"{visit_label(planned, planned.visit_id)} is planned.",
                        visit_id=planned.visit_id,
                    )
                )
            continue  # a wrong count: the accounting check reports it
        one, two = a[0], b[0]
        if one.clinician_id == two.clinician_id:
            out.append(
                Violation(
                    "link",
                    f"{cap(label)} are linked and need two clinicians, but "
                    f"{one.clinician_id} is planned for both.",
                    visit_id=second.visit_id,
                )
            )
        if one.day != two.day:
            out.append(
                Violation(
                    "link",
                    f"{cap(label)} are linked but planned on different days "
                    f"({day_en(one.day)}, {day_en(two.day)}).",
                    visit_id=second.visit_id,
                )
            )
            continue
        gap = two.start_min - one.start_min
        if not link.gap_min <= gap <= link.gap_max:
            out.append(
                Violation(
                    "link",
                    f"{cap(label)} start {gap} min apart on {day_en(one.day)} "
                    f"({hm(one.start_min)}, {hm(two.start_min)}); the second must start "
                    f"{link.gap_min}-{link.gap_max} min after the first.",
                    visit_id=second.visit_id,
                    day=one.day,
                )
            )


# --------------------------------------------------------------------------------------------
# workday, sequence: the route as a whole
# --------------------------------------------------------------------------------------------


def _route_violation(
    clinician: Clinician, route: Route, rule: str, message: str, visit_id: str | None = None
) -> Violation:
    return Violation(
        rule, message, visit_id=visit_id, clinician_id=clinician.clinician_id, day=route.day
    )


def check_workday(ctx: Context, clinician: Clinician, route: Route, out: list[Violation]) -> None:
    """A route is on a day of the planned week that its clinician works, and none of its visits
    starts after she has left that day (:class:`~scheduler.model.Away`)."""
    who, day_text = who_text(clinician, clinician.clinician_id), day_en(route.day)
    if route.day not in ctx.week:
        message = f"{who}'s route is on {day_text}, outside the planned week."
    elif not ctx.problem.works_on(clinician, route.day):
        message = f"{who} has a route on {day_text}, which is not one of their work days."
    else:
        left = ctx.problem.away_from(clinician.clinician_id, route.day)
        if left is not None:
            _check_away(ctx, clinician, route, left, out)
        return
    out.append(_route_violation(clinician, route, "workday", message))


def _check_away(
    ctx: Context, clinician: Clinician, route: Route, left: int, out: list[Violation]
) -> None:
    """No visit of the route starts once its clinician has left that day."""
    who, day_text = who_text(clinician, clinician.clinician_id), day_en(route.day)
    for stop in route.stops:
        if stop.start_min >= left:
            visit = ctx.visits.get(stop.visit_id)
            message = (
                f"{who} is away from {hm(left)} on {day_text}, but "
                f"{visit_label(visit, stop.visit_id)} starts at {hm(stop.start_min)}."
            )
            out.append(_route_violation(clinician, route, "workday", message, stop.visit_id))


def check_sequence(clinician: Clinician, route: Route, out: list[Violation]) -> None:
    """The stops of a route are numbered 1..n without gaps."""
    numbers = sorted(s.sequence for s in route.stops)
    if numbers != list(range(1, len(numbers) + 1)):
        out.append(
            _route_violation(
                clinician,
                route,
                "sequence",
                f"The stops of {who_text(clinician, clinician.clinician_id)}'s route on "
                f"{day_en(route.day)} are numbered {', '.join(map(str, numbers))} instead of "
                f"1 to {len(numbers)}.",
            )
        )


# --------------------------------------------------------------------------------------------
# The route timed again leg by leg, then travel, times, window, lunch, shift, totals
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimedStop:
    """A stop with its leg recomputed from the travel model."""

    stop: Stop
    visit: Visit
    leg_min: int
    leg_km: float
    how: str  # how the leg is driven, for messages
    left_at: int  # when the clinician left the previous place (as the plan gives it)
    left_from: str  # the previous place, for messages
    loc: int  # row of the visit's place in the travel tables


@dataclass(frozen=True, slots=True)
class TimedRoute:
    """A route of a known clinician and centre, every leg recomputed."""

    clinician: Clinician
    route: Route
    stops: tuple[TimedStop, ...]  # in sequence order
    centre: int
    back_min: int
    back_km: float
    minutes: list[list[int]]

    @property
    def who(self) -> str:
        return who_text(self.clinician, self.clinician.clinician_id)

    @property
    def day_text(self) -> str:
        return day_en(self.route.day)

    @property
    def last_end(self) -> int:
        """When the route leaves its last place for the centre (as the plan gives it)."""
        return self.stops[-1].stop.end_min if self.stops else self.route.depart_min

    @property
    def expected_return(self) -> int:
        return self.last_end + self.back_min

    def add(
        self, out: list[Violation], rule: str, message: str, visit_id: str | None = None
    ) -> None:
        out.append(_route_violation(self.clinician, self.route, rule, message, visit_id))


def time_route(ctx: Context, clinician: Clinician, route: Route) -> TimedRoute | None:
    """The route's legs recomputed, or ``None`` when a place is unknown (accounting says so)."""
    centre = ctx.centre_of(clinician)
    if centre is None or any(s.visit_id not in ctx.visits for s in route.stops):
        return None
    minutes, km = ctx.legs.table(clinician.travel_mode)
    c = ctx.legs.index(centre.location)
    handover = ctx.problem.sample_handover_min
    t, prev, prev_name = route.depart_min, c, "the centre"
    timed: list[TimedStop] = []
    for stop in sorted(route.stops, key=lambda s: s.sequence):
        visit = ctx.visits[stop.visit_id]
        here = ctx.legs.index(visit.location)
        if stop.via_centre:
            leg_min = minutes[prev][c] + handover + minutes[c][here]
            leg_km = km[prev][c] + km[c][here]
            how = f"the {leg_min}-min trip via the centre (with the sample hand-over)"
        else:
            leg_min = minutes[prev][here]
            leg_km = km[prev][here]
            how = f"the {leg_min}-min trip"
        timed.append(TimedStop(stop, visit, leg_min, leg_km, how, t, prev_name, here))
        t, prev, prev_name = stop.end_min, here, f"visit {visit.visit_id}"
    return TimedRoute(
        clinician=clinician,
        route=route,
        stops=tuple(timed),
        centre=c,
        back_min=minutes[prev][c],
        back_km=km[prev][c],
        minutes=minutes,
    )


def check_travel(timed: TimedRoute, out: list[Violation]) -> None:
    """Each leg's minutes and km, and each arrival, are those of the travel model."""
    for ts in timed.stops:
        stop, label = ts.stop, visit_label(ts.visit, ts.visit.visit_id)
        if stop.travel_min != ts.leg_min or abs(stop.travel_km - ts.leg_km) > STOP_KM_TOLERANCE:
            timed.add(
                out,
                "travel",
                f"The leg to {label} on {timed.who}'s route of {timed.day_text} is given as "
                f"{stop.travel_min} min and {stop.travel_km:.2f} km, but it is {ts.leg_min} min "
                f"and {ts.leg_km:.2f} km.",
                stop.visit_id,
            )
        expected_arrival = ts.left_at + ts.leg_min
        if stop.arrival_min != expected_arrival:
            timed.add(
                out,
                "travel",
                f"{timed.who} is shown arriving at {label} at {hm(stop.arrival_min)} on "
                f"{timed.day_text}, but leaving {ts.left_from} at {hm(ts.left_at)}, {ts.how} "
                f"arrives at {hm(expected_arrival)}.",
                stop.visit_id,
            )


def check_times(timed: TimedRoute, out: list[Violation]) -> None:
    """A visit starts after the arrival and lasts its duration; the return follows the way back."""
    for ts in timed.stops:
        stop, visit = ts.stop, ts.visit
        label = visit_label(visit, visit.visit_id)
        if stop.start_min < stop.arrival_min:
            timed.add(
                out,
                "times",
                f"{cap(label)} starts at {hm(stop.start_min)} on {timed.day_text}, before "
                f"{timed.who} arrives at {hm(stop.arrival_min)}.",
                visit.visit_id,
            )
        true_end = stop.start_min + visit.duration_min
        if stop.end_min != true_end:
            timed.add(
                out,
                "times",
                f"{cap(label)} on {timed.day_text} is shown ending at {hm(stop.end_min)}, but it "
                f"takes {visit.duration_min} min from {hm(stop.start_min)}, so it ends at "
                f"{hm(true_end)}.",
                visit.visit_id,
            )
    route = timed.route
    if route.return_min != timed.expected_return:
        last = "the route leaves" if not timed.stops else "the last visit ends"
        timed.add(
            out,
            "times",
            f"{timed.who}'s route on {timed.day_text} is shown returning at "
            f"{hm(route.return_min)}, but {last} at {hm(timed.last_end)} and the way back takes "
            f"{timed.back_min} min, so it is back at {hm(timed.expected_return)}.",
        )


def check_window(ctx: Context, timed: TimedRoute, out: list[Violation]) -> None:
    """A visit runs inside one of its time windows of that day."""
    for ts in timed.stops:
        stop, visit = ts.stop, ts.visit
        true_end = stop.start_min + visit.duration_min
        windows = ctx.windows_on(visit, timed.route.day)
        if any(ws <= stop.start_min and true_end <= we for ws, we in windows):
            continue
        # A visit that may start late (``late_allowed_min``) is late, not wrong, within it.
        if visit.late_allowed_min and any(
            ws <= stop.start_min and visit.late_by(stop.start_min, we) <= visit.late_allowed_min
            for ws, we in windows
        ):
            continue
        whose = "the resident's" if visit.resident_id is not None else "the session's"
        allowed = ", ".join(f"{hm(ws)}-{hm(we)}" for ws, we in windows) or "none"
        timed.add(
            out,
            "window",
            f"{cap(visit_label(visit, visit.visit_id))} by {timed.who} on {timed.day_text} runs "
            f"{hm(stop.start_min)}-{hm(true_end)}, outside {whose} time windows that day "
            f"({allowed}).",
            visit.visit_id,
        )


def check_lunch(timed: TimedRoute, out: list[Violation]) -> None:
    """No visit overlaps the clinician's lunch break (travelling through it is allowed)."""
    lunch = timed.clinician.lunch
    if lunch is None:
        return
    for ts in timed.stops:
        stop, visit = ts.stop, ts.visit
        true_end = stop.start_min + visit.duration_min
        if stop.start_min < lunch.end_min and true_end > lunch.start_min:
            timed.add(
                out,
                "lunch",
                f"{cap(visit_label(visit, visit.visit_id))} by {timed.who} on {timed.day_text} "
                f"runs {hm(stop.start_min)}-{hm(true_end)}, during the lunch break {lunch}.",
                visit.visit_id,
            )


def check_shift(ctx: Context, timed: TimedRoute, out: list[Violation]) -> None:
    """The route leaves after the shift starts and is back by its end plus allowed overtime."""
    shift, route = timed.clinician.shift, timed.route
    overtime = ctx.problem.max_overtime_min
    if route.depart_min < shift.start_min:
        timed.add(
            out,
            "shift",
            f"{timed.who} leaves the centre at {hm(route.depart_min)} on {timed.day_text}, "
            f"before the shift starts at {hm(shift.start_min)}.",
        )
    if timed.expected_return > shift.end_min + overtime:
        allowed = f" plus {overtime} min of allowed overtime" if overtime else ""
        timed.add(
            out,
            "shift",
            f"{timed.who} gets back to the centre at {hm(timed.expected_return)} on "
            f"{timed.day_text}, after the shift ends at {hm(shift.end_min)}{allowed}.",
        )


def check_totals(timed: TimedRoute, out: list[Violation]) -> None:
    """The route's travel, work and overtime totals add up."""
    route, shift = timed.route, timed.clinician.shift
    total_min = sum(ts.leg_min for ts in timed.stops) + timed.back_min
    total_km = sum(ts.leg_km for ts in timed.stops) + timed.back_km
    who, day_text = timed.who, timed.day_text
    if route.travel_min != total_min:
        timed.add(
            out,
            "totals",
            f"{who}'s route on {day_text} gives {route.travel_min} min of travel, but its legs "
            f"add up to {total_min} min.",
        )
    if abs(route.travel_km - total_km) > ROUTE_KM_TOLERANCE:
        timed.add(
            out,
            "totals",
            f"{who}'s route on {day_text} gives {route.travel_km:.2f} km of travel, but its "
            f"legs add up to {total_km:.2f} km.",
        )
    if route.work_min != route.return_min - route.depart_min:
        timed.add(
            out,
            "totals",
            f"{who}'s route on {day_text} gives {route.work_min} min of work, but "
            f"{hm(route.depart_min)}-{hm(route.return_min)} is "
            f"{route.return_min - route.depart_min} min.",
        )
    overtime = max(0, route.return_min - shift.end_min)
    if route.overtime_min != overtime:
        timed.add(
            out,
            "totals",
            f"{who}'s route on {day_text} gives {route.overtime_min} min of overtime, but "
            f"returning at {hm(route.return_min)} after a shift ending {hm(shift.end_min)} "
            f"is {overtime} min.",
        )


# --------------------------------------------------------------------------------------------
# sample, missed
# --------------------------------------------------------------------------------------------


def sample_arrivals(timed: TimedRoute, arrivals: SampleArrivals) -> None:
    """When each lab sample of the route first reaches the centre (a pass-by or the return)."""
    stops = timed.stops
    for i, ts in enumerate(stops):
        if ts.visit.sample_return_min is None:
            continue
        at_centre = timed.expected_return
        for j in range(i + 1, len(stops)):
            if stops[j].stop.via_centre:
                before = stops[j - 1]
                at_centre = before.stop.end_min + timed.minutes[before.loc][timed.centre]
                break
        key = (ts.visit.visit_id, timed.clinician.clinician_id, timed.route.day)
        arrivals[key] = at_centre


def check_sample(
    ctx: Context,
    stops_of: Mapping[str, list[Stop]],
    arrivals: SampleArrivals,
    out: list[Violation],
) -> None:
    """A lab sample reaches the centre within its limit of the visit's start."""
    for visit in ctx.problem.visits:
        if visit.sample_return_min is None:
            continue
        delays: list[tuple[int, int, Stop]] = []
        for stop in stops_of.get(visit.visit_id, []):
            at_centre = arrivals.get((visit.visit_id, stop.clinician_id, stop.day))
            if at_centre is not None:
                delays.append((at_centre - stop.start_min, at_centre, stop))
        if not delays or any(delay <= visit.sample_return_min for delay, _, _ in delays):
            continue
        _, at_centre, stop = min(delays, key=lambda a: a[0])
        deadline = stop.start_min + visit.sample_return_min
        out.append(
            Violation(
                "sample",
                f"The lab sample of {visit_label(visit, visit.visit_id)}, started at "
                f"{hm(stop.start_min)} on {day_en(stop.day)}, reaches the centre at "
                f"{hm(at_centre)}, later than {hm(deadline)} ({visit.sample_return_min} min "
                "after the start).",
                visit_id=visit.visit_id,
                clinician_id=stop.clinician_id,
                day=stop.day,
            )
        )


def check_missed(ctx: Context, out: list[Violation]) -> None:
    """An unscheduled visit that still fits feasibly into some clinician's day is a finding."""
    for visit in ctx.problem.visits:
        if visit.visit_id in ctx.scheduled:
            continue
        option = ctx.first_option(visit)
        if option is None:
            continue
        day = dt.date.fromisoformat(option[-1])
        names = " and ".join(who_text(ctx.clinicians.get(c), c) for c in option[:-1])
        out.append(
            Violation(
                "missed",
                f"{cap(visit_label(visit, visit.visit_id))} is left unscheduled, "
                f"but {names} could still do it on {day_en(day)}.",
                visit_id=visit.visit_id,
                clinician_id=option[0],
                day=day,
            )
        )


# --------------------------------------------------------------------------------------------
# All of them
# --------------------------------------------------------------------------------------------


def check_plan(ctx: Context, *, check_missed_visits: bool) -> list[Violation]:
    """Every rule on the plan of ``ctx``, in the stable order of the module docstring."""
    out: list[Violation] = []
    stops_of = check_accounting(ctx, out)
    check_team(ctx, stops_of, out)
    check_skill(ctx, stops_of, out)
    check_joint(ctx, stops_of, out)
    check_link(ctx, stops_of, out)
    arrivals: SampleArrivals = {}
    seen: set[tuple[str, dt.date]] = set()
    for route in ctx.plan.routes:
        clinician = ctx.clinicians.get(route.clinician_id)
        if clinician is None:
            continue
        check_workday(ctx, clinician, route, out)
        check_sequence(clinician, route, out)
        timed = time_route(ctx, clinician, route)
        if timed is None:
            continue
        check_travel(timed, out)
        check_times(timed, out)
        check_window(ctx, timed, out)
        check_lunch(timed, out)
        check_shift(ctx, timed, out)
        check_totals(timed, out)
        key = (route.clinician_id, route.day)
        if key not in seen:  # a second route of the day is an accounting error already
            sample_arrivals(timed, arrivals)
        seen.add(key)
    check_sample(ctx, stops_of, arrivals, out)
    if check_missed_visits:
        check_missed(ctx, out)
    return out
