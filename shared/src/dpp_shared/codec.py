"""CloudEvents Kafka protocol binding, binary mode: `ce_*` headers, payload as value, key = partition key."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from dpp_shared.envelope import EventEnvelope
from dpp_shared.errors import EventDecodeError, EventValidationError
from dpp_shared.events.registry import EventRegistry, EventType
from dpp_shared.topics import TopicNamespace

Headers = list[tuple[str, bytes]]
CONTENT_TYPE_HEADER = "content-type"
TRACEPARENT_HEADER = "traceparent"
_OPTIONAL_ATTRIBUTES = ("subject", "dataschema", "correlationid", "idempotencykey")
_REQUIRED_ATTRIBUTES = ("specversion", "id", "source", "type", "time")


@dataclass(frozen=True)
class KafkaRecord:
    """What to hand to the Kafka producer for one event."""

    topic: str
    key: bytes
    value: bytes
    headers: Headers


@dataclass(frozen=True)
class DecodedEvent:
    """A record that passed decoding: its envelope, validated payload and type."""

    envelope: EventEnvelope
    payload: BaseModel
    event_type: EventType


def encode(
    envelope: EventEnvelope,
    payload: BaseModel,
    event_type: EventType,
    namespace: TopicNamespace = TopicNamespace(),
) -> KafkaRecord:
    """Encode a validated event into its Kafka record."""
    headers: Headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", envelope.id.encode()),
        ("ce_source", envelope.source.encode()),
        ("ce_type", envelope.type.encode()),
        ("ce_time", envelope.time.isoformat().replace("+00:00", "Z").encode()),
        (CONTENT_TYPE_HEADER, envelope.datacontenttype.encode()),
    ]
    for attribute in _OPTIONAL_ATTRIBUTES:
        value = getattr(envelope, attribute)
        if value is not None:
            headers.append((f"ce_{attribute}", value.encode()))
    if envelope.traceparent is not None:
        headers.append((TRACEPARENT_HEADER, envelope.traceparent.encode()))
    return KafkaRecord(
        topic=namespace.physical(event_type.topic),
        key=event_type.key_of(payload).encode(),
        value=payload.__pydantic_serializer__.to_json(payload),
        headers=headers,
    )


def header_map(headers: Sequence[tuple[str, bytes | None]] | None) -> dict[str, str]:
    """Headers as text; the last value wins for repeated names, undecodable ones are reported."""
    result: dict[str, str] = {}
    for name, raw in headers or ():
        if raw is None:
            continue
        try:
            result[name] = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise EventDecodeError(f"header {name!r} is not UTF-8") from None
    return result


def decode(
    value: bytes | None,
    headers: Sequence[tuple[str, bytes | None]] | None,
    registry: EventRegistry,
) -> DecodedEvent:
    """Decode a record into an event, or raise `EventDecodeError` saying why it is not one."""
    attributes = header_map(headers)
    missing = [name for name in _REQUIRED_ATTRIBUTES if f"ce_{name}" not in attributes]
    if missing:
        raise EventDecodeError(f"missing CloudEvents headers: {', '.join('ce_' + m for m in missing)}")
    event_type_name = attributes["ce_type"]
    if event_type_name not in registry:
        raise EventDecodeError(f"unknown event type {event_type_name!r}", event_type=event_type_name)
    if value is None:
        raise EventDecodeError("record has no value (tombstone)", event_type=event_type_name)
    try:
        data: Any = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise EventDecodeError(f"value is not JSON: {error}", event_type=event_type_name) from None
    if not isinstance(data, dict):
        raise EventDecodeError("value is not a JSON object", event_type=event_type_name)
    fields: dict[str, Any] = {
        name: attributes[f"ce_{name}"]
        for name in (*_REQUIRED_ATTRIBUTES, *_OPTIONAL_ATTRIBUTES)
        if f"ce_{name}" in attributes
    }
    if TRACEPARENT_HEADER in attributes:
        fields["traceparent"] = attributes[TRACEPARENT_HEADER]
    try:
        fields["time"] = datetime.fromisoformat(fields["time"])
        envelope = EventEnvelope.model_validate({**fields, "data": data})
        payload = registry.validate_payload(event_type_name, data)
    except (ValueError, ValidationError, EventValidationError) as error:
        raise EventDecodeError(f"invalid event: {error}", event_type=event_type_name) from None
    return DecodedEvent(envelope=envelope, payload=payload, event_type=registry.get(event_type_name))
