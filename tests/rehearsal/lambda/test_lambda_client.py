"""The client's Lambda-invoke transport: SigV4 as botocore signs it, and publishing under RIE."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from dpp_client import (
    AuthenticationError,
    ClientConfigurationError,
    Event,
    EventRejectedError,
    EventsClient,
)
from dpp_client.lambda_invoke import Credentials, LambdaInvokeTransport, sign
from dpp_producer.auth import mint_token
from tests.producer import factories

from .conftest import REGION, AwsStandIn, ProducerApi

ALIAS_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:dev-dev01-dpp-producer:live"


@pytest.mark.parametrize("session_token", [None, "FwoGZXIvYXdzEJr//////////session"])
def test_the_signature_is_the_one_botocore_computes(
    session_token: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import botocore.auth  # type: ignore[import-untyped]
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
    from botocore.credentials import Credentials as BotoCredentials  # type: ignore[import-untyped]

    transport = LambdaInvokeTransport(
        ALIAS_ARN, region="us-east-1", credentials=lambda: Credentials("AKIDEXAMPLE", "s3cr3t")
    )
    assert transport.region == "eu-west-1", "the ARN's region wins"
    assert transport.url == (
        "https://lambda.eu-west-1.amazonaws.com/2015-03-31/functions/"
        "arn%3Aaws%3Alambda%3Aeu-west-1%3A123456789012%3Afunction%3Adev-dev01-dpp-producer%3Alive"
        "/invocations"
    )
    body = b'{"version":"2.0","rawPath":"/v1/events"}'
    moment = datetime(2026, 11, 26, 9, 0, 0, tzinfo=UTC)
    ours = sign(
        "POST",
        transport.url,
        {"Content-Type": "application/json"},
        body,
        credentials=Credentials("AKIDEXAMPLE", "s3cr3t", session_token),
        region="eu-west-1",
        now=moment,
    )
    request = AWSRequest(
        method="POST", url=transport.url, data=body, headers={"Content-Type": "application/json"}
    )
    signer = SigV4Auth(
        BotoCredentials("AKIDEXAMPLE", "s3cr3t", session_token), "lambda", "eu-west-1"
    )
    # botocore's clock, naive UTC like its own.
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: moment.replace(tzinfo=None))
    signer.add_auth(request)
    assert ours["Authorization"] == request.headers["Authorization"]
    assert ours["X-Amz-Date"] == request.headers["X-Amz-Date"]
    assert ours.get("X-Amz-Security-Token") == request.headers.get("X-Amz-Security-Token")


def test_from_env_needs_credentials_for_the_invoke_transport() -> None:
    with pytest.raises(ClientConfigurationError, match="AWS_ACCESS_KEY_ID"):
        EventsClient.from_env({"DPP_EVENTS_FUNCTION": "producer", "DPP_API_TOKEN": "t"})
    with pytest.raises(ClientConfigurationError, match="DPP_API_URL"):
        EventsClient.from_env({"DPP_API_TOKEN": "t"})


def test_publishing_through_the_lambda_invoke_api_under_the_emulator(
    producer_api: ProducerApi, aws: AwsStandIn, unprefixed_topics: str
) -> None:
    """What a backend Lambda without NAT does: invoke the producer function (the emulator serves
    exactly Lambda's invoke path; its function is named `function`)."""
    # Warm the execution environment first. The emulator has exactly one, and it crashes (nil
    # pointer in rapidcore) when a retry arrives while an invocation is still running, which a
    # client attempt timing out on a slow cold start here would cause; AWS sends such a retry
    # to another execution environment.
    assert httpx.get(f"{producer_api.url}/healthz", timeout=60).status_code == 200
    token = mint_token(aws.jwt_secret, subject="svc-backend", scope="events:*")
    environment = {
        "DPP_EVENTS_FUNCTION": "function",
        "DPP_API_TOKEN": token,
        "AWS_ENDPOINT_URL_LAMBDA": f"http://127.0.0.1:{producer_api.emulator.port}",
        "AWS_ACCESS_KEY_ID": "AKIDBACKEND",
        "AWS_SECRET_ACCESS_KEY": "backend-secret",
        "AWS_SESSION_TOKEN": "backend-session",
        "AWS_REGION": REGION,
        "AWS_LAMBDA_FUNCTION_NAME": "dev-dev01-dpp-api",
    }
    client = EventsClient.from_env(environment)

    result = client.publish(
        "demo.echo.requested.v1",
        {"session_id": "invoke-1", "message": "through the Lambda endpoint"},
        correlation_id="corr-invoke",
    )
    record = factories.read_record(unprefixed_topics, result.topic, result.partition, result.offset)
    assert record.key == b"invoke-1"
    assert record.headers["ce_id"].decode() == result.id
    assert record.headers["ce_source"] == b"urn:dpp:lambda:dev-dev01-dpp-api"
    assert record.headers["ce_correlationid"] == b"corr-invoke"

    event = Event("demo.echo.requested.v1", {"session_id": "invoke-2", "message": "again"})
    first = client.publish_event(event)
    again = client.publish_event(event)
    assert again.replayed and (again.id, again.offset) == (first.id, first.offset)

    batch = client.publish_batch(
        [
            Event("demo.echo.requested.v1", {"session_id": "invoke-b1", "message": "one"}),
            Event("demo.echo.requested.v1", {"session_id": "invoke-b2"}),
        ]
    )
    assert sorted(batch.accepted) == [0]
    assert isinstance(batch.rejected[1].error, EventRejectedError)

    stranger = EventsClient.from_env({**environment, "DPP_API_TOKEN": "not-a-jwt"})
    with pytest.raises(AuthenticationError):
        stranger.publish("demo.echo.requested.v1", {"session_id": "x", "message": "y"})
