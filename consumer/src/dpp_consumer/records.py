"""A consumed record as the worker handles it: where it sits, read at once on the poll thread;
headers, key and value read from the Kafka message only when they are needed, the headers in
one pass that every later reader (routing, retry history, decoding, the job's owner) shares."""

from __future__ import annotations

from typing import Any

from confluent_kafka import Message

RawHeaders = list[tuple[str, bytes | None]]


class ConsumedRecord:
    """One record of an assigned partition.

    The poll thread only needs topic, partition and offset (and schedules by topic), so the
    header list, which confluent-kafka builds anew on every call, is materialised once, lazily,
    usually when the record is dispatched. Built directly (tests, replays) it is complete from
    the start. The same pass keeps :attr:`attributes`, the last non-null value of each header
    name, which every reader then looks up instead of walking the list again.
    """

    __slots__ = ("_attributes", "_headers", "_key", "_message", "_value",
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
        message: Message | None = None,
    ) -> None:
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self._message = message
        self._key = key
        self._value = value
        self._headers: RawHeaders | None = None
        self._attributes: dict[str, bytes] = {}
        if message is None:
            self._scan(headers or [])

    @classmethod
    def of(cls, message: Message) -> ConsumedRecord:
        topic, partition, offset = message.topic(), message.partition(), message.offset()
        if topic is None or partition is None or offset is None:
            raise ValueError("a consumed record always has a topic, partition and offset")
        return cls(topic, partition, offset, message=message)

    def _scan(self, headers: RawHeaders) -> RawHeaders:
        # The one pass over the list: later values of a repeated name win, null values are
        # skipped (as `header` always did and `codec.header_map` does).
        self._headers = headers
        self._attributes = {name: raw for name, raw in headers if raw is not None}
        return headers

    @property
    def headers(self) -> RawHeaders:
        """The header list as consumed (repeats and nulls included): what retry copies carry."""
        headers = self._headers
        if headers is None:
            assert self._message is not None
            headers = self._scan(_headers(self._message.headers()))
        return headers

    @property
    def attributes(self) -> dict[str, bytes]:
        """Each header name's last non-null value, as bytes (do not modify)."""
        if self._headers is None:
            _ = self.headers
        return self._attributes

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
        return self.header("ce_type")

    def header(self, name: str) -> str | None:
        """A header as text (the last non-null one of that name), never failing on odd bytes."""
        raw = self.attributes.get(name)
        return None if raw is None else _text(raw)

    def text_headers(self, *prefixes: str) -> dict[str, str]:
        return {
            name: _text(raw) for name, raw in self.attributes.items() if name.startswith(prefixes)
        }


def _text(raw: bytes | str) -> str:
    # A record built directly may carry text values; a consumed one always carries bytes.
    return raw if isinstance(raw, str) else bytes(raw).decode("utf-8", "replace")


def _as_bytes(raw: str | bytes | None) -> bytes | None:
    return raw.encode() if isinstance(raw, str) else raw


def _headers(raw: Any) -> RawHeaders:
    if not raw:
        return []
    if isinstance(raw, list):
        return raw  # a consumed message's headers: (name, bytes | None) pairs, used as they are
    items = raw.items() if isinstance(raw, dict) else raw
    return [(name, _as_bytes(value)) for name, value in items]
