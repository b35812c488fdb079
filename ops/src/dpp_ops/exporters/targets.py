"""Which consumer groups operators watch, and on which topics (default: what the workers read)."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from dataclasses import dataclass

# Groups of the operators' own tools and of console clients: they never consume jobs, and the
# ones that assign() without committing (lag probe, dead-letter readers) leave no group behind
# anyway. Overridable with DPP_LAG_IGNORE_GROUPS (comma-separated fnmatch patterns).
IGNORED_GROUPS = (
    "dpp-lag-probe", "dpp-ops-*", "dpp-dlq-*", "dpp-demo*", "console-consumer-*",
    "unused-*", "_*",
)  # fmt: skip


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


def is_ignored(group: str, patterns: Sequence[str] = IGNORED_GROUPS) -> bool:
    """True for the tools' own groups (see :data:`IGNORED_GROUPS`)."""
    return any(fnmatch.fnmatchcase(group, pattern) for pattern in patterns)


class GroupDiscovery:
    """Every consumer group on the cluster, asked anew at each sample.

    The workers' group comes first and is measured on the workers' topics even before it
    exists (a fresh stack shows it at once); every other group found on the broker, except
    the tools' own (:func:`is_ignored`), is measured on what it committed or is assigned, or
    on ``topics`` when given.
    """

    def __init__(
        self,
        list_groups: Callable[[], Sequence[str]],
        *,
        workers: WatchTarget | None,
        topics: Sequence[str] = (),
        ignore: Sequence[str] = IGNORED_GROUPS,
    ) -> None:
        self._list_groups = list_groups
        self.workers = workers
        self.topics = tuple(topics)
        self.ignore = tuple(ignore)

    def __call__(self) -> tuple[WatchTarget, ...]:
        targets = [] if self.workers is None else [self.workers]
        known = {target.group for target in targets}
        for group in self._list_groups():
            if group not in known and not is_ignored(group, self.ignore):
                targets.append(WatchTarget(group, self.topics))
        return tuple(targets)


def all_groups_discovery(
    list_groups: Callable[[], Sequence[str]], topics: Sequence[str] = ()
) -> GroupDiscovery:
    """Discovery of every group, configured from the environment (workers' group and topics,
    `DPP_LAG_IGNORE_GROUPS`)."""
    from dpp_consumer.settings import worker_settings  # noqa: PLC0415
    from dpp_ops.lag import get_lag_settings  # noqa: PLC0415

    workers = WatchTarget(worker_settings().consumer_group, tuple(topics) or worker_topics())
    return GroupDiscovery(
        list_groups, workers=workers, topics=topics, ignore=get_lag_settings().ignored_groups()
    )
