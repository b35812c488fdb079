"""The control topic's contract: `dpp.control`, its keys and the pause switch each record carries.

One record per switch, keyed ``pause/<job type>`` with a JSON :class:`PauseState` value
``{job_type, paused, at, by, reason}``; compaction keeps the newest per key forever, so a
reader that starts from the beginning knows every job type's state. The writer lives in
``dpp_ops.control`` (``dpp ops pause|resume``, the ops page), the follower the workers embed in
``dpp_consumer.pauses``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from dpp_shared.topics import TopicSpec

CONTROL_TOPIC = "dpp.control"
CONTROL_SPEC = TopicSpec(CONTROL_TOPIC, partitions=1, retention_ms=-1, cleanup_policy="compact")
PAUSE_PREFIX = "pause/"


def pause_key(job_type: str) -> bytes:
    """The record key of ``job_type``'s switch: compaction keeps one value per job type."""
    return f"{PAUSE_PREFIX}{job_type}".encode()


@dataclass(frozen=True, slots=True)
class PauseState:
    """Whether one job type is paused, since when (epoch seconds) and by whom."""

    job_type: str
    paused: bool
    at: float
    by: str
    reason: str = ""

    def encode(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def decode(cls, raw: bytes) -> PauseState | None:
        """The state in ``raw``; None for anything that is not a well-formed switch."""
        try:
            fields = json.loads(raw)
            state = cls(**fields)
        except (ValueError, TypeError):
            return None
        if not isinstance(state.job_type, str) or not isinstance(state.paused, bool):
            return None
        return state

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """The reason operators read next to a frozen partition (page, `dpp lag`, exporters)."""
        verb = "paused" if self.paused else "resumed"
        return f"job type {self.job_type} {verb} by {self.by}"


def parse_switch(key: bytes | None, value: bytes | None) -> PauseState | None:
    """The switch one control record carries, or None (another kind of record, a tombstone,
    or a value that does not parse; readers skip those rather than fail)."""
    if key is None or value is None or not key.startswith(PAUSE_PREFIX.encode()):
        return None
    state = PauseState.decode(value)
    if state is None or pause_key(state.job_type) != key:
        return None
    return state


def held_topics(
    states: Mapping[str, PauseState], topics_by_job_type: Mapping[str, tuple[str, ...]]
) -> dict[str, str]:
    """Topics whose partitions are paused on purpose -> why ("job type X paused by Y").

    Job types that share a topic pause together: the topic is held while any of them is.
    """
    held: dict[str, str] = {}
    for job_type in sorted(states):
        state = states[job_type]
        if not state.paused:
            continue
        for topic in topics_by_job_type.get(job_type, ()):
            held.setdefault(topic, state.describe())
    return held
