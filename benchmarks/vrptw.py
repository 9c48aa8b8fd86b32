"""Classic VRPTW benchmarks (Solomon, Gehring-Homberger, a 1,000-customer synthetic instance).

``python -m benchmarks solomon --time-limit 10 [--instances C101,R201]
[--solvers ortools,pyvrp,vroom]`` (and ``homberger``, ``synthetic``) solves each instance
with every named solver, each in its own process under the same time limit, scores every
answer with :func:`evaluate` (which recomputes loads, times and distances from the instance
file and knows nothing of any solver) and writes
``benchmarks/results/<set>.csv`` and ``.md``.

Distances follow the CVRPLIB/DIMACS convention of the best-known solutions: every arc's Euclidean
length truncated to one decimal, ``floor(10 d) / 10``; travel time equals that distance. Inside, all
arithmetic is in integer tenths, so nothing depends on floating-point rounding.

Solvers:

* ``ortools``: the project's adapter :mod:`benchmarks.vrptw_solver`, OR-Tools engine;
* ``adapter-pyvrp``: the same adapter with its PyVRP engine;
* ``pyvrp``, ``vroom``: the peers, called directly (optional dependencies, imported lazily).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import multiprocessing
import os
import platform
import re
import resource
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

# The published instances, which the repository does not ship: HOMEVISIT_BENCHMARK_DATA names
# their folder (solomon/, homberger/, synthetic/, bks.csv; mankowska/ beside them).
DATA = Path(os.environ.get("HOMEVISIT_BENCHMARK_DATA", "/work/shared/benchmarks"))
RESULTS = Path(__file__).resolve().parent / "results"
SETS = ("solomon", "homberger", "synthetic")
SOLVERS = ("ortools", "adapter-pyvrp", "pyvrp", "vroom")
DEFAULT_SOLVERS = ("ortools", "pyvrp", "vroom")
DEFAULT_TIME_LIMIT_S = {"solomon": 10.0, "homberger": 10.0, "synthetic": 60.0}
COORD_SCALE = 100  # coordinates are kept in hundredths: the files carry at most two decimals
TIME_SCALE = 10  # times and distances in tenths, the DIMACS truncation unit
# Preference order of best-known rows per set (bks.csv ``objective`` column). Homberger has a
# distance-only BKS for C1_2_1 only; the others are SINTEF hierarchical routes re-costed in
# tenths, an upper bound on the distance-only optimum.
BKS_KINDS = ("distance_only", "hier_recosted_trunc1")

IntArray = npt.NDArray[np.int64]
Routes = list[list[int]]


@dataclass(frozen=True, slots=True)
class Instance:
    """A Solomon-format instance; node 0 is the depot. Times in the file's (integer) unit."""

    name: str
    vehicles: int
    capacity: int
    x_hundredths: tuple[int, ...]
    y_hundredths: tuple[int, ...]
    demand: tuple[int, ...]
    ready: tuple[int, ...]
    due: tuple[int, ...]
    service: tuple[int, ...]

    @property
    def customers(self) -> int:
        """How many customers (the depot not counted)."""
        return len(self.demand) - 1


@dataclass(frozen=True, slots=True)
class Evaluation:
    """What the evaluator found: feasibility, every violation, distance in the DIMACS unit."""

    feasible: bool
    distance: float
    vehicles: int
    violations: tuple[str, ...]


def _hundredths(text: str) -> int:
    value = round(float(text) * COORD_SCALE)
    if abs(value - float(text) * COORD_SCALE) > 1e-6:
        raise ValueError(f"coordinate {text} has more than two decimals")
    return value


def _whole(text: str) -> int:
    value = float(text)
    if value != int(value):
        raise ValueError(f"time or quantity {text} is not a whole number")
    return int(value)


def read_instance(path: Path) -> Instance:
    """Read a Solomon or Gehring-Homberger text file (the synthetic one has the same layout)."""
    lines = [line.split() for line in path.read_text().splitlines()]
    numeric = [row for row in lines if row and all(_is_number(token) for token in row)]
    vehicles, capacity = (int(token) for token in numeric[0])
    rows = [row for row in numeric[1:] if len(row) == 7]
    if [int(row[0]) for row in rows] != list(range(len(rows))):
        raise ValueError(f"{path}: customer rows are not numbered 0..n in order")
    return Instance(
        name=path.stem,
        vehicles=vehicles,
        capacity=capacity,
        x_hundredths=tuple(_hundredths(row[1]) for row in rows),
        y_hundredths=tuple(_hundredths(row[2]) for row in rows),
        demand=tuple(_whole(row[3]) for row in rows),
        ready=tuple(_whole(row[4]) for row in rows),
        due=tuple(_whole(row[5]) for row in rows),
        service=tuple(_whole(row[6]) for row in rows),
    )


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def read_solution(path: Path) -> tuple[Routes, float | None]:
    """Read a CVRPLIB ``.sol`` file: ``Route #k: i j ...`` lines and an optional ``Cost`` line."""
    routes: Routes = []
    cost = None
    for line in path.read_text().splitlines():
        if match := re.match(r"\s*Route\s*#\d+\s*:(.*)", line):
            routes.append([int(token) for token in match.group(1).split()])
        elif match := re.match(r"\s*Cost\s+([\d.]+)", line):
            cost = float(match.group(1))
    return routes, cost


