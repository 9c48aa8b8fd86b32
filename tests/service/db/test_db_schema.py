"""The schema: created and upgraded by Alembic on command, equal to the table classes."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from typer.testing import CliRunner

from service.cli import app
from service.db.session import current_revision, head_revision, upgrade
from service.db.tables import Base
from tests.service.db.conftest import Database

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
