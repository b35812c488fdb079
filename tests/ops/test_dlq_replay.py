"""`dpp dlq` filters and the replay ledger on the real broker: a letter is replayed once, ever."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import typer
from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient
from typer.testing import CliRunner

from dpp_cli.commands import dlq
from dpp_ops.dead_letters import REPLAYED_TOPIC, DeadLetterBox
from dpp_ops.topic_admin import delete_topics
from dpp_shared import headers as hdr
from dpp_shared.codec import encode
from dpp_shared.envelope import EventEnvelope
from dpp_shared.events import REGISTRY
from dpp_shared.topics import DEAD_LETTER_TOPIC, DEMO_TOPIC, TopicNamespace
from tests.ops.support import read_all

NOW = datetime.now(UTC).replace(microsecond=0)
# (session, error class, dead-lettered how long ago)
LETTERS = [
    ("s-0", "PermanentJobError", timedelta(hours=5)),
    ("s-1", "PermanentJobError", timedelta(minutes=30)),
    ("s-2", "TimeoutError", timedelta(minutes=10)),
]


@pytest.fixture
def namespace(
    topic_namespace: TopicNamespace, kafka_admin: AdminClient
) -> Iterator[TopicNamespace]:
    yield topic_namespace
    with suppress(RuntimeError):  # the ledger exists only once something was replayed
        delete_topics(kafka_admin, [topic_namespace.physical(REPLAYED_TOPIC)])


@pytest.fixture
def env(
    fresh_settings: pytest.MonkeyPatch, kafka_bootstrap: str, namespace: TopicNamespace
) -> pytest.MonkeyPatch:
    fresh_settings.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    fresh_settings.setenv("DPP_TOPIC_PREFIX", namespace.prefix)
    return fresh_settings


def write_dead_letters(bootstrap: str, namespace: TopicNamespace) -> list[str]:
    """Dead letters as a worker writes them: the event's record plus the dpp-* failure headers,
    stamped at the times of LETTERS. Returns their job ids."""
    event_type = REGISTRY.get("demo.echo.requested.v1")
    producer = Producer({"bootstrap.servers": bootstrap})
    ids = []
    for session, error_type, age in LETTERS:
        payload = event_type.payload.model_validate({"session_id": session, "message": "m"})
        envelope = EventEnvelope(
            source="/tests/ops", type=event_type.name, data=payload.model_dump(mode="json")
        )
        record = encode(envelope, payload, event_type, namespace)
        failed_at = NOW - age
        headers: list[tuple[str, str | bytes | None]] = [*record.headers]
        headers += [
            (hdr.ERROR_TYPE, error_type.encode()),
            (hdr.ERROR, b"boom"),
            (hdr.ORIGINAL_TOPIC, record.topic.encode()),
            (hdr.FAILED_AT, failed_at.isoformat().encode()),
        ]
        producer.produce(
            namespace.physical(DEAD_LETTER_TOPIC),
            record.value,
            record.key,
            headers=headers,
            timestamp=int(failed_at.timestamp() * 1000),
        )
        ids.append(envelope.id)
    assert producer.flush(15) == 0
    return ids


def run(*args: str) -> tuple[int, Any, str]:
    app = typer.Typer()
    app.add_typer(dlq.app, name="dlq")
    result = CliRunner().invoke(app, ["dlq", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    stdout = result.stdout
    return result.exit_code, json.loads(stdout) if stdout.startswith("[") else stdout, result.stderr


def replayed_sessions(bootstrap: str, namespace: TopicNamespace) -> Counter[str]:
    """Sessions of the records on the demo topic that carry the replay header."""
    found: Counter[str] = Counter()
    for record in read_all(bootstrap, namespace.physical(DEMO_TOPIC), 3):
        headers = dict(record.headers() or [])  # type: ignore[attr-defined]
        if "dpp-replayed-from" in headers:
            found[json.loads(record.value())["session_id"]] += 1  # type: ignore[attr-defined]
    return found


def test_list_filters_by_type_error_class_and_time(
    env: pytest.MonkeyPatch, kafka_bootstrap: str, namespace: TopicNamespace
) -> None:
    ids = write_dead_letters(kafka_bootstrap, namespace)
    code, rows, _ = run("list", "--json", "--error", "PermanentJobError")
    assert code == 0 and [r["job_id"] for r in rows] == ids[:2]
    assert all(isinstance(r["partition"], int) and isinstance(r["offset"], int) for r in rows)
    _, rows, _ = run("list", "--json", "--since", "1h")
    assert [r["job_id"] for r in rows] == ids[1:]
    until = (NOW - timedelta(minutes=20)).isoformat()
    _, rows, _ = run("list", "--json", "--since", "6h", "--until", until, "--error", "Perm*")
    assert [r["job_id"] for r in rows] == ids[:2]
    _, rows, _ = run("list", "--json", "--type", "persona.*")
    assert rows == []
    _, rows, _ = run("list", "--json", "--type", "demo.*", "--error", "TimeoutError")
    assert [r["job_id"] for r in rows] == ids[2:] and rows[0]["replayed"] is None


def test_replay_all_never_sends_a_letter_twice(
    env: pytest.MonkeyPatch, kafka_bootstrap: str, namespace: TopicNamespace
) -> None:
    ids = write_dead_letters(kafka_bootstrap, namespace)
    code, plans, stderr = run("replay", "--all", "--error", "PermanentJobError", "--json")
    assert code == 0, stderr
    assert [(p["old_job_id"], p["skipped"]) for p in plans] == [(ids[0], None), (ids[1], None)]

    code, plans, _ = run("replay", "--all", "--json", "--dry-run")
    assert code == 0
    assert [p["skipped"] is not None and p["skipped"].startswith("already") for p in plans] == [
        True, True, False,
    ]  # fmt: skip
    code, plans, _ = run("replay", "--all", "--json")
    assert code == 0 and [p["skipped"] is None for p in plans] == [False, False, True]
    code, plans, _ = run("replay", "--all", "--json")
    assert code == 0 and all(p["skipped"].startswith("already replayed") for p in plans)

    _, rows, _ = run("list", "--json")
    assert all(r["replayed"] and r["replayed"]["new_job_id"] for r in rows)
    assert replayed_sessions(kafka_bootstrap, namespace) == Counter({"s-0": 1, "s-1": 1, "s-2": 1})


def test_two_operators_replaying_at_once_send_each_letter_once(
    kafka_bootstrap: str, namespace: TopicNamespace
) -> None:
    write_dead_letters(kafka_bootstrap, namespace)
    config = {"bootstrap.servers": kafka_bootstrap}
    errors: list[Exception] = []

    def operator(name: str) -> None:
        box = DeadLetterBox(config | {"group.id": "unused-dlq"}, config, namespace)
        try:
            box.replay(box.read_all(), dry_run=False, by=name)
        except KafkaException as error:  # fenced by the other operator: its records aborted
            errors.append(error)

    threads = [threading.Thread(target=operator, args=(f"op-{n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert replayed_sessions(kafka_bootstrap, namespace) == Counter({"s-0": 1, "s-1": 1, "s-2": 1})
    assert len(errors) < len(threads), errors
