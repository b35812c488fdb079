"""Which correlation id a request carries: one rule for the ASGI app and the Lambda handler."""

from __future__ import annotations

CORRELATION_HEADER = "x-correlation-id"
MAX_CORRELATION_LENGTH = 128


def usable_correlation_id(value: str | None) -> str | None:
    """A caller-sent X-Correlation-Id when it can be logged and echoed safely (printable, at
    most 128 characters), else None."""
    if value is None:
        return None
    text = value.strip()
    if text and len(text) <= MAX_CORRELATION_LENGTH and text.isprintable():
        return text
    return None


def first_correlation_id(header: str | None, *fallbacks: str | None) -> str | None:
    """The caller's header when usable, else the first non-empty fallback (the envelope's
    `correlationid`, API Gateway's request id), in the order given."""
    chosen = usable_correlation_id(header)
    if chosen is not None:
        return chosen
    return next((value for value in fallbacks if value), None)
