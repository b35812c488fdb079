"""The producer's structured logger: Powertools Logger, JSON lines with the correlation id."""

from __future__ import annotations

import json
import logging
import time
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

SERVICE_NAME = "dpp-producer"

# The characters a JSON document can start with (after JSON whitespace), NaN and Infinity
# included: Powertools tries `json.loads` on every str message, and a message that cannot be
# JSON would only raise and be caught.
_JSON_START = frozenset('{["-0123456789tfnNI')
_JSON_SPACE = " \t\n\r"


@cache
def logger() -> Logger:
    """One logger per process, created on first use (its import is not free on a cold start)."""
    from aws_lambda_powertools import Logger  # noqa: PLC0415 - lazy for cold start

    formatter = _fast_formatter()
    log = Logger(service=SERVICE_NAME, logger_formatter=formatter)
    # Powertools' own formatter gets these as constructor keys, so `clear_state` keeps them.
    formatter.keys_combined.update(service=log.service, sampling_rate=log.sampling_rate)
    return log


def _fast_formatter() -> LambdaPowertoolsFormatter:
    """A `LambdaPowertoolsFormatter` that writes the same lines for less CPU (`FastFormatter`)."""
    from aws_lambda_powertools.logging.formatter import (  # noqa: PLC0415 - lazy for cold start
        RESERVED_LOG_ATTRS,
        LambdaPowertoolsFormatter,
        _get_context,
    )

    reserved = frozenset(RESERVED_LOG_ATTRS)

    class FastFormatter(LambdaPowertoolsFormatter):
        """Powertools' JSON formatter with its per-line costs cut, same lines out (a test compares
        both on a set of records): one JSON encoder built once instead of one per line, the
        timestamp's date and zone formatted once a second, no copy of the record's dict, and no
        `json.loads` attempt on a message that cannot be JSON. A record with an exception takes
        Powertools' own path."""

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            # `json.dumps(..., **options)` builds this very encoder on every call.
            encoder = json.JSONEncoder(
                default=self.json_default,
                separators=(",", ":"),
                indent=self.json_indent,
                ensure_ascii=False,
            )
            self.json_serializer = encoder.encode
            self._second: tuple[int, str, str] = (-1, "", "")

        def formatTime(  # noqa: N802 - logging.Formatter's name
            self, record: logging.LogRecord, datefmt: str | None = None
        ) -> str:
            if datefmt or self.datefmt or self.use_rfc3339_iso8601:
                return str(super().formatTime(record, datefmt))
            # The default "%Y-%m-%d %H:%M:%S,%F%z": only the milliseconds change within a second.
            second = int(record.created)
            cached = self._second
            if cached[0] != second:
                struct = self.converter(record.created)
                cached = (
                    second,
                    time.strftime("%Y-%m-%d %H:%M:%S,", struct),
                    time.strftime("%z", struct),
                )
                self._second = cached
            return "%s%03d%s" % (cached[1], record.msecs, cached[2])  # noqa: UP031 - Powertools'

        def format(self, record: logging.LogRecord) -> str:
            exc_info = record.exc_info
            if isinstance(exc_info, tuple) and hasattr(exc_info[0], "__name__"):
                return str(super().format(record))
            if self.json_deserializer is not json.loads:
                return str(super().format(record))
            line: dict[str, Any] = {}
            # Powertools' `_extract_log_keys`: the formatter's keys (reserved ones are %-templates
            # over the record), then the context's keys, then the record's extras.
            for keys in (self.log_format, _get_context().get()):
                for key, value in keys.items():
                    if value and key in reserved:
                        if value == "%(levelname)s":
                            line[key] = record.levelname
                        elif value == "%(funcName)s:%(lineno)d":
                            line[key] = "%s:%d" % (record.funcName, record.lineno)  # noqa: UP031
                        elif value == "%(asctime)s":
                            line[key] = self.formatTime(record)
                        else:
                            return str(super().format(record))
                    else:
                        line[key] = value
            for key, value in record.__dict__.items():
                if key not in reserved:
                    line[key] = value
            line["message"] = self._message(record)
            line["exception"] = line.get("exception")
            line["exception_name"] = line.get("exception_name")
            line["exception_notes"] = line.get("exception_notes")
            if self.serialize_stacktrace:
                line["stack_trace"] = None
            line["xray_trace_id"] = self._get_latest_trace_id()
            return str(self.json_serializer({k: v for k, v in line.items() if v is not None}))

        def _message(self, record: logging.LogRecord) -> Any:
            message = record.msg
            if isinstance(message, dict):
                return message
            if record.args:
                return record.getMessage()
            if isinstance(message, str) and message.lstrip(_JSON_SPACE)[:1] in _JSON_START:
                try:
                    return json.loads(message)
                except (json.JSONDecodeError, TypeError, ValueError):
                    pass
            return message

    return FastFormatter()
