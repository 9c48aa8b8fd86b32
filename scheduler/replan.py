"""Same-day changes to a stored plan, re-planned in seconds with the least disruption.

Events (:class:`Absence`, :class:`Cancellation`, :class:`Postponement`, new on-demand requests
as :class:`~scheduler.model.ServiceRequest`, :class:`RunningLate`) happen on a plan at a moment
(``day`` at ``at_min``). :func:`replan` answers with a new plan of the week in which

* everything done or started before that moment (every day before ``day``, and on ``day`` every
  stop that started before ``at_min``) is exactly as it was;
* every other visit that can stay is kept by the same clinician on the same day, its start
  within ``SolveParams.replan_tolerance_min`` of where it was;
* only what must move moves: first within the team and the same day, then to a later day of the
  week; what cannot be placed goes back to the due list with a reason.

Disruption is part of the search: a kept visit is pinned (:mod:`scheduler.pins`) to its
clinician and day with its window narrowed to the tolerance, and leaving it costs
``replan_keep_penalty``, far above any drop penalty; visits that must move are placed in two
rounds, their own day first (the team's routes of that day only), then the rest of the week.
Each round solves only the routes it touches, starting from the current routes (OR-Tools'
``ReadAssignmentFromRoutes``); every other route is frozen and never enters the model.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from scheduler.evaluate import Evaluation, Reason, evaluate, insertion_options
from scheduler.intervals import intersect, subtract
from scheduler.model import (
    Away,
    Clinician,
    Dataset,
    DayWindow,
    Location,
    Plan,
    Problem,
    Route,
    ServiceRequest,
    Staffing,
    Stop,
    TimeWindow,
    Unscheduled,
    Urgency,
    Visit,
    format_hhmm,
)
from scheduler.params import SolveParams
from scheduler.pins import REMOVED_REASON, Pin, apply_pins
from scheduler.programmes import request_visits
from scheduler.solve import merge_plans, split_independent
from scheduler.solvers.ortools_model import SAMPLE_CARRIER_SKILL, solve_routing
from scheduler.travel import GreatCircleTravel, TravelTimeProvider

__all__ = [
    "DEFAULT_TIME_LIMIT_S",
    "MADE_ROOM_WHY",
    "PINNED_WHY",
    "Absence",
    "Cancellation",
    "Change",
    "ChangeKind",
    "Event",
    "Postponement",
    "Replan",
    "ReplanError",
    "RunningLate",
    "check_events",
    "replan",
    "replan_around_pins",
    "retime_route",
    "where_at",
]


class ReplanError(ValueError):
    """An event that cannot apply to the plan (unknown id, a visit already done, ...)."""


@dataclass(frozen=True, slots=True)
class Absence:
    """``clinician_id`` is away from ``first_day`` to ``last_day`` (inclusive).

    ``from_min`` (minutes after midnight) is when the absence starts on ``first_day``; ``None``
    means the whole day.
    """

    clinician_id: str
    first_day: dt.date
    last_day: dt.date | None = None
    from_min: int | None = None

    def __post_init__(self) -> None:
        if self.last_day is not None and self.last_day < self.first_day:
            raise ValueError(f"absence of {self.clinician_id}: last day before first day")

    def covers(self, day: dt.date, end_min: int) -> bool:
        """Whether a visit ending at ``end_min`` on ``day`` falls in the absence."""
        last = self.last_day or self.first_day
        if not self.first_day <= day <= last:
            return False
        return day > self.first_day or self.from_min is None or end_min > self.from_min

    def whole_day(self, day: dt.date, shift_start_min: int) -> bool:
        """Whether the clinician does not work at all on ``day``."""
        last = self.last_day or self.first_day
        if not self.first_day <= day <= last:
            return False
        return day > self.first_day or self.from_min is None or self.from_min <= shift_start_min


@dataclass(frozen=True, slots=True)
class Cancellation:
    """The visit will not take place this week (the resident is in hospital, ...)."""

    visit_id: str


@dataclass(frozen=True, slots=True)
class Postponement:
    """The visit is to take place on ``to_day`` instead (in the week, or later)."""

    visit_id: str
    to_day: dt.date


@dataclass(frozen=True, slots=True)
class RunningLate:
    """``clinician_id`` is at ``location`` and can leave only at ``free_at_min`` on ``day``."""

    clinician_id: str
    day: dt.date
    free_at_min: int
    location: Location


Event = Absence | Cancellation | Postponement | ServiceRequest | RunningLate


class ChangeKind(StrEnum):
    """What happened to a visit (the ``change`` column of ``changes.csv``)."""

    MOVED_CLINICIAN = "moved_clinician"
    MOVED_DAY = "moved_day"
    SHIFTED = "shifted"
    CANCELLED = "cancelled"
    POSTPONED = "postponed"
    UNSCHEDULED = "unscheduled"
    ADDED = "added"


@dataclass(frozen=True, slots=True)
class Placement:
    """Where and when a visit is: its clinicians, its day and its start."""

    clinician_ids: tuple[str, ...]
    day: dt.date
    start_min: int

    def __str__(self) -> str:
        return (
            f"{'+'.join(self.clinician_ids)} {self.day.isoformat()} {format_hhmm(self.start_min)}"
        )


@dataclass(frozen=True, slots=True)
class Change:
    """One visit that changed, and whether it had to (the event left it no place)."""

    visit_id: str
    kind: ChangeKind
    before: str  # a placement, or "" for a new request
    after: str  # a placement, a date (postponed), or "" (cancelled, unscheduled)
    resident_id: str
    had_to_move: bool
    why: str


@dataclass(frozen=True, slots=True)
class Replan:
    """The answer to events on a plan.

    Attributes
    ----------
    problem
        The week after the events (cancelled visits with no window left, new requests in,
        postponed visits on their new day, whole days of absence off the clinicians' work
        days): the plan answers it and the evaluator checked the plan against it.
    plan, evaluation
        The new plan and its check.
    changes
        One entry per visit that changed.
    had_to_move
        The visits the events left no place for (they could not stay within the tolerance).
    seconds
        Wall time of the re-plan, evaluation included.
    new_requests
        The visits of the new requests.
    """

    problem: Problem
    plan: Plan
    evaluation: Evaluation
    changes: tuple[Change, ...]
    had_to_move: frozenset[str]
    seconds: float
    new_requests: frozenset[str] = frozenset()

    def summary(self) -> dict[str, object]:
        """The figures a team leader reads first (also written to ``kpis.json``)."""
        counts = {kind.value: 0 for kind in ChangeKind}
        for change in self.changes:
            counts[change.kind.value] += 1
        moved = [c for c in self.changes if c.kind in _MOVES]
        return {
            "seconds": round(self.seconds, 2),
            "changes": counts,
            "visits_had_to_move": len(self.had_to_move),
            "visits_moved": len(moved),
            "moved_without_having_to": sum(not c.had_to_move for c in moved),
            "sent_to_due_list": counts[ChangeKind.UNSCHEDULED.value],
            "requests_placed": counts[ChangeKind.ADDED.value],
            "requests_new": len(self.new_requests),
            "residents_to_tell": sorted(
                {c.resident_id for c in self.changes if c.resident_id and c.kind in _TELL}
            ),
        }


_MOVES = (ChangeKind.MOVED_CLINICIAN, ChangeKind.MOVED_DAY, ChangeKind.SHIFTED)
# Whom to tell: a cancelled or postponed visit was the resident's own word.
_TELL = (*_MOVES, ChangeKind.UNSCHEDULED, ChangeKind.ADDED)

CANCELLED_REASON = "cancelled / 已取消"
POSTPONED_REASON = "postponed to {day} at the resident's request / 应居民要求推迟至 {day}"
NO_ROOM_REASON_EN = "nobody else who may do it has room on its days this week ({why})"
NO_ROOM_REASON_ZH = "本周可上门的日期内无其他可承担人员有空档（{why}）"
# In a round's model a visit to place has its urgency one step down, so that the pinned ones
# (OVERDUE) stand above all of them; optional and due visits to place then weigh the same.
_FREE_URGENCY = {
    Urgency.OVERDUE: Urgency.DUE,
    Urgency.DUE: Urgency.OPTIONAL,
    Urgency.OPTIONAL: Urgency.OPTIONAL,
}
_INFINITE = 1 << 30
PINNED_WHY = "pinned by the team leader / 组长固定"
MADE_ROOM_WHY = "made room for a visit the team leader pinned / 为组长固定的上门让出时间"
HELD_UP_PREFIX = "held-up:"  # the model-only stop of a late clinician's wait
DEFAULT_TIME_LIMIT_S = 2.0  # a day of the sample centre: 1 s moved a visit a day more than 2 s
STAGE_DAY_SHARE = 0.6  # of the time limit: the day's round; the week's round has the rest
MIN_PART_S = 0.3  # the least search a part of a round gets

VehicleKey = tuple[str, dt.date]


def _placements(plan: Plan) -> dict[str, Placement]:
    stops: dict[str, list[Stop]] = defaultdict(list)
    for stop in plan.stops():
        stops[stop.visit_id].append(stop)
    return {
        vid: Placement(tuple(sorted(s.clinician_id for s in ss)), ss[0].day, ss[0].start_min)
        for vid, ss in stops.items()
    }


class _Week:
    """The state of a re-plan: the week after the events, and the routes as they stand."""

    def __init__(
        self,
        dataset: Dataset,
        problem: Problem,
        base: Plan,
        events: Sequence[Event],
        day: dt.date,
        at_min: int,
        params: SolveParams,
        travel: TravelTimeProvider,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        if day not in problem.days:
            raise ReplanError(f"{day} is not in the planned week of {problem.week_start}")
        self.day, self.at_min, self.params, self.travel = day, at_min, params, travel
        self.should_stop = should_stop
        self.tolerance = params.replan_tolerance_min
        visits = {v.visit_id: v for v in problem.visits}
        self.clinicians = {c.clinician_id: c for c in problem.clinicians}
        self.absences = [e for e in events if isinstance(e, Absence)]
        self.late = {(e.clinician_id, e.day): e for e in events if isinstance(e, RunningLate)}
        for who in [a.clinician_id for a in self.absences] + [k[0] for k in self.late]:
            if who not in self.clinicians:
                raise ReplanError(f"no clinician {who} works the week of {problem.week_start}")
        for clinician_id, late_day in self.late:
            if late_day != day:
                raise ReplanError(
                    f"{clinician_id} is late on {late_day}, not on {day}, the day of the change"
                )
        cancelled = [e.visit_id for e in events if isinstance(e, Cancellation)]
        postponed = {e.visit_id: e.to_day for e in events if isinstance(e, Postponement)}
        for visit_id in [*cancelled, *postponed]:
            if visit_id not in visits:
                raise ReplanError(f"no visit {visit_id} in the week of {problem.week_start}")
        for visit_id, to_day in postponed.items():
            if to_day < day:
                raise ReplanError(f"visit {visit_id} cannot be postponed to {to_day}, before {day}")
        self.stops_of: dict[str, list[Stop]] = defaultdict(list)
        for stop in base.stops():
            self.stops_of[stop.visit_id].append(stop)
        # The tolerance counts from where a visit was in the plan, however many rounds it sees.
        self.base_start = {(s.visit_id, s.clinician_id, s.day): s.start_min for s in base.stops()}
        self.fixed = {vid for vid, ss in self.stops_of.items() if any(self.is_fixed(s) for s in ss)}
        for visit_id in [*cancelled, *postponed]:
            if visit_id in self.fixed:
                raise ReplanError(
                    f"visit {visit_id} was already done or started before "
                    f"{day} {format_hhmm(at_min)}: it cannot be cancelled or postponed"
                )
        self.cancelled = set(cancelled)
        self.postponed = postponed

        requests = [e for e in events if isinstance(e, ServiceRequest)]
        new = request_visits(dataset, requests, problem.week_start)
        clash = [v.visit_id for v in new if v.visit_id in visits]
        if clash:
            raise ReplanError(f"request ids already in the week: {', '.join(clash)}")
        if len(new) < len(requests):
            known = {v.visit_id for v in new}
            lost = [r.request_id for r in requests if f"request-{r.request_id}" not in known]
            raise ReplanError(
                f"requests {', '.join(lost)}: the resident is not in the dataset or the dates "
                f"are not in the week of {problem.week_start}"
            )
        # An urgent request is placed before the due visits it competes with.
        self.new = {v.visit_id: dataclasses.replace(v, urgency=Urgency.OVERDUE) for v in new}

        self.original = dict(visits)
        self.actual = self._actual_week(problem)
        self.visits = {v.visit_id: v for v in self.actual.visits}
        self.routes: dict[VehicleKey, Route] = {(r.clinician_id, r.day): r for r in base.routes}
        self.base = base
        # Visits the team leader pinned, and those of them pinned to a day but no time (they
        # may go anywhere in their windows of that day, not only near a start).
        self.pinned: set[str] = set()
        self.loose: set[str] = set()
        self.made_room: set[str] = set()  # visits taken off a route to make room for a pin

    # --- what the events mean ------------------------------------------------------------

    def is_fixed(self, stop: Stop) -> bool:
        """Done or started at the moment of the change."""
        return stop.day < self.day or (stop.day == self.day and stop.start_min < self.at_min)

    def absent(self, clinician_id: str, day: dt.date, end_min: int) -> bool:
        """Whether the clinician is away for a visit ending at ``end_min`` on ``day``."""
        return any(a.clinician_id == clinician_id and a.covers(day, end_min) for a in self.absences)

    def absent_vehicle(self, key: VehicleKey) -> bool:
        """Whether the clinician takes no new visit that day (away for part of it or all)."""
        return self.absent(key[0], key[1], 24 * 60)

    def _actual_week(self, problem: Problem) -> Problem:
        kept: list[Visit] = []
        for visit in problem.visits:
            if visit.visit_id in self.cancelled:  # listed as left out, with the reason
                visit = dataclasses.replace(visit, windows=())
            if visit.visit_id in self.postponed:
                to_day = self.postponed[visit.visit_id]
                visit = dataclasses.replace(
                    visit, windows=tuple(w for w in visit.windows if w.day == to_day)
                )
            kept.append(visit)
        kept += list(self.new.values())
        fixed_days = {(s.clinician_id, s.day) for vid in self.fixed for s in self.stops_of[vid]}
        clinicians = []
        for clinician in problem.clinicians:
            off = {
                d.weekday()
                for d in problem.days
                if (clinician.clinician_id, d) not in fixed_days
                and any(
                    a.clinician_id == clinician.clinician_id
                    and a.whole_day(d, clinician.shift.start_min)
                    for a in self.absences
                )
            }
            clinicians.append(dataclasses.replace(clinician, work_days=clinician.work_days - off))
        return dataclasses.replace(
            problem,
            clinicians=tuple(clinicians),
            visits=tuple(kept),
            links=problem.links_among(tuple(kept)),
            away=problem.away + self._away(problem, fixed_days),
        )

    def _away(self, problem: Problem, fixed_days: set[VehicleKey]) -> tuple[Away, ...]:
        """The absences that leave part of a day, for the evaluator to check: from the time
        she leaves, or (a whole day with visits already done) after her last visit begun."""
        found = []
        for absence in self.absences:
            clinician = self.clinicians[absence.clinician_id]
            for day in problem.days:
                key = (absence.clinician_id, day)
                if not absence.covers(day, 24 * 60):
                    continue
                if absence.whole_day(day, clinician.shift.start_min):
                    if key not in fixed_days:
                        continue  # a day off her work days
                    begun = [
                        s.start_min
                        for vid in self.fixed
                        for s in self.stops_of[vid]
                        if (s.clinician_id, s.day) == key
                    ]
                    found.append(Away(absence.clinician_id, day, max(begun) + 1))
                else:
                    assert absence.from_min is not None  # a part of its first day
                    found.append(Away(absence.clinician_id, day, absence.from_min))
        return tuple(found)

    # --- the rounds ------------------------------------------------------------------------

    def earliest_new_start(self, visit: Visit, day: dt.date) -> int:
        """The earliest start of a visit newly put on ``day``: not before the change is known,
        and (for someone still at the centre) not before she could get there from it."""
        if day != self.day:
            return 0
        centre = self.actual.centres[visit.centre_id].location
        modes = {c.travel_mode for c in self.actual.clinicians if c.centre_id == visit.centre_id}
        trip = max(
            (self.travel.matrix([centre], [visit.location], m).minutes[0, 0] for m in modes),
            default=0,
        )
        return self.at_min + int(trip)

    def free_windows(self, visit: Visit, days: Iterable[dt.date]) -> tuple[DayWindow, ...]:
        """The visit's windows on ``days``, none of them before the change."""
        wanted = set(days)
        windows = []
        for w in visit.windows:
            if w.day not in wanted or w.day < self.day:
                continue
            start = max(w.start_min, self.earliest_new_start(visit, w.day))
            if w.end_min - start >= visit.duration_min:
                windows.append(DayWindow(w.day, start, w.end_min))
        return tuple(windows)

    def kept_windows(self, visit: Visit, stop: Stop) -> tuple[DayWindow, ...]:
        """The visit's windows on its day narrowed to its start +- the tolerance.

        The start is the one of the plan the re-plan began from when the visit is still with
        the same clinician on the same day (else where an earlier round put it).
        """
        if visit.visit_id in self.loose:
            return self.free_windows(visit, [stop.day])
        anchor = self.base_start.get((visit.visit_id, stop.clinician_id, stop.day), stop.start_min)
        lo = max(anchor - self.tolerance, self.at_min if stop.day == self.day else 0)
        lo = max(lo, self.late_bound(stop))
        hi = anchor + self.tolerance
        windows = []
        for w in visit.windows:
            if w.day != stop.day:
                continue
            start, end = max(w.start_min, lo), min(w.end_min, hi + visit.duration_min)
            if end - start >= visit.duration_min:
                windows.append(DayWindow(w.day, start, end))
        return tuple(windows)

    def solve_round(
        self,
        vehicles: set[VehicleKey],
        free: Mapping[str, tuple[DayWindow, ...]],
        time_limit_s: float,
    ) -> tuple[set[str], set[str]]:
        """Re-plan the routes of ``vehicles`` with the ``free`` visits to place.

        Every visit on those routes is kept (fixed and joint ones exactly, the others within the
        tolerance); one that cannot stay within it may move on its day. Returns the visits now
        on the routes, and the kept visits that could not stay where they were.
        """
        if not vehicles:
            return set(), set()
        on_routes: dict[str, list[Stop]] = defaultdict(list)
        for key in vehicles:
            route = self.routes.get(key)
            for stop in route.stops if route else ():
                on_routes[stop.visit_id].append(stop)
        # A joint visit's partner comes along (both keep the visit at one time), and her
        # partners in turn; an absent partner's day only for what she did before she left
        # (see _cut_absent).
        partners: set[VehicleKey] = set()
        to_check = list(on_routes)
        while to_check:
            for stop in self.current_stops(to_check.pop()):
                key = (stop.clinician_id, stop.day)
                if key not in vehicles and key not in partners:
                    partners.add(key)
                    for other in self.routes[key].stops:
                        on_routes[other.visit_id].append(other)
                        to_check.append(other.visit_id)
        vehicles = vehicles | partners
        sub_visits: dict[str, Visit] = {}
        pins: list[Pin] = []
        kept: set[str] = set()
        forced: set[str] = set()
        free = dict(free)
        for visit_id, stops in on_routes.items():
            visit = self.visits[visit_id]
            exact = visit.is_joint or visit_id in self.fixed
            if visit.is_joint and not all(self.can_start(s) for s in stops):
                forced.add(visit_id)  # a late partner: the pair must meet anew (by hand)
                continue
            if not exact:
                windows = self.kept_windows(visit, stops[0])
                if not windows:  # it cannot stay: it may move on its day
                    forced.add(visit_id)
                    free[visit_id] = self.free_windows(visit, [stops[0].day])
                    continue
                visit = dataclasses.replace(visit, windows=windows)
            sub_visits[visit_id] = visit
            kept.add(visit_id)
            for stop in stops:
                pins.append(
                    Pin(visit_id, stop.clinician_id, stop.day, stop.start_min if exact else None)
                )
        for visit_id, windows in free.items():
            if windows:
                visit = self.visits[visit_id]
                sub_visits[visit_id] = dataclasses.replace(
                    visit, windows=windows, urgency=_FREE_URGENCY[visit.urgency]
                )
        waits = {key: found for key in vehicles if (found := self.held_up(key)) is not None}
        for visit, pin, _ in waits.values():
            sub_visits[visit.visit_id] = visit
            pins.append(pin)
        sub = dataclasses.replace(
            self.actual,
            clinicians=self._clinicians_of(vehicles),
            visits=tuple(sub_visits.values()),
            links=self.actual.links_among(tuple(sub_visits.values())),
        )
        sub = self._cut_absent(apply_pins(sub, pins), partners)
        # The start: the routes as they stand, less what cannot stay on them.
        start_routes = []
        for key in vehicles:
            stops = [s for s in self.routes[key].stops] if key in self.routes else []
            stops = [s for s in stops if s.visit_id in kept and self.can_start(s)]
            stops += [waits[key][2]] if key in waits else []
            if stops:
                stops.sort(key=lambda s: s.start_min)
                numbered = [dataclasses.replace(s, sequence=i) for i, s in enumerate(stops, 1)]
                start_routes.append(_bare_route(key, numbered))
        # Kept visits (pinned: OVERDUE) cost the keep penalty; the visits to place one step
        # down each, so that none of them is worth a kept visit (see _FREE_URGENCY).
        penalty = self.params.drop_penalty
        # Days late are not priced in a round: what stays is pinned where it was, and with the
        # late dimension OR-Tools refused to read some rounds' routes in as their start.
        params = dataclasses.replace(
            self.params,
            late_cost_per_day={urgency: 0 for urgency in Urgency},
            drop_penalty={
                Urgency.OVERDUE: self.params.replan_keep_penalty,
                Urgency.DUE: penalty[Urgency.OVERDUE],
                Urgency.OPTIONAL: penalty[Urgency.DUE],
            },
        )
        parts = split_independent(sub)
        total = sum(len(p.visits) for p in parts) or 1
        plans = []
        for part in parts:
            mine = {c.clinician_id for c in part.clinicians}
            initial = Plan(
                routes=tuple(r for r in start_routes if r.clinician_id in mine), unscheduled=()
            )
            share = max(MIN_PART_S, time_limit_s * len(part.visits) / total)
            part_params = dataclasses.replace(params, time_limit_s=share)
            solved = solve_routing(
                part, self.travel, part_params, initial=initial, should_stop=self.should_stop
            )
            must_stay = {
                v.visit_id
                for v in part.visits
                if v.visit_id in self.fixed or v.visit_id.startswith(HELD_UP_PREFIX)
            }
            if must_stay <= {s.visit_id for s in solved.stops()}:
                plans.append(solved)
            else:
                # The search lost a visit already done (it could not start from the routes
                # and ran out of time building its own): these routes stay as they stood.
                keep = [r for k, r in self.routes.items() if k in vehicles and k[0] in mine]
                plans.append(Plan(routes=tuple(keep), unscheduled=()))
        result = merge_plans(plans)
        for key in vehicles:
            self.routes.pop(key, None)
        for route in result.routes:
            route = self.without_held_up(route)
            if route.stops:
                self.routes[(route.clinician_id, route.day)] = route
        placed = {s.visit_id for r in self.routes.values() for s in r.stops}
        return placed, forced | (kept - placed)

    def _clinicians_of(self, vehicles: set[VehicleKey]) -> tuple[Clinician, ...]:
        """The clinicians of ``vehicles``, each working only those days."""
        days_of: dict[str, set[int]] = defaultdict(set)
        for clinician_id, day in vehicles:
            days_of[clinician_id].add(day.weekday())
        return tuple(
            dataclasses.replace(c, work_days=c.work_days & frozenset(days_of[c.clinician_id]))
            for c in self.actual.clinicians
            if c.clinician_id in days_of
        )

    def _cut_absent(self, sub: Problem, partners: set[VehicleKey]) -> Problem:
        """An absent clinician's day that came along as a joint visit's partner: only what she
        did before she left.

        She becomes two clinicians to the model (copies of one clinician on different days are
        different vehicles): one for her other days, and one for that day alone with her shift
        cut at her return after her last visit, so the search can give her nothing new.
        """
        cut = [key for key in partners if self.absent_vehicle(key)]
        if not cut:
            return sub
        clinicians: list[Clinician] = []
        for c in sub.clinicians:
            days = [d for cid, d in cut if cid == c.clinician_id]
            rest = c.work_days - {d.weekday() for d in days}
            if rest or not days:
                clinicians.append(dataclasses.replace(c, work_days=rest))
            for day in days:
                # Room for handing in each sample she carries, and for nothing else.
                route = self.routes[(c.clinician_id, day)]
                samples = sum(
                    self.visits[s.visit_id].sample_return_min is not None for s in route.stops
                )
                end = route.return_min + self.actual.sample_handover_min * samples
                lunch = c.lunch if c.lunch is not None and c.lunch.end_min <= end else None
                clinicians.append(
                    dataclasses.replace(
                        c,
                        work_days=frozenset({day.weekday()}),
                        shift=TimeWindow(c.shift.start_min, end),
                        lunch=lunch,
                    )
                )
        return dataclasses.replace(sub, clinicians=tuple(clinicians))

    def late_bound(self, stop: Stop) -> int:
        """The earliest start of ``stop`` for a late clinician (from where she is held up)."""
        late = self.late.get((stop.clinician_id, stop.day))
        if late is None or stop.visit_id in self.fixed:
            return 0
        location = self.visits[stop.visit_id].location
        mode = self.clinicians[stop.clinician_id].travel_mode
        leg = self.travel.matrix([late.location], [location], mode)
        return late.free_at_min + int(leg.minutes[0, 0])

    def can_start(self, stop: Stop) -> bool:
        """Whether a kept stop may start the search where it is (not before a late clinician
        can be there)."""
        return stop.start_min >= self.late_bound(stop)

    def current_stops(self, visit_id: str) -> list[Stop]:
        """The stops of ``visit_id`` on the routes as they stand (two for a joint visit)."""
        return [s for route in self.routes.values() for s in route.stops if s.visit_id == visit_id]

    def place_joint(self, visit_id: str, days: Sequence[dt.date]) -> bool:
        """Put a joint visit that must move into a common gap of two clinicians' routes.

        The search cannot move a joint visit (it is pinned to its slot), so it is placed here:
        on the first of ``days`` where clinicians who may do its places both have a gap at one
        start without moving any other stop; the one who draws blood hands the sample in on
        her next leg (by way of the centre) or on her way back. Returns whether it was placed.
        """
        visit = self.visits[visit_id]
        carrier = next(
            (i for i, p in enumerate(visit.staffing) if SAMPLE_CARRIER_SKILL in p.skills), 0
        )
        for day in days:
            windows = [
                (w.start_min, w.end_min - visit.duration_min)
                for w in self.free_windows(visit, [day])
            ]
            if not windows:
                continue
            able = [
                [
                    c
                    for c in self.actual.clinicians
                    if place.accepts(c)
                    and self.actual.may_serve(c, visit)
                    and self.actual.works_on(c, day)
                    and not self.absent_vehicle((c.clinician_id, day))
                ]
                for place in visit.staffing
            ]
            for combo in itertools.product(*able):
                if len({c.clinician_id for c in combo}) < len(combo):
                    continue
                starts = windows
                for place, clinician in enumerate(combo):
                    found = self._gaps(clinician, day, visit, carries=place == carrier)
                    starts = intersect(starts, [(lo, hi) for _, lo, hi in found])
                if not starts:
                    continue
                start = starts[0][0]
                for place, clinician in enumerate(combo):
                    self._insert(clinician, day, visit, start, carries=place == carrier)
                return True
        return False

    def _gaps(
        self, clinician: Clinician, day: dt.date, visit: Visit, *, carries: bool
    ) -> list[tuple[int, int, int]]:
        """``(position, earliest, latest start)`` where ``visit`` fits into the clinician's
        route of ``day`` with no other stop moved (after what she has begun)."""
        route = self.routes.get((clinician.clinician_id, day))
        stops = list(route.stops) if route else []
        centre = self.actual.centres[clinician.centre_id].location
        places = [centre, visit.location] + [self.visits[s.visit_id].location for s in stops]
        table = self.travel.matrix(places, places, clinician.travel_mode).minutes
        handover = self.actual.sample_handover_min
        duration = visit.duration_min
        shift_end = clinician.shift.end_min + self.actual.max_overtime_min
        begun = sum(s.visit_id in self.fixed for s in stops)
        back = int(table[1, 0])
        if carries and duration + back > (visit.sample_return_min or 0):
            return []
        found = []
        pending = _INFINITE  # the deadline of samples she carries into the gap
        for position in range(len(stops) + 1):
            before = stops[position - 1] if position else None
            after = stops[position] if position < len(stops) else None
            if before is not None:
                if before.via_centre:
                    pending = _INFINITE
                sampled = self.visits[before.visit_id].sample_return_min
                if sampled is not None:
                    pending = min(pending, before.start_min + sampled)
            if position < begun:
                continue
            here = position + 1 if before else 0  # index of the place she comes from
            lo = (before.end_min if before else clinician.shift.start_min) + int(table[here, 1])
            if after is None:
                hi = min(shift_end, pending) - back - duration
            elif carries or after.via_centre:  # samples go in on the way to the next stop
                there = position + 2
                hi = min(after.start_min - handover - int(table[0, there]), pending) - back
                hi -= duration
            else:
                hi = after.start_min - int(table[1, position + 2]) - duration
            ranges = [(lo, hi)] if lo <= hi else []
            if clinician.lunch is not None:
                ranges = subtract(
                    ranges, clinician.lunch.start_min - duration, clinician.lunch.end_min
                )
            found += [(position, a, b) for a, b in ranges]
        return found

    def _insert(
        self, clinician: Clinician, day: dt.date, visit: Visit, start: int, *, carries: bool
    ) -> None:
        """Put ``visit`` on the clinician's route of ``day`` at ``start``, in time order."""
        key = (clinician.clinician_id, day)
        route = self.routes.get(key) or Route(key[0], day, 0, 0, (), 0, 0.0, 0, 0)
        new = Stop(visit.visit_id, key[0], day, 0, start, start, start + visit.duration_min, 0, 0.0)
        stops = sorted([*route.stops, new], key=lambda s: s.start_min)
        at = stops.index(new)
        if carries and at + 1 < len(stops):
            stops[at + 1] = dataclasses.replace(stops[at + 1], via_centre=True)
        route = dataclasses.replace(route, stops=tuple(stops))
        self.routes[key] = self.retimed(route, route.stops)

    def truncate(self, key: VehicleKey) -> None:
        """An absent clinician's day: only what she did before she left (or nothing)."""
        route = self.routes.pop(key, None)
        if route is None:
            return
        stops = [s for s in route.stops if s.visit_id in self.fixed]
        if stops:
            self.routes[key] = self.retimed(route, stops)

    def retimed(self, route: Route, stops: Sequence[Stop]) -> Route:
        """``route`` with only ``stops`` (their starts kept): legs, arrivals and totals anew
        (see :func:`retime_route`)."""
        clinician = self.clinicians[route.clinician_id]
        return retime_route(
            route,
            stops,
            clinician=clinician,
            centre=self.actual.centres[clinician.centre_id].location,
            visits=self.visits,
            handover=self.actual.sample_handover_min,
            travel=self.travel,
        )

    def held_up(self, key: VehicleKey) -> tuple[Visit, Pin, Stop] | None:
        """A late clinician's wait where she is, as a stop of her route the search must keep.

        It starts when her last visit begun before the change ends (or at the change, at the
        centre) and lasts until she is free: the search then times her next visits from there.
        It is never part of a plan (see :meth:`without_held_up`).
        """
        late = self.late.get(key)
        if late is None:
            return None
        clinician = self.clinicians[key[0]]
        route = self.routes.get(key)
        begun = [s for s in route.stops if s.visit_id in self.fixed] if route else []
        start = begun[-1].end_min if begun else max(self.at_min, clinician.shift.start_min)
        came_from = (
            self.visits[begun[-1].visit_id].location
            if begun
            else self.actual.centres[clinician.centre_id].location
        )
        trip = self.travel.matrix([came_from], [late.location], clinician.travel_mode)
        start += int(trip.minutes[0, 0])
        if late.free_at_min <= start:
            return None
        visit = Visit(
            visit_id=f"{HELD_UP_PREFIX}{key[0]}",
            programme="held_up",
            team_id=clinician.team_id,
            centre_id=clinician.centre_id,
            location=late.location,
            duration_min=late.free_at_min - start,
            staffing=(Staffing(frozenset({clinician.role})),),
            windows=(DayWindow(key[1], start, late.free_at_min),),
            urgency=Urgency.OVERDUE,
            due_by=key[1],
            committee_id="",
        )
        stop = Stop(visit.visit_id, key[0], key[1], 0, start, start, late.free_at_min, 0, 0.0)
        return visit, Pin(visit.visit_id, key[0], key[1], start), stop

    def without_held_up(self, route: Route) -> Route:
        """The route without a late clinician's wait, timed as the evaluator times it."""
        if not any(s.visit_id.startswith(HELD_UP_PREFIX) for s in route.stops):
            return route
        return self.retimed(
            route, [s for s in route.stops if not s.visit_id.startswith(HELD_UP_PREFIX)]
        )


