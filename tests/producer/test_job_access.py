"""Job isolation, signed event ids and dead jobs through the API, with a real worker and broker."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient
from fastapi.testclient import TestClient

from dpp_consumer.jobs import default_jobs
from dpp_shared.topics import DEMO_TOPIC, TopicNamespace
from dpp_store import JobStore
from tests.consumer.harness import produce_raw, running_worker
from tests.fixtures.kafka import delete_groups
from tests.producer import factories
from tests.producer.conftest import AppFactory
from tests.waiting import wait_until

WORKER_DEADLINE_S = 60.0


@pytest.fixture
def group(unique_name: str, kafka_admin: AdminClient) -> Iterator[str]:
    yield unique_name
    delete_groups(kafka_admin, [unique_name])


@pytest.fixture
def store(database_url: str) -> Iterator[JobStore]:
    job_store = JobStore.from_url(database_url)
    job_store.migrate()
    try:
        yield job_store
    finally:
        job_store.close()


def _post(client: TestClient, subject: str, **event: Any) -> dict[str, Any]:
    response = client.post(
        "/v1/events", json=factories.demo_event(**event), headers=factories.auth(subject=subject)
    )
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def _job(client: TestClient, job_id: str, subject: str, scope: str = "events:*") -> Any:
    return client.get(f"/v1/jobs/{job_id}", headers=factories.auth(scope, subject))


def _finished(client: TestClient, job_id: str, subject: str) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        body: dict[str, Any] = _job(client, job_id, subject).json()
        return body if body.get("status") in {"succeeded", "dead"} else None

    finished = wait_until(done, WORKER_DEADLINE_S, f"job {job_id} finished")
    assert finished is not None
    return finished


def _refusal(response: Any, job_id: str) -> dict[str, Any]:
    """The 404 body with the id taken out, to compare refusals with unknown ids."""
    assert response.status_code == 404, response.text
    body: dict[str, Any] = response.json()
    body["detail"] = body["detail"].replace(job_id, "<id>")
    body.pop("instance", None)
    return body


def test_a_job_is_read_only_by_its_publisher_or_with_jobs_read(
    make_app: AppFactory,
    database_url: str,
    kafka_bootstrap: str,
    topic_namespace: TopicNamespace,
    store: JobStore,
    group: str,
) -> None:
    with TestClient(make_app(database_url=database_url)) as client:
        accepted = _post(client, "alice", message="alice's secret")
        job_id = accepted["id"]
        assert accepted["job"] == f"/v1/jobs/{job_id}"
        # Before any worker: queued for the publisher, and nothing for anyone else.
        assert _job(client, job_id, "alice").json()["status"] == "queued"
        unknown = factories.event_ids().sign("alice", str(uuid.uuid4()))
        unknown_to_bob = _refusal(_job(client, unknown, "bob"), unknown)
        assert _refusal(_job(client, job_id, "bob"), job_id) == unknown_to_bob

        with running_worker(
            bootstrap=kafka_bootstrap,
            namespace=topic_namespace,
            store=store,
            registry=default_jobs(),
            consumer_group=group,
        ):
            done = _finished(client, job_id, "alice")
        assert done["status"] == "succeeded"
        assert done["result"]["message"] == "alice's secret"
        stored = store.get(job_id)
        assert stored is not None and stored.owner == "alice"

        # Stored now: still the same 404 for another subject, even with its own events scope.
        assert _refusal(_job(client, job_id, "bob"), job_id) == unknown_to_bob
        # An operator's token with jobs:read reads every job.
        ops = _job(client, job_id, "ops", scope="jobs:read")
        assert ops.status_code == 200 and ops.json()["result"]["message"] == "alice's secret"
        # A forged tag is not the publisher's proof: the id is simply unknown to bob.
        forged = job_id[:-4] + ("AAAA" if not job_id.endswith("AAAA") else "BBBB")
        assert _job(client, forged, "alice").status_code == 404


def test_two_subjects_posting_the_same_event_id_get_their_own_jobs(
    make_app: AppFactory,
    database_url: str,
    kafka_bootstrap: str,
    topic_namespace: TopicNamespace,
    store: JobStore,
    group: str,
) -> None:
    """Finding 1: a second principal reusing an id is neither dropped nor shown the first's
    result; each subject's id is its own."""
    with TestClient(make_app(database_url=database_url)) as client:
        alice = _post(client, "alice", id="shared-id-1", message="from alice")
        bob = _post(client, "bob", id="shared-id-1", message="from bob")
        assert alice["id"] != bob["id"]
        # The same subject resending its id gets the same job (an idempotent retry).
        assert _post(client, "alice", id="shared-id-1", message="from alice")["id"] == alice["id"]

        with running_worker(
            bootstrap=kafka_bootstrap,
            namespace=topic_namespace,
            store=store,
            registry=default_jobs(),
            consumer_group=group,
        ):
            alice_job = _finished(client, alice["id"], "alice")
            bob_job = _finished(client, bob["id"], "bob")
        assert alice_job["result"]["message"] == "from alice"
        assert bob_job["result"]["message"] == "from bob"
        # Each subject also finds its job by the id it chose, and only its own.
        by_own_id = _job(client, "shared-id-1", "bob").json()
        assert by_own_id["id"] == bob["id"]
        assert by_own_id["result"]["message"] == "from bob"
        assert _job(client, alice["id"], "bob").status_code == 404


