"""One record of the dead-letter topic, read from the `dpp-*` headers the worker wrote on it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from dpp_shared import headers as hdr

RawHeaders = tuple[tuple[str, bytes | None], ...]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A dead letter as operators see it. `id` is its address on the topic, `partition:offset`."""

    partition: int
    offset: int
    timestamp: float | None
    key: bytes | None
    value: bytes | None
    headers: RawHeaders

    @classmethod
    def of(cls, message: Any) -> DeadLetter:
        """From a confluent-kafka message of the dead-letter topic."""
        ts_type, ts_ms = message.timestamp()
        raw = tuple(
            (name, value.encode() if isinstance(value, str) else value)
            for name, value in message.headers() or ()
        )
        return cls(
            partition=int(message.partition() or 0),
            offset=int(message.offset() or 0),
            timestamp=ts_ms / 1000.0 if ts_type and ts_ms is not None and ts_ms >= 0 else None,
            key=message.key(),
            value=message.value(),
            headers=raw,
        )

    @property
    def id(self) -> str:
        return f"{self.partition}:{self.offset}"

    def header(self, name: str) -> str | None:
        """The last value of a header as text (the worker may append one on each attempt)."""
        found: str | None = None
        for header_name, value in self.headers:
            if header_name == name and value is not None:
                found = value.decode("utf-8", "replace")
        return found

    def _int_header(self, name: str) -> int | None:
        raw = self.header(name)
        return int(raw) if raw is not None and raw.isdigit() else None

    @property
    def job_id(self) -> str | None:
        return self.header("ce_id")

    @property
    def event_type(self) -> str | None:
        return self.header("ce_type")

    @property
    def attempts(self) -> int | None:
        return self._int_header(hdr.ATTEMPT)

    def summary(self) -> dict[str, Any]:
        """What `dpp dlq list` and the ops page show: where it failed, why, and where from."""
        return {
            "id": self.id,
            "partition": self.partition,
            "offset": self.offset,
            "timestamp": self.timestamp,
            "failed_at": self.header(hdr.FAILED_AT),
            "event_type": self.event_type,
            "job_id": self.job_id,
            "attempts": self.attempts,
            "error_type": self.header(hdr.ERROR_TYPE),
            "error": self.header(hdr.ERROR),
            "original": {
                "topic": self.header(hdr.ORIGINAL_TOPIC),
                "partition": self._int_header(hdr.ORIGINAL_PARTITION),
                "offset": self._int_header(hdr.ORIGINAL_OFFSET),
            },
        }

    def as_dict(self) -> dict[str, Any]:
        """Everything about it, the value as JSON when it is JSON, else as text."""
        raw = self.value or b""
        try:
            value: Any = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            value = raw.decode("utf-8", "replace")
        return {
            **self.summary(),
            "key": (self.key or b"").decode("utf-8", "replace"),
            "headers": {
                name: (raw_value or b"").decode("utf-8", "replace")
                for name, raw_value in self.headers
            },
            "value": value,
        }
