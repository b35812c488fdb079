"""`dpp replay` on the real broker: dry run, the three targets, clamping, and refusals."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import suppress
from datetime import UTC, datetime

import pytest
import typer
from confluent_kafka import Consumer, KafkaException, TopicPartition
from typer.testing import CliRunner

from dpp_cli.commands import replay
from tests.ops.lag.scratch import KafkaScratch
from tests.waiting import wait_until

HOUR_MS = 3_600_000


@pytest.fixture
def kafka(kafka_bootstrap: str, unique_name: str) -> Iterator[KafkaScratch]:
    scratch = KafkaScratch(kafka_bootstrap, unique_name)
    try:
        yield scratch
    finally:
        scratch.cleanup()


@pytest.fixture
def setup(
    kafka: KafkaScratch, fresh_settings: pytest.MonkeyPatch, kafka_bootstrap: str
) -> tuple[str, str, int]:
    """A 3-partition topic of 10 records each, stamped one hour apart from ``base`` ms, and a
    group without members committed at 10, 6 and (never) on partitions 0, 1, 2."""
    fresh_settings.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    topic, group = kafka.topic(partitions=3), kafka.group()
    base = (int(datetime.now(UTC).timestamp() * 1000) // HOUR_MS - 20) * HOUR_MS
    producer = kafka.producer()
    for partition in range(3):
        for n in range(10):
            producer.produce(topic, b"x", partition=partition, timestamp=base + n * HOUR_MS)
    assert producer.flush(30) == 0

    def commit_read_back() -> bool:
        # A fresh broker may still be creating and loading its offsets topic: the commit is
        # refused per partition (COORDINATOR_LOAD_IN_PROGRESS) until then, so commit again.
        with suppress(KafkaException):
            kafka.commit(group, topic, {0: 10, 1: 6})
        return committed(kafka, group, topic) == {0: 10, 1: 6}

    wait_until(commit_read_back, timeout_s=90, every_s=0.5, what="the commit")
    return topic, group, base


def cli() -> typer.Typer:
    app = typer.Typer()
    app.command("replay")(replay.replay)
    app.command("noop")(lambda: None)
    return app


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli(), ["replay", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def committed(kafka: KafkaScratch, group: str, topic: str) -> dict[int, int]:
    # A consumer's OffsetFetch (it never subscribes, so it never joins the group): the admin
    # call crashes confluent-kafka on a broker still loading its offsets topic.
    consumer = Consumer({"bootstrap.servers": kafka.bootstrap, "group.id": group})
    try:
        answer = consumer.committed([TopicPartition(topic, p) for p in range(3)], timeout=10)
    except KafkaException:
        return {}  # e.g. COORDINATOR_LOAD_IN_PROGRESS on a broker that just started
    finally:
        consumer.close()
    return {tp.partition: tp.offset for tp in answer if tp.error is None and tp.offset >= 0}


def test_dry_run_shows_current_to_new_and_changes_nothing(
    kafka: KafkaScratch, setup: tuple[str, str, int]
) -> None:
    topic, group, _ = setup
    code, output, _ = run("-g", group, "-t", topic, "--shift-by", "-8", "--dry-run", "--json")
    plan = json.loads(output)
    assert code == 0 and plan["dry_run"] is True
    moves = {
        p["partition"]: (p["current"], p["new"], p["again"], p["clamped"])
        for p in plan["partitions"]
    }
    # Partition 1 would go to -2: clamped to the log start; partition 2 has nothing to shift.
    assert moves == {0: (10, 2, 8, False), 1: (6, 0, 6, True)}
    assert plan["again"] == 14 and plan["skipped"] == 0
    assert committed(kafka, group, topic) == {0: 10, 1: 6}

    code, table, _ = run("-g", group, "-t", topic, "--to-offset", "3", "--dry-run")
    assert code == 0 and "would move" in table and "delivered again" in table


def test_forward_skip_needs_force_and_time_reset_applies(
    kafka: KafkaScratch, setup: tuple[str, str, int]
) -> None:
    topic, group, base = setup
    when = datetime.fromtimestamp((base + 4 * HOUR_MS - 1) / 1000, UTC).isoformat()
    code, _, stderr = run("-g", group, "-t", topic, "--to-datetime", when)
    assert code == replay.EXIT_REFUSED and "skips 4 record(s)" in stderr
    assert committed(kafka, group, topic) == {0: 10, 1: 6}

    code, _, stderr = run("-g", group, "-t", topic, "--to-datetime", when, "--force")
    assert code == 0, stderr
    assert "8 record(s) will be delivered again" in stderr  # 6 on partition 0, 2 on 1
    assert committed(kafka, group, topic) == {0: 4, 1: 4, 2: 4}

    later = datetime.fromtimestamp((base + 99 * HOUR_MS) / 1000, UTC).isoformat()
    code, output, _ = run("-g", group, "-t", topic, "--to-datetime", later, "--dry-run", "--json")
    assert {p["new"] for p in json.loads(output)["partitions"]} == {10}, "no record after: end"


def test_to_offset_beyond_the_log_is_clamped(
    kafka: KafkaScratch, setup: tuple[str, str, int]
) -> None:
    topic, group, _ = setup
    code, output, _ = run("-g", group, "-t", topic, "--to-offset", "50", "--force", "--json")
    assert code == 0
    assert all(p["clamped"] and p["new"] == 10 for p in json.loads(output)["partitions"])
    assert committed(kafka, group, topic) == {0: 10, 1: 10, 2: 10}


def test_refuses_while_the_group_has_live_members_even_with_force(
    kafka: KafkaScratch, setup: tuple[str, str, int]
) -> None:
    topic, group, _ = setup
    member = kafka.consumer(group)
    member.subscribe([topic])
    wait_until(lambda: member.poll(0.2) is not None or member.assignment(), what="a member")
    code, _, stderr = run("-g", group, "-t", topic, "--to-offset", "0", "--force")
    assert code == replay.EXIT_REFUSED
    assert "live member(s)" in " ".join(stderr.split()) and "--force does not override" in " ".join(
        stderr.split()
    )
    assert committed(kafka, group, topic) == {0: 10, 1: 6}

    kafka.close(member)  # leaves the group: now it is EMPTY and the reset applies
    code, _, stderr = run("-g", group, "-t", topic, "--to-offset", "0")
    assert code == 0, stderr
    assert committed(kafka, group, topic) == {0: 0, 1: 0, 2: 0}


def test_exactly_one_target_is_required(setup: tuple[str, str, int]) -> None:
    topic, group, _ = setup
    code, _, stderr = run("-g", group, "-t", topic, "--to-offset", "1", "--shift-by", "1")
    assert code == 1 and "exactly one" in stderr
