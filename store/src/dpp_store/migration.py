"""Schema migration of the job store: Alembic upgrade to head, safe to run from many processes."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, exc, inspect, text

from dpp_store.engine import WRITE_OPTION, translate_unavailable
from dpp_store.errors import StoreMigrationError

if TYPE_CHECKING:
    from alembic.config import Config

# Our own version table, so the job store can share a database with other Alembic projects.
VERSION_TABLE = "dpp_store_alembic_version"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# The newest revision in migrations/versions (a test keeps the two in step). Knowing it without
# loading Alembic keeps the already-migrated case, every start of every Lambda, cheap.
HEAD_REVISION = "0002"
# Any constant both processes agree on; pg_advisory_xact_lock serialises concurrent upgrades.
_ADVISORY_LOCK_KEY = 0x6470705F73746F72  # "dpp_stor"
# Alembic keeps its running context in module globals: one upgrade per process at a time.
_process_lock = threading.Lock()


def alembic_config() -> Config:
    """An Alembic configuration built in code, so no alembic.ini is needed anywhere."""
    from alembic.config import Config  # noqa: PLC0415 - Alembic is only needed to upgrade

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    """The head revision according to the migration scripts themselves."""
    from alembic.script import ScriptDirectory  # noqa: PLC0415 - see alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise StoreMigrationError("the job-store migrations have no head revision")
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, None for an empty database."""
    with translate_unavailable("reading the schema revision"), engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        revision: str | None = connection.execute(
            text(f"SELECT version_num FROM {VERSION_TABLE}")  # noqa: S608 - a constant
        ).scalar_one_or_none()
        return revision


def upgrade_to_head(engine: Engine) -> None:
    """Bring the schema to the newest revision; a no-op when it is already there.

    PostgreSQL: the upgrade runs in one transaction (DDL is transactional) holding an advisory
    lock, so a second process waits and then finds the schema at head. SQLite: the transaction
    starts with BEGIN IMMEDIATE, whose file lock plays the same part.
    """
    if current_revision(engine) == HEAD_REVISION:
        return  # the common case at every start: no lock, no Alembic to import
    from alembic import command  # noqa: PLC0415 - see alembic_config

    config = alembic_config()
    with (
        _process_lock,
        translate_unavailable("migrating the schema"),
        engine.execution_options(**{WRITE_OPTION: True}).begin() as connection,
    ):
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY}
            )
        config.attributes["connection"] = connection
        try:
            command.upgrade(config, "head")
        except Exception as error:
            if isinstance(error, StoreMigrationError):
                raise
            if isinstance(error, exc.OperationalError | exc.InterfaceError):
                raise  # translate_unavailable turns these into StoreUnavailableError
            raise StoreMigrationError(f"upgrading the job-store schema failed: {error}") from error
