"""Error hierarchy of the shared contracts; every error carries the context a caller needs."""

from __future__ import annotations

from dataclasses import dataclass, field


class DppError(Exception):
    """Root of every error raised by dpp-events code."""


@dataclass(frozen=True)
class FieldIssue:
    """One problem with one field: where it is (JSON-pointer-like path) and why it is wrong."""

    path: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}


@dataclass
class EventValidationError(DppError):
    """An event (envelope or payload) does not satisfy its contract."""

    issues: list[FieldIssue]
    known_types: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        details = "; ".join(f"{issue.path}: {issue.reason}" for issue in self.issues)
        return f"invalid event: {details}"


class UnknownEventTypeError(EventValidationError):
    """The event names a type the registry does not know; lists the known ones."""

    def __init__(self, event_type: str, known_types: list[str]) -> None:
        super().__init__(
            issues=[FieldIssue("type", f"unknown event type {event_type!r}")],
            known_types=known_types,
        )
        self.event_type = event_type


class EventDecodeError(DppError):
    """A Kafka record is not a valid event; the consumer dead-letters it with this reason."""

    def __init__(self, reason: str, *, event_type: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.event_type = event_type


class ConfigurationError(DppError):
    """Settings are missing or contradictory; the message says which setting and how to fix it."""
