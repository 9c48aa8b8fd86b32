"""Tests of the simulated weeks (``scenarios/simulate.py``) on one team of the sample."""

from __future__ import annotations

import pytest

from scenarios.sample import REFERENCE_WEEK
from scenarios.scenario import Scenario, Setup, restrict_teams
from scenarios.simulate import SimulationParams, simulate
from scheduler.params import SolveParams

FAST = SolveParams(time_limit_s=5.0, solution_limit=30)


@pytest.fixture(scope="module")
def setup() -> Setup:
    return Setup(restrict_teams(Scenario("base", "q?").base_dataset(), ["MH03-T6"]))


def test_three_weeks_grow_history_and_report(setup: Setup) -> None:
    """Each week's done visits join the history; coverage of 80+ never falls within a quarter."""
    report = simulate(setup, REFERENCE_WEEK, SimulationParams(weeks=3, seed=1), FAST)
    assert [w.week.isoformat() for w in report.weeks] == ["2026-11-30", "2026-12-07", "2026-12-14"]
    done = sum(w.done for w in report.weeks)
    assert len(report.final.history) >= len(setup.dataset.history) + done
    assert all(w.feasible for w in report.weeks)
    assert all(w.new_requests == 25 for w in report.weeks)
    # The quarter turns on 1 December: coverage restarts then and only grows after.
    coverage = [w.followup80_coverage for w in report.weeks[1:]]
    assert coverage == sorted(coverage)  # type: ignore[type-var]
    summary = report.summary()
    assert summary["weeks"] == 3 and summary["all_plans_checked"] is True
    assert 0 <= summary["medicine_on_time"] <= 1  # type: ignore[operator]


def test_missed_visits_stay_out_of_history(setup: Setup) -> None:
    """With every visit missed, no history is added and nothing counts as done."""
    report = simulate(
        setup,
        REFERENCE_WEEK,
        SimulationParams(weeks=2, missed_share=1.0, requests_per_week=0),
        FAST,
    )
    assert report.final.history == setup.dataset.history
    assert all(w.done == 0 and w.scheduled > 0 for w in report.weeks)
    assert report.weeks[1].overdue_residents >= report.weeks[0].overdue_residents
