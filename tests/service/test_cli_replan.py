"""``homevisit replan`` as a team leader uses it on the morning of a sick call."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from service.cli import app

SAMPLE = Path(__file__).resolve().parents[2] / "scenarios" / "data" / "minhang-centre"
TEAM = "MH03-T1"
NURSE = "MH03-T1-N"
runner = CliRunner()


def _team_dataset(folder: Path) -> Path:
    """The sample centre cut down to one team (same files and columns, a sixth the size)."""
    folder.mkdir()
    for path in SAMPLE.iterdir():
        if path.suffix != ".csv":
            (folder / path.name).write_bytes(path.read_bytes())
            continue
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        if path.stem in ("clinicians", "residents"):
            table = table[table["team_id"] == TEAM]
        table.to_csv(folder / path.name, index=False)
    residents = set(pd.read_csv(folder / "residents.csv", dtype=str)["resident_id"])
    for stem in ("history", "requests", "sickbeds"):
        table = pd.read_csv(folder / f"{stem}.csv", dtype=str, keep_default_na=False)
        table[table["resident_id"].isin(residents)].to_csv(folder / f"{stem}.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One team's reference week, planned once by ``homevisit plan``."""
    root = tmp_path_factory.mktemp("replan")
    dataset = _team_dataset(root / "team")
    out = root / "plan"
    result = runner.invoke(
        app,
        ["plan", str(dataset), "--week", "2026-11-30", "--out", str(out), "--time-limit", "4"],
    )
    assert result.exit_code == 0, result.output
    return dataset, out


def test_replan_writes_the_plan_files_and_the_changes(
    planned: tuple[Path, Path], tmp_path: Path
) -> None:
    """A sick nurse at 10:00 and an urgent request: the four files plus changes.csv, the nurse
    with nothing after 10:00, and the re-plan's figures in kpis.json."""
    dataset, base = planned
    resident = pd.read_csv(dataset / "residents.csv", dtype=str)["resident_id"].iloc[0]
    requests = tmp_path / "urgent.csv"
    requests.write_text(
        "request_id,resident_id,service,earliest_date,latest_date,window_start,window_end,"
        f"duration_min,skills\nU1,{resident},pressure_sore_care,2026-12-01,2026-12-02,"
        "09:00,16:00,40,wound\n",
        encoding="utf-8",
    )
    out = tmp_path / "new"
    result = runner.invoke(
        app,
        [
            "replan",
            str(dataset),
            str(base),
            "--date",
            "2026-12-01",
            "--at",
            "10:00",
            "--absent",
            NURSE,
            "--requests",
            str(requests),
            "--out",
            str(out),
            "--time-limit",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    for name in ("plan.csv", "routes.csv", "unscheduled.csv", "kpis.json", "changes.csv"):
        assert (out / name).is_file(), name
    changes = pd.read_csv(out / "changes.csv", dtype=str, keep_default_na=False)
    assert list(changes.columns[:5]) == ["visit_id", "change", "from", "to", "resident_id"]
    assert set(changes["change"]) <= {
        "moved_clinician",
        "moved_day",
        "shifted",
        "cancelled",
        "postponed",
        "unscheduled",
        "added",
    }
    assert "request-U1" in set(changes["visit_id"])
    plan = pd.read_csv(out / "plan.csv", dtype=str, keep_default_na=False)
    nurse_after = plan[
        (plan["clinician_id"] == NURSE)
        & (plan["date"] == "2026-12-01")
        & (plan["start"] >= "10:00")
    ]
    assert nurse_after.empty
    kpis = json.loads((out / "kpis.json").read_text(encoding="utf-8"))
    assert kpis["violations"] == 0
    assert kpis["replan"]["moved_without_having_to"] == 0


def test_replan_names_a_bad_event_and_writes_nothing(
    planned: tuple[Path, Path], tmp_path: Path
) -> None:
    """An unknown visit to cancel, or a postponement without a date: exit 2, what was wrong
    named, no file written."""
    dataset, base = planned
    out = tmp_path / "new"
    common = [str(dataset), str(base), "--date", "2026-12-01", "--out", str(out)]
    result = runner.invoke(app, ["replan", *common, "--cancel", "no-such-visit"])
    assert result.exit_code == 2
    assert "no-such-visit" in result.output
    result = runner.invoke(app, ["replan", *common, "--postpone", "some-visit"])
    assert result.exit_code == 2
    assert "VISIT_ID=YYYY-MM-DD" in result.output
    assert not out.exists()
