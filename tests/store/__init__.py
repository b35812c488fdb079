"""Tests of the job store and the idempotency store, on SQLite and PostgreSQL."""
