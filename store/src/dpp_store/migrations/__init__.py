"""Alembic migrations of the job store, run programmatically by dpp_store.migration."""
