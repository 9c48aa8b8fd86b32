"""Plan jobs run on what the database holds: a pair of requests stays linked."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
from sqlalchemy import insert
from sqlalchemy.orm import Session

from scheduler.model import Plan
from service.db.importer import import_dataset
from service.db.plans import load_plan
from service.db.tables import JobStatus, PlanJobRow, ResidentRow, ServiceRequestRow
from service.worker import run_job
from tests.service.api.conftest import settings_for
from tests.service.db.conftest import BACKENDS, PAIR_WEEK, Database, open_database, paired_register


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_plan_job_keeps_an_imported_pair_linked(backend: str, tmp_path: Path) -> None:
    """A register uploaded with a pair, then planned by a job: the therapist's exercises start
    30-120 min after the nurse's dressing starts, the same day, by another clinician."""
    with open_database(backend, tmp_path) as db:
        plan = _planned_by_a_job(db, tmp_path)
    stops = {s.visit_id: s for r in plan.routes for s in r.stops}
    first, second = stops["request-PAIR-1"], stops["request-PAIR-2"]
    assert first.day == second.day == dt.date(2026, 12, 1)
    assert first.clinician_id != second.clinician_id
    assert 30 <= second.start_min - first.start_min <= 120


def _planned_by_a_job(db: Database, tmp_path: Path) -> Plan:
    """The paired register imported, its pair's team planned by a job run here; the plan."""
    settings = settings_for(db.url)
    import_dataset(db.engine, paired_register(tmp_path / "paired"), settings)
    with Session(db.engine) as session:
        request = session.get(ServiceRequestRow, "PAIR-1")
        assert request is not None
        resident = session.get(ResidentRow, request.resident_id)
        assert resident is not None
        job_id = session.execute(
            insert(PlanJobRow)
            .values(
                centre_id=resident.centre_id,
                team_id=resident.team_id,
                week_start=PAIR_WEEK,
                options={"kind": "plan", "time_limit_s": 2},
                status=JobStatus.RUNNING.value,
                requested_by="admin",
                created_at=dt.datetime.now(dt.UTC),
            )
            .returning(PlanJobRow.job_id)
        ).scalar_one()
        session.commit()
    run_job(settings, job_id, threading.Event(), engine=db.engine)
    with Session(db.engine) as session:
        job = session.get(PlanJobRow, job_id)
        assert job is not None and job.status == JobStatus.DONE.value, job and job.error
        assert job.plan_id is not None
        return load_plan(session, job.plan_id)
