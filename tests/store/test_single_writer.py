"""SQLite writes of one store run on its one writer thread, whichever thread asks; reads and
PostgreSQL writes stay on the caller's thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from dpp_store import JobStore
from tests.store.factories import job_start


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[JobStore]:
    store = JobStore.from_url(f"sqlite:///{tmp_path / 'jobs.db'}", pool_size=4, max_overflow=4)
    store.migrate()
    try:
        yield store
    finally:
        store.close()


def _statement_threads(store: JobStore) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append((statement.split(maxsplit=1)[0].upper(), threading.current_thread().name))

    event.listen(store.engine, "before_cursor_execute", record)
    return seen


def test_concurrent_writers_all_write_on_the_one_writer_thread(sqlite_store: JobStore) -> None:
    seen = _statement_threads(sqlite_store)

    def run(index: int) -> None:
        sqlite_store.begin_many([job_start(f"job-{index}-{n}", n) for n in range(5)])
        sqlite_store.succeed_many({f"job-{index}-0": {"ok": index}})
        sqlite_store.fail(f"job-{index}-1", "Error: boom", dead=True)

    with ThreadPoolExecutor(6, thread_name_prefix="caller") as callers:
        list(callers.map(run, range(12)))
    writes = [thread for verb, thread in seen if verb in {"INSERT", "UPDATE", "BEGIN"}]
    assert writes and {name.rsplit("_", 1)[0] for name in writes} == {"dpp-store-writer"}
    assert sqlite_store.get("job-11-0") is not None
    assert seen[-1] == ("SELECT", threading.current_thread().name), "reads stay on the caller"


def test_the_store_works_again_after_close(sqlite_store: JobStore) -> None:
    sqlite_store.begin(job_start("before"))
    sqlite_store.close()
    sqlite_store.begin(job_start("after"))
    assert sqlite_store.get("after") is not None


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_postgres_writes_stay_on_the_caller(job_store: JobStore) -> None:
    seen = _statement_threads(job_store)
    job_store.begin(job_start("pg"))
    assert {thread for _, thread in seen} == {threading.current_thread().name}
