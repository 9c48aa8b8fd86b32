"""The anytime runner: a week planned at each time limit, checked, compared to the longest."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.anytime import measure, with_gaps
from scheduler.model import Problem
from scheduler.solve import build_problem, split_independent

WEEK = dt.date(2026, 11, 30)


@pytest.fixture(scope="module")
def one_team(tmp_path_factory: pytest.TempPathFactory) -> Problem:
    """The smallest team's week of the Minhang sample centre."""
    from scenarios.sample import generate
    from scheduler.dataset import read_dataset, write_dataset

    folder: Path = tmp_path_factory.mktemp("sample")
    write_dataset(generate("centre"), folder)
    problem = build_problem(read_dataset(folder), WEEK)
    return min(split_independent(problem), key=lambda p: len(p.visits))


@pytest.mark.parametrize("cut", ["team", "centre"])
def test_runner_writes_one_checked_row_per_limit(
    one_team: Problem, tmp_path: Path, cut: str
) -> None:
    """Each limit is planned and checked in its own process; the table says the load and gaps."""
    facts: dict[str, object] = {"instance": "one team", "read_s": 0.0, "due_list_s": 0.0}
    measure(one_team, facts, [0.5, 1.0], 1, cut, "anytime-tiny", "a test", tmp_path)

    table = pd.read_csv(tmp_path / "anytime-tiny.csv")
    assert table["time_limit_s"].tolist() == [0.5, 1.0]
    assert (table["violations"] == 0).all()
    assert (table["placed_due"] > 0).all()
    assert (table["peak_mb"] > 0).all() and (table["load_max"] >= 0).all()
    reference = table.iloc[-1]
    assert reference[["gap_placed_pct", "gap_on_time_pct", "gap_travel_pct"]].tolist() == [0] * 3
    markdown = (tmp_path / "anytime-tiny.md").read_text(encoding="utf-8")
    assert "a test" in markdown
    assert markdown.count("\n|") == 2 + 2  # the header row, its rule and a row per limit
    assert f"{len(one_team.visits)} visits on the week's list" in markdown


def test_gaps_are_to_the_longest_limit_and_positive_when_worse() -> None:
    """Fewer visits placed or on time, more travel or a higher objective: a positive gap."""
    longest = {"time_limit_s": 60.0, "placed_due": 100, "on_time": 80, "travel_min": 1000}
    short = {"time_limit_s": 5.0, "placed_due": 99, "on_time": 84, "travel_min": 1050}
    rows = with_gaps([{**short, "objective": 2200}, {**longest, "objective": 2000}])
    assert rows[0]["gap_placed_pct"] == 1.0
    assert rows[0]["gap_on_time_pct"] == -5.0
    assert rows[0]["gap_travel_pct"] == 5.0
    assert rows[0]["gap_objective_pct"] == 10.0
    assert rows[1]["gap_travel_pct"] == 0.0
    blank = with_gaps([{**short, "objective": None}, {**longest, "objective": 2000}])
    assert blank[0]["gap_objective_pct"] is None
