"""Auth faults: no token, expired, wrongly signed, another event type's scope are refused, and
no secret or token ever reaches the logs (captured at the file-descriptor level)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from fastapi.testclient import TestClient

from dpp_producer.app import create_app
from dpp_producer.auth import mint_token
from dpp_producer.settings import ProducerSettings
from dpp_shared.settings import KafkaSettings, TopicSettings
from dpp_shared.topics import TopicNamespace

SECRET = "faults-test-secret-" + "0123456789abcdef" * 2
OTHER_SECRET = "another-secret-entirely-" + "fedcba9876543210" * 2
EVENT = {
    "type": "demo.echo.requested.v1",
    "source": "urn:dpp:tests:faults",
    "data": {"session_id": "s-1", "message": "hello"},
}


def _expired() -> str:
    now = int(time.time())
    claims = {"sub": "svc", "scope": "events:*", "iat": now - 7200, "exp": now - 3600}
    return jwt.encode(claims, SECRET, algorithm="HS256")


REFUSED = {
    "missing": (None, 401),
    "not-bearer": ("Basic dXNlcjpwYXNz", 401),
    "garbage": ("Bearer not.a.jwt", 401),
    "expired": ("Bearer " + _expired(), 401),
    "wrong-signature": ("Bearer " + mint_token(OTHER_SECRET, subject="svc", scope="events:*"), 401),
    "other-event-type-scope": (
        "Bearer " + mint_token(SECRET, subject="svc", scope="events:persona.embedding"),
        403,
    ),
}


@pytest.fixture
def client(
    kafka_bootstrap: str, topic_namespace: TopicNamespace, tmp_path: Path
) -> Iterator[TestClient]:
    settings = ProducerSettings.model_validate(
        {
            "DPP_ENV": "test",
            "JWT_SECRET": SECRET,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'jobs.db'}",
            "DPP_PRODUCER_ACK_TIMEOUT_S": 10,
        }
    )
    app = create_app(
        settings,
        kafka=KafkaSettings(bootstrap_servers=kafka_bootstrap),
        topics=TopicSettings(topic_prefix=topic_namespace.prefix),
    )
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_bad_tokens_are_refused_and_no_secret_or_token_is_logged(
    client: TestClient, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    good = "Bearer " + mint_token(SECRET, subject="svc", scope="events:demo")
    refused = 0
    for kind, (authorization, expected) in REFUSED.items():
        headers = {"Authorization": authorization} if authorization else {}
        response = client.post("/v1/events", json=EVENT, headers=headers)
        assert response.status_code == expected, (kind, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        refused += 1
    accepted = client.post("/v1/events", json=EVENT, headers={"Authorization": good})
    assert accepted.status_code == 202, accepted.text
    # The scope names this event type: a batch for another type is refused per event.
    batch = client.post(
        "/v1/events:batch",
        json={"events": [{**EVENT, "type": "persona.embedding.requested.v1",
                          "data": {"persona_id": "p-1", "texts": ["hi"]}}]},
        headers={"Authorization": good},
    )  # fmt: skip
    assert batch.status_code == 207 and batch.json()["entries"][0]["status"] == 403

    captured = capfd.readouterr()
    logs = captured.out + captured.err + caplog.text
    tokens = [value.removeprefix("Bearer ") for value, _ in REFUSED.values() if value]
    leaks = [
        secret
        for secret in (SECRET, OTHER_SECRET, good.removeprefix("Bearer "), *tokens)
        if secret in logs
    ]
    print(f"[fault:auth] refused={refused} accepted=1 log_chars={len(logs)} leaks={len(leaks)}")
    assert "event accepted" in logs, "the logs were not captured, so the check would prove nothing"
    assert not leaks, "a secret or token appeared in the logs"
