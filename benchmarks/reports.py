"""A year of the Minhang district's records reported: ``python -m benchmarks reports``.

The sample generator writes the district's records of 2026 up to 27 December (reference week
2026-12-28: about 40,000 residents, 200,000 visit records, sick-bed episodes); they are imported
into a fresh database and every table and chart is made for the year, at each level. The
simulator would take hours for a district year on two cores, so the records are generated
directly (the scenario runner's simulation produces the same kind of records, tested apart).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.loadavg import LoadSampler

RESULTS = Path(__file__).resolve().parent / "results"
YEAR_END_WEEK = dt.date(2026, 12, 28)
QUOTAS = Path(__file__).resolve().parents[1] / "scenarios" / "data" / "quotas-minhang-2026.csv"

__all__ = ["add_parser", "measure", "run"]


def add_parser(sub: Any) -> None:
    """Add the ``reports`` sub-command to the parsers of ``python -m benchmarks``."""
    parser = sub.add_parser("reports", help="a year of the district's records, every table")
    parser.add_argument(
        "--database-url", default=None, help="an empty database (default: a new SQLite file)"
    )
    parser.add_argument(
        "--simulate-weeks",
        type=int,
        default=13,
        help="also simulate the sample centre this many weeks through the scenario runner, "
        "store the records and report them (0: skip)",
    )
    parser.add_argument("--time-limit", type=float, default=5.0, help="solver seconds a week")


def simulated_quarter(weeks: int, time_limit_s: float) -> dict[str, object]:
    """The sample centre planned and 'done' week after week (scenarios.simulate), its records
    stored in a fresh database and reported for the simulated weeks (every table and chart)."""
    from sqlalchemy.orm import Session

    from scenarios.sample import REFERENCE_WEEK
    from scenarios.scenario import Scenario
    from scenarios.simulate import SimulationParams, simulate
    from scheduler.params import SolveParams
    from service.db.importer import store_dataset
    from service.db.session import make_engine, upgrade
    from service.reports.build import ReportKind, make_report
    from service.reports.compute import Level, Scope
    from service.reports.export import tables_xlsx
    from service.reports.quotas import read_quota_file, store_quotas

    scenario = Scenario("baseline", "a simulated quarter, reported")
    started = time.perf_counter()
    simulated = simulate(
        scenario.apply(scenario.base_dataset()),
        REFERENCE_WEEK,
        SimulationParams(weeks=weeks),
        SolveParams(time_limit_s=time_limit_s),
    )
    simulate_s = time.perf_counter() - started
    last = REFERENCE_WEEK + dt.timedelta(days=7 * weeks - 1)
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{folder}/simulated.sqlite3")
        upgrade(engine)
        with Session(engine) as session, session.begin():
            store_dataset(session, simulated.final)
            store_quotas(session, last.year, read_quota_file(QUOTAS))
        scope = Scope(REFERENCE_WEEK, last, Level.DISTRICT)
        with LoadSampler(every_s=1.0) as load, Session(engine) as session:
            started = time.perf_counter()
            cpu_started = time.process_time()
            report = make_report(session, ReportKind.ALL, scope, lambda rid, _name: rid)
            body = tables_xlsx(report.tables, report.charts)
            total = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
        engine.dispose()
    annex3 = next(t for t in report.tables if t.name == "annex3")
    return {
        "weeks": weeks,
        "period": f"{REFERENCE_WEEK} ~ {last}",
        "simulate_s": round(simulate_s, 1),
        "records_added": len(simulated.final.history) - len(scenario.base_dataset().history),
        "annex3_total_home_visits": annex3.rows[-1][9],
        "report_total_s": round(total, 2),
        "report_cpu_s": round(cpu, 2),
        "report_bytes": len(body),
        "report_load_avg": round(load.mean(), 2),
        "problems": "; ".join(report.problems),
    }


def measure(database_url: str | None) -> tuple[list[dict[str, object]], dict[str, object]]:
    """Import the district's year, then time each report; the rows and the facts of the run."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from scenarios.sample import generate
    from scheduler.dataset import write_dataset
    from service.db.importer import import_dataset
    from service.db.session import make_engine, upgrade
    from service.db.tables import SickbedEpisodeRow, VisitRecordRow
    from service.reports.build import ReportKind, make_report
    from service.reports.compute import Level, Scope
    from service.reports.export import html_page, tables_xlsx
    from service.reports.quotas import read_quota_file, store_quotas
    from service.settings import Settings

    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as folder:
        url = database_url or f"sqlite:///{folder}/year.sqlite3"
        engine = make_engine(url)
        upgrade(engine)
        write_dataset(generate("district", reference_week=YEAR_END_WEEK), Path(folder) / "data")
        started = time.perf_counter()
        import_dataset(engine, Path(folder) / "data", Settings(database_url=url, geocoder="none"))
        import_s = time.perf_counter() - started
        with Session(engine) as session, session.begin():
            store_quotas(session, 2026, read_quota_file(QUOTAS))
        with Session(engine) as session:
            records = session.scalar(select(func.count()).select_from(VisitRecordRow))
            episodes = session.scalar(select(func.count()).select_from(SickbedEpisodeRow))
        load_before = os.getloadavg()[0]
        cases = [
            (ReportKind.ALL, Level.DISTRICT, "html"),
            (ReportKind.ALL, Level.DISTRICT, "xlsx"),
            (ReportKind.ANNEX3, Level.CENTRE, "xlsx"),
            (ReportKind.ANNEX2, Level.TEAM, "xlsx"),
            (ReportKind.COVERAGE, Level.CENTRE, "xlsx"),
        ]
        for kind, level, form in cases:
            scope = Scope(dt.date(2026, 1, 1), dt.date(2026, 12, 27), level)
            with LoadSampler(every_s=1.0) as load, Session(engine) as session:
                started = time.perf_counter()
                cpu_started = time.process_time()
                report = make_report(session, kind, scope, lambda rid, _name: rid)
                computed = time.perf_counter() - started
                if form == "html":
                    body = html_page("report", report.tables, report.charts).encode()
                else:
                    body = tables_xlsx(report.tables, report.charts)
                total = time.perf_counter() - started
                cpu = time.process_time() - cpu_started
            rows.append(
                {
                    "report": kind.value,
                    "by": level.value,
                    "format": form,
                    "tables": len(report.tables),
                    "charts": len(report.charts),
                    "rows": sum(len(t.rows) for t in report.tables),
                    "computed_s": round(computed, 2),
                    "total_s": round(total, 2),
                    "cpu_s": round(cpu, 2),
                    "bytes": len(body),
                    "load_avg": round(load.mean(), 2),
                    "problems": "; ".join(report.problems),
                }
            )
        engine.dispose()
    facts: dict[str, object] = {
        "database": url.split(":", 1)[0] if database_url else "sqlite (a new file)",
        "visit_records": records,
        "sickbed_episodes": episodes,
        "import_s": round(import_s, 1),
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
    }
    return rows, facts


