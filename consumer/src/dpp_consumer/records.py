"""A consumed record as the worker handles it: where it sits, read at once on the poll thread;
headers, key and value read from the Kafka message only when a job thread needs them."""

from __future__ import annotations

from typing import Any

from confluent_kafka import Message

RawHeaders = list[tuple[str, bytes | None]]


class ConsumedRecord:
    """One record of an assigned partition.

    The poll thread only needs topic, partition and offset (and schedules by topic), so the
    header list, which confluent-kafka builds anew on every call, is materialised once, lazily,
    usually on the job thread. Built directly (tests, replays) it is complete from the start.
    """

    __slots__ = ("_event_type", "_headers", "_key", "_message", "_retried", "_value",
                 "offset", "partition", "topic")  # fmt: skip

    def __init__(
        self,
        topic: str,
        partition: int,
        offset: int,
        *,
        key: bytes | None = None,
        value: bytes | None = None,
        headers: RawHeaders | None = None,
        event_type: str | None = None,
        message: Message | None = None,
    ) -> None:
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self._message = message
        self._key = key
        self._value = value
        self._headers: RawHeaders | None = None if message is not None else (headers or [])
        self._event_type = event_type
        self._retried = False
        if self._headers is not None:
            self._scan(self._headers)

    @classmethod
    def of(cls, message: Message) -> ConsumedRecord:
        topic, partition, offset = message.topic(), message.partition(), message.offset()
        if topic is None or partition is None or offset is None:
            raise ValueError("a consumed record always has a topic, partition and offset")
        return cls(topic, partition, offset, message=message)

    def _scan(self, headers: RawHeaders) -> None:
        for name, raw in headers:
            if name == "ce_type" and raw is not None:
                self._event_type = raw.decode("utf-8", "replace")
            elif name.startswith("dpp-"):
                self._retried = True

    @property
    def headers(self) -> RawHeaders:
        headers = self._headers
        if headers is None:
            assert self._message is not None
            headers = _headers(self._message.headers())
            self._scan(headers)
            self._headers = headers
        return headers

    @property
    def key(self) -> bytes | None:
        if self._message is not None and self._key is None:
            self._key = _as_bytes(self._message.key())
        return self._key

    @property
    def value(self) -> bytes | None:
        if self._message is not None and self._value is None:
            self._value = _as_bytes(self._message.value())
        return self._value

    @property
    def event_type(self) -> str | None:
        """The CloudEvents type from the `ce_type` header, if any."""
        _ = self.headers
        return self._event_type

    @property
    def retried(self) -> bool:
        """True if it carries `dpp-*` headers (a retry or a replay): only then are they parsed."""
        _ = self.headers
        return self._retried

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


def _as_bytes(raw: str | bytes | None) -> bytes | None:
    return raw.encode() if isinstance(raw, str) else raw


def _headers(raw: Any) -> RawHeaders:
    if not raw:
        return []
    if isinstance(raw, list):
        return raw  # a consumed message's headers: (name, bytes | None) pairs, used as they are
    items = raw.items() if isinstance(raw, dict) else raw
    return [(name, _as_bytes(value)) for name, value in items]
