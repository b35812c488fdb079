"""Errors of the events client: a rejected request (4xx problem) or an unavailable API."""

from __future__ import annotations

from typing import Any, NamedTuple

# The client ships alone (no dpp_shared), so its errors root here rather than in DppError.


class ClientError(Exception):
    """Root of every error the events client raises."""


class FieldIssue(NamedTuple):
    """One problem the API found with one field: where (JSON-pointer-like path) and why."""

    path: str
    reason: str


class ClientConfigurationError(ClientError):
    """The client's environment is missing or malformed; the message names the variable."""


class ProblemError(ClientError):
    """The API refused the request with an RFC 9457 problem; resending it unchanged won't help.

    `issues` holds the field paths and reasons, `known_types` the registered types when the
    event type was unknown; `problem` is the whole problem document as received.
    """

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        self.type = str(problem.get("type", "about:blank"))
        self.title = str(problem.get("title", f"HTTP {status}"))
        self.detail = str(problem.get("detail", ""))
        self.issues = [
            FieldIssue(str(item.get("path", "")), str(item.get("reason", "")))
            for item in problem.get("errors") or ()
            if isinstance(item, dict)
        ]
        known = problem.get("known_types")
        self.known_types = [str(name) for name in known] if isinstance(known, list) else []
        super().__init__(self._message())

    def _message(self) -> str:
        text = f"{self.status} {self.title}"
        if self.detail:
            text += f": {self.detail}"
        if self.issues:
            text += " [" + "; ".join(f"{i.path}: {i.reason}" for i in self.issues) + "]"
        return text


class BadRequestError(ProblemError):
    """400: the body is not JSON, or the Idempotency-Key is malformed."""


class AuthenticationError(ProblemError):
    """401: the bearer token is missing, expired or not signed with the API's secret."""


class ForbiddenError(ProblemError):
    """403: the token's scope does not allow publishing this event type."""


class ConflictError(ProblemError):
    """409: the idempotency key was already used with a different body."""


class PayloadTooLargeError(ProblemError):
    """413: the body or the batch exceeds the API's limit."""


class EventRejectedError(ProblemError):
    """422: the envelope or payload breaks its contract, or the event type is unknown."""


class ServerError(ProblemError):
    """A 5xx answer that retrying will not fix (e.g. 502: the broker refused the record)."""


class PublishUnavailableError(ClientError):
    """The API stayed unavailable (429, 503, timeouts, connection errors) until the client's
    time or attempt budget ran out. The event may or may not have been published: publishing
    again with the same event id and idempotency key is safe."""

    def __init__(
        self,
        reason: str,
        *,
        attempts: int,
        elapsed_s: float,
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(f"{reason} (after {attempts} attempt(s) in {elapsed_s:.2f} s)")
        self.reason = reason
        self.attempts = attempts
        self.elapsed_s = elapsed_s
        self.status = status
        self.retry_after_s = retry_after_s


_BY_STATUS: dict[int, type[ProblemError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: ForbiddenError,
    409: ConflictError,
    413: PayloadTooLargeError,
    422: EventRejectedError,
}


def problem_error(status: int, problem: dict[str, Any]) -> ProblemError:
    """The typed error for a final (non-retried) error answer."""
    if status >= 500:
        return ServerError(status, problem)
    return _BY_STATUS.get(status, ProblemError)(status, problem)
