"""The Mankowska et al. (2014) HHCRSP benchmark: reader, independent evaluator and benchmark run.

``python -m benchmarks mankowska --time-limit 60 [--sets A,B] [--instances A1,B3]
[--files PATH,... [--best-known NAME=VALUE,...]]`` solves each instance twice, with the
product's engine (:func:`scheduler.solve` on the planner's own
:class:`~scheduler.model.Problem`, built by :func:`to_planner_problem`) and with the benchmark
solver (:mod:`benchmarks.hhcrsp`), scores both with :func:`evaluate` (which recomputes
everything from the instance file and knows nothing of either solver) and writes
``benchmarks/results/mankowska.csv`` and ``.md``: per set, the engine, the benchmark solver and
the best known side by side. The data and its rules are described in
``mankowska/README.md`` of the benchmark data (``HOMEVISIT_BENCHMARK_DATA``, see
``benchmarks/vrptw.py``). ``--files`` adds instance files of the same format that are not in
its ``index.csv`` (issue 17: held-out instances, e.g. from :mod:`benchmarks.mankowska_generate`):
each is named by its file's stem, grouped in the set ``other``, and has a gap only when
``--best-known`` gives its reference value.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import resource
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from benchmarks.hhcrsp import HhcrspParams, HhcrspProblem, Patient, solve_hhcrsp
from scheduler.model import (
    Centre,
    Clinician,
    DayWindow,
    Location,
    Plan,
    Problem,
    Role,
    Staffing,
    TimeWindow,
    TravelMode,
    Urgency,
    Visit,
    VisitLink,
)
from scheduler.params import SolveParams
from scheduler.solve import solve
from scheduler.travel import TravelMatrix

DATA = Path(os.environ.get("HOMEVISIT_BENCHMARK_DATA", "/work/shared/benchmarks")) / "mankowska"
RESULTS = Path(__file__).resolve().parent / "results"
# Objective weights of the paper: distance, total tardiness and max tardiness, 1/3 each.
WEIGHT = 1.0 / 3.0
# Start times and gaps in published solutions carry 3 decimals.
TOLERANCE = 2e-3
# Mean gap of the paper's own results (Mankowska et al. 2014, AVNS) to today's best known
# values, per set; the bar this solver is measured against. Set A was solved to optimality.
SET_A_TARGET_GAP_PCT = 0.5
ENGINE_TARGET_GAP_PCT = 3.0  # the product's engine, at 60 s per instance, on every set
OTHER_SET = "other"  # instance files given with --files, outside index.csv
PAPER_MEAN_GAP_PCT = {"A": 0.0, "B": 8.7, "C": 16.5, "D": 23.5, "E": 32.7, "F": 37.0, "G": 39.7}

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
# A caregiver's route as published: (patient node, service type, start time) per visit; the
# start may be None (routes published without times), see :func:`fill_start_times`.
RouteVisits = Sequence[Sequence[float | None]]


@dataclass(frozen=True)
class MankowskaInstance:
    """One instance file, as its sections say (node 0 and node N-1 are the depot)."""

    name: str
    requires: IntArray  # nodes x services, 1 where the patient needs the service
    double_service_nodes: tuple[int, ...]
    qualified: IntArray  # caregivers x services
    distance: FloatArray  # nodes x nodes
    duration: FloatArray  # nodes x caregivers x services
    gap_min: FloatArray
    gap_max: FloatArray
    window_open: FloatArray
    window_close: FloatArray

    @property
    def patients(self) -> range:
        """Patient nodes 1..n."""
        return range(1, self.requires.shape[0] - 1)

    @property
    def caregivers(self) -> int:
        return int(self.qualified.shape[0])

    def services_of(self, node: int) -> tuple[int, ...]:
        """Service types node ``node`` requires, ascending."""
        return tuple(int(s) for s in np.flatnonzero(self.requires[node]))

    def to_problem(self) -> HhcrspProblem:
        """The instance as the solver's plain data."""
        if not np.all(self.duration == self.duration[:, :1, :]):
            raise ValueError(f"{self.name}: service times depend on the caregiver")
        patients = []
        for node in self.patients:
            services = self.services_of(node)
            patients.append(
                Patient(
                    node=node,
                    services=services,
                    duration_by_service=tuple(float(self.duration[node, 0, s]) for s in services),
                    window_open=float(self.window_open[node]),
                    window_close=float(self.window_close[node]),
                    gap_min=float(self.gap_min[node]) if len(services) == 2 else 0.0,
                    gap_max=float(self.gap_max[node]) if len(services) == 2 else 0.0,
                )
            )
        qualifications = tuple(
            frozenset(int(s) for s in np.flatnonzero(row)) for row in self.qualified
        )
        return HhcrspProblem(self.distance, 0, tuple(patients), qualifications)


