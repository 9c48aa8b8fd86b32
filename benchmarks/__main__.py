"""Benchmarks: ``python -m benchmarks weekly --scope centre --time-limit 30``.

Each benchmark solves with the project's planner, checks the answer with the project's
evaluator and writes a CSV and a markdown table to ``benchmarks/results/``. They are measured
runs, not tests: the figures in the README come from here.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from benchmarks import (
    anytime,
    district,
    mankowska,
    mankowska_generate,
    reports,
    vrptw,
    weekly_vroom,
)
from scheduler.model import Urgency
from scheduler.params import TIME_LIMIT_DEFAULT_S, SolveParams

RESULTS = Path(__file__).resolve().parent / "results"


def _peak_mb() -> float:
    """Peak resident memory of this process and of its finished worker processes, in MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, workers) / 1024, 1)


def weekly(
    scope: str, time_limit_s: float, workers: int, params: SolveParams | None = None
) -> dict[str, object]:
    """Plan the reference week of the Minhang sample (one centre or the district)."""
    from scheduler.solve import solve

    problem, timing = anytime.reference_week(scope)
    started = time.monotonic()
    params = dataclasses.replace(params or SolveParams(), time_limit_s=time_limit_s)
    _, evaluation = solve(problem, params, workers=workers)
    total_s = time.monotonic() - started
    kpis = evaluation.kpis
    on_time: dict[str, object] = kpis["on_time"]  # type: ignore[assignment]
    return {
        "instance": timing["instance"],
        "centres": len(problem.centres),
        "clinicians": len(problem.clinicians),
        "visits_due": kpis["visits_due"],
        "visits_scheduled": kpis["visits_scheduled"],
        "visits_unscheduled": kpis["visits_unscheduled"],
        "still_fit": kpis["visits_still_fit"],
        "violations": kpis["violations"],
        "travel_h": round(float(kpis["travel_min_total"]) / 60, 1),  # type: ignore[arg-type]
        "travel_km": kpis["travel_km_total"],
        "continuity": kpis["continuity_rate"],
        "workload_cv": kpis["workload"]["cv"],  # type: ignore[index]
        "on_time": on_time["visits_on_time"],
        "late": on_time["visits_late"],
        "visit_days_late": on_time["visit_days_late"],
        "overdue_scheduled": on_time["overdue_scheduled"],
        "overdue_first_day": on_time["overdue_on_first_feasible_day"],
        "optional_placed": on_time["optional_scheduled"],
        "inversions": kpis["inversions"],
        "late_with_room": kpis["late_with_room_earlier"],
        "time_limit_s": time_limit_s,
        "workers": workers,
        "read_s": timing["read_s"],
        "due_list_s": timing["due_list_s"],
        "solve_and_check_s": round(total_s, 1),
        "peak_mb": _peak_mb(),
    }


def ontime(scope: str, time_limit_s: float, workers: int) -> list[dict[str, object]]:
    """The week planned without and with on-time costs and the urgency repair (issue 12).

    "without" prices no day late, leaves the plan as the search made it and keeps the even-day
    bound of before (``balance_slack`` 2.0); "with" is the default.
    """
    no_late = {urgency: 0 for urgency in Urgency}
    without = SolveParams(late_cost_per_day=no_late, repair=False, balance_slack=2.0)
    rows = []
    for name, params in (("without", without), ("with", SolveParams())):
        row = weekly(scope, time_limit_s, workers, params)
        rows.append({"on_time_costs": name, **row})
    return rows


def _write(name: str, row: dict[str, object] | list[dict[str, object]]) -> None:
    RESULTS.mkdir(exist_ok=True)
    frame = pd.DataFrame(row if isinstance(row, list) else [row])
    frame.to_csv(RESULTS / f"{name}.csv", index=False)
    machine = f"{platform.machine()}, {platform.python_version()}"
    header = f"# {name}\n\nMeasured {dt.date.today()} on {machine}.\n\n"  # a run's own date
    (RESULTS / f"{name}.md").write_text(header + frame.to_markdown(index=False) + "\n")


EVERY_TABLE: list[list[str]] = [
    ["benchmarks", "weekly", "--scope", "centre", "--time-limit", "30"],
    ["benchmarks", "weekly", "--scope", "district", "--time-limit", "240"],
    ["benchmarks", "ontime", "--scope", "centre", "--time-limit", "30"],
    ["benchmarks", "anytime", "--scope", "centre", "--limits", "5,10,30,60,240"],
    ["benchmarks", "anytime", "--scope", "district", "--limits", "5,10,30,60,240"],
    ["benchmarks", "ontime", "--scope", "district", "--time-limit", "240"],
    ["benchmarks", "weekly-vroom", "--time-limit", "30"],
    ["benchmarks", "district", "--time-limit", "10"],
    ["benchmarks", "solomon", "--time-limit", "10"],
    ["benchmarks", "homberger", "--time-limit", "10"],
    ["benchmarks", "synthetic", "--time-limit", "60"],
    ["benchmarks", "mankowska", "--time-limit", "20"],
    ["benchmarks", "reports"],
    ["benchmarks.service_load", "--clients", "50", "--duration", "20", "--workers", "1", "2"],
    ["benchmarks.roads"],
]
"""Every table of benchmarks/results/, with the limits the README quotes (1.5 hours on 2 cores)."""


def run_all() -> None:
    """Regenerate every table, one benchmark after another (each in its own process)."""
    for module, *arguments in EVERY_TABLE:
        print(f"== python -m {module} {' '.join(arguments)}", flush=True)
        subprocess.run([sys.executable, "-m", module, *arguments], check=True)


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    sub = parser.add_subparsers(dest="benchmark", required=True)
    week = sub.add_parser("weekly", help="plan the Minhang sample's reference week")
    week.add_argument("--scope", choices=["centre", "district"], default="centre")
    week.add_argument("--time-limit", type=float, default=TIME_LIMIT_DEFAULT_S)
    week.add_argument("--workers", type=int, default=2)
    on_time = sub.add_parser(
        "ontime", help="the reference week without and with on-time costs and the urgency repair"
    )
    on_time.add_argument("--scope", choices=["centre", "district"], default="centre")
    on_time.add_argument("--time-limit", type=float, default=TIME_LIMIT_DEFAULT_S)
    on_time.add_argument("--workers", type=int, default=2)
    anytime.add_parser(sub)
    district.add_parser(sub)
    mankowska.add_parser(sub)
    mankowska_generate.add_parser(sub)
    vrptw.add_parsers(sub)
    weekly_vroom.add_parser(sub)
    reports.add_parser(sub)
    sub.add_parser(
        "all", help="regenerate every table of benchmarks/results/ (about 1.5 hours on 2 cores)"
    )
    args = parser.parse_args()
    if args.benchmark == "all":
        run_all()
    if args.benchmark in vrptw.SETS:
        vrptw.run(args)
    if args.benchmark == "district":
        district.run(args)
    if args.benchmark == "mankowska":
        mankowska.run(args)
    if args.benchmark == "mankowska-generate":
        mankowska_generate.run(args)
    if args.benchmark == "weekly-vroom":
        weekly_vroom.run(args)
    if args.benchmark == "ontime":
        rows = ontime(args.scope, args.time_limit, args.workers)
        _write(f"ontime-{args.scope}", rows)
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    if args.benchmark == "reports":
        reports.run(args)
    if args.benchmark == "anytime":
        anytime.run(args)
    if args.benchmark == "weekly":
        row = weekly(args.scope, args.time_limit, args.workers)
        _write(f"weekly-{args.scope}", row)
        print(json.dumps(row, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
