"""The schema: created and upgraded by Alembic on command, equal to the table classes."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from service.cli import app
from service.db.exporter import load_dataset
from service.db.session import alembic_config, current_revision, head_revision, upgrade
from service.db.tables import Base
from tests.service.db.conftest import BACKENDS, Database, open_database

runner = CliRunner()


def test_upgrade_creates_every_table_at_the_latest_revision(empty_db: Database) -> None:
    """`db upgrade` on an empty database creates all tables and records the head revision."""
    assert current_revision(empty_db.engine) is None
    upgrade(empty_db.engine)
    assert current_revision(empty_db.engine) == head_revision()
    tables = set(inspect(empty_db.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_migrations_match_the_table_classes(db: Database) -> None:
    """Autogenerate finds nothing to do: the migrations build exactly the declared tables."""
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_upgrade_twice_changes_nothing(db: Database) -> None:
    """Upgrading an up-to-date database is a no-op."""
    before = db.snapshot()
    upgrade(db.engine)
    db.engine.dispose()
    assert db.snapshot() == before


def test_cli_db_upgrade_reports_the_revision(empty_db: Database) -> None:
    """`homevisit db upgrade` creates the schema, then says it is up to date."""
    first = runner.invoke(app, ["db", "upgrade", "--database-url", empty_db.url])
    assert first.exit_code == 0, first.output
    assert "upgraded from empty to revision" in first.output
    again = runner.invoke(app, ["db", "upgrade", "--database-url", empty_db.url])
    assert again.exit_code == 0, again.output
    assert "is up to date" in again.output


def test_import_without_schema_asks_for_upgrade_and_creates_nothing(
    empty_db: Database, small_dataset: object
) -> None:
    """Importing into a database without the schema exits 2, names the command, writes nothing."""
    before = empty_db.snapshot()
    result = runner.invoke(app, ["import", str(small_dataset), "--database-url", empty_db.url])
    assert result.exit_code == 2
    assert "homevisit db upgrade" in result.output
    empty_db.engine.dispose()
    assert empty_db.snapshot() == before


@pytest.mark.parametrize("backend", BACKENDS)
def test_migration_0009_keeps_stored_requests_on_their_own(backend: str, tmp_path: Path) -> None:
    """A database at 0008 with a request stored upgrades to pairs: the request is unchanged and
    on its own (no after_request_id, gaps 0); a downgrade drops the three columns and nothing
    else."""
    with open_database(backend, tmp_path, migrate=False) as database:
        upgrade(database.engine, "0008")
        with database.engine.begin() as connection:
            for statement in (
                "INSERT INTO centre (centre_id, name, lat, lon, district, active) "
                "VALUES ('C1', 'c', 31.1, 121.4, '', true)",
                "INSERT INTO committee (committee_id, centre_id, name, lat, lon, active) "
                "VALUES ('K1', 'C1', 'k', 31.1, 121.4, true)",
                "INSERT INTO resident (resident_id, name, birth_date, lat, lon, committee_id, "
                "team_id, centre_id, disability, hypertension, diabetes, home_sickbed, homebound, "
                "availability, conditions, address, phone, sex, active, signed) VALUES "
                "('R1', 'n', '1940-01-01', 31.1, 121.4, 'K1', 'T1', 'C1', 'none', false, false, "
                "false, false, '', '', '', '', '', true, true)",
                "INSERT INTO service_request (request_id, resident_id, service, earliest_date, "
                "latest_date, window_start_min, window_end_min, duration_min, skills) VALUES "
                "('Q1', 'R1', 'tcm', '2026-12-01', '2026-12-02', 480, 660, 45, '')",
            ):
                connection.execute(text(statement))
        upgrade(database.engine)
        with Session(database.engine) as session:
            (request,) = load_dataset(session).requests
        assert (request.request_id, request.window.start_min, request.duration_min) == (
            "Q1",
            480,
            45,
        )
        assert (request.after_request_id, request.min_gap_min, request.max_gap_min) == (None, 0, 0)
        command.downgrade(alembic_config(database.engine), "0008")
        columns = {c["name"] for c in inspect(database.engine).get_columns("service_request")}
        assert not columns & {"after_request_id", "min_gap_min", "max_gap_min"}
        with database.engine.connect() as connection:
            kept = connection.execute(text("SELECT request_id FROM service_request")).scalars()
            assert list(kept) == ["Q1"]
