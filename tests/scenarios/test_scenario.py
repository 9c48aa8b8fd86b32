"""Tests of what-if scenarios: files, changes, validation, the runner and the comparison."""

from __future__ import annotations

import csv
import dataclasses
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from scenarios.cli import register
from scenarios.scenario import (
    SAMPLE_CENTRE_DIR,
    AddClinicians,
    ChangeTravelMode,
    DemandGrowth,
    Policy,
    ProgrammeOverrides,
    Scenario,
    ScenarioError,
    Setup,
    StaffAbsence,
    bundled_scenarios,
    load_scenario,
    parse_scenario,
    restrict_teams,
    run_scenario,
)
from scheduler.model import Dataset, Role, TravelMode
from scheduler.params import SolveParams

TEAM = "MH03-T6"
FAST = SolveParams(time_limit_s=5.0, solution_limit=30)


@pytest.fixture(scope="module")
def centre() -> Dataset:
    return Scenario("base", "q").base_dataset()


@pytest.fixture(scope="module")
def team(centre: Dataset) -> Dataset:
    return restrict_teams(centre, [TEAM])


def test_bundled_scenarios_load_and_ask_a_question() -> None:
    """At least the seven issue scenarios ship, each with a question, baseline first."""
    paths = bundled_scenarios()
    names = [load_scenario(p).name for p in paths]
    assert names[0] == "baseline"
    assert {
        "baseline", "more-nurses", "ebikes", "flu-season", "followup80-monthly",
        "cross-team-cover", "medicine-demand",
    } <= set(names)  # fmt: skip
    assert all(load_scenario(p).question.endswith("?") for p in paths)


def test_changes_are_pure_and_do_what_they_say(centre: Dataset) -> None:
    """Each change alters only its copy, by the documented amount."""
    nurses = [c for c in centre.clinicians.values() if c.role is Role.NURSE]
    more = AddClinicians(Role.NURSE).apply(Setup(centre)).dataset
    assert len(more.clinicians) == len(centre.clinicians) + 6
    assert len(centre.clinicians) == 24  # input untouched
    copy = more.clinicians["MH03-T1-N+1"]
    assert copy.shift == centre.clinicians["MH03-T1-N"].shift and copy.team_id == "MH03-T1"

    bikes = ChangeTravelMode(TravelMode.WALK, TravelMode.EBIKE).apply(Setup(centre)).dataset
    assert not any(c.travel_mode is TravelMode.WALK for c in bikes.clinicians.values())

    flu = StaffAbsence(0.2, role=Role.NURSE, seed=7).apply(Setup(centre)).dataset
    nurse_days = sum(len(c.work_days) for c in nurses)
    lost = nurse_days - sum(
        len(c.work_days) for c in flu.clinicians.values() if c.role is Role.NURSE
    )
    assert lost == round(0.2 * nurse_days)
    again = StaffAbsence(0.2, role=Role.NURSE, seed=7).apply(Setup(centre)).dataset
    assert again.clinicians == flu.clinicians  # seeded

    grown = DemandGrowth(0.2, programmes=frozenset({"medicine_home"}), seed=1)
    data = grown.apply(Setup(centre)).dataset
    pool = {h.resident_id for h in centre.history if h.programme == "medicine_home"}
    assert len(data.residents) - len(centre.residents) == round(0.2 * len(pool))

    monthly = ProgrammeOverrides({"followup_80": {"frequency": {"period": "month"}}})
    assert monthly.apply(Setup(centre)).dataset.programme_overrides["followup_80"]
    assert Policy(cross_team_cover=True).apply(Setup(centre)).options.cross_team_cover


@pytest.mark.parametrize(
    ("body", "key", "words"),
    [
        ({"base": "sample:centre"}, "question", "required"),
        ({"question": "q?", "colour": 1}, "colour", "unknown key"),
        ({"question": "q?", "changes": [{"teleport": {}}]}, "changes[0]", "unknown change"),
        (
            {"question": "q?", "changes": [{"staff_absence": {"rate": 2}}]},
            "changes[0].staff_absence.rate",
            "between 0 and 1",
        ),
        (
            {"question": "q?", "changes": [{"add_clinicians": {"role": "surgeon"}}]},
            "changes[0].add_clinicians.role",
            "unknown Role",
        ),
        (
            {"question": "q?", "changes": [{"programmes": {"followup_80": {"colour": 1}}}]},
            "colour",
            "unknown",
        ),
        ({"question": "q?", "week": "2026-12-01"}, "week", "Monday"),
    ],
)
def test_bad_files_name_the_file_and_key(body: dict[str, object], key: str, words: str) -> None:
    """A bad scenario is refused with the file, the key and what is wrong."""
    with pytest.raises(ScenarioError) as info:
        parse_scenario(body, "what-if.yaml")
    text = str(info.value)
    assert text.startswith("what-if.yaml: ") and key in text and words in text


