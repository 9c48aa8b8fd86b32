"""The independent checker of a plan: violations, KPIs and why visits are left out.

This module is the oracle the solver is tested against. It never imports the solver: every time,
leg and constraint is recomputed from the :class:`~scheduler.model.Problem`, the
:class:`~scheduler.model.Plan` and a :class:`~scheduler.travel.TravelTimeProvider` (travel times
are part of the problem definition).

The rules, each with a short stable code on every :class:`Violation`:

``accounting``
    every due visit is either on the routes or listed as unscheduled, never both or neither; stops
    name known visits and clinicians; a visit has one stop per staffing place; one route per
    clinician and day.
``team``, ``skill``, ``workday``
    who may do a visit: the signed team (or cover of the same centre when allowed), a role and the
    skills of a staffing place, a clinician who works that day of the planned week.
``joint``
    the stops of a joint visit are by different clinicians on the same day at the same start.
``sequence``
    the stops of a route are numbered 1..n without gaps.
``travel``, ``times``, ``window``, ``lunch``, ``shift``, ``totals``
    the times recomputed leg by leg: arrivals, starts, ends, the visit windows, the lunch break,
    the shift with its allowed overtime, and the route's totals.
``sample``
    a lab sample reaches the centre in time.
``missed``
    an unscheduled visit still fits feasibly into some clinician's day.
``inversion``, ``late_with_room_earlier``
    a visit is left out while a less urgent one sits where it could go; a visit is planned
    late while someone who may do it had room on an earlier day (:mod:`scheduler.inversions`).

``missed``, ``inversion`` and ``late_with_room_earlier`` are findings about how good the plan
is, not broken rules: such a plan can be carried out as written.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from scheduler.model import (
    WEEKDAYS,
    Centre,
    Clinician,
    Location,
    Plan,
    Problem,
    Role,
    Route,
    Staffing,
    Stop,
    TravelMode,
    Urgency,
    Visit,
    format_hhmm,
)
from scheduler.timeliness import timeliness_kpis
from scheduler.travel import TravelTimeProvider

__all__ = [
    "Evaluation",
    "Reason",
    "Violation",
    "compute_kpis",
    "evaluate",
    "explain_unscheduled",
    "insertion_options",
]

FINDINGS = frozenset({"missed", "inversion", "late_with_room_earlier"})  # not broken rules

STOP_KM_TOLERANCE = 0.01  # a stop's leg km may differ from the model by rounding only
ROUTE_KM_TOLERANCE = 0.05  # a route's total km likewise (several legs summed)

_ROLE_EN: dict[Role, str] = {
    Role.DOCTOR: "doctor",
    Role.NURSE: "nurse",
    Role.ASSISTANT: "assistant",
    Role.REHAB: "rehabilitation therapist",
}
_ROLE_ZH: dict[Role, str] = {
    Role.DOCTOR: "医生",
    Role.NURSE: "护士",
    Role.ASSISTANT: "助理",
    Role.REHAB: "康复师",
}
_WEEKDAYS_ZH: tuple[str, ...] = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


# --------------------------------------------------------------------------------------------
# Public result types
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule of a plan.

    Attributes
    ----------
    rule
        A short stable code: ``accounting``, ``team``, ``skill``, ``workday``, ``joint``,
        ``sequence``, ``travel``, ``times``, ``window``, ``lunch``, ``shift``, ``totals``,
        ``sample``; and the findings ``missed``, ``inversion``, ``late_with_room_earlier``.
    message
        An English sentence a team leader understands, naming the visit, clinician, day and times.
    visit_id, clinician_id, day
        What the violation is about, where it applies.
    """

    rule: str
    message: str
    visit_id: str | None = None
    clinician_id: str | None = None
    day: dt.date | None = None


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a visit is unscheduled, in English and Chinese."""

    en: str
    zh: str


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The verdict on a plan: what is broken, the KPIs and why visits are left out.

    Attributes
    ----------
    violations
        Every broken rule, in a stable order: accounting, who does each visit, then route by
        route, lab samples and missed visits.
    kpis
        The plan's key figures, JSON-serialisable (see :func:`compute_kpis`).
    reasons
        For every unscheduled visit, why it is left out (see :func:`explain_unscheduled`).
    """

    violations: tuple[Violation, ...]
    kpis: dict[str, object]
    reasons: dict[str, Reason] = field(default_factory=dict)

    @property
    def feasible(self) -> bool:
        """Whether the plan breaks no hard rule (a visit that still fits is a finding only)."""
        return not self.broken

    @property
    def broken(self) -> tuple[Violation, ...]:
        """Violations of the hard rules: times, windows, lunch, shift, who, joint, samples."""
        return tuple(v for v in self.violations if v.rule not in FINDINGS)

    @property
    def missed(self) -> tuple[Violation, ...]:
        """Unscheduled visits that would still fit on some clinician's day."""
        return tuple(v for v in self.violations if v.rule == "missed")


# --------------------------------------------------------------------------------------------
# Small text helpers
# --------------------------------------------------------------------------------------------


def _hm(minutes: int) -> str:
    return format_hhmm(minutes)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _day_en(day: dt.date) -> str:
    return f"{WEEKDAYS[day.weekday()]} {day.isoformat()}"


def _day_zh(day: dt.date) -> str:
    return f"{day.isoformat()}（{_WEEKDAYS_ZH[day.weekday()]}）"


def _who(clinician: Clinician | None, clinician_id: str) -> str:
    if clinician is None or not clinician.name:
        return clinician_id
    return f"{clinician.name} ({clinician_id})"


