"""The ``homevisit`` command line as a team leader uses it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from service.cli import app

SAMPLE = Path(__file__).resolve().parents[2] / "scenarios" / "data" / "minhang-centre"
runner = CliRunner()


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample centre's reference week, planned once for the tests of this module."""
    out = tmp_path_factory.mktemp("plan")
    result = runner.invoke(
        app,
        ["plan", str(SAMPLE), "--week", "2026-11-30", "--out", str(out), "--time-limit", "12"],
    )
    assert result.exit_code == 0, result.output
    return out


def test_plan_writes_the_four_files_with_the_contract_columns(planned: Path) -> None:
    """plan.csv, routes.csv, unscheduled.csv and kpis.json come out with FORMAT.md's columns."""
    plan = pd.read_csv(planned / "plan.csv", dtype=str, keep_default_na=False)
    routes = pd.read_csv(planned / "routes.csv", dtype=str, keep_default_na=False)
    unscheduled = pd.read_csv(planned / "unscheduled.csv", dtype=str, keep_default_na=False)
    assert {
        "visit_id",
        "resident_id",
        "programme",
        "clinician_id",
        "team_id",
        "date",
        "sequence",
        "arrival",
        "start",
        "end",
        "travel_min",
        "travel_km",
        "committee_id",
    } <= set(plan.columns)
    assert {
        "clinician_id",
        "date",
        "depart",
        "return",
        "visits",
        "travel_min",
        "travel_km",
        "work_min",
        "overtime_min",
    } <= set(routes.columns)
    assert {"visit_id", "resident_id", "programme", "due_by", "reason"} <= set(unscheduled.columns)
    kpis = json.loads((planned / "kpis.json").read_text(encoding="utf-8"))
    for key in (
        "visits_due",
        "visits_scheduled",
        "visits_unscheduled",
        "travel_min_total",
        "travel_km_total",
        "overtime_min_total",
        "continuity_rate",
        "solve_seconds",
    ):
        assert key in kpis


def test_kpis_agree_with_the_plan_file(planned: Path) -> None:
    """kpis.json counts what plan.csv and unscheduled.csv hold."""
    plan = pd.read_csv(planned / "plan.csv", dtype=str, keep_default_na=False)
    unscheduled = pd.read_csv(planned / "unscheduled.csv", dtype=str, keep_default_na=False)
    routes = pd.read_csv(planned / "routes.csv", dtype=str, keep_default_na=False)
    kpis = json.loads((planned / "kpis.json").read_text(encoding="utf-8"))
    assert kpis["visits_scheduled"] == plan["visit_id"].nunique()
    assert kpis["visits_unscheduled"] == len(unscheduled)
    assert kpis["visits_due"] == kpis["visits_scheduled"] + kpis["visits_unscheduled"]
    assert kpis["travel_min_total"] == routes["travel_min"].astype(int).sum()
    assert kpis["violations"] == 0


def test_every_unscheduled_visit_has_a_reason_in_both_languages(planned: Path) -> None:
    """A team leader reads why each visit is left out, in English and in Chinese."""
    unscheduled = pd.read_csv(planned / "unscheduled.csv", dtype=str, keep_default_na=False)
    assert (unscheduled["reason"] != "").all()
    assert (unscheduled["reason_zh"] != "").all()


def test_check_accepts_the_written_plan(planned: Path) -> None:
    """`homevisit check` re-reads the files and finds no broken rule."""
    result = runner.invoke(app, ["check", str(SAMPLE), str(planned), "--week", "2026-11-30"])
    assert result.exit_code == 0, result.output


def test_check_catches_a_tampered_start_time(planned: Path, tmp_path: Path) -> None:
    """A start moved before the arrival in plan.csv is caught by the check."""
    tampered = tmp_path / "plan"
    shutil.copytree(planned, tampered)
    plan = pd.read_csv(tampered / "plan.csv", dtype=str, keep_default_na=False)
    plan.loc[1, "start"] = "06:00"
    plan.to_csv(tampered / "plan.csv", index=False)
    result = runner.invoke(app, ["check", str(SAMPLE), str(tampered), "--week", "2026-11-30"])
    assert result.exit_code == 1


def test_a_week_that_is_not_a_monday_is_refused_clearly(tmp_path: Path) -> None:
    """--week must be a Monday; the message names the Monday to use."""
    result = runner.invoke(
        app, ["plan", str(SAMPLE), "--week", "2026-12-02", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "2026-11-30" in result.output


def test_bad_input_gets_file_row_column_and_no_traceback(tmp_path: Path) -> None:
    """A typo in a register is reported with its place; nothing is planned and no traceback."""
    dataset = tmp_path / "data"
    shutil.copytree(SAMPLE, dataset)
    clinicians = pd.read_csv(dataset / "clinicians.csv", dtype=str, keep_default_na=False)
    clinicians.loc[2, "work_days"] = "Mon;Tue;Wed;Thu;Fir"
    clinicians.to_csv(dataset / "clinicians.csv", index=False)
    out = tmp_path / "out"
    result = runner.invoke(app, ["plan", str(dataset), "--week", "2026-11-30", "--out", str(out)])
    assert result.exit_code == 2
    assert "clinicians.csv, row 4, column work_days" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_an_unknown_centre_is_refused(tmp_path: Path) -> None:
    """--centre names a centre of the dataset; a wrong id is a clear error."""
    result = runner.invoke(
        app,
        ["plan", str(SAMPLE), "--week", "2026-11-30", "--out", str(tmp_path), "--centre", "XX9"],
    )
    assert result.exit_code == 2
    assert "unknown centre XX9" in result.output


def test_import_of_a_chinese_workbook_with_a_mistake_speaks_the_users_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`homevisit import` names 下班时间 as written, the Chinese line first, the English below."""
    from service.settings import get_settings
    from tests.scheduler.test_io import valid_tables
    from tests.scheduler.test_messages_zh import chinese_workbook

    monkeypatch.setenv("HOMEVISIT_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite3'}")
    get_settings.cache_clear()
    tables = valid_tables()
    tables["clinicians"][1]["shift_end"] = "25:00"
    workbook = chinese_workbook(tmp_path / "档案.xlsx", tables)
    try:
        result = runner.invoke(app, ["import", str(workbook)])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    lines = result.output.splitlines()
    zh = (
        "  - 档案.xlsx, sheet 医护人员，第 3 行，“下班时间”列，值“25:00”："
        "时间“25:00”不在 00:00 到 24:00 之间"
    )
    en = (
        "    档案.xlsx, sheet 医护人员, row 3, column 下班时间, value '25:00': "
        "time '25:00' is not between 00:00 and 24:00"
    )
    assert lines[lines.index(zh) + 1] == en
    assert "shift_end" not in result.output
