"""Persistence: the registers, visit records and plans in a SQL database (SQLite or PostgreSQL)."""
