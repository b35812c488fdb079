"""finish_many: begin and succeed of fast jobs in one statement, never a duplicate result."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from dpp_shared.ids import new_id
from dpp_store import JobStatus, JobStore
from dpp_store.engine import create_store_engine
from tests.store.factories import job_start


def test_finish_many_inserts_bumps_and_leaves_terminal_jobs_alone(job_store: JobStore) -> None:
    finished, dead, failed = new_id(), new_id(), new_id()
    job_store.begin(job_start(finished))
    job_store.succeed(finished, {"first": True})
    job_store.begin(job_start(dead))
    job_store.fail(dead, "gave up", dead=True)
    job_store.begin(job_start(failed))
    job_store.fail(failed, "retry me", dead=False)
    fresh = [new_id() for _ in range(1_200)]  # more than one IN list's worth of rows
    everything = [finished, dead, failed, *fresh]
    starts = [job_start(job_id, offset) for offset, job_id in enumerate(everything)]

    won = job_store.finish_many(
        starts, {job_id: {"n": 1, "text": "naïve ☃"} for job_id in everything}
    )

    assert won == {failed, *fresh}
    records = job_store.get_many(everything)
    assert set(records) == set(everything)
    assert (records[finished].status, records[finished].result) == (
        JobStatus.SUCCEEDED,
        {"first": True},
    )
    assert (records[dead].status, records[dead].result) == (JobStatus.DEAD, None)
    assert (records[failed].status, records[failed].attempts) == (JobStatus.SUCCEEDED, 2)
    assert records[failed].error is None
    sample = records[fresh[-1]]
    assert (sample.status, sample.attempts, sample.progress) == (JobStatus.SUCCEEDED, 1, 1.0)
    assert sample.result == {"n": 1, "text": "naïve ☃"}
    assert sample.source_offset == len(everything) - 1
    assert sample.started_at is not None and sample.finished_at is not None
    assert (
        job_store.finish_many(starts, {job_id: {"again": True} for job_id in everything}) == set()
    )
    again = job_store.get(fresh[0])
    assert again is not None and again.result == {"n": 1, "text": "naïve ☃"}


def test_finish_many_keeps_every_float_digit_and_counts_a_duplicate_once(
    job_store: JobStore,
) -> None:
    exact = {"sum": 0.1 + 0.2, "tiny": 5e-324, "big": 2**62, "neg": -0.0}
    job_id = new_id()
    assert job_store.finish_many([job_start(job_id), job_start(job_id)], {job_id: exact}) == {
        job_id
    }
    record = job_store.get(job_id)
    assert record is not None
    assert record.result == exact
    assert record.attempts == 1


def test_empty_finish_and_read_do_nothing(job_store: JobStore) -> None:
    assert job_store.finish_many([], {}) == set()
    assert job_store.get_many([]) == {}
    assert job_store.get_many([new_id()]) == {}


def test_get_many_returns_the_existing_among_missing_ids(job_store: JobStore) -> None:
    present = [new_id() for _ in range(3)]
    job_store.finish_many(
        [job_start(job_id, n) for n, job_id in enumerate(present)],
        {job_id: {"n": n} for n, job_id in enumerate(present)},
    )
    asked = [new_id(), present[0], new_id(), present[2], present[0]]

    records = job_store.get_many(asked)

    assert set(records) == {present[0], present[2]}
    assert records[present[2]].result == {"n": 2}
    assert records[present[2]].source_offset == 2
    assert records[present[0]].status is JobStatus.SUCCEEDED


@pytest.mark.parametrize("microsecond", [89, 0])  # whole seconds: no text may drop ".000000"
def test_finish_many_stores_times_exactly_as_the_other_writes(
    database_url: str, microsecond: int
) -> None:
    """The batch path binds its timestamp itself (SQLite: raw statements); it must store the
    same instant in the same form as the single-job calls, or text comparisons of
    `updated_at` (lag status, heartbeats) would order the two kinds of rows wrongly."""
    instant = datetime(2026, 3, 4, 5, 6, 7, microsecond, tzinfo=timezone(timedelta(hours=2)))
    store = JobStore(create_store_engine(database_url), clock=lambda: instant)
    store.migrate()
    try:
        batched, single = new_id(), new_id()
        store.finish_many([job_start(batched)], {batched: {}})
        store.begin(job_start(single))
        store.succeed(single, {})
        records = store.get_many([batched, single])
        for record in records.values():
            assert record.created_at == record.finished_at == instant
            assert record.created_at.tzinfo is UTC
        with store.engine.connect() as connection:
            rows = connection.execute(
                text("SELECT id, CAST(finished_at AS TEXT) FROM jobs WHERE id IN (:a, :b)"),
                {"a": batched, "b": single},
            ).all()
        stored: dict[str, str] = dict(rows)
        assert stored[batched] == stored[single]
    finally:
        store.close()
