"""Topics as code: the one declaration of every topic, its retry tiers and the dead-letter topic.

`dpp topics apply` creates or updates exactly these topics in the sandbox, in docker-compose and
at cloud deploy time, so no second definition exists anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

DAY_MS = 24 * 60 * 60 * 1000


class TopicRole(StrEnum):
    """What a topic is for; the worker and the operator tools treat each role differently."""

    MAIN = "main"
    RETRY = "retry"
    DEAD_LETTER = "dead-letter"
    RESULTS = "results"


@dataclass(frozen=True)
class TopicSpec:
    """One topic's declared shape. `name` is the logical name, before any namespace prefix."""

    name: str
    partitions: int
    retention_ms: int
    cleanup_policy: Literal["delete", "compact"] = "delete"
    role: TopicRole = TopicRole.MAIN
    retry_tier: int | None = None
    retry_delay_s: float | None = None
    source_topic: str | None = None

    def configs(self) -> dict[str, str]:
        """Topic-level configs that `topics apply` keeps in sync."""
        return {"retention.ms": str(self.retention_ms), "cleanup.policy": self.cleanup_policy}


# Delay before each retry attempt; the tier index is the attempt number minus one.
RETRY_DELAYS_S: tuple[float, ...] = (5.0, 30.0, 120.0)

DEMO_TOPIC = "dpp.demo.echo"
EMBEDDING_TOPIC = "dpp.persona.embedding"
CLASSIFICATION_TOPIC = "dpp.persona.classification"
BATCH_TOPIC = "dpp.persona.batch"
RESULTS_TOPIC = "dpp.job.results"
DEAD_LETTER_TOPIC = "dpp.dead-letter"

# The consumer group of the ML workers; operators' tools watch it by default.
WORKER_GROUP = "dpp-ml-workers"

# Topics that carry job requests; each gets its retry tiers.
JOB_TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(DEMO_TOPIC, partitions=3, retention_ms=1 * DAY_MS),
    TopicSpec(EMBEDDING_TOPIC, partitions=6, retention_ms=7 * DAY_MS),
    TopicSpec(CLASSIFICATION_TOPIC, partitions=6, retention_ms=7 * DAY_MS),
    TopicSpec(BATCH_TOPIC, partitions=6, retention_ms=7 * DAY_MS),
)


def retry_topic_name(topic: str, tier: int) -> str:
    """Logical name of retry tier `tier` (1-based) of `topic`."""
    return f"{topic}.retry.{tier}"


def _retry_topics(spec: TopicSpec, delays: tuple[float, ...]) -> list[TopicSpec]:
    return [
        TopicSpec(
            retry_topic_name(spec.name, tier),
            partitions=spec.partitions,
            retention_ms=spec.retention_ms,
            role=TopicRole.RETRY,
            retry_tier=tier,
            retry_delay_s=delay,
            source_topic=spec.name,
        )
        for tier, delay in enumerate(delays, start=1)
    ]


def declared_topics(retry_delays_s: tuple[float, ...] = RETRY_DELAYS_S) -> list[TopicSpec]:
    """Every topic the platform needs, in creation order."""
    topics: list[TopicSpec] = []
    for spec in JOB_TOPICS:
        topics.append(spec)
        topics.extend(_retry_topics(spec, retry_delays_s))
    topics.append(
        TopicSpec(RESULTS_TOPIC, partitions=6, retention_ms=7 * DAY_MS, role=TopicRole.RESULTS)
    )
    topics.append(
        TopicSpec(
            DEAD_LETTER_TOPIC, partitions=1, retention_ms=30 * DAY_MS, role=TopicRole.DEAD_LETTER
        )
    )
    return topics


@dataclass(frozen=True)
class TopicNamespace:
    """Maps logical topic names to physical ones. Tests use a unique prefix so runs never share
    topics; production uses no prefix."""

    prefix: str = ""

    def physical(self, logical: str) -> str:
        return f"{self.prefix}{logical}"

    def logical(self, physical: str) -> str:
        if self.prefix and physical.startswith(self.prefix):
            return physical[len(self.prefix) :]
        return physical


# The production namespace: logical names are physical names.
NO_PREFIX = TopicNamespace()