def _visit_label(visit: Visit | None, visit_id: str) -> str:
    if visit is None:
        return f"visit {visit_id}"
    if visit.resident_id is not None:
        return f"visit {visit_id} ({visit.programme}, resident {visit.resident_id})"
    return f"visit {visit_id} ({visit.programme} session at committee {visit.committee_id})"


def _roles_text(roles: Iterable[Role], zh: bool) -> str:
    ordered = [r for r in Role if r in set(roles)]
    if zh:
        return "或".join(_ROLE_ZH[r] for r in ordered)
    return " or ".join(_ROLE_EN[r] for r in ordered)


def _place_text(place: Staffing, zh: bool) -> str:
    roles = _roles_text(place.roles, zh)
    if not place.skills:
        return roles
    skills = sorted(place.skills)
    if zh:
        return f"具备 {'、'.join(skills)} 技能的{roles}"
    return f"{roles} with skill{'s' if len(skills) > 1 else ''} {', '.join(skills)}"


def _weekday_runs(weekdays: Iterable[int], zh: bool) -> str:
    days = sorted(set(weekdays))
    names = _WEEKDAYS_ZH if zh else WEEKDAYS
    runs: list[list[int]] = []
    for d in days:
        if runs and runs[-1][-1] == d - 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    parts: list[str] = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{names[run[0]]}{'至' if zh else '-'}{names[run[-1]]}")
        else:
            parts.extend(names[d] for d in run)
    return ("、" if zh else ", ").join(parts)


def _windows_summary(visit: Visit, days: Sequence[dt.date], zh: bool) -> str:
    groups: dict[tuple[int, int], set[int]] = defaultdict(set)
    week = set(days)
    for w in visit.windows:
        if w.day in week:
            groups[(w.start_min, w.end_min)].add(w.day.weekday())
    ordered = sorted(groups.items(), key=lambda item: (min(item[1]), item[0]))
    parts = [f"{_weekday_runs(wds, zh)} {_hm(start)}-{_hm(end)}" for (start, end), wds in ordered]
    return ("；" if zh else "; ").join(parts)


def _centre_name(problem: Problem, centre_id: str) -> str:
    centre = problem.centres.get(centre_id)
    return centre.name if centre is not None and centre.name else centre_id


# --------------------------------------------------------------------------------------------
# Travel: one all-pairs matrix per travel mode over the centres and visit places
# --------------------------------------------------------------------------------------------


class _Legs:
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


class _Entry(NamedTuple):
    """A visit in a simulated clinician-day."""

    loc: int
    duration: int
    windows: tuple[tuple[int, int], ...]  # on this day, sorted by start
    fixed: int | None  # a start that must not move (joint visits: the partner's route)
    via: bool  # the leg arriving here passes the centre first
    sample: int | None  # sample_return_min


@dataclass(frozen=True, slots=True)
class _Day:
    """A clinician-day ready for simulation: her hours, travel table and current stops."""

    clinician: Clinician
    day: dt.date
    centre: int
    minutes: list[list[int]]
    lunch: tuple[int, int] | None
    start: int
    latest_return: int
    handover: int
    entries: tuple[_Entry, ...]


class _Context:
    """Indexes of a problem and a plan, built once per call."""

    def __init__(self, problem: Problem, plan: Plan, travel: TravelTimeProvider) -> None:
        self.problem = problem
        self.plan = plan
        self.legs = _Legs(problem, travel)
        self.visits: dict[str, Visit] = {v.visit_id: v for v in problem.visits}
        self.clinicians: dict[str, Clinician] = {c.clinician_id: c for c in problem.clinicians}
        self.week: frozenset[dt.date] = frozenset(problem.days)
        self.routes: dict[tuple[str, dt.date], Route] = {}
        for route in plan.routes:
            self.routes.setdefault((route.clinician_id, route.day), route)
        self.scheduled: set[str] = {s.visit_id for s in plan.stops()}
        self._days: dict[tuple[str, dt.date, bool], _Day | None] = {}
        self._fits_now: dict[str, list[tuple[str, ...]]] = {}
        self._windows: dict[tuple[str, dt.date], tuple[tuple[int, int], ...]] = {}

    def first_option(self, visit: Visit) -> tuple[str, ...] | None:
        """One feasible insertion of ``visit`` into the plan as it is, or ``None``."""
        found = self._fits_now.get(visit.visit_id)
        if found is None:
            found = _insertions(self, visit, first_only=True)
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

    def entry(self, visit: Visit, day: dt.date, *, ignore_sample: bool = False) -> _Entry:
        return _Entry(
            loc=self.legs.index(visit.location),
            duration=visit.duration_min,
            windows=self.windows_on(visit, day),
            fixed=None,
            via=False,
            sample=None if ignore_sample else visit.sample_return_min,
        )

    def day_of(self, clinician: Clinician, day: dt.date, *, empty: bool) -> _Day | None:
        """The clinician's day as planned (or empty), or ``None`` if it cannot be simulated."""
        key = (clinician.clinician_id, day, empty)
        if key in self._days:
            return self._days[key]
        result: _Day | None = None
        centre = self.centre_of(clinician)
        route = None if empty else self.routes.get((clinician.clinician_id, day))
        stops = [] if route is None else sorted(route.stops, key=lambda s: s.sequence)
        # A stop of an unknown visit takes time that cannot be accounted for: no simulation.
        if centre is not None and all(s.visit_id in self.visits for s in stops):
            entries: list[_Entry] = []
            for stop in stops:
                visit = self.visits[stop.visit_id]
                entries.append(
                    _Entry(
                        loc=self.legs.index(visit.location),
                        duration=visit.duration_min,
                        windows=self.windows_on(visit, day),
                        fixed=stop.start_min if visit.is_joint else None,
                        via=stop.via_centre,
                        sample=visit.sample_return_min,
                    )
                )
            lunch = clinician.lunch
            result = _Day(
                clinician=clinician,
                day=day,
                centre=self.legs.index(centre.location),
                minutes=self.legs.table(clinician.travel_mode)[0],
                lunch=None if lunch is None else (lunch.start_min, lunch.end_min),
                start=clinician.shift.start_min,
                latest_return=clinician.shift.end_min + self.problem.max_overtime_min,
                handover=self.problem.sample_handover_min,
                entries=tuple(entries),
            )
        self._days[key] = result
        return result


