"""The Minhang district's week, centre by centre: one at a time, a process pool, a Dask cluster.

``python -m benchmarks district --time-limit 20`` plans the 14 centres of the district sample

* one after another in this process (the sum of the single-centre times),
* with :class:`~scheduler.executor.LocalExecutor` (a spawn process pool of ``--workers``),
* with :class:`~scheduler.executor.DaskExecutor` on a Dask ``LocalCluster`` of ``--workers``
  worker processes of one thread each,

every centre at the same limit, checks each merged plan with the evaluator and writes
``benchmarks/results/district.csv`` and ``district.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.loadavg import LoadSampler
from scenarios.sample import REFERENCE_WEEK

RESULTS = Path(__file__).resolve().parent / "results"


def add_parser(sub: Any) -> None:
    """Add the ``district`` sub-command to the parsers of ``python -m benchmarks``."""
    parser = sub.add_parser("district", help="the district's centres: sequential, pool, Dask")
    parser.add_argument("--time-limit", type=float, default=20.0, help="seconds per centre")
    parser.add_argument("--workers", type=int, default=2, help="pool / cluster processes")
    parser.add_argument(
        "--solution-limit",
        type=int,
        default=None,
        help="stop each team's search after this many solutions: fixed work, so the wall "
        "times measure the machine rather than the time limits (give a generous --time-limit)",
    )
    parser.add_argument("--note", default="", help="said in the table's header (e.g. the load)")


def _row(
    mode: str,
    wall_s: float,
    solves_s: float,
    evaluation: Any,
    sum_single_s: float,
    load: LoadSampler,
) -> dict[str, object]:
    kpis = evaluation.kpis
    return {
        "mode": mode,
        "load_avg": f"{load.mean():.1f} (max {load.peak():.1f})",
        "wall_s": round(wall_s, 1),
        "solves_s": round(solves_s, 1),
        "check_s": round(wall_s - solves_s, 1),
        "speed_up": round(sum_single_s / solves_s, 2),
        "visits_due": kpis["visits_due"],
        "visits_scheduled": kpis["visits_scheduled"],
        "still_fit": kpis["visits_still_fit"],
        "violations": kpis["violations"],
        "travel_h": round(float(kpis["travel_min_total"]) / 60, 1),
    }


def measure(
    time_limit_s: float, workers: int, solution_limit: int | None = None
) -> tuple[list[dict[str, object]], dict[str, object]]:
    """Plan the district three ways; the rows of the table and the facts of the run."""
    from scenarios.sample import generate
    from scheduler.dataset import read_dataset, write_dataset
    from scheduler.evaluate import evaluate
    from scheduler.executor import DaskExecutor, LocalExecutor
    from scheduler.params import SolveParams
    from scheduler.solve import Cut, build_problem, merge_plans, solve, split_independent
    from scheduler.travel import GreatCircleTravel

    with tempfile.TemporaryDirectory() as folder:
        write_dataset(generate("district"), Path(folder))
        dataset = read_dataset(Path(folder))
    problem = build_problem(dataset, REFERENCE_WEEK)
    params = SolveParams(time_limit_s=time_limit_s, solution_limit=solution_limit)
    travel = GreatCircleTravel()
    rows = []
    facts: dict[str, object] = {
        "centres": len(problem.centres),
        "clinicians": len(problem.clinicians),
        "time_limit_per_centre_s": time_limit_s,
        "solution_limit": solution_limit,
        "workers": workers,
        "load_before": os.getloadavg()[0],
    }

    # One centre at a time in this process: what each worker of the parallel runs does.
    started = time.monotonic()
    single_s: dict[str, float] = {}
    plans = []
    with LoadSampler() as load:
        by_size = sorted(split_independent(problem, by_team=False), key=lambda p: -len(p.visits))
        for part in by_size:  # the order the cut by centre sends them in
            centre_started = time.monotonic()
            plan, _ = solve(part, params, travel=travel, workers=1)
            single_s[next(iter(part.centres))] = round(time.monotonic() - centre_started, 1)
            plans.append(plan)
        sum_single_s = time.monotonic() - started
        evaluation = evaluate(problem, merge_plans(plans), travel)
    wall_s = time.monotonic() - started
    rows.append(
        _row("one centre at a time (sum)", wall_s, sum_single_s, evaluation, sum_single_s, load)
    )
    facts["single_centre_s"] = single_s

    started = time.monotonic()
    with LoadSampler() as load, LocalExecutor(workers) as pool:
        merged, evaluation = solve(problem, params, executor=pool, cut=Cut.CENTRE)
    rows.append(
        _row(
            f"process pool, {workers} processes",
            time.monotonic() - started,
            merged.solve_seconds,
            evaluation,
            sum_single_s,
            load,
        )
    )

    distributed: Any = importlib.import_module("distributed")
    started = time.monotonic()
    with distributed.LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        facts["dask_cluster_start_s"] = round(time.monotonic() - started, 1)
        started = time.monotonic()
        with LoadSampler() as load, DaskExecutor(cluster.scheduler_address) as dask:
            merged, evaluation = solve(problem, params, executor=dask, cut=Cut.CENTRE)
        rows.append(
            _row(
                f"Dask LocalCluster, {workers} worker processes",
                time.monotonic() - started,
                merged.solve_seconds,
                evaluation,
                sum_single_s,
                load,
            )
        )
    facts["load_after"] = os.getloadavg()[0]
    return rows, facts


def write(rows: list[dict[str, object]], facts: dict[str, object], note: str) -> None:
    """``district.csv`` (one row per mode) and ``district.md`` (the table and how it was run).

    A fixed-work run (``--solution-limit N``) writes ``district-solutions-N.*`` instead, beside
    the time-limited one.
    """
    RESULTS.mkdir(exist_ok=True)
    name = (
        "district"
        if facts["solution_limit"] is None
        else f"district-solutions-{facts['solution_limit']}"
    )
    frame = pd.DataFrame(rows)
    frame.to_csv(RESULTS / f"{name}.csv", index=False)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    single = facts["single_centre_s"]
    assert isinstance(single, dict)
    solution_limit = facts["solution_limit"]
    if solution_limit is None:
        stop = (
            f"a {facts['time_limit_per_centre_s']} s limit in one process. The search stops "
            "on the clock, so the wall times follow from the limits; what the machine is worth "
            "shows in the visits scheduled"
        )
    else:
        stop = (
            f"each team's search stopped after {solution_limit} solutions (the same work in "
            "any process, so the wall times measure the machine)"
        )
    header = (
        f"# {name}\n\n"
        f"The Minhang district sample's week of {REFERENCE_WEEK}: {facts['centres']} centres, "
        f"{facts['clinicians']} clinicians, each centre solved with {stop}.\n"
        f"Measured {dt.date.today()} on {machine}. "  # a run's own date
        f"Load average {facts['load_before']:.2f} before, {facts['load_after']:.2f} after."
        + (f" {note}" if note else "")
        + "\n\n"
        "`solves_s` runs from the first solve sent to the last plan back; `check_s` is the "
        "evaluator on the merged plan; `speed_up` is the sum of the single-centre solves over "
        "`solves_s`; `load_avg` is the machine's 1-minute load average sampled every 5 s "
        "during the run (2 means both cores busy: ours alone would be about the worker count)."
        f" The Dask cluster took {facts.get('dask_cluster_start_s')} s to start "
        "(not counted).\n\n"
    )
    centres = "Single-centre solve times (s): " + ", ".join(f"{k} {v}" for k, v in single.items())
    (RESULTS / f"{name}.md").write_text(
        header + frame.to_markdown(index=False) + "\n\n" + centres + "\n", encoding="utf-8"
    )


def run(args: argparse.Namespace) -> None:
    """The ``district`` sub-command."""
    rows, facts = measure(args.time_limit, args.workers, args.solution_limit)
    write(rows, facts, args.note)
    print(json.dumps({"rows": rows, **facts}, ensure_ascii=False, indent=2))


__all__ = ["add_parser", "measure", "run", "write"]