def arc_tenths(instance: Instance, a: int, b: int) -> int:
    """Arc length in tenths, truncated: floor(10 * d) computed exactly with integer square roots.

    With coordinates in hundredths, 10 * d = sqrt(dx^2 + dy^2) / 10, and
    floor(sqrt(s) / 10) = isqrt(s) // 10.
    """
    dx = instance.x_hundredths[a] - instance.x_hundredths[b]
    dy = instance.y_hundredths[a] - instance.y_hundredths[b]
    return math.isqrt(dx * dx + dy * dy) * TIME_SCALE // COORD_SCALE


def evaluate(instance: Instance, routes: Sequence[Sequence[int]]) -> Evaluation:
    """Check and cost routes from the instance alone.

    Rules: every customer exactly once; at most ``instance.vehicles`` non-empty routes; load within
    capacity; a vehicle leaves the depot no earlier than its ready time, may wait for a window to
    open, must start service by the window's due time, serves for the service time, and is back at
    the depot by the depot's due time. Travel time equals the truncated distance.
    """
    violations: list[str] = []
    used = [list(route) for route in routes if route]
    seen: dict[int, int] = {}
    for route in used:
        for customer in route:
            seen[customer] = seen.get(customer, 0) + 1
    unknown = sorted(c for c in seen if not 1 <= c <= instance.customers)
    missing = [c for c in range(1, instance.customers + 1) if c not in seen]
    twice = sorted(c for c, count in seen.items() if count > 1)
    if unknown:
        violations.append(f"unknown customers {unknown[:10]}")
    if missing:
        violations.append(f"{len(missing)} customers not visited, e.g. {missing[:10]}")
    if twice:
        violations.append(f"customers visited more than once {twice[:10]}")
    if len(used) > instance.vehicles:
        violations.append(f"{len(used)} routes, only {instance.vehicles} vehicles")
    total = 0
    for number, route in enumerate(used, start=1):
        if unknown and any(c in unknown for c in route):
            continue
        load = sum(instance.demand[c] for c in route)
        if load > instance.capacity:
            violations.append(f"route {number}: load {load} > capacity {instance.capacity}")
        clock = instance.ready[0] * TIME_SCALE
        here = 0
        for customer in [*route, 0]:
            leg = arc_tenths(instance, here, customer)
            total += leg
            arrival = clock + instance.service[here] * TIME_SCALE + leg
            due = instance.due[customer] * TIME_SCALE
            if arrival > due:
                place = "depot" if customer == 0 else f"customer {customer}"
                violations.append(
                    f"route {number}: {place} reached at {arrival / TIME_SCALE}, due {due / 10}"
                )
            clock = max(arrival, instance.ready[customer] * TIME_SCALE)
            here = customer
    return Evaluation(not violations, total / TIME_SCALE, len(used), tuple(violations))


# --- the matrix every solver gets -------------------------------------------------------------


def tenths_matrix(instance: Instance) -> IntArray:
    """All arcs in tenths, truncated (vectorised; exact, see :func:`arc_tenths`)."""
    x = np.asarray(instance.x_hundredths, dtype=np.int64)
    y = np.asarray(instance.y_hundredths, dtype=np.int64)
    squared = (x[:, None] - x[None, :]) ** 2 + (y[:, None] - y[None, :]) ** 2
    # sqrt of an integer below 2^53 is correctly rounded, so its floor is isqrt for these sizes.
    root = np.floor(np.sqrt(squared.astype(np.float64))).astype(np.int64)
    return root * TIME_SCALE // COORD_SCALE


def _scaled(values: Sequence[int]) -> tuple[int, ...]:
    return tuple(v * TIME_SCALE for v in values)


def solve_ortools(instance: Instance, time_limit_s: float, threads: int, seed: int) -> Routes:
    """The project's adapter with its OR-Tools engine."""
    return _solve_adapter(instance, time_limit_s, threads, seed, "ortools")


