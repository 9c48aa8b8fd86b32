"""Stored plans (versions, status, optimistic locking) and visit records driving what is due."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from scheduler.model import Plan, Problem, Route, Stop, Unscheduled, Urgency
from scheduler.solve import build_problem
from service.db.exporter import load_dataset
from service.db.importer import import_dataset
from service.db.plans import (
    PlanConflictError,
    PlanStateError,
    latest_plan,
    load_plan,
    save_plan,
    set_status,
    unfinished_visits,
)
from service.db.records import RecordError, VisitReport, record_visit
from service.db.tables import PlanStatus, VisitOutcome, VisitRecordRow
from tests.service.db.conftest import Database

WEEK = dt.date(2026, 11, 30)
CENTRE = "MH03"


def _problem(db: Database, week: dt.date = WEEK) -> Problem:
    with Session(db.engine) as session:
        return build_problem(load_dataset(session), week)


def _plan(problem: Problem, placed: int = 3, shift_min: int = 0) -> Plan:
    """A hand-made plan: the first ``placed`` home visits on Monday, one clinician each."""
    home, teams = [], set()
    for visit in problem.visits:  # one visit per team, so one route per clinician
        if visit.resident_id is not None and visit.team_id not in teams:
            teams.add(visit.team_id)
            home.append(visit)
    by_team = {c.team_id: c for c in problem.clinicians}
    routes = []
    for i, visit in enumerate(home[:placed]):
        clinician = by_team[visit.team_id]
        start = 9 * 60 + i * 60 + shift_min
        stop = Stop(
            visit.visit_id, clinician.clinician_id, WEEK, 1, start - 5, start, start + 30, 12, 2.5
        )
        routes.append(
            Route(clinician.clinician_id, WEEK, start - 17, start + 45, (stop,), 24, 5.0, 62, 0)
        )
    left = tuple(Unscheduled(v.visit_id, "capacity") for v in home[placed:])
    return Plan(tuple(routes), left, solve_seconds=1.5, objective=12345, status="SUCCESS")


@pytest.fixture
def loaded(db: Database, small_dataset: Path) -> Database:
    import_dataset(db.engine, small_dataset)
    return db


def test_a_saved_plan_loads_back_equal(loaded: Database) -> None:
    """Routes, stops, unscheduled visits and solver figures come back as saved."""
    problem = _problem(loaded)
    plan = _plan(problem)
    with Session(loaded.engine) as session, session.begin():
        handle = save_plan(session, problem, plan, CENTRE, base=None, saved_by="leader-a")
    assert (handle.version, handle.status, handle.revision) == (1, PlanStatus.DRAFT, 1)
    with Session(loaded.engine) as session:
        stored = load_plan(session, handle.plan_id)
    assert sorted(stored.routes, key=repr) == sorted(plan.routes, key=repr)
    assert stored.unscheduled == plan.unscheduled
    assert (stored.objective, stored.status, stored.solve_seconds) == (12345, "SUCCESS", 1.5)


def test_second_save_on_the_same_version_is_refused(loaded: Database) -> None:
    """Two leaders load version 1; the first save wins, the second is refused, nothing merged."""
    problem = _problem(loaded)
    with Session(loaded.engine) as session, session.begin():
        first = save_plan(session, problem, _plan(problem), CENTRE, base=None)
    alice = Session(loaded.engine)
    bob = Session(loaded.engine)
    alice_base = latest_plan(alice, CENTRE, WEEK)
    bob_base = latest_plan(bob, CENTRE, WEEK)
    assert alice_base == bob_base == first
    alice_plan = _plan(problem, placed=2, shift_min=30)
    saved = save_plan(alice, problem, alice_plan, CENTRE, base=alice_base, saved_by="alice")
    alice.commit()
    assert (saved.version, saved.revision) == (1, 2)
    with pytest.raises(PlanConflictError, match=r"changed by someone else.*saved by alice"):
        save_plan(bob, problem, _plan(problem, placed=4), CENTRE, base=bob_base, saved_by="bob")
    bob.rollback()
    with pytest.raises(PlanConflictError, match="already exists"):
        save_plan(bob, problem, _plan(problem), CENTRE, base=None)
    bob.rollback()
    alice.close()
    bob.close()
    with Session(loaded.engine) as session:
        assert len(load_plan(session, first.plan_id).routes) == len(alice_plan.routes)


def test_an_approved_plan_is_superseded_never_overwritten(loaded: Database) -> None:
    """Saving on an approved plan makes version 2; approving it supersedes version 1."""
    problem = _problem(loaded)
    original = _plan(problem)
    with Session(loaded.engine) as session, session.begin():
        v1 = save_plan(session, problem, original, CENTRE, base=None)
        v1 = set_status(session, v1, PlanStatus.APPROVED)
        v2 = save_plan(session, problem, _plan(problem, placed=1), CENTRE, base=v1)
    assert (v2.version, v2.status) == (2, PlanStatus.DRAFT)
    with Session(loaded.engine) as session, session.begin():
        stored = load_plan(session, v1.plan_id).routes
        assert sorted(stored, key=repr) == sorted(original.routes, key=repr)
        v2 = set_status(session, v2, PlanStatus.APPROVED)
        versions = {h.version: h.status for h in [latest_plan(session, CENTRE, WEEK)]}
        assert versions == {2: PlanStatus.APPROVED}
        done = set_status(session, v2, PlanStatus.DONE)
        with pytest.raises(PlanStateError, match="never changed"):
            set_status(session, done, PlanStatus.APPROVED)
    with Session(loaded.engine) as session:
        from service.db.plans import plan_versions

        assert [h.status for h in plan_versions(session, CENTRE, WEEK)] == [
            PlanStatus.SUPERSEDED,
            PlanStatus.DONE,
        ]


def test_completed_visits_leave_the_due_list_and_missed_ones_return(loaded: Database) -> None:
    """History in the database decides next week: done visits drop out, missed ones come back."""
    problem = _problem(loaded)
    deliveries = [v for v in problem.visits if v.programme == "rehab_guidance" and v.resident_id]
    assert len(deliveries) >= 2
    done, missed = deliveries[0], deliveries[1]
    plan = Plan(
        tuple(
            Route(
                clinician.clinician_id,
                WEEK,
                540,
                700,
                (Stop(v.visit_id, clinician.clinician_id, WEEK, 1, 560, 570, 600, 10, 1.0),),
                20,
                2.0,
                160,
                0,
            )
            for v in (done, missed)
            for clinician in [next(c for c in problem.clinicians if c.team_id == v.team_id)]
        ),
        (),
    )
    with Session(loaded.engine) as session, session.begin():
        handle = save_plan(session, problem, plan, CENTRE, base=None)
        clinician = plan.routes[0].clinician_id
        record_visit(
            session,
            VisitReport(
                done.resident_id or "",
                "rehab_guidance",
                WEEK,
                (clinician,),
                note="康复指导已完成",
                visit_id=done.visit_id,
                plan_id=handle.plan_id,
            ),
            today=WEEK,
        )
        assert unfinished_visits(session, handle.plan_id) == [missed.visit_id]
    next_week = _problem(loaded, WEEK + dt.timedelta(days=7))
    due = {(v.resident_id, v.programme) for v in next_week.visits if v.urgency >= Urgency.DUE}
    assert (done.resident_id, "rehab_guidance") not in due
    assert (missed.resident_id, "rehab_guidance") in due


def test_a_bad_report_lists_every_problem_and_records_nothing(loaded: Database) -> None:
    """Unknown ids, a future date and a swapped blood pressure are all reported at once."""
    with Session(loaded.engine) as session:
        hypertensive = next(r for r in load_dataset(session).residents.values() if r.hypertension)
    report = VisitReport(
        "MH03-R99999",
        "followup_99",
        WEEK + dt.timedelta(days=3),
        ("nobody",),
        systolic_mmhg=80,
        diastolic_mmhg=140,
    )
    with Session(loaded.engine) as session, pytest.raises(RecordError) as failure:
        record_visit(session, report, today=WEEK)
    text = str(failure.value)
    for expected in (
        "unknown resident 'MH03-R99999'",
        "unknown programme 'followup_99'",
        "unknown clinician 'nobody'",
        "in the future",
        "were they swapped",
    ):
        assert expected in text
    missing_bp = VisitReport(hypertensive.resident_id, "chronic_followup", WEEK, ("MH03-T1-D",))
    with Session(loaded.engine) as session, pytest.raises(RecordError, match="blood pressure"):
        record_visit(session, missing_bp, today=WEEK)
    ok = VisitReport(
        hypertensive.resident_id,
        "chronic_followup",
        WEEK,
        ("MH03-T1-D",),
        systolic_mmhg=142,
        diastolic_mmhg=88,
        glucose_mmol_l=6.1,
    )
    with Session(loaded.engine) as session, session.begin():
        assert record_visit(session, ok, today=WEEK) > 0
    with Session(loaded.engine) as session, pytest.raises(RecordError, match="already recorded"):
        record_visit(session, ok, today=WEEK)


def test_a_correction_keeps_the_record_and_who_made_the_visit(loaded: Database) -> None:
    """correct_record: the same record (id, clinicians of a joint visit) says what the
    correction says; the version it replaced is kept with who corrected it; a correction of
    another visit's record is refused; the same correction again changes nothing."""
    from service.db.records import correct_record, record_versions

    day = WEEK + dt.timedelta(days=1)
    base = VisitReport(
        "MH03-R00001", "health_check", day, ("MH03-T5-D", "MH03-T5-N"), tests=frozenset({"ecg"})
    )
    with Session(loaded.engine) as session:
        record_id = record_visit(session, base, today=day)
        fix = VisitReport(
            "MH03-R00001", "health_check", day, ("MH03-T5-N",), outcome=VisitOutcome.REFUSED
        )
        assert correct_record(session, record_id, fix, by="nurse5", reason="tapped", today=day)
        assert not correct_record(session, record_id, fix, by="nurse5", today=day)
        other = VisitReport("MH03-R00001", "followup_80", day, ("MH03-T5-N",))
        with pytest.raises(RecordError, match="not which visit it was"):
            correct_record(session, record_id, other, by="nurse5", today=day)
        session.commit()
        row = session.get(VisitRecordRow, record_id)
        assert row is not None
        assert (row.outcome, row.tests, row.clinician_ids) == (
            "refused",
            "",
            "MH03-T5-D;MH03-T5-N",
        )
        [old] = record_versions(session, record_id)
        assert (old.outcome, old.tests, old.superseded_by, old.reason) == (
            "completed",
            "ecg",
            "nurse5",
            "tapped",
        )
