"""Settings guard rails, the JWT secret's source and caching, and token scopes."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from dpp_producer import jwt_secret as jwt_secret_module
from dpp_producer.auth import authenticate, mint_token
from dpp_producer.errors import AuthenticationError, ScopeError
from dpp_producer.settings import SANDBOX_JWT_SECRET, ProducerSettings
from dpp_shared.errors import ConfigurationError

STRONG = "s3cr3t-" + "x" * 40


@pytest.mark.parametrize("secret", ["changeme", "short-secret", "secret"])
def test_placeholder_or_short_secret_is_refused_outside_local_environments(secret: str) -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        ProducerSettings.model_validate(
            {"DPP_ENV": "prod", "JWT_SECRET": secret, "DATABASE_URL": "postgresql://db/dpp"}
        )
    local = ProducerSettings.model_validate({"DPP_ENV": "sandbox", "JWT_SECRET": secret})
    assert jwt_secret_module.jwt_secret(local) == secret


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DPP_ENV", "prod")
    monkeypatch.setenv("JWT_SECRET", STRONG)
    monkeypatch.setenv("CORS_ORIGIN", "https://a.example, https://b.example")
    monkeypatch.setenv("DPP_PRODUCER_ACK_TIMEOUT_S", "2.5")
    monkeypatch.setenv("DPP_PRODUCER_MAX_BATCH", "100")
    monkeypatch.setenv("DPP_PRODUCER_MAX_BODY_BYTES", "65536")
    monkeypatch.setenv("DPP_PRODUCER_QUEUE_LIMIT", "1000")
    monkeypatch.setenv("DPP_IDEMPOTENCY_TTL_S", "60")
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/dpp")
    settings = ProducerSettings()
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert (settings.ack_timeout_s, settings.max_batch, settings.max_body_bytes) == (
        2.5,
        100,
        65536,
    )
    assert (settings.queue_limit, settings.idempotency_ttl_s) == (1000, 60)
    assert settings.database_url == "postgresql://db/dpp"
    assert jwt_secret_module.jwt_secret(settings) == STRONG
    assert STRONG not in repr(settings)


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_a_deployed_environment_without_a_secret_fails_at_start_up(env: str) -> None:
    """`dev` is the AWS environment of the deploy guide, not a local one (issue 13, defect 2)."""
    database = {"DATABASE_URL": "postgresql://dpp@db.example:5432/dpp"}
    with pytest.raises(ValidationError, match=f"DPP_ENV={env} is a deployed .*JWT_SECRET_ARN"):
        ProducerSettings.model_validate({"DPP_ENV": env, **database})
    with pytest.raises(ValidationError, match="placeholder or shorter"):
        ProducerSettings.model_validate({"DPP_ENV": env, "JWT_SECRET": "dev-secret", **database})
    with pytest.raises(ValidationError, match=f"DPP_ENV={env} is a deployed .*DATABASE_URL"):
        ProducerSettings.model_validate({"DPP_ENV": env, "JWT_SECRET": STRONG})
    deployed = ProducerSettings.model_validate({"DPP_ENV": env, "JWT_SECRET": STRONG, **database})
    assert not deployed.is_local
    assert jwt_secret_module.jwt_secret(deployed) == STRONG


def test_a_deployed_environment_may_take_tokens_only_from_an_identity_provider() -> None:
    jwks = {
        "DPP_ENV": "dev",
        "DATABASE_URL": "postgresql://dpp@db.example:5432/dpp",
        "JWT_JWKS_URL": "https://idp.example/.well-known/jwks.json",
        "JWT_ISSUER": "https://idp.example",
        "JWT_AUDIENCE": "dpp-events",
    }
    with pytest.raises(ValidationError, match="DPP_EVENT_ID_SECRET"):
        ProducerSettings.model_validate(jwks)
    settings = ProducerSettings.model_validate({**jwks, "DPP_EVENT_ID_SECRET": STRONG})
    assert settings.jwt_secret is None and settings.jwt_secret_arn is None


@pytest.mark.parametrize("env", ["sandbox", "test"])
def test_only_sandbox_and_test_fall_back_to_the_public_sandbox_secret(env: str) -> None:
    local = ProducerSettings.model_validate({"DPP_ENV": env})
    assert local.is_local
    assert jwt_secret_module.jwt_secret(local) == SANDBOX_JWT_SECRET


def test_the_default_environment_is_the_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DPP_ENV", raising=False)
    monkeypatch.delenv("JWT_SECRET", raising=False)
    monkeypatch.delenv("JWT_SECRET_ARN", raising=False)
    assert ProducerSettings().env == "sandbox"


def test_settings_built_around_validation_still_refuse_the_sandbox_secret() -> None:
    """`jwt_secret` keeps its own check for settings made without validation."""
    settings = ProducerSettings.model_construct(env="dev", jwt_secret=None, jwt_secret_arn=None)
    with pytest.raises(ConfigurationError, match="JWT_SECRET_ARN"):
        jwt_secret_module.jwt_secret(settings)


class _SecretsManager:
    """Answers GetSecretValue like Secrets Manager; counts the calls."""

    def __init__(self, secret_string: str) -> None:
        self.secret_string = secret_string
        self.calls = 0

    def get_secret_value(self, SecretId: str) -> dict[str, Any]:  # noqa: N803 - boto3's name
        self.calls += 1
        return {"ARN": SecretId, "SecretString": self.secret_string}


@pytest.mark.parametrize("stored", [STRONG, '{"jwt_secret": "' + STRONG + '"}'])
def test_secret_from_secrets_manager_is_read_once(
    monkeypatch: pytest.MonkeyPatch, stored: str
) -> None:
    import boto3  # type: ignore[import-untyped]

    service = _SecretsManager(stored)
    monkeypatch.setattr(boto3, "client", lambda name, **_: service)
    monkeypatch.setattr(jwt_secret_module, "_cache", {})
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:dpp/jwt-AbCdEf"
    settings = ProducerSettings.model_validate(
        {"DPP_ENV": "prod", "JWT_SECRET_ARN": arn, "DATABASE_URL": "postgresql://db/dpp"}
    )
    assert jwt_secret_module.jwt_secret(settings) == STRONG
    assert jwt_secret_module.jwt_secret(settings) == STRONG
    assert service.calls == 1


def test_token_claims_and_scopes() -> None:
    token = mint_token(STRONG, subject="svc-a", scope="events:demo events:persona.embedding")
    principal = authenticate(f"Bearer {token}", STRONG)
    assert principal.subject == "svc-a"
    assert principal.may_publish("events:demo")
    assert not principal.may_publish("events:persona.batch")
    with pytest.raises(ScopeError):
        principal.require("events:persona.batch", "persona.index.rebuild.requested.v1")
    everything = authenticate(f"Bearer {mint_token(STRONG, subject='x', scope='events:*')}", STRONG)
    assert everything.may_publish("events:persona.batch")


def test_tokens_without_exp_or_with_another_algorithm_are_refused() -> None:
    import jwt

    no_exp = jwt.encode({"sub": "a", "scope": "events:*"}, STRONG, algorithm="HS256")
    with pytest.raises(AuthenticationError, match="exp"):
        authenticate(f"Bearer {no_exp}", STRONG)
    unsigned = jwt.encode({"sub": "a", "scope": "events:*", "exp": 2**40}, "", algorithm="none")
    with pytest.raises(AuthenticationError):
        authenticate(f"Bearer {unsigned}", STRONG)
    with pytest.raises(AuthenticationError):
        authenticate(f"Basic {no_exp}", STRONG)
