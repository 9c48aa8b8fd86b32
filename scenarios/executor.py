"""One interface for independent solves: one per scenario, per centre of a district, per week.

An :class:`Executor` maps a picklable, module-level function over plain-data items and returns
the results in input order; ``on_done(index, result)`` is called as each one finishes (for
progress bars). Solver objects never pickle: tasks take datasets, problems and parameters in and
give plans out, and each task solves with ``workers=1`` inside.

* :class:`LocalExecutor` -- a ``spawn`` process pool on this machine (the default); with one
  worker it runs in this process. Programs that use it need the ``if __name__ == "__main__"``
  guard.
* :class:`DaskExecutor` -- a running Dask ``distributed`` scheduler (``tcp://host:8786``), for
  beyond one machine. Needs ``dask[distributed]``; the workers need homevisit importable.
"""

from __future__ import annotations

import datetime as dt
import importlib
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, as_completed, wait
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar

from scenarios.scenario import Scenario, ScenarioResult, run_scenario
from scheduler.model import Dataset, Plan
from scheduler.params import SolveParams
from scheduler.solve import build_problem, solve

T = TypeVar("T")
R = TypeVar("R")


class Executor(Protocol):
    """Runs independent tasks; results come back in input order."""

    def map(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        *,
        on_done: Callable[[int, R], None] | None = None,
    ) -> list[R]:
        """``[fn(x) for x in items]``, computed elsewhere; ``on_done(i, r)`` as each finishes."""
        ...

    def slots(self) -> int:
        """How many tasks run at the same time."""
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


class LocalExecutor(Executor):
    """A ``spawn`` process pool of ``workers`` processes (1: in this process, no pool)."""

    def __init__(self, workers: int = 2) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def map(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        *,
        on_done: Callable[[int, R], None] | None = None,
    ) -> list[R]:
        if self.workers == 1 or len(items) <= 1:
            results = []
            for index, item in enumerate(items):
                result = fn(item)
                if on_done is not None:
                    on_done(index, result)
                results.append(result)
            return results
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("spawn")
            )
        futures: list[Future[R]] = [self._pool.submit(fn, item) for item in items]
        index_of = {f: i for i, f in enumerate(futures)}
        try:
            if on_done is None:
                wait(futures, return_when=FIRST_EXCEPTION)
            else:
                for future in as_completed(futures):
                    on_done(index_of[future], future.result())
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
    ) -> list[R]:
        if not items:
            return []
        futures = self._client.map(fn, list(items), pure=False)
        try:
            if on_done is not None:
                index_of = {f.key: i for i, f in enumerate(futures)}
                for future in self._distributed.as_completed(futures):
                    on_done(index_of[future.key], future.result())
            results: list[R] = self._client.gather(futures)
            return results
        finally:
            self._client.cancel(futures)  # releases the results on the cluster

    def slots(self) -> int:
        # the cluster's worker threads now (workers may join or leave later); at least one
        threads: dict[str, int] = self._client.nthreads()
        return max(1, sum(threads.values()))

    def close(self) -> None:
        self._client.close()


def make_executor(cluster: str | None, workers: int) -> Executor:
    """A :class:`DaskExecutor` on ``cluster`` if given, else a :class:`LocalExecutor`."""
    if cluster:
        return DaskExecutor(cluster)
    return LocalExecutor(workers)


# --- tasks: module-level, plain data in and out ----------------------------------------------


def plan_centre(args: tuple[Dataset, dt.date, str, SolveParams]) -> tuple[str, Plan]:
    """Plan one centre's week (``dataset, week, centre_id, params``) in this process."""
    dataset, week, centre_id, params = args
    problem = build_problem(dataset, week, centre_ids=[centre_id])
    plan, _ = solve(problem, params, workers=1)
    return centre_id, plan


def plan_scenario(args: tuple[Scenario, SolveParams]) -> ScenarioResult:
    """Plan and check one scenario's week (``scenario, params``) in this process."""
    scenario, params = args
    return run_scenario(scenario, params, workers=1)
