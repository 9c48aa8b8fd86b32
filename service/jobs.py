"""Plan jobs: queued in the database, solved in worker processes, watched by a dispatcher.

The web process never solves. :class:`JobDispatcher` runs in a thread of the web process: it
hands each queued job to a worker process of its own (:func:`service.worker.serve_warm`), at most
``jobs_running_max`` at once and never two for the same centre and week, passes a cancel request
on to the worker (which stops the search and keeps the best plan so far), and notices a worker
that died (killed, out of memory): its job is marked failed and the server goes on serving.

Worker processes are started ahead (``jobs_warm_workers``, default 1): a spawned interpreter
takes seconds to import OR-Tools and the rest, so the dispatcher keeps that many started, ready
and waiting for a job id on a pipe. A queued job goes to a ready one at once, and a new one is
started in its place; one that died while idle is replaced. Idle workers exit when the
dispatcher stops (their pipe closes), and so when the web process is gone.

Jobs live in the ``plan_job`` table, so they survive a restart: on start, :meth:`recover` marks
jobs that were running as interrupted (they can be rerun) and queued jobs simply run. A job is
claimed with a compare-and-set on its status, so several server processes can share a database.
"""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import multiprocessing.util
import os
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event as EventType
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from service.db.tables import JobStatus, PlanJobRow
from service.settings import Settings
from service.worker import READY, TOOK, serve_warm

__all__ = ["ACTIVE_STATUSES", "JobDispatcher"]

log = logging.getLogger("homevisit.jobs")

ACTIVE_STATUSES = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)
_POLL_S = 0.5
_STOP_GRACE_S = 10.0
_IDLE_GRACE_S = 2.0  # an idle worker still importing is terminated after this at stop
_WARM_RETRY_MAX_S = 60.0  # the longest wait before starting again workers that keep dying
_HAND_TRIES = 3
_TOOK_WAIT_S = 1.0  # a ready worker answers a job id at once; longer only on a choked machine


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


@dataclass
class _Warm:
    """A worker process started ahead of its job, and the server's end of its pipe."""

    process: BaseProcess
    pipe: Connection
    stop: EventType
    ready: bool = False

    def is_ready(self) -> bool:
        """Whether it said it is ready (read from the pipe without waiting)."""
        try:
            while not self.ready and self.pipe.poll():
                self._read()
        except (EOFError, OSError):  # it died (the dispatcher notices when it reaps)
            return False
        return self.ready

    def took(self, timeout_s: float) -> bool | None:
        """After its job id was sent: whether it said it took the job (``False``: it died
        first; ``None``: no word within ``timeout_s``, as a busy machine may make it)."""
        deadline = time.monotonic() + timeout_s
        try:
            while (left := deadline - time.monotonic()) > 0 and self.pipe.poll(left):
                if self._read() == TOOK:
                    return True
        except (EOFError, OSError):  # its end closed: it died
            return False
        return None

    def _read(self) -> str:
        what, _ = self.pipe.recv()
        if what == READY:
            self.ready = True
        return str(what)


def _let_go(idle: list[_Warm]) -> None:
    """Close the pipes of idle workers: they exit (at the web process's exit, if not before)."""
    for warm in idle:
        warm.pipe.close()


