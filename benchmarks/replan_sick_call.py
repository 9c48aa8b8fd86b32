"""Same-day changes on the sample centre's week (issue 14), through the CLI and the API job.

``python -m benchmarks.replan_sick_call --plan-dir out/minhang-centre`` (a plan of the week
2026-11-30 written by ``make demo``): on Tuesday at 10:00 nurse MH03-T1-N goes home for the
rest of the day, three visits are cancelled (the longest single-clinician visits of nurse
MH03-T4-N on Tuesday after 10:30) and two urgent requests come in (residents of team MH03-T4
whom the register lets be seen at any time). The same events are re-planned

1. in process (:func:`scheduler.replan.replan`), and checked: the evaluator passes, the absent
   nurse has no visit after 10:00, nothing before 10:00 changed, no visit that did not have to
   move moved beyond the tolerance;
2. by ``homevisit replan`` (a separate process: the figures include start-up and files);
3. through the API: the plan stored as approved in a fresh SQLite database, ``POST
   /plans/{id}/replan`` (a job run by a worker process), polled to its end, then
   ``GET /plan-jobs/{id}/changes``.

The figures go to ``benchmarks/results/replan_sick_call.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from scenarios.sample import REFERENCE_WEEK
from scheduler.dataset import read_dataset
from scheduler.dataset.plan_files import read_plan
from scheduler.model import Dataset, Plan, Problem, ServiceRequest, TimeWindow, format_hhmm
from scheduler.params import SolveParams
from scheduler.replan import Absence, Cancellation, Event, Replan, replan
from scheduler.solve import build_problem

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "scenarios" / "data" / "minhang-centre"
RESULTS = Path(__file__).resolve().parent / "results"
WEEK = REFERENCE_WEEK  # the sample's week
TUESDAY = WEEK + dt.timedelta(days=1)
TEN = 10 * 60
NURSE = "MH03-T1-N"
OTHER_NURSE = "MH03-T4-N"


def pick_events(
    dataset: Dataset, problem: Problem, base: Plan
) -> tuple[list[str], list[ServiceRequest]]:
    """The three cancellations and the two urgent requests (as in tests/scheduler/test_replan)."""
    durations = {v.visit_id: v.duration_min for v in problem.visits}
    by_visit: dict[str, list[Any]] = {}
    for stop in base.stops():
        by_visit.setdefault(stop.visit_id, []).append(stop)
    afternoon = [
        vid
        for vid, stops in sorted(by_visit.items())
        if len(stops) == 1
        and stops[0].day == TUESDAY
        and stops[0].start_min >= TEN + 30
        and stops[0].clinician_id == OTHER_NURSE
    ]
    cancelled = sorted(afternoon, key=lambda v: -durations[v])[:3]
    residents = sorted(
        (r for r in dataset.residents.values() if r.team_id == "MH03-T4" and not r.availability),
        key=lambda r: r.resident_id,
    )
    requests = [
        ServiceRequest(
            "SD-U1",
            residents[0].resident_id,
            "catheter_care",
            TUESDAY,
            TUESDAY + dt.timedelta(days=2),
            TimeWindow(10 * 60 + 30, 16 * 60),
            30,
            frozenset({"catheter"}),
        ),
        ServiceRequest(
            "SD-U2",
            residents[1].resident_id,
            "pressure_sore_care",
            TUESDAY,
            TUESDAY + dt.timedelta(days=1),
            TimeWindow(9 * 60, 16 * 60),
            40,
            frozenset({"wound"}),
        ),
    ]
    return cancelled, requests


def check(base: Plan, result: Replan) -> dict[str, object]:
    """What the issue checks, on the answer."""
    before = {
        (s.visit_id, s.clinician_id): (s.day, s.start_min)
        for s in base.stops()
        if s.day < TUESDAY or (s.day == TUESDAY and s.start_min < TEN)
    }
    after = {(s.visit_id, s.clinician_id): (s.day, s.start_min) for s in result.plan.stops()}
    unchanged = all(after.get(key) == where for key, where in before.items())
    late = [
        s.visit_id
        for s in result.plan.stops()
        if s.clinician_id == NURSE and s.day == TUESDAY and s.start_min >= TEN
    ]
    summary = result.summary()
    told = summary["residents_to_tell"]
    return {
        "evaluator passes": result.evaluation.feasible,
        "absent nurse after 10:00": len(late),
        "stops before 10:00 unchanged": f"{len(before)} ({'yes' if unchanged else 'NO'})",
        "had to move": summary["visits_had_to_move"],
        "moved": summary["visits_moved"],
        "moved without having to": summary["moved_without_having_to"],
        "sent to the due list": summary["sent_to_due_list"],
        "urgent placed": f"{summary['requests_placed']}/{summary['requests_new']}",
        "residents to tell": len(told) if isinstance(told, list) else told,
        "re-plan s (in process)": round(result.seconds, 2),
    }


def run_cli(plan_dir: Path, cancelled: list[str], requests: list[ServiceRequest]) -> float:
    """``homevisit replan`` end to end; its wall time."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "urgent.csv"
        lines = [
            "request_id,resident_id,service,earliest_date,latest_date,window_start,window_end,"
            "duration_min,skills"
        ]
        for r in requests:
            lines.append(
                f"{r.request_id},{r.resident_id},{r.service},{r.earliest_date},"
                f"{r.latest_date},{format_hhmm(r.window.start_min)},"
                f"{format_hhmm(r.window.end_min)},{r.duration_min},{';'.join(sorted(r.skills))}"
            )
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        command = [
            str(Path(sys.executable).with_name("homevisit")),
            "replan",
            str(SAMPLE),
            str(plan_dir),
            "--date",
            TUESDAY.isoformat(),
            "--at",
            "10:00",
            "--absent",
            NURSE,
            "--requests",
            str(path),
            "--out",
            str(Path(folder) / "out"),
        ]
        for visit_id in cancelled:
            command += ["--cancel", visit_id]
        started = time.monotonic()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        took = time.monotonic() - started
        if done.returncode != 0:
            raise SystemExit(f"homevisit replan failed ({done.returncode}):\n{done.stderr}")
        return took


