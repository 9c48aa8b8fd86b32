"""One way to run independent solves: the parts of a week, a district's centres, scenarios.

An :class:`Executor` maps a picklable, module-level function over plain-data items and returns
the results in input order; ``on_done(index, result)`` is called as each one finishes (for
progress bars). Solver objects never pickle: tasks take datasets, problems and parameters in and
give plans out, and each task solves in one process inside.

* :class:`LocalExecutor` -- a ``spawn`` process pool on this machine (the default); with one
  worker it runs in this process. Programs that use it need the ``if __name__ == "__main__"``
  guard. Its workers hear a stop request (:meth:`LocalExecutor.request_stop`, read in a task
  with :func:`stop_requested`) and can send messages back while they work (:func:`report`,
  received by ``map``'s ``on_message``), which is how a week's parts report their progress
  and stop on Ctrl-C.
* :class:`DaskExecutor` -- a running Dask ``distributed`` scheduler (``tcp://host:8786``), for
  beyond one machine. Needs ``dask[distributed]`` (imported only when one is made); the workers
  need homevisit importable. ``map``'s tasks run to their own end: no stop request, no messages.

Besides ``map``, :meth:`Executor.submit` starts one task on its own and gives back a
:class:`TaskHandle` to watch, stop or kill it: the service's plan jobs. Locally each such task
has a process of its own (one that crashes takes no other down; its process id lets a restarted
server see whether it still runs), taken from processes started ahead, ready and waiting
(:meth:`LocalExecutor.keep_warm`), so a task starts at once instead of after the seconds a new
interpreter takes to import the solver. On Dask a task has no process of its own: no process id,
and killing it only drops it (see :meth:`DaskExecutor.submit`).

:func:`make_executor` picks one from a ``--cluster`` option.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import logging
import multiprocessing
import multiprocessing.util
import os
import queue as queue_module
import signal
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import AbstractContextManager
from multiprocessing import connection
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.reduction import ForkingPickler
from multiprocessing.synchronize import Event as EventType
from types import TracebackType
from typing import Any, Generic, Protocol, Self, TypeVar, cast

__all__ = [
    "DaskExecutor",
    "Executor",
    "LocalExecutor",
    "TaskDiedError",
    "TaskHandle",
    "TaskNotStartedError",
    "make_executor",
    "report",
    "stop_requested",
]

log = logging.getLogger("homevisit.executor")

T = TypeVar("T")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)

Prepare = Callable[[], AbstractContextManager[object]]
"""Made ready in a process started ahead, before its task: a module-level function (or a
``functools.partial`` of one) that returns a context manager, entered before the process says
it is ready and left after its task (or when it is let go)."""

TICK_S = 0.25  # how often ``map`` looks at messages and calls ``on_tick`` while tasks run


class TaskDiedError(RuntimeError):
    """A task's process ended without an answer (killed, out of memory): ``exitcode`` says how."""

    def __init__(self, exitcode: int | None) -> None:
        super().__init__(f"the task's process stopped unexpectedly (exit code {exitcode})")
        self.exitcode = exitcode


class TaskNotStartedError(RuntimeError):
    """No process would take the task: each one tried died before it read the task."""


class TaskHandle(Protocol[R_co]):
    """One task given to :meth:`Executor.submit`: watched, stopped or killed on its own."""

    @property
    def pid(self) -> int | None:
        """The id of the task's process (``None`` where it has none of its own: a cluster's)."""
        ...

    @property
    def exitcode(self) -> int | None:
        """How its process ended (``None``: still running, or no process of its own)."""
        ...

    def done(self) -> bool:
        """Whether it ended (answered, raised, or its process died); does not wait."""
        ...

    def wait(self, timeout_s: float | None = None) -> bool:
        """Wait until it ends, at most ``timeout_s``; whether it ended."""
        ...

    def result(self) -> R_co:
        """Its value once it ended (waits); raises its error, or :class:`TaskDiedError`."""
        ...

    def exception(self) -> BaseException | None:
        """Its error once it ended (waits): what it raised, :class:`TaskDiedError`, or ``None``."""
        ...

    def request_stop(self) -> None:
        """Ask this task alone to stop (it hears it through :func:`stop_requested`)."""
        ...

    def kill(self) -> None:
        """End it now, without its answer (see the executor for what a cluster can do)."""
        ...