def test_a_dead_lettered_record_without_a_type_answers_dead_with_the_reason(
    make_app: AppFactory,
    database_url: str,
    kafka_bootstrap: str,
    topic_namespace: TopicNamespace,
    store: JobStore,
    group: str,
) -> None:
    """Finding 2: a record that names its job but not its type is dead, not 404 forever."""
    job_id = factories.event_ids().sign("alice", str(uuid.uuid4()))
    produce_raw(
        kafka_bootstrap,
        topic_namespace.physical(DEMO_TOPIC),
        b'{"session_id": "s", "message": "m"}',
        [
            ("ce_specversion", b"1.0"),
            ("ce_id", job_id.encode()),
            ("ce_source", b"/tests"),
            ("ce_time", b"2026-01-01T00:00:00Z"),
            ("ce_dpppublisher", b"alice"),
        ],
    )
    with TestClient(make_app(database_url=database_url)) as client:
        with running_worker(
            bootstrap=kafka_bootstrap,
            namespace=topic_namespace,
            store=store,
            registry=default_jobs(),
            consumer_group=group,
        ):
            dead = _finished(client, job_id, "alice")
        assert dead["status"] == "dead"
        assert dead["error"].startswith("EventDecodeError: ")
        assert "ce_type" in dead["error"]
        assert dead["job_type"] == "unknown"
        assert _job(client, job_id, "bob").status_code == 404


def test_ingest_writes_nothing_to_the_database(make_app: AppFactory, tmp_path: Path) -> None:
    """`queued` comes from the id itself: accepting an event never touches the job store."""
    database = tmp_path / "untouched.db"
    with TestClient(make_app(database_url=f"sqlite:///{database}")) as client:
        accepted = _post(client, "alice")
        batch = client.post(
            "/v1/events:batch",
            json={"events": [factories.demo_event()]},
            headers=factories.auth(subject="alice"),
        )
        assert batch.status_code == 207
        assert not database.exists()
        assert _job(client, accepted["id"], "alice").json()["status"] == "queued"
        batch_id = batch.json()["entries"][0]["id"]
        assert _job(client, batch_id, "alice").json()["status"] == "queued"


def test_ids_are_recognised_only_for_the_subject_they_were_issued_to() -> None:
    ids = factories.event_ids()
    issued = ids.sign("alice", "01900000-0000-7000-8000-000000000001")
    assert len(issued) <= 64
    assert ids.issued_to("alice", issued)
    assert not ids.issued_to("bob", issued)
    assert not ids.issued_to("alice", issued.replace("0001.", "0002."))
    assert not ids.issued_to("alice", "01900000-0000-7000-8000-000000000001")
    # Another key (another deployment) does not recognise it either.
    other = type(ids)(b"another key of at least sixteen bytes")
    assert not other.issued_to("alice", issued)
    # An id the API issued to alice is kept when she resends it; bob's copy is scoped to him.
    assert ids.assign("alice", issued, None) == issued
    assert ids.assign("bob", issued, None) != issued
    assert ids.assign("bob", issued, None) == ids.scoped("bob", issued)
