"""VROOM as a peer on our weekly home-visit problem.

``python -m benchmarks weekly-vroom --time-limit 30`` plans the reference week of the Minhang
sample centre with the project's planner and with VROOM (pyvroom), each under the same time
limit, scores both answers with the project's evaluator (:func:`scheduler.evaluate.evaluate`) and
writes ``benchmarks/results/weekly_vroom.csv`` and ``.md``; the shorter limits of
``--short-limits`` (2 and 5 s by default) are measured too.

The mapping (:func:`vroom_input`):

* a VROOM vehicle per (clinician, working day), starting and ending at the clinician's centre,
  available over the shift (plus the allowed overtime) on the week's time axis in seconds;
* lunch as a VROOM break fixed at the lunch start, lasting the lunch: no visit overlaps it (our
  rule); VROOM does not travel during a break either, a little stricter than our rule (travel
  may cross lunch), so every VROOM answer is valid for us;
* a job per visit at its place, with its duration as service time and its windows as start
  windows (``[window start, window end - duration]`` on its day): the windows carry the days
  and the resident's availability, so no skill is needed for them;
* skills for who may do a visit: one skill per signed team (per centre with cross-team cover)
  and one per distinct staffing place (a role set with required skills), which a vehicle has
  when its clinician fills that place, so VROOM's "all skills" rule is exactly our eligibility;
* priority from the urgency's drop penalty, scaled to VROOM's 0..100: VROOM maximises the
  priority of what it places before it minimises travel, as our penalties make ours do;
* the travel matrix our model uses, per travel mode (a VROOM profile per mode), in seconds.

What has no VROOM form: a joint visit needs two clinicians at the same start on two routes, and
a health check's blood sample must reach the centre's lab by a deadline (a hand-in detour whose
timing depends on the visit's start). In the sample week these are the same 18 health checks.
Both solvers are therefore compared on the **common subset**: the week without joint visits and
without lab-sample visits, the same reduced problem given to both and scored by the same
evaluator. A row of our planner on the full week is added for reference.

VROOM has no per-vehicle job cost, so it cannot see our continuity goal (the resident's own
clinician) nor our workload balance. Ours is run twice on the common subset: with its default
weights, and with the travel-only objective VROOM has (continuity and balance weights at 0), the
like-for-like row for travel.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import platform
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scenarios.sample import REFERENCE_WEEK
from scheduler.evaluate import evaluate
from scheduler.model import (
    Clinician,
    Location,
    Plan,
    Problem,
    Route,
    Staffing,
    Stop,
    Unscheduled,
    Visit,
)
from scheduler.params import TIME_LIMIT_DEFAULT_S, SolveParams
from scheduler.solve import IN_PROCESS_BELOW_S, build_problem, solve
from scheduler.travel import GreatCircleTravel, TravelTimeProvider

RESULTS = Path(__file__).resolve().parent / "results"
SECONDS_PER_MIN = 60
SECONDS_PER_DAY = 24 * 60 * SECONDS_PER_MIN
VROOM_MAX_PRIORITY = 100
VROOM_EXPLORATION_LEVEL = 5  # VROOM's most thorough search; the time limit stops it
DEFAULT_SHORT_LIMITS_S = "2,5"
DEFAULT_WORKERS = 2  # processes for ours, threads for VROOM: the same two cores


def common_subset(problem: Problem) -> Problem:
    """The week without the visits VROOM cannot state: joint visits and lab-sample visits."""
    kept = tuple(v for v in problem.visits if not v.is_joint and v.sample_return_min is None)
    return dataclasses.replace(problem, visits=kept)


@dataclasses.dataclass(frozen=True, slots=True)
class VroomMapping:
    """What a VROOM input was built from, to read its answer back.

    ``vehicles[i]`` is VROOM vehicle ``i``; ``jobs[j]`` is VROOM job ``j``; ``locations`` are
    the matrix rows (the centres first, then one per job).
    """

    vehicles: tuple[tuple[Clinician, int], ...]  # (clinician, day index of the week)
    jobs: tuple[Visit, ...]
    locations: tuple[Location, ...]


def _job_windows(visit: Visit, days: Sequence[dt.date]) -> list[tuple[int, int]]:
    """Start windows of a visit on the week's axis in seconds, sorted and merged."""
    spans = sorted(
        (
            days.index(w.day) * SECONDS_PER_DAY + w.start_min * SECONDS_PER_MIN,
            days.index(w.day) * SECONDS_PER_DAY
            + (w.end_min - visit.duration_min) * SECONDS_PER_MIN,
        )
        for w in visit.windows
        if w.day in days
    )
    merged: list[tuple[int, int]] = []
    for lo, hi in spans:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def vroom_input(
    problem: Problem, travel: TravelTimeProvider, params: SolveParams | None = None
) -> tuple[Any, VroomMapping]:
    """The week as a :class:`vroom.Input` (see the module docstring for the mapping).

    Raises
    ------
    ValueError
        If the problem holds a joint or lab-sample visit (give :func:`common_subset`).
    """
    import vroom

    params = params or SolveParams()
    if any(v.is_joint or v.sample_return_min is not None for v in problem.visits):
        raise ValueError("joint and lab-sample visits have no VROOM form: use common_subset()")
    days = list(problem.days)
    centre_ids = list(problem.centres)
    jobs = tuple(v for v in problem.visits if _job_windows(v, days))
    locations = tuple(problem.centres[c].location for c in centre_ids) + tuple(
        v.location for v in jobs
    )

    inp = vroom.Input()
    for mode in sorted({c.travel_mode for c in problem.clinicians}):
        minutes = travel.matrix(locations, locations, mode).minutes
        inp.set_durations_matrix(mode.value, (minutes * SECONDS_PER_MIN).astype(np.uint32))

    # One skill per team (or per centre when a team may cover another of its centre) and per
    # distinct staffing place: a vehicle holds a place's skill when its clinician fills it.
    def group_of_visit(visit: Visit) -> str:
        return visit.centre_id if problem.cross_team_cover else visit.team_id

    def group_of_clinician(clinician: Clinician) -> str:
        return clinician.centre_id if problem.cross_team_cover else clinician.team_id

    groups = sorted(
        {group_of_visit(v) for v in jobs} | {group_of_clinician(c) for c in problem.clinicians}
    )
    group_skill = {g: i for i, g in enumerate(groups)}
    places: list[Staffing] = sorted(
        {v.staffing[0] for v in jobs}, key=lambda s: (sorted(s.roles), sorted(s.skills))
    )
    place_skill = {s: len(groups) + i for i, s in enumerate(places)}

    vehicles: list[tuple[Clinician, int]] = []
    for clinician in problem.clinicians:
        skills = {group_skill[group_of_clinician(clinician)]}
        skills |= {place_skill[s] for s in places if s.accepts(clinician)}
        depot = centre_ids.index(clinician.centre_id)
        for day_index, day in enumerate(days):
            if not problem.works_on(clinician, day):
                continue
            offset = day_index * SECONDS_PER_DAY
            shift_end_min = clinician.shift.end_min + problem.max_overtime_min
            breaks = []
            if clinician.lunch is not None:
                lunch_at = offset + clinician.lunch.start_min * SECONDS_PER_MIN
                breaks.append(
                    vroom.Break(
                        len(vehicles),
                        time_windows=[vroom.TimeWindow(lunch_at, lunch_at)],
                        service=clinician.lunch.length_min * SECONDS_PER_MIN,
                    )
                )
            inp.add_vehicle(
                vroom.Vehicle(
                    len(vehicles),
                    start=depot,
                    end=depot,
                    profile=clinician.travel_mode.value,
                    skills=skills,
                    time_window=vroom.TimeWindow(
                        offset + clinician.shift.start_min * SECONDS_PER_MIN,
                        offset + shift_end_min * SECONDS_PER_MIN,
                    ),
                    breaks=breaks,
                )
            )
            vehicles.append((clinician, day_index))

    top_penalty = max(params.drop_penalty.values())
    inp.add_job(
        [
            vroom.Job(
                j,
                location=len(centre_ids) + j,
                default_service=visit.duration_min * SECONDS_PER_MIN,
                skills={group_skill[group_of_visit(visit)], place_skill[visit.staffing[0]]},
                priority=round(
                    VROOM_MAX_PRIORITY * params.drop_penalty[visit.urgency] / top_penalty
                ),
                time_windows=[vroom.TimeWindow(lo, hi) for lo, hi in _job_windows(visit, days)],
            )
            for j, visit in enumerate(jobs)
        ]
    )
    return inp, VroomMapping(tuple(vehicles), jobs, locations)


