"""The weekly plan as an OR-Tools routing model (the only module that imports ortools).

The model, in the OR-Tools samples' idiom:

* vehicles are (clinician, working day) pairs, starting and ending at the clinician's centre;
* one time dimension over the whole week (minute ``day * 1440 + m``), so a visit's allowed days
  and time windows are one cumul domain, and a vehicle's shift is its start/end range;
* per-mode transit matrices (service time folded in) registered once, no Python callback per arc;
  one arc-cost matrix per clinician: travel plus the soft costs of continuity and cover;
* lunch as a fixed break interval per vehicle that visits may not overlap (travel may);
* who may do a visit (team, role, skills, working day) through ``VehicleVar`` domains;
* every visit optional with a penalty from its urgency;
* a lab sample as a pickup (the visit) and delivery (a hand-in node at the centre) pair with a
  deadline between their cumuls;
* joint visits (two clinicians at once) are placed first by :func:`place_joint_visits`, which
  reserves a common slot for both clinicians, and are then pinned in the model: cross-route
  synchronisation breaks most of the routing local search, pinning does not;
* the search starts from a regret-insertion plan built here (:func:`greedy_routes`) in a
  fraction of a second, read in with ``ReadAssignmentFromRoutes``: OR-Tools' own insertion took
  seconds on a team's week, so a short limit returned nothing, and it is a worse start.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import heapq
import itertools
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from scheduler.intervals import intersect, subtract
from scheduler.model import (
    MINUTES_PER_DAY,
    Clinician,
    Location,
    Plan,
    Problem,
    Route,
    Stop,
    TimeWindow,
    TravelMode,
    Unscheduled,
    Visit,
)
from scheduler.params import Deadline, SolveParams
from scheduler.solvers.lns import LnsParams, ruin_and_recreate
from scheduler.solvers.repair import repair_urgency
from scheduler.timeliness import days_waited, first_feasible_day, late_cost
from scheduler.travel import TravelTimeProvider

SAMPLE_CARRIER_SKILL = "blood_draw"


@dataclass(frozen=True, slots=True)
class Progress:
    """What a running solve reports to its caller."""

    elapsed_s: float
    visits_placed: int
    visits_total: int
    best_cost: int


ProgressCallback = Callable[[Progress], None]
StopRequested = Callable[[], bool]


@dataclass(frozen=True, slots=True)
class Vehicle:
    """One clinician on one day of the week.

    ``frame`` numbers the clinician's lunch time among the problem's lunch times: each lunch
    time has its own copy of the week on the model's time axis, so that a visit's time domain
    can leave out exactly the lunch of whoever does it (see :func:`_build_nodes`).
    """

    clinician: Clinician
    day_index: int
    frame: int = 0

    @property
    def offset_min(self) -> int:
        """Minute of the time axis at which this vehicle's day starts."""
        return (self.frame * 7 + self.day_index) * MINUTES_PER_DAY


@dataclass(slots=True)
class _Nodes:
    """Everything indexed by model node: depots, visit parts, sample hand-ins."""

    locations: list[Location] = field(default_factory=list)
    service_min: list[int] = field(default_factory=list)
    visit_of: list[Visit | None] = field(default_factory=list)  # None for depots
    part_of: list[int] = field(default_factory=list)  # staffing place of a visit part
    is_handin: list[bool] = field(default_factory=list)
    allowed: list[list[int]] = field(default_factory=list)  # vehicles that may visit the node
    pickup_of: list[int] = field(default_factory=list)  # a hand-in's visit node, else -1
    starts: list[list[tuple[int, int]]] = field(default_factory=list)  # minute-of-week ranges
    late_from: list[int | None] = field(default_factory=list)  # starts after it cost lateness
    depot_of_centre: dict[str, int] = field(default_factory=dict)
    pairs: list[tuple[int, int, int, int]] = field(default_factory=list)  # (a, b, gap min, max)

    def paired(self) -> set[int]:
        """The nodes of joint and linked visits (whose starts the model ties together)."""
        return {a for a, _, _, _ in self.pairs} | {b for _, b, _, _ in self.pairs}

    def add(
        self,
        location: Location,
        service_min: int,
        visit: Visit | None = None,
        part: int = 0,
        allowed: list[int] | None = None,
        pickup: int = -1,
        starts: list[tuple[int, int]] | None = None,
        late_from: int | None = None,
    ) -> int:
        """Append a node and return its number."""
        self.locations.append(location)
        self.service_min.append(service_min)
        self.visit_of.append(visit)
        self.part_of.append(part)
        self.is_handin.append(pickup >= 0)
        self.allowed.append(allowed or [])
        self.pickup_of.append(pickup)
        self.starts.append(starts or [])
        self.late_from.append(late_from)
        return len(self.locations) - 1


@dataclass(frozen=True, slots=True)
class _Block:
    """A reserved stretch of a clinician's day (a pinned joint visit)."""

    start_min: int
    end_min: int
    node: int
    deadline_min: int | None = None  # this clinician carries its lab sample to the centre by then


class _Matrices:
    """Per-mode travel matrices over the model's nodes."""

    def __init__(
        self, travel: TravelTimeProvider, locations: Sequence[Location], modes: set[TravelMode]
    ):
        self.minutes: dict[TravelMode, npt.NDArray[np.int64]] = {}
        self.km: dict[TravelMode, npt.NDArray[np.float64]] = {}
        for mode in sorted(modes):
            matrix = travel.matrix(locations, locations, mode)
            self.minutes[mode] = matrix.minutes
            self.km[mode] = matrix.km


def _lunch_frames(problem: Problem) -> dict[TimeWindow | None, int]:
    """A time-axis frame per distinct lunch time of the problem's clinicians."""
    lunches = {c.lunch for c in problem.clinicians}
    ordered = sorted(lunches, key=lambda w: (-1, -1) if w is None else (w.start_min, w.end_min))
    return {lunch: frame for frame, lunch in enumerate(ordered)}


def _vehicles(problem: Problem) -> list[Vehicle]:
    frames = _lunch_frames(problem)
    return [
        Vehicle(clinician, day_index, frames[clinician.lunch])
        for clinician in problem.clinicians
        for day_index, day in enumerate(problem.days)
        if problem.works_on(clinician, day)
    ]


def _eligible_vehicles(
    problem: Problem, vehicles: Sequence[Vehicle], visit: Visit, place: int
) -> list[int]:
    days = {problem.days.index(w.day) for w in visit.windows if w.day in problem.days}
    staffing = visit.staffing[place]
    return [
        v
        for v, vehicle in enumerate(vehicles)
        if vehicle.day_index in days
        and staffing.accepts(vehicle.clinician)
        and problem.may_serve(vehicle.clinician, visit)
    ]


def _carrier_place(visit: Visit) -> int:
    """Which of a visit's clinicians takes the lab sample back (the one who draws blood)."""
    for place, staffing in enumerate(visit.staffing):
        if SAMPLE_CARRIER_SKILL in staffing.skills:
            return place
    return 0


# --- joint visits: reserve a common slot first ----------------------------------------------


def _free_starts(
    problem: Problem,
    vehicle: Vehicle,
    blocks: list[_Block],
    node: int,
    duration_min: int,
    depot: int,
    minutes: npt.NDArray[np.int64],
) -> list[tuple[int, int]]:
    """Start minutes (of the day) at which a stop fits between the already reserved blocks."""
    clinician = vehicle.clinician
    shift_end = clinician.shift.end_min + problem.max_overtime_min
    anchors = [(clinician.shift.start_min, depot)]
    anchors += [(b.end_min, b.node) for b in blocks]
    nexts = [(b.start_min, b.node) for b in blocks] + [(shift_end, depot)]
    free = []
    for (free_from, here), (due_at, there) in zip(anchors, nexts, strict=True):
        lo = free_from + int(minutes[here, node])
        hi = due_at - duration_min - int(minutes[node, there])
        if lo <= hi:
            free.append((lo, hi))
    if clinician.lunch is not None:
        free = subtract(free, clinician.lunch.start_min - duration_min, clinician.lunch.end_min)
    return free