def retime_route(
    route: Route,
    stops: Sequence[Stop],
    *,
    clinician: Clinician,
    centre: Location,
    visits: Mapping[str, Visit],
    handover: int,
    travel: TravelTimeProvider,
) -> Route:
    """``route`` with only ``stops``, in this order (their starts kept): legs, arrivals and
    totals anew.

    The legs are those the evaluator recomputes: from the centre or the previous stop, by
    way of the centre where a lab sample is handed in. ``stops`` may hold stops that are not
    on ``route`` yet (a visit moved here).
    """
    places = [centre] + [visits[s.visit_id].location for s in stops]
    table = travel.matrix(places, places, clinician.travel_mode)
    minutes, km = table.minutes, table.km
    # A leg by way of the centre (samples handed in) stays so when the stop it led to is
    # gone: the next stop kept takes the way by the centre over.
    via: dict[str, bool] = {}
    passed = False
    for stop in route.stops:
        passed = passed or stop.via_centre
        if stop in stops:
            via[stop.visit_id], passed = passed, False
    new_stops: list[Stop] = []
    here, free_at, depart = 0, 0, 0
    travel_min, travel_km = 0, 0.0
    for number, stop in enumerate(stops, start=1):
        there = number
        if via.get(stop.visit_id, stop.via_centre) and here != 0:
            leg = int(minutes[here, 0]) + handover + int(minutes[0, there])
            leg_km = float(km[here, 0] + km[0, there])
        else:
            leg, leg_km = int(minutes[here, there]), float(km[here, there])
        if number == 1:  # she leaves the centre just in time, as the solver's routes do
            depart = free_at = stop.start_min - leg
        new_stops.append(
            dataclasses.replace(
                stop,
                sequence=number,
                arrival_min=free_at + leg,
                travel_min=leg,
                travel_km=round(leg_km, 3),
                via_centre=via.get(stop.visit_id, stop.via_centre) and here != 0,
            )
        )
        travel_min += leg
        travel_km += leg_km
        here, free_at = there, stop.end_min
    back, back_km = int(minutes[here, 0]), float(km[here, 0])
    ret = free_at + back
    return dataclasses.replace(
        route,
        depart_min=depart,
        return_min=ret,
        stops=tuple(new_stops),
        travel_min=travel_min + back,
        travel_km=round(travel_km + back_km, 3),
        work_min=ret - depart,
        overtime_min=max(0, ret - clinician.shift.end_min),
    )


