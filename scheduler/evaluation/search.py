"""The evaluation context and the insertion search: where a visit could still go.

Every leg is recomputed from the problem and the travel-time provider; a clinician-day is
simulated with earliest starts to find the feasible places of a visit in the plan as it is.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from scheduler.model import (
    Centre,
    Clinician,
    Location,
    Plan,
    Problem,
    Route,
    Staffing,
    TravelMode,
    Visit,
)
from scheduler.travel import TravelTimeProvider


class Legs:
    """Travel minutes and km between the problem's places, computed once per mode on demand."""

    def __init__(self, problem: Problem, travel: TravelTimeProvider) -> None:
        self._travel = travel
        self._index: dict[Location, int] = {}
        self._points: list[Location] = []
        self._tables: dict[TravelMode, tuple[list[list[int]], list[list[float]]]] = {}
        for centre in problem.centres.values():
            self.index(centre.location)
        for visit in problem.visits:
            self.index(visit.location)

    @property
    def travel(self) -> TravelTimeProvider:
        """The provider the tables come from."""
        return self._travel

    def index(self, location: Location) -> int:
        """The row of ``location`` in the matrices (adding it while no matrix exists yet)."""
        found = self._index.get(location)
        if found is not None:
            return found
        if self._tables:  # a late newcomer: start the matrices again
            self._tables.clear()
        self._index[location] = len(self._points)
        self._points.append(location)
        return len(self._points) - 1

    def table(self, mode: TravelMode) -> tuple[list[list[int]], list[list[float]]]:
        """Minutes and km from every place to every place by ``mode``."""
        table = self._tables.get(mode)
        if table is None:
            matrix = self._travel.matrix(self._points, self._points, mode)
            minutes = [[int(m) for m in row] for row in matrix.minutes.tolist()]
            km = [[float(k) for k in row] for row in matrix.km.tolist()]
            table = (minutes, km)
            self._tables[mode] = table
        return table


# --------------------------------------------------------------------------------------------
# The evaluation context shared by the checks, the insertion search and the explanations
# --------------------------------------------------------------------------------------------


class Entry(NamedTuple):
    """A visit in a simulated clinician-day."""

    loc: int
    duration: int
    windows: tuple[tuple[int, int], ...]  # on this day, sorted by start
    fixed: int | None  # a start that must not move (joint visits: the partner's route)
    via: bool  # the leg arriving here passes the centre first
    sample: int | None  # sample_return_min


@dataclass(frozen=True, slots=True)
class Day:
    """A clinician-day ready for simulation: her hours, travel table and current stops."""

    clinician: Clinician
    day: dt.date
    centre: int
    minutes: list[list[int]]
    lunch: tuple[int, int] | None
    start: int
    latest_return: int
    handover: int
    entries: tuple[Entry, ...]
    away_from: int | None = None  # she leaves then: no visit starts at or after it


class Context:
    """Indexes of a problem and a plan, built once per call."""

    def __init__(
        self, problem: Problem, plan: Plan, travel: TravelTimeProvider, legs: Legs | None = None
    ) -> None:
        self.problem = problem
        self.plan = plan
        self.legs = Legs(problem, travel) if legs is None else legs  # shared by variants
        self.visits: dict[str, Visit] = {v.visit_id: v for v in problem.visits}
        self.clinicians: dict[str, Clinician] = {c.clinician_id: c for c in problem.clinicians}
        self.week: frozenset[dt.date] = frozenset(problem.days)
        self.routes: dict[tuple[str, dt.date], Route] = {}
        for route in plan.routes:
            self.routes.setdefault((route.clinician_id, route.day), route)
        self.scheduled: set[str] = {s.visit_id for s in plan.stops()}
        self._days: dict[tuple[str, dt.date, bool], Day | None] = {}
        self._fits_now: dict[str, list[tuple[str, ...]]] = {}
        self._windows: dict[tuple[str, dt.date], tuple[tuple[int, int], ...]] = {}

    def first_option(self, visit: Visit) -> tuple[str, ...] | None:
        """One feasible insertion of ``visit`` into the plan as it is, or ``None``."""
        found = self._fits_now.get(visit.visit_id)
        if found is None:
            found = insertions(self, visit, first_only=True)
            self._fits_now[visit.visit_id] = found
        return found[0] if found else None

    def centre_of(self, clinician: Clinician) -> Centre | None:
        return self.problem.centres.get(clinician.centre_id)

    def windows_on(self, visit: Visit, day: dt.date) -> tuple[tuple[int, int], ...]:
        key = (visit.visit_id, day)
        found = self._windows.get(key)
        if found is None:
            found = tuple(sorted((w.start_min, w.end_min) for w in visit.windows if w.day == day))
            self._windows[key] = found
        return found

    def entry(self, visit: Visit, day: dt.date, *, ignore_sample: bool = False) -> Entry:
        return Entry(
            loc=self.legs.index(visit.location),
            duration=visit.duration_min,
            windows=self.windows_on(visit, day),
            fixed=None,
            via=False,
            sample=None if ignore_sample else visit.sample_return_min,
        )

    def day_of(self, clinician: Clinician, day: dt.date, *, empty: bool) -> Day | None:
        """The clinician's day as planned (or empty), or ``None`` if it cannot be simulated."""
        key = (clinician.clinician_id, day, empty)
        if key in self._days:
            return self._days[key]
        result: Day | None = None
        centre = self.centre_of(clinician)
        route = None if empty else self.routes.get((clinician.clinician_id, day))
        stops = [] if route is None else sorted(route.stops, key=lambda s: s.sequence)
        # A stop of an unknown visit takes time that cannot be accounted for: no simulation.
        if centre is not None and all(s.visit_id in self.visits for s in stops):
            entries: list[Entry] = []
            for stop in stops:
                visit = self.visits[stop.visit_id]
                entries.append(
                    Entry(
                        loc=self.legs.index(visit.location),
                        duration=visit.duration_min,
                        windows=self.windows_on(visit, day),
                        fixed=stop.start_min if visit.is_joint else None,
                        via=stop.via_centre,
                        sample=visit.sample_return_min,
                    )
                )
            lunch = clinician.lunch
            result = Day(
                clinician=clinician,
                day=day,
                centre=self.legs.index(centre.location),
                minutes=self.legs.table(clinician.travel_mode)[0],
                lunch=None if lunch is None else (lunch.start_min, lunch.end_min),
                start=clinician.shift.start_min,
                latest_return=clinician.shift.end_min + self.problem.max_overtime_min,
                handover=self.problem.sample_handover_min,
                entries=tuple(entries),
                away_from=self.problem.away_from(clinician.clinician_id, day),
            )
        self._days[key] = result
        return result


