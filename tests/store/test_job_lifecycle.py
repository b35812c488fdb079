"""A job's life in the store: begin, progress, checkpoints, success, failure and death."""

from __future__ import annotations

import json
from datetime import UTC

import pytest

from dpp_shared.ids import new_id
from dpp_store import JobNotFoundError, JobStatus, JobStore
from tests.store.factories import ManualClock, job_start


def test_begin_creates_a_running_record_with_its_source(job_store: JobStore) -> None:
    job_id = new_id()
    assert job_store.get(job_id) is None

    record = job_store.begin(job_start(job_id, offset=42))

    assert record.id == job_id
    assert record.status is JobStatus.RUNNING
    assert record.attempts == 1
    assert record.progress == 0.0
    assert (record.source_topic, record.source_partition, record.source_offset) == (
        "persona.embedding",
        0,
        42,
    )
    assert record.correlation_id == f"corr-{job_id}"
    assert record.created_at.tzinfo is UTC
    assert record.started_at is not None
    assert record.finished_at is None
    assert not record.is_terminal
    assert job_store.get(job_id) == record


def test_lifecycle_to_success(job_store: JobStore) -> None:
    job_id = new_id()
    job_store.begin(job_start(job_id))
    job_store.report_progress(job_id, 0.5, "half the batch embedded")
    halfway = job_store.get(job_id)
    assert halfway is not None
    assert (halfway.progress, halfway.progress_message) == (0.5, "half the batch embedded")

    assert job_store.succeed(job_id, {"vectors": 3, "dims": [384]}) is True

    done = job_store.get(job_id)
    assert done is not None
    assert done.status is JobStatus.SUCCEEDED
    assert done.is_terminal
    assert done.result == {"vectors": 3, "dims": [384]}
    assert done.progress == 1.0
    assert done.finished_at is not None
    assert done.finished_at >= done.created_at
    view = done.as_dict()
    assert json.loads(json.dumps(view)) == view
    assert view["status"] == "succeeded"
    assert view["source"] == {"topic": "persona.embedding", "partition": 0, "offset": 0}


def test_redelivery_after_success_is_not_run_again(job_store: JobStore) -> None:
    job_id = new_id()
    job_store.begin(job_start(job_id, offset=1))
    job_store.succeed(job_id, {"answer": 1})

    again = job_store.begin(job_start(job_id, offset=1))

    assert again.is_terminal
    assert again.status is JobStatus.SUCCEEDED
    assert again.attempts == 1
    assert again.result == {"answer": 1}
    assert job_store.succeed(job_id, {"answer": 2}) is False
    assert job_store.fail(job_id, "late failure", dead=True) is False
    final = job_store.get(job_id)
    assert final is not None
    assert (final.status, final.result, final.error) == (JobStatus.SUCCEEDED, {"answer": 1}, None)


def test_failure_with_retry_then_dead(job_store: JobStore) -> None:
    job_id = new_id()
    job_store.begin(job_start(job_id))
    assert job_store.fail(job_id, "model timed out", dead=False) is True
    failed = job_store.get(job_id)
    assert failed is not None
    assert (failed.status, failed.error, failed.finished_at) == (
        JobStatus.FAILED,
        "model timed out",
        None,
    )
    assert not failed.is_terminal

    retried = job_store.begin(job_start(job_id, offset=7, topic="persona.embedding.retry.1"))
    assert retried.status is JobStatus.RUNNING
    assert retried.attempts == 2
    assert retried.source_topic == "persona.embedding.retry.1"

    assert job_store.fail(job_id, "model timed out again", dead=True) is True
    dead = job_store.get(job_id)
    assert dead is not None
    assert dead.status is JobStatus.DEAD
    assert dead.is_terminal
    assert dead.error == "model timed out again"
    assert dead.finished_at is not None
    assert job_store.begin(job_start(job_id)).status is JobStatus.DEAD
    assert job_store.succeed(job_id, {"too": "late"}) is False


def test_checkpoint_round_trip(job_store: JobStore) -> None:
    job_id = new_id()
    job_store.begin(job_start(job_id))
    assert job_store.load_checkpoint(job_id) is None

    checkpoint = {"next_shard": 3, "done": ["a", "b"], "ratio": 0.25, "nested": {"ok": True}}
    job_store.save_checkpoint(job_id, checkpoint)
    assert job_store.load_checkpoint(job_id) == checkpoint

    job_store.fail(job_id, "worker lost", dead=False)
    job_store.begin(job_start(job_id))
    assert job_store.load_checkpoint(job_id) == checkpoint  # the retry resumes from it


def test_unknown_job_raises_not_found(job_store: JobStore) -> None:
    missing = new_id()
    assert job_store.load_checkpoint(missing) is None
    with pytest.raises(JobNotFoundError):
        job_store.report_progress(missing, 0.1)
    with pytest.raises(JobNotFoundError):
        job_store.save_checkpoint(missing, {"a": 1})
    with pytest.raises(JobNotFoundError):
        job_store.fail(missing, "boom", dead=True)
    assert job_store.succeed(missing, {"a": 1}) is False


def test_progress_outside_unit_interval_is_rejected(job_store: JobStore) -> None:
    job_id = new_id()
    job_store.begin(job_start(job_id))
    with pytest.raises(ValueError, match="progress"):
        job_store.report_progress(job_id, 1.5)


def test_progress_after_the_end_changes_nothing(job_store: JobStore) -> None:
    job_id = new_id()
    job_store.begin(job_start(job_id))
    job_store.succeed(job_id, {})
    job_store.report_progress(job_id, 0.2, "stale")
    record = job_store.get(job_id)
    assert record is not None
    assert (record.progress, record.progress_message) == (1.0, None)


def test_a_checkpoint_and_its_progress_are_one_write(job_store: JobStore) -> None:
    job_id = new_id()
    job_store.begin(job_start(job_id))
    job_store.report_progress(job_id, 0.1, "before")
    job_store.save_checkpoint(job_id, {"done": 3})  # without progress: progress untouched
    record = job_store.get(job_id)
    assert record is not None and (record.progress, record.progress_message) == (0.1, "before")

    job_store.save_checkpoint(job_id, {"done": 5}, progress=0.5, message="5/10")
    record = job_store.get(job_id)
    assert record is not None and (record.progress, record.progress_message) == (0.5, "5/10")
    assert job_store.load_checkpoint(job_id) == {"done": 5}
    with pytest.raises(ValueError, match="progress"):
        job_store.save_checkpoint(job_id, {"done": 6}, progress=1.5)
    assert job_store.load_checkpoint(job_id) == {"done": 5}


def test_heartbeat_touches_running_jobs_only(database_url: str, clock: ManualClock) -> None:
    """A worker's heartbeat moves `updated_at` of its running jobs (the lag status reads it);
    a finished job, a failed attempt waiting for its retry and an unknown id are left alone."""
    store = JobStore.from_url(database_url, clock=clock)
    store.migrate()
    try:
        running, done, failed = new_id(), new_id(), new_id()
        for job_id in (running, done, failed):
            store.begin(job_start(job_id))
        store.succeed(done, {})
        store.fail(failed, "transient", dead=False)
        before = {job_id: store.get(job_id) for job_id in (running, done, failed)}

        clock.advance(45)
        assert store.heartbeat([running, done, failed, "never-seen"]) == 1

        after = store.get(running)
        assert after is not None and after.updated_at == clock.now
        assert after.status is JobStatus.RUNNING and after.progress == 0.0
        assert store.get(done) == before[done] and store.get(failed) == before[failed]
    finally:
        store.close()