class Executor(Protocol):
    """Runs independent tasks; results come back in input order."""

    def map(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        *,
        on_done: Callable[[int, R], None] | None = None,
        on_message: Callable[[Any], None] | None = None,
        on_tick: Callable[[], None] | None = None,
    ) -> list[R]:
        """``[fn(x) for x in items]``, computed elsewhere; ``on_done(i, r)`` as each finishes.

        ``on_message(m)`` gets what a task sent with :func:`report`; ``on_tick()`` is called
        every ``TICK_S`` while tasks run (where the executor can: see the class)."""
        ...

    def slots(self) -> int:
        """How many tasks run at the same time."""
        ...

    def warm_up(self) -> None:
        """Start the workers and wait until they are up (then time shares can be computed)."""
        ...

    def request_stop(self) -> None:
        """Ask the running tasks to stop and hand back what they have (where they can hear it)."""
        ...

    def submit(self, fn: Callable[[T], R], arg: T) -> TaskHandle[R]:
        """Start ``fn(arg)`` as a task of its own: a process of its own (locally), so one that
        crashes takes no other down; the handle watches, stops or kills that task alone."""
        ...

    def keep_warm(self) -> None:
        """Start processes ahead for :meth:`submit`, up to the number asked (where there are
        processes to start: see the class); call it now and then, it replaces those taken."""
        ...

    def idle_pids(self) -> list[int]:
        """The process ids of the processes started ahead and ready for a task."""
        ...

    def close(self) -> None:
        """Release the workers (or the connection); the executor is unusable afterwards.

        Processes started ahead are let go; tasks given to :meth:`submit` are not touched (their
        handles still stop, kill and wait)."""
        ...

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# --- what a task sees of its executor ---------------------------------------------------------

_worker_stop: Any = None  # in a worker process: the parent's stop request (an Event)
_worker_messages: Any = None  # in a worker process: where report() sends to (a Queue)


def _init_worker(stop_event: Any, messages: Any, ignore_interrupt: bool) -> None:
    global _worker_stop, _worker_messages
    _worker_stop, _worker_messages = stop_event, messages
    if ignore_interrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and tells us


def _worker_ready() -> None:
    """Nothing: run once per worker process to wait until the workers are up."""


_task_local = threading.local()  # in a Dask worker: each running task's stop request


def stop_requested() -> bool:
    """In a task: whether its executor (or its handle) was asked to stop; never, where no one
    can ask (in the caller's own process)."""
    if _worker_stop is not None:
        return bool(_worker_stop.is_set())
    asked: Callable[[], bool] | None = getattr(_task_local, "stop_requested", None)
    return asked is not None and asked()


def can_report() -> bool:
    """In a task: whether :func:`report` reaches anyone."""
    return _worker_messages is not None


def report(message: Any) -> None:
    """In a task: send ``message`` (plain data) to ``map``'s ``on_message``; dropped outside."""
    if _worker_messages is not None:
        _worker_messages.put(message)


# --- one task, one process: started ahead, ready and waiting -----------------------------------

_READY = "ready"  # a process started ahead sends it once it can take a task
_TOOK = "took"  # and this once it has read its task, before it runs it
_RESULT = "result"  # then what the task returned
_ERROR = "error"  # or what it raised

_HAND_TRIES = 3  # processes tried for one task before it is given up
_TOOK_WAIT_S = 1.0  # a ready process answers a task at once; longer only on a choked machine
_IDLE_GRACE_S = 2.0  # an idle process still starting is terminated after this at close
_KILL_WAIT_S = 5.0
_AHEAD_RETRY_MAX_S = 60.0  # the longest wait before starting again processes that keep dying


def _tell(pipe: Connection, what: str, value: object) -> None:
    """Send on the pipe; the parent may have closed its end (it let this process go)."""
    try:
        pipe.send((what, value))
    except OSError:
        pass
    except Exception as exc:  # the value would not pickle: say so instead
        with contextlib.suppress(OSError):
            pipe.send((_ERROR, RuntimeError(f"the task's {what} would not pickle: {exc!r}")))


