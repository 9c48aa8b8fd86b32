"""Tests of the simulated weeks (``scenarios/simulate.py``) on one team of the sample."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from scenarios.cli import register
from scenarios.sample import REFERENCE_WEEK
from scenarios.scenario import Scenario, Setup, restrict_teams
from scenarios.simulate import SimulationParams, simulate
from scheduler.model import Place, VisitOutcome
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
    per_week = round(10.0 * len(setup.dataset.residents) / 1000)  # the default rate
    assert per_week > 0 and all(w.new_requests == per_week for w in report.weeks)
    # The quarter turns on 1 December: coverage restarts then and only grows after.
    coverage = [w.followup80_coverage for w in report.weeks[1:]]
    assert coverage == sorted(coverage)  # type: ignore[type-var]
    summary = report.summary()
    assert summary["weeks"] == 3 and summary["all_plans_checked"] is True
    # What the reports need: place and a health check's tests on every completed record.
    added = report.final.history[len(setup.dataset.history) :]
    assert all(h.place in (Place.HOME, Place.COMMITTEE) for h in added)
    checks = [
        h for h in added if h.programme == "health_check" and h.outcome is VisitOutcome.COMPLETED
    ]
    assert checks
    assert all(h.tests and "b_ultrasound" not in h.tests for h in checks)
    assert 0 <= summary["medicine_on_time"] <= 1  # type: ignore[operator]


def test_missed_visits_stay_due(setup: Setup) -> None:
    """With every visit missed, each is recorded as not_home (the reports' outcome), none as
    completed, so nothing counts as done and the residents stay due."""
    report = simulate(
        setup,
        REFERENCE_WEEK,
        SimulationParams(weeks=2, missed_share=1.0, requests_per_1000_residents=0),
        FAST,
    )
    added = report.final.history[len(setup.dataset.history) :]
    assert report.final.history[: len(setup.dataset.history)] == setup.dataset.history
    assert added and {h.outcome for h in added} == {VisitOutcome.NOT_HOME}
    assert all(not h.tests for h in added)
    assert all(w.done == 0 and w.scheduled > 0 for w in report.weeks)
    assert report.weeks[1].overdue_residents >= report.weeks[0].overdue_residents


def test_requests_scale_with_the_residents() -> None:
    """The rate per 1,000 residents gives the sample centre its 25 requests a week and a
    district sixteen times as many residents about sixteen times as many."""
    params = SimulationParams()
    assert params.requests_per_week(2514) == 25
    assert params.requests_per_week(39855) == 399
    assert SimulationParams(requests_per_1000_residents=2.5).requests_per_week(400) == 1
    with pytest.raises(ValueError, match="requests_per_1000_residents"):
        SimulationParams(requests_per_1000_residents=-1)


@pytest.mark.slow
def test_cli_takes_a_rate_or_the_old_count(tmp_path: Path) -> None:
    """`scenario simulate` takes --requests-per-1000-residents; --requests-per-week still gives
    exactly that many requests a week."""
    scenario = tmp_path / "small.yaml"
    scenario.write_text("question: What if?\nteams: [MH03-T6]\n", encoding="utf-8")
    app = typer.Typer()
    register(app)
    args = ["scenario", "simulate", str(scenario), "--weeks", "1", "--time-limit", "2"]
    for extra, expected in (
        (["--requests-per-week", "7"], "7"),
        (["--requests-per-1000-residents", "0"], "0"),
    ):
        out = tmp_path / extra[0]
        result = CliRunner().invoke(app, [*args, *extra, "--out", str(out)])
        assert result.exit_code == 0, result.output
        with (out / "simulation.csv").open(encoding="utf-8") as f:
            assert [r["new_requests"] for r in csv.DictReader(f)] == [expected]


def test_sickbeds_are_discharged_and_opened(setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    """A week of the simulation discharges open home sick-beds (撤床, the flag cleared so no
    more rounds are planned) and opens new ones (建床) for disabled residents."""
    import numpy as np

    from scenarios import simulate as module

    monkeypatch.setattr(module, "SICKBED_DISCHARGE_PER_WEEK", 1.0)
    monkeypatch.setattr(module, "SICKBED_OPENING_PER_WEEK", 0.0)
    before = setup.dataset
    assert any(e.discharged is None for e in before.sickbeds)
    after = module._sickbed_changes(before, REFERENCE_WEEK, np.random.default_rng(0))
    assert all(e.discharged is not None for e in after.sickbeds)
    assert not any(r.home_sickbed for r in after.residents.values())
    monkeypatch.setattr(module, "SICKBED_OPENING_PER_WEEK", 1.0)
    again = module._sickbed_changes(after, REFERENCE_WEEK, np.random.default_rng(0))
    opened = [e for e in again.sickbeds if e.discharged is None]
    assert opened and all(again.residents[e.resident_id].home_sickbed for e in opened)