def _samples_reach_centre(
    blocks: Sequence[_Block],
    shift_start_min: int,
    depot: int,
    minutes: npt.NDArray[np.int64],
    handover_min: int,
) -> bool:
    """Whether a clinician can do her reserved visits and hand every sample in by its deadline.

    Samples ride along to later visits while there is still time to return after them;
    otherwise the leg to the next visit passes the centre first. (The routing model then has
    the same freedom: one hand-in node per sample, each with its own deadline.)
    """
    here, free_at = depot, shift_start_min
    carrying: list[int] = []
    for block in sorted(blocks, key=lambda b: b.start_min):
        if carrying and block.end_min + int(minutes[block.node, depot]) > min(carrying):
            at_centre = free_at + int(minutes[here, depot])
            if at_centre > min(carrying):
                return False
            here, free_at, carrying = depot, at_centre + handover_min, []
        if free_at + int(minutes[here, block.node]) > block.start_min:
            return False
        here, free_at = block.node, block.end_min
        if block.deadline_min is not None:
            carrying.append(block.deadline_min)
    return not carrying or free_at + int(minutes[here, depot]) <= min(carrying)


def place_joint_visits(
    problem: Problem,
    vehicles: Sequence[Vehicle],
    nodes: _Nodes,
    matrices: _Matrices,
) -> dict[int, tuple[int, int]]:
    """Reserve a common slot for each joint visit: ``{part node: (vehicle, start minute of week)}``.

    Greedy, most urgent first: for every pair of eligible clinicians and every allowed day, the
    earliest start at which both are free (with travel from and to their other reserved stops,
    outside lunch); the day with fewest days late wins, then the resident's preferred
    clinician, then the pair's least loaded day.
    A visit with no common slot stays unplaced (and is left out of the plan, with a reason).
    """
    parts: dict[str, list[int]] = defaultdict(list)
    for node, visit in enumerate(nodes.visit_of):
        if visit is not None and visit.is_joint and not nodes.is_handin[node]:
            parts[visit.visit_id].append(node)
    blocks: dict[int, list[_Block]] = defaultdict(list)
    load: dict[int, int] = defaultdict(int)
    by_clinician_day = {
        (veh.clinician.clinician_id, veh.day_index): v for v, veh in enumerate(vehicles)
    }
    pinned: dict[int, tuple[int, int]] = {}
    joint = sorted(
        (nodes.visit_of[ns[0]] for ns in parts.values()),
        key=lambda vis: (-int(vis.urgency), vis.due_by, vis.visit_id) if vis else (0, None, ""),
    )
    for visit in joint:
        assert visit is not None
        part_nodes = sorted(parts[visit.visit_id], key=lambda n: nodes.part_of[n])
        carrier = _carrier_place(visit) if visit.sample_return_min is not None else None
        depot = nodes.depot_of_centre[visit.centre_id]
        candidates = [
            sorted(
                {
                    vehicles[v].clinician.clinician_id
                    for v in _eligible_vehicles(problem, vehicles, visit, p)
                }
            )
            for p in range(len(visit.staffing))
        ]
        best: tuple[tuple[int, int, int, int], list[int], int] | None = None
        first_day = first_feasible_day(problem, visit)
        for combo in itertools.product(*candidates):
            if len(set(combo)) < len(combo):
                continue
            for window in visit.windows:
                day_index = problem.days.index(window.day)
                vs = [by_clinician_day.get((cid, day_index)) for cid in combo]
                if any(v is None for v in vs):
                    continue
                starts = [(window.start_min, window.end_min - visit.duration_min)]
                for place, v in enumerate(vs):
                    assert v is not None
                    minutes = matrices.minutes[vehicles[v].clinician.travel_mode]
                    node = part_nodes[place]
                    free = _free_starts(
                        problem,
                        vehicles[v],
                        blocks[v],
                        node,
                        visit.duration_min,
                        depot,
                        minutes,
                    )
                    starts = intersect(starts, free)
                    if not starts:
                        break
                chosen = [v for v in vs if v is not None]
                start = next(
                    (
                        t
                        for lo, hi in starts
                        for t in range(lo, hi + 1, _START_STEP_MIN)
                        if _samples_ok(
                            problem,
                            visit,
                            vehicles,
                            chosen,
                            part_nodes,
                            blocks,
                            carrier,
                            t,
                            depot,
                            matrices,
                        )
                    ),
                    None,
                )
                if start is None:
                    continue
                prefers = visit.preferred_clinician_id in combo
                waited = days_waited(visit, window.day, first_day)
                score = (waited, int(not prefers), sum(load[v] for v in chosen), start)
                if best is None or score < best[0]:
                    best = (score, chosen, start)
        if best is None:
            continue
        _, vs_chosen, start = best
        for place, v in enumerate(vs_chosen):
            node = part_nodes[place]
            blocks[v].append(
                _Block(
                    start, start + visit.duration_min, node, _deadline(visit, place, carrier, start)
                )
            )
            blocks[v].sort(key=lambda b: b.start_min)
            load[v] += visit.duration_min
            pinned[node] = (v, vehicles[v].offset_min + start)
    _place_links(problem, vehicles, nodes, matrices, blocks, load, pinned)
    return pinned


def _day_ranges(nodes: _Nodes, node: int, vehicle: Vehicle) -> list[tuple[int, int]]:
    """The node's start ranges on ``vehicle``'s day, in minutes of that day."""
    offset = vehicle.offset_min
    return [
        (lo - offset, hi - offset)
        for lo, hi in nodes.starts[node]
        if offset <= lo and hi < offset + MINUTES_PER_DAY
    ]


def _place_links(
    problem: Problem,
    vehicles: Sequence[Vehicle],
    nodes: _Nodes,
    matrices: _Matrices,
    blocks: dict[int, list[_Block]],
    load: dict[int, int],
    pinned: dict[int, tuple[int, int]],
) -> None:
    """Reserve slots for linked visits (pairs of nodes with a gap), most urgent first.

    For every two clinicians who may do the two visits on a day: the earliest start of the
    first at which the second can follow within the gap, both free of their reserved stops;
    the fewest days late, then the least loaded pair, then the earliest start wins.
    """
    links = [pair for pair in nodes.pairs if nodes.visit_of[pair[0]] is not nodes.visit_of[pair[1]]]

    def urgency(pair: tuple[int, int, int, int]) -> tuple[int, dt.date, str]:
        visit = nodes.visit_of[pair[0]]
        assert visit is not None
        return -int(visit.urgency), visit.due_by, visit.visit_id

    for a, b, lo, hi in sorted(links, key=urgency):
        first, second = nodes.visit_of[a], nodes.visit_of[b]
        assert first is not None and second is not None
        depot = nodes.depot_of_centre[first.centre_id]
        first_day = first_feasible_day(problem, first)
        free: dict[tuple[int, int], list[tuple[int, int]]] = {}
        for node in (a, b):
            visit = nodes.visit_of[node]
            assert visit is not None
            for v in nodes.allowed[node]:
                minutes = matrices.minutes[vehicles[v].clinician.travel_mode]
                own = _day_ranges(nodes, node, vehicles[v])
                room = _free_starts(
                    problem, vehicles[v], blocks[v], node, visit.duration_min, depot, minutes
                )
                free[(node, v)] = intersect(own, room)
        best: tuple[tuple[int, int, int], int, int, int, int] | None = None
        for va in nodes.allowed[a]:
            if not free[(a, va)]:
                continue
            for vb in nodes.allowed[b]:
                if (
                    vehicles[vb].day_index != vehicles[va].day_index
                    or vehicles[vb].clinician.clinician_id == vehicles[va].clinician.clinician_id
                    or not free[(b, vb)]
                ):
                    continue
                # Starts of the first from which the second can start lo..hi later.
                reach = [(c - hi, d - lo) for c, d in free[(b, vb)]]
                starts = intersect(free[(a, va)], sorted(reach))
                if not starts:
                    continue
                t = starts[0][0]
                u = next(
                    max(c, t + lo) for c, d in free[(b, vb)] if max(c, t + lo) <= min(d, t + hi)
                )
                waited = days_waited(first, problem.days[vehicles[va].day_index], first_day)
                score = (waited, load[va] + load[vb], t)
                if best is None or score < best[0]:
                    best = (score, va, vb, t, u)
        if best is None:
            continue
        _, va, vb, t, u = best
        for node, v, start, visit in ((a, va, t, first), (b, vb, u, second)):
            blocks[v].append(_Block(start, start + visit.duration_min, node))
            blocks[v].sort(key=lambda blk: blk.start_min)
            load[v] += visit.duration_min
            pinned[node] = (v, vehicles[v].offset_min + start)


