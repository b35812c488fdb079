"""The ingest fast paths agree with the parsed-body path they bypass: whole-body validation
(`FastAdmission`) encodes the same records as `admit`, hands anything doubtful back to it, and
the ASGI fast path serves POST /v1/events without FastAPI's route."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dpp_producer.admission import AdmissionContext, FastAdmission, admit
from dpp_producer.api.routes import events as event_routes
from dpp_producer.auth import Principal
from dpp_shared.events import REGISTRY
from dpp_shared.topics import TopicNamespace
from dpp_shared.tracing import TraceHeaders, passthrough_headers
from tests.producer import factories
from tests.producer.conftest import AppFactory
from tests.producer.test_lambda import lambda_env  # noqa: F401 - the fixture

NAMESPACE = TopicNamespace("t-fast.")
TRACEPARENT = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"
FIXED = {"id": "evt-1", "time": "2026-01-01T00:00:00+02:00"}


def _context(scope: str = "events:*", correlation_id: str | None = "corr-1") -> AdmissionContext:
    return AdmissionContext(
        Principal("tester", frozenset({scope})), NAMESPACE, correlation_id, None, None
    )


@pytest.fixture(scope="module")
def fast() -> FastAdmission:
    return FastAdmission(REGISTRY, NAMESPACE)


@pytest.mark.parametrize(
    "document",
    [
        factories.demo_event(**FIXED),
        factories.demo_event(**FIXED, subject="s", traceparent=TRACEPARENT, dataschema="urn:x"),
        factories.demo_event(**FIXED, correlationid="mine", idempotencykey="k-1"),
        factories.demo_event(**FIXED, correlationid=None, specversion="1.0"),
        {**factories.embedding_event(), **FIXED},
        {k: v for k, v in factories.demo_event(**FIXED).items() if k != "source"},
    ],
)
def test_whole_body_validation_encodes_the_records_admit_encodes(
    fast: FastAdmission, document: dict[str, Any]
) -> None:
    raw = json.dumps(document).encode()
    expected = admit(json.loads(raw), _context())
    got = fast.single(raw, _context())
    assert got == expected
    batch = fast.batch(json.dumps({"events": [document, document]}).encode(), _context(), 10)
    assert batch == [expected, expected]
    assert fast.batch(json.dumps([document]).encode(), _context(), 10) == [expected]


def test_made_up_ids_and_times_are_fresh_and_well_formed(fast: FastAdmission) -> None:
    raw = json.dumps(factories.demo_event()).encode()
    first, second = fast.single(raw, _context()), fast.single(raw, _context())
    assert first is not None and second is not None
    assert first.event_id != second.event_id and not first.id_given
    headers = dict(first.record.headers)
    assert headers["ce_id"] == first.event_id.encode()
    assert headers["ce_time"].endswith(b"Z")


@pytest.mark.parametrize(
    "raw",
    [
        b'{"type": "no.such.type.v1", "data": {}}',
        json.dumps(factories.demo_event(id=None)).encode(),
        json.dumps(factories.demo_event(time=None)).encode(),
        json.dumps(factories.demo_event(source=None)).encode(),
        json.dumps(factories.demo_event(extra="field")).encode(),
        json.dumps({**factories.demo_event(), "data": {"session_id": "s"}}).encode(),
        b'{"type": "demo.echo.requested.v1", "data": {"session_id": "s", "message": NaN}}',
        b"not json",
        b"",
    ],
)
def test_anything_doubtful_goes_back_to_admit(fast: FastAdmission, raw: bytes) -> None:
    assert fast.single(raw, _context()) is None
    assert fast.batch(b'{"events": [%s]}' % raw, _context(), 10) is None


def test_batches_admit_must_word_go_back_to_it(fast: FastAdmission) -> None:
    good = json.dumps(factories.demo_event()).encode()
    assert fast.batch(b"[]", _context(), 10) is None  # empty: admit's 422
    assert fast.batch(b"[%s,%s]" % (good, good), _context(), 1) is None  # too many: 413
    embedding = json.dumps(factories.embedding_event()).encode()
    # One entry the token may not publish: admit words that entry's 403.
    assert fast.batch(b"[%s,%s]" % (good, embedding), _context("events:demo"), 10) is None
    with pytest.raises(Exception, match="lacks scope"):
        fast.single(embedding, _context("events:demo"))


def test_the_asgi_fast_path_serves_events_without_the_fastapi_route(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def must_not_run(*_args: Any) -> Any:
        raise AssertionError("the FastAPI route ran")

    monkeypatch.setattr(event_routes, "ingest_event", must_not_run)
    monkeypatch.setattr(event_routes, "ingest_batch", must_not_run)
    with TestClient(make_app(), raise_server_exceptions=True) as client:
        single = client.post("/v1/events", json=factories.demo_event(), headers=factories.auth())
        batch = client.post(
            "/v1/events:batch", json={"events": [factories.demo_event()]}, headers=factories.auth()
        )
    assert single.status_code == 202, single.text
    assert single.headers["location"] == "/v1/jobs/" + single.json()["id"]
    assert single.headers["x-correlation-id"]
    assert batch.status_code == 207, batch.text
    assert batch.json()["accepted_count"] == 1


def test_many_equal_observations_match_one_observe_each() -> None:
    from prometheus_client import CollectorRegistry, Histogram

    from dpp_producer.metrics import _observe_many

    one, many = (
        Histogram("h", "h", registry=CollectorRegistry(), buckets=(0.01, 0.1, 1.0))
        for _ in range(2)
    )
    for value, count in ((0.05, 500), (2.0, 3), (0.01, 7)):
        for _ in range(count):
            one.observe(value)
        _observe_many(many, value, count)
    samples = [
        [(s.name, s.labels, s.value) for metric in h.collect() for s in metric.samples
         if not s.name.endswith("_created")]
        for h in (one, many)
    ]  # fmt: skip
    assert [sample[:2] for sample in samples[0]] == [sample[:2] for sample in samples[1]]
    # The sum of n equal values is n * value here, not n float additions: equal up to rounding.
    assert [sample[2] for sample in samples[1]] == pytest.approx([s[2] for s in samples[0]])


def test_the_lambda_ingest_path_answers_without_fastapi_or_mangum(sqlite_url: str) -> None:
    """A cold Lambda environment answers POST /v1/events (here a 401: no broker needed) from
    the ingest service; FastAPI and Mangum are never imported."""
    import os
    import subprocess
    import sys

    probe = (
        "import json, sys\n"
        "import dpp_producer.lambda_handler as h\n"
        "event = json.loads(open(sys.argv[1]).read())\n"
        "response = h.serve(event, None)\n"
        "assert response['statusCode'] == 401, response\n"
        "assert response['headers']['content-type'] == 'application/problem+json'\n"
        "assert response['headers']['x-correlation-id'] == 'corr-from-envelope'\n"
        "print(sorted(m for m in ('fastapi', 'mangum', 'starlette') if m in sys.modules))\n"
    )
    env = {
        **os.environ,
        "LAMBDA_TASK_ROOT": "/var/task",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "dpp-events",
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
        "DATABASE_URL": sqlite_url,
        "DPP_ENV": "test",
    }
    event = Path(__file__).parent / "events" / "apigw_v2_post_event_no_token.json"
    completed = subprocess.run(
        [sys.executable, "-c", probe, str(event)],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.strip().splitlines()[-1] == "[]"


# --- the security of issue 16 holds on every fast path -------------------------------------


def _secured(subject: str) -> AdmissionContext:
    return AdmissionContext(
        Principal(subject, frozenset({"events:*"})),
        NAMESPACE,
        "corr-1",
        event_ids=factories.event_ids(),
    )


def test_whole_body_validation_scopes_ids_and_stamps_the_publisher_as_admit_does(
    fast: FastAdmission,
) -> None:
    raw = json.dumps(factories.demo_event(**FIXED)).encode()
    alice, bob = fast.single(raw, _secured("alice")), fast.single(raw, _secured("bob"))
    assert alice == admit(json.loads(raw), _secured("alice"))
    assert bob == admit(json.loads(raw), _secured("bob"))
    assert alice is not None and bob is not None
    # One client id, two subjects: two ids, each the one EventIds issues to that subject.
    assert alice.event_id == factories.scoped_id("evt-1", "alice")
    assert bob.event_id == factories.scoped_id("evt-1", "bob")
    assert alice.event_id != bob.event_id
    assert dict(alice.record.headers)["ce_dpppublisher"] == b"alice"
    assert dict(alice.record.headers)["ce_id"] == alice.event_id.encode()
    # No id sent: a fresh one, signed for the caller.
    made_up = fast.single(json.dumps(factories.demo_event()).encode(), _secured("alice"))
    assert made_up is not None and factories.event_ids().issued_to("alice", made_up.event_id)
    batch = fast.batch(b"[%s]" % raw, _secured("bob"), 10)
    assert batch == [bob]


def _route_must_not_run(monkeypatch: pytest.MonkeyPatch) -> None:
    async def must_not_run(*_args: Any) -> Any:
        raise AssertionError("the FastAPI route ran")

    monkeypatch.setattr(event_routes, "ingest_event", must_not_run)
    monkeypatch.setattr(event_routes, "ingest_batch", must_not_run)


def test_the_asgi_fast_path_scopes_ids_stamps_the_publisher_and_rate_limits(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch, kafka_bootstrap: str
) -> None:
    _route_must_not_run(monkeypatch)
    app = make_app(DPP_RATE_LIMITS="events:*=2/m:2")
    event = factories.demo_event(id="client-chosen")
    with TestClient(app, raise_server_exceptions=True) as client:
        alice = client.post("/v1/events", json=event, headers=factories.auth(subject="alice"))
        bob = client.post("/v1/events:batch", json=[event], headers=factories.auth(subject="bob"))
        alice_again = client.post("/v1/events", json=event, headers=factories.auth(subject="alice"))
        refused = client.post("/v1/events", json=event, headers=factories.auth(subject="alice"))
    assert alice.status_code == 202, alice.text
    assert bob.status_code == 207, bob.text
    alice_id, bob_id = alice.json()["id"], bob.json()["entries"][0]["id"]
    assert alice_id == factories.scoped_id("client-chosen", "alice")
    assert bob_id == factories.scoped_id("client-chosen", "bob")
    assert alice_id != bob_id and alice_again.json()["id"] == alice_id
    # The RateLimit fields on every answer of a limited client, as on the FastAPI routes.
    assert alice.headers["ratelimit-policy"] == '"events:*";q=2;w=60'
    assert alice.headers["ratelimit"].startswith('"events:*";r=1;')
    assert bob.headers["ratelimit"].startswith('"events:*";r=1;')
    assert refused.status_code == 429, refused.text
    assert refused.json()["type"].endswith("rate-limited")
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["ratelimit"].startswith('"events:*";r=0;')
    assert refused.headers["ratelimit-policy"] == '"events:*";q=2;w=60'
    body = alice.json()
    record = factories.read_record(
        kafka_bootstrap, body["topic"], body["partition"], body["offset"]
    )
    assert record.headers["ce_dpppublisher"] == b"alice"
    assert record.headers["ce_id"] == alice_id.encode()


@pytest.mark.usefixtures("lambda_env")
def test_the_lambda_ingest_path_scopes_ids_and_rate_limits(
    monkeypatch: pytest.MonkeyPatch, kafka_bootstrap: str
) -> None:
    from dpp_producer import lambda_handler
    from tests.producer.test_lambda import LambdaContext, _clear_setting_caches, load_event

    monkeypatch.setenv("DPP_RATE_LIMITS", "events:*=2/m:2")
    _clear_setting_caches()

    def post(subject: str) -> dict[str, Any]:
        event = load_event("apigw_v2_post_event.json", TOKEN=factories.token(subject=subject))
        body = {**json.loads(event["body"]), "id": "client-chosen"}
        event["body"] = json.dumps(body)
        event["headers"]["content-length"] = str(len(event["body"]))
        # `handler`, not `serve`: its metrics decorator flushes what each invocation adds.
        response: dict[str, Any] = lambda_handler.handler(event, LambdaContext())
        return response

    alice, bob, _, refused = post("alice"), post("bob"), post("alice"), post("alice")
    # Served by the ingest path: the FastAPI app and Mangum were never built.
    assert lambda_handler.container()._adapter is None
    assert alice["statusCode"] == 202, alice
    assert bob["statusCode"] == 202, bob
    alice_id, bob_id = json.loads(alice["body"])["id"], json.loads(bob["body"])["id"]
    assert alice_id == factories.scoped_id("client-chosen", "alice")
    assert bob_id == factories.scoped_id("client-chosen", "bob")
    assert alice["headers"]["ratelimit-policy"] == '"events:*";q=2;w=60'
    assert alice["headers"]["ratelimit"].startswith('"events:*";r=1;')
    assert refused["statusCode"] == 429, refused
    assert refused["headers"]["content-type"] == "application/problem+json"
    assert int(refused["headers"]["retry-after"]) >= 1
    assert refused["headers"]["ratelimit"].startswith('"events:*";r=0;')
    body = json.loads(alice["body"])
    record = factories.read_record(
        kafka_bootstrap, body["topic"], body["partition"], body["offset"]
    )
    assert record.headers["ce_dpppublisher"] == b"alice"


@pytest.mark.parametrize("trace", [None, passthrough_headers(TRACEPARENT, "k=v")])
@pytest.mark.parametrize("correlation_id", [None, "corr-1"])
def test_a_mixed_batch_gets_the_headers_admit_gives_each_event(
    fast: FastAdmission, trace: TraceHeaders | None, correlation_id: str | None
) -> None:
    # The fast path builds headers from parts shared per request and per type, and issues the
    # missing ids in one pass: every record must still be the one `admit` encodes, whatever
    # mix of types and own attributes the batch holds (ids and times made up here aside).
    documents = [
        factories.demo_event(),
        factories.demo_event(**FIXED),
        factories.embedding_event(),
        factories.demo_event(subject="s", traceparent=TRACEPARENT, dataschema="urn:x"),
        factories.demo_event(correlationid=None, source="urn:other"),
        factories.demo_event(correlationid="mine", idempotencykey="k-1", source="urn:other"),
        {k: v for k, v in factories.demo_event().items() if k != "source"},
        factories.demo_event(),
    ]

    def context() -> AdmissionContext:
        return AdmissionContext(
            Principal("alice", frozenset({"events:*"})),
            NAMESPACE,
            correlation_id,
            event_ids=factories.event_ids(),
            trace=trace,
        )

    got = fast.batch(json.dumps({"events": documents}).encode(), context(), 10)
    assert got is not None and len(got) == len(documents)
    ids = factories.event_ids()
    for document, event in zip(documents, got, strict=True):
        expected = admit(document, context())
        made_up = "id" not in document
        assert event.id_given is not made_up
        assert ids.issued_to("alice", event.event_id)
        if not made_up:
            assert event.event_id == expected.event_id
        assert (event.correlation_id, event.event_type) == (
            expected.correlation_id,
            expected.event_type,
        )
        record, wanted = event.record, expected.record
        assert (record.topic, record.key, record.value) == (wanted.topic, wanted.key, wanted.value)
        # Same headers in the same order; only a made-up id and time differ in value.
        assert [name for name, _ in record.headers] == [name for name, _ in wanted.headers]
        vary = {"ce_time"} | ({"ce_id"} if made_up else set())
        assert [h for h in record.headers if h[0] not in vary] == [
            h for h in wanted.headers if h[0] not in vary
        ]
        assert dict(record.headers)["ce_id"] == event.event_id.encode()
    made_up_ids = [event.event_id for event in got if not event.id_given]
    assert len(set(made_up_ids)) == len(made_up_ids)
    # One request, one time for the events that leave it out.
    times = {
        dict(event.record.headers)["ce_time"]
        for document, event in zip(documents, got, strict=True)
        if "time" not in document
    }
    assert len(times) == 1
