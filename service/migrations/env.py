"""Alembic environment: runs on the engine :func:`service.db.session.upgrade` passes in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from service.db.session import make_engine
from service.db.tables import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    """Run the migrations in one transaction on the configured engine."""
    engine = config.attributes.get("engine")
    if not isinstance(engine, Engine):
        engine = make_engine()
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    raise SystemExit(
        "offline (SQL script) migrations are not supported; use `homevisit db upgrade`"
    )
run_migrations_online()
