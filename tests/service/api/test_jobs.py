"""Plan jobs with the real dispatcher: solved in a worker process, cancelled, killed, recovered.

These start real worker processes (spawned, like in production) on a SQLite database of their
own, with a one-team week so a solve takes seconds.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from service.api.app import create_app
from service.api.deps import make_token
from service.db.importer import import_dataset
from service.db.tables import JobStatus, PlanJobRow, UserRole
from service.jobs import JobDispatcher
from service.users import add_user
from tests.service.api.conftest import PASSWORD, settings_for
from tests.service.db.conftest import SAMPLE, open_database

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    with open_database("sqlite", tmp_path_factory.mktemp("jobs")) as database:
        settings = settings_for(database.url, jobs_running_max=2)
        import_dataset(database.engine, SAMPLE, settings)
        with Session(database.engine) as session:
            add_user(session, "lead1", PASSWORD, UserRole.TEAM_LEADER, team_id="MH03-T1")
            add_user(session, "lead2", PASSWORD, UserRole.TEAM_LEADER, team_id="MH03-T2")
            add_user(session, "admin", PASSWORD, UserRole.ADMIN)
            session.commit()
        with TestClient(create_app(settings)) as client:
            headers = {
                name: {"Authorization": f"Bearer {make_token(name, settings.secret_key, 60)}"}
                for name in ("lead1", "lead2", "admin")
            }
            yield client, headers


def _wait(
    client: TestClient, headers: dict[str, str], job_id: int, until: set[str], limit_s: float = 120
) -> dict[str, Any]:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/plan-jobs/{job_id}", headers=headers).json()
        if job["status"] in until:
            return job
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} still {job['status']} after {limit_s} s")


def test_a_plan_job_runs_in_a_worker_and_stores_a_checked_plan(
    service: tuple[TestClient, dict[str, str]],
) -> None:
    client, headers = service
    created = client.post(
        "/plans",
        json={"centre_id": "MH03", "week_start": "2026-11-30", "time_limit_s": 3},
        headers=headers["lead1"],
    )
    assert created.status_code == 202
    assert created.headers["Location"] == f"/plan-jobs/{created.json()['job_id']}"
    job = created.json()
    assert job["status"] == "queued" and job["team_id"] == "MH03-T1"
    clash = client.post(
        "/plans",
        json={"centre_id": "MH03", "week_start": "2026-11-30", "time_limit_s": 3},
        headers=headers["lead2"],
    )
    assert clash.status_code == 409  # the same centre and week never run twice at once
    _wait(client, headers["lead1"], job["job_id"], {"running", "done"})
    done = _wait(client, headers["lead1"], job["job_id"], {"done", "failed"})
    assert done["status"] == "done", done["message"]
    assert done["visits_placed"] > 0 and done["plan_id"] is not None
    assert done["kpis"]["violations"] == 0
    assert done["kpis"]["visits_scheduled"] == done["visits_placed"]
    plan = client.get(f"/plans/{done['plan_id']}", headers=headers["lead1"]).json()
    assert plan["status"] == "draft"
    assert {r["clinician_id"][:7] for r in plan["routes"]} == {"MH03-T1"}
    # Other teams' visits are accounted for, with a reason, not silently dropped.
    assert plan["kpis"]["visits_due"] > done["visits_placed"]


def test_a_team_leaders_job_shows_his_teams_figures(
    service: tuple[TestClient, dict[str, str]],
) -> None:
    """The job's figures are the team's (due, placed, still fit), not the whole centre's; the
    stored plan, which holds every team's routes, keeps the centre's, which an admin reads (a
    team leader reads his team's figures of it, as on his week page)."""
    client, headers = service
    done = {}
    for lead in ("lead1", "lead2"):  # team 1 first, so the centre's plan holds both teams
        job = client.post(
            "/plans",
            json={"centre_id": "MH03", "week_start": "2026-11-30", "time_limit_s": 3},
            headers=headers[lead],
        ).json()
        done[lead] = _wait(client, headers[lead], job["job_id"], {"done", "failed"})
        assert done[lead]["status"] == "done", done[lead]["message"]
    mine, first = done["lead2"], done["lead1"]
    plan = client.get(f"/plans/{mine['plan_id']}", headers=headers["lead2"]).json()
    assert {r["clinician_id"][:7] for r in plan["routes"]} == {"MH03-T2"}  # his sight
    assert mine["kpis"]["visits_due"] == mine["visits_total"]  # the team's week, all of it
    assert plan["kpis"]["visits_due"] == mine["kpis"]["visits_due"]  # his read: his team's
    centre = client.get(f"/plans/{mine['plan_id']}", headers=headers["admin"]).json()
    assert mine["kpis"]["visits_due"] < centre["kpis"]["visits_due"]  # the centre's is larger
    assert mine["kpis"]["visits_scheduled"] == mine["visits_placed"] > 0
    # The centre's plan holds both teams' visits; the job counts its own team's only.
    assert centre["kpis"]["visits_scheduled"] == mine["visits_placed"] + first["visits_placed"]
    left_out = mine["kpis"]["visits_due"] - mine["visits_placed"]
    assert mine["kpis"]["visits_still_fit"] <= left_out


def test_cancelling_a_running_job_keeps_the_best_plan_so_far(
    service: tuple[TestClient, dict[str, str]],
) -> None:
    client, headers = service
    job = client.post(
        "/plans",
        json={"centre_id": "MH03", "week_start": "2026-12-07", "time_limit_s": 120},
        headers=headers["lead2"],
    ).json()
    _wait(client, headers["lead2"], job["job_id"], {"running"})
    deadline = time.monotonic() + 60
    while (
        client.get(f"/plan-jobs/{job['job_id']}", headers=headers["lead2"]).json()["visits_placed"]
        == 0
    ):
        assert time.monotonic() < deadline, "no progress reported"
        time.sleep(0.3)
    started = time.monotonic()
    assert client.delete(f"/plan-jobs/{job['job_id']}", headers=headers["lead2"]).status_code == 200
    done = _wait(client, headers["lead2"], job["job_id"], {"done", "failed", "cancelled"})
    assert time.monotonic() - started < 60  # far sooner than the 120 s limit
    assert done["status"] == "done" and done["plan_id"] is not None
    assert "cancelled" in done["message"] and done["visits_placed"] > 0


def test_a_killed_worker_fails_its_job_and_the_server_goes_on(
    service: tuple[TestClient, dict[str, str]], tmp_path: Path
) -> None:
    client, headers = service
    job = client.post(
        "/plans",
        json={"centre_id": "MH03", "week_start": "2026-12-14", "time_limit_s": 120},
        headers=headers["lead1"],
    ).json()
    _wait(client, headers["lead1"], job["job_id"], {"running"})
    engine = client.app.state.engine  # type: ignore[attr-defined]
    deadline = time.monotonic() + 30
    pid = None
    while pid is None and time.monotonic() < deadline:
        with Session(engine) as session:
            pid = session.get(PlanJobRow, job["job_id"]).worker_pid  # type: ignore[union-attr]
        time.sleep(0.2)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    failed = _wait(client, headers["lead1"], job["job_id"], {"failed", "done"}, limit_s=30)
    assert failed["status"] == "failed"
    assert "stopped unexpectedly" in failed["message"] and "-9" in failed["message"]
    assert client.get("/me", headers=headers["lead1"]).status_code == 200
    rerun = client.post(f"/plan-jobs/{job['job_id']}/rerun", headers=headers["lead1"])
    assert rerun.status_code == 202 and rerun.json()["status"] == "queued"
    client.delete(f"/plan-jobs/{rerun.json()['job_id']}", headers=headers["lead1"])


def test_after_a_restart_running_jobs_are_interrupted_and_queued_ones_wait(tmp_path: Path) -> None:
    with open_database("sqlite", tmp_path) as database:
        settings = settings_for(database.url)
        now = dt.datetime.now(dt.UTC)
        with Session(database.engine) as session:
            # A job whose worker died with the old server; one whose worker still runs (another
            # web process's: this test's own pid stands in for it); a queued and a done job.
            for status, pid in (
                (JobStatus.RUNNING, None),
                (JobStatus.RUNNING, os.getpid()),
                (JobStatus.QUEUED, None),
                (JobStatus.DONE, None),
            ):
                session.add(
                    PlanJobRow(
                        centre_id="MH03",
                        week_start=dt.date(2026, 11, 30),
                        options={"kind": "plan"},
                        status=status.value,
                        requested_by="lead1",
                        created_at=now,
                        worker_pid=pid,
                    )
                )
            session.commit()
        assert JobDispatcher(database.engine, settings).recover() == 1
        with Session(database.engine) as session:
            statuses = [r.status for r in session.query(PlanJobRow).order_by(PlanJobRow.job_id)]
            session.execute(update(PlanJobRow).values(status=JobStatus.DONE.value))
            session.commit()
        assert statuses == ["interrupted", "running", "queued", "done"]