def _serve_one(prepare: Prepare | None, pipe: Connection, stop: EventType) -> None:
    """A process started ahead of its task: get ready, take one task, run it, answer, exit.

    Ready means ``prepare`` entered (imports, connections) and what it made frozen out of the
    collector's sight (it lives as long as the process: a full collection during the task then
    walks the task's own objects only). Then it sends :data:`_READY` with its process id and
    waits; given a task it answers :data:`_TOOK` before it runs it (a process that died before
    that never had the task, and the parent gives it to another). The parent closes the pipe
    to let an idle process go: the wait ends and it exits without running anything. ``stop`` is
    the task's stop request, made with the process (:func:`stop_requested`).

    While idle, Ctrl-C in the terminal (SIGINT to the whole process group) is left to the
    parent, which then lets it go; a running task gets it as one started cold would.
    """
    global _worker_stop
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker_stop = stop
    with prepare() if prepare is not None else contextlib.nullcontext():
        gc.collect()
        gc.freeze()
        _tell(pipe, _READY, os.getpid())
        try:
            fn, arg = pipe.recv()
        except (EOFError, OSError):  # the parent let this process go (or is gone)
            return
        _tell(pipe, _TOOK, None)
        signal.signal(signal.SIGINT, previous)
        try:
            result = fn(arg)
        except BaseException as exc:
            _tell(pipe, _ERROR, exc)
            raise  # and the process ends as a failed one (exit code 1, the traceback logged)
        _tell(pipe, _RESULT, result)


class _ProcessTask(Generic[R]):
    """A task in a process of its own (see :class:`TaskHandle`)."""

    def __init__(self, process: BaseProcess, pipe: Connection, stop: EventType) -> None:
        self._process = process
        self._pipe: Connection | None = pipe
        self._stop = stop
        self._answer: tuple[str, Any] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid

    @property
    def exitcode(self) -> int | None:
        return self._process.exitcode

    def _listen(self) -> None:
        """Read the task's answer if it came (without waiting)."""
        try:
            while self._pipe is not None and self._answer is None and self._pipe.poll():
                what, value = self._pipe.recv()
                if what in (_RESULT, _ERROR):
                    self._answer = (what, value)
        except (EOFError, OSError):  # its end closed: it ended, with or without an answer
            self._close_pipe()

    def _close_pipe(self) -> None:
        if self._pipe is not None:
            self._pipe.close()
            self._pipe = None

    def done(self) -> bool:
        self._listen()  # first: a large answer holds the process until it is read
        if self._process.is_alive():
            return False
        self._process.join()
        self._listen()
        self._close_pipe()
        return True

    def wait(self, timeout_s: float | None = None) -> bool:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while not self.done():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            watched: list[Any] = [self._process.sentinel]
            if self._pipe is not None and self._answer is None:
                watched.append(self._pipe)
            connection.wait(watched, left)
        return True

    def exception(self) -> BaseException | None:
        self.wait()
        if self._answer is None:
            return TaskDiedError(self._process.exitcode)
        what, value = self._answer
        return cast(BaseException, value) if what == _ERROR else None

    def result(self) -> R:
        error = self.exception()
        if error is not None:
            raise error
        assert self._answer is not None
        return cast(R, self._answer[1])

    def request_stop(self) -> None:
        self._stop.set()

    def kill(self) -> None:
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=_KILL_WAIT_S)


class _Ahead:
    """A process started ahead of its task, and the parent's end of its pipe."""

    def __init__(self, process: BaseProcess, pipe: Connection, stop: EventType) -> None:
        self.process, self.pipe, self.stop = process, pipe, stop
        self.ready = False

    def is_ready(self) -> bool:
        """Whether it said it is ready (read from the pipe without waiting)."""
        try:
            while not self.ready and self.pipe.poll():
                self._read()
        except (EOFError, OSError):  # it died (noticed when the dead are buried)
            return False
        return self.ready

    def took(self, timeout_s: float) -> bool | None:
        """After its task was sent: whether it said it took it (``False``: it died first;
        ``None``: no word within ``timeout_s``, as a busy machine may make it)."""
        deadline = time.monotonic() + timeout_s
        try:
            while (left := deadline - time.monotonic()) > 0 and self.pipe.poll(left):
                if self._read() == _TOOK:
                    return True
        except (EOFError, OSError):  # its end closed: it died
            return False
        return None

    def _read(self) -> str:
        what, _ = self.pipe.recv()
        if what == _READY:
            self.ready = True
        return str(what)

    def bury(self) -> None:
        self.pipe.close()
        self.process.join(timeout=_KILL_WAIT_S)


def _let_go(idle: list[_Ahead]) -> None:
    """Close the pipes of idle processes: they exit (at this process's exit, if not before)."""
    for ahead in idle:
        ahead.pipe.close()


