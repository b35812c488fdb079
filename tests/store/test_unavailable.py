"""An unreachable or restarting database raises StoreUnavailableError, then works again."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest

from dpp_shared.ids import new_id
from dpp_store import JobStatus, JobStore, StoreUnavailableError
from dpp_store.engine import create_store_engine
from tests.fixtures.database import PostgresServer, fresh_postgres_database
from tests.store.factories import job_start


def test_unreachable_postgres_is_unavailable_not_a_crash() -> None:
    store = JobStore.from_url("postgresql://nobody@127.0.0.1:1/none")
    try:
        with pytest.raises(StoreUnavailableError) as raised:
            store.get(new_id())
        assert raised.value.operation == "reading a job"
    finally:
        store.close()


@pytest.mark.slow
def test_store_survives_a_postgres_restart(request: pytest.FixtureRequest) -> None:
    if os.environ.get("DPP_TEST_POSTGRES_URL"):
        pytest.skip("restarting needs the server the tests started themselves")
    server: PostgresServer = request.getfixturevalue("postgres_server")
    with fresh_postgres_database(server.url) as url:
        store = JobStore.from_url(url)
        try:
            store.migrate()
            job_id = new_id()
            store.begin(job_start(job_id))

            server.stop()
            try:
                with pytest.raises(StoreUnavailableError):
                    store.get(job_id)
                with pytest.raises(StoreUnavailableError):
                    store.succeed(job_id, {"during": "outage"})
            finally:
                server.start()

            # The same store object recovers: the pool replaces its dead connections.
            deadline = time.monotonic() + 30
            while True:
                try:
                    assert store.succeed(job_id, {"after": "restart"}) is True
                    break
                except StoreUnavailableError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            record = store.get(job_id)
            assert record is not None
            assert (record.status, record.result) == (JobStatus.SUCCEEDED, {"after": "restart"})
        finally:
            store.close()


def test_sqlite_lock_held_past_the_busy_timeout_is_unavailable(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    store = JobStore(create_store_engine(url, sqlite_busy_timeout_ms=50))
    store.migrate()
    job_id = new_id()
    store.begin(job_start(job_id))
    other_writer = sqlite3.connect(tmp_path / "jobs.db", isolation_level=None)
    try:
        other_writer.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreUnavailableError):
            store.succeed(job_id, {"blocked": True})
        assert store.get(job_id) is not None  # WAL: reading goes on while the writer waits
        other_writer.execute("ROLLBACK")
        assert store.succeed(job_id, {"blocked": False}) is True
    finally:
        other_writer.close()
        store.close()
