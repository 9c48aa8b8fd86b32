"""What the care programmes make due in a week."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from scheduler.dataset import read_dataset
from scheduler.model import (
    AvailabilityItem,
    Disability,
    ServiceRequest,
    TimeWindow,
    Urgency,
    VisitOutcome,
)
from scheduler.programmes import (
    Period,
    apply_overrides,
    builtin_programmes,
    due_visits,
    overdue_home_visits,
    overdue_horizon,
)
from tests.scheduler.conftest import WEEK, DatasetFactory, resident


def _by_programme(visits: tuple, programme: str) -> list:  # type: ignore[type-arg]
    return [v for v in visits if v.programme == programme]


def test_period_bounds_follow_the_calendar() -> None:
    """Quarters and months are calendar periods, so reports match the district's quarters."""
    assert Period.QUARTER.bounds(dt.date(2026, 11, 30)) == (
        dt.date(2026, 10, 1),
        dt.date(2026, 12, 31),
    )
    assert Period.MONTH.bounds(dt.date(2026, 12, 3)) == (
        dt.date(2026, 12, 1),
        dt.date(2026, 12, 31),
    )
    assert Period.YEAR.bounds(dt.date(2026, 2, 3)) == (dt.date(2026, 1, 1), dt.date(2026, 12, 31))


def test_quarterly_follow_ups_take_the_weeks_fair_share(make_dataset: DatasetFactory) -> None:
    """10 residents of 80+ still waiting with 5 weeks left in the quarter: 2 are due this week."""
    # Far apart (2 km in a row), so no cheap neighbour extras blur the count.
    people = [resident(f"R{i}", 85, east_m=2000.0 * i, north_m=0) for i in range(10)]
    visits = _by_programme(due_visits(make_dataset(people), WEEK), "followup_80")
    assert len(visits) == 2
    assert all(v.urgency == Urgency.DUE for v in visits)


def test_the_longest_waiting_are_chosen_first(make_dataset: DatasetFactory) -> None:
    """The fair share goes to those whose last follow-up is longest ago."""
    people = [resident(f"R{i}", 85, east_m=2000.0 * i, north_m=0) for i in range(5)]
    history = [
        (f"R{i}", "followup_80", dt.date(2026, 7, 1) + dt.timedelta(days=10 * i)) for i in range(5)
    ]
    visits = _by_programme(due_visits(make_dataset(people, history=history), WEEK), "followup_80")
    assert [v.resident_id for v in visits] == ["R0"]


def test_everyone_waiting_is_due_in_the_last_week_of_the_quarter(
    make_dataset: DatasetFactory,
) -> None:
    """In the quarter's last week nobody can be postponed any more."""
    people = [resident(f"R{i}", 85, east_m=2000.0 * i, north_m=0) for i in range(6)]
    visits = _by_programme(due_visits(make_dataset(people), dt.date(2026, 12, 28)), "followup_80")
    assert len(visits) == 6


def test_a_missed_quarter_makes_the_visit_overdue(make_dataset: DatasetFactory) -> None:
    """A resident whose last follow-up was two quarters ago is overdue, the top urgency."""
    people = [resident("R1", 88)]
    history = [("R1", "followup_80", dt.date(2026, 5, 10))]
    (visit,) = _by_programme(due_visits(make_dataset(people, history=history), WEEK), "followup_80")
    assert visit.urgency == Urgency.OVERDUE


def test_done_this_quarter_means_not_due(make_dataset: DatasetFactory) -> None:
    """A follow-up already done this quarter is not planned again."""
    people = [resident("R1", 88)]
    history = [("R1", "followup_80", dt.date(2026, 10, 20))]
    assert not _by_programme(due_visits(make_dataset(people, history=history), WEEK), "followup_80")