def _pins_from(
    plan: Plan, problem: Problem, vehicles: Sequence[Vehicle], nodes: _Nodes
) -> dict[int, tuple[int, int]]:
    """The slots of the joint and linked visits ``plan`` schedules, as pins of the model's nodes."""
    vehicle_of = {(veh.clinician.clinician_id, veh.day_index): v for v, veh in enumerate(vehicles)}
    day_index = {day: i for i, day in enumerate(problem.days)}
    parts: dict[str, list[int]] = defaultdict(list)
    for node in sorted(nodes.paired()):
        visit = nodes.visit_of[node]
        assert visit is not None
        parts[visit.visit_id].append(node)
    by_visit: dict[str, list[Stop]] = defaultdict(list)
    for stop in plan.stops():
        by_visit[stop.visit_id].append(stop)
    pinned: dict[int, tuple[int, int]] = {}
    for visit_id, part_nodes in parts.items():
        stops = by_visit.get(visit_id, [])
        if len(stops) != len(part_nodes):
            continue
        for order in itertools.permutations(stops):
            if all(
                vehicle_of.get((stop.clinician_id, day_index[stop.day])) in nodes.allowed[node]
                for node, stop in zip(part_nodes, order, strict=True)
            ):
                for node, stop in zip(part_nodes, order, strict=True):
                    v = vehicle_of[(stop.clinician_id, day_index[stop.day])]
                    pinned[node] = (v, vehicles[v].offset_min + stop.start_min)
                break
    return pinned


def _routes_from(
    plan: Plan,
    problem: Problem,
    vehicles: Sequence[Vehicle],
    nodes: _Nodes,
    pinned: dict[int, tuple[int, int]],
) -> list[list[int]]:
    """The model's node sequence of every vehicle in ``plan``, hand-ins where samples go in."""
    vehicle_of = {(veh.clinician.clinician_id, veh.day_index): v for v, veh in enumerate(vehicles)}
    day_index = {day: i for i, day in enumerate(problem.days)}
    candidates: dict[str, list[int]] = defaultdict(list)
    handin_of: dict[int, int] = {}
    for node, visit in enumerate(nodes.visit_of):
        if visit is None:
            continue
        if nodes.is_handin[node]:
            handin_of[nodes.pickup_of[node]] = node
        else:
            candidates[visit.visit_id].append(node)
    routes: list[list[int]] = [[] for _ in vehicles]
    for route in plan.routes:
        found = vehicle_of.get((route.clinician_id, day_index.get(route.day, -1)))
        if found is None:
            continue
        v = found
        carrying: list[int] = []
        for stop in sorted(route.stops, key=lambda s: s.sequence):
            part = next(
                (
                    n
                    for n in candidates.get(stop.visit_id, [])
                    if (pinned[n][0] == v if n in pinned else v in nodes.allowed[n])
                ),
                None,
            )
            if part is None:
                continue
            if stop.via_centre:
                routes[v] += carrying
                carrying = []
            routes[v].append(part)
            if part in handin_of:
                carrying.append(handin_of[part])
        routes[v] += carrying
    return routes


_START_STEP_MIN = 5  # granularity of the start times tried for a joint visit


def _deadline(visit: Visit, place: int, carrier: int | None, start: int) -> int | None:
    if place != carrier or visit.sample_return_min is None:
        return None
    return start + visit.sample_return_min


def _samples_ok(
    problem: Problem,
    visit: Visit,
    vehicles: Sequence[Vehicle],
    chosen: Sequence[int],
    part_nodes: Sequence[int],
    blocks: dict[int, list[_Block]],
    carrier: int | None,
    start: int,
    depot: int,
    matrices: _Matrices,
) -> bool:
    """Whether every chosen clinician's day still gets its samples back with the visit added."""
    for place, v in enumerate(chosen):
        trial = [
            *blocks[v],
            _Block(
                start,
                start + visit.duration_min,
                part_nodes[place],
                _deadline(visit, place, carrier, start),
            ),
        ]
        if all(b.deadline_min is None for b in trial):
            continue
        minutes = matrices.minutes[vehicles[v].clinician.travel_mode]
        clinician = vehicles[v].clinician
        if not _samples_reach_centre(
            trial, clinician.shift.start_min, depot, minutes, problem.sample_handover_min
        ):
            return False
    return True


# --- a first solution built for the structure ----------------------------------------------
#
# OR-Tools' insertion heuristics weigh every node against every position of every vehicle
# through the routing filters; on a team's week of 170 visits that took 3-5 s, so a short time
# limit ran out before any solution and the plan came back empty. The week's structure makes a
# much cheaper construction exact enough: a vehicle is one clinician's day, a visit's domain on
# that day is a few start ranges, and a route is feasible iff every stop's earliest start is no
# later than its latest start (earliest forward, latest backward), so trying a position costs
# O(1). The search then starts from this plan (ReadAssignmentFromRoutes) and improves it.


def _first_at_or_after(ranges: Sequence[tuple[int, int]], minute: int) -> int | None:
    """The earliest minute of the sorted ranges that is not before ``minute``."""
    for lo, hi in ranges:
        if minute <= hi:
            return max(lo, minute)
    return None


def _last_at_or_before(ranges: Sequence[tuple[int, int]], minute: int) -> int | None:
    """The latest minute of the sorted ranges that is not after ``minute``."""
    for lo, hi in reversed(ranges):
        if minute >= lo:
            return min(hi, minute)
    return None


class _Tour:
    """One vehicle's route under construction, with its earliest and latest start times."""

    def __init__(
        self,
        problem: Problem,
        vehicle: Vehicle,
        depot: int,
        service_min: Sequence[int],
        minutes: npt.NDArray[np.int64],
        domain: Callable[[int], list[tuple[int, int]]],
        handins: Sequence[bool] = (),
    ) -> None:
        shift = vehicle.clinician.shift
        self.depot = depot
        self.service_min = service_min
        self.handins = handins
        self.minutes = minutes
        self.domain = domain
        self.depart_from = vehicle.offset_min + shift.start_min
        self.depart_by = vehicle.offset_min + shift.end_min
        self.back_by = vehicle.offset_min + shift.end_min + problem.max_overtime_min
        self.stops: list[int] = []
        self.earliest: list[int] = []
        self.latest: list[int] = []
        self.update()

    def _leg(self, a: int, b: int) -> int:
        if self.handins and self.handins[a] and self.handins[b] and self.minutes[a, b] == 0:
            return 0  # samples handed in on one pass: one handover, as the evaluator times it
        return self.service_min[a] + int(self.minutes[a, b])

    def update(self) -> bool:
        """Recompute the start times; whether the route is feasible."""
        path = [self.depot, *self.stops, self.depot]
        earliest = [self.depart_from]
        for a, b in itertools.pairwise(path):
            arrive = earliest[-1] + self._leg(a, b)
            found = arrive if b == self.depot else _first_at_or_after(self.domain(b), arrive)
            earliest.append(_INFEASIBLE if found is None else found)
        latest = [self.back_by]
        for a, b in itertools.pairwise(reversed(path)):
            need = latest[-1] - self._leg(b, a)
            if b == self.depot:
                latest.append(min(need, self.depart_by))
                continue
            before = _last_at_or_before(self.domain(b), need)
            latest.append(-_INFEASIBLE if before is None else before)
        self.earliest, self.latest = earliest, latest[::-1]
        return all(e <= x for e, x in zip(self.earliest, self.latest, strict=True))

    def insertions(self, node: int, after: int = 0) -> list[tuple[int, int]]:
        """Feasible positions for ``node`` (among stops ``after``..) with their added travel."""
        path = [self.depot, *self.stops, self.depot]
        ranges = self.domain(node)
        found = []
        for i in range(after, len(path) - 1):
            a, b = path[i], path[i + 1]
            start = _first_at_or_after(ranges, self.earliest[i] + self._leg(a, node))
            if start is None:
                continue
            if start + self._leg(node, b) <= self.latest[i + 1]:
                added = int(self.minutes[a, node] + self.minutes[node, b] - self.minutes[a, b])
                found.append((i, added))
        return found

    def travel(self) -> int:
        """Minutes of travel of the route as it stands, from the depot and back."""
        path = [self.depot, *self.stops, self.depot]
        return sum(int(self.minutes[a, b]) for a, b in itertools.pairwise(path))

    def insert(self, node: int, position: int) -> None:
        """Put ``node`` after the ``position``-th stop (0: first)."""
        self.stops.insert(position, node)
        self.update()


