"""The worker under faults: SIGKILL mid-job again and again, PostgreSQL restarted under it.
Every job must end exactly once (one terminal row, one job.completed record), none lost."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from dpp_shared.topics import RESULTS_TOPIC, TopicNamespace
from dpp_store import JobStatus, JobStore
from tests.consumer.harness import produce_echo, read_topic
from tests.faults.conftest import WorkerFactory, completed_job_ids, tally
from tests.fixtures.database import PostgresServer, fresh_postgres_database
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

JOBS_PER_SESSION = 100
SESSIONS = 3  # three keys: the jobs spread over the demo topic's partitions
KILLS = 3
# A short session timeout so a killed member's partitions move on within seconds.
WORKER_SETTINGS = {
    "DPP_SESSION_TIMEOUT_MS": "6000",
    "DPP_COMMIT_INTERVAL_MS": "100",
    "DPP_WORKER_CONCURRENCY": "4",
}


def _produce_jobs(
    bootstrap: str, namespace: TopicNamespace, runs: Path, seconds: float
) -> list[str]:
    """JOBS_PER_SESSION * SESSIONS scripted jobs that log each run to `runs`, then sleep."""
    ids: list[str] = []
    for session in range(SESSIONS):
        ids += produce_echo(
            bootstrap,
            namespace,
            [f"count:{runs}:{seconds}"] * JOBS_PER_SESSION,
            session_id=f"session-{session}",
        )
    return ids


def _succeeded(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            count = connection.execute(
                text("SELECT count(*) FROM jobs WHERE status = 'succeeded'")
            ).scalar_one()
            return int(count)
    except Exception:  # the database may be down on purpose
        return -1
    finally:
        engine.dispose()


def _assert_each_job_ended_once(
    bootstrap: str,
    namespace: TopicNamespace,
    database_url: str,
    ids: list[str],
    runs: Path,
    scenario: str,
    **extra: object,
) -> None:
    store = JobStore.from_url(database_url)
    try:
        records = {job_id: store.get(job_id) for job_id in ids}
    finally:
        store.close()
    not_succeeded = [i for i, r in records.items() if r is None or r.status != JobStatus.SUCCEEDED]
    results = read_topic(
        bootstrap,
        namespace.physical(RESULTS_TOPIC),
        until=lambda found: set(completed_job_ids(found)) >= set(ids),
        timeout_s=60,
        settle_s=1.0,
    )
    counts = tally(ids, completed_job_ids(results))
    run_count = len(runs.read_text().splitlines())
    counts.report(
        scenario,
        jobs=len(ids),
        not_succeeded=len(not_succeeded),
        reruns=run_count - len(ids),
        **extra,
    )
    assert not not_succeeded, f"{len(not_succeeded)} jobs did not succeed in the job store"
    assert counts.lost == 0, "a job has no job.completed record"
    assert counts.duplicated == 0, "a job has more than one job.completed record"
    assert counts.observed == len(ids)


def test_sigkill_mid_job_repeatedly_loses_and_duplicates_nothing(
    kafka_bootstrap: str,
    topic_namespace: TopicNamespace,
    sqlite_url: str,
    start_worker: WorkerFactory,
    tmp_path: Path,
) -> None:
    store = JobStore.from_url(sqlite_url)
    store.migrate()
    store.close()
    runs = tmp_path / "runs.txt"
    worker = start_worker(sqlite_url, **WORKER_SETTINGS)
    worker.wait_for_log("partitions assigned")
    ids = _produce_jobs(kafka_bootstrap, topic_namespace, runs, 0.03)
    for kill in range(1, KILLS + 1):
        # Kill only after progress since the last restart, while jobs are running.
        target = kill * len(ids) // (KILLS + 2)
        wait_until(
            lambda target=target: _succeeded(sqlite_url) >= target,  # type: ignore[misc]
            120,
            f"{target} jobs succeeded",
        )
        worker.signal(signal.SIGKILL)
        assert worker.wait(10) == -signal.SIGKILL
        worker = start_worker(sqlite_url, **WORKER_SETTINGS)
    wait_until(lambda: _succeeded(sqlite_url) >= len(ids), 180, "every job to succeed")
    _assert_each_job_ended_once(
        kafka_bootstrap, topic_namespace, sqlite_url, ids, runs, "sigkill-worker", kills=KILLS
    )
    worker.signal(signal.SIGTERM)
    assert worker.wait(30) == 0


def test_postgres_restart_pauses_jobs_which_then_continue_without_duplicates(
    kafka_bootstrap: str,
    topic_namespace: TopicNamespace,
    postgres_server: PostgresServer,
    start_worker: WorkerFactory,
    tmp_path: Path,
) -> None:
    runs = tmp_path / "runs.txt"
    with fresh_postgres_database(postgres_server.url) as database_url:
        worker = start_worker(database_url, **WORKER_SETTINGS)
        worker.wait_for_log("partitions assigned")
        ids = _produce_jobs(kafka_bootstrap, topic_namespace, runs, 0.02)
        wait_until(lambda: _succeeded(database_url) >= len(ids) // 5, 120, "jobs under way")
        postgres_server.stop("fast")
        try:
            worker.wait_for_log("job store unavailable", timeout_s=60)
            paused_at = len(runs.read_text().splitlines())
        finally:
            postgres_server.start()
        wait_until(lambda: _succeeded(database_url) >= len(ids), 180, "every job to succeed")
        assert worker.process.poll() is None, "the worker must survive the restart"
        _assert_each_job_ended_once(
            kafka_bootstrap, topic_namespace, database_url, ids, runs, "postgres-restart",
            runs_when_paused=paused_at,
        )  # fmt: skip
        worker.signal(signal.SIGTERM)
        assert worker.wait(30) == 0
