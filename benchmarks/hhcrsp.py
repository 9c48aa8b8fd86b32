"""Home health care routing with interdependent services (HHCRSP): construction, LNS, OR-Tools.

The problem of Mankowska, Meisel & Bierwirth (2014): caregivers with qualifications visit
patients who need one service, or two services by two different caregivers either at the same
time or with a gap between ``gap_min`` and ``gap_max``. A service starts no earlier than its
patient's window opens; starting after the window closes is tardiness. The objective weighs
travel distance, total tardiness and the largest tardiness equally.

:func:`solve_hhcrsp` runs three stages within one time limit and keeps the best by the true
objective:

1. :func:`construct_routes`, a greedy that appends patients in window order and places the two
   halves of a double service together on two caregivers: always feasible, no deadlock (the
   routing model's own first-solution strategies find nothing on the 300-patient set);
2. :class:`RuinRecreate`, a large neighbourhood search that removes and reinserts a double
   service as a pair, with start times that satisfy its gap (most of the time limit);
3. the OR-Tools routing local search on a model with one node per (patient, service), where
   the two halves' time cumuls are linked by solver constraints (equal, or the gap bounds) and
   their vehicles must differ, window closing as a soft upper bound and qualifications as
   ``VehicleVar`` domains (the rest of the time).

Start times are never read from the solver's cumuls but recomputed by :func:`earliest_schedule`:
every constraint on start times is a difference constraint, so the earliest feasible schedule
of fixed routes is the componentwise least one and minimises total and maximum tardiness at once.
"""

from __future__ import annotations

import bisect
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

FloatMatrix = npt.NDArray[np.float64]
# Start-time comparisons tolerate float noise of summed real-valued distances.
TIME_TOLERANCE = 1e-6


@dataclass(frozen=True, slots=True)
class Patient:
    """One patient: the services it needs, when and for how long.

    ``services`` holds one service type, or two (ascending) for a double service; for a double
    service the second starts between ``gap_min`` and ``gap_max`` after the first (both 0:
    simultaneous).
    """

    node: int
    services: tuple[int, ...]
    duration_by_service: tuple[float, ...]
    window_open: float
    window_close: float
    gap_min: float = 0.0
    gap_max: float = 0.0

    def __post_init__(self) -> None:
        if len(self.services) not in (1, 2) or len(self.duration_by_service) != len(self.services):
            raise ValueError(f"patient {self.node}: one or two services, each with a duration")
        if len(self.services) == 2 and not self.gap_min <= self.gap_max:
            raise ValueError(f"patient {self.node}: gap_min > gap_max")


@dataclass(frozen=True, slots=True)
class HhcrspProblem:
    """An HHCRSP instance as plain data.

    ``distance`` is the square travel matrix over nodes (distance = travel time); node
    ``depot`` is where every caregiver starts and ends. ``qualifications[v]`` holds the service
    types caregiver ``v`` may do.
    """

    distance: FloatMatrix
    depot: int
    patients: tuple[Patient, ...]
    qualifications: tuple[frozenset[int], ...]

    def __post_init__(self) -> None:
        size = self.distance.shape[0]
        if self.distance.shape != (size, size):
            raise ValueError("distance must be square")
        for patient in self.patients:
            if not 0 <= patient.node < size or patient.node == self.depot:
                raise ValueError(f"patient node {patient.node} is not a customer node")
            for service in patient.services:
                if not any(service in skills for skills in self.qualifications):
                    raise ValueError(
                        f"no caregiver can do service {service} (patient {patient.node})"
                    )


@dataclass(frozen=True, slots=True)
class Task:
    """One (patient, service) to be done: a routing node of the model."""

    patient_index: int
    service: int
    node: int
    duration: float
    window_open: float
    window_close: float


@dataclass(frozen=True, slots=True)
class ScheduledVisit:
    """A service done by a caregiver, starting at ``start``."""

    patient_node: int
    service: int
    start: float


