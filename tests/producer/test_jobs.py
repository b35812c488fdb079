"""GET /v1/jobs/{id}: the job an accepted event started, read from the consumer's job store."""

from __future__ import annotations

from fastapi.testclient import TestClient

from dpp_store import JobStart, JobStore
from tests.producer import factories
from tests.producer.conftest import AppFactory
from tests.producer.test_events import assert_problem


def test_job_status_and_result_of_an_accepted_event(
    make_app: AppFactory, database_url: str
) -> None:
    with TestClient(make_app(database_url=database_url)) as client:
        accepted = client.post(
            "/v1/events", json=factories.demo_event(), headers=factories.auth()
        ).json()
        job_path = accepted["job"]
        queued = client.get(job_path, headers=factories.auth())
        assert queued.status_code == 200
        assert queued.json()["status"] == "queued"

        # What a worker does when it picks the event up and finishes it.
        store = JobStore.from_url(database_url)
        store.migrate()
        store.begin(
            JobStart(
                accepted["id"],
                factories.DEMO_TYPE,
                "demo.echo",
                accepted["topic"],
                accepted["partition"],
                accepted["offset"],
            )
        )
        running = client.get(job_path, headers=factories.auth())
        assert running.status_code == 200
        assert running.json()["status"] == "running"
        store.succeed(accepted["id"], {"echo": "hello"})
        done = client.get(job_path, headers=factories.auth()).json()
        assert done["id"] == accepted["id"]
        assert done["status"] == "succeeded"
        assert done["result"] == {"echo": "hello"}
        assert done["source"] == {
            "topic": accepted["topic"],
            "partition": accepted["partition"],
            "offset": accepted["offset"],
        }
        assert done["finished_at"] is not None
        assert_problem(client.get(job_path), 401)