def read_instance(path: Path, name: str | None = None) -> MankowskaInstance:
    """Read an instance file (one section header per line, then its numbers)."""
    sections: dict[str, list[float]] = {}
    current = ""
    for line in path.read_text().splitlines():
        words = line.split()
        if not words:
            continue
        if words[0][0].isalpha():
            current = words[0]
            sections[current] = []
        else:
            sections[current].extend(float(word) for word in words)
    nodes = int(sections["nbNodes"][0])
    caregivers = int(sections["nbVehi"][0])
    services = int(sections["nbServi"][0])
    requires = np.array(sections["r"], dtype=np.int64).reshape(nodes, services)
    # DS lists 1-based positions in the node list: value k is node k - 1.
    double_nodes = tuple(sorted(int(k) - 1 for k in sections.get("DS", [])))
    for node in range(1, nodes - 1):
        needs_two = int(requires[node].sum()) == 2
        if needs_two != (node in double_nodes):
            raise ValueError(f"{path.name}: node {node} service count disagrees with DS")
    return MankowskaInstance(
        name=name or path.stem,
        requires=requires,
        double_service_nodes=double_nodes,
        qualified=np.array(sections["a"], dtype=np.int64).reshape(caregivers, services),
        distance=np.array(sections["d"], dtype=np.float64).reshape(nodes, nodes),
        duration=np.array(sections["p"], dtype=np.float64).reshape(nodes, caregivers, services),
        gap_min=np.array(sections["mind"], dtype=np.float64),
        gap_max=np.array(sections["maxd"], dtype=np.float64),
        window_open=np.array(sections["e"], dtype=np.float64),
        window_close=np.array(sections["l"], dtype=np.float64),
    )


# --- the instance as the planner's own week ---------------------------------------------------

WEEK = dt.date(2026, 11, 30)  # a Monday: the instance is its one working day
TEAM, CENTRE = "HHC", "DEPOT"
DAY_END = 24 * 60
# Tardiness weighs as much as distance in the paper's objective, and the largest tardiness
# counts once more, which no per-visit cost can say: 2 a minute stands in for both (as the
# benchmark solver's ``tardiness_weight``).
LATE_COST_PER_MIN = 2


def node_location(node: int) -> Location:
    """A stand-in position for node ``node`` (travel comes from the instance's matrix)."""
    return Location(0.0, node * 1e-3)


@dataclass(frozen=True)
class MatrixTravel:
    """The instance's distance matrix as the planner's travel: minutes rounded up (a plan in
    whole minutes never travels faster than the instance), km = distance."""

    distance: FloatArray

    def matrix(
        self, origins: Sequence[Location], destinations: Sequence[Location], mode: TravelMode
    ) -> TravelMatrix:
        rows = [round(p.lon * 1e3) for p in origins]
        cols = [round(p.lon * 1e3) for p in destinations]
        km = self.distance[np.ix_(rows, cols)]
        return TravelMatrix(np.ceil(km - 1e-9).astype(np.int64), np.round(km, 3))


def visit_id(node: int, service: int | None = None) -> str:
    return f"p{node}" if service is None else f"p{node}-s{service}"


def _staff(service: int) -> Staffing:
    return Staffing(frozenset({Role.NURSE}), frozenset({f"s{service}"}))


def _visit(
    name: str, node: int, staffing: tuple[Staffing, ...], duration: int, opens: int, latest: int
) -> Visit:
    """A visit of patient ``node`` on time from ``opens`` to ``latest``, late to the day's end."""
    on_time_end = min(DAY_END, max(latest, opens) + duration)
    return Visit(
        visit_id=name,
        programme="hhcrsp",
        team_id=TEAM,
        centre_id=CENTRE,
        location=node_location(node),
        duration_min=duration,
        staffing=staffing,
        windows=(DayWindow(WEEK, opens, on_time_end),),
        urgency=Urgency.DUE,
        due_by=WEEK,
        resident_id=f"r{node}",
        late_allowed_min=DAY_END - on_time_end,
        late_cost_per_min=LATE_COST_PER_MIN,
    )