@pytest.mark.parametrize(
    ("last", "expected"),
    [
        (WEEK - dt.timedelta(days=3), None),  # delivered 3 days ago: next due in 11 days
        (WEEK - dt.timedelta(days=12), Urgency.DUE),  # due on Wednesday
        (WEEK - dt.timedelta(days=30), Urgency.OVERDUE),  # should have come two weeks ago
    ],
)
def test_home_medicine_delivery_every_fourteen_days(
    make_dataset: DatasetFactory, last: dt.date, expected: Urgency | None
) -> None:
    """Homebound residents on medication get medicine home every 14 days (+-3)."""
    people = [resident("R1", 75, homebound=True, hypertension=True)]
    history = [("R1", "medicine_home", last)]
    visits = _by_programme(due_visits(make_dataset(people, history=history), WEEK), "medicine_home")
    assert [v.urgency for v in visits] == ([] if expected is None else [expected])


def test_due_days_start_at_the_earliest_allowed_date(make_dataset: DatasetFactory) -> None:
    """A delivery that may not come before Thursday gets no Monday-Wednesday window."""
    people = [resident("R1", 75, homebound=True, diabetes=True)]
    history = [("R1", "medicine_home", WEEK - dt.timedelta(days=8))]  # earliest = last + 11 = Thu
    (visit,) = _by_programme(
        due_visits(make_dataset(people, history=history), WEEK), "medicine_home"
    )
    assert min(w.day for w in visit.windows) == WEEK + dt.timedelta(days=3)


def test_centenarian_rounds_keep_ten_days_apart(make_dataset: DatasetFactory) -> None:
    """Two rounds a month at least 10 days apart: a round on Nov 25 allows Dec 5 at the earliest."""
    people = [resident("R1", 101, home_sickbed=True)]
    history = [
        ("R1", "centenarian_round", dt.date(2026, 11, 10)),
        ("R1", "centenarian_round", dt.date(2026, 11, 25)),
    ]
    (visit,) = _by_programme(
        due_visits(make_dataset(people, history=history), WEEK), "centenarian_round"
    )
    assert {w.day for w in visit.windows} == {dt.date(2026, 12, 5), dt.date(2026, 12, 6)}
    assert visit.urgency == Urgency.DUE


def test_windows_intersect_availability_and_programme_hours(make_dataset: DatasetFactory) -> None:
    """Available Tue 14:00-18:00, programme 08:00-17:00: one Tuesday window 14:00-17:00."""
    available = (AvailabilityItem(frozenset({1}), TimeWindow(14 * 60, 18 * 60)),)
    people = [resident("R1", 85, availability=available)]
    (visit,) = _by_programme(due_visits(make_dataset(people), dt.date(2026, 12, 28)), "followup_80")
    assert [(w.day.weekday(), w.start_min, w.end_min) for w in visit.windows] == [
        (1, 14 * 60, 17 * 60)
    ]


def test_health_check_is_a_joint_early_visit_with_a_sample(make_dataset: DatasetFactory) -> None:
    """The annual health check needs a doctor and a nurse, early, with the blood back in time."""
    people = [resident("R1", 78, disability=Disability.FULL)]
    (visit,) = _by_programme(
        due_visits(make_dataset(people), dt.date(2026, 12, 28)), "health_check"
    )
    assert visit.is_joint
    assert visit.sample_return_min == 150
    assert all(w.start_min == 7 * 60 + 30 for w in visit.windows)


def test_committee_session_grows_with_residents_served(make_dataset: DatasetFactory) -> None:
    """Medicine delivery is one stop at the committee: 20 min + 2 min per resident served."""
    people = [resident(f"R{i}", 72, hypertension=True) for i in range(12)]
    (session,) = _by_programme(due_visits(make_dataset(people), WEEK), "medicine_delivery")
    assert session.committee_id == "K1" and session.resident_id is None
    assert session.residents_served == 12
    assert session.duration_min == 20 + 2 * 12


