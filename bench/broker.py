"""The benchmark's own Kafka broker (a sandbox started and stopped by the run) and topics."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from dpp_ops.topic_admin import apply_topics, delete_topics
from dpp_shared.topics import TopicNamespace, declared_topics


@contextmanager
def sandbox_broker(bootstrap: str | None = None) -> Iterator[str]:
    """Yield a bootstrap address: `bootstrap` as given, else a fresh ephemeral sandbox broker
    on a free port, stopped (and its data deleted) at the end."""
    if bootstrap:
        yield bootstrap
        return
    from dpp_cli.sandbox import KafkaSandbox
    from dpp_ops.ports import free_port

    home = Path(tempfile.mkdtemp(prefix="dpp-bench-broker-"))
    sandbox = KafkaSandbox(home, port=free_port(), ephemeral=True, heap="768m")
    try:
        status = sandbox.up()
        assert status.bootstrap_servers is not None
        yield status.bootstrap_servers
    finally:
        sandbox.down()
        shutil.rmtree(home, ignore_errors=True)


@contextmanager
def fresh_namespace(bootstrap: str) -> Iterator[TopicNamespace]:
    """Every declared topic under a prefix unique to this measurement; deleted afterwards."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    namespace = TopicNamespace(f"b{uuid.uuid4().hex[:10]}.")
    specs = declared_topics()
    apply_topics(admin, specs, namespace)
    try:
        yield namespace
    finally:
        with suppress(Exception):
            delete_topics(admin, [namespace.physical(spec.name) for spec in specs])


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """High watermark of every partition of `topic`."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-watermarks"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return {
            partition: consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)[
                1
            ]
            for partition in partitions
        }
    finally:
        consumer.close()


def delete_groups(bootstrap: str, groups: list[str]) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.delete_consumer_groups(groups, request_timeout=15)
    for future in futures.values():
        with suppress(Exception):
            future.result(timeout=15)


class LandedMismatchError(AssertionError):
    """The records on the topic do not match the requests the API acknowledged."""


def assert_landed(landed: int, acknowledged: int, in_flight: int, what: str) -> None:
    """The API's handler really produced what it acknowledged: every acknowledged event is on
    the topic, and at most `in_flight` more (requests still open when the load generator
    stopped counting) landed without their answer being counted."""
    if not acknowledged <= landed <= acknowledged + in_flight:
        raise LandedMismatchError(
            f"{what}: {landed} records landed on the topic for {acknowledged} acknowledged "
            f"(+ up to {in_flight} in flight)"
        )
