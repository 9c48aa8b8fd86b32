"""What the official tables need, recorded: outcomes in one vocabulary, a health check's tests,
the visit's place, home sick-beds opened and discharged, and stored rows migrated."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from scheduler.model import VisitOutcome
from service.cli import app
from service.db.importer import import_dataset
from service.db.session import upgrade
from service.db.tables import ResidentRow, SickbedEpisodeRow, VisitRecordRow
from tests.service.db.conftest import Database, open_database

runner = CliRunner()
YESTERDAY = dt.date.today() - dt.timedelta(days=1)
CHECKED = "MH03-R00001"  # disabled: eligible for the health check
CHECK_TESTS = ("blood_routine", "urine_routine", "liver", "kidney", "lipids", "ecg")


@pytest.fixture
def loaded(db: Database, small_dataset: Path) -> Database:
    import_dataset(db.engine, small_dataset)
    return db


def _run(db: Database, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, [*args, "--database-url", db.url])
    return result.exit_code, result.output


def _record_row(db: Database, resident: str, programme: str) -> VisitRecordRow:
    with Session(db.engine) as session:
        return session.scalars(
            select(VisitRecordRow).where(
                VisitRecordRow.resident_id == resident,
                VisitRecordRow.programme == programme,
                VisitRecordRow.visit_date == YESTERDAY,
            )
        ).one()


def test_outcome_vocabulary_is_the_apis_with_the_old_words_as_aliases(loaded: Database) -> None:
    """`--outcome` takes the API's words (and their Chinese labels); `missed` still works, is
    stored as not_home and says it is deprecated; an unknown word lists the accepted ones."""
    base = ["record", "--resident", CHECKED, "--clinician", "MH03-T5-D"]
    code, output = _run(
        loaded, *base, "--programme", "followup_80", "--date", str(YESTERDAY), "--outcome", "missed"
    )
    assert code == 0, output
    assert "deprecated" in output and "not_home" in output
    assert _record_row(loaded, CHECKED, "followup_80").outcome == "not_home"
    code, output = _run(
        loaded,
        *base,
        "--programme",
        "rehab_guidance",
        "--date",
        str(YESTERDAY),
        "--outcome",
        "住院",
    )
    assert code == 0, output
    assert _record_row(loaded, CHECKED, "rehab_guidance").outcome == "hospitalised"
    code, output = _run(
        loaded, *base, "--programme", "sickbed_round", "--date", str(YESTERDAY), "--outcome", "gone"
    )
    assert code == 2
    assert "'gone' is not an outcome" in output
    for outcome in VisitOutcome:
        assert outcome.value in output


def test_health_check_tests_default_to_the_programmes(loaded: Database) -> None:
    """A health check recorded without --tests did the programme's tests (no B-ultrasound); with
    --tests exactly those; tests on another programme are refused."""
    base = ["record", "--resident", CHECKED, "--clinician", "MH03-T5-D", "--date", str(YESTERDAY)]
    code, output = _run(loaded, *base, "--programme", "health_check")
    assert code == 0, output
    row = _record_row(loaded, CHECKED, "health_check")
    assert row.tests == ";".join(CHECK_TESTS)
    assert row.place == "home"
    code, output = _run(
        loaded, *base, "--programme", "chronic_followup", "--tests", "ecg", "--bp", "130/80"
    )
    assert code == 2
    assert "health check only" in output


def test_committee_sessions_are_recorded_at_the_committee(loaded: Database) -> None:
    """A medicine delivery is at the committee unless the record says home; a follow-up at home
    may be recorded as held at the committee (then Annex 3 does not count it)."""
    base = ["record", "--resident", CHECKED, "--clinician", "MH03-T5-N", "--date", str(YESTERDAY)]
    assert _run(loaded, *base, "--programme", "medicine_delivery")[0] == 0
    assert _record_row(loaded, CHECKED, "medicine_delivery").place == "committee"
    assert _run(loaded, *base, "--programme", "followup_80", "--place", "committee")[0] == 0
    assert _record_row(loaded, CHECKED, "followup_80").place == "committee"


def test_sickbed_open_and_discharge(loaded: Database) -> None:
    """Opening a sick-bed flags the resident for rounds; a second opening is refused; discharge
    closes the episode, keeps the reason given and clears the flag; a discharge before the
    opening is refused."""
    resident = "MH03-R00002"
    opened = YESTERDAY - dt.timedelta(days=30)
    code, output = _run(loaded, "sickbed", "open", "--resident", resident, "--date", str(opened))
    assert code == 0, output
    code, output = _run(loaded, "sickbed", "open", "--resident", resident, "--date", str(opened))
    assert code == 2 and "discharge it first" in output
    early = opened - dt.timedelta(days=1)
    code, output = _run(
        loaded, "sickbed", "discharge", "--resident", resident, "--date", str(early)
    )
    assert code == 2 and "before the opening date" in output
    code, output = _run(
        loaded, "sickbed", "discharge", "--resident", resident, "--date", str(YESTERDAY),
        "--reason", "病情好转",
    )  # fmt: skip
    assert code == 0, output
    with Session(loaded.engine) as session:
        episode = session.scalars(
            select(SickbedEpisodeRow).where(SickbedEpisodeRow.resident_id == resident)
        ).one()
        assert (episode.opened, episode.discharged) == (opened, YESTERDAY)
        assert episode.discharge_reason == "病情好转"
        row = session.get(ResidentRow, resident)
        assert row is not None and row.home_sickbed is False


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migration_brings_stored_rows_into_one_vocabulary(backend: str, tmp_path: Path) -> None:
    """Rows stored before 0004 with the CLI's old words become completed / not_home; their place
    follows the programme; a completed health check gets the programme's tests."""
    with open_database(backend, tmp_path, migrate=False) as database:
        upgrade(database.engine, "0003")
        with database.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO centre (centre_id, name, lat, lon, district, active) "
                    "VALUES ('C1', 'c', 31.1, 121.4, '', true)"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO committee (committee_id, centre_id, name, lat, lon, active) "
                    "VALUES ('K1', 'C1', 'k', 31.1, 121.4, true)"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO resident (resident_id, name, birth_date, lat, lon, committee_id, "
                    "team_id, centre_id, disability, hypertension, diabetes, home_sickbed, "
                    "homebound, availability, conditions, address, phone, sex, active) VALUES "
                    "('R1', 'n', '1940-01-01', 31.1, 121.4, 'K1', 'T1', 'C1', 'full', false, "
                    "false, false, false, '', '', '', '', '', true)"
                )
            )
            old = [
                ("health_check", "done"),
                ("medicine_delivery", "done"),
                ("followup_80", "missed"),
            ]
            for day, (programme, outcome) in enumerate(old, start=1):
                connection.execute(
                    text(
                        "INSERT INTO visit_record (resident_id, programme, visit_date, outcome, "
                        "source, clinician_ids, note) VALUES ('R1', :p, :d, :o, 'recorded', '', '')"
                    ),
                    {"p": programme, "d": dt.date(2026, 1, day), "o": outcome},
                )
        upgrade(database.engine)
        with database.engine.connect() as connection:
            rows = connection.execute(
                text("SELECT programme, outcome, place, tests FROM visit_record ORDER BY programme")
            ).all()
            signed = connection.execute(text("SELECT signed FROM resident")).scalar_one()
    assert [tuple(r) for r in rows] == [
        ("followup_80", "not_home", "home", ""),
        (
            "health_check",
            "completed",
            "home",
            "blood_routine;urine_routine;liver;kidney;lipids;ecg",
        ),
        ("medicine_delivery", "completed", "committee", ""),
    ]
    assert signed in (True, 1)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migration_gives_stored_records_the_residents_flags(backend: str, tmp_path: Path) -> None:
    """Records stored before 0006 take the resident's disability, hypertension and diabetes as
    they are (the best known); a discharged sick-bed the disability, an open one nothing."""
    with open_database(backend, tmp_path, migrate=False) as database:
        upgrade(database.engine, "0005")
        with database.engine.begin() as connection:
            for statement in (
                "INSERT INTO centre (centre_id, name, lat, lon, district, active) "
                "VALUES ('C1', 'c', 31.1, 121.4, '', true)",
                "INSERT INTO committee (committee_id, centre_id, name, lat, lon, active) "
                "VALUES ('K1', 'C1', 'k', 31.1, 121.4, true)",
                "INSERT INTO resident (resident_id, name, birth_date, lat, lon, committee_id, "
                "team_id, centre_id, disability, hypertension, diabetes, home_sickbed, homebound, "
                "availability, conditions, address, phone, sex, active, signed) VALUES "
                "('R1', 'n', '1940-01-01', 31.1, 121.4, 'K1', 'T1', 'C1', 'semi', true, false, "
                "false, false, '', '', '', '', '', true, true)",
                "INSERT INTO visit_record (resident_id, programme, visit_date, outcome, source, "
                "clinician_ids, note, tests, place) VALUES ('R1', 'chronic_followup', "
                "'2026-01-05', 'completed', 'import', '', '', '', 'home')",
                "INSERT INTO sickbed_episode (resident_id, opened, discharged, source) VALUES "
                "('R1', '2026-01-01', '2026-01-20', 'import'), "
                "('R1', '2026-02-01', NULL, 'import')",
            ):
                connection.execute(text(statement))
        upgrade(database.engine)
        with database.engine.connect() as connection:
            record = connection.execute(
                text("SELECT disability, hypertension, diabetes FROM visit_record")
            ).one()
            episodes = connection.execute(
                text("SELECT disability FROM sickbed_episode ORDER BY opened")
            ).scalars()
            assert (record[0], bool(record[1]), bool(record[2])) == ("semi", True, False)
            assert list(episodes) == ["semi", None]
