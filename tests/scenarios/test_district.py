"""`homevisit plan --district` (`solve` cut by centre): centres solved side by side give the plan
of each centre alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scenarios.sample import REFERENCE_WEEK
from scheduler.dataset import read_dataset
from scheduler.executor import LocalExecutor, make_executor
from scheduler.model import Dataset, Plan, Problem
from scheduler.params import SolveParams
from scheduler.solve import Cut, PartProgress, build_problem, solve, split_independent

# Stopped by the number of solutions, never by the clock: the same search in any process.
BY_SOLUTIONS = SolveParams(time_limit_s=120.0, solution_limit=20)


@pytest.fixture(scope="module")
def two_centres(two_centre_dir: Path) -> Dataset:
    return read_dataset(two_centre_dir)


def _assignments(plan: Plan) -> set[tuple[str, str, str]]:
    """Who does which visit on which day."""
    return {(s.visit_id, s.clinician_id, s.day.isoformat()) for s in plan.stops()}


def centre_problems(problem: Problem) -> list[Problem]:
    """The parts of a week cut by centre, in the order the solve hands them to its executor."""
    sent: list[Problem] = []

    class Recording(LocalExecutor):
        def map(self, fn, items, *, on_done=None, **kwargs):  # type: ignore[no-untyped-def]
            sent.extend(part for part, _, _ in items)
            plans = [Plan(routes=(), unscheduled=()) for _ in items]
            for index, plan in enumerate(plans):
                on_done(index, plan)
            return plans

    with Recording(1) as executor:
        solve(problem, BY_SOLUTIONS, executor=executor, cut=Cut.CENTRE)
    assert len(sent) == len(split_independent(problem, by_team=False))
    return sent


def test_centre_problems_cut_by_centre_largest_first(two_centres: Dataset) -> None:
    """One part per centre, holding only that centre's clinicians and visits, the largest first."""
    problem = build_problem(two_centres, REFERENCE_WEEK)
    parts = centre_problems(problem)
    assert sorted(next(iter(p.centres)) for p in parts) == sorted(problem.centres)
    assert [len(p.visits) for p in parts] == sorted((len(p.visits) for p in parts), reverse=True)
    for part in parts:
        (centre_id,) = part.centres
        assert {c.centre_id for c in part.clinicians} == {centre_id}
        assert {v.centre_id for v in part.visits} == {centre_id}
    assert sum(len(p.visits) for p in parts) == len(problem.visits)


@pytest.mark.slow
def test_district_plan_is_checked_and_equals_each_centre_alone(two_centres: Dataset) -> None:
    """Two processes plan the same visits, by the same clinicians on the same days, as solving
    each centre's week on its own in this process; the merged plan breaks no rule; progress
    counts every centre."""
    problem = build_problem(two_centres, REFERENCE_WEEK)
    reports: list[PartProgress] = []
    with LocalExecutor(2) as executor:
        plan, evaluation = solve(
            problem, BY_SOLUTIONS, executor=executor, cut=Cut.CENTRE, on_part=reports.append
        )
    assert evaluation.feasible and evaluation.kpis["violations"] == 0
    assert evaluation.kpis["visits_due"] == len(problem.visits)
    assert [(r.done, r.total) for r in reports] == [(0, 2), (1, 2), (2, 2)]
    assert reports[0].running == 2 and reports[-1].running == 0
    assert {r.centre_id for r in reports[1:]} == set(problem.centres)

    alone: set[tuple[str, str, str]] = set()
    for centre in centre_problems(problem):  # each centre's visits of this week, solved here
        centre_plan, _ = solve(centre, BY_SOLUTIONS)
        alone |= _assignments(centre_plan)
    assert alone  # something was planned
    assert _assignments(plan) == alone
    assert {u.visit_id for u in plan.unscheduled} == {v.visit_id for v in problem.visits} - {
        visit_id for visit_id, _, _ in alone
    }


def test_a_centres_due_list_does_not_depend_on_the_other_centres(two_centres: Dataset) -> None:
    """A centre's week is the same whether it is planned alone or with the district."""
    problem = build_problem(two_centres, REFERENCE_WEEK)
    for part in centre_problems(problem):
        alone = build_problem(two_centres, REFERENCE_WEEK, centre_ids=list(part.centres))
        assert alone.visits == part.visits


@pytest.mark.slow
def test_cli_plan_district_writes_a_checked_plan(two_centre_dir: Path, tmp_path: Path) -> None:
    """`plan --district` solves the centres in a process pool and writes the usual files."""
    from service.cli import app

    out = tmp_path / "out"
    args = ["plan", str(two_centre_dir), "--week", str(REFERENCE_WEEK), "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--district", "--time-limit", "2"])
    assert result.exit_code == 0, result.output
    assert "Planning 2 centre(s) on 2 process(es), 2 s each" in result.output
    assert result.output.count(" planned (") == 2
    for name in ("plan.csv", "routes.csv", "unscheduled.csv", "kpis.json"):
        assert (out / name).is_file()
    kpis = json.loads((out / "kpis.json").read_text(encoding="utf-8"))
    assert kpis["violations"] == 0 and kpis["visits_scheduled"] > 0


@pytest.mark.slow
def test_cli_plan_district_uses_the_cluster_setting(
    two_centre_dir: Path, tmp_path: Path, cluster: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With HOMEVISIT_CLUSTER set, `plan --district` solves on that Dask scheduler."""
    from service.cli import app
    from service.settings import get_settings

    monkeypatch.setenv("HOMEVISIT_CLUSTER", cluster)
    get_settings.cache_clear()
    try:
        out = tmp_path / "out"
        args = ["plan", str(two_centre_dir), "--week", str(REFERENCE_WEEK), "--out", str(out)]
        result = CliRunner().invoke(app, [*args, "--district", "--time-limit", "2"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert cluster in result.output  # the progress bar says where the solves run
    assert json.loads((out / "kpis.json").read_text(encoding="utf-8"))["violations"] == 0


def test_executors_say_how_many_tasks_run_at_once(cluster: str) -> None:
    """The slots behind the progress bar's 'running': pool processes, cluster worker threads."""
    with LocalExecutor(3) as local:
        assert local.slots() == 3
    with make_executor(cluster, 1) as dask:
        assert dask.slots() == 2