def to_planner_problem(instance: MankowskaInstance) -> Problem:
    """The instance as a week of the planner: one team, one day, one window per patient.

    Caregivers are clinicians (nurses) whose skills are their qualifications, working Monday
    from minute 0 to the end of the day. A patient's window opens at ``e`` and its latest
    on-time start is ``l``; later starts are lateness, allowed to the end of the day at
    ``LATE_COST_PER_MIN`` a minute. A simultaneous double service (gap 0) is a joint visit; one
    with a gap is two visits linked by it (:class:`~scheduler.model.VisitLink`).
    Every time is in the instance's units, one to a minute; start times are integers.

    Raises ValueError, naming the instance and patient, where the instance says what the
    planner cannot: service times that depend on the caregiver, a service that cannot start
    and end within the planner's 24-hour day, a gap of a day or more. No file of the family
    does (times up to 600, gaps up to 120, at any size: see :mod:`benchmarks.mankowska_generate`).
    """
    if not np.all(instance.duration == instance.duration[:, :1, :]):
        raise ValueError(f"{instance.name}: service times depend on the caregiver")
    depot = node_location(0)
    clinicians = tuple(
        Clinician(
            clinician_id=f"c{v}",
            name=f"caregiver {v}",
            team_id=TEAM,
            centre_id=CENTRE,
            role=Role.NURSE,
            skills=frozenset(f"s{s}" for s in np.flatnonzero(instance.qualified[v])),
            travel_mode=TravelMode.CAR,
            work_days=frozenset({0}),
            shift=TimeWindow(0, DAY_END),
        )
        for v in range(instance.caregivers)
    )
    visits: list[Visit] = []
    links: list[VisitLink] = []
    for node in instance.patients:
        services = instance.services_of(node)
        durations = [math.ceil(instance.duration[node, 0, s]) for s in services]
        opens = math.ceil(instance.window_open[node])
        latest = math.floor(instance.window_close[node])
        if opens + max(durations) > DAY_END:
            raise ValueError(
                f"{instance.name}: patient {node} opens at e = {instance.window_open[node]:g} "
                f"for {max(durations)} min, past the planner's day (minute {DAY_END})"
            )
        if len(services) == 2 and instance.gap_max[node] >= DAY_END:
            raise ValueError(
                f"{instance.name}: patient {node} has maxd = {instance.gap_max[node]:g}, "
                f"a gap the planner's links keep under {DAY_END} min"
            )

        simultaneous = instance.gap_max[node] == 0 and len(set(durations)) == 1
        if len(services) == 2 and simultaneous:
            both = (_staff(services[0]), _staff(services[1]))
            visits.append(_visit(visit_id(node), node, both, durations[0], opens, latest))
            continue
        for service, duration in zip(services, durations, strict=True):
            visits.append(
                _visit(visit_id(node, service), node, (_staff(service),), duration, opens, latest)
            )
        if len(services) == 2:
            links.append(
                VisitLink(
                    visit_id(node, services[0]),
                    visit_id(node, services[1]),
                    math.ceil(instance.gap_min[node]),
                    math.floor(instance.gap_max[node]),
                )
            )
    return Problem(
        week_start=WEEK,
        centres={CENTRE: Centre(CENTRE, "depot", depot)},
        clinicians=clinicians,
        visits=tuple(visits),
        links=tuple(links),
    )