def test_more_clinicians_never_cover_fewer_visits(team: Dataset) -> None:
    """One more nurse and one more doctor in the team schedules at least as many visits."""
    base = run_scenario(Scenario("base", "q?"), FAST, dataset=team)
    more = Scenario("more", "q?", changes=(AddClinicians(Role.NURSE), AddClinicians(Role.DOCTOR)))
    bigger = run_scenario(more, FAST, dataset=team)
    assert base.evaluation.feasible and bigger.evaluation.feasible
    assert bigger.row()["scheduled"] >= base.row()["scheduled"]  # type: ignore[operator]


def test_ebikes_never_travel_longer_than_walking(team: Dataset) -> None:
    """Everyone on foot vs everyone on an e-bike: less travel per visit, at least as many visits."""
    walkers = dataclasses.replace(
        team,
        clinicians={
            k: dataclasses.replace(c, travel_mode=TravelMode.WALK)
            for k, c in team.clinicians.items()
        },
    )
    walk = run_scenario(Scenario("walk", "q?"), FAST, dataset=walkers)
    bikes = Scenario("bikes", "q?", changes=(ChangeTravelMode(TravelMode.WALK, TravelMode.EBIKE),))
    ebike = run_scenario(bikes, FAST, dataset=walkers)
    w, e = walk.row(), ebike.row()
    assert e["scheduled"] >= w["scheduled"]  # type: ignore[operator]
    assert e["travel_min_per_visit"] <= w["travel_min_per_visit"]  # type: ignore[operator]


def test_cli_runs_scenarios_side_by_side(tmp_path: Path) -> None:
    """`scenario run` prints a table of every scenario and writes comparison.csv."""
    for name, change in (
        ("small", "[]"),
        ("small-bikes", "[{travel_mode: {from: walk, to: ebike}}]"),
    ):
        (tmp_path / f"{name}.yaml").write_text(
            f"question: What if?\nteams: [{TEAM}]\nchanges: {change}\n", encoding="utf-8"
        )
    app = typer.Typer()
    register(app)
    files = [str(tmp_path / "small.yaml"), str(tmp_path / "small-bikes.yaml")]
    result = CliRunner().invoke(
        app, ["scenario", "run", *files, "--time-limit", "2", "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 0, result.output
    assert "small-bikes" in result.output and "travel h" in result.output
    with (tmp_path / "out" / "comparison.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["scenario"] for r in rows] == ["small", "small-bikes"]
    page = (tmp_path / "out" / "comparison.html").read_text(encoding="utf-8")
    assert page.count("<tr data-scenario=") == 2
    assert (tmp_path / "out" / "small-bikes" / "maps" / "index.html").is_file()


def test_cli_refuses_a_bad_file(tmp_path: Path) -> None:
    """A bad scenario file exits 2 naming the file and key."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("question: q?\nchanges: [{staff_absence: {rate: -1}}]\n", encoding="utf-8")
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["scenario", "run", str(bad)])
    assert result.exit_code == 2
    assert "bad.yaml" in result.output and "rate" in result.output


def test_cli_lists_every_programme_problem_of_a_scenario(tmp_path: Path) -> None:
    """A scenario's programme changes are checked key by key: every problem, as written."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "question: q?\nchanges:\n  - programmes:\n      health_check:\n"
        "        day_window: '25:00-10:00'\n        staffing: [{roles: [doc]}, {roles: []}]\n",
        encoding="utf-8",
    )
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["scenario", "run", str(bad)])
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "bad.yaml: changes[0].programmes: 3 problems" in text
    assert "day_window '25:00-10:00': 25:00 is not a time of day" in text
    assert "staffing: roles 'doc': unknown role 'doc'; use one of doctor" in text
    assert "服务项目“health_check”的 day_window“25:00-10:00”" in text
    assert "needs at least one role; write e.g. [{roles: [doctor, nurse], skills: [ecg]}]" in text
    assert "Traceback" not in result.output


def test_cli_lists_the_problems_of_a_bad_base_dataset(tmp_path: Path) -> None:
    """A base folder whose programmes.yaml is wrong: every problem, exit 2, no stack trace."""
    base = tmp_path / "base"
    shutil.copytree(SAMPLE_CENTRE_DIR, base)
    (base / "programmes.yaml").write_text(
        "health_check:\n  day_window: '25:00-10:00'\n  duration_min: -5\n", encoding="utf-8"
    )
    file = tmp_path / "what-if.yaml"
    file.write_text(f"question: q?\nbase: {base}\nchanges: []\n", encoding="utf-8")
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["scenario", "run", str(file), "--time-limit", "1"])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "what-if.yaml: base: " in text
    assert "day_window '25:00-10:00': 25:00 is not a time of day" in text
    assert "duration_min '-5': not a whole number from 1 to 1440" in text
    assert "Traceback" not in result.output