_INFEASIBLE = 1 << 40


def _insert_by_regret(
    free: Sequence[int],
    params: SolveParams,
    vehicles: Sequence[Vehicle],
    nodes: _Nodes,
    tours: Sequence[_Tour],
    extra: Sequence[npt.NDArray[np.int64]],
) -> None:
    """Regret-2 insertion: next, the visit that loses most if its best place is taken.

    A place costs its added travel plus ``extra[vehicle][node]``, the same soft costs the
    search pays (continuity, cover, days late): an overdue visit whose first day is about to
    fill up has a high regret and goes in first, on that day. A visit with one place left
    would lose its drop penalty. Only the tour that changed is re-examined after each
    insertion, which keeps a team's week in a fraction of a second.
    """
    options: dict[int, dict[int, tuple[int, int]]] = {}  # node -> vehicle -> (cost, position)
    users: dict[int, set[int]] = defaultdict(set)  # vehicle -> free nodes it may take
    keys: dict[int, tuple[int, int]] = {}  # node -> (regret, -best cost), while it has a place

    def urgency_penalty(node: int) -> int:
        visit = nodes.visit_of[node]
        assert visit is not None
        return params.drop_penalty[visit.urgency]

    def best_in(node: int, v: int) -> tuple[int, int] | None:
        arrival_cost = int(extra[v][node])
        found = tours[v].insertions(node)
        if not found:
            return None
        position, added = min(found, key=lambda o: o[1])
        return added + arrival_cost, position

    def rekey(node: int) -> None:
        costs = heapq.nsmallest(2, (cost for cost, _ in options[node].values()))
        if not costs:
            keys.pop(node, None)
            return
        regret = costs[1] - costs[0] if len(costs) > 1 else urgency_penalty(node)
        keys[node] = (regret, -costs[0])

    def refresh(node: int, v: int) -> None:
        best = best_in(node, v)
        if best is None:
            options[node].pop(v, None)
        else:
            options[node][v] = best

    for node in free:
        options[node] = {}
        for v in nodes.allowed[node]:
            users[v].add(node)
            refresh(node, v)
        rekey(node)

    while keys:
        node = max(keys, key=keys.__getitem__)
        del keys[node]
        v, (_, position) = min(options.pop(node).items(), key=lambda item: item[1][0])
        tours[v].insert(node, position)
        for u in nodes.allowed[node]:
            users[u].discard(node)
        for other in users[v]:
            refresh(other, v)
            rekey(other)


def make_tours(
    problem: Problem,
    vehicles: Sequence[Vehicle],
    nodes: _Nodes,
    matrices: _Matrices,
    pinned: dict[int, tuple[int, int]],
) -> list[_Tour]:
    """An empty tour per vehicle, each node's time domain on that vehicle's day.

    A pinned node has its pinned start; a sample hand-in lies between its pinned visit's end
    and the sample's deadline. (A hand-in of a visit not pinned has the whole day: its
    deadline depends on where the search put the visit, which a tour does not model, so a
    tour holding one is left as the search made it.)
    """
    tours: list[_Tour] = []
    for vehicle in vehicles:

        def domain(node: int, offset: int = vehicle.offset_min) -> list[tuple[int, int]]:
            if node in pinned:
                return [(pinned[node][1], pinned[node][1])]
            day_end = offset + MINUTES_PER_DAY
            visit = nodes.visit_of[node]
            if nodes.is_handin[node] and visit is not None and visit.sample_return_min:
                if nodes.pickup_of[node] not in pinned:
                    return [(offset, day_end - 1)]
                start = pinned[nodes.pickup_of[node]][1]
                return [(start + visit.duration_min, start + visit.sample_return_min)]
            return [(lo, hi) for lo, hi in nodes.starts[node] if offset <= lo and hi < day_end]

        depot = nodes.depot_of_centre[vehicle.clinician.centre_id]
        minutes = matrices.minutes[vehicle.clinician.travel_mode]
        tours.append(
            _Tour(problem, vehicle, depot, nodes.service_min, minutes, domain, nodes.is_handin)
        )
    return tours


def greedy_routes(
    problem: Problem,
    params: SolveParams,
    vehicles: Sequence[Vehicle],
    nodes: _Nodes,
    matrices: _Matrices,
    pinned: dict[int, tuple[int, int]],
) -> list[list[tuple[int, int]]] | None:
    """Routes built by regret insertion, each visit where it adds least travel and soft cost.

    Pinned joint visits come first at their slots, each sample hand-in at the cheapest place
    after its visit; every other visit (lab-sample visits not pinned excepted: the search
    places those with their hand-ins) is inserted by :func:`_insert_by_regret`.
    Each route is a list of ``(node, earliest start minute of the week)``; ``None`` when the
    pinned visits alone do not fit (the search then builds its own start).
    """
    handin_of = {nodes.pickup_of[n]: n for n, h in enumerate(nodes.is_handin) if h}
    extra = _vehicle_costs(problem, params, vehicles, nodes)
    tours = make_tours(problem, vehicles, nodes, matrices, pinned)
    for node, (v, _) in sorted(pinned.items(), key=lambda item: item[1][1]):
        tours[v].stops.append(node)
    for tour in tours:
        if tour.stops and not tour.update():
            return None
    for node, (v, _) in pinned.items():
        if node not in handin_of:
            continue
        tour = tours[v]
        after = tour.stops.index(node) + 1
        options = tour.insertions(handin_of[node], after)
        if not options:
            return None
        tour.insert(handin_of[node], min(options, key=lambda o: o[1])[0])

    paired = nodes.paired()
    free = [
        node
        for node, visit in enumerate(nodes.visit_of)
        if visit is not None
        and node not in paired  # joint and linked visits: placed with their partner or not
        and not nodes.is_handin[node]
        and node not in handin_of  # a lab-sample visit not pinned: a pair the search places
    ]
    _insert_by_regret(free, params, vehicles, nodes, tours, extra)
    return [list(zip(tour.stops, tour.earliest[1:-1], strict=True)) for tour in tours]


# --- the model ---------------------------------------------------------------------------


