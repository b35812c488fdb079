"""The producer's fast log formatter writes exactly the lines Powertools' own formatter writes."""

from __future__ import annotations

import datetime
import io
import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from aws_lambda_powertools.logging.formatter import (
    LambdaPowertoolsFormatter,
    clear_context_keys,
)

from dpp_producer.log import SERVICE_NAME, _fast_formatter, logger


def _formatters() -> tuple[LambdaPowertoolsFormatter, LambdaPowertoolsFormatter]:
    # The keys `Logger(service=...)` gives a formatter: its own, or a custom one by append_keys.
    fast = _fast_formatter()
    fast.append_keys(service=SERVICE_NAME, sampling_rate=None)
    reference = LambdaPowertoolsFormatter(service=SERVICE_NAME, sampling_rate=None)
    return fast, reference


def _raised(error: Exception) -> Any:
    try:
        raise error
    except Exception:
        return sys.exc_info()


def _noted() -> Any:
    error = ValueError("bad value — ünïcode")
    error.add_note("a note")
    return _raised(error)


class _Unserialisable:
    def __str__(self) -> str:
        return "<unserialisable ✓>"


_ACCEPTED = {
    "event_id": "01JX0000000000000000000000",
    "event_type": "order.created",
    "correlation_id": "corr-1",
    "topic": "dpp.events.order",
    "partition": 3,
    "offset": 123456,
}
_WHEN = datetime.datetime(2026, 11, 26, 15, 12, 29, tzinfo=datetime.UTC)

# (msg, args, level, exc_info, extra, created offset in seconds)
_RECORDS: list[tuple[Any, tuple[Any, ...], int, Any, dict[str, Any] | None, float]] = [
    ("event accepted", (), logging.INFO, None, _ACCEPTED, 0.0),
    ("event accepted", (), logging.DEBUG, None, _ACCEPTED, 0.999),
    ("request answered %d: %s", (503, "paused ✓"), logging.WARNING, None, {"path": "/v1"}, 0.5),
    ("request failed", (), logging.ERROR, _raised(RuntimeError("boom")), {"status": 500}, 1.0),
    ("noted", (), logging.ERROR, _noted(), None, 1.001),
    ("no exception active", (), logging.ERROR, (None, None, None), None, 2.0),
    ("café ✓ 🚀 Grüße", (), logging.INFO, None, {"name_ü": "wert ✓", "emoji": "🚀"}, 2.25),
    ({"a": 1, "b": ["x"]}, (), logging.INFO, None, None, 3.0),
    ('{"as": "json"}', (), logging.INFO, None, None, 3.0),
    ("  [1, 2]", (), logging.INFO, None, None, 3.0),
    ("NaN", (), logging.INFO, None, None, 3.0),
    ('"quoted"', (), logging.INFO, None, None, 3.0),
    ("true story", (), logging.INFO, None, None, 3.0),
    ("123abc", (), logging.INFO, None, None, 3.0),
    ("", (), logging.INFO, None, None, 3.0),
    (42, (), logging.INFO, None, None, 3.0),
    (
        "odd extras",
        (),
        logging.INFO,
        None,
        {
            "level": "ignored (reserved)",
            "exception": "given by the caller",
            "stack_trace": "overwritten",
            "xray_trace_id": "overwritten",
            "none": None,
            "object": _Unserialisable(),
            "when": _WHEN,
            "bytes": b"\x00\xff",
            "nested": {"k": [1, 2.5, True, None]},
        },
        4.0,
    ),
]


def _record(
    index: int, msg: Any, args: tuple[Any, ...], level: int, exc: Any, extra: Any, offset: float
) -> logging.LogRecord:
    record = logging.getLogger("dpp-producer.test").makeRecord(
        SERVICE_NAME, level, __file__, 100 + index, msg, args, exc, "handler", extra
    )
    record.created = 1_795_000_000 + offset
    record.msecs = int((record.created - int(record.created)) * 1000) + 0.0
    return record