# --------------------------------------------------------------------------------------------
# Simulation of a clinician-day with earliest start times (for the insertion search)
# --------------------------------------------------------------------------------------------


def _overlaps_lunch(start: int, duration: int, lunch: tuple[int, int] | None) -> bool:
    return lunch is not None and start < lunch[1] and start + duration > lunch[0]


def _earliest_start(
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


def _fits(start: int, entry: _Entry, lunch: tuple[int, int] | None) -> bool:
    end = start + entry.duration
    inside = any(w_start <= start and end <= w_end for w_start, w_end in entry.windows)
    return inside and not _overlaps_lunch(start, entry.duration, lunch)


def _simulate(day: _Day, entries: Sequence[_Entry]) -> list[int] | None:
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
            if arrival > start or not _fits(start, entry, day.lunch):
                return None
        else:
            found = _earliest_start(arrival, entry.windows, lunches, entry.duration)
            if found is None:
                return None
            start = found
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


def _insert_start(day: _Day, entry: _Entry, pos: int, fixed: int | None) -> int | None:
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
                trial: tuple[_Entry, ...] = (*head, new)
            else:
                trial = (*head, new, base[pos]._replace(via=next_via), *base[pos + 1 :])
            starts = _simulate(day, trial)
            if starts is not None:
                return starts[pos]
    return None


def _single_starts(day: _Day, entry: _Entry, *, first_only: bool) -> list[tuple[int, int]]:
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
        start = _insert_start(day, entry, pos, None)
        if start is not None:
            found.append((pos, start))
            if first_only:
                break
    return found


def _assignments(places: Sequence[Staffing], clinicians: Sequence[Clinician]) -> list[int] | None:
    """Indexes into ``places`` for each clinician so that every place is filled, or ``None``."""
    for order in itertools.permutations(range(len(places)), len(clinicians)):
        if all(places[p].accepts(c) for p, c in zip(order, clinicians, strict=True)):
            return list(order)
    return None


def _candidates(problem: Problem, visit: Visit) -> list[Clinician]:
    """Clinicians who may fill at least one staffing place of ``visit``."""
    return [
        c
        for c in problem.clinicians
        if problem.may_serve(c, visit) and any(p.accepts(c) for p in visit.staffing)
    ]


def _insertions(
    ctx: _Context,
    visit: Visit,
    *,
    empty: bool = False,
    ignore_sample: bool = False,
    first_only: bool = False,
) -> list[tuple[str, ...]]:
    """Feasible places for ``visit``: clinician ids in staffing order, then the ISO date."""
    problem = ctx.problem
    k = len(visit.staffing)
    candidates = _candidates(problem, visit)
    results: list[tuple[str, ...]] = []
    window_days = sorted({w.day for w in visit.windows} & ctx.week)
    for day in window_days:
        entry = ctx.entry(visit, day, ignore_sample=ignore_sample)
        options: dict[str, tuple[_Day, list[tuple[int, int]]]] = {}
        for clinician in candidates:
            if not problem.works_on(clinician, day):
                continue
            sim = ctx.day_of(clinician, day, empty=empty)
            if sim is None:
                continue
            singles = _single_starts(sim, entry, first_only=k == 1)
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
            order = _assignments(visit.staffing, people)
            if order is None:
                continue
            if _joint_fits(entry, [options[c] for c in combo]):
                by_place = sorted(zip(order, combo, strict=True))
                results.append((*(c for _, c in by_place), day.isoformat()))
                if first_only:
                    return results
    return results


def _joint_fits(entry: _Entry, routes: Sequence[tuple[_Day, list[tuple[int, int]]]]) -> bool:
    """Whether the joint visit fits into every route at one common start."""
    lunches = [r.lunch for r, _ in routes if r.lunch is not None]
    for choice in itertools.product(*(singles for _, singles in routes)):
        lowest = max(start for _, start in choice)
        common = _earliest_start(lowest, entry.windows, lunches, entry.duration)
        if common is None:
            continue
        if all(
            _insert_start(sim, entry, pos, common) is not None
            for (sim, _), (pos, _) in zip(routes, choice, strict=True)
        ):
            return True
    return False


# --------------------------------------------------------------------------------------------
# The checks
# --------------------------------------------------------------------------------------------


def _check_accounting(ctx: _Context, out: list[Violation]) -> dict[str, list[Stop]]:
    """Accounting rules; returns the stops of every known visit."""
    problem, plan = ctx.problem, ctx.plan
    stops_of: dict[str, list[Stop]] = defaultdict(list)
    seen_routes: set[tuple[str, dt.date]] = set()
    for route in plan.routes:
        who = _who(ctx.clinicians.get(route.clinician_id), route.clinician_id)
        key = (route.clinician_id, route.day)
        if route.clinician_id not in ctx.clinicians:
            out.append(
                Violation(
                    "accounting",
                    f"The route on {_day_en(route.day)} belongs to clinician "
                    f"{route.clinician_id}, who is not among this week's clinicians.",
                    clinician_id=route.clinician_id,
                    day=route.day,
                )
            )
        if key in seen_routes:
            out.append(
                Violation(
                    "accounting",
                    f"{who} has more than one route on {_day_en(route.day)}.",
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
                        f"{_day_en(route.day)} is labelled for {stop.clinician_id} on "
                        f"{_day_en(stop.day)}.",
                        visit_id=stop.visit_id,
                        clinician_id=route.clinician_id,
                        day=route.day,
                    )
                )
            if stop.visit_id not in ctx.visits:
                out.append(
                    Violation(
                        "accounting",
                        f"{who}'s route on {_day_en(route.day)} has a stop for visit "
                        f"{stop.visit_id}, which is not among this week's due visits.",
                        visit_id=stop.visit_id,
                        clinician_id=route.clinician_id,
                        day=route.day,
                    )
                )
            else:
                stops_of[stop.visit_id].append(stop)

    listed: dict[str, int] = defaultdict(int)
    for item in plan.unscheduled:
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

    for visit in problem.visits:
        label = _visit_label(visit, visit.visit_id)
        stops = stops_of.get(visit.visit_id, [])
        is_listed = visit.visit_id in listed
        if stops and is_listed:
            out.append(
                Violation(
                    "accounting",
                    f"{_cap(label)} is both on a route and listed as unscheduled.",
                    visit_id=visit.visit_id,
                )
            )
        elif not stops and not is_listed:
            out.append(
                Violation(
                    "accounting",
                    f"{_cap(label)} is neither on a route nor listed as unscheduled.",
                    visit_id=visit.visit_id,
                )
            )
        need = len(visit.staffing)
        if stops and len(stops) != need:
            names = ", ".join(
                f"{_who(ctx.clinicians.get(s.clinician_id), s.clinician_id)} on {_day_en(s.day)}"
                for s in stops
            )
            out.append(
                Violation(
                    "accounting",
                    f"{_cap(label)} needs {need} clinician{'s' if need > 1 else ''} "
                    f"but appears on {len(stops)} stops ({names}).",
                    visit_id=visit.visit_id,
                )
            )
    return stops_of


def _check_who(ctx: _Context, stops_of: Mapping[str, list[Stop]], out: list[Violation]) -> None:
    """Team, skill and joint rules, visit by visit."""
    problem = ctx.problem
    for visit in problem.visits:
        stops = stops_of.get(visit.visit_id, [])
        if not stops:
            continue
        label = _visit_label(visit, visit.visit_id)
        people: list[Clinician] = []
        for stop in stops:
            clinician = ctx.clinicians.get(stop.clinician_id)
            if clinician is None:
                continue
            people.append(clinician)
            who = _who(clinician, clinician.clinician_id)
            if not problem.may_serve(clinician, visit):
                if problem.cross_team_cover:
                    rule_text = (
                        f"of team {visit.team_id} or another team of centre "
                        f"{_centre_name(problem, visit.centre_id)}"
                    )
                else:
                    rule_text = f"of team {visit.team_id}"
                out.append(
                    Violation(
                        "team",
                        f"{_cap(label)} is done by {who} of team {clinician.team_id} "
                        f"on {_day_en(stop.day)}, but it needs a clinician {rule_text}.",
                        visit_id=visit.visit_id,
                        clinician_id=clinician.clinician_id,
                        day=stop.day,
                    )
                )
        if len(people) != len(stops):  # an unknown clinician: the accounting check reports it
            continue
        if not visit.is_joint:
            place = visit.staffing[0]
            for clinician, stop in zip(people, stops, strict=True):
                if not place.accepts(clinician):
                    out.append(_skill_violation(visit, clinician, stop.day, place))
            continue
        if len(people) != len(visit.staffing):  # the accounting check reports the count
            continue
        # A joint visit: distinct clinicians, same day and start, the places filled.
        ids = [c.clinician_id for c in people]
        names = " and ".join(_who(c, c.clinician_id) for c in people)
        if len(set(ids)) != len(ids):
            out.append(
                Violation(
                    "joint",
                    f"{_cap(label)} needs {len(visit.staffing)} different clinicians "
                    f"but the same clinician is on more than one of its stops ({names}).",
                    visit_id=visit.visit_id,
                )
            )
            continue
        days = {s.day for s in stops}
        starts = {s.start_min for s in stops}
        if len(days) > 1:
            out.append(
                Violation(
                    "joint",
                    f"{_cap(label)} is a joint visit but {names} are planned on "
                    f"different days ({', '.join(_day_en(d) for d in sorted(days))}).",
                    visit_id=visit.visit_id,
                )
            )
        elif len(starts) > 1:
            times = ", ".join(
                f"{_who(c, c.clinician_id)} at {_hm(s.start_min)}"
                for c, s in zip(people, stops, strict=True)
            )
            out.append(
                Violation(
                    "joint",
                    f"{_cap(label)} is a joint visit but its clinicians start at "
                    f"different times on {_day_en(stops[0].day)}: {times}.",
                    visit_id=visit.visit_id,
                    day=stops[0].day,
                )
            )
        if _assignments(visit.staffing, people) is None:
            needs = " and a ".join(_place_text(p, zh=False) for p in visit.staffing)
            out.append(
                Violation(
                    "skill",
                    f"{_cap(label)} needs a {needs}, which {names} cannot cover between them.",
                    visit_id=visit.visit_id,
                    day=stops[0].day,
                )
            )


def _skill_violation(
    visit: Visit, clinician: Clinician, day: dt.date, place: Staffing
) -> Violation:
    who = _who(clinician, clinician.clinician_id)
    missing = sorted(place.skills - clinician.skills)
    if clinician.role not in place.roles:
        lack = f"is a {_ROLE_EN[clinician.role]}"
    else:
        lack = f"lacks skill{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
    return Violation(
        "skill",
        f"{_cap(_visit_label(visit, visit.visit_id))} on {_day_en(day)} needs a "
        f"{_place_text(place, zh=False)}, but {who} {lack}.",
        visit_id=visit.visit_id,
        clinician_id=clinician.clinician_id,
        day=day,
    )


@dataclass(slots=True)
class _RouteFacts:
    """What the route check learns and the sample check needs."""

    centre_arrival: dict[tuple[str, str, dt.date], int] = field(default_factory=dict)


def _check_route(
    ctx: _Context, route: Route, facts: _RouteFacts, out: list[Violation], *, first: bool
) -> None:
    """Workday, sequence, travel, times, window, lunch, shift and totals of one route."""
    problem = ctx.problem
    clinician = ctx.clinicians.get(route.clinician_id)
    if clinician is None:
        return
    cid = clinician.clinician_id
    who = _who(clinician, cid)
    day = route.day
    day_text = _day_en(day)

    def add(rule: str, message: str, visit_id: str | None = None) -> None:
        out.append(Violation(rule, message, visit_id=visit_id, clinician_id=cid, day=day))

    if day not in ctx.week:
        add("workday", f"{who}'s route is on {day_text}, outside the planned week.")
    elif not problem.works_on(clinician, day):
        add("workday", f"{who} has a route on {day_text}, which is not one of their work days.")

    stops = sorted(route.stops, key=lambda s: s.sequence)
    numbers = [s.sequence for s in stops]
    if numbers != list(range(1, len(stops) + 1)):
        add(
            "sequence",
            f"The stops of {who}'s route on {day_text} are numbered "
            f"{', '.join(map(str, numbers))} instead of 1 to {len(stops)}.",
        )

    if any(s.visit_id not in ctx.visits for s in stops):
        return  # a place that is not known cannot be timed; the accounting check reports it
    centre = ctx.centre_of(clinician)
    if centre is None:
        add(
            "accounting",
            f"{who}'s centre {clinician.centre_id} is not among the problem's centres, so the "
            f"route on {day_text} cannot be timed.",
        )
        return
    minutes, km = ctx.legs.table(clinician.travel_mode)
    c = ctx.legs.index(centre.location)
    shift = clinician.shift
    lunch = clinician.lunch
    handover = problem.sample_handover_min

    if route.depart_min < shift.start_min:
        add(
            "shift",
            f"{who} leaves the centre at {_hm(route.depart_min)} on {day_text}, before the "
            f"shift starts at {_hm(shift.start_min)}.",
        )

    t = route.depart_min
    prev = c
    prev_name = "the centre"
    total_min = 0
    total_km = 0.0
    ends: list[int] = []
    locs: list[int] = []
    for stop in stops:
        visit = ctx.visits[stop.visit_id]
        label = _visit_label(visit, visit.visit_id)
        here = ctx.legs.index(visit.location)
        if stop.via_centre:
            leg_min = minutes[prev][c] + handover + minutes[c][here]
            leg_km = km[prev][c] + km[c][here]
            how = f"the {leg_min}-min trip via the centre (with the sample hand-over)"
        else:
            leg_min = minutes[prev][here]
            leg_km = km[prev][here]
            how = f"the {leg_min}-min trip"
        total_min += leg_min
        total_km += leg_km
        expected_arrival = t + leg_min
        if stop.travel_min != leg_min or abs(stop.travel_km - leg_km) > STOP_KM_TOLERANCE:
            add(
                "travel",
                f"The leg to {label} on {who}'s route of {day_text} is given as "
                f"{stop.travel_min} min and {stop.travel_km:.2f} km, but it is {leg_min} min "
                f"and {leg_km:.2f} km.",
                visit.visit_id,
            )
        if stop.arrival_min != expected_arrival:
            add(
                "travel",
                f"{who} is shown arriving at {label} at {_hm(stop.arrival_min)} on {day_text}, "
                f"but leaving {prev_name} at {_hm(t)}, {how} arrives at {_hm(expected_arrival)}.",
                visit.visit_id,
            )
        if stop.start_min < stop.arrival_min:
            add(
                "times",
                f"{_cap(label)} starts at {_hm(stop.start_min)} on {day_text}, before "
                f"{who} arrives at {_hm(stop.arrival_min)}.",
                visit.visit_id,
            )
        true_end = stop.start_min + visit.duration_min
        if stop.end_min != true_end:
            add(
                "times",
                f"{_cap(label)} on {day_text} is shown ending at {_hm(stop.end_min)}, "
                f"but it takes {visit.duration_min} min from {_hm(stop.start_min)}, so it ends "
                f"at {_hm(true_end)}.",
                visit.visit_id,
            )
        windows = ctx.windows_on(visit, day)
        if not any(ws <= stop.start_min and true_end <= we for ws, we in windows):
            whose = "the resident's" if visit.resident_id is not None else "the session's"
            allowed = ", ".join(f"{_hm(ws)}-{_hm(we)}" for ws, we in windows) or "none"
            add(
                "window",
                f"{_cap(label)} by {who} on {day_text} runs "
                f"{_hm(stop.start_min)}-{_hm(true_end)}, outside {whose} time windows that day "
                f"({allowed}).",
                visit.visit_id,
            )
        if lunch is not None and stop.start_min < lunch.end_min and true_end > lunch.start_min:
            add(
                "lunch",
                f"{_cap(label)} by {who} on {day_text} runs "
                f"{_hm(stop.start_min)}-{_hm(true_end)}, during the lunch break {lunch}.",
                visit.visit_id,
            )
        t = stop.end_min
        prev = here
        prev_name = f"visit {visit.visit_id}"
        ends.append(stop.end_min)
        locs.append(here)

    back_min = minutes[prev][c]
    total_min += back_min
    total_km += km[prev][c]
    expected_return = t + back_min
    latest = shift.end_min + problem.max_overtime_min
    if expected_return > latest:
        allowed = (
            f" plus {problem.max_overtime_min} min of allowed overtime"
            if problem.max_overtime_min
            else ""
        )
        add(
            "shift",
            f"{who} gets back to the centre at {_hm(expected_return)} on {day_text}, after the "
            f"shift ends at {_hm(shift.end_min)}{allowed}.",
        )
    if route.return_min != expected_return:
        last = "the route leaves" if not stops else "the last visit ends"
        add(
            "times",
            f"{who}'s route on {day_text} is shown returning at {_hm(route.return_min)}, but "
            f"{last} at {_hm(t)} and the way back takes {back_min} min, so it is back at "
            f"{_hm(expected_return)}.",
        )
    if route.travel_min != total_min:
        add(
            "totals",
            f"{who}'s route on {day_text} gives {route.travel_min} min of travel, but its legs "
            f"add up to {total_min} min.",
        )
    if abs(route.travel_km - total_km) > ROUTE_KM_TOLERANCE:
        add(
            "totals",
            f"{who}'s route on {day_text} gives {route.travel_km:.2f} km of travel, but its "
            f"legs add up to {total_km:.2f} km.",
        )
    if route.work_min != route.return_min - route.depart_min:
        add(
            "totals",
            f"{who}'s route on {day_text} gives {route.work_min} min of work, but "
            f"{_hm(route.depart_min)}-{_hm(route.return_min)} is "
            f"{route.return_min - route.depart_min} min.",
        )
    overtime = max(0, route.return_min - shift.end_min)
    if route.overtime_min != overtime:
        add(
            "totals",
            f"{who}'s route on {day_text} gives {route.overtime_min} min of overtime, but "
            f"returning at {_hm(route.return_min)} after a shift ending {_hm(shift.end_min)} "
            f"is {overtime} min.",
        )

    if not first:
        return
    # When does each stop's sample first reach the centre?
    for i, stop in enumerate(stops):
        if ctx.visits[stop.visit_id].sample_return_min is None:
            continue
        at_centre = expected_return
        for j in range(i + 1, len(stops)):
            if stops[j].via_centre:
                at_centre = ends[j - 1] + minutes[locs[j - 1]][c]
                break
        facts.centre_arrival[(stop.visit_id, cid, day)] = at_centre


def _check_samples(
    ctx: _Context,
    stops_of: Mapping[str, list[Stop]],
    facts: _RouteFacts,
    out: list[Violation],
) -> None:
    for visit in ctx.problem.visits:
        if visit.sample_return_min is None:
            continue
        stops = stops_of.get(visit.visit_id, [])
        arrivals: list[tuple[int, int, Stop]] = []
        for stop in stops:
            at_centre = facts.centre_arrival.get((visit.visit_id, stop.clinician_id, stop.day))
            if at_centre is not None:
                arrivals.append((at_centre - stop.start_min, at_centre, stop))
        if not arrivals or any(delay <= visit.sample_return_min for delay, _, _ in arrivals):
            continue
        _, at_centre, stop = min(arrivals, key=lambda a: a[0])
        deadline = stop.start_min + visit.sample_return_min
        out.append(
            Violation(
                "sample",
                f"The lab sample of {_visit_label(visit, visit.visit_id)}, started at "
                f"{_hm(stop.start_min)} on {_day_en(stop.day)}, reaches the centre at "
                f"{_hm(at_centre)}, later than {_hm(deadline)} ({visit.sample_return_min} min "
                "after the start).",
                visit_id=visit.visit_id,
                clinician_id=stop.clinician_id,
                day=stop.day,
            )
        )


def _check_missed(ctx: _Context, out: list[Violation]) -> None:
    for visit in ctx.problem.visits:
        if visit.visit_id in ctx.scheduled:
            continue
        option = ctx.first_option(visit)
        if option is None:
            continue
        day = dt.date.fromisoformat(option[-1])
        names = " and ".join(_who(ctx.clinicians.get(c), c) for c in option[:-1])
        out.append(
            Violation(
                "missed",
                f"{_cap(_visit_label(visit, visit.visit_id))} is left unscheduled, "
                f"but {names} could still do it on {_day_en(day)}.",
                visit_id=visit.visit_id,
                clinician_id=option[0],
                day=day,
            )
        )


# --------------------------------------------------------------------------------------------
# Explanations of unscheduled visits
# --------------------------------------------------------------------------------------------


def _scope(problem: Problem, visit: Visit) -> tuple[str, str]:
    """Who may do the visit, as 'team X' / 'X团队' or 'centre Y' / 'Y'."""
    if problem.cross_team_cover:
        name = _centre_name(problem, visit.centre_id)
        return f"centre {name}", name
    return f"team {visit.team_id}", f"{visit.team_id}团队"


def _free_intervals(clinician: Clinician, overtime: int) -> list[tuple[int, int]]:
    start, end = clinician.shift.start_min, clinician.shift.end_min + overtime
    lunch = clinician.lunch
    if lunch is None:
        return [(start, end)]
    pieces = [(start, lunch.start_min), (lunch.end_min, end)]
    return [(a, b) for a, b in pieces if a < b]


def _intersect(a: Sequence[tuple[int, int]], b: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    result: list[tuple[int, int]] = []
    for a_start, a_end in a:
        for b_start, b_end in b:
            start, end = max(a_start, b_start), min(a_end, b_end)
            if start < end:
                result.append((start, end))
    return result


def _time_overlaps(ctx: _Context, visit: Visit, candidates: Sequence[Clinician]) -> bool:
    """Whether distinct clinicians who fill the places share a long enough free time in a window."""
    problem = ctx.problem
    k = len(visit.staffing)
    for w in visit.windows:
        if w.day not in ctx.week:
            continue
        working = [c for c in candidates if problem.works_on(c, w.day)]
        for people in itertools.combinations(working, k):
            if _assignments(visit.staffing, people) is None:
                continue
            common: list[tuple[int, int]] = [(w.start_min, w.end_min)]
            for person in people:
                common = _intersect(common, _free_intervals(person, problem.max_overtime_min))
            if any(end - start >= visit.duration_min for start, end in common):
                return True
    return False


def _explain_one(ctx: _Context, visit: Visit) -> Reason:
    problem = ctx.problem
    scope_en, scope_zh = _scope(problem, visit)
    candidates = _candidates(problem, visit)

    # a. a staffing place nobody may fill
    for place in visit.staffing:
        if not any(place.accepts(c) for c in candidates):
            roles_en = _roles_text(place.roles, zh=False)
            roles_zh = _roles_text(place.roles, zh=True)
            if place.skills:
                skills = sorted(place.skills)
                plural = "s" if len(skills) > 1 else ""
                return Reason(
                    f"no {roles_en} of {scope_en} has skill{plural} {', '.join(skills)}",
                    f"{scope_zh}没有具备 {'、'.join(skills)} 技能的{roles_zh}",
                )
            return Reason(f"{scope_en} has no {roles_en}", f"{scope_zh}没有{roles_zh}")
    k = len(visit.staffing)
    if k > 1 and not any(
        _assignments(visit.staffing, people) is not None
        for people in itertools.combinations(candidates, k)
    ):
        needs_en = " and a ".join(_place_text(p, zh=False) for p in visit.staffing)
        needs_zh = "和".join(_place_text(p, zh=True) for p in visit.staffing)
        return Reason(
            f"{scope_en} has no {k} different clinicians to go together as a {needs_en}",
            f"{scope_zh}没有 {k} 名不同的人员可同时担任{needs_zh}",
        )

    # b. nobody who may do it works while the visit is possible
    is_home = visit.resident_id is not None
    if not _time_overlaps(ctx, visit, candidates):
        summary_en = _windows_summary(visit, problem.days, zh=False)
        summary_zh = _windows_summary(visit, problem.days, zh=True)
        nobody_en = f"nobody {'in' if not problem.cross_team_cover else 'of'} {scope_en}"
        if not summary_en:
            if is_home:
                return Reason(
                    "the resident has no available time in this week",
                    "居民本周没有可上门的时间",
                )
            return Reason(
                "the session has no possible time in this week", "该活动本周没有可举行的时间"
            )
        if is_home:
            return Reason(
                f"the resident is only available {summary_en} and {nobody_en} who can do it "
                "works then",
                f"居民仅在{summary_zh} 可接受上门，{scope_zh}中能做此项服务的人员这些时间都不上班",
            )
        return Reason(
            f"the session can only be held {summary_en} and {nobody_en} who can do it works then",
            f"该活动只能在{summary_zh} 举行，{scope_zh}中能做此项服务的人员这些时间都不上班",
        )

    # c./d. even an empty day cannot take it
    if not _insertions(ctx, visit, empty=True, first_only=True):
        out_min, back_min = _nearest_trip(ctx, visit, candidates)
        if visit.sample_return_min is not None and _insertions(
            ctx, visit, empty=True, ignore_sample=True, first_only=True
        ):
            limit = visit.sample_return_min
            return Reason(
                f"the lab sample cannot reach the centre within {limit} min of the start: the "
                f"visit takes {visit.duration_min} min and the way back {back_min} min",
                f"化验样本无法在开始后 {limit} 分钟内送回中心：上门需 {visit.duration_min} 分钟，"
                f"返程 {back_min} 分钟",
            )
        if out_min == back_min:
            trip_en = f"{out_min} min each way from the centre"
            trip_zh = f"离中心单程 {out_min} 分钟"
        else:
            trip_en = f"{out_min} min there from the centre and {back_min} min back"
            trip_zh = f"从中心去程 {out_min} 分钟、返程 {back_min} 分钟"
        return Reason(
            f"too far to fit in a working day: {trip_en}",
            f"路程太远，一个工作日内排不下：{trip_zh}",
        )

    # It still fits somewhere: say so rather than blame capacity.
    option = ctx.first_option(visit)
    if option is not None:
        day = dt.date.fromisoformat(option[-1])
        names_en = " and ".join(_who(ctx.clinicians.get(c), c) for c in option[:-1])
        names_zh = "和".join(
            (ctx.clinicians[c].name or c) if c in ctx.clinicians else c for c in option[:-1]
        )
        return Reason(
            f"it still fits (for example with {names_en} on {_day_en(day)}) but the plan "
            "leaves it out",
            f"仍可排入（例如 {_day_zh(day)}由 {names_zh} 上门），但计划未排入",
        )

    # e. capacity
    planned, available = _hours(ctx, visit, candidates)
    owner_en = (
        f"centre {_centre_name(problem, visit.centre_id)}'s"
        if problem.cross_team_cover
        else f"team {visit.team_id}'s"
    )
    return Reason(
        f"{owner_en} week is full: {planned:.1f} h planned of {available:.1f} h",
        f"{scope_zh}本周已排满：已排 {planned:.1f} 小时，共 {available:.1f} 小时",
    )


def _nearest_trip(ctx: _Context, visit: Visit, candidates: Sequence[Clinician]) -> tuple[int, int]:
    """Minutes out and back of the quickest eligible clinician between centre and visit."""
    best: tuple[int, int] | None = None
    here = ctx.legs.index(visit.location)
    for clinician in candidates:
        centre = ctx.centre_of(clinician)
        if centre is None:
            continue
        c = ctx.legs.index(centre.location)
        minutes = ctx.legs.table(clinician.travel_mode)[0]
        trip = (minutes[c][here], minutes[here][c])
        if best is None or sum(trip) < sum(best):
            best = trip
    return best if best is not None else (0, 0)


def _hours(ctx: _Context, visit: Visit, candidates: Sequence[Clinician]) -> tuple[float, float]:
    """Hours planned and available of the eligible clinicians on the visit's days."""
    days = sorted({w.day for w in visit.windows} & ctx.week)
    planned = available = 0
    for clinician in candidates:
        lunch = clinician.lunch.length_min if clinician.lunch is not None else 0
        for day in days:
            if not ctx.problem.works_on(clinician, day):
                continue
            available += clinician.shift.length_min - lunch
            route = ctx.routes.get((clinician.clinician_id, day))
            if route is not None:
                planned += route.return_min - route.depart_min
    return planned / 60.0, available / 60.0


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def _by_centre(problem: Problem, plan: Plan) -> list[tuple[Problem, Plan]]:
    """The problem and plan cut by centre (stops and visits of unknown ids go to the first)."""
    first = next(iter(problem.centres))
    centre_of_clinician = {c.clinician_id: c.centre_id for c in problem.clinicians}
    centre_of_visit = {v.visit_id: v.centre_id for v in problem.visits}
    parts = []
    for centre_id, centre in problem.centres.items():
        sub_problem = dataclasses.replace(
            problem,
            centres={centre_id: centre},
            clinicians=tuple(c for c in problem.clinicians if c.centre_id == centre_id),
            visits=tuple(v for v in problem.visits if v.centre_id == centre_id),
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
        Also report unscheduled visits that still fit feasibly into some clinician's day
        (rule ``missed``). This is the slowest check.

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
            evaluate(p, q, travel, check_missed=check_missed) for p, q in _by_centre(problem, plan)
        ]
        kpis = compute_kpis(problem, plan)
        violations = [v for part in parts for v in part.violations]
        _count_findings(kpis, violations)
        reasons = {k: r for part in parts for k, r in part.reasons.items()}
        return Evaluation(violations=tuple(violations), kpis=kpis, reasons=reasons)
    ctx = _Context(problem, plan, travel)
    violations = []
    stops_of = _check_accounting(ctx, violations)
    _check_who(ctx, stops_of, violations)
    facts = _RouteFacts()
    seen: set[tuple[str, dt.date]] = set()
    for route in plan.routes:
        key = (route.clinician_id, route.day)
        _check_route(ctx, route, facts, violations, first=key not in seen)
        seen.add(key)
    _check_samples(ctx, stops_of, facts, violations)
    if check_missed:
        from scheduler.inversions import defects  # it builds on this module's simulation

        _check_missed(ctx, violations)
        violations += defects(ctx)
    unscheduled = [v.visit_id for v in problem.visits if v.visit_id not in ctx.scheduled]
    reasons = {vid: _explain_one(ctx, ctx.visits[vid]) for vid in unscheduled}
    kpis = compute_kpis(problem, plan)
    _count_findings(kpis, violations)
    return Evaluation(violations=tuple(violations), kpis=kpis, reasons=reasons)


def _count_findings(kpis: dict[str, object], violations: Sequence[Violation]) -> None:
    """The KPIs counted from the violations: findings by kind, broken rules in all."""
    kpis["visits_still_fit"] = sum(v.rule == "missed" for v in violations)
    kpis["inversions"] = sum(v.rule == "inversion" for v in violations)
    kpis["late_with_room_earlier"] = sum(v.rule == "late_with_room_earlier" for v in violations)
    kpis["violations"] = sum(v.rule not in FINDINGS for v in violations)


def explain_unscheduled(
    problem: Problem, plan: Plan, travel: TravelTimeProvider, visit_ids: Iterable[str]
) -> dict[str, Reason]:
    """Say why each of ``visit_ids`` is not in the plan, in English and Chinese.

    The first reason that applies is given:

    a. a staffing place nobody of the team (or centre, with cross-team cover) may fill;
    b. nobody who may do it works while the resident is available (or the session is held);
    c. even an otherwise empty day cannot reach it and get back in time;
    d. its lab sample cannot reach the centre in time;
    then, if the visit still fits into the plan, that it does; otherwise
    e. the week of the eligible clinicians is full (hours planned of hours available on the
       visit's days).

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
        for sub_problem, sub_plan in _by_centre(problem, plan):
            reasons |= explain_unscheduled(sub_problem, sub_plan, travel, wanted)
        return reasons
    ctx = _Context(problem, plan, travel)
    return {vid: _explain_one(ctx, ctx.visits[vid]) for vid in visit_ids if vid in ctx.visits}


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
    ctx = _Context(problem, plan, travel)
    ctx.legs.index(visit.location)  # before any matrix is built
    return _insertions(ctx, visit)


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

        - ``visits_due``, ``visits_scheduled``, ``visits_unscheduled``,
          ``joint_visits_scheduled``: counts of the problem's visits;
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

    busy_routes = [r for r in plan.routes if r.stops]
    return {
        "visits_due": len(problem.visits),
        "visits_scheduled": len(scheduled),
        "visits_unscheduled": len(problem.visits) - len(scheduled),
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
