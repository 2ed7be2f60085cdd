"""Alembic migrations for Hauler's database (run with `hauler db upgrade`)."""
