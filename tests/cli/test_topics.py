"""`dpp topics apply|list` against the real broker: create, grow, sync configs, never delete."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka.admin import AdminClient
from typer.testing import CliRunner

from dpp_cli.main import app
from dpp_ops.topic_admin import apply_topics, delete_topics, describe_topics
from dpp_shared.topics import TopicNamespace, TopicSpec, declared_topics


@pytest.fixture
def prefix(kafka_admin: AdminClient) -> Iterator[str]:
    value = f"t{uuid.uuid4().hex[:10]}."
    yield value
    metadata = kafka_admin.list_topics(timeout=10)
    delete_topics(kafka_admin, [name for name in metadata.topics if name.startswith(value)])


def test_apply_creates_everything_then_reports_unchanged(
    kafka_bootstrap: str, prefix: str, monkeypatch: pytest.MonkeyPatch, kafka_admin: AdminClient
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("DPP_TOPIC_PREFIX", prefix)
    monkeypatch.setenv("COLUMNS", "250")
    from dpp_shared import settings

    settings.kafka_settings.cache_clear()
    settings.topic_settings.cache_clear()
    runner = CliRunner()
    first = runner.invoke(app, ["topics", "apply"])
    assert first.exit_code == 0, first.output
    assert first.output.count("created") == len(declared_topics())
    namespace = TopicNamespace(prefix)
    states = describe_topics(kafka_admin, [namespace.physical(s.name) for s in declared_topics()])
    assert len(states) == len(declared_topics())
    second = runner.invoke(app, ["topics", "apply"])
    assert second.exit_code == 0, second.output
    assert "created" not in second.output
    assert second.output.count("unchanged") == len(declared_topics())
    listing = runner.invoke(app, ["topics", "list"])
    assert listing.exit_code == 0 and f"{prefix}dpp.dead-letter" in listing.output
    settings.kafka_settings.cache_clear()
    settings.topic_settings.cache_clear()


def test_apply_grows_partitions_syncs_configs_and_keeps_data(
    kafka_admin: AdminClient, prefix: str
) -> None:
    namespace = TopicNamespace(prefix)
    spec = TopicSpec("grow.me", partitions=2, retention_ms=60_000)
    apply_topics(kafka_admin, [spec], namespace)
    bigger = TopicSpec("grow.me", partitions=4, retention_ms=120_000, cleanup_policy="compact")
    dry = apply_topics(kafka_admin, [bigger], namespace, dry_run=True)
    assert dry.changes[0].action == "updated"
    name = namespace.physical("grow.me")
    assert describe_topics(kafka_admin, [name])[name].partitions == 2, "dry run changed nothing"
    report = apply_topics(kafka_admin, [bigger], namespace)
    assert "partitions 2 -> 4" in report.changes[0].detail
    state = describe_topics(kafka_admin, [name])[name]
    assert state.partitions == 4
    assert state.configs["retention.ms"] == "120000"
    assert state.configs["cleanup.policy"] == "compact"
    smaller = TopicSpec("grow.me", partitions=1, retention_ms=120_000, cleanup_policy="compact")
    kept = apply_topics(kafka_admin, [smaller], namespace)
    assert "kept" in kept.changes[0].detail
    assert describe_topics(kafka_admin, [name])[name].partitions == 4, "never shrinks"