def solve_adapter_pyvrp(instance: Instance, time_limit_s: float, threads: int, seed: int) -> Routes:
    """The project's adapter with its PyVRP engine."""
    return _solve_adapter(instance, time_limit_s, threads, seed, "pyvrp")


def _solve_adapter(
    instance: Instance, time_limit_s: float, threads: int, seed: int, engine: str
) -> Routes:
    from benchmarks.vrptw_solver import VrptwData, VrptwParams, solve_vrptw

    data = VrptwData(
        distance=tenths_matrix(instance),
        demand=instance.demand,
        capacity=instance.capacity,
        window_start=_scaled(instance.ready),
        window_end=_scaled(instance.due),
        service=_scaled(instance.service),
        vehicles=instance.vehicles,
    )
    params = VrptwParams(time_limit_s=time_limit_s, engine=engine, workers=threads, seed=seed)  # type: ignore[arg-type]
    return [list(route) for route in solve_vrptw(data, params).routes]


def solve_pyvrp(instance: Instance, time_limit_s: float, threads: int, seed: int) -> Routes:
    """PyVRP's default iterated local search (single-threaded by design)."""
    import pyvrp
    from pyvrp.stop import MaxRuntime

    matrix = tenths_matrix(instance)
    locations = [
        pyvrp.Location(x / COORD_SCALE, y / COORD_SCALE)
        for x, y in zip(instance.x_hundredths, instance.y_hundredths, strict=True)
    ]
    clients = [
        pyvrp.Client(
            location=i,
            delivery=[instance.demand[i]],
            service_duration=instance.service[i] * TIME_SCALE,
            tw_early=instance.ready[i] * TIME_SCALE,
            tw_late=instance.due[i] * TIME_SCALE,
        )
        for i in range(1, len(instance.demand))
    ]
    start, end = instance.ready[0] * TIME_SCALE, instance.due[0] * TIME_SCALE
    data = pyvrp.ProblemData(
        locations=locations,
        clients=clients,
        depots=[pyvrp.Depot(location=0, tw_early=start, tw_late=end)],
        vehicle_types=[
            pyvrp.VehicleType(
                num_available=instance.vehicles,
                capacity=[instance.capacity],
                tw_early=start,
                tw_late=end,
            )
        ],
        distance_matrices=[matrix],  # type: ignore[list-item]  # the stubs' shape type
        duration_matrices=[matrix],  # type: ignore[list-item]
    )
    result = pyvrp.solve(data, MaxRuntime(time_limit_s), seed=seed, collect_stats=False)
    # Activities index the clients list; client k sits at node k + 1.
    return [[a.idx + 1 for a in route if a.is_client()] for route in result.best.routes()]


def solve_vroom(instance: Instance, time_limit_s: float, threads: int, seed: int) -> Routes:
    """VROOM at its highest exploration level, stopped by the time limit if it runs that long."""
    import vroom

    problem = vroom.Input()
    problem.set_durations_matrix("car", tenths_matrix(instance))
    start, end = instance.ready[0] * TIME_SCALE, instance.due[0] * TIME_SCALE
    for vehicle in range(instance.vehicles):
        problem.add_vehicle(
            vroom.Vehicle(
                vehicle,
                start=0,
                end=0,
                capacity=[instance.capacity],
                time_window=vroom.TimeWindow(start, end),
            )
        )
    problem.add_job(
        [
            vroom.Job(
                i,
                location=i,
                default_service=instance.service[i] * TIME_SCALE,
                delivery=[instance.demand[i]],
                time_windows=[
                    vroom.TimeWindow(instance.ready[i] * TIME_SCALE, instance.due[i] * TIME_SCALE)
                ],
            )
            for i in range(1, len(instance.demand))
        ]
    )
    solution = problem.solve(
        exploration_level=5, nb_threads=threads, timeout=dt.timedelta(seconds=time_limit_s)
    )
    steps = solution.routes
    jobs = steps[steps["type"] == "job"]
    return [[int(i) for i in group["id"]] for _, group in jobs.groupby("vehicle_id", sort=False)]


SOLVE: dict[str, Callable[[Instance, float, int, int], Routes]] = {
    "ortools": solve_ortools,
    "adapter-pyvrp": solve_adapter_pyvrp,
    "pyvrp": solve_pyvrp,
    "vroom": solve_vroom,
}


# --- the run ----------------------------------------------------------------------------------


def _cpu_s() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


def _peak_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, workers) / 1024, 1)


