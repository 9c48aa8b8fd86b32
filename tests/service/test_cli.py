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
    """kpis.json counts what plan.csv and unscheduled.csv hold, the three kinds apart.

    ``visits_unscheduled`` counts the due or overdue visits left out (the alarms); the optional
    ones not placed and those not due before the week ends are counted apart and listed too.
    """
    plan = pd.read_csv(planned / "plan.csv", dtype=str, keep_default_na=False)
    unscheduled = pd.read_csv(planned / "unscheduled.csv", dtype=str, keep_default_na=False)
    routes = pd.read_csv(planned / "routes.csv", dtype=str, keep_default_na=False)
    kpis = json.loads((planned / "kpis.json").read_text(encoding="utf-8"))
    assert kpis["visits_scheduled"] == plan["visit_id"].nunique()
    kinds = unscheduled["kind"].value_counts().to_dict()
    assert kpis["visits_unscheduled"] == kinds.get("unscheduled", 0)
    assert kpis["visits_unscheduled"] == (unscheduled["urgency"] != "optional").sum()
    assert kpis["visits_optional_not_placed"] == kinds.get("optional", 0)
    assert kpis["visits_not_due_this_week"] == kinds.get("not_due_this_week", 0)
    assert kpis["visits_due"] == kpis["visits_scheduled"] + len(unscheduled)
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
        "  - 档案.xlsx 工作表“医护人员”，第 3 行，“下班时间”列，值“25:00”："
        "时间“25:00”不在 00:00 到 24:00 之间"
    )
    en = (
        "    档案.xlsx, sheet 医护人员, row 3, column 下班时间, value '25:00': "
        "time '25:00' is not between 00:00 and 24:00"
    )
    assert lines[lines.index(zh) + 1] == en
    assert "shift_end" not in result.output


def test_plan_files_say_why_each_visit_is_due(planned: Path) -> None:
    """plan.csv and unscheduled.csv carry urgency, due_by, last_visit and the rule in Chinese and
    English; every due or overdue visit left out is of kind 'unscheduled'."""
    plan = pd.read_csv(planned / "plan.csv", dtype=str, keep_default_na=False)
    unscheduled = pd.read_csv(planned / "unscheduled.csv", dtype=str, keep_default_na=False)
    for table in (plan, unscheduled):
        assert {"urgency", "due_by", "last_visit", "rule"} <= set(table.columns)
        assert (table["rule"].str.contains(" / ")).all()
    followups = plan[(plan["programme"] == "followup_80") & (plan["last_visit"] != "")]
    assert followups["rule"].str.contains("每季度一次 · 本季度截止 12-31").all()
    alarms = unscheduled[unscheduled["urgency"] != "optional"]
    assert (alarms["kind"] == "unscheduled").all()
    assert set(unscheduled["kind"]) <= {"unscheduled", "optional", "not_due_this_week"}


def test_due_lists_the_week_before_any_solve(planned: Path, tmp_path: Path) -> None:
    """`homevisit due` lists every visit of the week (the same ones the plan counts), most
    urgent first, with last visit, due date, allowed days and windows, as a BOM CSV too."""
    out = tmp_path / "due.csv"
    result = runner.invoke(app, ["due", str(SAMPLE), "--week", "2026-11-30", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    due = pd.read_csv(out, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    kpis = json.loads((planned / "kpis.json").read_text(encoding="utf-8"))
    assert len(due) == kpis["visits_due"]
    assert list(due["urgency"]) == sorted(due["urgency"], key=["overdue", "due", "optional"].index)
    assert {"last_visit", "due_by", "windows", "rule"} <= set(due.columns)
    assert "逾期" in result.output  # the overdue come first, in Chinese


def test_a_clinician_who_left_is_a_warning_and_the_week_goes_on(tmp_path: Path) -> None:
    """Removing a clinician residents preferred does not stop the reader: a warning names the
    residents whose preference is dropped, and the week's list is made."""
    data = shutil.copytree(SAMPLE, tmp_path / "data")
    residents = pd.read_csv(data / "residents.csv", dtype=str, keep_default_na=False)
    clinicians = pd.read_csv(data / "clinicians.csv", dtype=str, keep_default_na=False)
    gone = residents.loc[residents["preferred_clinician_id"] != "", "preferred_clinician_id"]
    gone_id = gone.value_counts().index[0]
    fans = int((residents["preferred_clinician_id"] == gone_id).sum())
    clinicians[clinicians["clinician_id"] != gone_id].to_csv(data / "clinicians.csv", index=False)
    result = runner.invoke(app, ["due", str(data), "--week", "2026-11-30"])
    assert result.exit_code == 0, result.output
    assert f"preferred_clinician_id '{gone_id}'" in result.output
    assert f"the preference of {fans} residents is dropped" in result.output


def test_plan_lists_every_problem_of_programmes_yaml(tmp_path: Path) -> None:
    """The issue's file: both mistakes listed, as written, Chinese then English, exit code 2."""
    folder = Path(shutil.copytree(SAMPLE, tmp_path / "centre"))
    (folder / "programmes.yaml").write_text(
        'health_check:\n  day_window: "25:00-10:00"\n  duration_min: -5\n', encoding="utf-8"
    )
    result = runner.invoke(
        app, ["plan", str(folder), "--week", "2026-11-30", "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "has 2 problem(s)" in text
    assert "programmes.yaml, line 2: programme 'health_check', day_window '25:00-10:00'" in text
    assert "programmes.yaml, line 3: programme 'health_check', duration_min '-5'" in text
    assert "programmes.yaml，第 2 行：服务项目“health_check”的 day_window“25:00-10:00”" in text
    assert "1500" not in text and "Traceback" not in text
