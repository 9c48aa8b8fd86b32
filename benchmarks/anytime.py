"""The quality of a week's plan as a function of the time limit: the anytime curve (issue 17).

``python -m benchmarks anytime --scope district --limits 5,10,30,60,240`` plans the reference
week of the Minhang sample once per time limit, checks each plan with the evaluator and writes
``benchmarks/results/anytime-<scope>.csv`` and ``.md``. The centre and the district go through
the same code; only the week differs.

Each limit is solved in a fresh process (spawned, one after another), so that its peak memory is
its own and no limit inherits a warm cache from the one before. The machine's 1-minute load
average is sampled while each limit runs: the cores may be shared, and a loaded machine searches
less in the same seconds.

"Quality" is what the evaluator measures of the plan (visits placed, on time, travel, rules
broken) and the search's own objective; each limit's gap is to the longest limit of the run.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import json
import multiprocessing
import os
import platform
import resource
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.loadavg import LoadSampler
from scenarios.sample import REFERENCE_WEEK

RESULTS = Path(__file__).resolve().parent / "results"
REQUEST_PROGRAMME = "special_service"  # on-demand requests (特需上门), placed as due visits
GAPS = {
    # column: (measure, +1 where more is better, -1 where less is better)
    "gap_placed_pct": ("placed_due", 1),
    "gap_on_time_pct": ("on_time", 1),
    "gap_travel_pct": ("travel_min", -1),
    "gap_objective_pct": ("objective", -1),
}
"""Each limit's gap to the reference (the longest limit), in %: positive is worse."""


def add_parser(sub: Any) -> None:
    """Add the ``anytime`` sub-command to the parsers of ``python -m benchmarks``."""
    parser = sub.add_parser(
        "anytime", help="the reference week's quality as a function of the time limit"
    )
    parser.add_argument("--scope", choices=["centre", "district"], default="centre")
    parser.add_argument("--limits", default="5,10,30,60,240", help="seconds, comma-separated")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--cut",
        choices=["team", "centre"],
        default="team",
        help="team: the limit is the whole week's (homevisit plan, the service); centre: each "
        "centre a solve of its own with the whole limit (homevisit plan --district)",
    )
    parser.add_argument("--note", default="", help="said in the table's header")


def solve_once(problem: Any, time_limit_s: float, workers: int, cut: str) -> dict[str, object]:
    """Plan ``problem`` at one time limit and check it: one row of the curve.

    Run in a process of its own (:func:`curve`): ``peak_mb`` is that process's and its
    workers' peak resident memory.
    """
    from scheduler.executor import LocalExecutor
    from scheduler.model import Urgency
    from scheduler.params import SolveParams
    from scheduler.solve import Cut, solve

    params = SolveParams(time_limit_s=time_limit_s)
    started = time.monotonic()
    if Cut(cut) is Cut.CENTRE:
        with LocalExecutor(workers) as pool:
            plan, evaluation = solve(problem, params, executor=pool, cut=Cut.CENTRE)
    else:
        plan, evaluation = solve(problem, params, workers=workers)
    wall_s = time.monotonic() - started
    kpis = evaluation.kpis
    placed = {v.visit_id for v in plan.stops()}

    def count(keep: Callable[[Any], bool]) -> int:
        return sum(1 for v in problem.visits if v.visit_id in placed and keep(v))

    on_time: dict[str, Any] = kpis["on_time"]  # type: ignore[assignment]
    # The search's objective is summed over the parts; a part that ended on its greedy start
    # (or found nothing) has none, and the sum would then flatter the plan: left blank.
    complete = not any(s in plan.status for s in ("greedy start", "no solution"))
    return {
        "time_limit_s": time_limit_s,
        "wall_s": round(wall_s, 1),
        "overdue_placed": count(lambda v: v.urgency is Urgency.OVERDUE),
        "due_placed": count(lambda v: v.urgency is Urgency.DUE),
        "requests_placed": count(lambda v: v.programme == REQUEST_PROGRAMME),
        "placed_due": count(lambda v: v.urgency >= Urgency.DUE),
        "optional_placed": count(lambda v: v.urgency is Urgency.OPTIONAL),
        "left_out": kpis["visits_unscheduled"],
        "on_time": on_time["visits_on_time"],
        "late": on_time["visits_late"],
        "visit_days_late": on_time["visit_days_late"],
        "travel_min": kpis["travel_min_total"],
        "travel_km": kpis["travel_km_total"],
        "violations": kpis["violations"],
        "still_fit": kpis["visits_still_fit"],
        "inversions": kpis["inversions"],
        "objective": plan.objective if complete else None,
        "continuity": kpis["continuity_rate"],
        "workload_cv": kpis["workload"]["cv"],  # type: ignore[index]
        "cpu_s": round(sum(u.ru_utime + u.ru_stime for u in _usage()), 1),
        "peak_mb": round(max(u.ru_maxrss for u in _usage()) / 1024, 1),
        "status": plan.status,
    }


def _usage() -> tuple[Any, Any]:
    """This process's resource use and that of its finished workers."""
    return resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)


