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
  need homevisit importable. Its tasks run to their own end: no stop request, no messages.

:func:`make_executor` picks one from a ``--cluster`` option.
"""

from __future__ import annotations

import importlib
import multiprocessing
import queue as queue_module
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar

__all__ = [
    "DaskExecutor",
    "Executor",
    "LocalExecutor",
    "make_executor",
    "report",
    "stop_requested",
]

T = TypeVar("T")
R = TypeVar("R")

TICK_S = 0.25  # how often ``map`` looks at messages and calls ``on_tick`` while tasks run


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

    def close(self) -> None:
        """Release the workers (or the connection); the executor is unusable afterwards."""
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


def stop_requested() -> bool:
    """In a task: whether the executor was asked to stop (never, outside a local worker)."""
    return _worker_stop is not None and bool(_worker_stop.is_set())


def can_report() -> bool:
    """In a task: whether :func:`report` reaches anyone."""
    return _worker_messages is not None


def report(message: Any) -> None:
    """In a task: send ``message`` (plain data) to ``map``'s ``on_message``; dropped outside."""
    if _worker_messages is not None:
        _worker_messages.put(message)


# --- on this machine --------------------------------------------------------------------------


class LocalExecutor(Executor):
    """A ``spawn`` process pool of ``workers`` processes (1: in this process, no pool).

    ``ignore_interrupt``: the workers ignore Ctrl-C, for a caller that handles it and passes it
    on with :meth:`request_stop` (a week's solve keeps its best plan); otherwise Ctrl-C reaches
    the workers too and aborts the tasks.
    """

    def __init__(self, workers: int = 2, *, ignore_interrupt: bool = False) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.workers = workers
        self.ignore_interrupt = ignore_interrupt
        self._pool: ProcessPoolExecutor | None = None
        self._stop: Any = None
        self._messages: Any = None

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

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


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

    def close(self) -> None:
        self._client.close()


def make_executor(cluster: str | None, workers: int, *, ignore_interrupt: bool = False) -> Executor:
    """A :class:`DaskExecutor` on ``cluster`` if given, else a :class:`LocalExecutor`."""
    if cluster:
        return DaskExecutor(cluster)
    return LocalExecutor(workers, ignore_interrupt=ignore_interrupt)
