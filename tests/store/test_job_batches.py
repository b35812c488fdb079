"""Batched bookkeeping: begin_many and succeed_many in one transaction each."""

from __future__ import annotations

from dpp_shared.ids import new_id
from dpp_store import JobStatus, JobStore
from tests.store.factories import job_start


def test_begin_many_creates_bumps_and_skips_terminal(job_store: JobStore) -> None:
    finished, failed = new_id(), new_id()
    job_store.begin(job_start(finished))
    job_store.succeed(finished, {"n": 0})
    job_store.begin(job_start(failed))
    job_store.fail(failed, "retry me", dead=False)
    fresh = [new_id() for _ in range(1_200)]  # more than one statement's worth of rows

    records = job_store.begin_many(
        [job_start(job_id, offset) for offset, job_id in enumerate([finished, failed, *fresh])]
    )

    assert set(records) == {finished, failed, *fresh}
    assert records[finished].status is JobStatus.SUCCEEDED
    assert records[finished].attempts == 1
    assert records[failed].status is JobStatus.RUNNING
    assert records[failed].attempts == 2
    assert all(records[job_id].status is JobStatus.RUNNING for job_id in fresh)
    assert all(records[job_id].attempts == 1 for job_id in fresh)
    assert records[fresh[-1]].source_offset == len(fresh) + 1


def test_begin_many_with_a_duplicate_in_the_batch_counts_one_attempt(job_store: JobStore) -> None:
    job_id = new_id()
    records = job_store.begin_many([job_start(job_id, 1), job_start(job_id, 1)])
    assert records[job_id].attempts == 1


def test_empty_batches_do_nothing(job_store: JobStore) -> None:
    assert job_store.begin_many([]) == {}
    assert job_store.succeed_many({}) == set()


def test_succeed_many_reports_only_newly_succeeded(job_store: JobStore) -> None:
    ids = [new_id() for _ in range(1_100)]
    job_store.begin_many([job_start(job_id) for job_id in ids])
    already = ids[0]
    job_store.succeed(already, {"first": True})
    dead = ids[1]
    job_store.fail(dead, "gave up", dead=True)
    missing = new_id()

    won = job_store.succeed_many(
        {job_id: {"i": index, "text": "naïve ☃"} for index, job_id in enumerate([*ids, missing])}
    )

    assert won == set(ids[2:])
    sample = job_store.get(ids[500])
    assert sample is not None
    assert sample.status is JobStatus.SUCCEEDED
    assert sample.result == {"i": 500, "text": "naïve ☃"}
    assert sample.finished_at is not None
    first = job_store.get(already)
    assert first is not None
    assert first.result == {"first": True}
    still_dead = job_store.get(dead)
    assert still_dead is not None
    assert (still_dead.status, still_dead.result) == (JobStatus.DEAD, None)
    assert job_store.get(missing) is None
    assert job_store.succeed_many({job_id: {"again": True} for job_id in ids}) == set()


def test_batched_results_keep_every_float_digit_and_big_integer(job_store: JobStore) -> None:
    exact = {"sum": 0.1 + 0.2, "third": 1 / 3, "tiny": 5e-324, "big": 2**62, "neg": -0.0}
    job_id = new_id()
    job_store.begin_many([job_start(job_id)])
    assert job_store.succeed_many({job_id: exact}) == {job_id}
    record = job_store.get(job_id)
    assert record is not None
    assert record.result == exact
    assert record.result is not None
    assert repr(record.result["sum"]) == "0.30000000000000004"


def test_big_source_offsets_survive_the_batch(job_store: JobStore) -> None:
    job_id = new_id()
    records = job_store.begin_many([job_start(job_id, offset=2**62 + 7)])
    assert records[job_id].source_offset == 2**62 + 7