def where_at(
    plan: Plan, problem: Problem, clinician_id: str, day: dt.date, at_min: int
) -> Location:
    """Where a clinician is at ``at_min`` on ``day``: at her last visit begun by then, or at
    her centre (where a :class:`RunningLate` clinician is held up when nobody says where)."""
    visits = {v.visit_id: v for v in problem.visits}
    begun = [
        s
        for s in plan.stops()
        if (s.clinician_id, s.day) == (clinician_id, day) and s.start_min <= at_min
    ]
    if begun:
        return visits[max(begun, key=lambda s: s.start_min).visit_id].location
    clinician = next((c for c in problem.clinicians if c.clinician_id == clinician_id), None)
    if clinician is None:
        raise ReplanError(f"no clinician {clinician_id} works the week of {problem.week_start}")
    return problem.centres[clinician.centre_id].location


def check_events(
    dataset: Dataset,
    problem: Problem,
    base: Plan,
    events: Sequence[Event],
    *,
    day: dt.date,
    at_min: int = 0,
) -> None:
    """Raise :class:`ReplanError` for an event that cannot apply to ``base`` (what
    :func:`replan` would refuse), without re-planning: a service checks a request with it before
    queueing the re-plan."""
    _Week(dataset, problem, base, events, day, at_min, SolveParams(), GreatCircleTravel())


