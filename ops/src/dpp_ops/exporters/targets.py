"""Which consumer groups operators watch, and on which topics (default: what the workers read)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WatchTarget:
    """One consumer group and the physical topics its lag is measured on."""

    group: str
    topics: tuple[str, ...]


def worker_topics(
    topic_prefix: str | None = None,
    job_types: Sequence[str] | None = None,
    retry_tiers: int | None = None,
) -> tuple[str, ...]:
    """The physical topics a `dpp consumer run` worker subscribes to: its job topics and their
    retry tiers, computed from the same registry and settings the worker uses (unset: from env)."""
    from dpp_consumer.jobs import default_jobs  # noqa: PLC0415 - keep `dpp --help` instant
    from dpp_consumer.settings import worker_settings  # noqa: PLC0415
    from dpp_shared.settings import topic_settings  # noqa: PLC0415
    from dpp_shared.topics import TopicNamespace, retry_topic_name  # noqa: PLC0415

    settings = worker_settings()
    namespace = TopicNamespace(
        topic_settings().topic_prefix if topic_prefix is None else topic_prefix
    )
    selected = tuple(job_types) if job_types is not None else settings.job_types
    tiers = len(settings.retry_delays_s) if retry_tiers is None else retry_tiers
    logical = sorted({spec.event_type.topic for spec in default_jobs().select(selected)})
    topics = [namespace.physical(name) for name in logical]
    topics += [
        namespace.physical(retry_topic_name(name, tier))
        for name in logical
        for tier in range(1, tiers + 1)
    ]
    return tuple(topics)


def default_targets(
    groups: Sequence[str] = (), topics: Sequence[str] = ()
) -> tuple[WatchTarget, ...]:
    """The given groups (default: the workers' `DPP_CONSUMER_GROUP`) on the given topics
    (default: the topics the workers subscribe to)."""
    from dpp_consumer.settings import worker_settings  # noqa: PLC0415

    chosen_groups = tuple(groups) or (worker_settings().consumer_group,)
    chosen_topics = tuple(topics) or worker_topics()
    return tuple(WatchTarget(group, chosen_topics) for group in chosen_groups)