def _build_nodes(problem: Problem, vehicles: Sequence[Vehicle]) -> _Nodes:
    """Depots, then visit parts, then lab-sample hand-ins; the synchronised pairs of nodes.

    A visit's time domain is, in the frame of each lunch time among its eligible clinicians,
    its windows without that lunch: a visit never overlaps the lunch of whoever does it, travel
    may cross it (as the dataset contract allows), and the routing search sees plain domains
    (break intervals, or one node per lunch time, made the search several times slower).
    A visit allowed to start late has its window stretched by the allowance and a soft upper
    bound at its latest on-time start (when it has one window and one lunch frame: the bound
    is a single minute of the time axis).
    The parts of a joint visit, and two linked visits, are pairs whose starts the model ties
    together (:func:`_synchronise`); a pair that can never meet is left out whole.
    """
    nodes = _Nodes()
    for centre_id, centre in problem.centres.items():
        nodes.depot_of_centre[centre_id] = nodes.add(centre.location, 0)
    planned: dict[str, list[tuple[int, list[int], list[tuple[int, int]], int | None]]] = {}
    for visit in problem.visits:
        if visit.centre_id not in nodes.depot_of_centre:
            continue
        allowed_of = [
            _eligible_vehicles(problem, vehicles, visit, place)
            for place in range(len(visit.staffing))
        ]
        frames = {vehicles[v].frame: vehicles[v].clinician.lunch for a in allowed_of for v in a}
        late = visit.late_allowed_min if len(visit.windows) == 1 and len(frames) == 1 else 0
        late_from = None
        if late and visit.windows[0].day in problem.days:
            window, (frame,) = visit.windows[0], frames
            day = problem.days.index(window.day)
            late_from = (frame * 7 + day) * MINUTES_PER_DAY + window.end_min - visit.duration_min
        places = []
        for place, allowed in enumerate(allowed_of):
            own = {vehicles[v].frame: vehicles[v].clinician.lunch for v in allowed}
            starts = sorted(
                r
                for frame, lunch in own.items()
                for r in _start_ranges(problem, visit, lunch, frame, late)
            )
            if starts:
                places.append((place, allowed, starts, late_from))
        if len(places) == len(visit.staffing):
            planned[visit.visit_id] = places  # else nobody can ever do it in time: left out
    pairs: list[tuple[str, int, str, int, int, int]] = []  # (visit, place, visit, place, gaps)
    for visit_id, places in planned.items():
        pairs += [(visit_id, 0, visit_id, p, 0, 0) for p in range(1, len(places))]
    for link in problem.links:
        pairs.append((link.first_id, 0, link.second_id, 0, link.gap_min, link.gap_max))
    dropped: set[str] = set()
    for a, pa, b, pb, lo, hi in pairs:
        if (
            a not in planned
            or b not in planned
            or not _can_meet(planned[a][pa][2], planned[b][pb][2], lo, hi)
        ):
            dropped |= {a, b}
    while True:  # a link drops its partner, whose other pairs drop theirs
        more = {x for a, _, b, _, _, _ in pairs for x in (a, b) if {a, b} & dropped} - dropped
        if not more:
            break
        dropped |= more
    carriers: list[int] = []
    node_of: dict[tuple[str, int], int] = {}
    for visit in problem.visits:
        if visit.visit_id not in planned or visit.visit_id in dropped:
            continue
        carrier = _carrier_place(visit) if visit.sample_return_min is not None else None
        for place, allowed, starts, late_from in planned[visit.visit_id]:
            node = nodes.add(
                visit.location,
                visit.duration_min,
                visit,
                place,
                allowed,
                starts=starts,
                late_from=late_from,
            )
            node_of[(visit.visit_id, place)] = node
            if place == carrier:
                carriers.append(node)
    nodes.pairs = [
        (node_of[(a, pa)], node_of[(b, pb)], lo, hi)
        for a, pa, b, pb, lo, hi in pairs
        if a not in dropped and b not in dropped
    ]
    for node in carriers:
        sampled = nodes.visit_of[node]
        assert sampled is not None
        nodes.add(
            problem.centres[sampled.centre_id].location,
            problem.sample_handover_min,
            sampled,
            nodes.part_of[node],
            nodes.allowed[node],
            pickup=node,
        )
    return nodes


WEEK_MIN = 7 * MINUTES_PER_DAY  # one lunch frame of the time axis