def planner_routes(instance: MankowskaInstance, plan: Plan) -> list[list[tuple[int, int, float]]]:
    """The plan as caregiver routes of (patient, service, start) for :func:`evaluate`.

    A joint visit's stop is the service its clinician is qualified for (both: the first one
    the partner is not the only one qualified for)."""
    routes: list[list[tuple[int, int, float]]] = [[] for _ in range(instance.caregivers)]
    stops_of: dict[str, list[Any]] = {}
    for stop in plan.stops():
        stops_of.setdefault(stop.visit_id, []).append(stop)
    service_of: dict[tuple[str, str], int] = {}
    for name, stops in stops_of.items():
        node_text, _, service_text = name[1:].partition("-s")
        if service_text:
            service_of[(name, stops[0].clinician_id)] = int(service_text)
            continue
        services = instance.services_of(int(node_text))
        people = [int(s.clinician_id[1:]) for s in stops]
        if len(people) == 2 and all(
            instance.qualified[p, s] for p, s in zip(people, services, strict=True)
        ):
            order = services
        else:
            order = services[::-1]
        for stop, service in zip(stops, order, strict=True):
            service_of[(name, stop.clinician_id)] = service
    for route in sorted(plan.routes, key=lambda r: r.clinician_id):
        caregiver = int(route.clinician_id[1:])
        for stop in sorted(route.stops, key=lambda s: s.sequence):
            node = int(stop.visit_id[1:].partition("-s")[0])
            routes[caregiver].append(
                (node, service_of[(stop.visit_id, stop.clinician_id)], float(stop.start_min))
            )
    return routes


def solve_with_engine(instance: MankowskaInstance, time_limit_s: float) -> tuple[Plan, Any]:
    """Plan the instance with the product's engine (:func:`scheduler.solve`)."""
    params = SolveParams(
        time_limit_s=time_limit_s,
        balance_cost_per_min=0,  # the benchmark has no workload goal
        continuity_cost_min=0,
        repair=False,  # one day, every visit due: nothing for the urgency repair to do
    )
    return solve(to_planner_problem(instance), params, travel=MatrixTravel(instance.distance))


@dataclass
class Evaluation:
    """The score of a solution and every rule it breaks."""

    distance: float = 0.0
    total_tardiness: float = 0.0
    max_tardiness: float = 0.0
    violations: list[str] = field(default_factory=list)

    @property
    def objective(self) -> float:
        return WEIGHT * (self.distance + self.total_tardiness + self.max_tardiness)

    @property
    def feasible(self) -> bool:
        return not self.violations


def _visit_parts(visit: Sequence[float | None]) -> tuple[int, int, float | None]:
    """(patient node, service, start or None) of one published visit."""
    node, service, start = visit
    if node is None or service is None:
        raise ValueError(f"visit {visit} names no patient or service")
    return int(node), int(service), start


def fill_start_times(
    instance: MankowskaInstance, routes: Sequence[RouteVisits]
) -> list[list[tuple[int, int, float]]]:
    """Routes with their earliest feasible start times (for routes published without times).

    The rules on start times are all "t_b >= t_a + c" (route order, window opening, the gap
    bounds of double services), so the least solution is found by relaxing those edges until
    nothing changes, Bellman-Ford style; it minimises every tardiness at once. Raises
    ValueError if the routes deadlock (a cycle of waiting).
    """
    visits = [(c, *_visit_parts(v)[:2]) for c, route in enumerate(routes) for v in route]
    position = {(node, service): k for k, (_, node, service) in enumerate(visits)}
    start = [float(instance.window_open[node]) for _, node, _ in visits]
    # Edges (from, to, least difference); -1 stands for the depot at time 0.
    edges: list[tuple[int, int, float]] = []
    k = 0
    for caregiver, route in enumerate(routes):
        previous, previous_node, previous_duration = -1, 0, 0.0
        for visit in route:
            node, service, _ = _visit_parts(visit)
            edges.append((previous, k, previous_duration + instance.distance[previous_node, node]))
            previous, previous_node = k, node
            previous_duration = float(instance.duration[node, caregiver, service])
            k += 1
    for node in instance.double_service_nodes:
        first, second = (position[(node, s)] for s in instance.services_of(node))
        edges.append((first, second, float(instance.gap_min[node])))
        edges.append((second, first, -float(instance.gap_max[node])))
    for _ in range(len(visits) + 1):
        changed = False
        for source, target, least in edges:
            bound = (0.0 if source < 0 else start[source]) + least
            if bound > start[target] + 1e-9:
                start[target], changed = bound, True
        if not changed:
            break
    else:
        raise ValueError("the routes deadlock: a cycle of caregivers waiting for each other")
    timed: list[list[tuple[int, int, float]]] = [[] for _ in routes]
    for (caregiver, node, service), begin in zip(visits, start, strict=True):
        timed[caregiver].append((node, service, begin))
    return timed


