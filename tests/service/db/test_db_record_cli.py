"""``homevisit record``: a visit recorded from the command line, and clear refusals (exit 2)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from service.cli import app
from service.db.importer import import_dataset
from service.db.tables import VisitRecordRow
from tests.service.db.conftest import Database

runner = CliRunner()
YESTERDAY = dt.date.today() - dt.timedelta(days=1)  # record_visit refuses future dates


@pytest.fixture
def loaded(db: Database, small_dataset: Path) -> Database:
    import_dataset(db.engine, small_dataset)
    return db


def _record(db: Database, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["record", *args, "--database-url", db.url])
    return result.exit_code, result.output


def test_record_a_follow_up_with_readings(loaded: Database) -> None:
    """A done follow-up is stored with its clinicians, note and readings."""
    code, output = _record(
        loaded,
        "--resident", "MH03-R00001",
        "--programme", "chronic_followup",
        "--date", YESTERDAY.isoformat(),
        "--clinician", "MH03-T5-D",
        "--clinician", "MH03-T5-N",
        "--bp", "135/85",
        "--glucose", "6.1",
        "--note", "血压控制尚可",
    )  # fmt: skip
    assert code == 0, output
    assert (
        f"Recorded chronic_followup of MH03-R00001 on {YESTERDAY} (completed 已完成) as record"
        in output
    )
    with Session(loaded.engine) as session:
        row = session.scalars(
            select(VisitRecordRow).where(
                VisitRecordRow.resident_id == "MH03-R00001",
                VisitRecordRow.visit_date == YESTERDAY,
            )
        ).one()
    assert (row.outcome, row.source, row.clinician_ids) == (
        "completed",
        "recorded",
        "MH03-T5-D;MH03-T5-N",
    )
    assert (row.systolic_mmhg, row.diastolic_mmhg, row.glucose_mmol_l, row.note) == (
        135,
        85,
        6.1,
        "血压控制尚可",
    )


def test_unknown_ids_and_a_future_date_are_refused(loaded: Database) -> None:
    """Every problem is listed, exit 2, no traceback, nothing stored."""
    future = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    code, output = _record(
        loaded,
        "--resident", "MH03-R99999",
        "--programme", "followup_99",
        "--date", future,
        "--clinician", "nobody",
        "--outcome", "missed",
    )  # fmt: skip
    assert code == 2
    for expected in (
        "Nothing was recorded:",
        "unknown resident 'MH03-R99999'",
        "unknown programme 'followup_99'",
        "unknown clinician 'nobody'",
        f"the date {future} is in the future",
    ):
        assert expected in output
    assert "Traceback" not in output
    with Session(loaded.engine) as session:
        assert (
            session.scalars(select(VisitRecordRow).where(VisitRecordRow.source == "recorded")).all()
            == []
        )


def test_implausible_readings_are_refused(loaded: Database) -> None:
    """A swapped blood pressure, a glucose in mg/dL and a malformed --bp are clear errors."""
    common = [
        "--resident",
        "MH03-R00001",
        "--programme",
        "chronic_followup",
        "--date",
        "2026-11-30",
    ]
    code, output = _record(
        loaded, *common, "--clinician", "MH03-T5-D", "--bp", "85/135", "--glucose", "110"
    )
    assert code == 2
    assert "were they swapped" in output
    assert "glucose 110.0 mmol/L is not plausible" in output
    code, output = _record(loaded, *common, "--clinician", "MH03-T5-D", "--bp", "135-85")
    assert code == 2
    assert "'135-85' is not a blood pressure: give it as 135/85" in output
    assert "Traceback" not in output
