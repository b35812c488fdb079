"""The writer of the operators' switches on `dpp.control`: pause or resume a job type.

The contract (topic, key, value) is ``dpp_shared.control``; the workers follow it with
``dpp_consumer.pauses.PauseFollower`` (docs/operators.md, "Pausing a job type").
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from confluent_kafka import KafkaError, Producer
from confluent_kafka.admin import AdminClient

from dpp_consumer.pauses import FOLLOWER_GROUP, PauseFollower
from dpp_shared.control import CONTROL_SPEC, CONTROL_TOPIC, PauseState, pause_key
from dpp_shared.topics import TopicNamespace

TIMEOUT_S = 30.0


class ControlTopic:
    """Writes and reads the pause switches of one namespace."""

    def __init__(
        self,
        client_config: Mapping[str, Any],
        namespace: TopicNamespace | None = None,
        *,
        reader_group: str = FOLLOWER_GROUP,
    ) -> None:
        """`reader_group` names the reading client (see `PauseFollower`): the lag publisher
        passes the workers' group, which its role may describe under MSK IAM."""
        self._config = dict(client_config)
        self._reader_group = reader_group
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
            key=pause_key(job_type),
            value=state.encode(),
            on_delivery=lambda error, _msg: errors.append(error) if error else None,
        )
        if producer.flush(TIMEOUT_S) or errors:
            raise TimeoutError(f"the switch for {job_type} was not acknowledged: {errors}")
        return state

    def states(self) -> dict[str, PauseState]:
        """The newest switch of every job type that ever had one (read to the topic's end)."""
        follower = PauseFollower(self._config, self.topic, group=self._reader_group)
        try:
            return follower.poll(until_end=True, timeout_s=TIMEOUT_S)
        finally:
            follower.close()
