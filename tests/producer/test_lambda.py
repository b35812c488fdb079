"""The Lambda handler with real API Gateway v2 (HTTP API) payloads, against the real broker."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dpp_producer import lambda_handler, settings
from dpp_shared import settings as shared_settings
from dpp_shared.topics import DEMO_TOPIC, TopicNamespace
from tests.producer import factories

EVENTS = Path(__file__).parent / "events"


class LambdaContext:
    """The attributes of the Lambda context object that the handler and Powertools read."""

    function_name = "dpp-producer"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:dpp-producer"
    memory_limit_in_mb = 512
    aws_request_id = "6f1d2c3b-1111-2222-3333-444455556666"
    log_group_name = "/aws/lambda/dpp-producer"
    log_stream_name = "2026/11/25/[$LATEST]abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def load_event(name: str, **replacements: str) -> dict[str, Any]:
    text = (EVENTS / name).read_text()
    for placeholder, value in replacements.items():
        text = text.replace(f"<{placeholder}>", value)
    event: dict[str, Any] = json.loads(text)
    return event


def _clear_setting_caches() -> None:
    for getter in (
        settings.producer_settings,
        shared_settings.kafka_settings,
        shared_settings.topic_settings,
    ):
        getter.cache_clear()


@pytest.fixture
def lambda_env(
    monkeypatch: pytest.MonkeyPatch,
    kafka_bootstrap: str,
    topic_namespace: TopicNamespace,
    sqlite_url: str,
) -> Iterator[None]:
    """The environment the infra gives the function, and a fresh execution environment."""
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("DPP_TOPIC_PREFIX", topic_namespace.prefix)
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("DPP_ENV", "test")
    _clear_setting_caches()
    monkeypatch.setattr(lambda_handler, "_container", None)
    yield
    if lambda_handler._container is not None:
        lambda_handler._container.runtime.publisher.close(5.0)
    _clear_setting_caches()


@pytest.mark.usefixtures("lambda_env")
def test_post_event_through_api_gateway_lands_on_its_topic(
    kafka_bootstrap: str, topic_namespace: TopicNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    event = load_event("apigw_v2_post_event.json", TOKEN=factories.token("events:demo"))
    response = lambda_handler.handler(event, LambdaContext())

    assert response["statusCode"] == 202, response
    assert response["headers"]["location"].startswith("/v1/jobs/")
    # No X-Correlation-Id header: the envelope's correlationid is the request's correlation id.
    assert response["headers"]["x-correlation-id"] == "corr-from-envelope"
    body = json.loads(response["body"])
    assert body["topic"] == topic_namespace.physical(DEMO_TOPIC)
    record = factories.read_record(
        kafka_bootstrap, body["topic"], body["partition"], body["offset"]
    )
    assert record.key == b"lambda-session-1"
    assert record.headers["ce_source"] == b"urn:dpp:backend:persona-service"
    assert record.headers["ce_correlationid"] == b"corr-from-envelope"
    # Flushed before the response: nothing left in the local queue when the container freezes.
    assert lambda_handler.container().runtime.publisher.queue_depth() == 0
    assert lambda_handler.logger.get_correlation_id() == "corr-from-envelope"
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert emf and emf[-1]["EventsAccepted"] == [1.0]  # the CloudWatch EMF document


@pytest.mark.usefixtures("lambda_env")
def test_base64_body_and_header_correlation_id(kafka_bootstrap: str) -> None:
    event = load_event("apigw_v2_post_event_base64.json", TOKEN=factories.token())
    response = lambda_handler.handler(event, LambdaContext())
    assert response["statusCode"] == 202, response
    assert response["headers"]["x-correlation-id"] == "corr-from-header"
    body = json.loads(response["body"])
    record = factories.read_record(
        kafka_bootstrap, body["topic"], body["partition"], body["offset"]
    )
    # The envelope's own correlationid is kept on the record.
    assert record.headers["ce_correlationid"] == b"corr-from-envelope"


@pytest.mark.usefixtures("lambda_env")
def test_batch_partial_failure_and_problem_responses_through_api_gateway() -> None:
    context = LambdaContext()
    batch = lambda_handler.handler(
        load_event("apigw_v2_post_batch.json", TOKEN=factories.token()), context
    )
    assert batch["statusCode"] == 207
    entries = json.loads(batch["body"])["entries"]
    assert [entry["status"] for entry in entries] == [202, 422]

    denied = lambda_handler.handler(load_event("apigw_v2_post_event_no_token.json"), context)
    assert denied["statusCode"] == 401
    assert denied["headers"]["content-type"] == "application/problem+json"
    assert denied["isBase64Encoded"] is False
    assert json.loads(denied["body"])["status"] == 401
    # No correlation id in header or envelope would fall back to API Gateway's request id.
    assert denied["headers"]["x-correlation-id"] == "corr-from-envelope"

    health = lambda_handler.handler(load_event("apigw_v2_get_healthz.json"), context)
    assert health["statusCode"] == 200
    assert health["headers"]["x-correlation-id"] == "Wd3JsK8RoAMEbVw="

    missing_job = lambda_handler.handler(
        load_event("apigw_v2_get_job.json", TOKEN=factories.token(), JOB_ID="no-such-job"),
        context,
    )
    assert missing_job["statusCode"] == 404
    assert json.loads(missing_job["body"])["status"] == 404


@pytest.mark.usefixtures("lambda_env")
def test_the_producer_is_created_once_per_container() -> None:
    context = LambdaContext()
    event = load_event("apigw_v2_post_event.json", TOKEN=factories.token())
    lambda_handler.handler(event, context)
    first = lambda_handler.container().runtime.publisher.start()
    lambda_handler.handler(event, context)
    assert lambda_handler.container().runtime.publisher.start() is first


@pytest.mark.usefixtures("lambda_env")
def test_tracer_wraps_the_handler_where_tracing_is_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lambda_handler, "_traced", None)
    monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")
    monkeypatch.setenv(
        "_X_AMZN_TRACE_ID",
        "Root=1-6743f2a1-3c1e0f4b7a2d5e6f8a9b0c1d;Parent=53995c3f42cd8ad8;Sampled=0",
    )
    assert lambda_handler.tracing_enabled()
    response = lambda_handler.handler(load_event("apigw_v2_get_healthz.json"), LambdaContext())
    assert response["statusCode"] == 200
    assert lambda_handler.traced_handler() is not lambda_handler.serve
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    assert not lambda_handler.tracing_enabled()


def test_on_lambda_the_app_is_built_at_import_without_connecting(sqlite_url: str) -> None:
    """The init phase builds the app (full CPU, before the first request) but opens nothing."""
    import os
    import subprocess
    import sys

    probe = (
        "import dpp_producer.lambda_handler as h\n"
        "assert h._container is not None\n"
        "assert not h._container.runtime.publisher.started\n"
        "print('built')\n"
    )
    env = {
        **os.environ,
        "LAMBDA_TASK_ROOT": "/var/task",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",  # nothing listens: any connect would fail
        "DATABASE_URL": sqlite_url,
        "DPP_ENV": "test",
    }
    completed = subprocess.run(
        [sys.executable, "-c", probe],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "built"