def plan_from_vroom(
    problem: Problem,
    mapping: VroomMapping,
    routes: pd.DataFrame,
    travel: TravelTimeProvider,
) -> Plan:
    """Our :class:`Plan` from VROOM's route steps (starts from VROOM, legs from our matrix)."""
    centre_ids = list(problem.centres)
    tables = {
        mode: travel.matrix(mapping.locations, mapping.locations, mode)
        for mode in {c.travel_mode for c, _ in mapping.vehicles}
    }
    jobs = routes[routes["type"] == "job"]
    plan_routes = []
    placed: set[str] = set()
    for _, steps in jobs.groupby("vehicle_id", sort=True):
        clinician, day_index = mapping.vehicles[int(steps["vehicle_id"].iloc[0])]
        table = tables[clinician.travel_mode]
        depot = centre_ids.index(clinician.centre_id)
        here, end_prev, depart = depot, 0, 0
        stops: list[Stop] = []
        travel_min, travel_km = 0, 0.0
        for _, step in steps.iterrows():
            job = int(step["id"])
            visit = mapping.jobs[job]
            node = len(centre_ids) + job
            leg = int(table.minutes[here, node])
            start_s = int(step["arrival"]) + int(step["waiting_time"]) + int(step["setup"])
            start = (start_s - day_index * SECONDS_PER_DAY) // SECONDS_PER_MIN
            if not stops:
                depart = end_prev = start - leg
            stops.append(
                Stop(
                    visit.visit_id,
                    clinician.clinician_id,
                    problem.days[day_index],
                    len(stops) + 1,
                    end_prev + leg,
                    start,
                    start + visit.duration_min,
                    leg,
                    round(float(table.km[here, node]), 3),
                )
            )
            travel_min += leg
            travel_km += float(table.km[here, node])
            here, end_prev = node, start + visit.duration_min
            placed.add(visit.visit_id)
        back = int(table.minutes[here, depot])
        plan_routes.append(
            Route(
                clinician_id=clinician.clinician_id,
                day=problem.days[day_index],
                depart_min=depart,
                return_min=end_prev + back,
                stops=tuple(stops),
                travel_min=travel_min + back,
                travel_km=round(travel_km + float(table.km[here, depot]), 3),
                work_min=end_prev + back - depart,
                overtime_min=max(0, end_prev + back - clinician.shift.end_min),
            )
        )
    unscheduled = tuple(
        Unscheduled(v.visit_id, "") for v in problem.visits if v.visit_id not in placed
    )
    return Plan(routes=tuple(plan_routes), unscheduled=unscheduled)


