"""Plan jobs: queued in the database, solved in worker processes, watched by a dispatcher.

The web process never solves. :class:`JobDispatcher` runs in a thread of the web process: it
starts a spawned worker process (:func:`service.worker.run_job`) for each queued job, at most
``jobs_running_max`` at once and never two for the same centre and week, passes a cancel request
on to the worker (which stops the search and keeps the best plan so far), and notices a worker
that died (killed, out of memory): its job is marked failed and the server goes on serving.

Jobs live in the ``plan_job`` table, so they survive a restart: on start, :meth:`recover` marks
jobs that were running as interrupted (they can be rerun) and queued jobs simply run. A job is
claimed with a compare-and-set on its status, so several server processes can share a database.
"""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import os
import threading
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event as EventType

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from service.db.tables import JobStatus, PlanJobRow
from service.settings import Settings

__all__ = ["ACTIVE_STATUSES", "JobDispatcher"]

log = logging.getLogger("homevisit.jobs")

ACTIVE_STATUSES = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)
_POLL_S = 0.5
_STOP_GRACE_S = 10.0


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
    process: BaseProcess
    stop: EventType
    centre_week: tuple[str, dt.date]


class JobDispatcher:
    """Starts, cancels and watches the worker processes of plan jobs."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self._engine = engine
        self._settings = settings
        self._context = multiprocessing.get_context("spawn")
        self._running: dict[int, _Running] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # --- life cycle ---------------------------------------------------------------------------

    def recover(self) -> int:
        """Mark jobs left running by a stopped server as interrupted; returns how many.

        A job whose worker process is still alive on this machine belongs to another web
        process of the same server (``serve --workers 2``, or one restarted by uvicorn): it is
        left alone.
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
        """Start watching the queue in a background thread."""
        self._thread = threading.Thread(target=self._loop, name="plan-jobs", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Look at the queue now (a job was queued or cancelled)."""
        self._wake.set()

    def stop(self) -> None:
        """Stop the thread; ask running solves to stop, and mark what does not as interrupted."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for running in self._running.values():
            running.stop.set()
        for job_id, running in list(self._running.items()):
            running.process.join(timeout=_STOP_GRACE_S)
            if running.process.is_alive():
                running.process.terminate()
                running.process.join(timeout=5)
            self._finish_dead(job_id, running, interrupted=True)
        self._running.clear()

    # --- the loop ---------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # the dispatcher must outlive one bad round (e.g. database gone)
                log.exception("plan-job dispatcher round failed")
            self._wake.wait(_POLL_S)
            self._wake.clear()

    def tick(self) -> None:
        """One round: reap finished workers, pass on cancels, start queued jobs."""
        self._reap()
        with Session(self._engine) as session:
            self._pass_cancels(session)
            self._start_queued(session)

    def _reap(self) -> None:
        for job_id, running in list(self._running.items()):
            if running.process.is_alive():
                continue
            running.process.join()
            self._finish_dead(job_id, running, interrupted=False)
            del self._running[job_id]

    def _finish_dead(self, job_id: int, running: _Running, *, interrupted: bool) -> None:
        """A worker ended: if it did not write its own end (it died), write it here."""
        code = running.process.exitcode
        if interrupted:
            status, error = (
                JobStatus.INTERRUPTED,
                "the server stopped while this job ran; rerun it to plan again",
            )
        else:
            status, error = (
                JobStatus.FAILED,
                f"the solver's worker process stopped unexpectedly (exit code {code}); "
                "the job can be rerun",
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
            self._running[job_id].stop.set()

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
        from service.worker import run_job

        stop = self._context.Event()
        # Not a daemon: the solve starts its own worker processes, which daemons may not.
        process = self._context.Process(
            target=run_job,
            args=(self._settings, job_id, stop),  # pickled as it is: no round trip
            name=f"homevisit-job-{job_id}",
            daemon=False,
        )
        process.start()
        self._running[job_id] = _Running(process, stop, key)
        with Session(self._engine) as session:
            session.execute(
                update(PlanJobRow).where(PlanJobRow.job_id == job_id).values(worker_pid=process.pid)
            )
            session.commit()
        log.info("plan job %s started in process %s", job_id, process.pid)
