"""Engines and sessions from the settings, and the schema commands (Alembic, by command only).

Nothing here runs at import: the CLI builds an engine per command with :func:`make_engine`, and
the schema is created or upgraded only by :func:`upgrade` (``homevisit db upgrade``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from service.settings import Settings, get_settings

__all__ = [
    "MIGRATIONS_DIR",
    "SchemaNotCurrentError",
    "alembic_config",
    "current_revision",
    "database_location",
    "embedded_ready",
    "head_revision",
    "make_engine",
    "make_sessionmaker",
    "require_current_schema",
    "upgrade",
]

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"


class SchemaNotCurrentError(Exception):
    """The database has no schema yet, or an older one: ``homevisit db upgrade`` is needed."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _sqlite_concurrent_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


def make_engine(
    url: str | None = None, settings: Settings | None = None, *, concurrent: bool = False
) -> Engine:
    """An engine for ``url`` (default: the ``database_url`` setting).

    SQLite gets foreign keys switched on and a busy timeout, so two writers wait for each other
    instead of failing at once. ``concurrent`` (the web service) also puts SQLite in WAL mode
    with ``synchronous = NORMAL``: readers no longer wait for a writer, and a commit (every read
    of a resident writes an audit row) no longer waits for the disk. A crash of the service loses
    nothing; a power cut may lose the last commits before it (SQLite's documented trade-off).
    """
    url = url or (settings or get_settings()).database_url
    parsed = make_url(url)
    # The web service runs its sync endpoints in a pool of up to 40 threads; a request holding a
    # connection may wait for a thread, so fewer connections than threads can deadlock the pool.
    pool = {"pool_size": 10, "max_overflow": 40} if concurrent else {}
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 30}, **pool)
        event.listen(engine, "connect", _sqlite_pragmas)
        if concurrent:
            event.listen(engine, "connect", _sqlite_concurrent_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, **pool)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine``; objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(engine: Engine) -> Config:
    """The Alembic configuration, built in code (no ``alembic.ini``) to run on ``engine``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create the schema or bring it up to ``revision`` (the latest by default)."""
    database = engine.url.database
    if engine.url.get_backend_name() == "sqlite" and database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(engine), revision)


def head_revision() -> str | None:
    """The latest migration of this version of homevisit."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at, or ``None`` for a database without the schema."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def database_location(settings: Settings | None = None) -> str:
    """Where the configured database is, in words (a URL's password hidden).

    The embedded default is named by its file and the folder's origin, so a user sees which file
    ``serve``, ``user add``, ``import`` and ``plan db`` share.
    """
    settings = settings or get_settings()
    if settings.database_is_embedded:
        path = make_url(settings.database_url).database
        origin = "HOMEVISIT_DATA_DIR" if settings.data_dir is not None else "per-user data folder"
        return f"{path} (embedded SQLite, {origin} / 内置数据库)"
    shown = make_url(settings.database_url).render_as_string(hide_password=True)
    return f"{shown} (HOMEVISIT_DATABASE_URL)"


def embedded_ready(engine: Engine, settings: Settings | None = None) -> None:
    """Create or upgrade the schema of the embedded default database; others are left alone.

    The embedded SQLite file needs no setup step: the first command that uses it (``serve``,
    ``user add``, ``import``, ...) creates it. Another database is changed only by
    ``homevisit db upgrade``.
    """
    settings = settings or get_settings()
    if settings.database_is_embedded and str(engine.url) == settings.database_url:
        upgrade(engine)


def require_current_schema(engine: Engine) -> None:
    """Raise :class:`SchemaNotCurrentError` unless the database is at the latest migration.

    Only reads: a database file that does not exist is not created.
    """
    database = engine.url.database
    is_file = engine.url.get_backend_name() == "sqlite" and database and database != ":memory:"
    if is_file and not Path(str(database)).exists():
        raise SchemaNotCurrentError(
            f"the database file {database} does not exist: run `homevisit db upgrade` first"
        )
    current, head = current_revision(engine), head_revision()
    if current is None:
        raise SchemaNotCurrentError(
            "the database has no homevisit schema: run `homevisit db upgrade` first"
        )
    if current != head:
        raise SchemaNotCurrentError(
            f"the database schema is at revision {current}, this homevisit needs {head}: "
            "run `homevisit db upgrade`"
        )