def with_gaps(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """The rows with each measure's gap to the longest limit's row, in % (positive is worse)."""
    reference = max(rows, key=lambda r: float(r["time_limit_s"]))  # type: ignore[arg-type]
    out = []
    for row in rows:
        gaps: dict[str, object] = {}
        for column, (measure, sense) in GAPS.items():
            mine, best = row[measure], reference[measure]
            if mine is None or best is None or best == 0:
                gaps[column] = None
                continue
            gap = sense * (float(best) - float(mine)) / abs(float(best)) * 100  # type: ignore[arg-type]
            gaps[column] = round(gap, 2) + 0.0  # no "-0"
        out.append({**row, **gaps})
    return out


def curve(problem: Any, limits: Sequence[float], workers: int, cut: str) -> list[dict[str, object]]:
    """Plan ``problem`` at each limit, each in a fresh process, with the load of each run."""
    context = multiprocessing.get_context("spawn")
    rows = []
    for limit in limits:
        load_before = os.getloadavg()[0]
        with (
            LoadSampler() as load,
            concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as fresh,
        ):
            row = fresh.submit(solve_once, problem, limit, workers, cut).result()
        rows.append(
            {
                **row,
                "load_before": round(load_before, 2),
                "load_mean": round(load.mean(), 2),
                "load_max": round(load.peak(), 2),
            }
        )
        print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
    return with_gaps(rows)


def reference_week(scope: str) -> tuple[Any, dict[str, object]]:
    """The Minhang sample's reference week (``centre`` or ``district``) and how long it took."""
    from scenarios.sample import generate
    from scheduler.dataset import read_dataset, write_dataset
    from scheduler.solve import build_problem

    with tempfile.TemporaryDirectory() as folder:
        write_dataset(generate(scope), Path(folder))  # type: ignore[arg-type]
        started = time.monotonic()
        dataset = read_dataset(Path(folder))
        read_s = time.monotonic() - started
    started = time.monotonic()
    problem = build_problem(dataset, REFERENCE_WEEK)
    return problem, {
        "instance": f"minhang-{scope} {REFERENCE_WEEK}",
        "read_s": round(read_s, 1),
        "due_list_s": round(time.monotonic() - started, 1),
    }


def describe(problem: Any) -> str:
    """The week in a sentence: centres, clinicians, the visits of each urgency."""
    from scheduler.model import Urgency

    def count(keep: Callable[[Any], bool]) -> int:
        return sum(1 for v in problem.visits if keep(v))

    return (
        f"{len(problem.centres)} centre(s), {len(problem.clinicians)} clinicians, "
        f"{len(problem.visits):,} visits on the week's list: "
        f"{count(lambda v: v.urgency is Urgency.OVERDUE):,} overdue, "
        f"{count(lambda v: v.urgency is Urgency.DUE):,} due (of them "
        f"{count(lambda v: v.programme == REQUEST_PROGRAMME)} on-demand requests), "
        f"{count(lambda v: v.urgency is Urgency.OPTIONAL):,} optional"
    )


def write(
    name: str,
    rows: list[dict[str, object]],
    problem: Any,
    facts: dict[str, object],
    folder: Path = RESULTS,
) -> Path:
    """``<name>.csv`` (one row per limit) and ``<name>.md`` (the table and how it was run)."""
    folder.mkdir(exist_ok=True)
    frame = pd.DataFrame(rows).astype({"objective": "Int64"})
    frame.to_csv(folder / f"{name}.csv", index=False)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    cut = (
        "each centre a solve of its own with the whole limit, side by side on the workers "
        "(`homevisit plan --district`: the week takes about centres x limit / workers)"
        if facts["cut"] == "centre"
        else "the limit is the whole week's, shared among its parts by size (`homevisit plan`, "
        "the service); under 8 s the parts are solved in one process, one after another"
    )
    note = f" {facts['note']}" if facts.get("note") else ""
    header = (
        f"# {name}\n\n"
        f"{facts['instance']}: {describe(problem)}. Reading the dataset took {facts['read_s']} s "
        f"and the due list {facts['due_list_s']} s (not in `wall_s`).\n"
        f"Measured {facts['started']} to {facts['ended']} UTC on {machine}, {facts['workers']} "
        f"worker processes; cut: {cut}.{note}\n\n"
        "Each limit is solved in a fresh process, one after another: `wall_s` is solve and "
        "check, `cpu_s` the processor time that process and its workers had (on a machine of "
        "our own about `wall_s` x workers), `peak_mb` their peak resident memory, `status` the "
        "parts' ends. `load_*` is "
        "the machine's 1-minute load average before the run and sampled every 2 s during it "
        "(2 means both cores busy; the machine is shared, so more means our search had less "
        "than the cores).\n"
        "Quality is the evaluator's: `placed_due` (overdue and due visits placed, requests "
        "among the due), `on_time` (placed by their due date), `travel_min`, `violations` "
        "(rules broken: must be 0); `objective` is the search's own cost summed over the parts "
        "(before the urgency repair; blank when a part ended on its greedy start). "
        "`gap_*_pct` is each limit's gap to the longest limit's, in %: positive is worse.\n\n"
    )
    path = folder / f"{name}.md"
    path.write_text(header + frame.to_markdown(index=False) + "\n", encoding="utf-8")
    return path


def measure(
    problem: Any,
    facts: dict[str, object],
    limits: Sequence[float],
    workers: int,
    cut: str,
    name: str,
    note: str = "",
    folder: Path = RESULTS,
) -> list[dict[str, object]]:
    """The curve of ``problem`` at ``limits``, written as ``<name>.csv`` and ``<name>.md``."""
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M")
    rows = curve(problem, limits, workers, cut)
    ended = dt.datetime.now(dt.UTC).strftime("%H:%M")
    facts = {**facts, "started": started, "ended": ended, "workers": workers, "cut": cut}
    write(name, rows, problem, {**facts, "note": note}, folder)
    return rows


def run(args: argparse.Namespace) -> None:
    """The ``anytime`` sub-command."""
    problem, facts = reference_week(args.scope)
    limits = [float(x) for x in args.limits.split(",")]
    suffix = "-by-centre" if args.cut == "centre" else ""
    measure(
        problem, facts, limits, args.workers, args.cut, f"anytime-{args.scope}{suffix}", args.note
    )


__all__ = ["add_parser", "curve", "measure", "reference_week", "run", "solve_once", "with_gaps"]