@dataclass(frozen=True, slots=True)
class HhcrspParams:
    """Search settings and model weights.

    ``tardiness_weight`` is the cost per unit of tardiness relative to one unit of distance
    when placing a visit (ruin and recreate) and in the routing model's soft upper bounds;
    the objective also counts the largest tardiness, which neither stage can cost locally, so
    weighing tardiness above 1 stands in for it (the true objective decides acceptance).
    ``lns_share`` is the part of the time limit given to ruin and recreate, the rest to the
    OR-Tools routing local search. ``lns_iterations`` and ``solution_limit`` stop the two
    stages by count instead of time (tests).
    """

    time_limit_s: float = 60.0
    scale: int = 1000
    tardiness_weight: float = 2.0
    metaheuristic: str = "GUIDED_LOCAL_SEARCH"
    lns_share: float = 0.85
    lns_temperature: float = 0.003
    lns_max_removed: int = 40
    seed: int = 1
    lns_iterations: int | None = None
    solution_limit: int | None = None
    log_search: bool = False


@dataclass(frozen=True, slots=True)
class HhcrspSolution:
    """Caregiver routes with start times, and how the search went.

    ``solver_status`` is the OR-Tools routing status of the last stage ("NOT_RUN" when ruin
    and recreate used the whole limit); ``construction_cost`` is the first solution's
    objective; ``notes`` holds each stage's objective, the LNS iterations and the time used.
    """

    routes: tuple[tuple[ScheduledVisit, ...], ...]
    feasible: bool
    solver_status: str
    construction_cost: float = math.nan
    notes: dict[str, float] = field(default_factory=dict)


def tasks_of(problem: HhcrspProblem) -> tuple[list[Task], list[tuple[int, int]]]:
    """The (patient, service) tasks and the index pairs of double services (first, second)."""
    tasks: list[Task] = []
    pairs: list[tuple[int, int]] = []
    for patient_index, patient in enumerate(problem.patients):
        first = len(tasks)
        for service, duration in zip(patient.services, patient.duration_by_service, strict=True):
            tasks.append(
                Task(
                    patient_index,
                    service,
                    patient.node,
                    duration,
                    patient.window_open,
                    patient.window_close,
                )
            )
        if len(patient.services) == 2:
            pairs.append((first, first + 1))
    return tasks, pairs


def earliest_schedule(
    problem: HhcrspProblem,
    tasks: Sequence[Task],
    pairs: Sequence[tuple[int, int]],
    routes: Sequence[Sequence[int]],
) -> list[float] | None:
    """Earliest start time of every task on fixed routes, or None if the routes deadlock.

    A label-correcting pass over difference constraints: route order (previous start plus its
    duration and travel), window opening, and the gap bounds of double services. A cycle of
    waiting (A waits for B's partner, who waits for A's) makes times grow without bound; more
    rounds than tasks detects it.
    """
    start = [task.window_open for task in tasks]
    gaps = [
        (first, second, problem.patients[tasks[first].patient_index]) for first, second in pairs
    ]
    for _ in range(len(tasks) + 2):
        changed = False
        for route in routes:
            previous_node, ready = problem.depot, 0.0
            for task_index in route:
                task = tasks[task_index]
                arrival = ready + float(problem.distance[previous_node, task.node])
                if arrival > start[task_index] + TIME_TOLERANCE:
                    start[task_index] = arrival
                    changed = True
                previous_node, ready = task.node, start[task_index] + task.duration
        for first, second, patient in gaps:
            if start[first] + patient.gap_min > start[second] + TIME_TOLERANCE:
                start[second] = start[first] + patient.gap_min
                changed = True
            if start[second] - patient.gap_max > start[first] + TIME_TOLERANCE:
                start[first] = start[second] - patient.gap_max
                changed = True
        if not changed:
            return start
    return None


