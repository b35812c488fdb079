"""Admission of submitted events: envelope, known type, caller's scope, payload, Kafka record.

Two paths with one outcome. `FastAdmission` validates a whole request body from its raw bytes
in one pydantic-core call (a discriminated union of the registered types) and encodes with
headers precomputed per type; it answers `None` for anything it cannot vouch for (any
validation error, an explicit null where the caller may leave a field out, NaN tokens), and
then `admit` runs per event on the parsed body, which alone words the errors."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import attrgetter
from typing import Annotated, Any, Literal, NamedTuple, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    create_model,
    field_validator,
)

from dpp_producer.auth import Principal
from dpp_producer.errors import EventRejectedError, ProducerError
from dpp_producer.event_ids import PUBLISHER_HEADER, EventIds, stamp_publisher
from dpp_shared.codec import CONTENT_TYPE_HEADER, TRACEPARENT_HEADER, KafkaRecord, encode
from dpp_shared.envelope import TRACEPARENT_PATTERN, EventEnvelope
from dpp_shared.errors import EventValidationError, FieldIssue, UnknownEventTypeError
from dpp_shared.events import REGISTRY, EventRegistry, EventType
from dpp_shared.events.registry import issues_from_validation_error
from dpp_shared.ids import new_ids
from dpp_shared.topics import TopicNamespace
from dpp_shared.tracing import TraceHeaders, with_trace

_EVENT_ID_NAMESPACE = uuid.UUID("6f2b8f0e-4c1e-4f8a-9a4b-2d7c1e5b9a30")


class AdmittedEvent(NamedTuple):
    """An event that passed every check, ready to produce (a tuple: made per event of a batch,
    where a frozen dataclass's `__init__` cost as much as its headers)."""

    event_id: str
    correlation_id: str | None
    event_type: EventType
    record: KafkaRecord
    id_given: bool = True
    """False when the id was made up here (a batch entry names only an id the caller gave)."""


@dataclass(frozen=True)
class AdmissionContext:
    """What the request adds to events that leave it out."""

    principal: Principal
    namespace: TopicNamespace
    correlation_id: str | None = None
    idempotency_key: str | None = None
    request_fingerprint: str | None = None
    """Hash of the request body; with an idempotency key it fixes the ids of events sent
    without one (see `default_event_id`)."""
    default_source: str = "urn:dpp:producer-api"
    registry: EventRegistry = REGISTRY
    event_ids: EventIds | None = None
    """Issues the subject-scoped, signed event ids (see `dpp_producer.event_ids`); None keeps
    ids as sent (tools and tests that build records without an API)."""
    trace: TraceHeaders | None = None
    """The trace context every record of the request carries (the producer span's, or the
    caller's `traceparent` header passed through), in place of an event's own `traceparent`."""

    def default_event_id(self, index: int | None = None) -> str | None:
        """The id of an event that came without one, when the request has an Idempotency-Key.

        A name-based UUID of (principal, key, body[, index in the batch]): a retry of the same
        request gets the same event id even when its first answer was never stored (a 503 whose
        record was delivered later), so the consumer's job store dedupes it. Without a key,
        ids are fresh UUIDv7s."""
        if self.idempotency_key is None or self.request_fingerprint is None:
            return None
        name = f"{self.principal.subject}\n{self.idempotency_key}\n{self.request_fingerprint}"
        if index is not None:
            name += f"\n{index}"
        return str(uuid.uuid5(_EVENT_ID_NAMESPACE, name))


def _join(prefix: str, path: str) -> str:
    return f"{prefix}.{path}" if prefix and path else prefix or path


def admit(
    document: Any, context: AdmissionContext, path: str = "", index: int | None = None
) -> AdmittedEvent:
    """Check one CloudEvents JSON object and encode it; raises `EventRejectedError` (422, with
    field paths rooted at `path`) or `ScopeError` (403)."""
    if not isinstance(document, dict):
        raise EventRejectedError(
            "an event must be a CloudEvents JSON object",
            issues=[FieldIssue(path or "$", "expected a JSON object")],
        )
    fields = dict(document)
    registry = context.registry
    default_id = context.default_event_id(index)
    if context.event_ids is not None:
        fields["id"] = context.event_ids.assign(
            context.principal.subject, fields.get("id"), default_id
        )
    elif default_id is not None:
        fields.setdefault("id", default_id)
    # CloudEvents requires a source; name the caller when the event does not.
    fields.setdefault("source", f"{context.default_source}/{context.principal.subject}")
    if context.correlation_id is not None:
        fields.setdefault("correlationid", context.correlation_id)
    if context.idempotency_key is not None:
        fields.setdefault("idempotencykey", context.idempotency_key)
    type_name = fields.get("type")
    if fields.get("dataschema") is None and isinstance(type_name, str) and type_name in registry:
        # Filled in before validation: a `model_copy` afterwards cost as much as `encode`.
        fields["dataschema"] = registry.get(type_name).dataschema
    try:
        envelope = EventEnvelope.model_validate(fields)
    except ValidationError as error:
        raise EventRejectedError(
            "the CloudEvents envelope is invalid",
            issues=issues_from_validation_error(error, path),
        ) from None
    try:
        event_type = context.registry.get(envelope.type)
    except UnknownEventTypeError as error:
        raise EventRejectedError(
            f"unknown event type {envelope.type!r}",
            issues=[FieldIssue(_join(path, "type"), issue.reason) for issue in error.issues],
            known_types=error.known_types,
        ) from None
    context.principal.require(event_type.scope, event_type.name)
    try:
        payload = context.registry.validate_payload(event_type.name, envelope.data)
    except EventValidationError as error:
        raise EventRejectedError(
            f"the payload does not match {event_type.name}",
            issues=[FieldIssue(_join(path, issue.path), issue.reason) for issue in error.issues],
        ) from None
    record = encode(envelope, payload, event_type, context.namespace)
    if context.trace is not None:
        record = KafkaRecord(
            record.topic, record.key, record.value, with_trace(record.headers, context.trace)
        )
    return AdmittedEvent(
        envelope.id,
        envelope.correlationid,
        event_type,
        stamp_publisher(record, context.principal.subject),
    )


# --- the fast path -----------------------------------------------------------------------


def _check_traceparent(value: str | None) -> str | None:
    if value is not None and not TRACEPARENT_PATTERN.match(value):
        raise ValueError("must be a W3C traceparent")
    return value


def _check_time(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("must carry a timezone")
    return value.astimezone(UTC)


def _fast_envelope(event_type: EventType) -> type[BaseModel]:
    """`EventEnvelope` for one type with its payload model as `data`; the fields a caller may
    leave out are optional here so `model_fields_set` tells "missing" from "null"."""
    text: Any = str | None
    fields: dict[str, Any] = {
        "specversion": (Literal["1.0"], "1.0"),
        "id": (text, Field(default=None, min_length=1, max_length=128)),
        "source": (text, Field(default=None, min_length=1, max_length=512)),
        "type": (Literal[event_type.name], ...),
        "time": (datetime | None, None),
        "subject": (text, Field(default=None, max_length=512)),
        "datacontenttype": (Literal["application/json"], "application/json"),
        "dataschema": (text, Field(default=None, max_length=512)),
        "correlationid": (text, Field(default=None, max_length=128)),
        "idempotencykey": (text, Field(default=None, max_length=256)),
        "traceparent": (text, None),
        "data": (event_type.payload, ...),
    }
    model: type[BaseModel] = create_model(
        f"Fast_{event_type.payload.__name__}",
        __config__=ConfigDict(extra="forbid"),
        __validators__={
            "traceparent_ok": field_validator("traceparent")(_check_traceparent),
            "time_ok": field_validator("time")(_check_time),
        },
        **fields,
    )
    return model


@dataclass(frozen=True, slots=True)
class _TypeCodec:
    """What every record of one type shares: topic, key field, constant headers, serializer."""

    event_type: EventType
    topic: str
    type_header: tuple[str, bytes]
    dataschema_header: tuple[str, bytes]
    key_of: Callable[[Any], Any]
    to_json: Callable[[Any], bytes]

    @classmethod
    def of(cls, event_type: EventType, namespace: TopicNamespace) -> _TypeCodec:
        return cls(
            event_type,
            namespace.physical(event_type.topic),
            ("ce_type", event_type.name.encode()),
            ("ce_dataschema", event_type.dataschema.encode()),
            attrgetter(event_type.key_field),
            event_type.payload.__pydantic_serializer__.to_json,
        )


# The members an event may send with its record's headers still the request's common ones (see
# `FastAdmission._admit_all`); any other member sent, even as null, takes the general way.
_PLAIN_MEMBERS = frozenset(
    {"specversion", "id", "source", "type", "time", "datacontenttype", "data"}
)


class FastAdmission:
    """Whole-body validation and encoding for the registered types (built once per app)."""

    def __init__(self, registry: EventRegistry, namespace: TopicNamespace) -> None:
        models = [_fast_envelope(registry.get(name)) for name in registry.names()]
        union: Any = (
            models[0]
            if len(models) == 1
            else Annotated[Union[tuple(models)], Field(discriminator="type")]  # noqa: UP007
        )
        self._single: TypeAdapter[Any] = TypeAdapter(union)
        self._array: TypeAdapter[list[Any]] = TypeAdapter(list[union])
        # {"events": [...]}: other members are ignored, as the parsed-body path does.
        batch_object = create_model("FastBatch", events=(list[union], ...))
        self._object: TypeAdapter[Any] = TypeAdapter(batch_object)
        self._codecs = {
            name: _TypeCodec.of(registry.get(name), namespace) for name in registry.names()
        }

    def single(self, raw: bytes, context: AdmissionContext) -> AdmittedEvent | None:
        """The admitted event, or None: let `admit` decide and word the answer. Raises
        `ScopeError` like `admit` does for a valid event the caller may not publish."""
        if not self._plain(raw, context):
            return None
        try:
            event = self._single.validate_json(raw)
        except ValidationError:
            return None
        admitted = self._admit_all([event], context)
        return None if admitted is None else admitted[0]

    def batch(
        self, raw: bytes, context: AdmissionContext, max_batch: int
    ) -> list[AdmittedEvent] | None:
        """Every event admitted, or None: `admit` decides per event (and words each entry of a
        batch that fails in part, scope errors included)."""
        if not self._plain(raw, context):
            return None
        try:
            if raw.lstrip()[:1] == b"[":
                events = self._array.validate_json(raw)
            else:
                events = self._object.validate_json(raw).events
        except ValidationError:
            return None
        if not events or len(events) > max_batch:
            return None
        try:
            return self._admit_all(events, context)
        except ProducerError:
            return None

    @staticmethod
    def _plain(raw: bytes, context: AdmissionContext) -> bool:
        # An Idempotency-Key needs the parsed body (its fingerprint fixes the default ids);
        # Python's json rejects NaN/Infinity tokens, which pydantic's parser may accept.
        # A one-byte search is memchr; a three-byte one crawled through long runs of one letter
        # (0.7 ms for a 500 KB batch), so it only runs when the body has the first letter.
        return (
            context.idempotency_key is None
            and (b"N" not in raw or b"NaN" not in raw)
            and (b"I" not in raw or b"Infinity" not in raw)
        )

    def _admit_all(
        self, events: list[Any], context: AdmissionContext
    ) -> list[AdmittedEvent] | None:
        """The records of validated events, as `admit` would encode them, or None for anything
        `admit` must word. What the events of one request share is made once: the default
        source, time and trace headers, the scope check and the header tail per type, and the
        ids of the events sent without one (one `EventIds.issue` call)."""
        principal = context.principal
        subject = principal.subject
        source = f"{context.default_source}/{subject}"
        if len(source) > 512:
            return None
        default_source = ("ce_source", source.encode())
        default_time = _time_header(datetime.now(UTC))
        publisher = (PUBLISHER_HEADER, subject.encode())
        trace = context.trace
        request_correlation = context.correlation_id
        correlation_header = None
        if request_correlation is not None:
            correlation_header = ("ce_correlationid", request_correlation.encode())
        # An event that leaves its id out gets a fresh one; all of them made in one pass.
        missing = [event.id for event in events].count(None)
        event_ids = context.event_ids
        fresh = iter(
            event_ids.issue(subject, missing) if event_ids is not None else new_ids(missing)
        )
        sources: dict[str, tuple[str, bytes]] = {}
        per_type: dict[str, tuple[_TypeCodec, tuple[tuple[str, bytes], ...]]] = {}
        admitted: list[AdmittedEvent] = []
        for event in events:
            given = event.__pydantic_fields_set__  # `model_fields_set` without its property call
            if (event.id is None and "id" in given) or (event.source is None and "source" in given):
                return None  # `admit` keeps an explicit null and rejects it
            if event.time is None and "time" in given:
                return None
            name = event.type
            shared = per_type.get(name)
            if shared is None:
                codec = self._codecs[name]
                if not principal.may_publish(codec.event_type.scope):
                    principal.require(codec.event_type.scope, name)
                tail = [codec.dataschema_header]
                if correlation_header is not None:
                    tail.append(correlation_header)
                if trace is not None:
                    tail.extend(trace)  # as `admit` does with `with_trace`
                tail.append(publisher)  # as `stamp_publisher`, last
                shared = per_type[name] = (codec, tuple(tail))
            codec, common_tail = shared
            requested = event.id
            event_id: str
            if requested is None:
                event_id = next(fresh)
            elif event_ids is not None:
                # As `admit`: an id the caller chose is scoped to its subject and signed.
                event_id = str(event_ids.assign(subject, requested, None))
            else:
                event_id = requested
            if event.source is None:
                source_header = default_source
            else:
                source_header = sources.get(event.source) or sources.setdefault(
                    event.source, ("ce_source", event.source.encode())
                )
            headers = [
                _SPECVERSION,
                ("ce_id", event_id.encode()),
                source_header,
                codec.type_header,
                default_time if event.time is None else _time_header(event.time),
                _CONTENT_TYPE,
            ]
            correlation_id = request_correlation
            if given <= _PLAIN_MEMBERS:
                if correlation_id is not None and len(correlation_id) > 128:
                    return None
                headers.extend(common_tail)
            else:
                correlation_id = _own_tail(
                    event, given, context, codec, headers, publisher=publisher
                )
                if correlation_id is not None and len(correlation_id) > 128:
                    return None
            payload = event.data
            record = _new_tuple(
                KafkaRecord,
                (codec.topic, str(codec.key_of(payload)).encode(), codec.to_json(payload), headers),
            )
            # The tuples' own `__new__` is Python code: as dear per event as a dataclass.
            admitted.append(
                _new_tuple(
                    AdmittedEvent,
                    (event_id, correlation_id, codec.event_type, record, requested is not None),
                )
            )
        return admitted


def _own_tail(
    event: Any,
    given: set[str],
    context: AdmissionContext,
    codec: _TypeCodec,
    headers: list[tuple[str, bytes]],
    *,
    publisher: tuple[str, bytes],
) -> str | None:
    """Append the headers after `content-type` for an event that sets its own optional
    attributes; returns its correlation id."""
    correlation_id: str | None = event.correlationid
    if correlation_id is None and "correlationid" not in given:
        correlation_id = context.correlation_id
    if event.subject is not None:
        headers.append(("ce_subject", event.subject.encode()))
    headers.append(
        codec.dataschema_header
        if event.dataschema is None
        else ("ce_dataschema", event.dataschema.encode())
    )
    if correlation_id is not None:
        headers.append(("ce_correlationid", correlation_id.encode()))
    if event.idempotencykey is not None:
        headers.append(("ce_idempotencykey", event.idempotencykey.encode()))
    if context.trace is not None:
        headers.extend(context.trace)  # as `admit` does with `with_trace`
    elif event.traceparent is not None:
        headers.append((TRACEPARENT_HEADER, event.traceparent.encode()))
    headers.append(publisher)  # as `stamp_publisher`, last
    return correlation_id


def _time_header(moment: datetime) -> tuple[str, bytes]:
    return ("ce_time", moment.isoformat().replace("+00:00", "Z").encode())


_new_tuple = tuple.__new__
_SPECVERSION = ("ce_specversion", b"1.0")
_CONTENT_TYPE = (CONTENT_TYPE_HEADER, b"application/json")