# --------------------------------------------------------------------------------------------
# Simulation of a clinician-day with earliest start times (for the insertion search)
# --------------------------------------------------------------------------------------------


def overlaps_lunch(start: int, duration: int, lunch: tuple[int, int] | None) -> bool:
    return lunch is not None and start < lunch[1] and start + duration > lunch[0]


def earliest_start(
    arrival: int,
    windows: tuple[tuple[int, int], ...],
    lunches: Sequence[tuple[int, int]],
    duration: int,
) -> int | None:
    """The earliest start at or after ``arrival`` inside a window and clear of every lunch."""
    for w_start, w_end in windows:
        start = max(arrival, w_start)
        moved = True
        while moved:
            moved = False
            for l_start, l_end in lunches:
                if start < l_end and start + duration > l_start:
                    start = l_end
                    moved = True
        if start + duration <= w_end:
            return start
    return None


def fits(start: int, entry: Entry, lunch: tuple[int, int] | None) -> bool:
    end = start + entry.duration
    inside = any(w_start <= start and end <= w_end for w_start, w_end in entry.windows)
    return inside and not overlaps_lunch(start, entry.duration, lunch)


def simulate(day: Day, entries: Sequence[Entry]) -> list[int] | None:
    """Start times of ``entries`` driven at the earliest, or ``None`` if any rule breaks."""
    minutes = day.minutes
    centre = day.centre
    lunches = () if day.lunch is None else (day.lunch,)
    t = day.start
    prev = centre
    starts: list[int] = []
    for entry in entries:
        if entry.via:
            arrival = t + minutes[prev][centre] + day.handover + minutes[centre][entry.loc]
        else:
            arrival = t + minutes[prev][entry.loc]
        if entry.fixed is not None:
            start = entry.fixed
            if arrival > start or not fits(start, entry, day.lunch):
                return None
        else:
            found = earliest_start(arrival, entry.windows, lunches, entry.duration)
            if found is None:
                return None
            start = found
        if day.away_from is not None and start >= day.away_from:
            return None
        starts.append(start)
        t = start + entry.duration
        prev = entry.loc
    back = t + minutes[prev][centre]
    if back > day.latest_return:
        return None
    for i, entry in enumerate(entries):
        if entry.sample is None:
            continue
        at_centre = back
        for j in range(i + 1, len(entries)):
            if entries[j].via:
                before = entries[j - 1]
                at_centre = starts[j - 1] + before.duration + minutes[before.loc][centre]
                break
        if at_centre > starts[i] + entry.sample:
            return None
    return starts


def insert_start(day: Day, entry: Entry, pos: int, fixed: int | None) -> int | None:
    """The start of ``entry`` inserted before position ``pos`` of the day, if feasible.

    A few ways of routing lab samples past the centre are tried: the new visit's leg via the
    centre (for a sample of an earlier stop) and the next stop's leg via the centre or not.
    """
    base = day.entries
    n = len(base)
    new_vias = (False, True) if any(e.sample is not None for e in base[:pos]) else (False,)
    if pos < n:
        original = base[pos].via
        carries = entry.sample is not None or (pos > 0 and base[pos - 1].sample is not None)
        next_vias: tuple[bool | None, ...] = (original, not original) if carries else (original,)
    else:
        next_vias = (None,)
    head = base[:pos]
    for new_via in new_vias:
        new = entry._replace(via=new_via, fixed=fixed)
        for next_via in next_vias:
            if next_via is None:
                trial: tuple[Entry, ...] = (*head, new)
            else:
                trial = (*head, new, base[pos]._replace(via=next_via), *base[pos + 1 :])
            starts = simulate(day, trial)
            if starts is not None:
                return starts[pos]
    return None


