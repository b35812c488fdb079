"""CloudEvents Kafka protocol binding: binary mode, `ce_*` headers, payload value, partition key."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

from pydantic import BaseModel, TypeAdapter, ValidationError

from dpp_shared.envelope import EventEnvelope
from dpp_shared.errors import EventDecodeError, EventValidationError
from dpp_shared.events.registry import EventRegistry, EventType
from dpp_shared.topics import NO_PREFIX, TopicNamespace

Headers = list[tuple[str, bytes]]
# What a consumed record's headers may look like (confluent-kafka gives a list of pairs).
RecordHeaders = Sequence[tuple[str, str | bytes | None]] | Mapping[str, str | bytes | None] | None
CONTENT_TYPE_HEADER = "content-type"
TRACEPARENT_HEADER = "traceparent"
JSON_MEDIA_TYPE = "application/json"
# A content-type with this prefix marks structured mode (the whole event is the value).
STRUCTURED_MEDIA_TYPE_PREFIX = "application/cloudevents"
STRUCTURED_JSON_MEDIA_TYPE = "application/cloudevents+json"
_OPTIONAL_ATTRIBUTES = ("subject", "dataschema", "correlationid", "idempotencykey")
_REQUIRED_ATTRIBUTES = ("specversion", "id", "source", "type", "time")
_REQUIRED_HEADERS = tuple(f"ce_{name}" for name in _REQUIRED_ATTRIBUTES)
# (envelope field, binary-mode header) of every attribute a header carries.
_ATTRIBUTE_HEADERS = tuple(
    (name, f"ce_{name}") for name in (*_REQUIRED_ATTRIBUTES, *_OPTIONAL_ATTRIBUTES)
)


class KafkaRecord(NamedTuple):
    """What to hand to the Kafka producer for one event (a tuple: the producer API makes one per
    event of a batch, and a frozen dataclass's `__init__` was a tenth of that)."""

    topic: str
    key: bytes
    value: bytes
    headers: Headers

    def kafka_headers(self) -> list[tuple[str, str | bytes | None]]:
        """The headers typed as `confluent_kafka.Producer.produce` declares them."""
        return list(self.headers)


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
    namespace: TopicNamespace = NO_PREFIX,
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


_TEXT = {str}


def header_map(headers: RecordHeaders) -> dict[str, str]:
    """Headers as text; the last value wins for repeated names, undecodable ones are reported."""
    if type(headers) is dict:
        # The worker's one-pass map of a consumed record (name -> last non-null bytes).
        try:
            fast = {name: raw.decode("utf-8") for name, raw in headers.items() if raw is not None}
        except (AttributeError, UnicodeDecodeError):
            pass
        else:
            if set(map(type, fast)) <= _TEXT:  # every name is text (one C-level pass)
                return fast
    elif type(headers) is list:
        # A consumed record's usual (str, bytes) pairs in one pass; anything unusual (text or
        # memoryview values, undecodable bytes, non-text names) takes the checked path below.
        try:
            fast = {name: raw.decode("utf-8") for name, raw in headers if raw is not None}
        except (AttributeError, UnicodeDecodeError):
            pass
        else:
            if all(type(name) is str for name in fast):
                return fast
    pairs = headers.items() if isinstance(headers, Mapping) else headers or ()
    result: dict[str, str] = {}
    for name, raw in pairs:
        if raw is None:
            continue
        if not isinstance(name, str):
            raise EventDecodeError(f"header name {name!r} is not text")
        if isinstance(raw, str):
            result[name] = raw
            continue
        try:
            result[name] = bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise EventDecodeError(f"header {name!r} is not UTF-8") from None
    return result


def decode(
    value: bytes | None,
    headers: RecordHeaders,
    registry: EventRegistry,
) -> DecodedEvent:
    """Decode a record into an event, or raise `EventDecodeError` saying why it is not one.

    Binary mode is what `encode` writes; structured mode (`content-type:
    application/cloudevents+json`, the whole event as the value) is accepted too, as the binding
    says a receiver should. Nothing but `EventDecodeError` ever escapes, whatever the bytes.
    """
    prepared = _prepare(value, headers, registry)
    if isinstance(prepared, DecodedEvent):
        return prepared
    fields, data, event_type_name = prepared
    return _validated(fields, data, event_type_name, registry)


def decode_many(
    records: Sequence[tuple[bytes | None, RecordHeaders]], registry: EventRegistry
) -> list[DecodedEvent | EventDecodeError]:
    """`decode` for each record, in order: its event, or the error `decode` raises for it.

    The envelopes and payloads of each event type are validated in one pydantic-core call per
    type, not one per record. When such a call fails, its records are decoded one by one, so a
    poison record gets exactly the error `decode` gives it and its neighbours still decode.
    """
    results: list[DecodedEvent | EventDecodeError | None] = [None] * len(records)
    groups: dict[str, list[tuple[int, dict[str, Any], dict[str, Any]]]] = {}
    for index, (value, headers) in enumerate(records):
        try:
            prepared = _prepare(value, headers, registry)
            if isinstance(prepared, DecodedEvent):
                results[index] = prepared
                continue
            fields, data, event_type_name = prepared
            if isinstance(fields.get("time"), str):
                fields["time"] = datetime.fromisoformat(fields["time"])
        except EventDecodeError as error:
            results[index] = error
            continue
        except ValueError:
            results[index] = _decoded_alone(value, headers, registry)
            continue
        fields["data"] = data
        groups.setdefault(event_type_name, []).append((index, fields, data))
    for event_type_name, members in groups.items():
        event_type = registry.get(event_type_name)
        try:
            envelopes = _envelopes().validate_python([fields for _, fields, _ in members])
            payloads = _payloads_of(event_type.payload).validate_python(
                [data for _, _, data in members]
            )
        except (ValueError, TypeError):  # ValidationError is a ValueError
            for index, _, _ in members:
                value, headers = records[index]
                results[index] = _decoded_alone(value, headers, registry)
            continue
        for (index, _, _), envelope, payload in zip(members, envelopes, payloads, strict=True):
            results[index] = DecodedEvent(envelope=envelope, payload=payload, event_type=event_type)
    return [result for result in results if result is not None]


# Built on first use, not at import: the producer (and its Lambda cold start) never needs them.
@cache
def _envelopes() -> TypeAdapter[list[EventEnvelope]]:
    return TypeAdapter(list[EventEnvelope])


@cache
def _payloads_of(model: type[BaseModel]) -> TypeAdapter[list[BaseModel]]:
    adapter: TypeAdapter[list[BaseModel]] = TypeAdapter(list[model])  # type: ignore[valid-type]
    return adapter


def _decoded_alone(
    value: bytes | None, headers: RecordHeaders, registry: EventRegistry
) -> DecodedEvent | EventDecodeError:
    try:
        return decode(value, headers, registry)
    except EventDecodeError as error:
        return error


def _prepare(
    value: bytes | None, headers: RecordHeaders, registry: EventRegistry
) -> DecodedEvent | tuple[dict[str, Any], dict[str, Any], str]:
    """Everything `decode` checks before validation: a binary-mode record's envelope fields,
    payload data and type name (a structured-mode record is decoded whole); or
    `EventDecodeError`."""
    attributes = header_map(headers)
    content_type = attributes.get(CONTENT_TYPE_HEADER, "")
    if content_type.lower().startswith(STRUCTURED_MEDIA_TYPE_PREFIX):
        return _decode_structured(value, content_type, attributes, registry)
    missing = [header for header in _REQUIRED_HEADERS if header not in attributes]
    if missing:
        raise EventDecodeError(f"missing CloudEvents headers: {', '.join(missing)}")
    event_type_name = attributes["ce_type"]
    if event_type_name not in registry:
        raise EventDecodeError(
            f"unknown event type {event_type_name!r}", event_type=event_type_name
        )
    if content_type and _media_type(content_type) != JSON_MEDIA_TYPE:
        raise EventDecodeError(
            f"content-type {content_type!r} is not {JSON_MEDIA_TYPE}", event_type=event_type_name
        )
    if value is None:
        raise EventDecodeError("record has no value (tombstone)", event_type=event_type_name)
    data = _json_object(value, event_type_name)
    fields: dict[str, Any] = {
        name: attributes[header] for name, header in _ATTRIBUTE_HEADERS if header in attributes
    }
    if TRACEPARENT_HEADER in attributes:
        fields["traceparent"] = attributes[TRACEPARENT_HEADER]
    return fields, data, event_type_name


def _media_type(content_type: str) -> str:
    """`application/json; charset=utf-8` -> `application/json`."""
    return content_type.split(";", 1)[0].strip().lower()


def _json_object(value: bytes, event_type_name: str | None) -> dict[str, Any]:
    try:
        # NaN and Infinity are not JSON (RFC 8259); Python would otherwise accept them.
        data: Any = (
            # What json.loads does with bytes, with a decoder built once rather than per call.
            _JSON_DECODER.decode(value.decode(_encoding_of(value), "surrogatepass"))
            if isinstance(value, bytes)
            else json.loads(value, parse_constant=_reject_constant)
        )
    except (ValueError, RecursionError) as error:
        # ValueError covers bad UTF-8, bad JSON and oversized integers; RecursionError deep nesting.
        reason = f"value is not JSON: {str(error)[:200]}"
        raise EventDecodeError(reason, event_type=event_type_name) from None
    if not isinstance(data, dict):
        raise EventDecodeError("value is not a JSON object", event_type=event_type_name)
    return data


def _encoding_of(value: bytes) -> str:
    """`json.detect_encoding`, answered at once for the usual value: an object in UTF-8 (a
    first byte `{` is no BOM, and a second byte 0 is all that would make it UTF-16/32)."""
    if value[:1] == b"{" and value[1:2] != b"\x00":
        return "utf-8"
    return json.detect_encoding(value)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


_JSON_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def _validated(
    fields: dict[str, Any], data: dict[str, Any], event_type_name: str, registry: EventRegistry
) -> DecodedEvent:
    try:
        if isinstance(fields.get("time"), str):
            fields["time"] = datetime.fromisoformat(fields["time"])
        envelope = EventEnvelope.model_validate({**fields, "data": data})
        payload = registry.validate_payload(event_type_name, data)
    except EventValidationError as error:
        # Its text already reads "invalid event: ..."; prefixing it again doubled it.
        raise EventDecodeError(str(error), event_type=event_type_name) from None
    except (ValueError, TypeError, ValidationError) as error:
        raise EventDecodeError(f"invalid event: {error}", event_type=event_type_name) from None
    return DecodedEvent(
        envelope=envelope, payload=payload, event_type=registry.get(event_type_name)
    )


def _decode_structured(
    value: bytes | None, content_type: str, attributes: dict[str, str], registry: EventRegistry
) -> DecodedEvent:
    if _media_type(content_type) != STRUCTURED_JSON_MEDIA_TYPE:
        raise EventDecodeError(f"unsupported CloudEvents event format {content_type!r}")
    if value is None:
        raise EventDecodeError("structured-mode record has no value")
    event = _json_object(value, None)
    missing = [name for name in _REQUIRED_ATTRIBUTES if name not in event]
    if missing:
        raise EventDecodeError(f"structured event lacks attributes: {', '.join(missing)}")
    event_type_name = event.get("type")
    if not isinstance(event_type_name, str):
        raise EventDecodeError("structured event has no string 'type'")
    if event_type_name not in registry:
        raise EventDecodeError(
            f"unknown event type {event_type_name!r}", event_type=event_type_name
        )
    data = event.pop("data", None)
    if not isinstance(data, dict):
        raise EventDecodeError(
            "structured event 'data' is not a JSON object", event_type=event_type_name
        )
    if TRACEPARENT_HEADER in attributes and event.get("traceparent") is None:
        event["traceparent"] = attributes[TRACEPARENT_HEADER]
    return _validated(event, data, event_type_name, registry)
