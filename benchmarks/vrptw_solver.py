"""A plain capacitated VRP with time windows (VRPTW), solved behind one adapter.

The input is plain integer data (one depot at index 0, customers 1..n, a travel matrix in the
caller's unit, which is also the time unit), the output is routes of customer indices. Two engines
sit behind :func:`solve_vrptw`:

* ``"ortools"``: the OR-Tools routing model in the samples' idiom (travel + service folded into one
  transit matrix, a time dimension with slack for waiting, capacity as a unary transit vector,
  guided local search) started from parallel cheapest insertion (savings above 500 customers);
  with ``workers=2`` a second process starts from our greedy construction and the better plan is
  kept.
* ``"pyvrp"``: PyVRP's iterated local search on the same data (an optional dependency, imported
  only when asked for).
* ``"auto"`` (the default): PyVRP when it is installed, else OR-Tools; it is the better engine on
  every benchmark in ``benchmarks/results/`` (Solomon, Gehring-Homberger, 1,000 customers).

Whatever the engine and the time limit, the greedy construction is computed first and returned
when the search finds nothing better, so a plan always has visits in it.

The objective is total distance (the CVRPLIB convention); a ``vehicle_cost`` per used route turns it
into the hierarchical objective (vehicles first, then distance) when set large.
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import numpy.typing as npt
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

Engine = Literal["auto", "ortools", "pyvrp"]
Routes = tuple[tuple[int, ...], ...]

DEPOT = 0
# A search that has spent less than this on its own still returns the greedy plan.
MIN_SEARCH_S = 0.05
NEIGHBOURS_AT_LEAST = 10
# Above this many customers the OR-Tools engine starts from savings instead of parallel cheapest
# insertion (measured on the 1,000-customer synthetic instance at 60 s: 7,193 against 7,731).
SAVINGS_ABOVE_CUSTOMERS = 500


@dataclass(frozen=True, slots=True)
class VrptwData:
    """One VRPTW instance as integers; index 0 is the depot in every sequence.

    ``distance`` is what the objective sums, ``duration`` what the clock advances by (the same
    matrix when ``None``). Windows bound the start of service; the depot's window is the horizon.
    """

    distance: npt.NDArray[np.int64]
    demand: tuple[int, ...]
    capacity: int
    window_start: tuple[int, ...]
    window_end: tuple[int, ...]
    service: tuple[int, ...]
    vehicles: int
    duration: npt.NDArray[np.int64] | None = None

    def __post_init__(self) -> None:
        size = len(self.demand)
        if self.distance.shape != (size, size):
            raise ValueError(f"distance is {self.distance.shape}, expected ({size}, {size})")
        if self.duration is not None and self.duration.shape != (size, size):
            raise ValueError(f"duration is {self.duration.shape}, expected ({size}, {size})")
        for name in ("window_start", "window_end", "service"):
            if len(getattr(self, name)) != size:
                raise ValueError(f"{name} has {len(getattr(self, name))} entries, expected {size}")
        if self.vehicles < 1 or self.capacity < 0:
            raise ValueError("need at least one vehicle and a non-negative capacity")

    @property
    def customers(self) -> int:
        """How many customers (the depot not counted)."""
        return len(self.demand) - 1

    @property
    def travel_time(self) -> npt.NDArray[np.int64]:
        """The matrix the clock advances by."""
        return self.distance if self.duration is None else self.duration


@dataclass(frozen=True, slots=True)
class VrptwParams:
    """How to search: engine, time, and the OR-Tools strategy names (enum member names)."""

    time_limit_s: float = 10.0
    engine: Engine = "auto"  # PyVRP when installed (it is better on every benchmark), else OR-Tools
    workers: int = 1
    seed: int = 0
    vehicle_cost: int = 0
    # "AUTO" (by size, see first_solution_for), "GREEDY" (ours) or a FirstSolutionStrategy name.
    first_solution: str = "AUTO"
    second_first_solution: str = "GREEDY"  # the second worker's start
    metaheuristic: str = "GUIDED_LOCAL_SEARCH"
    guided_local_search_lambda: float = 0.1
    optional_visits: bool = True  # disjunctions, so an incomplete greedy start is usable
    # Local-search moves consider only this share of each node's nearest neighbours (1.0: all).
    neighbors_ratio: float = 1.0


@dataclass(frozen=True, slots=True)
class VrptwSolution:
    """Routes of customer indices (depot left out), their distance and how they were found."""

    routes: Routes
    distance: int
    engine: str
    unassigned: tuple[int, ...] = ()


def route_distance(data: VrptwData, routes: Routes) -> int:
    """Total distance of routes that start and end at the depot."""
    total = 0
    for route in routes:
        path = [DEPOT, *route, DEPOT]
        total += int(data.distance[path[:-1], path[1:]].sum())
    return total


def greedy_routes(data: VrptwData) -> tuple[Routes, tuple[int, ...]]:
    """Build routes one at a time, always going to the feasible customer reached soonest.

    A time-oriented nearest neighbour (Solomon 1987): the next customer is the one whose service
    can start soonest, i.e. least travel plus waiting. Cheap (one vector pass per visit), so any
    time limit ends with this plan at least. Customers no vehicle can take are returned apart.
    """
    travel = data.travel_time
    ready = np.asarray(data.window_start, dtype=np.int64)
    due = np.asarray(data.window_end, dtype=np.int64)
    service = np.asarray(data.service, dtype=np.int64)
    demand = np.asarray(data.demand, dtype=np.int64)
    horizon = int(due[DEPOT])
    open_ = np.ones(len(demand), dtype=bool)
    open_[DEPOT] = False
    routes: list[tuple[int, ...]] = []
    while open_.any() and len(routes) < data.vehicles:
        route: list[int] = []
        here, clock, load = DEPOT, int(ready[DEPOT]), 0
        while True:
            service_start = np.maximum(clock + service[here] + travel[here], ready)
            fits = (
                open_
                & (service_start <= due)
                & (load + demand <= data.capacity)
                & (service_start + service + travel[:, DEPOT] <= horizon)
            )
            if not fits.any():
                break
            # Travel plus waiting; weighing in how soon a window closes made routes longer on
            # every instance tried (SYN1000: 8,526 -> 11,016 at weight 0.2).
            candidates = np.flatnonzero(fits)
            nxt = int(candidates[np.argmin(service_start[candidates])])
            route.append(nxt)
            open_[nxt] = False
            here, clock, load = nxt, int(service_start[nxt]), load + int(demand[nxt])
        if not route:
            break
        routes.append(tuple(route))
    return tuple(routes), tuple(int(i) for i in np.flatnonzero(open_))


def solve_vrptw(data: VrptwData, params: VrptwParams) -> VrptwSolution:
    """Solve within ``params.time_limit_s`` with the chosen engine; always returns a plan.

    Parameters
    ----------
    data
        The instance as integers.
    params
        Engine, time limit, workers and strategies.

    Returns
    -------
    VrptwSolution
        The best routes found; customers no route could take are listed in ``unassigned``.
    """
    started = time.monotonic()
    greedy, left_out = greedy_routes(data)
    fallback = VrptwSolution(greedy, route_distance(data, greedy), "greedy", left_out)
    remaining = params.time_limit_s - (time.monotonic() - started)
    if remaining < MIN_SEARCH_S:
        return fallback
    params = replace(params, time_limit_s=remaining, engine=pick_engine(params.engine))
    if params.engine == "pyvrp":
        found = _solve_pyvrp(data, params)
    elif params.workers > 1:
        found = _solve_ortools_parallel(data, params, greedy)
    else:
        found = _solve_ortools(data, params, greedy)
    if found is None:
        return fallback
    return min(found, fallback, key=lambda s: (len(s.unassigned), s.distance))


def first_solution_for(data: VrptwData, asked: str) -> str:
    """The OR-Tools start ``"AUTO"`` stands for at this size; other names are kept."""
    if asked != "AUTO":
        return asked
    if data.customers > SAVINGS_ABOVE_CUSTOMERS:
        return "SAVINGS"
    return "PARALLEL_CHEAPEST_INSERTION"


def pick_engine(engine: Engine) -> Engine:
    """The engine ``"auto"`` stands for: PyVRP if it can be imported, else OR-Tools."""
    if engine != "auto":
        return engine
    return "pyvrp" if importlib.util.find_spec("pyvrp") is not None else "ortools"


def _solve_ortools_parallel(
    data: VrptwData, params: VrptwParams, greedy: Routes
) -> VrptwSolution | None:
    # Two starts explore different basins; processes, because the search holds the GIL.
    starts = [params.first_solution, params.second_first_solution]
    starts += [params.first_solution] * (params.workers - len(starts))
    worker_params = [replace(params, first_solution=start, workers=1) for start in starts]
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=params.workers, mp_context=context) as pool:
        futures = [pool.submit(_solve_ortools, data, one, greedy) for one in worker_params]
        found = [future.result() for future in futures]
    solutions = [solution for solution in found if solution is not None]
    if not solutions:
        return None
    return min(solutions, key=lambda s: (len(s.unassigned), s.distance))


def _solve_ortools(data: VrptwData, params: VrptwParams, greedy: Routes) -> VrptwSolution | None:
    started = time.monotonic()
    size = len(data.demand)
    manager = pywrapcp.RoutingIndexManager(size, data.vehicles, DEPOT)
    routing = pywrapcp.RoutingModel(manager)

    distance_index = routing.RegisterTransitMatrix(data.distance.tolist())
    routing.SetArcCostEvaluatorOfAllVehicles(distance_index)
    if params.vehicle_cost:
        routing.SetFixedCostOfAllVehicles(params.vehicle_cost)

    # Service time folded into the transit out of a node: the cumul is the start of service.
    service = np.asarray(data.service, dtype=np.int64)
    transit = data.travel_time + service[:, None]
    time_index = routing.RegisterTransitMatrix(transit.tolist())
    horizon = int(data.window_end[DEPOT])
    routing.AddDimension(time_index, horizon, horizon, False, "time")
    clock = routing.GetDimensionOrDie("time")
    for node in range(1, size):
        clock.CumulVar(manager.NodeToIndex(node)).SetRange(
            data.window_start[node], data.window_end[node]
        )
    for vehicle in range(data.vehicles):
        clock.CumulVar(routing.Start(vehicle)).SetRange(data.window_start[DEPOT], horizon)
        clock.CumulVar(routing.End(vehicle)).SetRange(data.window_start[DEPOT], horizon)

    load_index = routing.RegisterUnaryTransitVector(list(data.demand))
    routing.AddDimensionWithVehicleCapacity(
        load_index, 0, [data.capacity] * data.vehicles, True, "load"
    )

    # Every customer may be left out at a price no detour can reach, so the greedy start is a
    # valid assignment even when it could not place everyone.
    drop_penalty = int(data.distance.max()) * 2 * size + 1
    if params.optional_visits:
        for node in range(1, size):
            routing.AddDisjunction([manager.NodeToIndex(node)], drop_penalty)

    search = pywrapcp.DefaultRoutingSearchParameters()
    search.local_search_metaheuristic = getattr(
        routing_enums_pb2.LocalSearchMetaheuristic, params.metaheuristic
    )
    search.guided_local_search_lambda_coefficient = params.guided_local_search_lambda
    if params.neighbors_ratio < 1.0:
        search.ls_operator_neighbors_ratio = params.neighbors_ratio
        search.ls_operator_min_neighbors = NEIGHBOURS_AT_LEAST
    remaining = max(MIN_SEARCH_S, params.time_limit_s - (time.monotonic() - started))
    search.time_limit.FromMilliseconds(int(remaining * 1000))

    start = None
    first_solution = first_solution_for(data, params.first_solution)
    if first_solution == "GREEDY":
        routing.CloseModelWithParameters(search)
        start = routing.ReadAssignmentFromRoutes([list(route) for route in greedy], True)
    if start is not None:
        assignment = routing.SolveFromAssignmentWithParameters(start, search)
    else:  # asked for, or the greedy plan is incomplete and visits are mandatory
        strategy = first_solution if first_solution != "GREEDY" else "AUTOMATIC"
        search.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy, strategy)
        assignment = routing.SolveWithParameters(search)
    if assignment is None:
        return None

    routes: list[tuple[int, ...]] = []
    for vehicle in range(data.vehicles):
        index = assignment.Value(routing.NextVar(routing.Start(vehicle)))
        route: list[int] = []
        while not routing.IsEnd(index):
            route.append(manager.IndexToNode(index))
            index = assignment.Value(routing.NextVar(index))
        if route:
            routes.append(tuple(route))
    visited = {node for route in routes for node in route}
    unassigned = tuple(node for node in range(1, size) if node not in visited)
    found = tuple(routes)
    return VrptwSolution(found, route_distance(data, found), "ortools", unassigned)


def _solve_pyvrp(data: VrptwData, params: VrptwParams) -> VrptwSolution | None:
    import pyvrp  # optional dependency: only the "pyvrp" engine needs it
    from pyvrp.stop import MaxRuntime

    size = len(data.demand)
    horizon = int(data.window_end[DEPOT])
    # PyVRP's Client.service_duration is at the customer; windows bound the start of service.
    clients = [
        pyvrp.Client(
            location=node,
            delivery=[data.demand[node]],
            service_duration=data.service[node],
            tw_early=data.window_start[node],
            tw_late=data.window_end[node],
        )
        for node in range(1, size)
    ]
    problem = pyvrp.ProblemData(
        locations=[pyvrp.Location(0.0, 0.0) for _ in range(size)],
        clients=clients,
        depots=[pyvrp.Depot(location=DEPOT, tw_early=data.window_start[DEPOT], tw_late=horizon)],
        vehicle_types=[
            pyvrp.VehicleType(
                num_available=data.vehicles,
                capacity=[data.capacity],
                fixed_cost=params.vehicle_cost,
                tw_early=data.window_start[DEPOT],
                tw_late=horizon,
            )
        ],
        # The stubs type the matrices' shape as int; any 2-D int64 array is accepted.
        distance_matrices=[np.ascontiguousarray(data.distance)],  # type: ignore[list-item]
        duration_matrices=[np.ascontiguousarray(data.travel_time)],  # type: ignore[list-item]
    )
    result = pyvrp.solve(
        problem, MaxRuntime(params.time_limit_s), seed=params.seed, collect_stats=False
    )
    if not result.is_feasible():
        return None
    # Activities index the clients list, and client k is node k + 1.
    routes = tuple(
        tuple(int(activity.idx) + 1 for activity in route if activity.is_client())
        for route in result.best.routes()
    )
    return VrptwSolution(routes, route_distance(data, routes), "pyvrp")