def single_starts(day: Day, entry: Entry, *, first_only: bool) -> list[tuple[int, int]]:
    """``(position, earliest start)`` of every feasible insertion of ``entry`` into ``day``."""
    found: list[tuple[int, int]] = []
    if not entry.windows:
        return found
    last_end = entry.windows[-1][1]
    for pos in range(len(day.entries) + 1):
        if pos > 0:
            # The stop before ``pos`` ends no earlier than its first window start allows, and
            # later positions come later still: once that leaves no room, stop looking.
            prev = day.entries[pos - 1]
            if prev.windows and prev.windows[0][0] + prev.duration + entry.duration > last_end:
                break
        start = insert_start(day, entry, pos, None)
        if start is not None:
            found.append((pos, start))
            if first_only:
                break
    return found


def assignments(places: Sequence[Staffing], clinicians: Sequence[Clinician]) -> list[int] | None:
    """Indexes into ``places`` for each clinician so that every place is filled, or ``None``."""
    for order in itertools.permutations(range(len(places)), len(clinicians)):
        if all(places[p].accepts(c) for p, c in zip(order, clinicians, strict=True)):
            return list(order)
    return None


def eligible_clinicians(problem: Problem, visit: Visit) -> list[Clinician]:
    """Clinicians who may fill at least one staffing place of ``visit``."""
    return [
        c
        for c in problem.clinicians
        if problem.may_serve(c, visit) and any(p.accepts(c) for p in visit.staffing)
    ]


def insertions(
    ctx: Context,
    visit: Visit,
    *,
    empty: bool = False,
    ignore_sample: bool = False,
    first_only: bool = False,
) -> list[tuple[str, ...]]:
    """Feasible places for ``visit``: clinician ids in staffing order, then the ISO date."""
    problem = ctx.problem
    k = len(visit.staffing)
    candidates = eligible_clinicians(problem, visit)
    results: list[tuple[str, ...]] = []
    window_days = sorted({w.day for w in visit.windows} & ctx.week)
    for day in window_days:
        entry = ctx.entry(visit, day, ignore_sample=ignore_sample)
        options: dict[str, tuple[Day, list[tuple[int, int]]]] = {}
        for clinician in candidates:
            if not problem.works_on(clinician, day):
                continue
            sim = ctx.day_of(clinician, day, empty=empty)
            if sim is None:
                continue
            singles = single_starts(sim, entry, first_only=k == 1)
            if singles:
                options[clinician.clinician_id] = (sim, singles)
        if k == 1:
            for clinician_id in options:
                results.append((clinician_id, day.isoformat()))
                if first_only:
                    return results
            continue
        for combo in itertools.combinations(options, k):
            people = [ctx.clinicians[c] for c in combo]
            order = assignments(visit.staffing, people)
            if order is None:
                continue
            if joint_fits(entry, [options[c] for c in combo]):
                by_place = sorted(zip(order, combo, strict=True))
                results.append((*(c for _, c in by_place), day.isoformat()))
                if first_only:
                    return results
    return results


def joint_fits(entry: Entry, routes: Sequence[tuple[Day, list[tuple[int, int]]]]) -> bool:
    """Whether the joint visit fits into every route at one common start."""
    lunches = [r.lunch for r, _ in routes if r.lunch is not None]
    for choice in itertools.product(*(singles for _, singles in routes)):
        lowest = max(start for _, start in choice)
        common = earliest_start(lowest, entry.windows, lunches, entry.duration)
        if common is None:
            continue
        if all(
            insert_start(sim, entry, pos, common) is not None
            for (sim, _), (pos, _) in zip(routes, choice, strict=True)
        ):
            return True
    return False


def by_centre(problem: Problem, plan: Plan) -> list[tuple[Problem, Plan]]:
    """The problem and plan cut by centre (stops and visits of unknown ids go to the first)."""
    first = next(iter(problem.centres))
    centre_of_clinician = {c.clinician_id: c.centre_id for c in problem.clinicians}
    centre_of_visit = {v.visit_id: v.centre_id for v in problem.visits}
    parts = []
    for centre_id, centre in problem.centres.items():
        own = tuple(v for v in problem.visits if v.centre_id == centre_id)
        sub_problem = dataclasses.replace(
            problem,
            centres={centre_id: centre},
            clinicians=tuple(c for c in problem.clinicians if c.centre_id == centre_id),
            visits=own,
            links=problem.links_among(own),
        )
        sub_plan = dataclasses.replace(
            plan,
            routes=tuple(
                r
                for r in plan.routes
                if centre_of_clinician.get(r.clinician_id, first) == centre_id
            ),
            unscheduled=tuple(
                u for u in plan.unscheduled if centre_of_visit.get(u.visit_id, first) == centre_id
            ),
        )
        parts.append((sub_problem, sub_plan))
    return parts
