"""Plan jobs: queued in the database, solved as tasks of the executor, watched by a dispatcher.

The web process never solves. :class:`JobDispatcher` runs in a thread of the web process: it
gives each queued job to the executor (:meth:`scheduler.executor.Executor.submit` of
:func:`service.worker.job_task`), which runs it in a worker process of its own, at most
``jobs_running_max`` at once and never two for the same centre and week; it passes a cancel
request on to the job's task (which stops the search and keeps the best plan so far), and
notices a worker that died (killed, out of memory): its job is marked failed and the server goes
on serving.

Worker processes are started ahead (``jobs_warm_workers``, default 1): a spawned interpreter
takes seconds to import OR-Tools and the rest, so the executor keeps that many started, ready
(:func:`service.worker.ready_for_jobs`) and waiting for a task. A queued job goes to a ready one
at once, and a new one is started in its place; one that died while idle is replaced. Idle
workers exit when the dispatcher stops, and so when the web process is gone.

Jobs live in the ``plan_job`` table, so they survive a restart: on start, :meth:`recover` marks
jobs that were running as interrupted (they can be rerun) and queued jobs simply run. A job is
claimed with a compare-and-set on its status, so several server processes can share a database.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from scheduler.executor import Executor, LocalExecutor, TaskHandle, TaskNotStartedError
from service.db.tables import JobStatus, PlanJobRow
from service.settings import Settings
from service.worker import job_task, ready_for_jobs

__all__ = ["ACTIVE_STATUSES", "JobDispatcher"]

log = logging.getLogger("homevisit.jobs")

ACTIVE_STATUSES = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)
_POLL_S = 0.5
_STOP_GRACE_S = 10.0
WORKER_NAME = "homevisit-job-worker"  # the name of a job's worker process


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _alive(pid: int | None) -> bool:
    """Whether a process with this id runs on this machine."""
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


@dataclass
class _Running:
    task: TaskHandle[None]
    centre_week: tuple[str, dt.date]


def job_executor(settings: Settings) -> Executor:
    """The executor of plan jobs: a process of its own for each, ``jobs_warm_workers`` of them
    started ahead and ready (no pool for ``map``: a job's solve has its own)."""
    return LocalExecutor(
        1,
        ahead=settings.jobs_warm_workers,
        prepare=functools.partial(ready_for_jobs, settings),  # settings pickled as they are
        name=WORKER_NAME,
    )


class JobDispatcher:
    """Starts, cancels and watches the tasks (worker processes) of plan jobs.

    ``executor``: where the jobs run (default :func:`job_executor`); the dispatcher closes it
    when it stops.
    """

    def __init__(
        self, engine: Engine, settings: Settings, executor: Executor | None = None
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._executor = executor if executor is not None else job_executor(settings)
        self._running: dict[int, _Running] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.RLock()  # one round at a time; stop() waits for it
        self._thread: threading.Thread | None = None

    # --- life cycle ---------------------------------------------------------------------------

    def recover(self) -> int:
        """Mark jobs left running by a stopped server as interrupted; returns how many.

        A job whose worker process is still alive on this machine belongs to another web
        process of the same server (``serve --workers 2``, or one restarted by uvicorn): it is
        left alone. A job with no process id (a task of a Dask cluster) is marked too.
        """
        with Session(self._engine) as session:
            running = session.execute(
                select(PlanJobRow.job_id, PlanJobRow.worker_pid).where(
                    PlanJobRow.status == JobStatus.RUNNING.value
                )
            ).all()
            orphans = [job_id for job_id, pid in running if not _alive(pid)]
            if orphans:
                session.execute(
                    update(PlanJobRow)
                    .where(
                        PlanJobRow.job_id.in_(orphans),
                        PlanJobRow.status == JobStatus.RUNNING.value,
                    )
                    .values(
                        status=JobStatus.INTERRUPTED.value,
                        finished_at=_now(),
                        error="the server stopped while this job ran; rerun it to plan again",
                    )
                )
                session.commit()
            return len(orphans)

    def start(self) -> None:
        """Start the idle workers, and watch the queue in a background thread."""
        with self._lock:
            self._executor.keep_warm()
        self._thread = threading.Thread(target=self._loop, name="plan-jobs", daemon=True)
        self._thread.start()

    def idle_workers(self) -> list[int]:
        """The process ids of the idle workers that are ready for a job."""
        with self._lock:
            return self._executor.idle_pids()

    def wake(self) -> None:
        """Look at the queue now (a job was queued or cancelled)."""
        self._wake.set()

    def stop(self) -> None:
        """Stop the thread and the idle workers; ask running solves to stop, and mark what does
        not as interrupted."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        locked = self._lock.acquire(timeout=_STOP_GRACE_S)  # a round still on: let it end
        try:
            for running in self._running.values():
                running.task.request_stop()
            for job_id, running in list(self._running.items()):
                if not running.task.wait(_STOP_GRACE_S):
                    running.task.kill()
                self._finish_dead(job_id, running, interrupted=True)
            self._running.clear()
            self._executor.close()  # the idle workers are let go (after: a cluster's tasks
            # are watched through the executor's connection)
        finally:
            if locked:
                self._lock.release()

    # --- the loop ---------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                with self._lock:
                    if self._stop.is_set():
                        break
                    self.tick()
            except Exception:  # the dispatcher must outlive one bad round (e.g. database gone)
                log.exception("plan-job dispatcher round failed")
            try:
                with self._lock:
                    if not self._stop.is_set():
                        self._executor.keep_warm()  # at once in place of one that took a job
            except Exception:
                log.exception("plan-job dispatcher could not start an idle worker")
            self._wake.wait(_POLL_S)
            self._wake.clear()

    def tick(self) -> None:
        """One round: reap finished workers, pass on cancels, start queued jobs."""
        with self._lock:
            self._reap()
            with Session(self._engine) as session:
                self._pass_cancels(session)
                self._start_queued(session)

    def _reap(self) -> None:
        for job_id, running in list(self._running.items()):
            if not running.task.done():
                continue
            self._finish_dead(job_id, running, interrupted=False)
            del self._running[job_id]

    def _finish_dead(self, job_id: int, running: _Running, *, interrupted: bool) -> None:
        """A job's task ended: if it did not write its own end (it died), write it here."""
        code = running.task.exitcode
        if interrupted:
            status, error = (
                JobStatus.INTERRUPTED,
                "the server stopped while this job ran; rerun it to plan again",
            )
        else:
            how = f"exit code {code}" if code is not None else _what(running.task.exception())
            status, error = (
                JobStatus.FAILED,
                f"the solver's worker process stopped unexpectedly ({how}); the job can be rerun",
            )
        with Session(self._engine) as session:
            session.execute(
                update(PlanJobRow)
                .where(
                    PlanJobRow.job_id == job_id,
                    PlanJobRow.status == JobStatus.RUNNING.value,
                )
                .values(status=status.value, finished_at=_now(), error=error)
            )
            session.commit()

    def _pass_cancels(self, session: Session) -> None:
        if not self._running:
            return
        wanted = session.scalars(
            select(PlanJobRow.job_id).where(
                PlanJobRow.job_id.in_(list(self._running)),
                PlanJobRow.cancel_requested.is_(True),
            )
        )
        for job_id in wanted:
            self._running[job_id].task.request_stop()

    def _start_queued(self, session: Session) -> None:
        free = self._settings.jobs_running_max - len(self._running)
        if free <= 0:
            return
        busy = {
            (row.centre_id, row.week_start)
            for row in session.execute(
                select(PlanJobRow.centre_id, PlanJobRow.week_start).where(
                    PlanJobRow.status == JobStatus.RUNNING.value
                )
            )
        }
        queued = session.scalars(
            select(PlanJobRow)
            .where(PlanJobRow.status == JobStatus.QUEUED.value)
            .order_by(PlanJobRow.job_id)
        ).all()
        for job in queued:
            if free <= 0:
                break
            key = (job.centre_id, job.week_start)
            if key in busy:
                continue  # never two solves of the same centre and week at once
            claimed = session.execute(
                update(PlanJobRow)
                .where(PlanJobRow.job_id == job.job_id, PlanJobRow.status == JobStatus.QUEUED.value)
                .values(status=JobStatus.RUNNING.value, started_at=_now())
            )
            session.commit()
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                continue  # another server process took it
            self._spawn(job.job_id, key)
            busy.add(key)
            free -= 1

    def _spawn(self, job_id: int, key: tuple[str, dt.date]) -> None:
        """Give the claimed job to the executor (a worker process ready ahead, if one waits)."""
        try:
            task = self._executor.submit(job_task, (self._settings, job_id))
        except TaskNotStartedError:  # each worker tried died as it started: as a worker that died
            self._not_started(job_id)
            return
        self._running[job_id] = _Running(task, key)
        with Session(self._engine) as session:
            session.execute(
                update(PlanJobRow).where(PlanJobRow.job_id == job_id).values(worker_pid=task.pid)
            )
            session.commit()
        log.info("plan job %s started in process %s", job_id, task.pid)

    def _not_started(self, job_id: int) -> None:
        log.error("no worker process would start plan job %s", job_id)
        with Session(self._engine) as session:
            session.execute(
                update(PlanJobRow)
                .where(PlanJobRow.job_id == job_id, PlanJobRow.status == JobStatus.RUNNING.value)
                .values(
                    status=JobStatus.FAILED.value,
                    finished_at=_now(),
                    error="the solver's worker process would not start; the job can be rerun",
                )
            )
            session.commit()


def _what(error: BaseException | None) -> str:
    """What ended a task that has no exit code (a cluster's): its error's type."""
    return type(error).__name__ if error is not None else "no error"


def enqueue(
    session: Session,
    *,
    centre_id: str,
    week_start: dt.date,
    team_id: str | None,
    options: dict[str, Any],
    base_plan_id: int | None,
    requested_by: str,
) -> PlanJobRow:
    """Store a queued job and commit (the caller wakes the dispatcher)."""
    row = PlanJobRow(
        centre_id=centre_id,
        team_id=team_id,
        week_start=week_start,
        base_plan_id=base_plan_id,
        options=options,
        status=JobStatus.QUEUED.value,
        requested_by=requested_by,
        created_at=_now(),
    )
    session.add(row)
    session.commit()
    return row


def cancel(session: Session, row: PlanJobRow) -> None:
    """Cancel a job and commit: a queued one never runs; a running one is asked to stop (it
    keeps its best plan so far). The caller wakes the dispatcher."""
    if row.status == JobStatus.QUEUED.value:
        row.status = JobStatus.CANCELLED.value
        row.finished_at = _now()
        row.error = "cancelled before it ran"
    elif row.status == JobStatus.RUNNING.value:
        row.cancel_requested = True
    session.commit()
