"""The executors: a local process pool and a real Dask cluster give the same plans; a task given
to ``submit`` runs on its own (a process of its own locally), is stopped or killed alone."""

from __future__ import annotations

import contextlib
import csv
import functools
import multiprocessing
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from scenarios.cli import register
from scenarios.sample import REFERENCE_WEEK
from scenarios.scenario import Scenario, restrict_teams
from scenarios.tasks import plan_centre
from scheduler.executor import (
    DaskExecutor,
    LocalExecutor,
    TaskDiedError,
    make_executor,
    stop_requested,
)
from scheduler.model import Dataset, Plan
from scheduler.params import SolveParams

# The solution limit ends each solve, so both runners give the same plans; the time limit is
# only a bound far beyond it (at 5 s a loaded machine ran out of time first, at different points).
FAST = SolveParams(time_limit_s=120.0, solution_limit=30)
TEAMS = ("MH03-T6", "MH03-T5")


def _slow_square(x: int) -> int:
    time.sleep(0.05 * (4 - x))  # later items finish first
    return x * x


def _fail_on_two(x: int) -> int:
    if x == 2:
        raise ValueError("two")
    return x


def _in_process(x: int) -> tuple[int, int]:
    return os.getpid(), x * x


def _until_stopped(limit_s: float) -> str:
    deadline = time.monotonic() + limit_s
    while not stop_requested() and time.monotonic() < deadline:
        time.sleep(0.02)
    return "stopped" if stop_requested() else "not stopped"


_prepared: str | None = None  # in a process started ahead: what its preparation made


@contextlib.contextmanager
def _prepare(value: str) -> Iterator[None]:
    global _prepared
    _prepared = value
    yield


def _what_was_prepared(_: None) -> tuple[int, str | None]:
    return os.getpid(), _prepared


def _named(name: str) -> set[int | None]:
    return {p.pid for p in multiprocessing.active_children() if p.name == name}


@pytest.fixture(scope="module")
def teams() -> list[Dataset]:
    centre = Scenario("base", "q").base_dataset()
    return [restrict_teams(centre, [t]) for t in TEAMS]


def _summary(plan: Plan) -> tuple[frozenset[str], int]:
    return frozenset(s.visit_id for s in plan.stops()), sum(r.travel_min for r in plan.routes)


@pytest.mark.parametrize("workers", [1, 2])
def test_local_maps_in_order_and_reports_each_item_once(workers: int) -> None:
    done: list[tuple[int, int]] = []
    with LocalExecutor(workers) as executor:
        results = executor.map(_slow_square, [0, 1, 2, 3], on_done=lambda i, r: done.append((i, r)))
    assert results == [0, 1, 4, 9]
    assert sorted(done) == [(0, 0), (1, 1), (2, 4), (3, 9)]


def test_local_raises_a_task_error() -> None:
    with LocalExecutor(2) as executor, pytest.raises(ValueError, match="two"):
        executor.map(_fail_on_two, [0, 1, 2, 3])


def test_make_executor_is_local_without_a_cluster() -> None:
    with make_executor(None, 3) as executor:
        assert isinstance(executor, LocalExecutor) and executor.workers == 3


def test_a_submitted_task_runs_in_a_process_of_its_own() -> None:
    with LocalExecutor(1) as executor:
        task = executor.submit(_in_process, 3)
        pid, value = task.result()
        assert value == 9 and pid == task.pid != os.getpid()
        assert task.done() and task.exception() is None and task.exitcode == 0
        failing = executor.submit(_fail_on_two, 2)
        with pytest.raises(ValueError, match="two"):
            failing.result()
        assert failing.exitcode == 1


def test_a_submitted_task_that_dies_fails_alone_and_each_hears_its_own_stop() -> None:
    with LocalExecutor(1) as executor:
        killed, other = executor.submit(_until_stopped, 60.0), executor.submit(_until_stopped, 60.0)
        assert killed.pid is not None and killed.pid != other.pid
        os.kill(killed.pid, signal.SIGKILL)  # e.g. the out-of-memory killer
        error = killed.exception()
        assert isinstance(error, TaskDiedError) and error.exitcode == -signal.SIGKILL
        with pytest.raises(TaskDiedError):
            killed.result()
        assert not other.wait(0.5)  # still running, untouched
        other.request_stop()
        assert other.result() == "stopped"
        slow = executor.submit(_until_stopped, 60.0)
        slow.kill()
        assert slow.done() and slow.exitcode == -signal.SIGTERM


def test_a_task_goes_to_the_process_started_ahead_and_another_takes_its_place() -> None:
    name = "homevisit-test-ahead"
    executor = LocalExecutor(1, ahead=1, prepare=functools.partial(_prepare, "ready"), name=name)
    try:
        executor.keep_warm()
        deadline = time.monotonic() + 90
        while not (idle := executor.idle_pids()):
            assert time.monotonic() < deadline, "no process ready ahead"
            time.sleep(0.05)
        task = executor.submit(_what_was_prepared, None)
        assert task.pid == idle[0] and task.result() == (idle[0], "ready")
        executor.keep_warm()  # in place of the one taken
        assert len(_named(name)) == 1 and idle[0] not in _named(name)
    finally:
        executor.close()
    assert _named(name) == set()  # let go at close


@pytest.mark.slow
def test_dask_submit_answers_and_hears_a_stop(cluster: str) -> None:
    with DaskExecutor(cluster) as dask:
        task = dask.submit(_until_stopped, 60.0)
        assert task.pid is None and task.exitcode is None
        assert not task.wait(0.5)
        task.request_stop()
        assert task.wait(30) and task.result() == "stopped"
        assert isinstance(dask.submit(_fail_on_two, 2).exception(), ValueError)
        assert dask.idle_pids() == []


@pytest.mark.slow
def test_dask_cluster_plans_as_the_local_pool(cluster: str, teams: list[Dataset]) -> None:
    items = [(d, REFERENCE_WEEK, "MH03", FAST) for d in teams]
    with LocalExecutor(2) as local:
        expected = local.map(plan_centre, items)
    done: list[int] = []
    with make_executor(cluster, 1) as dask:
        assert isinstance(dask, DaskExecutor)
        got = dask.map(plan_centre, items, on_done=lambda i, r: done.append(i))
    assert sorted(done) == [0, 1]
    assert [c for c, _ in got] == [c for c, _ in expected] == ["MH03", "MH03"]
    assert [_summary(p) for _, p in got] == [_summary(p) for _, p in expected]
    assert all(_summary(p)[0] for _, p in got)  # something was planned


@pytest.mark.slow
def test_cli_runs_scenarios_on_the_cluster(cluster: str, tmp_path: Path) -> None:
    for name, change in (
        ("small", "[]"),
        ("small-bikes", "[{travel_mode: {from: walk, to: ebike}}]"),
    ):
        (tmp_path / f"{name}.yaml").write_text(
            f"question: What if?\nteams: [{TEAMS[0]}]\nchanges: {change}\n", encoding="utf-8"
        )
    app = typer.Typer()
    register(app)
    files = [str(tmp_path / "small.yaml"), str(tmp_path / "small-bikes.yaml")]
    out = tmp_path / "out"
    args = ["scenario", "run", *files, "--time-limit", "2", "--out", str(out), "--no-maps"]
    result = CliRunner().invoke(app, [*args, "--cluster", cluster])
    assert result.exit_code == 0, result.output
    assert "planned small-bikes" in result.output
    with (out / "comparison.csv").open(encoding="utf-8") as f:
        assert [r["scenario"] for r in csv.DictReader(f)] == ["small", "small-bikes"]
