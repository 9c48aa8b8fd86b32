"""Plan jobs on a Dask cluster: the dispatcher gives them to the Dask executor as it gives them to
local worker processes; a cancel reaches the running solve, and as a cluster's task has no
process id on this machine, a job left running by a stopped server is marked interrupted.

A real Dask LocalCluster (``cluster``), a SQLite database both sides reach, one solve process
per job (a Dask worker may not start processes of its own).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from scheduler.executor import DaskExecutor
from service import jobs
from service.db.importer import import_dataset
from service.db.tables import JobStatus, PlanJobRow
from service.jobs import JobDispatcher
from tests.service.api.conftest import settings_for
from tests.service.db.conftest import SAMPLE, open_database

pytestmark = pytest.mark.slow


def _job(engine: Engine, job_id: int) -> PlanJobRow:
    with Session(engine, expire_on_commit=False) as session:
        row = session.get(PlanJobRow, job_id)
        assert row is not None
        return row


def _until(
    engine: Engine, job_id: int, done: Callable[[PlanJobRow], bool], limit_s: float = 120
) -> PlanJobRow:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        row = _job(engine, job_id)
        if done(row):
            return row
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {row.status} after {limit_s} s")


def test_a_plan_job_runs_on_the_cluster_and_its_cancel_reaches_it(
    cluster: str, tmp_path: Path
) -> None:
    with open_database("sqlite", tmp_path) as database:
        settings = settings_for(database.url)
        import_dataset(database.engine, SAMPLE, settings)
        with Session(database.engine) as session:
            row = jobs.enqueue(
                session,
                centre_id="MH03",
                week_start=dt.date(2026, 11, 30),
                team_id="MH03-T1",
                options={"kind": "plan", "time_limit_s": 120},
                base_plan_id=None,
                requested_by="lead1",
            )
            job_id = row.job_id
        dispatcher = JobDispatcher(database.engine, settings, DaskExecutor(cluster))
        dispatcher.start()
        try:
            assert dispatcher.idle_workers() == []  # none of this machine's processes
            _until(database.engine, job_id, lambda r: r.visits_placed > 0 or r.status != "running")
            with Session(database.engine) as session:
                row = session.get(PlanJobRow, job_id)
                assert row is not None and row.status == JobStatus.RUNNING.value
                assert row.worker_pid is None  # a cluster's task: no process id here
                jobs.cancel(session, row)
            dispatcher.wake()
            started = time.monotonic()
            done = _until(database.engine, job_id, lambda r: r.status != "running")
            assert time.monotonic() - started < 60  # far sooner than the 120 s limit
            assert done.status == "done", done.error
            assert done.plan_id is not None and "cancelled" in done.error
        finally:
            dispatcher.stop()
        # A job left running (its server stopped): with no process id, it is interrupted.
        with Session(database.engine) as session:
            session.execute(
                update(PlanJobRow)
                .where(PlanJobRow.job_id == job_id)
                .values(status=JobStatus.RUNNING.value)
            )
            session.commit()
        assert JobDispatcher(database.engine, settings).recover() == 1
        assert _job(database.engine, job_id).status == JobStatus.INTERRUPTED.value
