"""Admission of one submitted event: envelope, known type, caller's scope, payload, Kafka record."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from dpp_producer.auth import Principal
from dpp_producer.errors import EventRejectedError
from dpp_producer.event_ids import EventIds, stamp_publisher
from dpp_shared.codec import KafkaRecord, encode
from dpp_shared.envelope import EventEnvelope
from dpp_shared.errors import EventValidationError, FieldIssue, UnknownEventTypeError
from dpp_shared.events import REGISTRY, EventRegistry, EventType
from dpp_shared.events.registry import issues_from_validation_error
from dpp_shared.topics import TopicNamespace

_EVENT_ID_NAMESPACE = uuid.UUID("6f2b8f0e-4c1e-4f8a-9a4b-2d7c1e5b9a30")


@dataclass(frozen=True)
class AdmittedEvent:
    """An event that passed every check, ready to produce."""

    envelope: EventEnvelope
    event_type: EventType
    record: KafkaRecord


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
    return AdmittedEvent(envelope, event_type, stamp_publisher(record, context.principal.subject))
