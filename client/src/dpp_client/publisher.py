"""`EventsClient`: publish one event or a batch to the producer API from a backend Lambda."""

from __future__ import annotations

import hashlib
import os
import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from dpp_client.errors import ClientConfigurationError, PublishUnavailableError, problem_error
from dpp_client.events import BatchResult, Event, PublishResult, RejectedEvent
from dpp_client.retry import RETRYABLE_STATUSES, RetryPolicy, retry_after_s
from dpp_client.transport import Answer, TransportFailure, post_json

TokenSource = str | Callable[[], str]
# POST (path, JSON body, headers, timeout) to the producer and return its HTTP answer: over HTTPS
# to the API (`post_json`) or as a Lambda invocation (`lambda_invoke.LambdaInvokeTransport`).
Transport = Callable[[str, Any, dict[str, str], float], Answer]
EVENTS_PATH = "/v1/events"
BATCH_PATH = "/v1/events:batch"
USER_AGENT = "dpp-events-client/1"
# Below this much time left an attempt cannot finish; give up rather than start it.
_MIN_ATTEMPT_S = 0.05


class EventsClient:
    """A small synchronous client of the producer API.

    Every event gets its id (UUIDv7), time and idempotency key before the first attempt, so
    retries resend the very same event and the API deduplicates them. Retries on 429/502/503/
    504 and on connection errors, with full-jitter backoff or the server's `Retry-After`, and
    never beyond `policy.total_timeout_s`, so a Lambda never hangs on it. 4xx answers raise a
    typed `ProblemError` at once. Create it once per Lambda container (module scope).
    """

    def __init__(
        self,
        base_url: str,
        token: TokenSource,
        *,
        source: str,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        transport: Transport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._transport: Transport = transport or self._post_over_http
        self.source = source
        self.policy = policy or RetryPolicy()
        self._token = token
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EventsClient:
        """Build from `DPP_API_URL` (or `DPP_EVENTS_FUNCTION`), `DPP_API_TOKEN`,
        `DPP_EVENT_SOURCE`, `DPP_CLIENT_TIMEOUT_S` (see docs/configuration.md); the source
        defaults to the Lambda function's name.

        With `DPP_EVENTS_FUNCTION` (the producer function's name or alias ARN) events go through
        Lambda's Invoke API instead of HTTP: see docs/lambda-client.md."""
        env = os.environ if environ is None else environ
        function_name = env.get("DPP_EVENTS_FUNCTION")
        needed = ("DPP_API_TOKEN",) if function_name else ("DPP_API_URL", "DPP_API_TOKEN")
        missing = [name for name in needed if not env.get(name)]
        if missing:
            raise ClientConfigurationError(f"set {' and '.join(missing)} to publish events")
        function = env.get("AWS_LAMBDA_FUNCTION_NAME", "unknown")
        try:
            timeout_s = float(env.get("DPP_CLIENT_TIMEOUT_S", "10"))
        except ValueError:
            raise ClientConfigurationError(
                "DPP_CLIENT_TIMEOUT_S must be a number of seconds"
            ) from None
        transport: Transport | None = None
        base_url = env.get("DPP_API_URL", "")
        if function_name:
            transport = _lambda_transport(function_name, env)
            base_url = f"lambda:{function_name}"
        return cls(
            base_url,
            env["DPP_API_TOKEN"],
            source=env.get("DPP_EVENT_SOURCE", f"urn:dpp:lambda:{function}"),
            policy=RetryPolicy(total_timeout_s=timeout_s, attempt_timeout_s=min(5.0, timeout_s)),
            transport=transport,
        )

    def _post_over_http(
        self, path: str, body: Any, headers: dict[str, str], timeout_s: float
    ) -> Answer:
        return post_json(self.base_url + path, body, headers, timeout_s)

    def publish(
        self,
        type: str,
        data: Mapping[str, Any],
        *,
        subject: str | None = None,
        correlation_id: str | None = None,
        idempotency_key: str | None = None,
        traceparent: str | None = None,
        event_id: str | None = None,
    ) -> PublishResult:
        """Publish one event; returns where it landed once the broker acknowledged it."""
        fields: dict[str, Any] = {"id": event_id} if event_id else {}
        event = Event(
            type,
            data,
            subject=subject,
            correlation_id=correlation_id,
            idempotency_key=idempotency_key,
            traceparent=traceparent,
            **fields,
        )
        return self.publish_event(event)

    def publish_event(self, event: Event) -> PublishResult:
        """Publish a prepared `Event` (keep it to retry later with the same id and key)."""
        answer = self._send(
            EVENTS_PATH, event.to_json(self.source), event.key, _Budget(self._clock, self.policy)
        )
        if answer.status >= 300 or not isinstance(answer.body, dict):
            raise problem_error(answer.status, _problem_of(answer))
        return PublishResult.from_json(
            answer.body, replayed=answer.header("idempotent-replayed") == "true"
        )

    def publish_batch(self, events: Sequence[Event]) -> BatchResult:
        """Publish events in one request; each is accepted or rejected on its own.

        Events the API answers as retryable (429/503 inside the batch) are resent, alone,
        until the time budget runs out; they then stay in `rejected` with `retryable=True`.
        A whole-request 4xx raises; a whole request that never got through raises
        `PublishUnavailableError`.
        """
        result = BatchResult()
        pending = dict(enumerate(events))
        budget = _Budget(self._clock, self.policy)
        while pending:
            indexes = sorted(pending)
            body = {"events": [pending[i].to_json(self.source) for i in indexes]}
            key = _batch_key(pending[i].key for i in indexes)
            answer = self._send(BATCH_PATH, body, key, budget)
            if answer.status >= 300 and answer.status != 207:
                raise problem_error(answer.status, _problem_of(answer))
            retry: dict[int, Event] = {}
            for position, entry in _batch_entries(answer.body):
                index = indexes[position]
                if _accepted(entry):
                    result.accepted[index] = PublishResult.from_json(entry)
                    result.rejected.pop(index, None)
                    continue
                status = _entry_status(entry)
                error = problem_error(status, _entry_problem(entry, status))
                retryable = status in RETRYABLE_STATUSES or bool(entry.get("retryable"))
                result.rejected[index] = RejectedEvent(index, pending[index], error, retryable)
                if retryable:
                    retry[index] = pending[index]
            pending = retry
            if pending:
                delay = self.policy.backoff_s(budget.attempts, self._rng)
                if budget.attempts >= self.policy.max_attempts or not budget.can_wait(delay):
                    break
                self._sleep(delay)
        return result

    def _send(self, path: str, body: Any, key: str, budget: _Budget) -> Answer:
        """POST with retries until a final answer (2xx, 207 or a non-retryable error)."""
        while True:
            timeout_s = budget.attempt_timeout()
            if timeout_s is None:
                raise budget.exhausted("no time left for another attempt")
            budget.attempts += 1
            headers = {
                "Authorization": f"Bearer {self._token_value()}",
                "Idempotency-Key": key,
                "Accept": "application/json, application/problem+json",
                "User-Agent": USER_AGENT,
            }
            try:
                answer = self._transport(path, body, headers, timeout_s)
            except TransportFailure as failure:
                budget.last = (str(failure), None, None)
                delay = self.policy.backoff_s(budget.attempts, self._rng)
            else:
                if answer.status not in RETRYABLE_STATUSES:
                    return answer
                server_delay = retry_after_s(answer.header("retry-after"))
                reason = f"HTTP {answer.status}: {_problem_of(answer).get('detail', '')}"
                budget.last = (reason, answer.status, server_delay)
                # The server's Retry-After is a floor; jitter on top keeps callers apart.
                jitter = self.policy.backoff_s(budget.attempts, self._rng)
                delay = jitter if server_delay is None else server_delay + jitter / 10
            if budget.attempts >= self.policy.max_attempts:
                raise budget.exhausted("attempt limit reached")
            if not budget.can_wait(delay):
                raise budget.exhausted("time budget too short to wait for the next attempt")
            self._sleep(delay)

    def _token_value(self) -> str:
        return self._token() if callable(self._token) else self._token


def _lambda_transport(function: str, env: Mapping[str, str]) -> Transport:
    from dpp_client.lambda_invoke import (  # noqa: PLC0415 - only this mode needs it
        Credentials,
        LambdaInvokeTransport,
    )

    missing = [n for n in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY") if not env.get(n)]
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if missing or not (region or function.startswith("arn:")):
        raise ClientConfigurationError(
            "DPP_EVENTS_FUNCTION needs the AWS credentials and region Lambda provides "
            f"(missing: {', '.join(missing) or 'AWS_REGION'})"
        )
    return LambdaInvokeTransport(
        function,
        region=region or "",
        endpoint_url=env.get("AWS_ENDPOINT_URL_LAMBDA") or env.get("AWS_ENDPOINT_URL"),
        # Read at each call: a long-lived client keeps working when the keys are rotated.
        credentials=lambda: Credentials.from_env(env),
    )


class _Budget:
    """Time and attempts left for one publish call."""

    def __init__(self, clock: Callable[[], float], policy: RetryPolicy) -> None:
        self._clock = clock
        self._policy = policy
        self._started = clock()
        self.attempts = 0
        self.last: tuple[str, int | None, float | None] = ("no attempt made", None, None)

    def remaining(self) -> float:
        return self._policy.total_timeout_s - (self._clock() - self._started)

    def attempt_timeout(self) -> float | None:
        remaining = self.remaining()
        if remaining < _MIN_ATTEMPT_S:
            return None
        return min(self._policy.attempt_timeout_s, remaining)

    def can_wait(self, delay_s: float) -> bool:
        return delay_s + _MIN_ATTEMPT_S <= self.remaining()

    def exhausted(self, why: str) -> PublishUnavailableError:
        reason, status, retry_after = self.last
        return PublishUnavailableError(
            f"{why}; last: {reason}",
            attempts=self.attempts,
            elapsed_s=self._clock() - self._started,
            status=status,
            retry_after_s=retry_after,
        )


def _batch_key(keys: Any) -> str:
    """One key per set of events: a resend of the same set replays, a subset is a new request."""
    digest = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:40]
    return f"batch-{digest}"


def _problem_of(answer: Answer) -> dict[str, Any]:
    if isinstance(answer.body, dict):
        return answer.body
    return {"title": f"HTTP {answer.status}", "status": answer.status}


def _batch_entries(body: Any) -> list[tuple[int, dict[str, Any]]]:
    """Entries with their position in the request; both the API's `entries` and the older
    `results` shape are understood."""
    items: Any = []
    if isinstance(body, dict):
        items = body.get("entries") or body.get("results") or []
    entries = []
    for position, item in enumerate(items):
        if isinstance(item, dict):
            index = item.get("index", position)
            entries.append((index if isinstance(index, int) else position, item))
    return entries


def _accepted(entry: dict[str, Any]) -> bool:
    status = entry.get("status")
    return status in (200, 201, 202, "accepted") and "offset" in entry


def _entry_status(entry: dict[str, Any]) -> int:
    status = entry.get("status")
    if isinstance(status, int):
        return status
    error = entry.get("error")
    if isinstance(error, dict) and isinstance(error.get("status"), int):
        return int(error["status"])
    return 422


def _entry_problem(entry: dict[str, Any], status: int) -> dict[str, Any]:
    error = entry.get("error")
    return error if isinstance(error, dict) else {"title": f"HTTP {status}", "status": status}