class _ProcessesAhead:
    """Processes started ahead for one task each: ``count`` kept idle, ready and waiting.

    A spawned interpreter takes seconds to import what a task needs; a task given to one that
    waits starts at once, and a new one is started in its place (:meth:`keep`). One that died
    while idle is replaced; processes that keep dying are started again later and later. With
    ``count`` 0 each task starts its own process.
    """

    def __init__(self, count: int, prepare: Prepare | None, name: str) -> None:
        self.count = count
        self._prepare = prepare
        self._name = name
        self._context = multiprocessing.get_context("spawn")
        self._idle: list[_Ahead] = []  # oldest first
        self._deaths = 0  # idle processes that died in a row (none became ready since)
        self._again_at = 0.0  # when to start idle processes again after such deaths
        self._lock = threading.RLock()
        # Python joins non-daemon children at exit, and an idle process waits on its pipe:
        # close the pipes first (before that join) if this was never closed.
        multiprocessing.util.Finalize(self, _let_go, args=(self._idle,), exitpriority=10)

    def submit(self, fn: Callable[[T], R], arg: T) -> _ProcessTask[R]:
        """Give the task to an idle process (a ready one first), else to a new one."""
        payload = bytes(ForkingPickler.dumps((fn, arg)))  # a task that will not pickle: here
        with self._lock:
            for _ in range(_HAND_TRIES):
                ahead = self._take_idle() or self._start()
                try:
                    ahead.pipe.send_bytes(payload)
                except OSError:  # it died since it was looked at: the next one
                    ahead.bury()
                    continue
                # One that was ready and died since (killed, out of memory) never read the
                # task: the task is not lost with it. One still starting answers after.
                if ahead.ready and ahead.took(_TOOK_WAIT_S) is False:
                    ahead.bury()
                    continue
                log.debug(
                    "task started in process %s (%s)",
                    ahead.process.pid,
                    "ready ahead" if ahead.ready else "starting",
                )
                return _ProcessTask(ahead.process, ahead.pipe, ahead.stop)
        raise TaskNotStartedError(f"{_HAND_TRIES} processes died before they read the task")

    def keep(self) -> None:
        """Start idle processes up to ``count``, in place of those taken or dead."""
        with self._lock:
            self._bury_dead_idle()
            if any(a.is_ready() for a in self._idle):
                self._deaths = 0
            while len(self._idle) < self.count:
                if time.monotonic() < self._again_at:
                    return
                self._idle.append(self._start())

    def ready_pids(self) -> list[int]:
        with self._lock:
            return [a.process.pid for a in self._idle if a.is_ready() and a.process.pid]

    def close(self) -> None:
        """Let the idle processes go; one still starting is terminated after a grace time."""
        with self._lock:
            idle = list(self._idle)
            self._idle.clear()
        _let_go(idle)  # they exit as soon as they read the closed pipe
        for ahead in idle:  # one still importing reads its pipe only after: no need to wait
            ahead.process.join(timeout=_IDLE_GRACE_S)
            if ahead.process.is_alive():
                ahead.process.terminate()
                ahead.process.join(timeout=_KILL_WAIT_S)

    def _start(self) -> _Ahead:
        stop = self._context.Event()
        mine, theirs = self._context.Pipe()
        # Not a daemon: a task may start worker processes of its own, which daemons may not.
        process = self._context.Process(
            target=_serve_one, args=(self._prepare, theirs, stop), name=self._name, daemon=False
        )
        process.start()
        theirs.close()  # its end lives in the process: the pipe closes when either side goes
        return _Ahead(process, mine, stop)

    def _take_idle(self) -> _Ahead | None:
        """The idle process to run a task now: ready ones first, then one still starting."""
        self._bury_dead_idle()
        if not self._idle:
            return None
        chosen = next((a for a in self._idle if a.is_ready()), self._idle[0])
        self._idle.remove(chosen)
        return chosen

    def _bury_dead_idle(self) -> None:
        for ahead in [a for a in self._idle if not a.process.is_alive()]:
            self._idle.remove(ahead)
            ahead.bury()
            log.warning(
                "an idle worker process (%s, %s) died, exit code %s; another is started",
                self._name,
                ahead.process.pid,
                ahead.process.exitcode,
            )
            # One death: replaced at once; processes dying in a row: wait longer each time.
            self._deaths += 1
            wait_s = min(_AHEAD_RETRY_MAX_S, 2.0 ** (self._deaths - 1) - 1)
            self._again_at = time.monotonic() + wait_s