def _solve_in_this_process(
    solver: str, instance: Instance, time_limit_s: float, threads: int, seed: int
) -> dict[str, Any]:
    started, cpu_started = time.monotonic(), _cpu_s()
    try:
        routes, error = SOLVE[solver](instance, time_limit_s, threads, seed), ""
    except Exception as exc:  # a peer failing is a row in the table, not a crashed run
        routes, error = [], f"{type(exc).__name__}: {exc}"
    return {
        "routes": routes,
        "wall_s": time.monotonic() - started,
        "cpu_s": _cpu_s() - cpu_started,
        "peak_mb": _peak_mb(),
        "error": error,
    }


def solve_isolated(
    solver: str, instance: Instance, time_limit_s: float, threads: int, seed: int
) -> dict[str, Any]:
    """Solve in a fresh process so that peak memory is the solver's own (plus the small parent)."""
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        future = pool.submit(_solve_in_this_process, solver, instance, time_limit_s, threads, seed)
        return future.result()


def instance_paths(benchmark: str) -> list[Path]:
    """The instance files of a set, in name order."""
    if benchmark == "solomon":
        return sorted((DATA / "solomon").glob("*.txt"))
    if benchmark == "homberger":
        return sorted(p for p in (DATA / "homberger").glob("*_2_1.txt"))
    return sorted((DATA / "synthetic").glob("*.txt"))


def best_known(benchmark: str) -> dict[str, tuple[float, int, str]]:
    """Per instance: (distance, vehicles, kind) of the preferred best-known row of bks.csv."""
    found: dict[str, tuple[float, int, str]] = {}
    with (DATA / "bks.csv").open() as file:
        rows = list(csv.DictReader(file))
    for kind in reversed(BKS_KINDS):  # later kinds are overwritten by preferred ones
        for row in rows:
            if row["objective"] == kind:
                found[row["instance"]] = (float(row["bks_distance"]), int(row["vehicles"]), kind)
    if benchmark == "solomon":
        return {k: v for k, v in found.items() if re.fullmatch(r"(C|R|RC)\d{3}", k)}
    return found


