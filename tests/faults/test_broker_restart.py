"""The broker stopped and restarted while the producer API is under load: every 202 is consumed
afterwards, the outage answers 503 + Retry-After within the bound, and the API recovers by
itself (same process)."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient

from bench.server import RunningServer, producer_server
from bench.workload import event_document
from dpp_cli.sandbox import KafkaSandbox
from dpp_ops.ports import free_port
from dpp_ops.topic_admin import apply_topics
from dpp_shared.ids import new_id
from dpp_shared.topics import DEMO_TOPIC, TopicNamespace, declared_topics
from tests.faults.conftest import tally
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

ACK_TIMEOUT_S = 2.0
RETRY_AFTER_S = 3
# The bound is the ack timeout; the slack absorbs a loaded 2-core CI machine.
RESPONSE_BOUND_S = ACK_TIMEOUT_S + 3.0
LOAD_THREADS = 4


@dataclass(frozen=True)
class Answer:
    event_id: str
    status: int
    seconds: float
    retry_after: str | None
    at: float


@pytest.fixture
def restartable_broker(tmp_path: Path) -> Iterator[KafkaSandbox]:
    """A private broker whose data survives `down()`, so `up()` restarts the same cluster."""
    sandbox = KafkaSandbox(
        tmp_path / "broker", port=free_port(), controller_port=free_port(), ephemeral=False
    )
    sandbox.up()
    try:
        yield sandbox
    finally:
        sandbox.down()


class Load:
    """Threads posting single events with their own ids until stopped; every answer kept."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.answers: list[Answer] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._post, daemon=True) for _ in range(LOAD_THREADS)
        ]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def _post(self) -> None:
        headers = {"Authorization": self.server.authorization}
        with httpx.Client(base_url=self.server.url, headers=headers, timeout=30) as client:
            index = 0
            while not self._stop.is_set():
                event_id = new_id()
                started = time.monotonic()
                response = client.post("/v1/events", json={**event_document(index), "id": event_id})
                if response.status_code == 202:
                    # The API scopes the client's id to its subject; the record carries that id.
                    event_id = response.json()["id"]
                answer = Answer(
                    event_id, response.status_code, time.monotonic() - started,
                    response.headers.get("retry-after"), time.monotonic(),
                )  # fmt: skip
                with self._lock:
                    self.answers.append(answer)
                index += 1

    def count(self, status: int, since: float = 0.0) -> int:
        with self._lock:
            return sum(1 for a in self.answers if a.status == status and a.at >= since)


def _consumed_ids(bootstrap: str, topic: str, wanted: set[str], deadline_s: float) -> list[str]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"t-restart-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    seen: list[str] = []
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + deadline_s
        idle_since = time.monotonic()
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error():
                # Everything wanted is in and nothing more arrived for a while: done.
                if wanted <= set(seen) and time.monotonic() - idle_since > 2.0:
                    break
                continue
            idle_since = time.monotonic()
            headers = dict(message.headers() or [])
            event_id = headers["ce_id"]
            seen.append(event_id.decode() if isinstance(event_id, bytes) else str(event_id))
    finally:
        consumer.close()
    return seen


def test_broker_restart_under_load_loses_no_acknowledged_event(
    restartable_broker: KafkaSandbox,
) -> None:
    status = restartable_broker.status()
    assert status.bootstrap_servers is not None
    bootstrap = status.bootstrap_servers
    namespace = TopicNamespace(f"t{uuid.uuid4().hex[:10]}.")
    apply_topics(AdminClient({"bootstrap.servers": bootstrap}), declared_topics(), namespace)
    settings = {
        "DPP_PRODUCER_ACK_TIMEOUT_S": str(ACK_TIMEOUT_S),
        "DPP_PRODUCER_RETRY_AFTER_S": str(RETRY_AFTER_S),
    }
    with (
        producer_server(bootstrap, namespace.prefix, extra_env=settings) as server,
        Load(server) as load,
    ):
        wait_until(lambda: load.count(202) >= 50, 60, "accepted events before the outage")
        restartable_broker.down()
        stopped_at = time.monotonic()
        wait_until(
            lambda: load.count(503, stopped_at) >= 2 * LOAD_THREADS, 60, "503s in the outage"
        )
        restartable_broker.up()
        restarted_at = time.monotonic()
        wait_until(lambda: load.count(202, restarted_at) >= 50, 120, "recovery after the restart")
        assert Path(f"/proc/{server.pid}").exists(), "the API process was never restarted"
    answers = list(load.answers)
    accepted = [a.event_id for a in answers if a.status == 202]
    during_outage = [a for a in answers if stopped_at <= a.at - a.seconds and a.at <= restarted_at]
    unavailable = [a for a in answers if a.status == 503]
    consumed = _consumed_ids(bootstrap, namespace.physical(DEMO_TOPIC), set(accepted), 90)
    counts = tally(accepted, [i for i in consumed if i in set(accepted)])
    statuses = Counter(a.status for a in answers)
    slowest_outage = max((a.seconds for a in during_outage), default=0.0)
    counts.report(
        "broker-restart",
        requests=len(answers),
        accepted=len(accepted),
        unavailable=len(unavailable),
        statuses=dict(statuses),
        slowest_outage_answer_s=round(slowest_outage, 2),
    )
    assert counts.lost == 0, "an event acknowledged with 202 was never consumed"
    assert counts.duplicated == 0
    assert set(statuses) <= {202, 503}, statuses
    assert all(a.retry_after == str(RETRY_AFTER_S) for a in unavailable)
    assert all(a.seconds <= RESPONSE_BOUND_S for a in unavailable), "503 beyond the bound"
    assert slowest_outage <= RESPONSE_BOUND_S