# --- on this machine --------------------------------------------------------------------------


class LocalExecutor(Executor):
    """A ``spawn`` process pool of ``workers`` processes (1: in this process, no pool) for
    :meth:`map`; a ``spawn`` process of its own for each task given to :meth:`submit`.

    ``ignore_interrupt``: the workers ignore Ctrl-C, for a caller that handles it and passes it
    on with :meth:`request_stop` (a week's solve keeps its best plan); otherwise Ctrl-C reaches
    the workers too and aborts the tasks.

    ``ahead``: processes kept started, ``prepare`` entered, and waiting for a task of
    :meth:`submit` (see :meth:`keep_warm`), named ``name``; 0: each task starts its own.
    """

    def __init__(
        self,
        workers: int = 2,
        *,
        ignore_interrupt: bool = False,
        ahead: int = 0,
        prepare: Prepare | None = None,
        name: str = "homevisit-task",
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        if ahead < 0:
            raise ValueError(f"ahead must be 0 or more, got {ahead}")
        self.workers = workers
        self.ignore_interrupt = ignore_interrupt
        self._pool: ProcessPoolExecutor | None = None
        self._stop: Any = None
        self._messages: Any = None
        self._ahead = _ProcessesAhead(ahead, prepare, name)

    def _started(self) -> ProcessPoolExecutor:
        if self._pool is None:
            context = multiprocessing.get_context("spawn")
            self._stop, self._messages = context.Event(), context.Queue()
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=context,
                initializer=_init_worker,
                initargs=(self._stop, self._messages, self.ignore_interrupt),
            )
        return self._pool

    def warm_up(self) -> None:
        # Each worker is a fresh interpreter importing OR-Tools, 2-4 s on a busy machine.
        if self.workers > 1:
            pool = self._started()
            for ready in [pool.submit(_worker_ready) for _ in range(self.workers)]:
                ready.result()

    def request_stop(self) -> None:
        if self._stop is not None:
            self._stop.set()

    def _drain(self, on_message: Callable[[Any], None] | None) -> None:
        while True:
            try:
                message = self._messages.get_nowait()
            except queue_module.Empty:
                return
            if on_message is not None:
                on_message(message)

    def map(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        *,
        on_done: Callable[[int, R], None] | None = None,
        on_message: Callable[[Any], None] | None = None,
        on_tick: Callable[[], None] | None = None,
    ) -> list[R]:
        if self.workers == 1 or len(items) <= 1:
            results = []
            for index, item in enumerate(items):
                result = fn(item)
                if on_done is not None:
                    on_done(index, result)
                results.append(result)
            return results
        pool = self._started()
        self._stop.clear()  # a stop asked of an earlier map is not one of this one
        futures: list[Future[R]] = [pool.submit(fn, item) for item in items]
        pending = {f: i for i, f in enumerate(futures)}
        try:
            while pending:
                finished, _ = wait(pending, timeout=TICK_S, return_when=FIRST_COMPLETED)
                self._drain(on_message)
                if on_tick is not None:
                    on_tick()
                for future in finished:
                    index = pending.pop(future)
                    result = future.result()  # a task's error is raised here
                    if on_done is not None:
                        on_done(index, result)
            return [f.result() for f in futures]
        finally:
            for f in futures:  # after a failure (or Ctrl-C): drop what has not started
                f.cancel()

    def slots(self) -> int:
        return self.workers

    def submit(self, fn: Callable[[T], R], arg: T) -> TaskHandle[R]:
        """Run ``fn(arg)`` in a process of its own: one started ahead if one waits, else a new
        one (:class:`TaskNotStartedError` if each one tried died before it read the task). Its
        :func:`report` messages are dropped; it hears :meth:`TaskHandle.request_stop`."""
        return self._ahead.submit(fn, arg)

    def keep_warm(self) -> None:
        """Start processes ahead up to ``ahead``, in place of those taken or dead (later and
        later while they keep dying)."""
        self._ahead.keep()

    def idle_pids(self) -> list[int]:
        return self._ahead.ready_pids()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._ahead.close()


# --- on a Dask cluster ------------------------------------------------------------------------


