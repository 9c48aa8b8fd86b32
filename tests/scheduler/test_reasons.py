"""Reasons of visits not in the plan, each checked against the registers it quotes.

Every test builds a tiny dataset, makes the week's due list from it and asks why a visit is not
in an (empty or hand-made) plan; the expected text is worked out from the registers by hand.
"""

from __future__ import annotations

import datetime as dt

from scheduler.evaluate import LeftOutKind, compute_kpis, explain_unscheduled, left_out_kind
from scheduler.model import (
    AvailabilityItem,
    Plan,
    Problem,
    Role,
    ServiceRequest,
    TimeWindow,
    Unscheduled,
    Urgency,
    Visit,
)
from scheduler.params import SolveParams
from scheduler.solve import build_problem, solve
from scheduler.travel import GreatCircleTravel
from tests.scheduler.conftest import WEEK, DatasetFactory, clinician, resident

TRAVEL = GreatCircleTravel()
WEEKDAYS_2PM = (AvailabilityItem(frozenset(range(5)), TimeWindow(14 * 60, 16 * 60 + 30)),)


def nothing_planned(problem: Problem) -> Plan:
    return Plan(routes=(), unscheduled=tuple(Unscheduled(v.visit_id, "") for v in problem.visits))


def only(problem: Problem, programme: str) -> Visit:
    (found,) = [v for v in problem.visits if v.programme == programme]
    return found


def reason_of(problem: Problem, visit: Visit) -> tuple[str, str]:
    """The reason of ``visit`` when nothing of the week is planned."""
    everything = [v.visit_id for v in problem.visits]
    reason = explain_unscheduled(problem, nothing_planned(problem), TRAVEL, everything)
    return reason[visit.visit_id].en, reason[visit.visit_id].zh


# --------------------------------------------------------------------------------------------
# Why it is due (the rule and the dates behind it)
# --------------------------------------------------------------------------------------------


def test_quarterly_follow_up_carries_its_rule_and_last_visit(make_dataset: DatasetFactory) -> None:
    """An 80+ follow-up last done 2026-08-14 is due by the quarter's end; in the week of 11-30,
    five weeks before it, it is this week's share of the quarter's visits, and says so."""
    data = make_dataset([resident("R1", 85)], history=[("R1", "followup_80", dt.date(2026, 8, 14))])
    visit = only(build_problem(data, WEEK), "followup_80")
    assert visit.basis is not None
    assert visit.basis.last_visit == dt.date(2026, 8, 14)
    assert visit.basis.rule_en == (
        "last visit 2026-08-14 · quarterly · quarter ends 12-31 · this week's share of the "
        "quarter's visits"
    )
    assert visit.basis.rule_zh == (
        "上次服务 2026-08-14 · 每季度一次 · 本季度截止 12-31 · 本周按进度分摊"
    )


def test_overdue_period_visit_says_the_previous_period_was_missed(
    make_dataset: DatasetFactory,
) -> None:
    """A yearly health check last done in 2024 is overdue: none in the previous year."""
    data = make_dataset(
        [resident("R1", 70, disability="semi")],
        history=[("R1", "health_check", dt.date(2024, 5, 6))],
    )
    visit = only(build_problem(data, WEEK), "health_check")
    assert visit.urgency is Urgency.OVERDUE
    assert visit.basis is not None
    assert visit.basis.rule_en == (
        "last visit 2024-05-06 · yearly · year ends 12-31 · none in the previous year"
    )
    assert visit.basis.rule_zh == "上次服务 2024-05-06 · 每年一次 · 本年度截止 12-31 · 上年度未做"


def test_interval_rule_names_the_due_day_and_the_latest(make_dataset: DatasetFactory) -> None:
    """Medicine delivered home every 14 days (±3), last on 11-20: due 12-04, at the latest 12-07."""
    data = make_dataset(
        [resident("R1", 75, hypertension=True, homebound=True)],
        history=[("R1", "medicine_home", dt.date(2026, 11, 20))],
    )
    visit = only(build_problem(data, WEEK), "medicine_home")
    assert visit.basis is not None
    assert visit.basis.rule_en == (
        "last visit 2026-11-20 · every 14 days (±3) · due 12-04, at the latest 12-07"
    )
    assert visit.basis.earliest == dt.date(2026, 12, 1)  # 12-04 less the 3 days' tolerance


# --------------------------------------------------------------------------------------------
# Three kinds of "not in the plan"
# --------------------------------------------------------------------------------------------


