"""One time budget: the limit's default and bounds in SolveParams, one deadline per solve."""

from __future__ import annotations

import datetime as dt
import math
import sys
import time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from scenarios.cli import register
from scheduler.model import Plan, Problem
from scheduler.params import (
    TIME_LIMIT_DEFAULT_S,
    TIME_LIMIT_MAX_S,
    TIME_LIMIT_MIN_S,
    Deadline,
    SolveParams,
)
from scheduler.solve import MIN_PART_SEARCH_S, _PartsRunner, build_problem, split_independent
from scheduler.travel import GreatCircleTravel
from service.cli import app

WEEK = dt.date(2026, 11, 30)
SAMPLE = Path(__file__).resolve().parents[2] / "scenarios" / "data" / "minhang-centre"


def test_the_default_and_the_bounds_are_those_of_solve_params() -> None:
    """30 s by default; 0.1 s to an hour; nothing else (0, NaN, infinity) makes a solve."""
    assert SolveParams().time_limit_s == TIME_LIMIT_DEFAULT_S == 30.0
    assert (TIME_LIMIT_MIN_S, TIME_LIMIT_MAX_S) == (0.1, 3600.0)
    SolveParams(time_limit_s=TIME_LIMIT_MIN_S)
    SolveParams(time_limit_s=TIME_LIMIT_MAX_S)
    for bad in (0.0, 0.05, -1.0, math.nan, math.inf, 3601.0):
        with pytest.raises(ValueError, match=r"between 0.1 and 3600 s"):
            SolveParams(time_limit_s=bad)


def test_a_deadline_gives_the_time_left_and_shares_of_it() -> None:
    """Every step reads the time left from the one deadline; floors are explicit."""
    deadline = Deadline.after(10.0)
    assert 9.0 < deadline.left_s() <= 10.0
    assert 3.0 < deadline.share(0.4).left_s() <= 4.0
    assert Deadline.after(-5.0).left_s() == 0.0
    assert Deadline.after(-5.0).left_s(floor_s=0.25) == 0.25
    assert Deadline.after(-5.0).at_least(1.0).left_s() > 0.9
    assert deadline.at_least(1.0) == deadline
    assert 29.0 < SolveParams().deadline().left_s() <= 30.0


@pytest.fixture(scope="module")
def sample_centre() -> Problem:
    """The bundled Minhang centre's reference week: several teams, so several parts."""
    from scheduler.dataset import read_dataset

    return build_problem(read_dataset(SAMPLE), WEEK)


def test_the_parts_of_a_week_share_its_one_deadline(
    sample_centre: Problem, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One after another, each part gets its share of the time *left* of the week's deadline,
    the last one all of it: the week ends by its limit, not by a limit per part, even when a
    part overran its share."""
    parts = split_independent(sample_centre)
    assert len(parts) > 2
    given: list[tuple[int, float, float]] = []  # (visits, deadline, when the part started)

    def search(problem: Problem, *args: object, deadline: Deadline, **kwargs: object) -> Plan:
        given.append((len(problem.visits), deadline.at, time.monotonic()))
        overrun = 0.3 if len(given) == 1 else 0.0  # the first part's model took longer to build
        time.sleep(deadline.left_s() + overrun)  # a search uses all its time
        return Plan(routes=(), unscheduled=())

    monkeypatch.setattr(sys.modules["scheduler.solve"], "solve_routing", search)
    week = Deadline.after(3.0)
    _PartsRunner(len(sample_centre.visits), GreatCircleTravel(), 1, None, None).run(
        parts, SolveParams(), week
    )
    sizes = [n for n, _, _ in given]
    assert sorted(sizes) == sorted(len(p.visits) for p in parts)
    assert sizes == sorted(sizes, reverse=True)  # the biggest first
    ends = [at for _, at, _ in given]
    assert ends == sorted(ends)
    for _, at, started in given:  # never past the week's deadline, but for a part's floor
        assert at <= max(week.at, started + MIN_PART_SEARCH_S) + 0.01
    # The last part has what is left, the first part's overrun taken from the others' shares
    # (a limit per part, fixed at the start, would end the week 0.3 s late).
    _, last, started = given[-1]
    assert last == pytest.approx(max(week.at, started + MIN_PART_SEARCH_S), abs=0.05)


def test_the_commands_refuse_a_limit_outside_the_bounds(tmp_path: Path) -> None:
    """`plan` and `scenario run` take the bounds of SolveParams, not a floor of their own."""
    result = CliRunner().invoke(
        app,
        ["plan", str(SAMPLE), "--week", "2026-11-30", "--out", str(tmp_path), "--time-limit", "0"],
    )
    assert result.exit_code == 2
    assert "0.1" in result.output
    scenarios = typer.Typer()
    register(scenarios)
    file = tmp_path / "s.yaml"
    file.write_text("question: q?\nchanges: []\n", encoding="utf-8")
    result = CliRunner().invoke(scenarios, ["scenario", "run", str(file), "--time-limit", "4000"])
    assert result.exit_code == 2
    assert "3600" in result.output