class DaskExecutor(Executor):
    """The workers of a running Dask scheduler at ``address`` (``tcp://host:8786``)."""

    def __init__(self, address: str) -> None:
        # optional dependency (dask[distributed]), untyped: imported here, used as Any
        self._distributed: Any = importlib.import_module("distributed")
        self.address = address
        self._client: Any = self._distributed.Client(address)

    def map(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        *,
        on_done: Callable[[int, R], None] | None = None,
        on_message: Callable[[Any], None] | None = None,
        on_tick: Callable[[], None] | None = None,
    ) -> list[R]:
        # no messages from a cluster's tasks; on_tick as each task finishes
        if not items:
            return []
        futures = self._client.map(fn, list(items), pure=False)
        try:
            if on_done is not None or on_tick is not None:
                index_of = {f.key: i for i, f in enumerate(futures)}
                for future in self._distributed.as_completed(futures):
                    if on_tick is not None:
                        on_tick()
                    if on_done is not None:
                        on_done(index_of[future.key], future.result())
            results: list[R] = self._client.gather(futures)
            return results
        finally:
            self._client.cancel(futures)  # releases the results on the cluster

    def slots(self) -> int:
        # the cluster's worker threads now (workers may join or leave later); at least one
        threads: dict[str, int] = self._client.nthreads()
        return max(1, sum(threads.values()))

    def warm_up(self) -> None:
        """Nothing: the cluster's workers are up already."""

    def request_stop(self) -> None:
        """Nothing: a cluster's tasks run to their own end."""

    def submit(self, fn: Callable[[T], R], arg: T) -> TaskHandle[R]:
        """Run ``fn(arg)`` as a task of the cluster. It hears :meth:`TaskHandle.request_stop`
        through a Dask ``Event`` (looked at every ``TICK_S`` at most); it has no process of its
        own (``pid`` and ``exitcode`` are ``None``), and :meth:`TaskHandle.kill` only drops it:
        a task already running runs on to its end on its worker. A worker that dies under a task
        is the cluster's to handle (it tries the task again elsewhere, then fails it)."""
        stop = self._distributed.Event(f"homevisit-stop-{uuid.uuid4().hex}", client=self._client)
        future = self._client.submit(_dask_task, fn, arg, stop.name, pure=False)
        return _DaskTask(future, stop)

    def keep_warm(self) -> None:
        """Nothing: the cluster's workers are up already."""

    def idle_pids(self) -> list[int]:
        return []

    def close(self) -> None:
        self._client.close()


def _dask_task(fn: Callable[[T], R], arg: T, stop_name: str) -> R:
    """On a Dask worker: ``fn(arg)``, with :func:`stop_requested` reading the task's Event."""
    event = importlib.import_module("distributed").Event(stop_name)
    seen = {"at": -TICK_S, "asked": False}

    def asked() -> bool:  # a round trip to the scheduler: not more often than every TICK_S
        now = time.monotonic()
        if not seen["asked"] and now - float(seen["at"]) >= TICK_S:
            seen["at"], seen["asked"] = now, bool(event.is_set())
        return bool(seen["asked"])

    _task_local.stop_requested = asked
    try:
        return fn(arg)
    finally:
        _task_local.stop_requested = None


class _DaskTask(Generic[R]):
    """A task on a Dask cluster (see :meth:`DaskExecutor.submit`)."""

    def __init__(self, future: Any, stop: Any) -> None:
        self._future = future
        self._stop = stop

    @property
    def pid(self) -> int | None:
        return None

    @property
    def exitcode(self) -> int | None:
        return None

    def done(self) -> bool:
        return bool(self._future.done())

    def wait(self, timeout_s: float | None = None) -> bool:
        try:
            self._future.exception(timeout=timeout_s)
        except TimeoutError:
            return False
        except BaseException:  # cancelled: it ended too
            return True
        return True

    def exception(self) -> BaseException | None:
        try:
            error: BaseException | None = self._future.exception()
        except BaseException as exc:  # cancelled
            return exc
        return error

    def result(self) -> R:
        return cast(R, self._future.result())

    def request_stop(self) -> None:
        self._stop.set()

    def kill(self) -> None:
        self._future.cancel()


def make_executor(cluster: str | None, workers: int, *, ignore_interrupt: bool = False) -> Executor:
    """A :class:`DaskExecutor` on ``cluster`` if given, else a :class:`LocalExecutor`."""
    if cluster:
        return DaskExecutor(cluster)
    return LocalExecutor(workers, ignore_interrupt=ignore_interrupt)