def solve_vroom(
    problem: Problem,
    travel: TravelTimeProvider,
    time_limit_s: float | None,
    threads: int = DEFAULT_WORKERS,
    params: SolveParams | None = None,
    exploration_level: int = VROOM_EXPLORATION_LEVEL,
) -> Plan:
    """Plan ``problem`` (no joint or lab-sample visits) with VROOM.

    ``time_limit_s`` ``None`` lets VROOM run its search at ``exploration_level`` to the end.
    """
    started = time.monotonic()
    inp, mapping = vroom_input(problem, travel, params)
    timeout = None if time_limit_s is None else dt.timedelta(seconds=time_limit_s)
    solution = inp.solve(exploration_level=exploration_level, nb_threads=threads, timeout=timeout)
    plan = plan_from_vroom(problem, mapping, solution.routes, travel)
    return dataclasses.replace(
        plan, solve_seconds=round(time.monotonic() - started, 2), status="vroom"
    )


# --- the benchmark ------------------------------------------------------------------------------


def _sample_problem() -> Problem:
    from scenarios.sample import generate
    from scheduler.dataset import read_dataset, write_dataset

    with tempfile.TemporaryDirectory() as folder:
        write_dataset(generate("centre"), Path(folder))
        dataset = read_dataset(Path(folder))
    return build_problem(dataset, REFERENCE_WEEK)


def _row(
    solver: str,
    subset: str,
    problem: Problem,
    plan: Plan,
    travel: TravelTimeProvider,
    time_limit_s: float,
    wall_s: float,
) -> dict[str, object]:
    kpis = evaluate(problem, plan, travel).kpis
    by_urgency: dict[str, dict[str, int]] = kpis["by_urgency"]  # type: ignore[assignment]
    left = {name: c["due"] - c["scheduled"] for name, c in by_urgency.items()}
    return {
        "solver": solver,
        "visits": subset,
        "time_limit_s": time_limit_s,
        "visits_due": kpis["visits_due"],
        "scheduled": kpis["visits_scheduled"],
        "left_overdue/due/optional": f"{left['overdue']}/{left['due']}/{left['optional']}",
        "travel_min": kpis["travel_min_total"],
        "travel_km": kpis["travel_km_total"],
        "violations": kpis["violations"],
        "still_fit": kpis["visits_still_fit"],
        "continuity": kpis["continuity_rate"],
        "workload_cv": kpis["workload"]["cv"],  # type: ignore[index]
        "wall_s": round(wall_s, 1),
    }