def test_requests_become_visits_with_their_skill(make_dataset: DatasetFactory) -> None:
    """An on-demand PICC request needs a nurse with skill picc, inside its dates and window."""
    people = [resident("R1", 70, homebound=True)]
    request = ServiceRequest(
        "Q1",
        "R1",
        "picc_maintenance",
        WEEK + dt.timedelta(days=1),
        WEEK + dt.timedelta(days=2),
        TimeWindow(9 * 60, 11 * 60),
        40,
    )
    (visit,) = due_visits(make_dataset(people, requests=[request]), WEEK)
    assert visit.staffing[0].skills == frozenset({"picc"})
    assert [w.day for w in visit.windows] == [
        WEEK + dt.timedelta(days=1),
        WEEK + dt.timedelta(days=2),
    ]


def test_a_neighbour_in_the_same_building_is_added_as_optional(
    make_dataset: DatasetFactory,
) -> None:
    """A quarterly visit that is cheap now (next to a chosen one) is offered as optional."""
    never_seen = [resident(f"F{i}", 85, east_m=3000.0 * (i + 1), north_m=0) for i in range(9)]
    same_building_as_f0 = resident("A1", 85, east_m=3000.0, north_m=0)
    history = [("A1", "followup_80", dt.date(2026, 8, 5))]  # seen last quarter: lower priority
    data = make_dataset([*never_seen, same_building_as_f0], history=history)
    visits = _by_programme(due_visits(data, WEEK), "followup_80")
    urgencies = {v.resident_id: v.urgency for v in visits}
    assert urgencies["F0"] == Urgency.DUE  # fair share: ceil(10 / 5 weeks) = 2, never-seen first
    assert urgencies["A1"] == Urgency.OPTIONAL
    assert len(urgencies) == 3


def test_programmes_yaml_overrides_a_rule(make_dataset: DatasetFactory) -> None:
    """A centre can lengthen the 80+ follow-up to 40 minutes in programmes.yaml."""
    people = [resident("R1", 85)]
    data = make_dataset(people, overrides={"followup_80": {"duration_min": 40}})
    (visit,) = _by_programme(due_visits(data, dt.date(2026, 12, 28)), "followup_80")
    assert visit.duration_min == 40


def test_unknown_override_key_is_a_clear_error() -> None:
    """A typo in programmes.yaml names the programme and the key."""
    with pytest.raises(ValueError, match=r"followup_80.*duraton_min"):
        apply_overrides(builtin_programmes(), {"followup_80": {"duraton_min": 40}})


_SAMPLE = Path(__file__).resolve().parents[2] / "scenarios" / "data" / "minhang-centre"


_WEEKS = [  # inside a period, and reaching into the next month, quarter or year
    (2026, 7, 27), (2026, 8, 31), (2026, 9, 28), (2026, 10, 5), (2026, 11, 23),
    (2026, 11, 30), (2026, 12, 28), (2027, 1, 4), (2027, 3, 1),
]  # fmt: skip


@pytest.mark.parametrize("week", [dt.date(*day) for day in _WEEKS])
def test_overdue_home_visits_are_the_due_lists_overdue_part(week: dt.date) -> None:
    """On the sample centre, weeks inside a period and weeks reaching into the next: the overdue
    visits the reports compute are exactly those the whole due list marks overdue, and each
    was last done before its programme's overdue horizon (so a report may leave out, unread,
    every resident visited since)."""
    dataset = read_dataset(_SAMPLE)
    programmes = builtin_programmes()
    expected = {
        (v.resident_id, v.programme, v.due_by)
        for v in due_visits(dataset, week)
        if v.urgency is Urgency.OVERDUE and v.resident_id is not None
    }
    history: dict[tuple[str, str], list[dt.date]] = {}
    for record in dataset.history:
        if record.date < week and record.outcome is VisitOutcome.COMPLETED:
            history.setdefault((record.programme, record.resident_id), []).append(record.date)
    found = overdue_home_visits(dataset.residents.values(), history, week, programmes)
    assert {(rid, pid, due_by) for rid, pid, _last, due_by in found} == expected
    assert expected  # the sample has residents overdue in these weeks
    for _rid, pid, last, _due_by in found:
        horizon = overdue_horizon(programmes[pid], week)
        assert last is not None and horizon is not None and last < horizon