@pytest.fixture
def context_keys() -> Iterator[None]:
    clear_context_keys()
    yield
    clear_context_keys()


@pytest.mark.parametrize("dev", [False, True], ids=["compact", "POWERTOOLS_DEV"])
def test_the_fast_formatter_writes_powertools_lines(
    dev: bool, monkeypatch: pytest.MonkeyPatch, context_keys: None
) -> None:
    if dev:
        monkeypatch.setenv("POWERTOOLS_DEV", "1")
    fast, reference = _formatters()
    compared = 0
    states = ("plain", "correlated", "context", "traced", "templated")
    for state in states:
        if state == "correlated":
            for formatter in (fast, reference):
                formatter.append_keys(correlation_id="corr-ü")  # Logger.set_correlation_id
        if state == "context":
            fast.thread_safe_append_keys(tenant="t-1 ✓")
        if state == "templated":
            # A reserved key given another template: Powertools' own path writes it.
            fast.thread_safe_append_keys(location="%(funcName)s")
        if state == "traced":
            monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-5759e988-bd862e3fe1be46a994272793;P=1")
        for index, (msg, args, level, exc, extra, offset) in enumerate(_RECORDS):
            record = _record(index, msg, args, level, exc, extra, offset)
            expected = reference.format(record)
            assert fast.format(record) == expected, (state, msg)
            compared += 1
    assert compared == len(states) * len(_RECORDS)


def test_a_record_another_formatter_saw_first_is_written_alike() -> None:
    # pytest's caplog (or any other handler) formats the record first and leaves
    # `message` and `asctime` on it.
    fast, reference = _formatters()
    record = _record(0, "event %s", ("accepted",), logging.INFO, None, _ACCEPTED, 0.25)
    logging.Formatter("%(asctime)s %(message)s").format(record)
    assert fast.format(record) == reference.format(record)


def test_the_timestamp_follows_each_second_and_millisecond() -> None:
    fast, reference = _formatters()
    for offset in (0.0, 0.001, 0.999, 1.0, 59.999, 60.0, 3600.5, 86_400.123):
        record = _record(0, "tick", (), logging.INFO, None, None, offset)
        assert fast.formatTime(record) == reference.formatTime(record)


def test_the_producer_logger_writes_through_the_fast_formatter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = logger()
    handler = log.registered_handler
    assert type(handler.formatter).__name__ == "FastFormatter"
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    keep = Keep()
    stream = io.StringIO()
    assert isinstance(handler, logging.StreamHandler)
    previous = handler.setStream(stream)
    log.addHandler(keep)
    log.set_correlation_id("corr-wired")
    try:
        log.info("event accepted", extra=_ACCEPTED)
        log.debug("not written at INFO", extra=_ACCEPTED)
    finally:
        log.set_correlation_id(None)
        log.removeHandler(keep)  # type: ignore[attr-defined] # proxied to logging.Logger
        handler.setStream(previous)
    assert [record.getMessage() for record in records] == ["event accepted"]
    reference = LambdaPowertoolsFormatter(service=SERVICE_NAME, sampling_rate=None)
    reference.append_keys(correlation_id="corr-wired")
    assert stream.getvalue() == reference.format(records[0]) + "\n"
    assert stream.getvalue().startswith('{"level":"INFO","location":"')


def test_clearing_the_state_keeps_the_service_as_powertools_does() -> None:
    fast = logger().registered_formatter
    reference = LambdaPowertoolsFormatter(service=SERVICE_NAME, sampling_rate=None)
    for formatter in (fast, reference):
        formatter.append_keys(correlation_id="corr-cleared")
        formatter.clear_state()
    record = _record(0, "event accepted", (), logging.INFO, None, _ACCEPTED, 0.5)
    assert fast.format(record) == reference.format(record)
    assert '"service":"dpp-producer"' in fast.format(record)
