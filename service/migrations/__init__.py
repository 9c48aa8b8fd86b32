"""Alembic migrations of the homevisit database (run by ``homevisit db upgrade``)."""
