"""Operators' pause switches as a worker sees them: follow `dpp.control`, decide which topics to
hold (see docs/operators.md, "Pausing a job type")."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from aws_lambda_powertools import Logger
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from dpp_consumer.jobs.registry import JobSpec
from dpp_shared.control import PauseState, held_topics, parse_switch
from dpp_shared.topics import TopicNamespace, retry_topic_name

FOLLOWER_GROUP = "dpp-control-follower"  # operators' tools, which may describe any group
TIMEOUT_S = 30.0
TOPIC_RECHECK_S = 5.0
"""While the control topic does not exist (nobody ever paused anything), look for it this often."""


def job_type_topics(
    specs: Iterable[JobSpec], namespace: TopicNamespace, retry_tiers: int
) -> dict[str, tuple[str, ...]]:
    """Job type -> the physical topics its events arrive on: its job topic and retry tiers."""
    found: dict[str, list[str]] = {}
    for spec in specs:
        logical = spec.event_type.topic
        names = [logical] + [retry_topic_name(logical, t) for t in range(1, retry_tiers + 1)]
        topics = found.setdefault(spec.job_type, [])
        for name in names:
            if namespace.physical(name) not in topics:
                topics.append(namespace.physical(name))
    return {job_type: tuple(topics) for job_type, topics in found.items()}


class PauseFollower:
    """Follows the control topic from its beginning without a consumer group (assign only).

    :meth:`poll` is non-blocking by default, so a worker calls it on every turn of its poll
    loop; with ``until_end`` it first reads the compacted topic to its end (at start).
    """

    def __init__(
        self, client_config: Mapping[str, Any], topic: str, *, group: str = FOLLOWER_GROUP
    ) -> None:
        """`group` names the client only (librdkafka needs one; it is never joined nor committed
        to), yet the broker authorizes its coordinator lookups: under MSK IAM a worker passes its
        own consumer group, the one its role may describe."""
        self.topic = topic
        self.states: dict[str, PauseState] = {}
        self._consumer = Consumer(
            {
                **client_config,
                "group.id": group,  # required by the client, never joined
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed",
            }
        )
        self._assigned = False
        self._next_lookup = 0.0
        self._at_end: set[int] = set()
        self._partitions: list[int] = []

    def poll(
        self, *, until_end: bool = False, timeout_s: float = TIMEOUT_S
    ) -> dict[str, PauseState]:
        """Apply what arrived since the last call; with ``until_end`` read up to the end of the
        topic first. Returns every known state (a missing topic means nothing is paused)."""
        if not self._assigned and not self._assign(force=until_end, timeout_s=timeout_s):
            return dict(self.states)
        deadline = time.monotonic() + timeout_s
        while True:
            message = self._consumer.poll(0.1 if until_end else 0)
            if message is None:
                if not until_end or len(self._at_end) >= len(self._partitions):
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"could not read {self.topic} to its end")
                continue
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    self._at_end.add(message.partition() or 0)
                continue
            self._at_end.discard(message.partition() or 0)
            state = parse_switch(message.key(), message.value())
            if state is not None:
                self.states[state.job_type] = state
            if until_end and len(self._at_end) >= len(self._partitions):
                break
        return dict(self.states)

    def paused(self) -> set[str]:
        return {job_type for job_type, state in self.states.items() if state.paused}

    def close(self) -> None:
        self._consumer.close()

    def _assign(self, *, force: bool, timeout_s: float) -> bool:
        # A poll loop must not ask the broker for metadata on every turn: look again only
        # every TOPIC_RECHECK_S (the topic appears with the first `dpp ops pause`).
        if not force and time.monotonic() < self._next_lookup:
            return False
        self._next_lookup = time.monotonic() + TOPIC_RECHECK_S
        try:
            metadata = self._consumer.list_topics(self.topic, timeout=timeout_s if force else 1.0)
        except KafkaException:
            if force:
                raise
            return False
        meta = metadata.topics.get(self.topic)
        if meta is None or meta.error is not None or not meta.partitions:
            return False
        self._partitions = sorted(meta.partitions)
        self._consumer.assign([TopicPartition(self.topic, p, 0) for p in self._partitions])
        self._assigned = True
        return True


class WorkerPauses:
    """Which of one worker's topics are held because an operator paused a job type on them.

    Job types that share a topic pause together (the topic is held while any of them is
    paused); each switch that changes what this worker holds is logged once.
    """

    def __init__(
        self,
        follower: PauseFollower,
        topics_by_job_type: Mapping[str, tuple[str, ...]],
        logger: Logger,
    ) -> None:
        self.follower = follower
        self.topics_by_job_type = dict(topics_by_job_type)
        self.logger = logger
        self.held: dict[str, str] = {}
        """Physical topic -> why it is held ("job type X paused by Y")."""
        self._paused: frozenset[str] = frozenset()

    @property
    def paused_job_types(self) -> frozenset[str]:
        """Job types of this worker that are paused now."""
        return self._paused

    def start(self, timeout_s: float = TIMEOUT_S) -> bool:
        """Read the compacted switches to the end, before the first assignment, so that a
        worker (re)started while a job type is paused never starts one of its jobs."""
        self.follower.poll(until_end=True, timeout_s=timeout_s)
        return self._update()

    def poll(self) -> bool:
        """Take in new switches without blocking; True when the held topics changed."""
        self.follower.poll()
        return self._update()

    def _update(self) -> bool:
        states = {
            name: state
            for name, state in self.follower.states.items()
            if name in self.topics_by_job_type
        }
        paused = frozenset(name for name, state in states.items() if state.paused)
        if paused == self._paused:
            return False
        before, was_paused = self.held, self._paused
        self._paused = paused
        self.held = held_topics(states, self.topics_by_job_type)
        for name in sorted(paused - was_paused):
            self._log_switch(states[name], "job type paused: its partitions are paused")
        for name in sorted(was_paused - paused):
            self._log_switch(states[name], "job type resumed")
        return self.held.keys() != before.keys()

    def _log_switch(self, state: PauseState, message: str) -> None:
        topics = self.topics_by_job_type.get(state.job_type, ())
        sharing = sorted(
            {
                other
                for other, others in self.topics_by_job_type.items()
                if other != state.job_type and set(others) & set(topics)
            }
        )
        extra: dict[str, Any] = {
            "job_type": state.job_type,
            "by": state.by,
            "at": state.at,
            "reason": state.reason,
            "topics": list(topics),
            "held_topics": sorted(self.held),
        }
        if sharing:
            # Pausing is per partition: a topic shared with other job types pauses them too,
            # and stays paused while any of them is.
            extra["shares_topics_with"] = sharing
            message += (
                f"; job types sharing its topics pause together: {', '.join(sharing)}"
                if state.paused
                else f"; topics shared with {', '.join(sharing)} stay paused while one of them is"
            )
        self.logger.info(message, extra=extra)