def run_api(
    plan_dir: Path, cancelled: list[str], requests: list[ServiceRequest]
) -> dict[str, object]:
    """The same events through ``POST /plans/{id}/replan`` on a fresh database."""
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session

    from service.api.app import create_app
    from service.api.deps import make_token
    from service.db.exporter import load_dataset
    from service.db.importer import import_dataset
    from service.db.plans import save_plan, set_status
    from service.db.session import make_engine, upgrade
    from service.db.tables import PlanStatus, UserRole
    from service.settings import Settings
    from service.users import add_user

    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(
            database_url=f"sqlite:///{folder}/replan.sqlite3",
            geocoder="none",
            load_sample_on_first_start=False,
            secret_key="benchmark-signing-key-that-is-long-enough-for-hs256",
        )
        engine = make_engine(settings.database_url)
        upgrade(engine)  # the tables
        import_dataset(engine, SAMPLE, settings)
        with Session(engine) as session:
            add_user(session, "lead", "a-long-benchmark-password", UserRole.ADMIN)
            dataset = load_dataset(session, ["MH03"])
            problem = build_problem(dataset, WEEK, centre_ids=["MH03"])
            base = read_plan(plan_dir, problem)
            handle = save_plan(session, problem, base, "MH03", base=None, saved_by="lead")
            set_status(session, handle, PlanStatus.APPROVED)
            session.commit()
        engine.dispose()
        body = {
            "date": TUESDAY.isoformat(),
            "at": "10:00",
            "absent": [{"clinician_id": NURSE}],
            "cancel": cancelled,
            "requests": [
                {
                    "request_id": r.request_id,
                    "resident_id": r.resident_id,
                    "service": r.service,
                    "earliest_date": r.earliest_date.isoformat(),
                    "latest_date": r.latest_date.isoformat(),
                    "window_start": format_hhmm(r.window.start_min),
                    "window_end": format_hhmm(r.window.end_min),
                    "duration_min": r.duration_min,
                    "skills": sorted(r.skills),
                }
                for r in requests
            ],
        }
        headers = {"Authorization": f"Bearer {make_token('lead', settings.secret_key, 60)}"}
        with TestClient(create_app(settings)) as client:
            started = time.monotonic()
            answer = client.post(f"/plans/{handle.plan_id}/replan", json=body, headers=headers)
            request_s = time.monotonic() - started
            if answer.status_code != 202:
                raise SystemExit(f"POST /replan: {answer.status_code} {answer.text}")
            job_id = answer.json()["job_id"]
            while True:
                job = client.get(f"/plan-jobs/{job_id}", headers=headers).json()
                if job["status"] not in ("queued", "running"):
                    break
                time.sleep(0.1)
            total_s = time.monotonic() - started
            if job["status"] != "done":
                raise SystemExit(f"the re-plan job {job['status']}: {job['message']}")
            changes = client.get(f"/plan-jobs/{job_id}/changes", headers=headers).json()
        return {
            "API request s (checks, queue)": round(request_s, 2),
            "API job s (worker: load, re-plan, save)": round(job["elapsed_s"], 1),
            "API request to done s": round(total_s, 2),
            "API re-plan s (inside the job)": changes["summary"]["seconds"],
            "API changes": len(changes["changes"]),
            "API moved without having to": changes["summary"]["moved_without_having_to"],
        }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan-dir", type=Path, default=ROOT / "out" / "minhang-centre")
    parser.add_argument("--skip-api", action="store_true")
    args = parser.parse_args(argv)
    dataset = read_dataset(SAMPLE)
    problem = build_problem(dataset, WEEK)
    base = read_plan(args.plan_dir, problem)
    cancelled, requests = pick_events(dataset, problem, base)
    events: list[Event] = [
        Absence(NURSE, TUESDAY, None, TEN),
        *map(Cancellation, cancelled),
        *requests,
    ]
    result = replan(
        dataset, problem, base, events, day=TUESDAY, at_min=TEN, params=SolveParams(2.0)
    )
    figures: dict[str, object] = {"load (1 min)": round(os.getloadavg()[0], 1)}
    figures |= check(base, result)
    figures["homevisit replan s (end to end)"] = round(
        run_cli(args.plan_dir, cancelled, requests), 2
    )
    if not args.skip_api:
        figures |= run_api(args.plan_dir, cancelled, requests)
    table = ["| figure | value |", "|---|---|"]
    table += [f"| {key} | {value} |" for key, value in figures.items()]
    text = "\n".join(table)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "replan_sick_call.md").write_text(
        f"# Same-day changes on the sample centre (Tuesday 10:00)\n\n"
        f"Cancelled: {', '.join(cancelled)}; "
        f"requests for {', '.join(r.resident_id for r in requests)}.\n\n"
        f"{text}\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
