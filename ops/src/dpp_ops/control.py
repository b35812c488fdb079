"""Durable operator switches on the compacted `dpp.control` topic: job types paused or resumed.

One record per switch, keyed ``pause/<job type>`` with a JSON :class:`PauseState` value;
compaction keeps the newest per key forever, so a worker that starts (or restarts) reads the
whole topic from the beginning and knows every job type's state. Workers honour it by
pausing the partitions of the job type's topics (see docs/operators.md, "Pausing a job type").
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from dpp_shared.topics import TopicNamespace, TopicSpec

CONTROL_TOPIC = "dpp.control"
CONTROL_SPEC = TopicSpec(CONTROL_TOPIC, partitions=1, retention_ms=-1, cleanup_policy="compact")
PAUSE_PREFIX = "pause/"
TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class PauseState:
    """Whether one job type is paused, since when and by whom."""

    job_type: str
    paused: bool
    at: float
    by: str
    reason: str = ""

    def encode(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def decode(cls, raw: bytes) -> PauseState | None:
        try:
            return cls(**json.loads(raw))
        except (ValueError, TypeError):
            return None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class ControlTopic:
    """Writes and reads the pause switches of one namespace."""

    def __init__(
        self, client_config: Mapping[str, Any], namespace: TopicNamespace | None = None
    ) -> None:
        self._config = dict(client_config)
        self._namespace = namespace or TopicNamespace()
        self.topic = self._namespace.physical(CONTROL_TOPIC)

    def set_paused(self, job_type: str, paused: bool, by: str, reason: str = "") -> PauseState:
        """Record the switch and wait until the broker has it (acks=all, idempotent)."""
        from dpp_ops.dead_letters.ledger import ensure_topic  # noqa: PLC0415

        ensure_topic(AdminClient(self._config), CONTROL_SPEC, self._namespace)
        state = PauseState(job_type, paused, time.time(), by, reason)
        producer = Producer({**self._config, "acks": "all", "enable.idempotence": True})
        errors: list[KafkaError] = []
        producer.produce(
            self.topic,
            key=f"{PAUSE_PREFIX}{job_type}".encode(),
            value=state.encode(),
            on_delivery=lambda error, _msg: errors.append(error) if error else None,
        )
        if producer.flush(TIMEOUT_S) or errors:
            raise TimeoutError(f"the switch for {job_type} was not acknowledged: {errors}")
        return state

    def states(self) -> dict[str, PauseState]:
        """The newest switch of every job type that ever had one."""
        return PauseFollower(self._config, self.topic).poll(until_end=True)


class PauseFollower:
    """Follows the control topic from its beginning without a consumer group (assign only).

    This is the piece a worker embeds: call :meth:`poll` from its poll loop (non-blocking
    by default) and pause or resume the partitions of job types whose state changed.
    """

    def __init__(self, client_config: Mapping[str, Any], topic: str) -> None:
        self.topic = topic
        self.states: dict[str, PauseState] = {}
        self._consumer = Consumer(
            {
                **client_config,
                "group.id": "dpp-control-follower",  # required by the client, never joined
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed",
            }
        )
        self._assigned = False
        self._at_end: set[int] = set()
        self._partitions: list[int] = []

    def poll(
        self, *, until_end: bool = False, timeout_s: float = TIMEOUT_S
    ) -> dict[str, PauseState]:
        """Apply what arrived since the last call; with ``until_end`` read up to the end of the
        topic first. Returns every known state (a missing topic means nothing is paused)."""
        if not self._assigned and not self._assign():
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
            key = (message.key() or b"").decode()
            value = message.value()
            if key.startswith(PAUSE_PREFIX) and value is not None:
                state = PauseState.decode(value)
                if state is not None:
                    self.states[state.job_type] = state
            if until_end and len(self._at_end) >= len(self._partitions):
                break
        return dict(self.states)

    def paused(self) -> set[str]:
        return {job_type for job_type, state in self.states.items() if state.paused}

    def close(self) -> None:
        self._consumer.close()

    def _assign(self) -> bool:
        meta = self._consumer.list_topics(timeout=TIMEOUT_S).topics.get(self.topic)
        if meta is None or meta.error is not None or not meta.partitions:
            return False
        self._partitions = sorted(meta.partitions)
        self._consumer.assign([TopicPartition(self.topic, p, 0) for p in self._partitions])
        self._assigned = True
        return True
