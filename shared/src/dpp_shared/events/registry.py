"""The event-type registry: name -> payload model, topic, partition-key field and publish scope."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from dpp_shared.errors import EventValidationError, FieldIssue, UnknownEventTypeError


@dataclass(frozen=True)
class EventType:
    """Everything the platform knows about one versioned event type."""

    name: str
    payload: type[BaseModel]
    topic: str
    key_field: str
    scope: str
    description: str
    ordered: bool = False
    """True when events with the same key must be processed in order (one at a time per key)."""

    @property
    def dataschema(self) -> str:
        """The CloudEvents `dataschema` URI: the committed JSON Schema of the payload."""
        return f"urn:dpp:schema:{self.name}"

    def key_of(self, payload: BaseModel) -> str:
        return str(getattr(payload, self.key_field))


def issues_from_validation_error(error: ValidationError, prefix: str) -> list[FieldIssue]:
    """Turn pydantic's errors into field issues with dotted paths rooted at `prefix`."""
    issues = []
    for detail in error.errors(include_url=False):
        parts = [prefix, *(str(part) for part in detail["loc"])]
        issues.append(FieldIssue(".".join(p for p in parts if p), str(detail["msg"])))
    return issues


class EventRegistry:
    """Known event types. Adding a type is one `register` call in `catalog.py`."""

    def __init__(self) -> None:
        self._types: dict[str, EventType] = {}

    def register(self, event_type: EventType) -> EventType:
        if event_type.name in self._types:
            raise ValueError(f"event type {event_type.name!r} registered twice")
        if event_type.key_field not in event_type.payload.model_fields:
            raise ValueError(
                f"{event_type.name}: key field {event_type.key_field!r} not in payload"
            )
        self._types[event_type.name] = event_type
        return event_type

    def get(self, name: str) -> EventType:
        try:
            return self._types[name]
        except KeyError:
            raise UnknownEventTypeError(name, self.names()) from None

    def names(self) -> list[str]:
        return sorted(self._types)

    def __iter__(self) -> Iterator[EventType]:
        return iter(sorted(self._types.values(), key=lambda t: t.name))

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def validate_payload(self, name: str, data: Mapping[str, Any]) -> BaseModel:
        """Validate `data` against the payload model of `name`; issues are rooted at `data`."""
        event_type = self.get(name)
        try:
            return event_type.payload.model_validate(data)
        except ValidationError as error:
            raise EventValidationError(issues_from_validation_error(error, "data")) from None