class JobDispatcher:
    """Starts, cancels and watches the worker processes of plan jobs."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self._engine = engine
        self._settings = settings
        self._context = multiprocessing.get_context("spawn")
        self._running: dict[int, _Running] = {}
        self._warm: list[_Warm] = []  # idle workers, oldest first
        self._warm_deaths = 0  # idle workers that died in a row (none became ready since)
        self._warm_again_at = 0.0  # when to start idle workers again after such deaths
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.RLock()  # one round at a time; stop() waits for it
        self._thread: threading.Thread | None = None
        # Python joins non-daemon children at exit, and an idle worker waits on its pipe: close
        # the pipes first (before that join) if the dispatcher was never stopped.
        multiprocessing.util.Finalize(self, _let_go, args=(self._warm,), exitpriority=10)

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
        """Start the idle workers, and watch the queue in a background thread."""
        with self._lock:
            self._keep_warm()
        self._thread = threading.Thread(target=self._loop, name="plan-jobs", daemon=True)
        self._thread.start()

    def idle_workers(self) -> list[int]:
        """The process ids of the idle workers that are ready for a job."""
        with self._lock:
            return [w.process.pid for w in self._warm if w.is_ready() and w.process.pid]

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
            idle = list(self._warm)
            _let_go(idle)  # they exit as soon as they read the closed pipe
            self._warm.clear()
            for running in self._running.values():
                running.stop.set()
            for job_id, running in list(self._running.items()):
                running.process.join(timeout=_STOP_GRACE_S)
                if running.process.is_alive():
                    running.process.terminate()
                    running.process.join(timeout=5)
                self._finish_dead(job_id, running, interrupted=True)
            self._running.clear()
            for warm in idle:  # one still importing reads its pipe only after: no need to wait
                warm.process.join(timeout=_IDLE_GRACE_S)
                if warm.process.is_alive():
                    warm.process.terminate()
                    warm.process.join(timeout=5)
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
                        self._keep_warm()  # at once in place of one that took a job
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
        """Hand the claimed job to a worker: an idle one (ready first), else a new one."""
        for _ in range(_HAND_TRIES):
            warm = self._take_idle() or self._new_worker()
            try:
                warm.pipe.send(job_id)
            except OSError:  # it died since it was looked at: the next one
                self._bury(warm)
                continue
            # One that was ready and died since (killed, out of memory) never read the id: the
            # job is not lost with it. One still starting answers after its imports.
            if warm.ready and warm.took(_TOOK_WAIT_S) is False:
                self._bury(warm)
                continue
            warm.pipe.close()
            break
        else:  # no worker would take it (each died as it started): as a worker that died
            self._not_started(job_id)
            return
        process = warm.process
        self._running[job_id] = _Running(process, warm.stop, key)
        with Session(self._engine) as session:
            session.execute(
                update(PlanJobRow).where(PlanJobRow.job_id == job_id).values(worker_pid=process.pid)
            )
            session.commit()
        log.info(
            "plan job %s started in process %s (%s)",
            job_id,
            process.pid,
            "ready ahead" if warm.ready else "starting",
        )

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

    # --- idle workers -------------------------------------------------------------------------

    def _new_worker(self) -> _Warm:
        stop = self._context.Event()
        mine, theirs = self._context.Pipe()
        # Not a daemon: the solve starts its own worker processes, which daemons may not.
        process = self._context.Process(
            target=serve_warm,
            args=(self._settings, theirs, stop),  # pickled as it is: no round trip
            name="homevisit-job-worker",
            daemon=False,
        )
        process.start()
        theirs.close()  # its end lives in the worker: the pipe closes when either side goes
        return _Warm(process, mine, stop)

    def _take_idle(self) -> _Warm | None:
        """The idle worker to run a job now: ready ones first, then one still starting."""
        self._bury_dead_idle()
        if not self._warm:
            return None
        chosen = next((w for w in self._warm if w.is_ready()), self._warm[0])
        self._warm.remove(chosen)
        return chosen

    def _keep_warm(self) -> None:
        """Start idle workers up to ``jobs_warm_workers``, in place of those taken or dead."""
        self._bury_dead_idle()
        if any(w.is_ready() for w in self._warm):
            self._warm_deaths = 0
        while len(self._warm) < self._settings.jobs_warm_workers:
            if time.monotonic() < self._warm_again_at:
                return
            self._warm.append(self._new_worker())

    def _bury_dead_idle(self) -> None:
        for warm in [w for w in self._warm if not w.process.is_alive()]:
            self._warm.remove(warm)
            self._bury(warm)
            log.warning(
                "an idle plan-job worker (process %s) died, exit code %s; another is started",
                warm.process.pid,
                warm.process.exitcode,
            )
            # One death: replaced at once; workers dying in a row: wait longer each time.
            self._warm_deaths += 1
            wait = min(_WARM_RETRY_MAX_S, 2.0 ** (self._warm_deaths - 1) - 1)
            self._warm_again_at = time.monotonic() + wait

    @staticmethod
    def _bury(warm: _Warm) -> None:
        warm.pipe.close()
        warm.process.join(timeout=5)


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
