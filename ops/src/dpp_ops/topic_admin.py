"""Applies the topic declaration to a cluster: creates, grows, syncs configs; never deletes."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaException

# confluent_kafka.admin re-exports these without `__all__`, which strict mypy rejects.
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
    ResourceType,
)

from dpp_shared.topics import NO_PREFIX, TopicNamespace, TopicSpec

ADMIN_TIMEOUT_S = 30.0


@dataclass
class TopicChange:
    """What `apply` did (or would do) to one topic."""

    topic: str
    action: str  # created | partitions | configs | unchanged | skipped
    detail: str = ""


@dataclass
class ApplyReport:
    changes: list[TopicChange] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(change.action != "unchanged" for change in self.changes)


@dataclass(frozen=True)
class TopicState:
    """A topic as the cluster has it."""

    name: str
    partitions: int
    configs: dict[str, str]


def describe_topics(admin: AdminClient, names: Iterable[str]) -> dict[str, TopicState]:
    """Current partitions and the configs we manage, for the topics among `names` that exist."""
    metadata = admin.list_topics(timeout=ADMIN_TIMEOUT_S)
    existing = {
        name: len(metadata.topics[name].partitions) for name in names if name in metadata.topics
    }
    if not existing:
        return {}
    resources = [ConfigResource(ResourceType.TOPIC, name) for name in existing]
    states: dict[str, TopicState] = {}
    for resource, future in admin.describe_configs(resources).items():
        entries: dict[str, Any] = future.result(timeout=ADMIN_TIMEOUT_S)
        configs = {key: str(entry.value) for key, entry in entries.items()}
        states[resource.name] = TopicState(resource.name, existing[resource.name], configs)
    return states


def apply_topics(
    admin: AdminClient,
    specs: Iterable[TopicSpec],
    namespace: TopicNamespace = NO_PREFIX,
    *,
    replication_factor: int = -1,
    dry_run: bool = False,
) -> ApplyReport:
    """Make the cluster match `specs`. Idempotent: a second run reports every topic unchanged.

    Partitions only ever grow (shrinking would lose data and reorder keys), configs are set
    incrementally, and topics missing from `specs` are left alone.
    """
    wanted = {namespace.physical(spec.name): spec for spec in specs}
    current = describe_topics(admin, wanted)
    report = ApplyReport()
    to_create: list[NewTopic] = []
    to_grow: list[NewPartitions] = []
    to_configure: list[ConfigResource] = []
    for name, spec in wanted.items():
        state = current.get(name)
        if state is None:
            to_create.append(
                NewTopic(name, spec.partitions, replication_factor, config=spec.configs())
            )
            report.changes.append(TopicChange(name, "created", f"{spec.partitions} partitions"))
            continue
        details = []
        if spec.partitions > state.partitions:
            to_grow.append(NewPartitions(name, spec.partitions))
            details.append(f"partitions {state.partitions} -> {spec.partitions}")
        elif spec.partitions < state.partitions:
            details.append(f"has {state.partitions} partitions > declared {spec.partitions}; kept")
        drift = {k: v for k, v in spec.configs().items() if state.configs.get(k) != v}
        if drift:
            entries = [
                ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET)
                for k, v in drift.items()
            ]
            to_configure.append(
                ConfigResource(ResourceType.TOPIC, name, incremental_configs=entries)
            )
            details.append("configs " + ", ".join(f"{k}={v}" for k, v in drift.items()))
        action = "updated" if (drift or spec.partitions > state.partitions) else "unchanged"
        report.changes.append(TopicChange(name, action, "; ".join(details)))
    if dry_run:
        return report
    _wait_all(
        admin.create_topics(to_create, operation_timeout=ADMIN_TIMEOUT_S) if to_create else {}
    )
    _wait_all(admin.create_partitions(to_grow) if to_grow else {})
    _wait_all(admin.incremental_alter_configs(to_configure) if to_configure else {})
    _wait_visible(admin, {topic.topic: topic.num_partitions for topic in to_create})
    _wait_visible(admin, {grow.topic: grow.new_total_count for grow in to_grow})
    return report


def _wait_visible(admin: AdminClient, partitions_by_topic: dict[str, int]) -> None:
    """Wait until metadata shows the topics with their partitions, so whoever runs next (a
    producer, a second `apply`) sees the result rather than a stale view."""
    deadline = time.monotonic() + ADMIN_TIMEOUT_S
    pending = dict(partitions_by_topic)
    while pending:
        metadata = admin.list_topics(timeout=ADMIN_TIMEOUT_S)
        pending = {
            name: count
            for name, count in pending.items()
            if name not in metadata.topics
            or metadata.topics[name].error is not None
            or len(metadata.topics[name].partitions) < count
        }
        if pending and time.monotonic() > deadline:
            raise RuntimeError(f"topics not visible after {ADMIN_TIMEOUT_S}s: {sorted(pending)}")
        if pending:
            time.sleep(0.05)  # metadata propagation poll interval, bounded by the deadline


def _wait_all(futures: dict[Any, Any]) -> None:
    errors = []
    for subject, future in futures.items():
        try:
            future.result(timeout=ADMIN_TIMEOUT_S)
        except KafkaException as error:
            errors.append(f"{getattr(subject, 'name', subject)}: {error.args[0]}")
    if errors:
        raise RuntimeError("topic changes failed: " + "; ".join(errors))


def delete_topics(admin: AdminClient, names: Iterable[str]) -> None:
    """Delete topics (tests and sandbox resets only; `apply` never deletes)."""
    names = list(names)
    if names:
        _wait_all(admin.delete_topics(names, operation_timeout=ADMIN_TIMEOUT_S))