def construct_routes(
    problem: HhcrspProblem, tasks: Sequence[Task], pairs: Sequence[tuple[int, int]]
) -> list[list[int]]:
    """A feasible first solution: append patients in window order, each at its cheapest place.

    Appending only (never inserting inside a route) keeps every waiting relation pointing
    forward in time, so no synchronisation deadlock can arise. A double service picks the pair
    of distinct qualified caregivers with the cheapest added distance plus tardiness, with both
    start times shifted to satisfy the gap.
    """
    vehicles = range(len(problem.qualifications))
    routes: list[list[int]] = [[] for _ in vehicles]
    last_node = [problem.depot for _ in vehicles]
    ready = [0.0 for _ in vehicles]
    partner_of = {first: second for first, second in pairs}
    order = sorted(
        (i for i in range(len(tasks)) if i not in partner_of.values()),
        key=lambda i: (tasks[i].window_close, tasks[i].window_open),
    )

    def arrival(vehicle: int, task: Task) -> tuple[float, float]:
        travel = float(problem.distance[last_node[vehicle], task.node])
        return travel, max(task.window_open, ready[vehicle] + travel)

    def place(vehicle: int, task_index: int, start: float) -> None:
        routes[vehicle].append(task_index)
        last_node[vehicle] = tasks[task_index].node
        ready[vehicle] = start + tasks[task_index].duration

    for task_index in order:
        task = tasks[task_index]
        capable = [v for v in vehicles if task.service in problem.qualifications[v]]
        if task_index not in partner_of:
            best_vehicle, best_cost, best_start = -1, math.inf, 0.0
            for vehicle in capable:
                travel, start = arrival(vehicle, task)
                cost = travel + max(0.0, start - task.window_close)
                if cost < best_cost:
                    best_vehicle, best_cost, best_start = vehicle, cost, start
            place(best_vehicle, task_index, best_start)
            continue
        second_index = partner_of[task_index]
        second = tasks[second_index]
        patient = problem.patients[task.patient_index]
        best: tuple[float, int, int, float, float] | None = None
        for vehicle in capable:
            travel_first, start_first = arrival(vehicle, task)
            for other in vehicles:
                if other == vehicle or second.service not in problem.qualifications[other]:
                    continue
                travel_second, earliest_second = arrival(other, second)
                begin_first = max(start_first, earliest_second - patient.gap_max)
                begin_second = max(earliest_second, begin_first + patient.gap_min)
                cost = (
                    travel_first
                    + travel_second
                    + max(0.0, begin_first - task.window_close)
                    + max(0.0, begin_second - second.window_close)
                )
                if best is None or cost < best[0]:
                    best = (cost, vehicle, other, begin_first, begin_second)
        if best is None:
            raise ValueError(f"no two distinct caregivers can do patient {task.node}")
        _, vehicle, other, start_first, start_second = best
        place(vehicle, task_index, start_first)
        place(other, second_index, start_second)
    return routes