def test_three_kinds_are_counted_apart(make_dataset: DatasetFactory) -> None:
    """Overdue medicine left out is an alarm; a follow-up taken early as a neighbour's extra is
    optional; a delivery that may only start on Saturday, with a Monday-to-Friday team, is not
    due this week. kpis.json counts the three apart."""
    data = make_dataset(
        [
            resident("R1", 75, hypertension=True, homebound=True),
            resident("R2", 75, hypertension=True, homebound=True, north_m=400.0),  # next door
        ]
        + [resident(f"R{i}", 85, north_m=1000.0 + 100 * i) for i in range(3, 9)],
        history=[
            ("R1", "medicine_home", dt.date(2026, 11, 5)),  # at the latest 11-22: overdue
            ("R2", "medicine_home", dt.date(2026, 11, 24)),  # at the earliest 12-05, a Saturday
        ]
        + [(f"R{i}", "followup_80", dt.date(2026, 9, 1)) for i in range(3, 9)],
        overrides={"medication_guidance": {"enabled": False}},
    )
    problem = build_problem(data, WEEK)
    kinds = [(v.visit_id, left_out_kind(problem, v)) for v in problem.visits]
    assert kinds == [
        ("followup_80-R3-1130", LeftOutKind.UNSCHEDULED),  # six over five weeks: two this week
        ("followup_80-R4-1130", LeftOutKind.UNSCHEDULED),
        ("followup_80-R5-1130", LeftOutKind.OPTIONAL),  # 100 m from R4: a cheap extra
        ("medicine_home-R1-1130", LeftOutKind.UNSCHEDULED),
        ("medicine_home-R2-1205", LeftOutKind.NOT_DUE_THIS_WEEK),
    ]
    kpis = compute_kpis(problem, nothing_planned(problem))
    assert kpis["visits_due"] == 5
    assert kpis["visits_unscheduled"] == 3
    assert kpis["visits_optional_not_placed"] == 1
    assert kpis["visits_not_due_this_week"] == 1


def test_an_optional_visit_nobody_may_do_is_optional_not_yet_due(
    make_dataset: DatasetFactory,
) -> None:
    """An early rehabilitation visit in a team without a therapist is 'optional, not placed'
    and its reason is the missing role, not the days nobody works."""
    staff = [clinician("N1", Role.NURSE), clinician("R1", Role.REHAB, team_id="T2")]
    data = make_dataset(
        [
            resident("R1", 75, conditions=frozenset({"rehab"})),
            resident("R2", 75, conditions=frozenset({"rehab"}), north_m=400.0),  # due: next door
        ],
        staff,
        history=[("R1", "rehab_guidance", dt.date(2026, 11, 24))],
    )
    problem = build_problem(data, WEEK)
    (visit,) = [v for v in problem.visits if v.resident_id == "R1"]
    assert visit.urgency is Urgency.OPTIONAL
    assert left_out_kind(problem, visit) is LeftOutKind.OPTIONAL
    en, _ = reason_of(problem, visit)
    assert en.startswith(
        "optional this week (due by 2026-12-11), not placed: team T1 has no rehabilitation "
        "therapist (2 visits of team T1 this week need one)"
    )


def test_not_due_this_week_says_when_it_can_start(make_dataset: DatasetFactory) -> None:
    """A delivery that may start Saturday, with a weekday team, is explained by the rule's dates,
    never as the availability of a resident who has no availability limit.

    (It is on the list as a cheap extra: its neighbour R2's delivery is due this week.)
    """
    data = make_dataset(
        [
            resident("R1", 75, hypertension=True, homebound=True),
            resident("R2", 75, hypertension=True, homebound=True, north_m=400.0),
        ],
        history=[("R1", "medicine_home", dt.date(2026, 11, 24))],
    )
    problem = build_problem(data, WEEK)
    (visit,) = [v for v in problem.visits if v.resident_id == "R1"]
    en, zh = reason_of(problem, visit)
    assert en == (
        "not due this week: it cannot be done before Sat 2026-12-05 (last visit 2026-11-24 · "
        "every 14 days (±3) · due 12-08, at the latest 12-11), and nobody of team T1 who may do "
        "it works Sat, Sun"
    )
    assert zh.startswith("本周无需安排：最早 2026-12-05（周六） 才可做")
    assert "available" not in en


# --------------------------------------------------------------------------------------------
# Staffing: a missing role is not a missing skill; the change that would place it
# --------------------------------------------------------------------------------------------


def test_a_team_without_a_doctor_is_told_it_has_no_doctor(make_dataset: DatasetFactory) -> None:
    """Team T4 has a nurse only: its health check lacks a doctor (not 'a doctor with ecg'),
    and team T1's doctor could come with cross-team cover."""
    staff = [
        clinician("D1", Role.DOCTOR, ["ecg"]),
        clinician("N1", Role.NURSE, ["blood_draw"]),
        clinician("N4", Role.NURSE, ["blood_draw"], team_id="T4"),
    ]
    data = make_dataset([resident("R1", 70, team_id="T4", disability="semi")], staff)
    problem = build_problem(data, WEEK)
    en, zh = reason_of(problem, only(problem, "health_check"))
    assert en == (
        "team T4 has no doctor (it needs a doctor with skill ecg (ECG); 1 visit of team T4 this "
        "week needs one); cross-team cover would place it: team T1's doctor on Mon "
        "2026-11-30"
    )
    assert zh == (
        "T4团队没有医生（需要具备 心电图 ecg 技能的医生；本周T4团队有 1 次访视需要）；"
        "允许跨团队支援即可排入：T1团队的医生（2026-11-30（周一））"
    )