def run(args: argparse.Namespace) -> None:
    """The ``reports`` sub-command: measure and write ``results/reports.{csv,md}``."""
    rows, facts = measure(args.database_url)
    quarter = simulated_quarter(args.simulate_weeks, args.time_limit) if args.simulate_weeks else {}
    RESULTS.mkdir(exist_ok=True)
    frame = pd.DataFrame(rows)
    frame.to_csv(RESULTS / "reports.csv", index=False)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    header = (
        "# reports\n\n"
        f"A year of the Minhang district sample (2026-01-01 ~ 2026-12-27: "
        f"{facts['visit_records']:,} visit records, {facts['sickbed_episodes']} sick-bed "
        f"episodes, about 40,000 residents of 14 centres) imported into {facts['database']} "
        f"({facts['import_s']} s), then reported. Measured {dt.date.today()} on {machine}; "
        f"load average {facts['load_before']:.2f} before, {facts['load_after']:.2f} after.\n\n"
        "`computed_s`: reading the records, every table, the overdue list (the planner's "
        "rules, on the residents who may be late in the district's last week) and the "
        "charts; `total_s` adds writing the file; "
        "`cpu_s` is the processor time of `total_s` (what the report costs, whatever the "
        "load). "
        "`load_avg`: the machine's 1-minute load during the run (2 = both cores busy).\n\n"
    )
    simulated = ""
    if quarter:
        simulated = (
            f"\n## A simulated quarter\n\nThe sample centre (Gumei, 2,514 residents) simulated "
            f"{quarter['weeks']} weeks through the scenario runner ({quarter['period']}, "
            f"{quarter['simulate_s']} s at {args.time_limit} s a week: each week planned, taken "
            f"as done less 5 % missed, sick-beds discharged and opened), the "
            f"{quarter['records_added']:,} records it added stored in a fresh database and "
            f"reported by district (every table, chart and the overdue list, as XLSX): "
            f"{quarter['report_total_s']} s ({quarter['report_cpu_s']} s of processor time, load "
            f"{quarter['report_load_avg']}); Annex 3's total home visits "
            f"{quarter['annex3_total_home_visits']}."
            + (f" Not made: {quarter['problems']}" if quarter["problems"] else "")
            + "\n"
        )
    (RESULTS / "reports.md").write_text(
        header + frame.to_markdown(index=False) + "\n" + simulated, encoding="utf-8"
    )
    print(json.dumps({"rows": rows, **facts, **quarter}, ensure_ascii=False, indent=2, default=str))