class RuinRecreate:
    """Ruin-and-recreate large neighbourhood search on caregiver routes (pure Python).

    Why: the routing local search checks synchronisation only in the constraint solver, after
    its filters, so most of its moves are rejected and it is slow on the large sets. Here a
    double service is removed and reinserted as a pair: both halves are placed at once, with
    start times that satisfy the gap, so every move keeps the pair together.

    Ruin removes a seed patient and the patients nearest to it (both halves of a double
    service); recreate reinserts them one patient at a time at the cheapest place, costed as
    added distance plus added tardiness of the route (and of pushed partners) with the
    ``tardiness_weight``; start times are then pushed forward exactly along route order and
    gap rules. A candidate is accepted by simulated annealing on the true objective
    (distance + total tardiness + max tardiness).
    """

    def __init__(
        self,
        problem: HhcrspProblem,
        tasks: Sequence[Task],
        pairs: Sequence[tuple[int, int]],
        seed: int,
        tardiness_weight: float,
        temperature: float = 0.002,
        max_removed: int = 40,
    ) -> None:
        self.problem, self.tasks, self.pairs = problem, tasks, pairs
        self.distance: list[list[float]] = problem.distance.tolist()
        self.node = [task.node for task in tasks]
        self.duration = [task.duration for task in tasks]
        self.opens = [task.window_open for task in tasks]
        self.closes = [task.window_close for task in tasks]
        self.partner = [-1] * len(tasks)
        self.is_first = [False] * len(tasks)
        self.gap_min = [0.0] * len(tasks)
        self.gap_max = [0.0] * len(tasks)
        for first, second in pairs:
            patient = problem.patients[tasks[first].patient_index]
            self.partner[first], self.partner[second] = second, first
            self.is_first[first] = True
            for index in (first, second):
                self.gap_min[index], self.gap_max[index] = patient.gap_min, patient.gap_max
        self.allowed = [
            [v for v, skills in enumerate(problem.qualifications) if task.service in skills]
            for task in tasks
        ]
        # The patients' first tasks, and for each the other patients by distance (relatedness).
        self.patient_task = sorted({i for i in range(len(tasks)) if not self._is_second(i)})
        self.nearest: dict[int, list[int]] = {}
        for task in self.patient_task:
            from_task = self.distance[self.node[task]]
            self.nearest[task] = sorted(self.patient_task, key=lambda j: from_task[self.node[j]])
        self.random = random.Random(seed)
        self.weight = tardiness_weight
        self.temperature = temperature
        self.max_removed = max_removed

    def _is_second(self, task: int) -> bool:
        return self.partner[task] >= 0 and not self.is_first[task]

    def schedule(self, routes: Sequence[Sequence[int]]) -> list[float] | None:
        """Earliest start times of all tasks on the routes (None on deadlock)."""
        return earliest_schedule(self.problem, self.tasks, self.pairs, routes)

    def objective(self, routes: Sequence[Sequence[int]], start: Sequence[float]) -> float:
        """Distance + total tardiness + max tardiness (the paper's objective times 3)."""
        distance_rows, depot, node = self.distance, self.problem.depot, self.node
        travelled = 0.0
        for route in routes:
            previous = depot
            for task in route:
                travelled += distance_rows[previous][node[task]]
                previous = node[task]
            travelled += distance_rows[previous][depot]
        lateness = [max(0.0, s - c) for s, c in zip(start, self.closes, strict=True)]
        return travelled + sum(lateness) + max(lateness, default=0.0)

    def _insertion_cost(
        self,
        route: list[int],
        position: int,
        task: int,
        start: list[float],
        earliest: float,
        bound: float = math.inf,
    ) -> tuple[float, float]:
        """(added cost, start of ``task``) when inserting it at ``position`` of ``route``.

        Stops early with an infinite cost once the cost reaches ``bound``.
        """
        distance_rows, node, duration = self.distance, self.node, self.duration
        if position == 0:
            previous_node, ready = self.problem.depot, 0.0
        else:
            before = route[position - 1]
            previous_node, ready = node[before], start[before] + duration[before]
        task_node = node[task]
        begin = max(ready + distance_rows[previous_node][task_node], self.opens[task], earliest)
        next_node = node[route[position]] if position < len(route) else self.problem.depot
        added = (
            distance_rows[previous_node][task_node]
            + distance_rows[task_node][next_node]
            - distance_rows[previous_node][next_node]
        )
        late = max(0.0, begin - self.closes[task])
        ready, previous_node = begin + duration[task], task_node
        closes, partner = self.closes, self.partner
        for following in route[position:]:
            arrival = ready + distance_rows[previous_node][node[following]]
            old = start[following]
            if arrival <= old:
                break
            late += max(0.0, arrival - closes[following]) - max(0.0, old - closes[following])
            if added + self.weight * late >= bound:
                return math.inf, begin
            other = partner[following]
            if other >= 0:
                pushed = (
                    arrival + self.gap_min[following]
                    if self.is_first[following]
                    else arrival - self.gap_max[following]
                )
                if pushed > start[other]:
                    late += max(0.0, pushed - closes[other]) - max(
                        0.0, start[other] - closes[other]
                    )
            ready, previous_node = arrival + duration[following], node[following]
        return added + self.weight * late, begin

    def _push(
        self, routes: list[list[int]], route_of: list[int], start: list[float], seeds: list[int]
    ) -> bool:
        """Push start times forward from ``seeds`` until all rules hold; False on deadlock."""
        work = list(seeds)
        budget = 4 * len(self.tasks) + 10
        distance_rows, node, duration = self.distance, self.node, self.duration
        while work:
            budget -= 1
            if budget < 0:
                return False
            task = work.pop()
            route = routes[route_of[task]]
            position = route.index(task)
            if position + 1 < len(route):
                following = route[position + 1]
                arrival = start[task] + duration[task] + distance_rows[node[task]][node[following]]
                if arrival > start[following] + TIME_TOLERANCE:
                    start[following] = arrival
                    work.append(following)
            other = self.partner[task]
            if other >= 0:
                least = (
                    start[task] + self.gap_min[task]
                    if self.is_first[task]
                    else start[task] - self.gap_max[task]
                )
                if least > start[other] + TIME_TOLERANCE:
                    start[other] = least
                    work.append(other)
        return True

    def _candidates(
        self, routes: list[list[int]], task: int, start: list[float], keep: int
    ) -> list[tuple[float, int, int, float]]:
        """The ``keep`` cheapest (cost, route, position, start) places for ``task``.

        Added distance is a lower bound of a place's cost (pushed tardiness only adds), so
        places are costed in order of added distance and the scan stops once that bound
        exceeds the ``keep``-th best cost found: exact, and most places are never costed.
        """
        distance_rows, node, depot = self.distance, self.node, self.problem.depot
        task_node = node[task]
        from_task = distance_rows[task_node]
        by_distance: list[tuple[float, int, int]] = []
        for vehicle in self.allowed[task]:
            route = routes[vehicle]
            previous = depot
            for position, following in enumerate(route):
                following_node = node[following]
                row = distance_rows[previous]
                by_distance.append(
                    (
                        row[task_node] + from_task[following_node] - row[following_node],
                        vehicle,
                        position,
                    )
                )
                previous = following_node
            row = distance_rows[previous]
            by_distance.append(
                (row[task_node] + from_task[depot] - row[depot], vehicle, len(route))
            )
        by_distance.sort()
        found: list[tuple[float, int, int, float]] = []
        for added, vehicle, position in by_distance:
            if len(found) >= keep and added >= found[-1][0]:
                break
            bound = found[-1][0] if len(found) >= keep else math.inf
            cost, begin = self._insertion_cost(routes[vehicle], position, task, start, 0.0, bound)
            if cost == math.inf:
                continue
            bisect.insort(found, (cost, vehicle, position, begin))
            del found[keep:]
        return found

    def _insert(
        self,
        routes: list[list[int]],
        route_of: list[int],
        start: list[float],
        placements: list[tuple[int, int, int, float]],
    ) -> bool:
        """Insert (task, route, position, start) placements and push; undo on deadlock."""
        saved = start.copy()
        for task, vehicle, position, begin in placements:
            routes[vehicle].insert(position, task)
            route_of[task] = vehicle
            start[task] = begin
        seeds = [task for task, *_ in placements]
        # A placement's own arrival may lag its forced start's predecessor: push from it too.
        for task, vehicle, _, _ in placements:
            index = routes[vehicle].index(task)
            if index > 0:
                seeds.append(routes[vehicle][index - 1])
        if self._push(routes, route_of, start, seeds):
            return True
        for task, vehicle, _, _ in placements:
            routes[vehicle].remove(task)
        start[:] = saved
        return False

    def _reinsert(
        self, routes: list[list[int]], route_of: list[int], start: list[float], task: int
    ) -> None:
        """Put back a patient (``task`` and its partner if any) at its cheapest place."""
        other = self.partner[task]
        if other < 0:
            for _, vehicle, position, begin in self._candidates(routes, task, start, 3):
                if self._insert(routes, route_of, start, [(task, vehicle, position, begin)]):
                    return
            self._append(routes, route_of, start, [task])
            return
        second = other
        options: list[tuple[float, int, int, float, int, int, float]] = []
        for _, v1, k1, s1 in self._candidates(routes, task, start, 6):
            for _, v2, k2, s2 in self._candidates(routes, second, start, 6):
                if v1 == v2:
                    continue
                t1 = max(s1, s2 - self.gap_max[task])
                t2 = max(s2, t1 + self.gap_min[task])
                cost = (
                    self._insertion_cost(routes[v1], k1, task, start, t1)[0]
                    + self._insertion_cost(routes[v2], k2, second, start, t2)[0]
                )
                options.append((cost, v1, k1, t1, v2, k2, t2))
        options.sort(key=lambda entry: entry[0])
        for _, v1, k1, t1, v2, k2, t2 in options[:3]:
            if self._insert(routes, route_of, start, [(task, v1, k1, t1), (second, v2, k2, t2)]):
                return
        self._append(routes, route_of, start, [task, second])

    def _append(
        self, routes: list[list[int]], route_of: list[int], start: list[float], tasks: list[int]
    ) -> None:
        """Fallback that cannot deadlock: the tasks at the end of the least busy routes."""
        used: set[int] = set()
        for task in tasks:
            vehicle = min(
                (v for v in self.allowed[task] if v not in used),
                key=lambda v: start[routes[v][-1]] if routes[v] else 0.0,
            )
            used.add(vehicle)
            routes[vehicle].append(task)
            route_of[task] = vehicle
            start[task] = self.opens[task]
        timed = self.schedule(routes)
        if timed is None:
            raise RuntimeError("appending at route ends deadlocked")
        start[:] = timed

    def improve(
        self,
        routes: Sequence[Sequence[int]],
        deadline: float,
        max_iterations: int | None = None,
    ) -> tuple[list[list[int]], float, int]:
        """Search from ``routes`` until ``deadline`` (monotonic s).

        Returns the best routes, their objective (distance + total + max tardiness) and the
        number of iterations.
        """
        current = [list(route) for route in routes]
        timed = self.schedule(current)
        if timed is None:
            raise ValueError("the starting routes deadlock")
        current_cost = self.objective(current, timed)
        best, best_cost = [list(route) for route in current], current_cost
        patients = len(self.patient_task)
        largest = max(2, min(self.max_removed, patients // 4))
        started = time.monotonic()
        temperature_start = self.temperature * current_cost
        iteration = 0
        while time.monotonic() < deadline and (
            max_iterations is None or iteration < max_iterations
        ):
            iteration += 1
            progress = (time.monotonic() - started) / max(1e-9, deadline - started)
            temperature = temperature_start * (1.0 - progress)
            routes_now = [list(route) for route in current]
            removed = self._ruin(routes_now, self.random.randint(2, largest))
            start = self.schedule(routes_now)
            if start is None:
                continue
            route_of = [-1] * len(self.tasks)
            for vehicle, route in enumerate(routes_now):
                for task in route:
                    route_of[task] = vehicle
            if self.random.random() < 0.5:
                removed.sort(key=lambda task: self.closes[task])
            else:
                self.random.shuffle(removed)
            for task in removed:
                self._reinsert(routes_now, route_of, start, task)
            cost = self.objective(routes_now, start)
            accept = cost < current_cost - 1e-9 or (
                temperature > 0
                and self.random.random() < math.exp((current_cost - cost) / temperature)
            )
            if accept:
                current, current_cost = routes_now, cost
                if cost < best_cost - 1e-9:
                    best, best_cost = [list(route) for route in routes_now], cost
        return best, best_cost, iteration

    def _ruin(self, routes: list[list[int]], count: int) -> list[int]:
        """Remove ``count`` patients; return their first tasks.

        Mostly the patients nearest to a random seed patient (related removal, so that the
        recreate step can exchange them between routes), sometimes patients drawn at random.
        Cutting strings of consecutive visits (as in SISR) was tried and did worse here.
        """
        if self.random.random() < 0.7:
            chosen = self.nearest[self.random.choice(self.patient_task)][:count]
        else:
            chosen = self.random.sample(self.patient_task, count)
        gone = set(chosen) | {self.partner[t] for t in chosen if self.partner[t] >= 0}
        for route in routes:
            route[:] = [task for task in route if task not in gone]
        return list(chosen)


def _status_name(status: int) -> str:
    names = {
        0: "NOT_SOLVED",
        1: "SUCCESS",
        2: "PARTIAL_SUCCESS_LOCAL_OPTIMUM_NOT_REACHED",
        3: "FAIL",
        4: "FAIL_TIMEOUT",
        5: "INVALID",
        6: "INFEASIBLE",
        7: "OPTIMAL",
    }
    return names.get(status, str(status))


def _routing_search(
    problem: HhcrspProblem,
    tasks: Sequence[Task],
    pairs: Sequence[tuple[int, int]],
    params: HhcrspParams,
    initial_routes: Sequence[Sequence[int]],
    time_limit_s: float,
) -> tuple[list[list[int]] | None, str]:
    """Improve routes with the OR-Tools routing local search; (routes or None, status)."""
    vehicle_count = len(problem.qualifications)
    scale = params.scale
    # Routing node 0 is the depot, node k + 1 is task k.
    nodes = [problem.depot, *(task.node for task in tasks)]
    durations = [0.0, *(task.duration for task in tasks)]
    travel = problem.distance[np.ix_(nodes, nodes)]
    arc_cost = np.rint(travel * scale).astype(np.int64)
    transit_time = np.rint((travel + np.asarray(durations)[:, None]) * scale).astype(np.int64)
    horizon = int(
        scale
        * (
            max(task.window_close for task in tasks)
            + sum(durations)
            + float(travel.max()) * (len(tasks) + 1)
        )
    )
    manager = pywrapcp.RoutingIndexManager(len(nodes), vehicle_count, 0)
    routing = pywrapcp.RoutingModel(manager)
    cost_callback = routing.RegisterTransitMatrix(arc_cost.tolist())
    routing.SetArcCostEvaluatorOfAllVehicles(cost_callback)
    time_callback = routing.RegisterTransitMatrix(transit_time.tolist())
    routing.AddDimension(time_callback, horizon, horizon, False, "time")
    time_dimension = routing.GetDimensionOrDie("time")
    solver = routing.solver()
    tardiness_cost = max(1, round(params.tardiness_weight))
    for task_index, task in enumerate(tasks):
        index = manager.NodeToIndex(task_index + 1)
        time_dimension.CumulVar(index).SetMin(math.ceil(task.window_open * scale))
        time_dimension.SetCumulVarSoftUpperBound(
            index, int(task.window_close * scale), tardiness_cost
        )
        allowed = [v for v in range(vehicle_count) if task.service in problem.qualifications[v]]
        routing.VehicleVar(index).SetValues(allowed)
    for first, second in pairs:
        patient = problem.patients[tasks[first].patient_index]
        first_index = manager.NodeToIndex(first + 1)
        second_index = manager.NodeToIndex(second + 1)
        first_cumul = time_dimension.CumulVar(first_index)
        second_cumul = time_dimension.CumulVar(second_index)
        gap_min = math.ceil(patient.gap_min * scale)
        gap_max = math.floor(patient.gap_max * scale)
        if gap_min == gap_max:
            solver.Add(second_cumul == first_cumul + gap_min)
        else:
            solver.Add(second_cumul >= first_cumul + gap_min)
            solver.Add(second_cumul <= first_cumul + gap_max)
        solver.Add(routing.VehicleVar(first_index) != routing.VehicleVar(second_index))
    for vehicle in range(vehicle_count):
        routing.AddVariableMinimizedByFinalizer(time_dimension.CumulVar(routing.Start(vehicle)))
        routing.AddVariableMinimizedByFinalizer(time_dimension.CumulVar(routing.End(vehicle)))
    for task_index in range(len(tasks)):
        index = manager.NodeToIndex(task_index + 1)
        routing.AddVariableMinimizedByFinalizer(time_dimension.CumulVar(index))

    search = pywrapcp.DefaultRoutingSearchParameters()
    search.local_search_metaheuristic = getattr(
        routing_enums_pb2.LocalSearchMetaheuristic, params.metaheuristic
    )
    search.log_search = params.log_search
    if params.solution_limit is not None:
        search.solution_limit = params.solution_limit
    search.time_limit.FromMilliseconds(max(100, int(time_limit_s * 1000)))
    routing.CloseModelWithParameters(search)
    initial = routing.ReadAssignmentFromRoutes(
        [[task_index + 1 for task_index in route] for route in initial_routes], True
    )
    if initial is None:
        return None, "INITIAL_ROUTES_REJECTED"
    assignment = routing.SolveFromAssignmentWithParameters(initial, search)
    status = _status_name(routing.status())
    if assignment is None:
        return None, status
    routes: list[list[int]] = []
    for vehicle in range(vehicle_count):
        route: list[int] = []
        index = assignment.Value(routing.NextVar(routing.Start(vehicle)))
        while not routing.IsEnd(index):
            route.append(manager.IndexToNode(index) - 1)
            index = assignment.Value(routing.NextVar(index))
        routes.append(route)
    return routes, status


def solve_hhcrsp(
    problem: HhcrspProblem,
    params: HhcrspParams,
    on_solution: Callable[[float], None] | None = None,
) -> HhcrspSolution:
    """Solve an HHCRSP instance and return caregiver routes with start times.

    Construction (:func:`construct_routes`), then ruin-and-recreate (:class:`RuinRecreate`)
    for ``params.lns_share`` of the time limit, then the OR-Tools routing local search with
    synchronisation constraints for the rest; the best routes by the true objective win.

    Parameters
    ----------
    problem
        The instance.
    params
        Time limit, shares, weights and seed.
    on_solution
        Called with the best objective ((distance + total + max tardiness) / 3) after each stage.

    Returns
    -------
    HhcrspSolution
        One route per caregiver, each visit with its earliest feasible start time.
    """
    started = time.monotonic()
    deadline = started + params.time_limit_s
    tasks, pairs = tasks_of(problem)
    search = RuinRecreate(
        problem,
        tasks,
        pairs,
        params.seed,
        params.tardiness_weight,
        params.lns_temperature,
        params.lns_max_removed,
    )
    notes: dict[str, float] = {}

    def cost_of(routes: Sequence[Sequence[int]]) -> float:
        start = search.schedule(routes)
        return math.inf if start is None else search.objective(routes, start) / 3

    best_routes = construct_routes(problem, tasks, pairs)
    best_cost = notes["construction_objective"] = cost_of(best_routes)
    if on_solution is not None:
        on_solution(best_cost)
    if params.lns_share > 0:
        lns_deadline = started + params.lns_share * params.time_limit_s
        routes, cost, iterations = search.improve(best_routes, lns_deadline, params.lns_iterations)
        notes["lns_objective"], notes["lns_iterations"] = cost / 3, iterations
        if cost / 3 < best_cost:
            best_routes, best_cost = routes, cost / 3
        if on_solution is not None:
            on_solution(best_cost)
    status = "NOT_RUN"
    remaining_s = deadline - time.monotonic()
    if params.lns_share < 1 and remaining_s > 0.5:
        routes_found, status = _routing_search(
            problem, tasks, pairs, params, best_routes, remaining_s
        )
        if routes_found is not None:
            cost = notes["routing_objective"] = cost_of(routes_found)
            if cost < best_cost:
                best_routes, best_cost = routes_found, cost
        if on_solution is not None:
            on_solution(best_cost)
    start_times = search.schedule(best_routes)
    if start_times is None:
        raise RuntimeError("the best routes deadlock")  # every stage keeps routes deadlock-free
    notes["solve_s"] = time.monotonic() - started
    return HhcrspSolution(
        tuple(
            tuple(ScheduledVisit(tasks[i].node, tasks[i].service, start_times[i]) for i in route)
            for route in best_routes
        ),
        True,
        status,
        notes["construction_objective"],
        notes,
    )