def evaluate(instance: MankowskaInstance, routes: Sequence[RouteVisits]) -> Evaluation:
    """Score caregiver routes of (patient, service, start) against the instance's rules.

    Checks: one route per caregiver; every required (patient, service) done exactly once and
    nothing else; the caregiver is qualified; a start is no earlier than the window opening nor
    than the caregiver's arrival (previous start + its service time + travel; the first visit
    from the depot at time 0); the two services of a double-service patient by two different
    caregivers with the second starting gap_min..gap_max after the first. Tardiness counts
    every (patient, service) separately.
    """
    result = Evaluation()
    if any(_visit_parts(visit)[2] is None for route in routes for visit in route):
        routes = fill_start_times(instance, routes)
    if len(routes) != instance.caregivers:
        result.violations.append(f"{len(routes)} routes for {instance.caregivers} caregivers")
    end_depot = instance.requires.shape[0] - 1
    done: dict[tuple[int, int], tuple[int, float]] = {}
    lateness: list[float] = []
    for caregiver, route in enumerate(routes[: instance.caregivers]):
        previous, ready = 0, 0.0
        for visit in route:
            node, service, given_start = _visit_parts(visit)
            start = float(given_start or 0.0)  # filled in above when missing
            if not 1 <= node < end_depot or not 0 <= service < instance.requires.shape[1]:
                result.violations.append(f"caregiver {caregiver}: no patient/service {visit}")
                continue
            where = f"caregiver {caregiver}, patient {node}, service {service}"
            if not instance.requires[node, service]:
                result.violations.append(f"{where}: service not required")
            if (node, service) in done:
                result.violations.append(f"{where}: done twice")
            done[(node, service)] = (caregiver, start)
            if not instance.qualified[caregiver, service]:
                result.violations.append(f"{where}: caregiver not qualified")
            arrival = ready + instance.distance[previous, node]
            result.distance += float(instance.distance[previous, node])
            if start < instance.window_open[node] - TOLERANCE:
                result.violations.append(f"{where}: starts {start} before window {node}")
            if start < arrival - TOLERANCE:
                result.violations.append(
                    f"{where}: starts {start:.3f} before arrival {arrival:.3f}"
                )
            lateness.append(max(0.0, start - float(instance.window_close[node])))
            previous, ready = node, start + float(instance.duration[node, caregiver, service])
        result.distance += float(instance.distance[previous, end_depot])
    for node in instance.patients:
        services = instance.services_of(node)
        missing = [s for s in services if (node, s) not in done]
        if missing:
            result.violations.append(f"patient {node}: services {missing} not done")
            continue
        if len(services) == 2:
            (first_by, first_start), (second_by, second_start) = (done[(node, s)] for s in services)
            if first_by == second_by:
                result.violations.append(f"patient {node}: double service by one caregiver")
            gap = second_start - first_start
            low, high = instance.gap_min[node], instance.gap_max[node]
            if not low - TOLERANCE <= gap <= high + TOLERANCE:
                result.violations.append(f"patient {node}: gap {gap:.3f} not in [{low}, {high}]")
    result.total_tardiness = sum(lateness)
    result.max_tardiness = max(lateness, default=0.0)
    return result


def read_index() -> pd.DataFrame:
    """index.csv joined with bks.csv, one row per instance."""
    index = pd.read_csv(DATA / "index.csv")
    bks = pd.read_csv(DATA / "bks.csv")
    return index.merge(bks, on="instance", how="left")


def read_best_solution(instance: str) -> list[list[list[float | None]]]:
    """The published best known routes of an instance (start times may be None)."""
    routes: list[list[list[float | None]]] = json.loads(
        (DATA / "best_solutions" / f"{instance}.json").read_text()
    )["routes"]
    return routes


