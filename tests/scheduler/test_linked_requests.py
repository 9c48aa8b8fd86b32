"""A request done after another (a nurse's dressing, then the therapist's exercises) and a
programme's visits that may start late at a cost, as a team leader writes them in the dataset.

The pair is written in ``requests.csv`` (``after_request_id``, ``min_gap_min``,
``max_gap_min``), the lateness in ``programmes.yaml`` (``late_allowed_min``,
``late_cost_per_min``); ``homevisit plan`` honours both and ``homevisit check`` checks them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from scheduler.dataset import read_dataset, write_dataset
from scheduler.evaluate import explain_unscheduled
from scheduler.model import Plan, Role, ServiceRequest, TimeWindow, Unscheduled, VisitLink
from scheduler.params import SolveParams
from scheduler.programmes import builtin_programmes, override_problems
from scheduler.solve import build_problem, solve
from scheduler.travel import GreatCircleTravel
from service.cli import app
from tests.scheduler.conftest import WEEK, DatasetFactory, clinician, resident
from tests.scheduler.test_io import Tables, problems_of, valid_tables, write_tables

runner = CliRunner()
TUESDAY = "2026-12-01"
FAST = SolveParams(time_limit_s=5, solution_limit=200)
PAIR = ("after_request_id", "min_gap_min", "max_gap_min")


def _request(request_id: str, service: str, duration: str, **more: str) -> dict[str, str]:
    row = {
        "request_id": request_id,
        "resident_id": "R2",
        "service": service,
        "earliest_date": TUESDAY,
        "latest_date": TUESDAY,
        "window_start": "09:00",
        "window_end": "16:00",
        "duration_min": duration,
    }
    return row | {column: more.get(column, "") for column in PAIR}


def dressing_then_exercises(min_gap: str = "30", max_gap: str = "120") -> Tables:
    """The valid dataset plus a therapist, a nurse with wound care and the pair of requests:
    a pressure-sore dressing (nurse, 40 min), then rehabilitation exercises (therapist, 45 min)
    starting 30-120 min after the dressing starts, on Tuesday."""
    tables = valid_tables()
    nurse = next(c for c in tables["clinicians"] if c["clinician_id"] == "N1")
    nurse["skills"] = "wound"
    therapist = dict(nurse, clinician_id="P1", name="王康复师", role="rehab", skills="")
    tables["clinicians"].append(therapist)
    tables["requests"] = [
        _request("Q1", "pressure_sore_care", "40"),
        _request(
            "Q2", "rehab_exercises", "45", after_request_id="Q1", min_gap_min=min_gap,
            max_gap_min=max_gap,
        ),
    ]  # fmt: skip
    return tables


def test_the_dataset_pair_becomes_a_link_of_the_week(tmp_path: Path) -> None:
    """requests.csv's pair reads into the requests and the week's problem links their visits."""
    data = read_dataset(write_tables(tmp_path, dressing_then_exercises()))
    q1, q2 = data.requests
    assert (q2.after_request_id, q2.min_gap_min, q2.max_gap_min) == ("Q1", 30, 120)
    assert q1.after_request_id is None
    problem = build_problem(data, WEEK)
    assert problem.links == (VisitLink("request-Q1", "request-Q2", 30, 120),)
    exercises = next(v for v in problem.visits if v.visit_id == "request-Q2")
    assert exercises.staffing[0].roles == frozenset({Role.REHAB})
    assert exercises.basis is not None
    assert "30-120 min after request Q1 starts" in exercises.basis.rule_en
    assert "在申请 Q1 开始后 30-120 分钟开始" in exercises.basis.rule_zh


def test_homevisit_plan_puts_the_exercises_30_to_120_min_after_the_dressing(
    tmp_path: Path,
) -> None:
    """Both are planned on Tuesday by the nurse and the therapist, the exercises starting
    30-120 min after the dressing starts (left alone, both could start at 09:00); `homevisit
    check` finds no broken rule."""
    folder = write_tables(tmp_path / "data", dressing_then_exercises())
    out = tmp_path / "out"
    args = ["plan", str(folder), "--week", "2026-11-30", "--out", str(out), "--time-limit", "5"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    plan = pd.read_csv(out / "plan.csv", dtype=str, keep_default_na=False)
    rows = {row.visit_id: row for row in plan.itertuples()}
    dressing, exercises = rows["request-Q1"], rows["request-Q2"]
    assert dressing.date == exercises.date == TUESDAY
    assert (dressing.clinician_id, exercises.clinician_id) == ("N1", "P1")

    def minutes(hhmm: str) -> int:
        return int(hhmm[:2]) * 60 + int(hhmm[3:])

    assert 30 <= minutes(exercises.start) - minutes(dressing.start) <= 120
    check = runner.invoke(app, ["check", str(folder), str(out), "--week", "2026-11-30"])
    assert check.exit_code == 0, check.output


def test_a_gap_whose_most_is_below_its_least_is_a_located_error(tmp_path: Path) -> None:
    """max_gap_min 20 below min_gap_min 30: file, row, column as written, value and the fix."""
    (problem,) = problems_of(write_tables(tmp_path, dressing_then_exercises("30", "20")))
    assert (problem.file, problem.row, problem.column, problem.value) == (
        "requests.csv", 3, "max_gap_min", "20"
    )  # fmt: skip
    assert problem.code == "register.gap_order"
    assert "is less than min_gap_min 30" in problem.text_en
    assert "requests.csv，第 3 行，“max_gap_min”列，值“20”：小于min_gap_min 30" in problem.text_zh


def test_the_error_names_the_column_by_its_chinese_header(tmp_path: Path) -> None:
    """A register with Chinese headers is answered in its own words: 最长间隔(分钟)."""
    names = {"after_request_id": "前序申请编号", "min_gap_min": "最短间隔(分钟)"}
    names["max_gap_min"] = "最长间隔(分钟)"
    folder = write_tables(tmp_path, dressing_then_exercises("30", "20"), names=names)
    (problem,) = problems_of(folder)
    assert (problem.column, problem.value) == ("最长间隔(分钟)", "20")
    assert "小于最短间隔(分钟) 30" in problem.text_zh


@pytest.mark.parametrize(
    ("change", "column", "value", "code"),
    [
        ({"after_request_id": "Q9"}, "after_request_id", "Q9", "register.unknown_reference"),
        ({"after_request_id": "Q2"}, "after_request_id", "Q2", "register.after_itself"),
        ({"resident_id": "R1"}, "after_request_id", "Q1", "register.after_other_resident"),
        ({"earliest_date": "2026-12-02", "latest_date": "2026-12-03"}, "after_request_id", "Q1",
         "register.after_no_common_day"),
        ({"max_gap_min": ""}, "max_gap_min", "", "register.gap_missing"),
        ({"min_gap_min": "-5"}, "min_gap_min", "-5", "register.gap_minutes"),
        ({"max_gap_min": "1440"}, "max_gap_min", "1440", "register.gap_minutes"),
        ({"after_request_id": ""}, "min_gap_min", "30", "register.gap_without_after"),
    ],
)  # fmt: skip
def test_each_mistake_in_a_pair_is_located_on_the_second_request(
    tmp_path: Path, change: dict[str, str], column: str, value: str, code: str
) -> None:
    """An unknown request, itself, another resident's, no common day, a missing or bad gap, a
    gap without the request it follows: each a problem of row 3 (the exercises)."""
    tables = dressing_then_exercises()
    tables["requests"][1].update(change)
    (problem,) = problems_of(write_tables(tmp_path, tables))
    assert (problem.row, problem.column, problem.value, problem.code) == (3, column, value, code)
    assert problem.message_zh


def test_a_request_is_in_one_pair_at_most(tmp_path: Path) -> None:
    """A third request after the dressing (or after the exercises) is refused: one pair each."""
    for after in ("Q1", "Q2"):
        tables = dressing_then_exercises()
        tables["requests"].append(
            _request("Q3", "tcm", "45", after_request_id=after, min_gap_min="0", max_gap_min="60")
        )
        (problem,) = problems_of(write_tables(tmp_path / after, tables))
        assert (problem.row, problem.column, problem.code) == (4, "after_request_id",
                                                                "register.after_taken")  # fmt: skip


def test_a_pair_survives_writing_and_old_requests_are_written_as_before(tmp_path: Path) -> None:
    """write_dataset keeps the pair; a dataset without pairs gets no new columns."""
    data = read_dataset(write_tables(tmp_path / "in", dressing_then_exercises()))
    write_dataset(data, tmp_path / "out")
    assert read_dataset(tmp_path / "out").requests == data.requests
    plain = read_dataset(write_tables(tmp_path / "plain", valid_tables()))
    write_dataset(plain, tmp_path / "plain-out")
    header = (tmp_path / "plain-out" / "requests.csv").read_text(encoding="utf-8").splitlines()[0]
    assert not set(PAIR) & set(header.lstrip("\ufeff").split(","))


def test_the_bundled_sample_week_is_the_same_problem_as_before() -> None:
    """The bundled centre has no pair and no lateness: its week has no link and no visit that
    may start late (so it plans as before)."""
    sample = Path(__file__).resolve().parents[2] / "scenarios" / "data" / "minhang-centre"
    problem = build_problem(read_dataset(sample), WEEK)
    assert problem.links == ()
    assert all(v.late_allowed_min == v.late_cost_per_min == 0 for v in problem.visits)


# --- reasons of a pair left out ------------------------------------------------------------


def _pair(
    make_dataset: DatasetFactory, staff: list[object] | None = None, exercises_until: int = 16 * 60
) -> tuple[object, Plan]:
    dressing = ServiceRequest(
        "Q1", "R1", "pressure_sore_care", WEEK, WEEK, TimeWindow(9 * 60, 11 * 60), 40
    )
    exercises = ServiceRequest(
        "Q2", "R1", "rehab_exercises", WEEK, WEEK, TimeWindow(9 * 60, exercises_until), 45,
        after_request_id="Q1", min_gap_min=30, max_gap_min=120,
    )  # fmt: skip
    data = make_dataset([resident("R1", 70)], staff, requests=[dressing, exercises])
    problem = build_problem(data, WEEK)
    nothing = Plan((), tuple(Unscheduled(v.visit_id, "") for v in problem.visits))
    return problem, nothing


def test_a_dressing_left_out_because_no_therapist_can_do_the_exercises_says_so(
    make_dataset: DatasetFactory,
) -> None:
    """Without a therapist the exercises cannot be done, so neither is the dressing: its reason
    names the linked visit and why that one cannot be placed, in both languages."""
    staff = [clinician("D1", Role.DOCTOR), clinician("N1", Role.NURSE, ["wound"])]
    problem, nothing = _pair(make_dataset, staff)
    reasons = explain_unscheduled(problem, nothing, GreatCircleTravel(), ["request-Q1"])
    reason = reasons["request-Q1"]
    assert reason.en.startswith(
        "linked to visit request-Q2 (request-Q2 starts 30-120 min after it, the same day, by "
        "another clinician; both or neither): the linked visit cannot be placed: team T1 has no "
        "rehabilitation therapist"
    )
    assert reason.zh.startswith("与访视 request-Q2 相连（request-Q2 须在其开始后 30-120 分钟开始")
    assert "相连的访视无法排入：T1团队没有康复师（本周T1团队有 1 次访视需要）" in reason.zh


def test_a_pair_that_cannot_meet_within_the_gap_says_no_two_clinicians_can(
    make_dataset: DatasetFactory,
) -> None:
    """Exercises only by 10:00 cannot start 30 min after a dressing at 09:00 at the earliest and
    end by 10:00: each fits alone, the two never do; the reason says so."""
    problem, nothing = _pair(make_dataset, exercises_until=10 * 60 + 10)
    reasons = explain_unscheduled(
        problem, nothing, GreatCircleTravel(), ["request-Q1", "request-Q2"]
    )
    reason = reasons["request-Q2"]
    assert reason.en.startswith(
        "linked to visit request-Q1 (it starts 30-120 min after request-Q1, the same day, by "
        "another clinician; both or neither): no two clinicians who may do them can fit both on "
        "one day within the gap of 30-120 min, even on otherwise empty days"
    )
    assert "没有两名可做的人员能在同一天、间隔 30-120 分钟内完成两次访视" in reason.zh
    plan, evaluation = solve(problem, FAST)
    assert {"request-Q1", "request-Q2"} <= {u.visit_id for u in plan.unscheduled}
    assert evaluation.feasible, evaluation.violations


def test_a_pair_that_fits_but_was_left_out_says_where_it_fits(
    make_dataset: DatasetFactory,
) -> None:
    """On an empty week the pair fits: the reason gives the two clinicians and their starts,
    the second within the gap after the first."""
    problem, nothing = _pair(make_dataset)
    reason = explain_unscheduled(problem, nothing, GreatCircleTravel(), ["request-Q1"])
    en = reason["request-Q1"].en
    assert "the two still fit (for example N1 (N1) at 09:00 and R1 (R1) at 09:30 on Mon" in en


# --- lateness from programmes.yaml ---------------------------------------------------------


def test_programmes_yaml_lets_a_request_start_late_at_a_cost(make_dataset: DatasetFactory) -> None:
    """Two 30-min requests in one 09:00-09:30 window and one nurse: one is left out, unless
    programmes.yaml lets the service start up to an hour late at 2 a minute."""
    requests = [
        ServiceRequest(
            f"Q{i}", f"R{i}", "catheter_care", WEEK, WEEK, TimeWindow(9 * 60, 9 * 60 + 30), 30
        )
        for i in (1, 2)
    ]
    residents = [resident("R1", 70), resident("R2", 70, east_m=200.0)]
    staff = [clinician("N1", Role.NURSE, ["catheter"])]
    strict = build_problem(make_dataset(residents, staff, requests=requests), WEEK)
    plan, _ = solve(strict, FAST)
    assert len([u for u in plan.unscheduled if u.visit_id.startswith("request-")]) == 1
    late = {"special_service": {"late_allowed_min": 60, "late_cost_per_min": 2}}
    data = make_dataset(residents, staff, requests=requests, overrides=late)
    problem = build_problem(data, WEEK)
    lateness = {v.visit_id: (v.late_allowed_min, v.late_cost_per_min) for v in problem.visits}
    assert lateness.pop("request-Q1") == lateness.pop("request-Q2") == (60, 2)
    assert set(lateness.values()) <= {(0, 0)}  # other programmes keep their windows
    plan, evaluation = solve(problem, FAST)
    starts = sorted(s.start_min for s in plan.stops() if s.visit_id.startswith("request-"))
    assert starts[0] == 9 * 60 and 9 * 60 < starts[1] <= 10 * 60
    assert evaluation.feasible, evaluation.violations


def test_a_bad_lateness_is_named_with_its_programme_key_and_value() -> None:
    """A negative allowance and a cost in words: both listed, as written, with the range."""
    _, problems = override_problems(
        builtin_programmes(),
        {"followup_80": {"late_allowed_min": -10, "late_cost_per_min": "cheap"}},
    )
    allowed, cost = problems
    assert (allowed.key, allowed.value, cost.key, cost.value) == (
        "late_allowed_min", "-10", "late_cost_per_min", "cheap"
    )  # fmt: skip
    assert allowed.message.en.endswith("not a whole number from 0 to 1440; write e.g. 30")
    assert "late_cost_per_min“cheap”" in cost.message.zh


def test_a_bad_lateness_in_the_file_is_located_by_line(tmp_path: Path) -> None:
    """programmes.yaml's line of the bad key, as read_dataset reports it."""
    folder = write_tables(tmp_path, valid_tables())
    (folder / "programmes.yaml").write_text(
        "followup_80:\n  late_allowed_min: 30\n  late_cost_per_min: -1\n", encoding="utf-8"
    )
    (problem,) = problems_of(folder)
    assert (problem.file, problem.row) == ("programmes.yaml", 3)
    assert "late_cost_per_min '-1'" in problem.text_en


def test_the_dataset_lateness_reaches_the_visits_of_the_programme(tmp_path: Path) -> None:
    """followup_80's visits carry programmes.yaml's allowance and cost; other programmes none."""
    folder = write_tables(tmp_path, valid_tables())
    (folder / "programmes.yaml").write_text(
        "followup_80:\n  late_allowed_min: 30\n  late_cost_per_min: 3\n", encoding="utf-8"
    )
    problem = build_problem(read_dataset(folder), dt.date(2026, 11, 30))
    lateness = {v.programme: (v.late_allowed_min, v.late_cost_per_min) for v in problem.visits}
    assert lateness.pop("followup_80") == (30, 3)
    assert set(lateness.values()) <= {(0, 0)}
