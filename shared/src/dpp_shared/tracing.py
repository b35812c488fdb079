"""W3C trace context on Kafka records, and one service's OpenTelemetry tracer (`DPP_TRACING`).

The contract: a record's trace context travels in the `traceparent` (and optional `tracestate`)
Kafka headers, the binary-mode form of the CloudEvents distributed-tracing extension that
`codec.encode` already writes. Producer and worker read and write exactly those two headers.

OpenTelemetry is imported only when a `Tracing` is built (`DPP_TRACING=otlp`): switched off, a
service never imports it (a Lambda cold start pays nothing) and its hot path makes one `None`
check. The header checks and rewrites below are plain Python and cost nothing when unused."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from dpp_shared.codec import TRACEPARENT_HEADER, Headers

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span, Tracer
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACESTATE_HEADER = "tracestate"
TRACE_HEADER_NAMES = (TRACEPARENT_HEADER, TRACESTATE_HEADER)
TracingMode = Literal["off", "otlp"]
TraceHeaders = tuple[tuple[str, bytes], ...]
"""The `traceparent` (and `tracestate`) headers a record carries on, ready for `KafkaRecord`."""

# W3C Trace Context level 1: version 00 is exactly this; a later version may append fields.
_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")
_ZERO_TRACE_ID = "0" * 32
_ZERO_SPAN_ID = "0" * 16
MAX_TRACESTATE_CHARS = 512  # W3C: a tracestate longer than this may be dropped
FLUSH_TIMEOUT_MS = 2_000


def usable_traceparent(value: str | None) -> str | None:
    """A caller's `traceparent` when W3C would accept it (known layout, version not ff, trace
    and parent ids not all zeros), else None: an invalid one is ignored, never an error."""
    if value is None:
        return None
    text = value.strip()
    match = _TRACEPARENT.match(text)
    if match is None:
        return None
    version, trace_id, span_id, _flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest) or trace_id == _ZERO_TRACE_ID:
        return None
    if span_id == _ZERO_SPAN_ID:
        return None
    # A later version's extra fields are dropped: the envelope's attribute is the 00 layout.
    return text[:55]


def passthrough_headers(traceparent: str | None, tracestate: str | None) -> TraceHeaders | None:
    """With tracing off: the caller's trace context as the record's headers, unchanged, so a
    chain recorded elsewhere (a collector-less setup, X-Ray, the caller's own spans) goes on
    through Kafka; None when there is no usable `traceparent`."""
    parent = usable_traceparent(traceparent)
    if parent is None:
        return None
    state = usable_tracestate(tracestate)
    if state is None:
        return ((TRACEPARENT_HEADER, parent.encode()),)
    return ((TRACEPARENT_HEADER, parent.encode()), (TRACESTATE_HEADER, state.encode()))


def usable_tracestate(value: str | None) -> str | None:
    """A `tracestate` worth forwarding: printable ASCII, at most 512 characters."""
    if value is None:
        return None
    text = value.strip()
    if not text or len(text) > MAX_TRACESTATE_CHARS or not text.isascii():
        return None
    return text if text.isprintable() else None


def with_trace(headers: Sequence[tuple[str, bytes | None]], trace: TraceHeaders) -> Headers:
    """`headers` with their trace context replaced by `trace` (appended, as `encode` places it)."""
    kept: Headers = [
        (name, value)
        for name, value in headers
        if value is not None and name not in TRACE_HEADER_NAMES
    ]
    kept.extend(trace)
    return kept


def trace_carrier(headers: Mapping[str, str]) -> dict[str, str]:
    """The trace context headers of a text header map (for `Tracing.start`)."""
    return {name: headers[name] for name in TRACE_HEADER_NAMES if name in headers}


class TraceSpan:
    """One span and the headers that carry its context on; ends once, as a context manager or
    by `end()`. Attributes and failures are recorded on the span as they become known."""

    __slots__ = ("_ended", "headers", "span")

    def __init__(self, span: Span, headers: TraceHeaders) -> None:
        self.span = span
        self.headers = headers
        self._ended = False

    def set(self, attributes: Mapping[str, str | int | float | bool]) -> None:
        self.span.set_attributes(dict(attributes))

    def fail(self, error_type: str, message: str) -> None:
        """Mark the span failed (status ERROR) with the error's type and text."""
        from opentelemetry.trace import Status, StatusCode  # noqa: PLC0415 - tracing is on

        self.span.set_attribute("error.type", error_type)
        self.span.set_status(Status(StatusCode.ERROR, message[:500]))

    def end(self) -> None:
        if not self._ended:
            self._ended = True
            self.span.end()

    def __enter__(self) -> TraceSpan:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        if error is not None:
            self.span.record_exception(error)
            self.fail(type(error).__name__, str(error) or type(error).__name__)
        self.end()


class Tracing:
    """The OpenTelemetry tracer of one service, on its own provider (the global one is left
    alone, so nothing else in the process, FastAPI's own telemetry included, starts tracing
    because of it).

    Without `exporter`, spans are batched to OTLP over HTTP/protobuf, what the AWS Distro for
    OpenTelemetry collector receives; the SDK reads the standard `OTEL_EXPORTER_OTLP_ENDPOINT`
    (or `..._TRACES_ENDPOINT`), `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_SERVICE_NAME` and
    `OTEL_RESOURCE_ATTRIBUTES`. With one (tests: the SDK's in-memory exporter), each span is
    exported as it ends."""

    def __init__(self, default_service_name: str, *, exporter: SpanExporter | None = None) -> None:
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource  # noqa: PLC0415
        from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
        from opentelemetry.sdk.trace.export import (  # noqa: PLC0415
            BatchSpanProcessor,
            SimpleSpanProcessor,
        )
        from opentelemetry.trace.propagation.tracecontext import (  # noqa: PLC0415
            TraceContextTextMapPropagator,
        )

        resource = Resource.create()
        if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
            # Neither OTEL_SERVICE_NAME nor OTEL_RESOURCE_ATTRIBUTES named the service.
            resource = resource.merge(Resource({SERVICE_NAME: default_service_name}))
        self.provider: TracerProvider = TracerProvider(resource=resource, shutdown_on_exit=False)
        if exporter is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
                OTLPSpanExporter,
            )

            self.provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        else:
            self.provider.add_span_processor(SimpleSpanProcessor(exporter))
        self.tracer: Tracer = self.provider.get_tracer("dpp-events")
        self._propagator: TraceContextTextMapPropagator = TraceContextTextMapPropagator()

    @property
    def service_name(self) -> str:
        from opentelemetry.sdk.resources import SERVICE_NAME  # noqa: PLC0415

        return str(self.provider.resource.attributes.get(SERVICE_NAME))

    def start(
        self,
        name: str,
        *,
        kind: Literal["producer", "consumer"],
        carrier: Mapping[str, str],
        attributes: Mapping[str, str | int | float | bool] | None = None,
    ) -> TraceSpan:
        """Start a span, the child of the context in `carrier` (W3C `traceparent` and
        `tracestate`; a new trace without a valid one), and the headers carrying it on."""
        from opentelemetry.trace import SpanKind, set_span_in_context  # noqa: PLC0415

        parent = self._propagator.extract(carrier)
        span = self.tracer.start_span(
            name,
            context=parent,
            kind=SpanKind.PRODUCER if kind == "producer" else SpanKind.CONSUMER,
            attributes=dict(attributes or {}),
        )
        out: dict[str, str] = {}
        self._propagator.inject(out, context=set_span_in_context(span))
        headers = tuple((name, out[name].encode()) for name in TRACE_HEADER_NAMES if out.get(name))
        return TraceSpan(span, headers)

    def flush(self, timeout_ms: int = FLUSH_TIMEOUT_MS) -> bool:
        """Export what has ended (a Lambda invocation's spans before the environment freezes)."""
        return bool(self.provider.force_flush(timeout_ms))

    def shutdown(self) -> None:
        self.provider.shutdown()


def build_tracing(mode: TracingMode, default_service_name: str, **options: Any) -> Tracing | None:
    """The service's tracer for `DPP_TRACING`: None when off (OpenTelemetry is not imported)."""
    if mode == "off":
        return None
    # Without OTEL_EXPORTER_OTLP_ENDPOINT the SDK sends to http://localhost:4318, where the
    # ADOT Lambda layer's collector extension (or an ECS task's collector sidecar) listens.
    return Tracing(default_service_name, **options)
