"""The producer zip under the Lambda emulator with Terraform's environment, through its routes."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from dpp_ops.ports import free_port
from dpp_producer.auth import mint_token
from dpp_producer.settings import SANDBOX_JWT_SECRET, ProducerSettings
from dpp_store import JobStart, JobStore
from dpp_store.database_secret import forget_cached_secrets, resolve_database_url

from .conftest import AwsStandIn, ProducerApi, StartEmulator
from .gateway import RouteTable, to_event
from .terraform import ProducerDeclaration

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
OPENAPI = json.loads((REPO / "docs" / "openapi.json").read_text(encoding="utf-8"))


def _event(session: str) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "type": "demo.echo.requested.v1",
        "source": "urn:dpp:backend:rehearsal",
        "data": {"session_id": session, "message": "hello from the emulator"},
    }


def _token(secret: str) -> str:
    return mint_token(secret, subject="svc-rehearsal", scope="events:*")


def _as_worker(aws: AwsStandIn, database_url: str, monkeypatch: pytest.MonkeyPatch) -> JobStore:
    """The job store the way the worker opens it: DATABASE_URL plus DATABASE_SECRET_ARN."""
    for name, value in aws.environment().items():
        monkeypatch.setenv(name, value)
    forget_cached_secrets()
    url = resolve_database_url(database_url, aws.database_secret_arn)
    assert ":" in url.split("@")[0].split("//")[1], "the password comes from the secret"
    store = JobStore.from_url(url)
    store.migrate()
    return store


def test_route_keys_cover_every_documented_operation(declaration: ProducerDeclaration) -> None:
    table = RouteTable(declaration.routes)
    for path, operations in OPENAPI["paths"].items():
        concrete = path.replace("{job_id}", "evt-1")
        for method in operations:
            selected = table.select(method, concrete)
            assert selected is not None, f"{method.upper()} {path} has no route"
            assert selected[0].integration == "producer", (
                f"{method.upper()} {path} -> {selected[0]}"
            )
    assert table.select("GET", "/v1/jobs/evt-1") is not None
    _, params = table.select("GET", "/v1/jobs/evt-1") or (None, {})
    assert params == {"job_id": "evt-1"}
    # The events have the shape of the real API Gateway events kept in tests/producer/events/.
    real = json.loads((REPO / "tests/producer/events/apigw_v2_post_event.json").read_text())
    route, params = table.select("POST", "/v1/events") or (None, {})
    assert route is not None
    ours = to_event(
        route, params, "POST", "/v1/events", {"Content-Type": "application/json"}, b"{}"
    )
    assert set(real) <= set(ours)
    assert set(real["requestContext"]) == set(ours["requestContext"])
    assert set(real["requestContext"]["http"]) == set(ours["requestContext"]["http"])
    # More specific than the backend's ANY /{proxy+}, which still gets everything else.
    assert (table.select("GET", "/trpc/users.me") or (None,))[0].integration == "backend"  # type: ignore[union-attr]


def test_every_documented_endpoint_answers_under_the_emulator(
    producer_api: ProducerApi,
    aws: AwsStandIn,
    lambda_database: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = _token(aws.jwt_secret)
    auth = {"Authorization": f"Bearer {token}"}
    answers: dict[str, int] = {}
    with httpx.Client(base_url=producer_api.url, timeout=60) as http:
        healthz = http.get("/healthz")
        answers["GET /healthz"] = healthz.status_code
        assert healthz.status_code == 200, healthz.text

        readyz = http.get("/readyz")
        answers["GET /readyz"] = readyz.status_code
        assert readyz.status_code == 200, readyz.text

        event = _event("rehearsal-1")
        key = f"idem-{uuid.uuid4()}"
        accepted = http.post("/v1/events", json=event, headers={**auth, "Idempotency-Key": key})
        answers["POST /v1/events"] = accepted.status_code
        assert accepted.status_code == 202, accepted.text
        body = accepted.json()
        # The API issues the event id (scoped to the token's subject, tagged with its key).
        assert body["job"] == f"/v1/jobs/{body['id']}" and body["offset"] >= 0
        # The replay is answered from the idempotency store in PostgreSQL, whose password the
        # function read from the RDS-managed secret (moto).
        replay = http.post("/v1/events", json=event, headers={**auth, "Idempotency-Key": key})
        assert replay.status_code == 202 and replay.json() == body

        batch = [_event("rehearsal-2"), _event("rehearsal-3")]
        answered = http.post("/v1/events:batch", json={"events": batch}, headers=auth)
        answers["POST /v1/events:batch"] = answered.status_code
        assert answered.status_code == 207, answered.text
        assert [e["status"] for e in answered.json()["entries"]] == [202, 202]

        missing = http.get(f"/v1/jobs/{uuid.uuid4()}", headers=auth)
        assert missing.status_code == 404, missing.text
        queued = http.get(body["job"], headers=auth)
        assert queued.status_code == 200 and queued.json()["status"] == "queued", queued.text
        # A worker picks the event up, opening the job store with DATABASE_SECRET_ARN.
        store = _as_worker(aws, lambda_database, monkeypatch)
        start = JobStart(
            body["id"],
            event["type"],
            "demo.echo",
            body["topic"],
            body["partition"],
            body["offset"],
            owner="svc-rehearsal",
        )
        store.begin(start)
        job = http.get(body["job"], headers=auth)
        answers["GET /v1/jobs/{job_id}"] = job.status_code
        assert job.status_code == 200, job.text
        assert (job.json()["id"], job.json()["status"]) == (body["id"], "running")

        metrics = http.get("/metrics")
        answers["GET /metrics"] = metrics.status_code
        assert metrics.status_code == 200, metrics.text

    with store.engine.connect() as connection:
        stored = connection.exec_driver_sql("select count(*) from idempotency_keys").scalar_one()
    assert stored >= 1
    documented = {f"{m.upper()} {p}" for p, ops in OPENAPI["paths"].items() for m in ops}
    assert set(answers) == documented
    print(f"\nper-endpoint status under the emulator: {answers}")


def test_a_sandbox_signed_token_is_refused(producer_api: ProducerApi, aws: AwsStandIn) -> None:
    with httpx.Client(base_url=producer_api.url, timeout=60) as http:
        sandbox = http.post(
            "/v1/events",
            json=_event("sandbox"),
            headers={"Authorization": f"Bearer {_token(SANDBOX_JWT_SECRET)}"},
        )
        assert sandbox.status_code == 401, sandbox.text
        real = http.post(
            "/v1/events",
            json=_event("real"),
            headers={"Authorization": f"Bearer {_token(aws.jwt_secret)}"},
        )
        assert real.status_code == 202, real.text


@pytest.mark.parametrize("missing", ["JWT_SECRET_ARN", "DATABASE_URL"])
def test_start_up_fails_without_a_required_setting(
    start_emulator: StartEmulator,
    terraform_environment: dict[str, str],
    declaration: ProducerDeclaration,
    missing: str,
) -> None:
    """Without JWT_SECRET_ARN the init fails, naming it, even though DPP_ENV is `dev` (which
    used to count as local and fall back to the public sandbox secret). Without DATABASE_URL
    too: the SQLite default cannot be written on Lambda. (`DPP_ENV` itself defaults to the
    sandbox, so Terraform must give it; tests/infra/test_contract.py checks that.)"""
    environment = dict(terraform_environment)
    assert environment["DPP_ENV"] == "dev"
    environment.pop(missing)
    emulator = start_emulator(environment)
    route, params = RouteTable(declaration.routes).select("GET", "/healthz") or (None, {})
    assert route is not None
    result, _ = emulator.invoke(to_event(route, params, "GET", "/healthz", {}, b""))
    assert "errorType" in result, result
    assert missing in result["errorMessage"], result
    assert "DPP_ENV=dev is a deployed environment" in result["errorMessage"], result


def test_an_unreachable_broker_does_not_slow_later_invocations(
    start_emulator: StartEmulator,
    terraform_environment: dict[str, str],
    declaration: ProducerDeclaration,
    aws: AwsStandIn,
) -> None:
    """Defect 10: the 503 comes after one ack timeout, and the next invocation (a 401) does not
    wait on the record the 503 left queued."""
    unreachable = {**terraform_environment, "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}"}
    emulator = start_emulator(unreachable)
    table = RouteTable(declaration.routes)
    route, params = table.select("POST", "/v1/events") or (None, {})
    assert route is not None

    def post(token: str) -> tuple[dict[str, Any], str]:
        headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
        body = json.dumps(_event("outage")).encode()
        return emulator.invoke(to_event(route, params, "POST", "/v1/events", headers, body))

    cold, cold_id = post("not-a-jwt")
    assert cold["statusCode"] == 401, cold
    cold_ms = emulator.report(cold_id).duration_ms
    init_ms = emulator.init_duration_ms()
    baseline, baseline_id = post("not-a-jwt")
    assert baseline["statusCode"] == 401
    baseline_ms = emulator.report(baseline_id).duration_ms

    started = time.monotonic()
    outage, _ = post(_token(aws.jwt_secret))
    outage_s = time.monotonic() - started
    assert outage["statusCode"] == 503, outage
    assert "DPP_PRODUCER_ACK_TIMEOUT_S" not in unreachable  # so the default applies
    ack_timeout_s = float(ProducerSettings.model_fields["ack_timeout_s"].default)
    assert outage_s < 2 * ack_timeout_s, f"503 after {outage_s:.1f} s (an extra flush?)"

    after, after_id = post("not-a-jwt")
    assert after["statusCode"] == 401
    after_ms = emulator.report(after_id).duration_ms
    # The earlier record is still queued (the broker is still away) and the invocation says so
    # without waiting for it.
    warnings = [
        line
        for line in emulator.invocation_logs(after_id)
        if "still queued" in line.get("message", "")
    ]
    assert warnings and warnings[0]["queued"] >= 1, emulator.invocation_logs(after_id)
    assert after_ms < 10 * baseline_ms + 500, (
        f"401 after the outage took {after_ms:.0f} ms, baseline {baseline_ms:.0f} ms"
    )
    print(
        f"\ninit {init_ms:.0f} ms; first invocation {cold_ms:.0f} ms; "
        f"401 baseline {baseline_ms:.1f} ms; 503 after {outage_s * 1000:.0f} ms; "
        f"next 401 {after_ms:.1f} ms"
    )
