"""One OpenTelemetry trace from the HTTP POST to `job.completed`, on the real broker: the caller's
`traceparent`, the producer span, the record's headers, the worker span and the result event.
Switched off, OpenTelemetry is never imported and the caller's context still reaches Kafka."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from dpp_consumer.jobs import default_jobs
from dpp_producer.api.ingest_asgi import IngestFastPath
from dpp_shared.topics import (
    DEAD_LETTER_TOPIC,
    DEMO_TOPIC,
    RESULTS_TOPIC,
    TopicNamespace,
    retry_topic_name,
)
from dpp_shared.tracing import Tracing, build_tracing, passthrough_headers, usable_traceparent
from dpp_store import JobStore
from tests.consumer.harness import ReadRecord, produce_raw, read_topic, running_worker
from tests.consumer.scripted_jobs import scripted_jobs
from tests.fixtures.kafka import delete_groups
from tests.producer import factories
from tests.producer.conftest import AppFactory
from tests.producer.test_lambda import lambda_env  # noqa: F401 - the fixture

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN_ID = "00f067aa0ba902b7"
CALLER_TRACEPARENT = f"00-{TRACE_ID}-{CALLER_SPAN_ID}-01"
CALLER_TRACESTATE = "vendor=opaque-1"
BODY_TRACEPARENT = "00-" + "1" * 32 + "-" + "2" * 16 + "-01"
HEADERS = {"traceparent": CALLER_TRACEPARENT, "tracestate": CALLER_TRACESTATE}
TRANSPORTS = ["asgi", "lambda"]
WORKER_DEADLINE_S = 60.0
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def group(unique_name: str, kafka_admin: AdminClient) -> Iterator[str]:
    yield unique_name
    delete_groups(kafka_admin, [unique_name])


@pytest.fixture
def store(sqlite_url: str) -> Iterator[JobStore]:
    job_store = JobStore.from_url(sqlite_url)
    job_store.migrate()
    try:
        yield job_store
    finally:
        job_store.close()


class Spans:
    """The spans each service exported (one in-memory exporter per service, as each has its
    own: the app's shutdown shuts its exporter down)."""

    def __init__(self) -> None:
        self.exporters: list[InMemorySpanExporter] = []

    def tracing(self, service: str) -> Tracing:
        exporter = InMemorySpanExporter()
        self.exporters.append(exporter)
        return Tracing(service, exporter=exporter)

    def get_finished_spans(self) -> list[ReadableSpan]:
        return [span for exporter in self.exporters for span in exporter.get_finished_spans()]


def _post(
    request: pytest.FixtureRequest,
    make_app: AppFactory,
    transport: str,
    path: str,
    body: Any,
    headers: dict[str, str],
    tracing: Tracing | None,
) -> dict[str, Any]:
    """POST through one ingest path (the ASGI app, its FastAPI route or the Lambda handler),
    with `tracing` as the producer's tracer; the answer's JSON body."""
    if transport == "lambda":
        request.getfixturevalue("lambda_env")
        from dpp_producer import lambda_handler
        from tests.producer.test_lambda import LambdaContext, load_event

        lambda_handler.container().runtime.tracing = tracing
        event = load_event("apigw_v2_post_event.json", TOKEN=factories.token())
        event["rawPath"] = event["requestContext"]["http"]["path"] = path
        event["body"] = json.dumps(body)
        event["headers"]["content-length"] = str(len(event["body"]))
        event["headers"].update(headers)
        response: dict[str, Any] = lambda_handler.handler(event, LambdaContext())
        assert response["statusCode"] in {202, 207}, response
        answer: dict[str, Any] = json.loads(response["body"])
        return answer
    app = make_app()
    app.state.runtime.tracing = tracing
    if transport == "route":
        # Under a root path the ASGI fast path steps aside and the FastAPI route answers.
        async def fast_path_must_not_answer(*_args: Any) -> Any:
            raise AssertionError("the ASGI fast path answered")

        monkeypatch = request.getfixturevalue("monkeypatch")
        monkeypatch.setattr(IngestFastPath, "_answer", fast_path_must_not_answer)
        with TestClient(app, root_path="/api") as client:
            reply = client.post(path, json=body, headers={**factories.auth(), **headers})
    else:
        with TestClient(app) as client:
            reply = client.post(path, json=body, headers={**factories.auth(), **headers})
    assert reply.status_code in {202, 207}, reply.text
    answered: dict[str, Any] = reply.json()
    return answered


def _record(bootstrap: str, where: dict[str, Any]) -> dict[str, bytes]:
    return factories.read_record(
        bootstrap, where["topic"], where["partition"], where["offset"]
    ).headers


def _hex(number: int, width: int) -> str:
    return format(number, f"0{width}x")


def _traceparent_of(span: ReadableSpan) -> str:
    context = span.get_span_context()
    assert context is not None
    return f"00-{_hex(context.trace_id, 32)}-{_hex(context.span_id, 16)}-01"


def _service(span: ReadableSpan) -> str:
    return str(span.resource.attributes["service.name"])


def _parent_id(span: ReadableSpan) -> str | None:
    return None if span.parent is None else _hex(span.parent.span_id, 16)


def _results(bootstrap: str, namespace: TopicNamespace, job_id: str, kind: str) -> ReadRecord:
    def has_it(records: list[ReadRecord]) -> bool:
        return any(
            r.headers.get("ce_subject") == job_id and r.headers.get("ce_type") == kind
            for r in records
        )

    records = read_topic(
        bootstrap, namespace.physical(RESULTS_TOPIC), until=has_it, timeout_s=WORKER_DEADLINE_S
    )
    return next(
        r
        for r in records
        if r.headers.get("ce_subject") == job_id and r.headers.get("ce_type") == kind
    )


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_one_trace_from_the_post_to_job_completed(
    request: pytest.FixtureRequest,
    make_app: AppFactory,
    transport: str,
    kafka_bootstrap: str,
    topic_namespace: TopicNamespace,
    store: JobStore,
    group: str,
) -> None:
    spans = Spans()
    producer_tracing = spans.tracing("dpp-producer")
    worker_tracing = spans.tracing("dpp-worker")
    # The body's own traceparent is superseded by the request's trace context.
    event = factories.demo_event(message="traced", traceparent=BODY_TRACEPARENT)
    accepted = _post(request, make_app, transport, "/v1/events", event, HEADERS, producer_tracing)
    job_id = accepted["id"]

    (producer,) = [span for span in spans.get_finished_spans() if _service(span) == "dpp-producer"]
    # The producer span is the child of the caller's span, in the caller's trace.
    assert _hex(producer.context.trace_id, 32) == TRACE_ID
    assert _parent_id(producer) == CALLER_SPAN_ID and producer.parent is not None
    assert producer.parent.is_remote
    assert producer.kind.name == "PRODUCER" and producer.name == "POST /v1/events"
    assert producer.attributes is not None
    # It ended after the broker's acknowledgement: it knows where the record landed.
    assert producer.attributes["messaging.kafka.offset"] == accepted["offset"]
    assert producer.attributes["messaging.message.id"] == job_id
    # The record carries the producer span's context, not the caller's (nor the body's).
    headers = _record(kafka_bootstrap, accepted)
    assert headers["traceparent"].decode() == _traceparent_of(producer)
    assert headers["tracestate"] == CALLER_TRACESTATE.encode()

    with running_worker(
        bootstrap=kafka_bootstrap,
        namespace=topic_namespace,
        store=store,
        registry=default_jobs(),
        consumer_group=group,
        tracing=worker_tracing,
    ):
        completed = _results(kafka_bootstrap, topic_namespace, job_id, "job.completed.v1")

    (worker,) = [span for span in spans.get_finished_spans() if _service(span) == "dpp-worker"]
    assert worker.kind.name == "CONSUMER"
    assert worker.name == f"process {topic_namespace.physical(DEMO_TOPIC)}"
    assert worker.attributes is not None and worker.attributes["messaging.message.id"] == job_id
    assert worker.attributes["dpp.job.outcome"] == "succeeded"
    # One trace: the worker span is the child of the producer span, across Kafka ...
    assert worker.context.trace_id == producer.context.trace_id
    assert _parent_id(worker) == _hex(producer.context.span_id, 16)
    # ... and job.completed carries the worker span's context on.
    assert completed.headers["traceparent"] == _traceparent_of(worker)
    assert completed.headers["tracestate"] == CALLER_TRACESTATE
    assert producer.end_time is not None and worker.start_time is not None
    assert producer.end_time <= worker.start_time


def test_retry_copies_dead_letters_and_job_failed_carry_each_attempts_span(
    make_app: AppFactory,
    kafka_bootstrap: str,
    topic_namespace: TopicNamespace,
    store: JobStore,
    group: str,
    request: pytest.FixtureRequest,
) -> None:
    spans = Spans()
    event = factories.demo_event(message="retriable")
    accepted = _post(request, make_app, "asgi", "/v1/events", event, HEADERS, spans.tracing("p"))
    job_id = accepted["id"]
    with running_worker(
        bootstrap=kafka_bootstrap,
        namespace=topic_namespace,
        store=store,
        registry=scripted_jobs(),
        consumer_group=group,
        tracing=spans.tracing("w"),
        max_attempts=2,
        retry_delays_s="0",
    ):
        failed = _results(kafka_bootstrap, topic_namespace, job_id, "job.failed.v1")
    retry_topic = topic_namespace.physical(retry_topic_name(DEMO_TOPIC, 1))
    (retry_copy,) = read_topic(kafka_bootstrap, retry_topic, until=bool)
    (dead_letter,) = read_topic(
        kafka_bootstrap, topic_namespace.physical(DEAD_LETTER_TOPIC), until=bool
    )
    producer = next(span for span in spans.get_finished_spans() if _service(span) == "p")
    first, second = sorted(
        (span for span in spans.get_finished_spans() if _service(span) == "w"),
        key=lambda span: span.start_time or 0,
    )
    # attempt 1 -> retry copy -> attempt 2 -> dead letter and job.failed: one chain, one trace.
    assert _parent_id(first) == _hex(producer.context.span_id, 16)
    assert retry_copy.headers["traceparent"] == _traceparent_of(first)
    assert _parent_id(second) == _hex(first.context.span_id, 16)
    assert dead_letter.headers["traceparent"] == _traceparent_of(second)
    assert failed.headers["traceparent"] == _traceparent_of(second)
    assert {first.context.trace_id, second.context.trace_id} == {producer.context.trace_id}
    assert first.attributes is not None and first.attributes["dpp.job.outcome"] == "retry"
    assert second.attributes is not None and second.attributes["dpp.job.outcome"] == "dead"
    assert not first.status.is_ok and not second.status.is_ok


def test_a_record_that_is_no_job_is_dead_lettered_under_its_worker_span(
    kafka_bootstrap: str, topic_namespace: TopicNamespace, store: JobStore, group: str
) -> None:
    """No `ce_type`: the dead letter and the job.failed carry the worker span's context, the
    child of the record's own."""
    job_id = factories.event_ids().sign("alice", str(uuid.uuid4()))
    produce_raw(
        kafka_bootstrap,
        topic_namespace.physical(DEMO_TOPIC),
        b'{"session_id": "s", "message": "m"}',
        [
            ("ce_specversion", b"1.0"),
            ("ce_id", job_id.encode()),
            ("ce_source", b"/tests"),
            ("ce_time", b"2026-01-01T00:00:00Z"),
            ("traceparent", CALLER_TRACEPARENT.encode()),
            ("tracestate", CALLER_TRACESTATE.encode()),
        ],
    )
    spans = Spans()
    with running_worker(
        bootstrap=kafka_bootstrap,
        namespace=topic_namespace,
        store=store,
        registry=default_jobs(),
        consumer_group=group,
        tracing=spans.tracing("dpp-worker"),
    ):
        failed = _results(kafka_bootstrap, topic_namespace, job_id, "job.failed.v1")
    (dead_letter,) = read_topic(
        kafka_bootstrap, topic_namespace.physical(DEAD_LETTER_TOPIC), until=bool
    )
    (worker,) = spans.get_finished_spans()
    assert _parent_id(worker) == CALLER_SPAN_ID
    assert _hex(worker.context.trace_id, 32) == TRACE_ID
    assert worker.attributes is not None and worker.attributes["dpp.job.outcome"] == "dead"
    assert worker.attributes["error.type"] == "EventDecodeError" and not worker.status.is_ok
    for record in (dead_letter, failed):
        assert record.headers["traceparent"] == _traceparent_of(worker)
        assert record.headers["tracestate"] == CALLER_TRACESTATE


def test_a_refused_request_ends_its_span_failed(make_app: AppFactory) -> None:
    spans = Spans()
    app = make_app()
    app.state.runtime.tracing = spans.tracing("dpp-producer")
    with TestClient(app) as client:
        refused = client.post(
            "/v1/events",
            json=factories.demo_event(),
            headers={**factories.auth(scope="jobs:read"), **HEADERS},
        )
    assert refused.status_code == 403, refused.text
    (span,) = spans.get_finished_spans()
    assert _parent_id(span) == CALLER_SPAN_ID and not span.status.is_ok
    assert span.attributes is not None
    assert span.attributes["http.response.status_code"] == 403
    assert span.attributes["error.type"] == "ScopeError"


@pytest.mark.parametrize("transport", ["asgi", "route", "lambda"])
def test_tracing_off_passes_the_callers_trace_context_through_to_kafka(
    request: pytest.FixtureRequest, make_app: AppFactory, transport: str, kafka_bootstrap: str
) -> None:
    single = _post(
        request,
        make_app,
        transport,
        "/v1/events",
        factories.demo_event(traceparent=BODY_TRACEPARENT),
        HEADERS,
        None,
    )
    headers = _record(kafka_bootstrap, single)
    assert headers["traceparent"] == CALLER_TRACEPARENT.encode()
    assert headers["tracestate"] == CALLER_TRACESTATE.encode()
    batch = _post(
        request,
        make_app,
        transport,
        "/v1/events:batch",
        {"events": [factories.demo_event(), factories.demo_event(session_id="s-2")]},
        {"traceparent": CALLER_TRACEPARENT},
        None,
    )
    for entry in batch["entries"]:
        headers = _record(kafka_bootstrap, entry)
        assert headers["traceparent"] == CALLER_TRACEPARENT.encode()
        assert "tracestate" not in headers
    # An invalid header is ignored: the event's own traceparent stays, as without any header.
    kept = _post(
        request,
        make_app,
        transport,
        "/v1/events",
        factories.demo_event(traceparent=BODY_TRACEPARENT),
        {"traceparent": "00-" + "0" * 32 + "-" + "2" * 16 + "-01"},
        None,
    )
    assert _record(kafka_bootstrap, kept)["traceparent"] == BODY_TRACEPARENT.encode()


@pytest.mark.parametrize(
    ("value", "usable"),
    [
        (CALLER_TRACEPARENT, CALLER_TRACEPARENT),
        (f" {CALLER_TRACEPARENT} ", CALLER_TRACEPARENT),
        (f"01-{TRACE_ID}-{CALLER_SPAN_ID}-01-future", f"01-{TRACE_ID}-{CALLER_SPAN_ID}-01"),
        (f"00-{TRACE_ID}-{CALLER_SPAN_ID}-01-extra", None),  # version 00 has no more fields
        (f"ff-{TRACE_ID}-{CALLER_SPAN_ID}-01", None),
        (f"00-{'0' * 32}-{CALLER_SPAN_ID}-01", None),
        (f"00-{TRACE_ID}-{'0' * 16}-01", None),
        (f"00-{TRACE_ID.upper()}-{CALLER_SPAN_ID}-01", None),
        ("garbage", None),
    ],
)
def test_only_a_w3c_traceparent_is_passed_through(value: str, usable: str | None) -> None:
    assert usable_traceparent(value) == usable
    headers = passthrough_headers(value, "a=1")
    assert headers == (
        None if usable is None else (("traceparent", usable.encode()), ("tracestate", b"a=1"))
    )
    assert passthrough_headers(CALLER_TRACEPARENT, "x" * 600) == (
        ("traceparent", CALLER_TRACEPARENT.encode()),
    )


def _probe(code: str, env: dict[str, str]) -> list[str]:
    completed = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    loaded: list[str] = json.loads(completed.stdout.strip().splitlines()[-1])
    return loaded


_COLD_START = """
import json, sys
import dpp_producer.lambda_handler as handler
event = json.loads(open({event!r}).read())
event["headers"]["traceparent"] = {traceparent!r}
response = handler.serve(event, None)
assert response["statusCode"] == 401, response
import dpp_consumer.service
dpp_consumer.service.build_worker()
print(json.dumps(sorted(m for m in sys.modules if m.startswith("opentelemetry"))))
"""


@pytest.mark.parametrize("mode", ["off", "otlp"])
def test_switched_off_opentelemetry_is_never_imported(sqlite_url: str, mode: str) -> None:
    """A Lambda cold start (handler imported, a request served) and a worker built: with
    DPP_TRACING unset nothing imports OpenTelemetry; with otlp the SDK is loaded (the probe
    can tell)."""
    event = REPO / "tests/producer/events/apigw_v2_post_event_no_token.json"
    code = _COLD_START.format(event=str(event), traceparent=CALLER_TRACEPARENT)
    env = {
        "LAMBDA_TASK_ROOT": "/var/task",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "dpp-events",
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
        "DATABASE_URL": sqlite_url,
        "DPP_ENV": "test",
        # Nothing listens there: an exported span would only be dropped.
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",
    }
    if mode == "off":
        assert _probe(code, env | {"DPP_TRACING": "off"}) == []
        # The FastAPI app: FastAPI itself imports the OpenTelemetry API, never the SDK.
        app_code = (
            "import json, sys\n"
            "from dpp_producer.app import create_app\n"
            "create_app()\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith('opentelemetry.sdk'))))"
        )
        assert _probe(app_code, env | {"DPP_TRACING": "off"}) == []
    else:
        loaded = _probe(code, env | {"DPP_TRACING": "otlp"})
        assert "opentelemetry.sdk.trace" in loaded
        assert "opentelemetry.exporter.otlp.proto.http.trace_exporter" in loaded


class _Collector(BaseHTTPRequestHandler):
    """Receives OTLP/HTTP exports as a collector would (the bodies are kept for the test)."""

    received: list[tuple[str, str, bytes]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        self.received.append(
            (self.path, self.headers.get("content-type", ""), self.rfile.read(length))
        )
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        return


def test_otlp_export_sends_protobuf_over_http_to_the_configured_endpoint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    _Collector.received = []
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
        monkeypatch.setenv("OTEL_SERVICE_NAME", "producer-from-env")
        tracing = build_tracing("otlp", "dpp-producer")
        assert tracing is not None and tracing.service_name == "producer-from-env"
        with tracing.start(
            "POST /v1/events", kind="producer", carrier={"traceparent": CALLER_TRACEPARENT}
        ):
            pass
        tracing.shutdown()  # the batch processor exports what it holds
    finally:
        server.shutdown()
        thread.join(10)
    ((path, content_type, body),) = _Collector.received
    assert path == "/v1/traces" and content_type == "application/x-protobuf"
    exported = ExportTraceServiceRequest.FromString(body)
    (resource_spans,) = exported.resource_spans
    service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert service["service.name"] == "producer-from-env"
    (span,) = resource_spans.scope_spans[0].spans
    assert span.name == "POST /v1/events"
    assert span.trace_id.hex() == TRACE_ID and span.parent_span_id.hex() == CALLER_SPAN_ID
    assert build_tracing("off", "dpp-producer") is None
