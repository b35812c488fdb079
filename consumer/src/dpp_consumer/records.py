"""A consumed record as the worker handles it: typed fields read once from a Kafka message."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from confluent_kafka import Message

RawHeaders = list[tuple[str, bytes | None]]


@dataclass(frozen=True, slots=True)
class ConsumedRecord:
    """One record of an assigned partition, with the CloudEvents type read from its headers
    (the executor schedules by it before anything is decoded)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: RawHeaders
    event_type: str | None
    retried: bool = False
    """True if it carries `dpp-*` headers (a retry or a replay): only then are they parsed."""

    @classmethod
    def of(cls, message: Message) -> ConsumedRecord:
        headers = _headers(message.headers())
        event_type, retried = None, False
        for name, raw in headers:
            if name == "ce_type" and raw is not None:
                event_type = raw.decode("utf-8", "replace")
            elif name.startswith("dpp-"):
                retried = True
        topic, partition, offset = message.topic(), message.partition(), message.offset()
        if topic is None or partition is None or offset is None:
            raise ValueError("a consumed record always has a topic, partition and offset")
        key, value = message.key(), message.value()
        return cls(
            topic=topic,
            partition=partition,
            offset=offset,
            key=key.encode() if isinstance(key, str) else key,
            value=value.encode() if isinstance(value, str) else value,
            headers=headers,
            event_type=event_type,
            retried=retried,
        )

    def header(self, name: str) -> str | None:
        """A header as text (the last one of that name), never failing on odd bytes."""
        found = None
        for key, raw in self.headers:
            if key == name and raw is not None:
                found = raw.decode("utf-8", "replace")
        return found

    def text_headers(self, *prefixes: str) -> dict[str, str]:
        return {
            name: raw.decode("utf-8", "replace")
            for name, raw in self.headers
            if raw is not None and name.startswith(prefixes)
        }


def _headers(raw: Any) -> RawHeaders:
    if not raw:
        return []
    items = raw.items() if isinstance(raw, dict) else raw
    return [(name, value.encode() if isinstance(value, str) else value) for name, value in items]
