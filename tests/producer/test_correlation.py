"""One correlation rule for the ASGI app and the Lambda handler."""

from __future__ import annotations

from dpp_producer import lambda_handler
from dpp_producer.api.middleware import correlation_id_of
from dpp_producer.correlation import first_correlation_id


def test_a_usable_header_wins_and_an_unusable_one_falls_through() -> None:
    assert first_correlation_id(" corr-1 ", "envelope", "request") == "corr-1"
    assert first_correlation_id("x" * 129, "envelope", "request") == "envelope"
    assert first_correlation_id("bad\nvalue", None, "request") == "request"
    assert first_correlation_id(None, None, None) is None


def test_the_app_and_the_lambda_handler_choose_alike() -> None:
    long_header = "y" * 200
    event = {
        "headers": {"X-Correlation-Id": long_header},
        "requestContext": {"requestId": "req-1"},
        "body": None,
    }
    scope = {
        "headers": [(b"x-correlation-id", long_header.encode())],
        "aws.event": event,
    }
    assert lambda_handler.correlation_id(event) == "req-1"
    assert correlation_id_of(scope) == "req-1"
