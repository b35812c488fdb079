"""The real AI/ML jobs run by `python -m dpp_consumer` against the real broker and database."""

from __future__ import annotations

import json
import signal

import numpy as np
import pytest

from dpp_shared.topics import RESULTS_TOPIC, TopicNamespace
from dpp_store import JobStatus, JobStore
from tests.consumer.conftest import WorkerFactory
from tests.consumer.harness import produce_events, read_topic
from tests.waiting import wait_until

pytestmark = pytest.mark.slow


def finished(store: JobStore, job_id: str) -> bool:
    record = store.get(job_id)
    return record is not None and record.is_terminal


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_embedding_and_tone_jobs_publish_their_results(
    kafka_bootstrap: str,
    topic_namespace: TopicNamespace,
    store: JobStore,
    worker_process: WorkerFactory,
) -> None:
    worker = worker_process(real_jobs=True)
    worker.wait_for_log("partitions assigned")
    [embedding_id] = produce_events(
        kafka_bootstrap,
        topic_namespace,
        "persona.embedding.requested.v1",
        [{"persona_id": "p-1", "texts": ["I love hiking.", "Coffee comes first."]}],
        correlation_id="corr-embed",
    )
    [tone_id] = produce_events(
        kafka_bootstrap,
        topic_namespace,
        "persona.tone.classification.requested.v1",
        [{"persona_id": "p-2", "texts": ["This is amazing, I absolutely love it!!!"]}],
    )
    wait_until(lambda: finished(store, embedding_id) and finished(store, tone_id), 90, "jobs")

    embedding = store.get(embedding_id)
    assert embedding is not None and embedding.status == JobStatus.SUCCEEDED, embedding
    assert embedding.result is not None
    vectors = np.array(embedding.result["embeddings"])
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    tone = store.get(tone_id)
    assert tone is not None and tone.result is not None
    assert tone.result["dominant"] == "enthusiastic"

    results = read_topic(
        kafka_bootstrap,
        topic_namespace.physical(RESULTS_TOPIC),
        until=lambda records: len(records) >= 2,
    )
    by_job = {json.loads(r.value or b"{}")["job_id"]: r for r in results}
    assert by_job[embedding_id].headers["ce_correlationid"] == "corr-embed"
    assert json.loads(by_job[tone_id].value or b"{}")["job_type"] == "tone-classification"
    assert '"correlation_id":"corr-embed"' in worker.log().replace(" ", "")
    worker.signal(signal.SIGTERM)
    assert worker.wait(60) == 0


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_index_rebuild_resumes_from_its_checkpoint_after_a_worker_is_killed(
    kafka_bootstrap: str,
    topic_namespace: TopicNamespace,
    store: JobStore,
    worker_process: WorkerFactory,
) -> None:
    documents = [
        {"id": f"d{i}", "text": f"Note {i}: a persona's thoughts on topic {i % 17} and day {i}."}
        for i in range(448)
    ]
    settings = {"DPP_SESSION_TIMEOUT_MS": "6000"}
    first = worker_process(real_jobs=True, **settings)
    first.wait_for_log("partitions assigned")
    [job_id] = produce_events(
        kafka_bootstrap,
        topic_namespace,
        "persona.index.rebuild.requested.v1",
        [{"persona_id": "p-9", "documents": documents, "top_k": 3}],
    )

    def checkpointed() -> int:
        saved = store.load_checkpoint(job_id)
        return int(saved["done"]) if saved else 0

    wait_until(lambda: checkpointed() >= 64, 120, "a checkpoint midway")
    progress = store.get(job_id)
    assert progress is not None and 0 < progress.progress < 1
    assert progress.progress_message and "documents embedded" in progress.progress_message
    first.signal(signal.SIGKILL)
    first.wait(10)
    done_before_crash = checkpointed()
    assert done_before_crash < len(documents)

    second = worker_process(real_jobs=True, **settings)
    wait_until(lambda: finished(store, job_id), 180, "the resumed rebuild")
    record = store.get(job_id)
    assert record is not None and record.status == JobStatus.SUCCEEDED, record
    assert record.result is not None
    assert record.result["resumed_from"] >= done_before_crash
    assert record.result["documents"] == len(documents)
    assert len(record.result["neighbours"]["d0"]) == 3
    assert record.attempts == 2
    results = read_topic(
        kafka_bootstrap,
        topic_namespace.physical(RESULTS_TOPIC),
        until=lambda records: len(records) >= 1,
        settle_s=0.5,
    )
    assert [json.loads(r.value or b"{}")["job_id"] for r in results] == [job_id]
    second.signal(signal.SIGTERM)
    assert second.wait(60) == 0
