"""Topics held by an operator's pause switch, read from `dpp.control` for the lag status: a
paused job type's frozen partitions are the pause (OK, WARN while lag grows), not a STALL."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from dpp_shared.control import held_topics

if TYPE_CHECKING:
    from dpp_ops.control import ControlTopic

log = logging.getLogger("dpp.lag")


def worker_job_types(namespace: Any) -> dict[str, tuple[str, ...]]:
    """Job type -> the physical topics its events arrive on (job topic and retry tiers), as the
    workers of this environment hold them when the job type is paused."""
    from dpp_consumer.jobs import default_jobs  # noqa: PLC0415 - keep `dpp --help` instant
    from dpp_consumer.pauses import job_type_topics  # noqa: PLC0415
    from dpp_consumer.settings import worker_settings  # noqa: PLC0415

    return job_type_topics(default_jobs(), namespace, len(worker_settings().retry_delays_s))


class PausedTopics:
    """Called once per lag sample: topic -> "job type X paused by Y" for every paused job type.

    Reads the control topic to its end on each call (one small compacted partition), so `dpp
    lag`, the exporters and the page see a switch at their next sample. When the broker does
    not answer, the last known answer stands (a failed read must not turn pauses into STALLs).
    """

    def __init__(self, control: ControlTopic, job_types: Mapping[str, tuple[str, ...]]) -> None:
        self.control = control
        self.job_types = dict(job_types)
        self._last: dict[str, str] = {}

    def __call__(self) -> dict[str, str]:
        try:
            self._last = held_topics(self.control.states(), self.job_types)
        except Exception as error:  # KafkaException, TimeoutError: keep the last answer
            log.warning("reading the control topic failed, keeping the last pauses: %s", error)
        return dict(self._last)

    @classmethod
    def from_settings(cls) -> PausedTopics:
        """Wired from `KAFKA_*`, `AWS_*` and `DPP_TOPIC_PREFIX`, like the workers."""
        from dpp_consumer.settings import worker_settings  # noqa: PLC0415
        from dpp_ops.control import ControlTopic  # noqa: PLC0415
        from dpp_shared.kafka_config import admin_config  # noqa: PLC0415
        from dpp_shared.settings import aws_settings, kafka_settings, topic_settings  # noqa: PLC0415
        from dpp_shared.topics import TopicNamespace  # noqa: PLC0415

        namespace = TopicNamespace(topic_settings().topic_prefix)
        control = ControlTopic(
            admin_config(kafka_settings(), aws_settings()),
            namespace,
            reader_group=worker_settings().consumer_group,
        )
        return cls(control, worker_job_types(namespace))
