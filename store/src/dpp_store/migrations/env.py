"""Alembic environment: runs on the connection handed over by dpp_store.migration."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from dpp_store.migration import VERSION_TABLE
from dpp_store.schema import Base

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError(
        "run job-store migrations through dpp_store (JobStore.migrate()), not the CLI"
    )

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
