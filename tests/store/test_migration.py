"""Schema migrations: idempotent, safe when processes race, and in agreement with the models."""

from __future__ import annotations

import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from dpp_store import IdempotencyStore, JobStore
from dpp_store.engine import create_store_engine
from dpp_store.migration import (
    HEAD_REVISION,
    VERSION_TABLE,
    alembic_config,
    current_revision,
    head_revision,
)
from dpp_store.schema import Base

# Imports first, then waits for "go" on stdin: the parent releases all processes at once.
MIGRATE_IN_A_PROCESS = (
    "import sys\n"
    "from dpp_store import JobStore\n"
    "store = JobStore.from_url(sys.argv[1])\n"
    "print('ready', flush=True)\n"
    "sys.stdin.readline()\n"
    "store.migrate()\n"
)


def test_head_revision_constant_matches_the_migration_scripts() -> None:
    assert head_revision() == HEAD_REVISION


def test_migrate_creates_the_schema_and_is_idempotent(database_url: str) -> None:
    store = JobStore.from_url(database_url)
    try:
        assert current_revision(store.engine) is None
        store.migrate()
        store.migrate()
        IdempotencyStore(store.engine).migrate()

        assert current_revision(store.engine) == head_revision()
        tables = set(inspect(store.engine).get_table_names())
        assert {"jobs", "idempotency_keys", VERSION_TABLE} <= tables
    finally:
        store.close()


def test_models_and_migrations_agree(database_url: str) -> None:
    store = JobStore.from_url(database_url)
    try:
        store.migrate()
        with store.engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"version_table": VERSION_TABLE, "compare_type": True}
            )
            differences = compare_metadata(context, Base.metadata)
        assert differences == []
    finally:
        store.close()


def test_downgrade_to_base_and_upgrade_again(database_url: str) -> None:
    store = JobStore.from_url(database_url)
    try:
        store.migrate()
        config = alembic_config()
        with store.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "base")
        assert "jobs" not in inspect(store.engine).get_table_names()
        store.migrate()
        assert current_revision(store.engine) == head_revision()
    finally:
        store.close()


@pytest.mark.slow
def test_concurrent_migrations_from_processes_and_threads(database_url: str) -> None:
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATE_IN_A_PROCESS, database_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for process in processes:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
    racers = 2
    barrier = threading.Barrier(racers + 1)

    def migrate_in_thread(_: int) -> None:
        store = JobStore.from_url(database_url)
        try:
            barrier.wait(timeout=30)
            store.migrate()
        finally:
            store.close()

    with ThreadPoolExecutor(racers) as pool:
        migrations = [pool.submit(migrate_in_thread, index) for index in range(racers)]
        barrier.wait(timeout=30)
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        for migration in migrations:
            migration.result(timeout=120)
    for process in processes:
        _stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr

    engine = create_store_engine(database_url)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()