def _can_meet(
    first: Sequence[tuple[int, int]], second: Sequence[tuple[int, int]], lo: int, hi: int
) -> bool:
    """Whether starts in the two domains can lie ``lo..hi`` apart, at the same minute of the
    week up to whole frames (the two nodes may be done in different lunch frames)."""
    for a1, a2 in first:
        for b1, b2 in second:
            d1, d2 = b1 - a2, b2 - a1  # the differences the two ranges allow
            k_lo = -((hi - d1) // WEEK_MIN)  # ceil((d1 - hi) / W)
            k_hi = (d2 - lo) // WEEK_MIN  # floor((d2 - lo) / W)
            if k_lo <= k_hi:
                return True
    return False


def _start_ranges(
    problem: Problem, visit: Visit, lunch: TimeWindow | None, frame: int, late_min: int = 0
) -> list[tuple[int, int]]:
    """Ranges of the time axis (in ``frame``) in which the visit may start, clear of ``lunch``.

    ``late_min``: how far past the latest on-time start it may still start (within the day).
    """
    day_of = {day: i for i, day in enumerate(problem.days)}
    starts: list[tuple[int, int]] = []
    for w in visit.windows:
        if w.day not in day_of:
            continue
        offset = (frame * 7 + day_of[w.day]) * MINUTES_PER_DAY
        latest = min(
            w.end_min - visit.duration_min + late_min, MINUTES_PER_DAY - visit.duration_min
        )
        day_starts = [(w.start_min, latest)]
        if lunch is not None:  # no visit overlaps lunch
            overlap_from = lunch.start_min - visit.duration_min
            day_starts = subtract(day_starts, overlap_from, lunch.end_min)
        starts += [(offset + lo, offset + hi) for lo, hi in day_starts]
    return starts


def _set_domain(cumul: pywrapcp.IntVar, starts: list[tuple[int, int]]) -> None:
    """Restrict a cumul to the union of inclusive, sorted, non-empty ranges."""
    cumul.SetRange(starts[0][0], max(hi for _, hi in starts))
    reach = starts[0][1]
    for lo, hi in starts[1:]:
        if lo > reach + 1:
            cumul.RemoveInterval(reach + 1, lo - 1)
        reach = max(reach, hi)


def solve_routing(
    problem: Problem,
    travel: TravelTimeProvider,
    params: SolveParams,
    *,
    progress: ProgressCallback | None = None,
    should_stop: StopRequested | None = None,
    initial: Plan | None = None,
    deadline: Deadline | None = None,
) -> Plan:
    """Solve ``problem`` with OR-Tools and return the best plan found by ``deadline``.

    ``deadline`` is the caller's (:func:`scheduler.solve.solve` hands each part its share);
    without one, ``params.time_limit_s`` from now.

    With ``initial`` (a valid plan of the same visits, e.g. solved team by team), the search
    starts from it instead of building a first solution, and its joint visits keep their slots.
    Unscheduled visits carry an empty reason; :func:`scheduler.solve.solve` fills it in.
    """
    started = time.monotonic()
    deadline = deadline or params.deadline()
    vehicles = _vehicles(problem)
    nodes = _build_nodes(problem, vehicles)
    n = len(nodes.locations)
    if not vehicles or n == len(problem.centres):
        return _empty_plan(problem, started, "nothing to route")

    modes = {veh.clinician.travel_mode for veh in vehicles}
    matrices = _Matrices(travel, nodes.locations, modes)
    greedy: list[list[tuple[int, int]]] | None = None
    start_routes: list[list[int]] | None = None
    if initial is not None:
        pinned = _pins_from(initial, problem, vehicles, nodes)
        start_routes = _routes_from(initial, problem, vehicles, nodes, pinned)
    elif params.greedy_start and params.lns_share > 0 and _builds_own_start(nodes):
        # A week made of pairs, all of which ruin and recreate moves: its own construction
        # (pairs placed together, in window order) is the start; reserving slots for the pairs
        # first took seconds on Mankowska's set G for a start several times costlier.
        pinned = {}
        empty: list[list[tuple[int, int]]] = [[] for _ in vehicles]
        greedy = _improve_pairs(problem, params, vehicles, nodes, matrices, empty, deadline)
    else:
        pinned = place_joint_visits(problem, vehicles, nodes, matrices)
        greedy = (
            greedy_routes(problem, params, vehicles, nodes, matrices, pinned)
            if params.greedy_start
            else None
        )
        if greedy is not None and _pair_heavy(nodes) and params.lns_share > 0:
            greedy = _improve_pairs(problem, params, vehicles, nodes, matrices, greedy, deadline)
    if greedy is not None:
        start_routes = [[node for node, _ in route] for route in greedy]

    # The slots found for joint and linked visits are only the search's start: the model ties
    # each pair's starts together (_synchronise), and the search moves them like any visit.
    inputs = _Inputs(problem, vehicles, nodes, matrices, pinned)
    search = _Search(params, started, deadline, progress, should_stop)
    routing, manager, time_dim, solution = _solve_model(inputs, search, start_routes)
    if solution is None and greedy is not None:
        # The limit came before the search had even restored its start: the start is the plan.
        plan = _repaired_plan(inputs, params, greedy)
        return dataclasses.replace(
            plan,
            solve_seconds=round(time.monotonic() - started, 2),
            status="greedy start (time limit reached before the search)",
        )
    if solution is None:
        retry = dataclasses.replace(search, deadline=deadline.at_least(MIN_RETRY_S))
        routing, manager, time_dim, solution = _solve_model(inputs, retry)
    if solution is None:
        return _empty_plan(problem, started, f"no solution (status {routing.status()})")
    plan = _repaired_plan(inputs, params, _extract(vehicles, routing, manager, time_dim, solution))
    if greedy is not None:
        # The search starts from the greedy plan and keeps the best it finds; if it could not
        # read that start and was cut short building its own, the start is still the better plan.
        start = _plan_from_sequences(problem, vehicles, nodes, matrices, greedy)
        if _visits_placed(start) > _visits_placed(plan):
            return dataclasses.replace(
                _repaired_plan(inputs, params, greedy),
                solve_seconds=round(time.monotonic() - started, 2),
                status="greedy start (the search found nothing better in time)",
            )
    return dataclasses.replace(
        plan,
        solve_seconds=round(time.monotonic() - started, 2),
        objective=int(solution.ObjectiveValue()),
        status=_STATUS.get(routing.status(), str(routing.status())),
    )


LNS_MIN_PAIRED_SHARE = 0.2  # of the visit nodes in pairs, for ruin and recreate to run
SMALL_WEEK_VISITS = 150  # up to this many visit nodes, ruin and recreate keeps the given start


def _pair_heavy(nodes: _Nodes) -> bool:
    """Whether ruin and recreate runs: a week with few pairs (the sample centre: 14 joint
    visits in 572) is the routing search's strength (measured side by side at 30 s, time given
    to ruin and recreate there cost travel); one made of pairs (a double service in every third
    visit) is ruin and recreate's."""
    paired = nodes.paired()
    return bool(paired) and len(paired) >= LNS_MIN_PAIRED_SHARE * _visit_nodes(nodes)


def _visit_nodes(nodes: _Nodes) -> int:
    """The visit nodes (each part of a joint visit counts; hand-ins do not)."""
    return sum(1 for n, v in enumerate(nodes.visit_of) if v and not nodes.is_handin[n])


def _small(nodes: _Nodes) -> bool:
    """Whether the week is small enough for the slot reservation and regret insertion to be
    the start of ruin and recreate (which then builds none of its own): Mankowska B1 at 20 s,
    from its own window-order start the search settled at 1,370 whatever the seed, threshold or
    insertion breadth (2.6 %); from the reserved slots at 1,310 (0.23 %). At 60 s, own start
    against reserved slots (mean gap): C 6.65 / 2.46 %, D (98 visit nodes) 10.6 / 1.8 %,
    E (130) 4.5 / 2.4 %, but F (260) 4.7 / 5.9 %: there the reservation takes seconds for a
    start several times costlier than the search's own (G1: 45,156 against 8,327)."""
    return _visit_nodes(nodes) <= SMALL_WEEK_VISITS


def _builds_own_start(nodes: _Nodes) -> bool:
    """Whether ruin and recreate builds the start: a pair-heavy week, not small, with no lab
    sample and no joint visit of three (which it does not move, so they need the pinned start)."""
    if not _pair_heavy(nodes) or _small(nodes) or any(nodes.is_handin):
        return False
    seen: set[int] = set()
    for a, b, _, _ in nodes.pairs:
        if a in seen or b in seen:
            return False
        seen |= {a, b}
    return True


def _improve_pairs(
    problem: Problem,
    params: SolveParams,
    vehicles: Sequence[Vehicle],
    nodes: _Nodes,
    matrices: _Matrices,
    start: list[list[tuple[int, int]]],
    deadline: Deadline,
) -> list[list[tuple[int, int]]]:
    """The start improved by ruin and recreate (:mod:`scheduler.solvers.lns`) for its share."""
    paired = nodes.paired()
    pinned = {node: (v, t) for v, seq in enumerate(start) for node, t in seq if node in paired}
    tours = make_tours(problem, vehicles, nodes, matrices, pinned)
    for tour, seq in zip(tours, start, strict=True):
        tour.stops = [node for node, _ in seq]
        if not tour.update():
            return start  # not a start the tours can hold: the routing search alone
    penalty = [
        params.drop_penalty[visit.urgency]
        if visit is not None and not nodes.is_handin[node] and nodes.part_of[node] == 0
        else 0
        for node, visit in enumerate(nodes.visit_of)
    ]
    mode = vehicles[0].clinician.travel_mode
    ruin_and_recreate(
        vehicles,
        nodes,
        tours,
        _vehicle_costs(problem, params, vehicles, nodes),
        pinned,
        penalty,
        matrices.minutes[mode],
        LnsParams(deadline=deadline.share(params.lns_share).at, construct=not _small(nodes)),
    )
    return [list(zip(tour.stops, tour.earliest[1:-1], strict=True)) for tour in tours]


def _visits_placed(plan: Plan) -> int:
    return len({stop.visit_id for stop in plan.stops()})


@dataclass(frozen=True, slots=True)
class _Inputs:
    """What the model is built from."""

    problem: Problem
    vehicles: Sequence[Vehicle]
    nodes: _Nodes
    matrices: _Matrices
    pinned: dict[int, tuple[int, int]]


@dataclass(frozen=True, slots=True)
class _Search:
    """How it is searched, and who is told about it."""

    params: SolveParams
    started: float
    deadline: Deadline
    progress: ProgressCallback | None
    should_stop: StopRequested | None


def _solve_model(
    inputs: _Inputs,
    how: _Search,
    start_routes: list[list[int]] | None = None,
) -> tuple[
    pywrapcp.RoutingModel,
    pywrapcp.RoutingIndexManager,
    pywrapcp.RoutingDimension,
    pywrapcp.Assignment | None,
]:
    """Build the routing model and search it (from ``start_routes`` when given)."""
    problem, vehicles, nodes = inputs.problem, inputs.vehicles, inputs.nodes
    matrices = inputs.matrices
    params, started, progress, should_stop = how.params, how.started, how.progress, how.should_stop
    n = len(nodes.locations)
    modes = {veh.clinician.travel_mode for veh in vehicles}
    depots = [nodes.depot_of_centre[veh.clinician.centre_id] for veh in vehicles]
    manager = pywrapcp.RoutingIndexManager(n, len(vehicles), depots, depots)
    routing = pywrapcp.RoutingModel(manager)
    solver = routing.solver()
    service = np.array(nodes.service_min, dtype=np.int64)

    transit_index: dict[TravelMode, int] = {}
    handins = np.flatnonzero(nodes.is_handin)
    for mode in modes:
        transit = service[:, None] + matrices.minutes[mode]
        # Samples handed in on one pass at the centre: one handover, as the evaluator times it.
        transit[np.ix_(handins, handins)] *= matrices.minutes[mode][np.ix_(handins, handins)] > 0
        transit_index[mode] = routing.RegisterTransitMatrix(transit.tolist())
    _set_arc_costs(params, routing, vehicles, nodes, matrices)
    _set_late_costs(problem, params, routing, vehicles, nodes)

    horizon = 7 * MINUTES_PER_DAY * len(_lunch_frames(problem))
    routing.AddDimensionWithVehicleTransits(
        [transit_index[veh.clinician.travel_mode] for veh in vehicles],
        horizon,
        horizon,
        False,
        "time",
    )
    time_dim = routing.GetDimensionOrDie("time")
    transits = [transit_index[veh.clinician.travel_mode] for veh in vehicles]
    _set_vehicle_hours(problem, params, routing, time_dim, vehicles, transits)
    _set_visits(problem, params, routing, time_dim, nodes, manager)
    _synchronise(problem, routing, time_dim, nodes, manager)

    search = pywrapcp.DefaultRoutingSearchParameters()
    search.first_solution_strategy = getattr(
        routing_enums_pb2.FirstSolutionStrategy, params.first_solution
    )
    search.local_search_metaheuristic = getattr(
        routing_enums_pb2.LocalSearchMetaheuristic, params.metaheuristic
    )
    # The limit is for the whole solve: building the model and the start came out of it.
    search.time_limit.FromMilliseconds(int(how.deadline.left_s(MIN_SEARCH_S) * 1000))
    if params.solution_limit is not None:
        search.solution_limit = params.solution_limit
    search.log_search = params.log_search
    for name, enabled in params.operators.items():
        setattr(search.local_search_operators, f"use_{name}", _BOOL[enabled])

    visit_indices = [
        (manager.NodeToIndex(node), visit.visit_id)
        for node, visit in enumerate(nodes.visit_of)
        if visit is not None and not nodes.is_handin[node] and nodes.part_of[node] == 0
    ]
    if progress is not None:

        def report() -> None:
            placed = len({vid for i, vid in visit_indices if routing.NextVar(i).Value() != i})
            progress(
                Progress(
                    time.monotonic() - started,
                    placed,
                    len(problem.visits),
                    int(routing.CostVar().Max()),
                )
            )

        routing.AddAtSolutionCallback(report)
    first = None
    if start_routes is not None:
        indices = [[manager.NodeToIndex(node) for node in route] for route in start_routes]
        first = routing.ReadAssignmentFromRoutes(indices, True)
    # Reading the start runs a small search under the model's monitors: a stop request
    # watched already then would lose the start, so it is watched from here on.
    if should_stop is not None:
        routing.AddSearchMonitor(solver.CustomLimit(should_stop))
    if first is not None:
        return routing, manager, time_dim, routing.SolveFromAssignmentWithParameters(first, search)
    solution = routing.SolveWithParameters(search)
    return routing, manager, time_dim, solution


MIN_SEARCH_S = 0.05  # the search always gets this long, even when building used up the limit
MIN_RETRY_S = 1.0  # a search retried with joint visits optional gets this long at least

_BOOL = {True: 3, False: 2}  # OptionalBoolean BOOL_TRUE / BOOL_FALSE

_STATUS = {
    0: "not solved",
    1: "success",
    2: "partial success (limit reached)",
    3: "failed",
    4: "time limit",
    5: "invalid",
    6: "infeasible",
    7: "optimal",
}


def _set_arc_costs(
    params: SolveParams,
    routing: pywrapcp.RoutingModel,
    vehicles: Sequence[Vehicle],
    nodes: _Nodes,
    matrices: _Matrices,
) -> None:
    """One cost matrix per clinician: travel, plus continuity and cover costs on arriving arcs."""
    by_clinician: dict[str, int] = {}
    for v, vehicle in enumerate(vehicles):
        clinician = vehicle.clinician
        if clinician.clinician_id not in by_clinician:
            extra = _arrival_costs(params, clinician, nodes)
            cost = matrices.minutes[clinician.travel_mode] + extra[None, :]
            by_clinician[clinician.clinician_id] = routing.RegisterTransitMatrix(cost.tolist())
        routing.SetArcCostEvaluatorOfVehicle(by_clinician[clinician.clinician_id], v)


def _day_late_costs(problem: Problem, params: SolveParams, nodes: _Nodes) -> npt.NDArray[np.int64]:
    """``[day index, node]``: the cost of doing the node's visit on that day of the week.

    Hand-ins and depots cost nothing; see :func:`scheduler.timeliness.late_cost`.
    """
    costs = np.zeros((len(problem.days), len(nodes.locations)), dtype=np.int64)
    first_days: dict[str, dt.date | None] = {}
    for node, visit in enumerate(nodes.visit_of):
        if visit is None or nodes.is_handin[node]:
            continue
        if visit.visit_id not in first_days:
            first_days[visit.visit_id] = first_feasible_day(problem, visit)
        first = first_days[visit.visit_id]
        for day_index, day in enumerate(problem.days):
            costs[day_index, node] = late_cost(visit, day, first, params.late_cost_per_day)
    return costs


def _vehicle_costs(
    problem: Problem, params: SolveParams, vehicles: Sequence[Vehicle], nodes: _Nodes
) -> list[npt.NDArray[np.int64]]:
    """Per vehicle, the soft cost of each node on it: continuity, cover and days late."""
    by_clinician: dict[str, npt.NDArray[np.int64]] = {}
    for vehicle in vehicles:
        clinician = vehicle.clinician
        if clinician.clinician_id not in by_clinician:
            by_clinician[clinician.clinician_id] = _arrival_costs(params, clinician, nodes)
    late = _day_late_costs(problem, params, nodes)
    return [by_clinician[veh.clinician.clinician_id] + late[veh.day_index] for veh in vehicles]


def _set_late_costs(
    problem: Problem,
    params: SolveParams,
    routing: pywrapcp.RoutingModel,
    vehicles: Sequence[Vehicle],
    nodes: _Nodes,
) -> None:
    """Days late as a cost of the vehicle (clinician-day) a visit is on.

    A dimension without slack whose transit is the late cost of the node left, one unary
    vector per day of the week; its value at a route's end is the route's late cost, paid
    through a soft upper bound of 0 (like the workload). Its cumuls follow from the route
    alone, so no move needs a scheduling LP, and the arc costs keep one class per clinician.
    """
    late = _day_late_costs(problem, params, nodes)
    if not late.any():
        return
    by_day = {d: routing.RegisterUnaryTransitVector(late[d].tolist()) for d in range(len(late))}
    capacity = int(late.sum(axis=1).max())
    routing.AddDimensionWithVehicleTransits(
        [by_day[veh.day_index] for veh in vehicles], 0, capacity, True, "late"
    )
    late_dim = routing.GetDimensionOrDie("late")
    for v in range(len(vehicles)):
        late_dim.SetCumulVarSoftUpperBound(routing.End(v), 0, 1)


def _arrival_costs(
    params: SolveParams, clinician: Clinician, nodes: _Nodes
) -> npt.NDArray[np.int64]:
    """The soft cost of ``clinician`` arriving at each node: continuity and cover."""
    extra = np.zeros(len(nodes.locations), dtype=np.int64)
    for node, visit in enumerate(nodes.visit_of):
        if visit is None or nodes.is_handin[node]:
            continue
        if visit.preferred_clinician_id not in (None, clinician.clinician_id):
            extra[node] += params.continuity_cost_min
        if visit.team_id != clinician.team_id:
            extra[node] += params.cross_team_cost_min
    return extra


def _set_vehicle_hours(
    problem: Problem,
    params: SolveParams,
    routing: pywrapcp.RoutingModel,
    time_dim: pywrapcp.RoutingDimension,
    vehicles: Sequence[Vehicle],
    transits: Sequence[int],
) -> None:
    """Shifts (lunch is a hole in each visit's domain), and even workloads.

    Workload is a second dimension without slack (service + travel), so its end value is known
    from the route alone; a soft bound on it at the even share keeps days balanced. (A soft
    bound on the time dimension's end would make every move solve a scheduling LP: ten times
    slower, and the search stalls before placing every visit it could.)
    """
    for v, vehicle in enumerate(vehicles):
        shift = vehicle.clinician.shift
        offset = vehicle.offset_min
        start, end = time_dim.CumulVar(routing.Start(v)), time_dim.CumulVar(routing.End(v))
        start.SetRange(offset + shift.start_min, offset + shift.end_min)
        end.SetRange(offset + shift.start_min, offset + shift.end_min + problem.max_overtime_min)
        routing.AddVariableMaximizedByFinalizer(start)
        routing.AddVariableMinimizedByFinalizer(end)
    if params.balance_cost_per_min <= 0:
        return
    longest = max(v.clinician.shift.length_min for v in vehicles) + problem.max_overtime_min
    routing.AddDimensionWithVehicleTransits(transits, 0, longest, True, "work")
    work_dim = routing.GetDimensionOrDie("work")
    work = sum(v.duration_min * len(v.staffing) for v in problem.visits)
    even_share = int(params.balance_slack * work / len(vehicles))
    for v in range(len(vehicles)):
        work_dim.SetCumulVarSoftUpperBound(routing.End(v), even_share, params.balance_cost_per_min)


def _set_visits(
    problem: Problem,
    params: SolveParams,
    routing: pywrapcp.RoutingModel,
    time_dim: pywrapcp.RoutingDimension,
    nodes: _Nodes,
    manager: pywrapcp.RoutingIndexManager,
) -> None:
    """Windows, lateness, who may do each visit, penalties and lab-sample deadlines.

    Every visit is optional at its urgency's penalty (a joint visit's on its first part: the
    pair is done whole or not at all, see :func:`_synchronise`).
    """
    solver = routing.solver()
    for node, visit in enumerate(nodes.visit_of):
        if visit is None:
            continue
        index = manager.NodeToIndex(node)
        if nodes.is_handin[node]:
            # Pickup (the visit) and delivery (the hand-in): same vehicle, in that order,
            # both or neither, and the deadline between their times.
            assert visit.sample_return_min is not None
            pickup = manager.NodeToIndex(nodes.pickup_of[node])
            routing.AddDisjunction([index], 0)
            routing.AddPickupAndDelivery(pickup, index)
            routing.VehicleVar(index).SetValues([-1, *nodes.allowed[node]])
            solver.Add(
                time_dim.CumulVar(index) <= time_dim.CumulVar(pickup) + visit.sample_return_min
            )
            continue
        penalty = params.drop_penalty[visit.urgency] if nodes.part_of[node] == 0 else 0
        routing.AddDisjunction([index], penalty)
        cumul = time_dim.CumulVar(index)
        routing.VehicleVar(index).SetValues([-1, *nodes.allowed[node]])
        _set_domain(cumul, nodes.starts[node])
        late_from = nodes.late_from[node]
        if late_from is not None and visit.late_cost_per_min > 0:
            time_dim.SetCumulVarSoftUpperBound(index, late_from, visit.late_cost_per_min)
        routing.AddVariableMinimizedByFinalizer(cumul)


def _synchronise(
    problem: Problem,
    routing: pywrapcp.RoutingModel,
    time_dim: pywrapcp.RoutingDimension,
    nodes: _Nodes,
    manager: pywrapcp.RoutingIndexManager,
) -> None:
    """Tie each pair's starts: both done or neither, by two clinicians, ``lo..hi`` apart.

    The two halves of a joint visit (gap 0) and two linked visits are ordinary nodes of their
    own routes, so the search moves them like any other; these constraints only keep them
    together. Each lunch time has its own copy of the week on the time axis, so two nodes in
    different frames meet at the same minute of the week up to whole frames.
    """
    solver = routing.solver()
    frames = len(_lunch_frames(problem))
    for a, b, lo, hi in nodes.pairs:
        ia, ib = manager.NodeToIndex(a), manager.NodeToIndex(b)
        active = routing.ActiveVar(ia)
        solver.Add(active == routing.ActiveVar(ib))
        different = solver.IsDifferentVar(routing.VehicleVar(ia), routing.VehicleVar(ib))
        solver.Add(different >= active)  # two clinicians: the day is the same by the times
        gap = time_dim.CumulVar(ib) - time_dim.CumulVar(ia)
        if frames > 1:
            shift = solver.IntVar(-(frames - 1), frames - 1, f"frame shift {a}-{b}")
            gap = gap - shift * WEEK_MIN
        if lo == hi:
            solver.Add(gap == lo)
        else:
            solver.Add(gap >= lo)
            solver.Add(gap <= hi)


def _extract(
    vehicles: Sequence[Vehicle],
    routing: pywrapcp.RoutingModel,
    manager: pywrapcp.RoutingIndexManager,
    time_dim: pywrapcp.RoutingDimension,
    solution: pywrapcp.Assignment,
) -> list[list[tuple[int, int]]]:
    """Per vehicle, the solution's ``(node, start minute of the week)``."""
    sequences: list[list[tuple[int, int]]] = []
    for v in range(len(vehicles)):
        index = solution.Value(routing.NextVar(routing.Start(v)))
        seq = []
        while not routing.IsEnd(index):
            seq.append((manager.IndexToNode(index), solution.Value(time_dim.CumulVar(index))))
            index = solution.Value(routing.NextVar(index))
        sequences.append(seq)
    return sequences


def _repaired_plan(
    inputs: _Inputs, params: SolveParams, sequences: Sequence[Sequence[tuple[int, int]]]
) -> Plan:
    """The plan of ``sequences`` once :func:`repair_urgency` has mended them."""
    problem, vehicles, nodes = inputs.problem, inputs.vehicles, inputs.nodes
    if not params.repair:
        return _plan_from_sequences(problem, vehicles, nodes, inputs.matrices, sequences)
    # Joint and linked visits stay where the search put them: pinned there for the repair.
    paired = nodes.paired()
    pinned = {
        node: (v, start) for v, seq in enumerate(sequences) for node, start in seq if node in paired
    }
    tours = make_tours(problem, vehicles, nodes, inputs.matrices, pinned)
    cost = _vehicle_costs(problem, params, vehicles, nodes)
    repaired = repair_urgency(problem, vehicles, nodes, tours, cost, pinned, sequences)
    return _plan_from_sequences(problem, vehicles, nodes, inputs.matrices, repaired)


def _plan_from_sequences(
    problem: Problem,
    vehicles: Sequence[Vehicle],
    nodes: _Nodes,
    matrices: _Matrices,
    sequences: Sequence[Sequence[tuple[int, int]]],
) -> Plan:
    """Routes from each vehicle's ``(node, start minute of week)``; joint visits kept whole."""
    performed: dict[str, int] = defaultdict(int)
    for seq in sequences:
        for node, _ in seq:
            visit = nodes.visit_of[node]
            if visit is not None and not nodes.is_handin[node]:
                performed[visit.visit_id] += 1
    complete = {
        visit.visit_id
        for visit in problem.visits
        if performed.get(visit.visit_id, 0) == len(visit.staffing)
    }
    for link in problem.links:  # both or neither
        if not {link.first_id, link.second_id} <= complete:
            complete -= {link.first_id, link.second_id}
    routes = []
    for v, seq in enumerate(sequences):
        route = _route(problem, vehicles[v], nodes, matrices, list(seq), complete)
        if route is not None:
            routes.append(route)
    unscheduled = tuple(
        Unscheduled(v.visit_id, "") for v in problem.visits if v.visit_id not in complete
    )
    return Plan(routes=tuple(routes), unscheduled=unscheduled)


def _route(
    problem: Problem,
    vehicle: Vehicle,
    nodes: _Nodes,
    matrices: _Matrices,
    seq: list[tuple[int, int]],
    complete: set[str],
) -> Route | None:
    clinician = vehicle.clinician
    minutes = matrices.minutes[clinician.travel_mode]
    km = matrices.km[clinician.travel_mode]
    depot = nodes.depot_of_centre[clinician.centre_id]
    stops: list[Stop] = []
    here, end_prev, via = depot, None, False
    depart = 0
    travel_total, km_total = 0, 0.0
    for node, start_week in seq:
        visit = nodes.visit_of[node]
        if visit is None or visit.visit_id not in complete:
            continue
        if nodes.is_handin[node]:
            via = here != depot
            continue
        if via:
            leg = int(minutes[here, depot] + problem.sample_handover_min + minutes[depot, node])
            leg_km = float(km[here, depot] + km[depot, node])
        else:
            leg, leg_km = int(minutes[here, node]), float(km[here, node])
        start = start_week - vehicle.offset_min
        if end_prev is None:
            depart = start - leg
            end_prev = depart
        stops.append(
            Stop(
                visit.visit_id,
                clinician.clinician_id,
                problem.days[vehicle.day_index],
                len(stops) + 1,
                end_prev + leg,
                start,
                start + visit.duration_min,
                leg,
                round(leg_km, 3),
                via,
            )
        )
        travel_total += leg
        km_total += leg_km
        here, end_prev, via = node, start + visit.duration_min, False
    if not stops or end_prev is None:
        return None
    back = int(minutes[here, depot])
    ret = end_prev + back
    return Route(
        clinician_id=clinician.clinician_id,
        day=problem.days[vehicle.day_index],
        depart_min=depart,
        return_min=ret,
        stops=tuple(stops),
        travel_min=travel_total + back,
        travel_km=round(km_total + float(km[here, depot]), 3),
        work_min=ret - depart,
        overtime_min=max(0, ret - clinician.shift.end_min),
    )


def _empty_plan(problem: Problem, started: float, status: str) -> Plan:
    return Plan(
        routes=(),
        unscheduled=tuple(Unscheduled(v.visit_id, "") for v in problem.visits),
        solve_seconds=round(time.monotonic() - started, 2),
        status=status,
    )