def test_a_role_without_the_skill_names_the_skill_and_counts_the_visits(
    make_dataset: DatasetFactory,
) -> None:
    """Four PICC requests in team T2, whose nurse has no picc: one reason names the skill in
    Chinese and English and says four visits need such a nurse; T1's nurse has picc."""
    staff = [
        clinician("N1", Role.NURSE, ["picc"]),
        clinician("N2", Role.NURSE, ["wound"], team_id="T2"),
    ]
    residents = [resident(f"R{i}", 70, team_id="T2", north_m=300.0 * i) for i in range(1, 5)]
    requests = [
        ServiceRequest(
            f"Q{i}", f"R{i}", "picc_maintenance", WEEK, WEEK, TimeWindow(9 * 60, 12 * 60), 40
        )
        for i in range(1, 5)
    ]
    data = make_dataset(residents, staff, requests=requests)
    problem = build_problem(data, WEEK)
    (first, *_) = [v for v in problem.visits if v.visit_id == "request-Q1"]
    en, zh = reason_of(problem, first)
    assert en == (
        "no nurse of team T2 has skill picc (PICC care) (4 visits of team T2 this week need "
        "one); cross-team cover would place it: team T1's nurse on Mon 2026-11-30"
    )
    assert zh.startswith("T2团队没有具备 PICC 维护 picc 技能的护士（本周T2团队有 4 次访视需要）")


# --------------------------------------------------------------------------------------------
# Times: the resident's own availability, the programme's hours, requests
# --------------------------------------------------------------------------------------------


def test_health_check_quotes_the_residents_availability_and_its_hours(
    make_dataset: DatasetFactory,
) -> None:
    """A resident available only weekday afternoons cannot have a 07:30-10:30 fasting check."""
    data = make_dataset([resident("R1", 70, disability="semi", availability=WEEKDAYS_2PM)])
    problem = build_problem(data, WEEK)
    en, zh = reason_of(problem, only(problem, "health_check"))
    assert en == (
        "the resident's availability Mon-Fri 14:00-16:30 (register) leaves no 45 min within "
        "annual health check (fasting blood) hours 07:30-10:30 on any day the rule allows this "
        "week"
    )
    assert zh.startswith(
        "居民登记的可上门时间 周一至周五 14:00-16:30 与年度健康体检（空腹采血）时段"
    )


def test_a_request_is_cut_to_the_residents_availability(make_dataset: DatasetFactory) -> None:
    """A request for 09:00-15:30 of a resident available Mon-Fri 14:00-16:30 is planned
    within 14:00-15:30 only: never at a time the register says she cannot be visited."""
    request = ServiceRequest(
        "Q1", "R1", "pressure_sore_care", WEEK, WEEK + dt.timedelta(days=4),
        TimeWindow(9 * 60, 15 * 60 + 30), 30,
    )  # fmt: skip
    data = make_dataset([resident("R1", 70, availability=WEEKDAYS_2PM)], requests=[request])
    problem = build_problem(data, WEEK)
    visit = only(problem, "special_service")
    assert {(w.start_min, w.end_min) for w in visit.windows} == {(14 * 60, 15 * 60 + 30)}
    plan, evaluation = solve(problem, SolveParams(time_limit_s=2, solution_limit=50))
    (stop,) = [s for s in plan.stops() if s.visit_id == visit.visit_id]
    assert stop.start_min >= 14 * 60 and stop.end_min <= 15 * 60 + 30
    assert evaluation.feasible


def test_a_request_outside_the_availability_is_left_out_quoting_both(
    make_dataset: DatasetFactory,
) -> None:
    """A request for 09:00-12:00 of a resident available only weekday afternoons is left out,
    and the reason quotes the availability and the requested window."""
    request = ServiceRequest(
        "Q1", "R1", "pressure_sore_care", WEEK, WEEK, TimeWindow(9 * 60, 12 * 60), 30
    )
    data = make_dataset([resident("R1", 70, availability=WEEKDAYS_2PM)], requests=[request])
    problem = build_problem(data, WEEK)
    visit = only(problem, "special_service")
    assert visit.windows == ()
    assert visit.urgency is Urgency.DUE
    en, zh = reason_of(problem, visit)
    assert en == (
        "the resident's availability Mon-Fri 14:00-16:30 (register) leaves no 30 min within "
        "the requested window 09:00-12:00 on any day the rule allows this week"
    )
    assert "申请时段 09:00-12:00" in zh
