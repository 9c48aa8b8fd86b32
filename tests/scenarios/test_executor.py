"""The executors: a local process pool and a real Dask cluster give the same plans."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from scenarios.cli import register
from scenarios.sample import REFERENCE_WEEK
from scenarios.scenario import Scenario, restrict_teams
from scenarios.tasks import plan_centre
from scheduler.executor import DaskExecutor, LocalExecutor, make_executor
from scheduler.model import Dataset, Plan
from scheduler.params import SolveParams

FAST = SolveParams(time_limit_s=5.0, solution_limit=30)
TEAMS = ("MH03-T6", "MH03-T5")


def _slow_square(x: int) -> int:
    time.sleep(0.05 * (4 - x))  # later items finish first
    return x * x


def _fail_on_two(x: int) -> int:
    if x == 2:
        raise ValueError("two")
    return x


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
