"""Idle workers of the plan-job dispatcher: started ahead, used, replaced, let go.

A job must start in a worker process that was started (and had imported the solver) before the
job was queued, not in one spawned for it; the worker taken is replaced at once; an idle worker
that dies is replaced and the next job still runs; idle workers never outlive the dispatcher.
These start real spawned processes on a database of their own (SQLite; PostgreSQL too when
``HOMEVISIT_TEST_POSTGRES_URL`` is set).
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from service.db.importer import import_dataset
from service.db.tables import JobStatus, PlanJobRow
from service.jobs import JobDispatcher
from tests.service.api.conftest import settings_for
from tests.service.db.conftest import BACKENDS, SAMPLE, Database, open_database

pytestmark = pytest.mark.slow

WORKER = "homevisit-job-worker"


@pytest.fixture(scope="module", params=BACKENDS)
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    with open_database(request.param, tmp_path_factory.mktemp("warm")) as database:
        import_dataset(database.engine, SAMPLE, settings_for(database.url))
        yield database


@contextmanager
def dispatching(database: Database, **overrides: object) -> Iterator[JobDispatcher]:
    dispatcher = JobDispatcher(database.engine, settings_for(database.url, **overrides))
    dispatcher.start()
    try:
        yield dispatcher
    finally:
        dispatcher.stop()


def _workers() -> list[multiprocessing.process.BaseProcess]:
    """The job worker processes of this process still alive (reaps those that ended)."""
    return [p for p in multiprocessing.active_children() if p.name == WORKER]


def _ready(dispatcher: JobDispatcher, count: int = 1, limit_s: float = 90) -> list[int]:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        pids = dispatcher.idle_workers()
        if len(pids) >= count:
            return pids
        time.sleep(0.05)
    raise AssertionError(f"{count} idle worker(s) not ready after {limit_s} s")


def _queue(engine: Engine, week: dt.date) -> int:
    """A small plan job (one team, a 1 s limit), as the API queues it."""
    with Session(engine) as session:
        row = PlanJobRow(
            centre_id="MH03",
            team_id="MH03-T1",
            week_start=week,
            options={"kind": "plan", "time_limit_s": 1},
            status=JobStatus.QUEUED.value,
            requested_by="lead1",
            created_at=dt.datetime.now(dt.UTC),
        )
        session.add(row)
        session.commit()
        return row.job_id


def _job(engine: Engine, job_id: int) -> PlanJobRow:
    with Session(engine, expire_on_commit=False) as session:
        row = session.get(PlanJobRow, job_id)
        assert row is not None
        return row


def _until(engine: Engine, job_id: int, statuses: set[str], limit_s: float = 120) -> PlanJobRow:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        row = _job(engine, job_id)
        if row.status in statuses:
            return row
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still {row.status} after {limit_s} s")


def test_a_job_runs_in_the_worker_started_before_it_and_another_takes_its_place(
    database: Database,
) -> None:
    with dispatching(database) as dispatcher:
        [ready] = _ready(dispatcher)
        job_id = _queue(database.engine, dt.date(2026, 11, 30))
        dispatcher.wake()  # as the API does when it queues a job
        running = _until(database.engine, job_id, {"running", "done", "failed"}, limit_s=10)
        assert running.status != "failed", running.error
        done = _until(database.engine, job_id, {"done", "failed"})
        assert done.status == "done", done.error
        assert done.plan_id is not None and done.visits_placed > 0
        # The worker that had been waiting ran it: no process was started for the job.
        assert done.worker_pid == ready
        # It was replaced at once: a new idle worker, while the old one exits with its job.
        [replacement] = _ready(dispatcher)
        assert replacement != ready
        # It ends once its job is stored: give the exit a moment on a loaded machine.
        deadline = time.monotonic() + 30
        while ready in {p.pid for p in _workers()} and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready not in {p.pid for p in _workers()}
    assert _workers() == []


def test_idle_workers_exit_when_the_dispatcher_stops(database: Database) -> None:
    with dispatching(database, jobs_warm_workers=2) as dispatcher:
        pids = _ready(dispatcher, count=2)
        assert len(set(pids)) == 2
        assert {p.pid for p in _workers()} == set(pids)
        started = time.monotonic()
    assert time.monotonic() - started < 10  # let go, not waited for
    assert _workers() == []
    # One still starting (importing the solver) when the server stops does not stay either.
    with dispatching(database):
        assert len(_workers()) == 1
    assert _workers() == []


def test_an_idle_worker_that_died_is_replaced_and_the_next_job_still_runs(
    database: Database,
) -> None:
    with dispatching(database) as dispatcher:
        [ready] = _ready(dispatcher)
        os.kill(ready, signal.SIGKILL)  # e.g. the out-of-memory killer, while it waits
        job_id = _queue(database.engine, dt.date(2026, 12, 7))
        dispatcher.wake()  # at once: the dispatcher may not have seen it die yet
        done = _until(database.engine, job_id, {"done", "failed"})
        assert done.status == "done", done.error
        assert done.worker_pid not in (None, ready)
        [replacement] = _ready(dispatcher)
        assert replacement != ready
    assert _workers() == []


def test_a_worker_that_dies_as_it_is_handed_a_job_does_not_take_the_job_with_it(
    database: Database,
) -> None:
    """Alive when the dispatcher looked, dead before it read its job id: another one runs it."""
    with dispatching(database) as dispatcher:
        [ready] = _ready(dispatcher)
        os.kill(ready, signal.SIGSTOP)  # alive, but reads nothing
        killer = threading.Timer(0.3, os.kill, (ready, signal.SIGKILL))
        job_id = _queue(database.engine, dt.date(2026, 12, 21))
        dispatcher.wake()
        killer.start()  # while the dispatcher waits for its answer
        try:
            done = _until(database.engine, job_id, {"done", "failed"})
        finally:
            killer.join()
        assert done.status == "done", done.error
        assert done.worker_pid not in (None, ready)
    assert _workers() == []


def test_with_no_idle_worker_kept_each_job_starts_its_own(database: Database) -> None:
    with dispatching(database, jobs_warm_workers=0) as dispatcher:
        time.sleep(1)  # a round or two of the dispatcher
        assert dispatcher.idle_workers() == [] and _workers() == []
        job_id = _queue(database.engine, dt.date(2026, 12, 14))
        dispatcher.wake()
        done = _until(database.engine, job_id, {"done", "failed"})
        assert done.status == "done", done.error
        assert done.worker_pid is not None
    assert _workers() == []
