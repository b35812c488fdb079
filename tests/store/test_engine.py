"""Engine set-up: URL normalisation, the SQLite file and its pragmas."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.pool import QueuePool

from dpp_store import JobStore
from dpp_store.engine import create_store_engine, normalise_url


@pytest.mark.parametrize(
    "url",
    [
        "postgres://app:secret@db.example:5432/jobs",
        "postgresql://app:secret@db.example:5432/jobs",
        "postgresql+psycopg://app:secret@db.example:5432/jobs",
    ],
)
def test_postgres_urls_use_psycopg(url: str) -> None:
    parsed = normalise_url(url)
    assert parsed.drivername == "postgresql+psycopg"
    assert (parsed.host, parsed.port, parsed.database) == ("db.example", 5432, "jobs")


def test_postgres_engine_does_not_connect_when_created() -> None:
    engine = create_store_engine("postgresql://nobody@127.0.0.1:1/none")
    assert isinstance(engine.pool, QueuePool)
    assert engine.pool.checkedout() == 0
    assert engine.pool.size() == 2
    engine.dispose()


def test_sqlite_file_gets_its_directory_and_wal(tmp_path: Path) -> None:
    database = tmp_path / "nested" / "deeper" / "jobs.db"
    engine = create_store_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as connection:
            mode = connection.execute(text("PRAGMA journal_mode")).scalar_one()
            busy = connection.execute(text("PRAGMA busy_timeout")).scalar_one()
        assert database.parent.is_dir()
        assert mode == "wal"
        assert busy > 0
    finally:
        engine.dispose()


def test_in_memory_sqlite_keeps_one_database() -> None:
    store = JobStore.from_url("sqlite://")
    try:
        store.migrate()
        assert store.get("nothing") is None
    finally:
        store.close()