def solve_instance(name: str, file: str, time_limit_s: float) -> dict[str, object]:
    """Solve and evaluate one instance with the benchmark solver (in a fresh process)."""
    instance = read_instance(DATA / file, name)
    started = time.monotonic()
    solution = solve_hhcrsp(instance.to_problem(), HhcrspParams(time_limit_s=time_limit_s))
    wall_s = time.monotonic() - started
    routes = [[(v.patient_node, v.service, v.start) for v in route] for route in solution.routes]
    evaluation = evaluate(instance, routes)
    return {
        "objective": round(evaluation.objective, 3),
        "distance": round(evaluation.distance, 3),
        "total_tardiness": round(evaluation.total_tardiness, 3),
        "max_tardiness": round(evaluation.max_tardiness, 3),
        "feasible": evaluation.feasible and solution.feasible,
        "violations": len(evaluation.violations),
        "status": solution.solver_status,
        "wall_time_s": round(wall_s, 1),
        "peak_memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def solve_instance_with_engine(name: str, file: str, time_limit_s: float) -> dict[str, object]:
    """Solve one instance with the product's engine and check it twice (in a fresh process).

    The engine's answer is its routes: who visits which patient in which order. The benchmark
    times routes as it times the published best ones (:func:`fill_start_times`: each start as
    early as route order, windows and the gaps allow, in the instance's real-valued distances),
    and the objective is of those times. ``objective_minutes`` scores the plan's own start times
    instead, whole minutes with each leg rounded up (the planner's resolution), which add
    lateness where a route is late anyway. Feasible only if the planner's own evaluator finds
    no violation in the plan and the benchmark's evaluator none in the routes, timed either way.
    """
    instance = read_instance(DATA / file, name)
    started = time.monotonic()
    plan, checked = solve_with_engine(instance, time_limit_s)
    wall_s = time.monotonic() - started
    routes = planner_routes(instance, plan)
    in_minutes = evaluate(instance, routes)
    evaluation = evaluate(instance, [[(n, s, None) for n, s, _ in route] for route in routes])
    return {
        "objective": round(evaluation.objective, 3),
        "distance": round(evaluation.distance, 3),
        "total_tardiness": round(evaluation.total_tardiness, 3),
        "max_tardiness": round(evaluation.max_tardiness, 3),
        "objective_minutes": round(in_minutes.objective, 3),
        "feasible": (
            evaluation.feasible
            and in_minutes.feasible
            and checked.feasible
            and not plan.unscheduled
        ),
        "violations": len(evaluation.violations)
        + len(in_minutes.violations)
        + len(checked.violations),
        "unscheduled": len(plan.unscheduled),
        "status": plan.status,
        "wall_time_s": round(wall_s, 1),
        "peak_memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


SOLVERS = {"engine": solve_instance_with_engine, "solver": solve_instance}
"""The product's engine and the benchmark solver, by the prefix of their columns."""

FILES_HELP = "instance files in the Mankowska text format, comma-separated"


def parse_files(text: str) -> list[Path]:
    """The paths of ``--files``; stops the command naming any that is missing or repeated."""
    paths = [Path(part.strip()) for part in text.split(",") if part.strip()]
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise SystemExit(f"--files: no such file: {', '.join(missing)} (give {FILES_HELP})")
    stems = [path.stem for path in paths]
    repeated = sorted({stem for stem in stems if stems.count(stem) > 1})
    if repeated:
        raise SystemExit(
            f"--files: two files named {', '.join(repeated)}: an instance is named by its "
            f"file's stem, so give each file a name of its own"
        )
    return paths


def parse_best_known(text: str, names: Iterable[str]) -> dict[str, float]:
    """``--best-known NAME=VALUE,...``: a reference objective for instances of ``--files``."""
    known = sorted(names)
    values: dict[str, float] = {}
    for item in (part.strip() for part in text.split(",") if part.strip()):
        name, equals, value = item.partition("=")
        try:
            number = float(value) if equals else math.nan
        except ValueError:
            number = math.nan
        if not (math.isfinite(number) and number > 0):
            raise SystemExit(
                f"--best-known: {item!r} is not NAME=VALUE with a positive objective "
                f"(e.g. {known[0] if known else 'HHCRSP_400_s1'}=2100.5)"
            )
        if name not in known:
            raise SystemExit(
                f"--best-known: {name!r} is not the name of a file of --files "
                f"(their names, the files' stems: {', '.join(known) or 'none given'})"
            )
        values[name] = number
    return values


def file_rows(paths: Sequence[Path], best_known: Mapping[str, float]) -> pd.DataFrame:
    """Rows like those of :func:`select` for instance files outside ``index.csv``.

    Each is named by its file's stem and is in the set ``other``; its best known value is
    ``best_known``'s, NaN when not given (no gap then). The files are read here, so that a
    file that is not an instance stops the run before any solve (ValueError naming it).
    """
    rows = []
    for path in paths:
        try:
            instance = read_instance(path)
        except (KeyError, ValueError, IndexError) as error:
            raise ValueError(
                f"{path}: not an instance file in the Mankowska text format "
                f"(one section header per line: nbNodes, nbVehi, nbServi, r, DS, a, x, y, d, "
                f"p, mind, maxd, e, l): {error!r}"
            ) from None
        rows.append(
            {
                "instance": instance.name,
                "file": str(path.resolve()),
                "set": OTHER_SET,
                "patients": len(instance.patients),
                "caregivers": instance.caregivers,
                "services": int(instance.requires.shape[1]),
                "double_service_patients": len(instance.double_service_nodes),
                "best_known_objective": best_known.get(instance.name, math.nan),
            }
        )
    return pd.DataFrame(rows)


def select(sets: Iterable[str] | None, instances: Iterable[str] | None) -> pd.DataFrame:
    """The index rows of the chosen sets and/or instances (all when neither is given)."""
    index = read_index()
    chosen = np.ones(len(index), dtype=bool)
    if sets:
        chosen &= index["set"].isin(list(sets)).to_numpy()
    if instances:
        chosen &= index["instance"].isin(list(instances)).to_numpy()
    return index[chosen]


def solve_all(
    rows: pd.DataFrame, time_limit_s: float, solvers: Sequence[str] = tuple(SOLVERS)
) -> pd.DataFrame:
    """Solve the chosen instances one after another, each solver in its own process."""
    results = []
    for record in rows.itertuples(index=False):
        best = float(str(record.best_known_objective))
        row: dict[str, object] = {"instance": record.instance, "set": record.set}
        for prefix in solvers:
            with ProcessPoolExecutor(max_workers=1) as pool:
                measured = pool.submit(
                    SOLVERS[prefix], str(record.instance), str(record.file), time_limit_s
                ).result()
            objective = float(measured["objective"])  # type: ignore[arg-type]
            # No best known (an instance of --files without --best-known): no gap.
            measured["gap_pct"] = (
                round(100 * (objective - best) / best, 2) if best > 0 else math.nan
            )
            row.update({f"{prefix}_{key}": value for key, value in measured.items()})
        row["best_known"] = best
        results.append(row)
        print(
            f"{row['instance']}: "
            + ", ".join(
                f"{p} {row[f'{p}_objective']} ("
                + (f"{row[f'{p}_gap_pct']}%" if best > 0 else "no gap")
                + f", feasible={row[f'{p}_feasible']})"
                for p in solvers
            )
            + (f", best known {best:.2f}" if best > 0 else ", best known: none given"),
            flush=True,
        )
    frame = pd.DataFrame(results)
    first = ["instance", "set", "best_known"]
    for p in solvers:
        first += [f"{p}_objective", f"{p}_gap_pct", f"{p}_feasible"]
    return frame[first + [c for c in frame.columns if c not in first]]


def per_set(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean gap per set of each solver run, beside the paper's mean gap to the same values.

    The targets are the engine's: within 3% of the best known on every set (mean gap), and
    not behind the paper (Set A was solved to optimality there: within 0.5%).
    """
    aggregations: dict[str, tuple[str, str]] = {"instances": ("instance", "count")}
    for p in [c[: -len("_objective")] for c in frame.columns if c.endswith("_objective")]:
        if f"{p}_gap_pct" not in frame:
            continue
        aggregations[f"{p}_feasible"] = (f"{p}_feasible", "sum")
        aggregations[f"{p}_mean_gap_pct"] = (f"{p}_gap_pct", "mean")
        aggregations[f"{p}_max_gap_pct"] = (f"{p}_gap_pct", "max")
    grouped = frame.groupby("set").agg(**aggregations)
    grouped["paper_mean_gap_pct"] = [
        PAPER_MEAN_GAP_PCT.get(str(s), math.nan) for s in grouped.index
    ]
    if "engine_mean_gap_pct" in grouped:
        paper = grouped["paper_mean_gap_pct"].where(grouped.index != "A", SET_A_TARGET_GAP_PCT)
        gap = grouped["engine_mean_gap_pct"]
        # <NA>, not False, where there is nothing to compare with (set other, no best known).
        within = (gap <= ENGINE_TARGET_GAP_PCT).astype("boolean")
        grouped["engine_within_3pct"] = within.mask(gap.isna())
        not_behind = (gap <= paper).astype("boolean")
        grouped["engine_not_behind_paper"] = not_behind.mask(gap.isna() | paper.isna())
    return grouped.round(2).reset_index()


def write(frame: pd.DataFrame, time_limit_s: float, label: str, note: str = "") -> None:
    """Write ``benchmarks/results/<label>.csv`` and ``.md`` (header: date, machine, limits)."""
    RESULTS.mkdir(exist_ok=True)
    frame.to_csv(RESULTS / f"{label}.csv", index=False)
    header = (
        f"# Mankowska et al. (2014) HHCRSP benchmark\n\n"
        f"Measured {dt.date.today()} on the project's 2-core machine (the load is said below), "
        f"{time_limit_s:g} s time limit per instance and solver, one search process "
        f"per instance and solver (forked, so its peak memory includes the parent's ~70 MB). "
        f"`engine`: the product's engine (`scheduler.solve` on the instance as the planner's "
        f"own week, `to_planner_problem`); `solver`: the benchmark solver "
        f"(`benchmarks/hhcrsp.py`). "
        f"Objective (distance + total tardiness + max tardiness) / 3 of routes timed as the "
        f"best known ones are (each start as early as the rules allow, real-valued; the "
        f"engine's own whole-minute times in `engine_objective_minutes`), every solution checked "
        f"by the independent evaluator in `benchmarks/mankowska.py` (the engine's also by the "
        f"planner's own evaluator); gap % against the best "
        f"known values of `bks.csv` (set `{OTHER_SET}`: instance files given with `--files`, "
        f"against `--best-known` values, no gap without one).{(' ' + note) if note else ''}\n\n"
    )
    body = (
        "## Per set\n\n"
        + per_set(frame).to_markdown(index=False)
        + "\n\n## Per instance\n\n"
        + frame.to_markdown(index=False)
        + "\n"
    )
    (RESULTS / f"{label}.md").write_text(header + body)


def add_parser(sub: Any) -> None:
    """Add the ``mankowska`` sub-command to the parsers of ``python -m benchmarks``."""
    parser = sub.add_parser("mankowska", help="Mankowska et al. (2014) HHCRSP instances")
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds per instance")
    parser.add_argument("--sets", default="", help="comma-separated sets, e.g. A,B (default all)")
    parser.add_argument("--instances", default="", help="comma-separated names, e.g. A1,D3")
    parser.add_argument("--label", default="mankowska", help="results file name")
    parser.add_argument("--note", default="", help="said in the table's header")
    parser.add_argument(
        "--solvers", default="engine,solver", help="engine (the product's), solver (benchmark)"
    )
    parser.add_argument(
        "--files",
        default="",
        help=f"{FILES_HELP}, not in index.csv; named by their stems, set {OTHER_SET!r} "
        "(alone: only these are run)",
    )
    parser.add_argument(
        "--best-known",
        default="",
        help="reference objectives of --files instances, e.g. HHCRSP_400_s1=2100.5,...",
    )


def run(args: argparse.Namespace) -> None:
    """The ``mankowska`` sub-command."""
    files = parse_files(args.files) if args.files else []
    if args.best_known and not files:
        raise SystemExit("--best-known: give the instance files too (--files PATH,...)")
    best_known = parse_best_known(args.best_known, [path.stem for path in files])
    chosen = []
    if args.sets or args.instances or not files:
        chosen.append(
            select(
                args.sets.split(",") if args.sets else None,
                args.instances.split(",") if args.instances else None,
            )
        )
    if files:
        try:
            chosen.append(file_rows(files, best_known))
        except ValueError as error:
            raise SystemExit(f"--files: {error}") from None
    rows = pd.concat(chosen, ignore_index=True)
    twice = sorted(set(rows.loc[rows["instance"].duplicated(), "instance"]))
    if twice:
        raise SystemExit(
            f"--files: {', '.join(twice)} is also an instance of index.csv; rename the file"
        )
    frame = solve_all(rows, args.time_limit, [s for s in args.solvers.split(",") if s])
    write(frame, args.time_limit, args.label, args.note)
    print(per_set(frame).to_string(index=False))


__all__ = ["add_parser", "evaluate", "read_instance", "run", "solve_all"]