def replan(
    dataset: Dataset,
    problem: Problem,
    base: Plan,
    events: Sequence[Event],
    *,
    day: dt.date,
    at_min: int = 0,
    params: SolveParams | None = None,
    travel: TravelTimeProvider | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Replan:
    """Re-plan ``base`` after ``events`` known on ``day`` at ``at_min``, disturbing the least.

    Parameters
    ----------
    dataset
        The registers the week was planned from (residents of new requests).
    problem
        The week ``base`` answers (:func:`scheduler.solve.build_problem`).
    base
        The plan as it stands (e.g. the approved one).
    events
        What happened; new requests are :class:`~scheduler.model.ServiceRequest`.
    day, at_min
        The moment of the change: visits before it are done and stay exactly as they were.
    params
        ``time_limit_s`` is for the whole re-plan (both rounds); ``replan_tolerance_min`` says
        how far a kept visit may shift.
    should_stop
        Asked during the search: once it answers ``True`` each round keeps the best routes it
        has found (a cancelled job still gets a checked plan).

    Raises
    ------
    ReplanError
        An event names an unknown visit or clinician, a visit already done, a day outside
        the week.
    """
    started = time.monotonic()
    params = params or SolveParams(time_limit_s=DEFAULT_TIME_LIMIT_S)
    travel = travel or GreatCircleTravel()
    week = _Week(dataset, problem, base, events, day, at_min, params, travel, should_stop)

    # What must move, and the routes that lose a visit.
    must_move: dict[str, dt.date] = {}  # visit -> the day it should preferably go to
    touched: set[VehicleKey] = set()
    left_out: dict[str, str] = {}  # visit -> reason: cancelled, or postponed out of the week
    for visit_id, stops in week.stops_of.items():
        if visit_id in week.fixed:
            continue
        keys = {(s.clinician_id, s.day) for s in stops}
        if visit_id in week.cancelled:
            touched |= keys
            left_out[visit_id] = CANCELLED_REASON
            continue
        if visit_id in week.postponed:
            touched |= keys
            to_day = week.postponed[visit_id]
            if to_day in problem.days:
                must_move[visit_id] = to_day
            else:
                left_out[visit_id] = POSTPONED_REASON.format(day=to_day.isoformat())
            continue
        if any(week.absent(s.clinician_id, s.day, s.end_min) for s in stops):
            touched |= keys
            must_move[visit_id] = stops[0].day
    for visit_id in week.cancelled:
        left_out[visit_id] = CANCELLED_REASON
    for visit_id, to_day in week.postponed.items():
        if visit_id not in week.stops_of and to_day in problem.days:  # was unscheduled
            must_move[visit_id] = to_day
    for visit_id, visit in week.new.items():
        days = sorted({w.day for w in week.free_windows(visit, problem.days)})
        must_move[visit_id] = days[0] if days else day
    touched |= set(week.late)
    return _rounds(week, problem, must_move, touched, left_out, started)


PIN_ROOM_SHARE = 0.3  # of the time limit: making room for the pins; the rounds have the rest


def replan_around_pins(
    dataset: Dataset,
    problem: Problem,
    base: Plan,
    pins: Sequence[Pin],
    removed: Sequence[str] = (),
    *,
    params: SolveParams | None = None,
    travel: TravelTimeProvider | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Replan:
    """Re-plan the draft ``base`` around a team leader's ``pins`` and ``removed`` visits,
    moving no other visit that the pins do not force to move.

    Each pinned visit goes where its pin says (a lock is a pin where it is). A day that gets a
    pinned visit, or that ``base`` already breaks a rule on (a hand move saved in the week
    workspace), is solved again on its own: the pinned visits are kept first, the day's other
    visits are kept near their starts where they still fit, and those that no longer fit must
    move. What must move is then placed as in :func:`replan`: on its own day first (any
    clinician of the team), then on another day of the week. Every other visit stays with its
    clinician on its day, within ``SolveParams.replan_tolerance_min`` of its start.

    Raises
    ------
    scheduler.pins.PinError
        A pin names an unknown visit or clinician, or cannot hold by the visit's own rules.
    """
    started = time.monotonic()
    params = params or SolveParams(time_limit_s=DEFAULT_TIME_LIMIT_S)
    travel = travel or GreatCircleTravel()
    gone = set(removed)
    pinned = apply_pins(problem, [p for p in pins if p.visit_id not in gone])
    pinned = dataclasses.replace(
        pinned,
        visits=tuple(
            dataclasses.replace(v, windows=()) if v.visit_id in gone else v for v in pinned.visits
        ),
    )
    week = _Week(dataset, pinned, base, [], problem.days[0], 0, params, travel, should_stop)
    week.pinned = {p.visit_id for p in pins if p.visit_id not in gone}
    left_out = {v: REMOVED_REASON for v in gone if v in week.visits}
    touched: set[VehicleKey] = set()
    for visit_id in left_out:
        touched |= {(s.clinician_id, s.day) for s in week.stops_of.get(visit_id, [])}
    must_move: dict[str, dt.date] = {}
    moved_by_hand: set[str] = set()
    targets: set[VehicleKey] = set()
    for pin in pins:
        if pin.visit_id in gone:
            continue
        stops = week.current_stops(pin.visit_id)
        if any(
            (s.clinician_id, s.day) == (pin.clinician_id, pin.day)
            and pin.start_min in (None, s.start_min)
            for s in stops
        ):
            continue
        moved_by_hand.add(pin.visit_id)
        for key in {(s.clinician_id, s.day) for s in stops}:
            route = week.routes.pop(key)
            kept = [s for s in route.stops if s.visit_id != pin.visit_id]
            touched.add(key)
            if kept:
                week.routes[key] = week.retimed(route, kept)
        visit = week.visits[pin.visit_id]
        if visit.is_joint:  # two clinicians at a new time: the rounds' common-gap search
            must_move[pin.visit_id] = pin.day
            continue
        target = (pin.clinician_id, pin.day)
        now = week.routes.get(target)
        start = pin.start_min
        if start is None:
            week.loose.add(pin.visit_id)
            start = _room_for(week, left_out, visit, pin) or _clear_start(
                visit, now.stops if now else ()
            )
        end = start + visit.duration_min
        stop = Stop(pin.visit_id, pin.clinician_id, pin.day, 0, start, start, end, 0, 0)
        week.routes[target] = _bare_route(target, [*(now.stops if now else ()), stop])
        targets.add(target)
    # Days the draft already breaks a rule on (e.g. a pinned visit moved there by hand).
    checked = evaluate(week.actual, _assemble(week, left_out, base), travel, check_missed=False)
    targets |= {
        (v.clinician_id, v.day)
        for v in checked.broken
        if v.clinician_id is not None and v.day is not None
    } & set(week.routes)
    share = params.time_limit_s * PIN_ROOM_SHARE / max(1, len(targets))
    for target in sorted(targets):
        day_route = week.routes.get(target)
        if day_route is None:
            continue
        free: dict[str, tuple[DayWindow, ...]] = {}
        stay = []
        for stop in day_route.stops:
            visit = week.visits[stop.visit_id]
            if stop.visit_id in week.pinned or visit.is_joint or stop.visit_id in gone:
                stay.append(stop)
            else:
                near = week.kept_windows(visit, stop)
                free[stop.visit_id] = near or week.free_windows(visit, [stop.day])
        week.routes[target] = _bare_route(target, sorted(stay, key=lambda s: s.start_min))
        placed, forced = week.solve_round({target}, free, max(MIN_PART_S, share))
        for visit_id in (set(free) - placed) | forced:
            if visit_id not in gone:
                must_move[visit_id] = target[1]
                week.made_room.add(visit_id)
    return _rounds(week, pinned, must_move, touched, left_out, started, frozenset(moved_by_hand))


def _room_for(week: _Week, left_out: Mapping[str, str], visit: Visit, pin: Pin) -> int | None:
    """Where the pinned clinician's day has room for the visit as the week workspace finds it
    (:func:`scheduler.edits.starts_with_room`), if it has: its start there."""
    from scheduler.edits import starts_with_room  # it re-times routes with this module

    who = next(c for c in week.actual.clinicians if c.clinician_id == pin.clinician_id)
    now = _assemble(week, left_out, week.base)
    starts = starts_with_room(week.actual, now, week.travel, visit, who, pin.day)
    return None if starts is None else starts[visit.visit_id]


def _clear_start(visit: Visit, stops: Sequence[Stop]) -> int:
    """A start in the visit's windows (those of its pinned day) that overlaps none of
    ``stops``, if there is one, else its earliest: where it first goes in the search's start
    routes (a start that overlaps a visit kept exactly makes the search build its own)."""
    taken = sorted((s.start_min, s.end_min) for s in stops)
    candidates = sorted({w.start_min for w in visit.windows} | {end for _, end in taken})
    for start in candidates:
        end = start + visit.duration_min
        inside = any(w.start_min <= start and end <= w.end_min for w in visit.windows)
        if inside and all(end <= a or b <= start for a, b in taken):
            return start
    return min(w.start_min for w in visit.windows)


def _rounds(
    week: _Week,
    problem: Problem,
    must_move: dict[str, dt.date],
    touched: set[VehicleKey],
    left_out: dict[str, str],
    started: float,
    moved_by_hand: frozenset[str] = frozenset(),
) -> Replan:
    """Place what must move (each visit preferably on its day in ``must_move``) around
    everything kept, in the rounds of :func:`replan`, and check the answer. ``touched`` routes
    are re-solved in the first round; ``left_out`` visits leave the week with their reason;
    ``moved_by_hand`` are visits the team leader moved (they count as having had to move)."""
    day, params, travel = week.day, week.params, week.travel

    def team_vehicles(visit_id: str, days: Iterable[dt.date]) -> set[VehicleKey]:
        visit = week.visits[visit_id]
        return {
            (c.clinician_id, d)
            for c in week.actual.clinicians
            for d in days
            if d >= day and week.actual.may_serve(c, visit) and week.actual.works_on(c, d)
        }

    for key in list(week.routes):
        if week.absent_vehicle(key) and key[1] >= day:
            week.truncate(key)
    absent_keys = {
        (c.clinician_id, d)
        for c in week.actual.clinicians
        for d in problem.days
        if week.absent_vehicle((c.clinician_id, d))
    }
    for visit_id in set(must_move) | set(left_out):
        for key in {(s.clinician_id, s.day) for s in week.stops_of.get(visit_id, [])}:
            route = week.routes.pop(key, None)
            stops = [s for s in route.stops if s.visit_id != visit_id] if route else []
            if route is not None and stops:
                week.routes[key] = week.retimed(route, stops)

    # Round 1: each visit on its own day, with its team's routes of that day. Joint visits that
    # must move stay out: two clinicians at one new time is left to the team leader.
    joint_left = {v for v in must_move if week.visits[v].is_joint}
    movable = {v: d for v, d in must_move.items() if v not in joint_left}
    vehicles = set(touched)
    for visit_id, preferred in movable.items():
        vehicles |= team_vehicles(visit_id, [preferred])
    vehicles = {k for k in vehicles - absent_keys if k[1] >= day}
    free = {v: week.free_windows(week.visits[v], [d]) for v, d in movable.items()}
    placed, forced = week.solve_round(vehicles, free, params.time_limit_s * STAGE_DAY_SHARE)
    had_to_move = set(must_move) | forced
    joint_left |= {v for v in forced if week.visits[v].is_joint}
    rest = (set(movable) | forced) - placed - joint_left

    # Round 2: what is still out, on any day left in the week (the team's routes of those days).
    if rest:
        days_left = [d for d in problem.days if d >= day]
        vehicles = set()
        for visit_id in rest:
            vehicles |= team_vehicles(visit_id, days_left)
        free = {v: week.free_windows(week.visits[v], days_left) for v in rest}
        left_s = max(MIN_PART_S, params.time_limit_s - (time.monotonic() - started))
        placed, forced = week.solve_round(vehicles - absent_keys, free, left_s)
        had_to_move |= forced

    # Joint visits that must move: a common gap of two clinicians, their own day first.
    before_joint = dict(week.routes)
    for visit_id in sorted(joint_left):
        if not week.current_stops(visit_id):
            preferred = must_move.get(visit_id, day)
            later = [d for d in problem.days if d >= day and d != preferred]
            week.place_joint(visit_id, [preferred, *later])
    plan = _assemble(week, left_out, week.base)
    checked = evaluate(week.actual, plan, travel)
    if checked.broken and week.routes != before_joint:  # keep them out rather than break a rule
        week.routes = before_joint
        plan = _assemble(week, left_out, week.base)
        checked = evaluate(week.actual, plan, travel)
    evaluation = _without_absent_options(week, plan, checked, had_to_move | set(week.new))
    reasons = evaluation.reasons
    plan = dataclasses.replace(
        plan,
        unscheduled=tuple(
            Unscheduled(u.visit_id, left_out[u.visit_id])
            if left_out.get(u.visit_id)
            else Unscheduled(u.visit_id, reasons[u.visit_id].en, reasons[u.visit_id].zh)
            if u.visit_id in reasons
            else u
            for u in plan.unscheduled
        ),
        solve_seconds=round(time.monotonic() - started, 2),
        status="re-plan",
    )
    _check_promises(week, plan)
    had_to_move |= moved_by_hand
    changes = _changes(week, week.base, plan, had_to_move - set(week.new), left_out)
    return Replan(
        problem=week.actual,
        plan=plan,
        evaluation=evaluation,
        changes=changes,
        had_to_move=frozenset(had_to_move - set(week.new)),
        new_requests=frozenset(week.new),
        seconds=time.monotonic() - started,
    )


def _bare_route(key: VehicleKey, stops: Sequence[Stop]) -> Route:
    """A route as a start for the search, which reads only its stops' order."""
    return Route(key[0], key[1], 0, 0, tuple(stops), 0, 0.0, 0, 0)


def _assemble(week: _Week, left_out: Mapping[str, str], base: Plan) -> Plan:
    """The week's routes as they stand, and every visit of the week not on one as left out."""
    routes = tuple(
        sorted((r for r in week.routes.values() if r.stops), key=lambda r: (r.clinician_id, r.day))
    )
    on_route = {s.visit_id for r in routes for s in r.stops}
    before = {u.visit_id: u.reason for u in base.unscheduled}
    unscheduled = [
        Unscheduled(v.visit_id, left_out.get(v.visit_id) or before.get(v.visit_id, ""))
        for v in week.actual.visits
        if v.visit_id not in on_route
    ]
    return Plan(routes=routes, unscheduled=tuple(unscheduled))


def _without_absent_options(
    week: _Week, plan: Plan, evaluation: Evaluation, moved: set[str]
) -> Evaluation:
    """The evaluation, with an absent clinician's day no longer offered as room for a visit.

    The week's problem says she is away from 10:00 on Tuesday (:class:`~scheduler.model.Away`),
    but not that the morning before the change is past: the evaluator still sees room in her
    gaps before 10:00, so a visit the events sent back (``moved``) that fits only there gets its
    true reason instead of "it still fits". One that fits nowhere only because she left (its
    only room is her afternoon) gets the same reason, not the evaluator's guess from what is
    left ("too far", "full").
    """
    if not week.absences:
        return evaluation
    reasons = dict(evaluation.reasons)
    missed = {v.visit_id for v in evaluation.missed}
    unaware = dataclasses.replace(week.actual, away=())  # as if she had stayed
    gone: set[str] = set()
    for visit_id in sorted(moved & {u.visit_id for u in plan.unscheduled}):
        visit = week.visits.get(visit_id)
        if visit is None:
            continue  # only what the events sent back: the rest keeps the evaluator's word
        problem = week.actual if visit_id in missed else unaware
        options = insertion_options(problem, plan, week.travel, visit)
        if options and all(
            week.absent_vehicle((o[0], dt.date.fromisoformat(o[-1]))) for o in options
        ):
            gone.add(visit_id)
            why_en, _, why_zh = _why(week, visit_id).partition(" / ")
            reasons[visit_id] = Reason(
                en=NO_ROOM_REASON_EN.format(why=why_en),
                zh=NO_ROOM_REASON_ZH.format(why=why_zh or why_en),
            )
    violations = tuple(
        v for v in evaluation.violations if v.visit_id not in gone or v.rule != "missed"
    )
    kpis = dict(evaluation.kpis)
    kpis["visits_still_fit"] = sum(v.rule == "missed" for v in violations)
    return dataclasses.replace(evaluation, violations=violations, kpis=kpis, reasons=reasons)


def _check_promises(week: _Week, plan: Plan) -> None:
    """What a re-plan promises, checked on its answer (the evaluator checks the rules)."""
    now = {(s.visit_id, s.clinician_id): s for s in plan.stops()}
    for visit_id in week.fixed:
        for stop in week.stops_of[visit_id]:
            kept = now.get((visit_id, stop.clinician_id))
            if kept is None or (kept.day, kept.start_min) != (stop.day, stop.start_min):
                raise RuntimeError(f"re-plan changed visit {visit_id}, done before the change")
    for stop in plan.stops():
        if stop.visit_id not in week.fixed and week.absent(
            stop.clinician_id, stop.day, stop.end_min
        ):
            raise RuntimeError(f"re-plan sends {stop.clinician_id}, absent, to {stop.visit_id}")


def _changes(
    week: _Week, base: Plan, plan: Plan, had_to_move: set[str], left_out: Mapping[str, str]
) -> tuple[Change, ...]:
    before, after = _placements(base), _placements(plan)
    changes: list[Change] = []

    def add(visit_id: str, kind: ChangeKind, to: str, why: str) -> None:
        visit = week.visits.get(visit_id) or week.original.get(visit_id)
        resident = visit.resident_id if visit is not None else None
        was = before.get(visit_id)
        changes.append(
            Change(
                visit_id,
                kind,
                str(was) if was else "",
                to,
                resident or "",
                visit_id in had_to_move or kind in (ChangeKind.CANCELLED, ChangeKind.POSTPONED),
                why,
            )
        )

    for visit_id in sorted(week.cancelled):
        add(visit_id, ChangeKind.CANCELLED, "", CANCELLED_REASON)
    for visit_id, reason in sorted(left_out.items()):
        if visit_id in week.postponed:
            add(visit_id, ChangeKind.POSTPONED, week.postponed[visit_id].isoformat(), reason)
    # Why a visit went back, "English / 中文" as every other change's reason.
    reasons = {
        u.visit_id: f"{u.reason} / {u.reason_zh}" if u.reason_zh else u.reason
        for u in plan.unscheduled
    }
    for visit_id in sorted(set(before) | set(after) | set(week.new)):
        if visit_id in week.cancelled or visit_id in left_out:
            continue
        was, now = before.get(visit_id), after.get(visit_id)
        why = _why(week, visit_id)
        if now is None:
            if was is not None or visit_id in week.new:
                add(visit_id, ChangeKind.UNSCHEDULED, "", reasons.get(visit_id, why))
            continue
        if was is None:
            kind = ChangeKind.ADDED if visit_id in week.new else ChangeKind.MOVED_DAY
            add(visit_id, kind, str(now), why)
        elif now.day != was.day:
            add(visit_id, ChangeKind.MOVED_DAY, str(now), why)
        elif now.clinician_ids != was.clinician_ids:
            add(visit_id, ChangeKind.MOVED_CLINICIAN, str(now), why)
        elif abs(now.start_min - was.start_min) > week.tolerance:
            add(visit_id, ChangeKind.SHIFTED, str(now), why)
    return tuple(changes)


def _why(week: _Week, visit_id: str) -> str:
    """The event behind a change, in English and Chinese."""
    if visit_id in week.new:
        return "new urgent request / 新的紧急上门申请"
    if visit_id in week.pinned:
        return PINNED_WHY
    if visit_id in week.made_room:
        return MADE_ROOM_WHY
    if visit_id in week.postponed:
        day = week.postponed[visit_id].isoformat()
        return f"postponed to {day} / 推迟至 {day}"
    for stop in week.stops_of.get(visit_id, []):
        if week.absent(stop.clinician_id, stop.day, stop.end_min):
            return f"{stop.clinician_id} absent / {stop.clinician_id} 缺勤"
        if (stop.clinician_id, stop.day) in week.late:
            return f"{stop.clinician_id} running late / {stop.clinician_id} 延误"
    return "re-timed around the changes / 为配合调整而改动"