def compare(time_limits_s: Sequence[float], workers: int) -> list[dict[str, object]]:
    """Ours and VROOM on the sample centre's week, at each time limit."""
    travel = GreatCircleTravel()
    full = _sample_problem()
    common = common_subset(full)
    label = f"common {len(common.visits)}"
    travel_only = SolveParams(continuity_cost_min=0, balance_cost_per_min=0)
    no_balance = SolveParams(balance_cost_per_min=0)
    ortools_start = SolveParams(greedy_start=False)  # the planner before the greedy start
    rows = []
    for limit in time_limits_s:
        started = time.monotonic()
        plan = solve_vroom(common, travel, limit, threads=workers)
        rows.append(_row("vroom", label, common, plan, travel, limit, time.monotonic() - started))
        runs = [
            ("ours (travel only)", common, label, travel_only),
            ("ours (no balance)", common, label, no_balance),
            ("ours", common, label, SolveParams()),
            ("ours", full, f"full {len(full.visits)}", SolveParams()),
            ("ours (OR-Tools start)", full, f"full {len(full.visits)}", ortools_start),
        ]
        for solver, problem, subset, params in runs:
            started = time.monotonic()
            plan, _ = solve(
                problem, dataclasses.replace(params, time_limit_s=limit), workers=workers
            )
            wall = time.monotonic() - started
            rows.append(_row(solver, subset, problem, plan, travel, limit, wall))
    return rows


def write(rows: list[dict[str, object]], workers: int) -> None:
    """``benchmarks/results/weekly_vroom.csv`` and ``.md``."""
    from importlib.metadata import version

    RESULTS.mkdir(exist_ok=True)
    frame = pd.DataFrame(rows)
    frame.to_csv(RESULTS / "weekly_vroom.csv", index=False)
    header = (
        "# weekly_vroom: ours vs VROOM on the Minhang sample centre's week\n\n"
        f"Measured {dt.date.today()} on {platform.machine()}, Python "
        f"{platform.python_version()}, 2 cores shared with other work (timings are noisy); "
        f"ortools {version('ortools')}, pyvroom {version('pyvroom')}. Week {REFERENCE_WEEK}, "
        f"{workers} worker processes for ours (one process under {IN_PROCESS_BELOW_S:g} s, "
        f"where starting them costs more), {workers} threads for VROOM (exploration level "
        f"{VROOM_EXPLORATION_LEVEL}), the same time limit each. Every plan scored by "
        "scheduler.evaluate. `common` is the week without joint and lab-sample visits (no "
        "VROOM form; see benchmarks/weekly_vroom.py); `full` is ours on the whole week. "
        "`ours (travel only)` has VROOM's objective (continuity and balance weights 0); "
        "`ours (no balance)` keeps the continuity goal (VROOM cannot see it) but not the "
        "workload balance; `ours` has the default weights; `ours (OR-Tools start)` is the "
        "planner before the greedy start (`greedy_start=False`). `left_overdue/due/optional` "
        "counts unscheduled visits by urgency. `wall_s` includes building the model, starting "
        "worker processes and the checks the planner runs.\n\n"
    )
    (RESULTS / "weekly_vroom.md").write_text(header + frame.to_markdown(index=False) + "\n")


def add_parser(sub: Any) -> None:
    """The ``weekly-vroom`` subcommand."""
    parser = sub.add_parser("weekly-vroom", help="ours vs VROOM on the sample centre's week")
    parser.add_argument(
        "--time-limit", type=float, default=TIME_LIMIT_DEFAULT_S, help="seconds per solve"
    )
    parser.add_argument(
        "--short-limits", default=DEFAULT_SHORT_LIMITS_S, help="also these limits (comma list)"
    )
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS)


def run(args: argparse.Namespace) -> None:
    """Run the comparison and write the tables."""
    shorter = [float(s) for s in args.short_limits.split(",") if s.strip()]
    limits = sorted({*shorter, args.time_limit})
    rows = compare(limits, args.workers)
    write(rows, args.workers)
    print(json.dumps(rows, ensure_ascii=False, indent=2))
