"""Errors of the producer API; each knows its HTTP status and renders as RFC 9457 problem+json."""

from __future__ import annotations

from typing import Any, ClassVar

from dpp_shared.errors import DppError, FieldIssue

PROBLEM_BASE = "https://dpp.dev/problems/"


class ProducerError(DppError):
    """Root of the producer's errors. `status`, `slug` and `title` fix the problem type; the
    instance carries the detail and the extension members (field issues, known types...)."""

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal"
    title: ClassVar[str] = "Internal error"

    def __init__(
        self,
        detail: str,
        *,
        issues: list[FieldIssue] | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.issues = issues or []
        self.headers = headers or {}
        self.extensions = extensions

    @property
    def type_uri(self) -> str:
        return PROBLEM_BASE + self.slug

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        """The RFC 9457 problem details object."""
        body: dict[str, Any] = {
            "type": self.type_uri,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance is not None:
            body["instance"] = instance
        if self.issues:
            body["errors"] = [issue.as_dict() for issue in self.issues]
        body.update(self.extensions)
        return body


class MalformedRequestError(ProducerError):
    status = 400
    slug = "malformed-request"
    title = "Malformed request"


class AuthenticationError(ProducerError):
    status = 401
    slug = "unauthenticated"
    title = "Missing or invalid bearer token"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="dpp-events"'})


class ScopeError(ProducerError):
    status = 403
    slug = "forbidden-event-type"
    title = "Token scope does not allow this event type"


class NotFoundError(ProducerError):
    status = 404
    slug = "not-found"
    title = "Not found"


class MethodNotAllowedError(ProducerError):
    status = 405
    slug = "method-not-allowed"
    title = "Method not allowed"


class IdempotencyConflictError(ProducerError):
    status = 409
    slug = "idempotency-key-reused"
    title = "Idempotency key reused with a different request"


class BodyTooLargeError(ProducerError):
    status = 413
    slug = "body-too-large"
    title = "Request body too large"


class UnsupportedMediaTypeError(ProducerError):
    status = 415
    slug = "unsupported-media-type"
    title = "Unsupported content type"


class EventRejectedError(ProducerError):
    """The event violates its contract (envelope or payload schema) or names an unknown type."""

    status = 422
    slug = "invalid-event"
    title = "Event does not satisfy its contract"


class QueueFullError(ProducerError):
    status = 429
    slug = "produce-queue-full"
    title = "Local produce queue is full"


class BrokerUnavailableError(ProducerError):
    """The broker did not acknowledge within the bound; the record may still land later."""

    status = 503
    slug = "broker-unavailable"
    title = "Broker did not acknowledge in time"

    def __init__(self, detail: str, *, retry_after_s: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after_s)})
        self.retry_after_s = retry_after_s


class ProduceFailedError(ProducerError):
    """The broker refused the record for good (e.g. topic missing, record too large)."""

    status = 502
    slug = "produce-failed"
    title = "Broker rejected the record"


class ServiceUnavailableError(ProducerError):
    """A dependency other than the broker (the job store) is unavailable."""

    status = 503
    slug = "service-unavailable"
    title = "Service unavailable"

    def __init__(self, detail: str, *, retry_after_s: int = 5) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after_s)})
