"""Helpers of the worker tests: produce events, read topics, read commits, run workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition

from dpp_consumer.jobs.registry import JobRegistry
from dpp_consumer.metrics import WorkerMetrics
from dpp_consumer.records import ConsumedRecord
from dpp_consumer.settings import WorkerSettings
from dpp_consumer.worker import Worker
from dpp_shared.codec import encode
from dpp_shared.envelope import EventEnvelope
from dpp_shared.events import REGISTRY
from dpp_shared.settings import AwsSettings, KafkaSettings
from dpp_shared.topics import TopicNamespace
from dpp_shared.tracing import Tracing
from dpp_store import JobStore
from tests.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
SCRIPTED_WORKER = Path(__file__).with_name("scripted_jobs.py")
REAL_WORKER = ["-m", "dpp_consumer"]


def produce_events(
    bootstrap: str,
    namespace: TopicNamespace,
    type_name: str,
    payloads: list[dict[str, Any]],
    *,
    correlation_id: str | None = None,
) -> list[str]:
    """Publish one event of `type_name` per payload, in order; returns their ids (= job ids)."""
    event_type = REGISTRY.get(type_name)
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    ids = []
    for data in payloads:
        payload = event_type.payload.model_validate(data)
        envelope = EventEnvelope(
            source="/tests/consumer",
            type=event_type.name,
            data=payload.model_dump(mode="json"),
            correlationid=correlation_id,
        )
        record = encode(envelope, payload, event_type, namespace)
        producer.produce(record.topic, record.value, record.key, headers=list(record.headers))
        ids.append(envelope.id)
    assert producer.flush(15) == 0
    return ids


def produce_echo(
    bootstrap: str,
    namespace: TopicNamespace,
    messages: list[str],
    *,
    session_id: str = "s-1",
    correlation_id: str | None = None,
) -> list[str]:
    """demo.echo events with one key (so one partition, in order); returns their ids."""
    payloads = [{"session_id": session_id, "message": message} for message in messages]
    return produce_events(
        bootstrap, namespace, "demo.echo.requested.v1", payloads, correlation_id=correlation_id
    )


def produce_raw(
    bootstrap: str, topic: str, value: bytes | None, headers: list[tuple[str, str | bytes | None]]
) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce(topic, value, b"raw", headers=headers)
    assert producer.flush(15) == 0


@dataclass
class ReadRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, str] = field(default_factory=dict)


def read_topic(
    bootstrap: str,
    topic: str,
    *,
    until: Callable[[list[ReadRecord]], bool],
    timeout_s: float = 30.0,
    settle_s: float = 0.0,
) -> list[ReadRecord]:
    """Every record of `topic` from the beginning (no group), read until `until(records)`
    holds, then for `settle_s` more so that unwanted extra records (duplicates) would show."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "unused",
            "enable.auto.commit": False,
            # Outcome records are published in transactions: read what committed, as services do.
            "isolation.level": "read_committed",
        }
    )
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        partitions = metadata.topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])  # 0 = from start
        records: list[ReadRecord] = []
        deadline = time.monotonic() + timeout_s
        settled_at: float | None = None
        while time.monotonic() < deadline:
            for message in consumer.consume(100, 0.2):
                if message.error():
                    continue
                consumed = ConsumedRecord.of(message)
                records.append(
                    ReadRecord(
                        topic=consumed.topic,
                        partition=consumed.partition,
                        offset=consumed.offset,
                        key=consumed.key,
                        value=consumed.value,
                        headers=consumed.text_headers(""),
                    )
                )
            if settled_at is None and until(records):
                settled_at = time.monotonic()
            if settled_at is not None and time.monotonic() - settled_at >= settle_s:
                return records
        raise AssertionError(f"timed out reading {topic}: {len(records)} records so far")
    finally:
        consumer.close()


def committed_offsets(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """The group's committed position per partition of `topic` (missing: nothing committed)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        committed = consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
        return {tp.partition: tp.offset for tp in committed if tp.offset >= 0}
    finally:
        consumer.close()


@dataclass
class WorkerThread:
    """A Worker running in a thread of the test process (to read its stats)."""

    worker: Worker
    thread: threading.Thread
    errors: list[BaseException]


@contextmanager
def running_worker(
    *,
    bootstrap: str,
    namespace: TopicNamespace,
    store: JobStore,
    registry: JobRegistry,
    tracing: Tracing | None = None,
    **settings: Any,
) -> Iterator[WorkerThread]:
    """Run a worker until the block ends, then drain it; waits for its first assignment."""
    worker = Worker(
        settings=WorkerSettings(metrics_port=None, **settings),
        kafka=KafkaSettings(bootstrap_servers=bootstrap),
        aws=AwsSettings(),
        namespace=namespace,
        store=store,
        registry=registry,
        metrics=WorkerMetrics(),
        tracing=tracing,
    )
    errors: list[BaseException] = []

    def run() -> None:
        try:
            worker.run()
        except BaseException as error:
            errors.append(error)
            raise

    thread = threading.Thread(target=run, name="worker-under-test", daemon=True)
    thread.start()
    running = WorkerThread(worker, thread, errors)
    try:
        wait_until(lambda: worker.stats.assignments or errors, 30, "the first assignment")
        assert not errors, errors
        yield running
    finally:
        worker.stop()
        thread.join(60)
        assert not thread.is_alive(), "worker did not stop"
    assert not errors, errors


class WorkerProcess:
    """A worker in its own process running the scripted jobs (or the real ones, via
    `python -m dpp_consumer`); always killed in teardown."""

    def __init__(self, env: dict[str, str], log_path: Path, *, real_jobs: bool = False) -> None:
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, *(REAL_WORKER if real_jobs else [str(SCRIPTED_WORKER)])],
            env={**os.environ, **env, "PYTHONPATH": str(REPO)},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout_s: float = 30) -> None:
        wait_until(
            lambda: text in self.log() or self.process.poll() is not None, timeout_s, repr(text)
        )
        assert text in self.log(), f"worker exited early:\n{self.log()[-3000:]}"

    def signal(self, signum: signal.Signals) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout_s: float) -> int:
        return self.process.wait(timeout_s)

    def kill(self) -> None:
        with suppress(ProcessLookupError):
            self.process.kill()
        with suppress(subprocess.TimeoutExpired):
            self.process.wait(10)
        self._log.close()