def measure(
    benchmark: str,
    time_limit_s: float,
    names: Sequence[str] | None,
    solvers: Sequence[str],
    threads: int,
    seed: int,
) -> list[dict[str, Any]]:
    """Solve and score every (instance, solver) pair; one row each."""
    bks = best_known(benchmark)
    paths = instance_paths(benchmark)
    if names:
        wanted = {name.upper() for name in names}
        paths = [p for p in paths if p.stem.upper() in wanted]
    rows: list[dict[str, Any]] = []
    for path in paths:
        instance = read_instance(path)
        for solver in solvers:
            outcome = solve_isolated(solver, instance, time_limit_s, threads, seed)
            scored = evaluate(instance, outcome["routes"])
            known = bks.get(instance.name)
            rows.append(
                {
                    "instance": instance.name,
                    "solver": solver,
                    "objective": round(scored.distance, 1),
                    "best_known": known[0] if known else None,
                    "gap_pct": round(100 * (scored.distance / known[0] - 1), 2) if known else None,
                    "vehicles": scored.vehicles,
                    "bks_vehicles": known[1] if known else None,
                    "feasible": scored.feasible,
                    "wall_time_s": round(outcome["wall_s"], 2),
                    # Below the wall time when the shared cores were busy with other work.
                    "cpu_time_s": round(outcome["cpu_s"], 2),
                    "peak_memory_mb": outcome["peak_mb"],
                    "bks_kind": known[2] if known else "",
                    "violations": "; ".join(scored.violations)[:200] or outcome["error"][:200],
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    if benchmark == "synthetic":
        _against_best_of_run(rows)
    return rows


def _against_best_of_run(rows: list[dict[str, Any]]) -> None:
    # No published best for the generated instance: the gap is to the best feasible answer of
    # this run, and says so in bks_kind.
    for name in {row["instance"] for row in rows}:
        mine = [row for row in rows if row["instance"] == name]
        feasible = [row["objective"] for row in mine if row["feasible"]]
        if not feasible:
            continue
        best = min(feasible)
        for row in mine:
            row["best_known"] = best
            row["gap_pct"] = round(100 * (row["objective"] / best - 1), 2)
            row["bks_kind"] = "best of this run"


def summarise(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per solver: mean gap (feasible rows with a best known), feasibility, mean time."""
    lines = []
    for solver in dict.fromkeys(row["solver"] for row in rows):
        mine = [row for row in rows if row["solver"] == solver]
        gaps = [row["gap_pct"] for row in mine if row["feasible"] and row["gap_pct"] is not None]
        lines.append(
            {
                "solver": solver,
                "instances": len(mine),
                "mean_gap_pct": round(float(np.mean(gaps)), 2) if gaps else None,
                "all_feasible": all(row["feasible"] for row in mine),
                "feasible": sum(row["feasible"] for row in mine),
                "mean_vehicles": round(float(np.mean([row["vehicles"] for row in mine])), 2),
                "mean_wall_time_s": round(float(np.mean([row["wall_time_s"] for row in mine])), 2),
                "mean_cpu_time_s": round(float(np.mean([row["cpu_time_s"] for row in mine])), 2),
                "max_peak_memory_mb": max(row["peak_memory_mb"] for row in mine),
            }
        )
    return lines


def write(benchmark: str, rows: list[dict[str, Any]], args: argparse.Namespace, load: str) -> None:
    """``results/<set>.csv`` (one row per instance and solver) and ``.md`` (with the summary)."""
    import pandas as pd

    RESULTS.mkdir(exist_ok=True)
    frame = pd.DataFrame(rows)
    frame.to_csv(RESULTS / f"{benchmark}.csv", index=False)
    summary = pd.DataFrame(summarise(rows))
    machine = f"{platform.platform()}, {platform.processor() or platform.machine()}"
    header = (
        f"# {benchmark} VRPTW benchmark\n\n"
        f"Measured {dt.date.today()} on {machine}, Python {platform.python_version()}, "
        f"{multiprocessing.cpu_count()} cores{', shared with other work' if args.shared else ''}. "
        f"Time limit {args.time_limit} s per instance and solver, {args.threads} thread(s) each, "
        f"seed {args.seed}; every solver in its own process, one after another. "
        f"1-minute load average {load}.\n\n"
        "Objective = total distance with every arc truncated to one decimal (CVRPLIB/DIMACS), "
        "recomputed by `benchmarks/vrptw.py:evaluate` for every solver. "
        "`bks_kind`: `distance_only` = CVRPLIB best known for this objective; "
        "`hier_recosted_trunc1` = SINTEF hierarchical (fewest vehicles first) routes re-costed, an "
        "upper bound on the distance-only best (a negative gap is possible); "
        "`best of this run` = no published value. Peak memory is the solving process's maximum "
        "resident set (including the forked parent's small footprint and any worker processes).\n\n"
        "Solvers: `ortools` = the project's adapter `benchmarks/vrptw_solver.py`, OR-Tools engine; "
        "`adapter-pyvrp` = the same adapter, PyVRP engine; `pyvrp`, `vroom` = the peers called "
        'directly. The adapter\'s default engine (`engine="auto"`) is PyVRP when it is '
        "installed, else OR-Tools.\n\n## Summary\n\n"
    )
    table = summary.to_markdown(index=False) + "\n\n## Per instance\n\n"
    per_instance = frame.drop(columns=["violations"]).to_markdown(index=False) + "\n"
    (RESULTS / f"{benchmark}.md").write_text(header + table + per_instance)


def add_parsers(sub: Any) -> None:
    """Add the ``solomon``, ``homberger`` and ``synthetic`` sub-commands."""
    for benchmark in SETS:
        parser = sub.add_parser(benchmark, help=f"VRPTW: the {benchmark} instances vs. peers")
        parser.add_argument("--time-limit", type=float, default=DEFAULT_TIME_LIMIT_S[benchmark])
        parser.add_argument("--instances", default="", help="comma-separated names, e.g. C101")
        parser.add_argument("--solvers", default=",".join(DEFAULT_SOLVERS), help=str(SOLVERS))
        parser.add_argument("--threads", type=int, default=1, help="per solver (ortools workers)")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--shared", action="store_true", help="say the cores were shared")
        parser.add_argument("--no-write", action="store_true", help="print rows, keep tables")


def run(args: argparse.Namespace) -> None:
    """Run one of the VRPTW sub-commands."""
    solvers = [s for s in args.solvers.split(",") if s]
    unknown = sorted(set(solvers) - set(SOLVERS))
    if unknown:
        raise SystemExit(f"unknown solvers {unknown}; choose from {SOLVERS}")
    names = [n for n in args.instances.split(",") if n]
    load_before = os.getloadavg()[0]
    rows = measure(args.benchmark, args.time_limit, names, solvers, args.threads, args.seed)
    for line in summarise(rows):
        print(json.dumps(line))
    if not args.no_write:
        load = f"{load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
        write(args.benchmark, rows, args, load)


__all__ = ["SETS", "Evaluation", "Instance", "add_parsers", "evaluate", "read_instance", "run"]
