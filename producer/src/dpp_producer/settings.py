"""Settings of the producer API, read once from the environment through `producer_settings()`."""

from __future__ import annotations

from functools import cache
from typing import Literal

from pydantic import Field, SecretStr, model_validator

from dpp_shared.env_settings import EnvSettings, EnvSettingsConfigDict

Environment = Literal["sandbox", "dev", "test", "staging", "prod"]
# The only environments that run on a developer's machine or in CI, where the public sandbox
# secret and weak secrets are tolerated. Every other one is deployed (the AWS environment of the
# deploy guide is literally named `dev`), so it must bring its own strong secret.
LOCAL_ENVIRONMENTS = frozenset({"sandbox", "test"})
MIN_SECRET_LENGTH = 32
_PLACEHOLDER_SECRETS = frozenset({"changeme", "changethis", "secret", "dev-secret", "sandbox"})
# Public on purpose: used only when DPP_ENV is local and no secret is configured.
SANDBOX_JWT_SECRET = "dpp-sandbox-jwt-secret-not-for-production-use"  # noqa: S105


class ProducerSettings(EnvSettings):
    """Everything the producer API can be told; every name is listed in docs/producer.md."""

    model_config = EnvSettingsConfigDict(extra="ignore", populate_by_name=True)

    env: Environment = Field(
        default="sandbox", alias="DPP_ENV", description="Deployment environment"
    )
    jwt_secret_arn: str | None = Field(
        default=None, alias="JWT_SECRET_ARN", description="Secrets Manager ARN of the HS256 secret"
    )
    jwt_secret: SecretStr | None = Field(
        default=None,
        alias="JWT_SECRET",
        description="HS256 secret given directly (at least 32 characters outside sandbox/test)",
    )
    jwt_audience: str | None = Field(default=None, alias="JWT_AUDIENCE")
    cors_origin: str | None = Field(
        default=None, alias="CORS_ORIGIN", description="Comma-separated allowed browser origins"
    )
    ack_timeout_s: float = Field(
        default=5.0,
        gt=0,
        le=120,
        alias="DPP_PRODUCER_ACK_TIMEOUT_S",
        description="Longest wait for the broker's acknowledgement before answering 503",
    )
    retry_after_s: int = Field(default=5, ge=1, alias="DPP_PRODUCER_RETRY_AFTER_S")
    max_batch: int = Field(default=500, ge=1, le=10_000, alias="DPP_PRODUCER_MAX_BATCH")
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, alias="DPP_PRODUCER_MAX_BODY_BYTES")
    queue_limit: int = Field(
        default=100_000,
        ge=1,
        alias="DPP_PRODUCER_QUEUE_LIMIT",
        description="Records the local produce queue may hold before requests get 429",
    )
    idempotency_ttl_s: float = Field(default=24 * 3600, gt=0, alias="DPP_IDEMPOTENCY_TTL_S")
    readiness_cache_s: float = Field(default=2.0, ge=0, alias="DPP_PRODUCER_READINESS_CACHE_S")
    readiness_timeout_s: float = Field(default=1.0, gt=0, alias="DPP_PRODUCER_READINESS_TIMEOUT_S")
    database_url: str = Field(default="sqlite:///.dpp/jobs.db", alias="DATABASE_URL")
    database_secret_arn: str | None = Field(
        default=None,
        alias="DATABASE_SECRET_ARN",
        description="Secrets Manager ARN of the database credentials (fills DATABASE_URL's user)",
    )
    event_source: str = Field(default="urn:dpp:producer-api", alias="DPP_PRODUCER_SOURCE")

    # -- identity-provider tokens, event ids, per-client limits (dpp_producer.jwks,
    #    dpp_producer.event_ids, dpp_producer.rate_limit) --------------------------------------
    jwt_jwks_url: str | None = Field(
        default=None, alias="JWT_JWKS_URL", description="JWKS URL of an OIDC issuer (RS256/ES256)"
    )
    jwt_issuer: str | None = Field(default=None, alias="JWT_ISSUER")
    jwt_jwks_algorithms: str = Field(default="RS256,ES256", alias="JWT_JWKS_ALGORITHMS")
    jwt_jwks_timeout_s: float = Field(default=2.0, gt=0, le=30, alias="JWT_JWKS_TIMEOUT_S")
    jwt_jwks_cache_s: float = Field(default=3600.0, ge=0, alias="JWT_JWKS_CACHE_S")
    jwt_jwks_min_refetch_s: float = Field(default=30.0, ge=0, alias="JWT_JWKS_MIN_REFETCH_S")
    event_id_secret: SecretStr | None = Field(default=None, alias="DPP_EVENT_ID_SECRET")
    rate_limits: str = Field(default="", alias="DPP_RATE_LIMITS")
    rate_limit_backend: Literal["memory", "database"] = Field(
        default="memory", alias="DPP_RATE_LIMIT_BACKEND"
    )
    rate_limit_processes: int = Field(default=1, ge=1, alias="DPP_RATE_LIMIT_PROCESSES")

    # -- tracing (dpp_shared.tracing; OTEL_* variables are read by the OpenTelemetry SDK) ------
    tracing: Literal["off", "otlp"] = Field(
        default="off",
        alias="DPP_TRACING",
        description="OpenTelemetry spans exported over OTLP/HTTP (otlp), or none (off)",
    )

    @model_validator(mode="after")
    def _check_identity_provider(self) -> ProducerSettings:
        if self.jwt_jwks_url is None or self.is_local:
            return self
        if self.jwt_issuer is None or self.jwt_audience is None:
            raise ValueError(
                "JWT_JWKS_URL needs JWT_ISSUER and JWT_AUDIENCE outside DPP_ENV=sandbox/test: "
                "any token the issuer signs for any client would be accepted otherwise"
            )
        return self

    @property
    def jwks_algorithms(self) -> tuple[str, ...]:
        return tuple(name.strip() for name in self.jwt_jwks_algorithms.split(",") if name.strip())

    @model_validator(mode="after")
    def _check_secret(self) -> ProducerSettings:
        if self.is_local:
            return self
        if self.jwt_secret is None:
            if self.jwt_secret_arn:
                return self
            if self.jwt_jwks_url is not None:
                # Identity-provider tokens only: the event ids still need a key of their own.
                if self.event_id_secret is None:
                    raise ValueError(
                        f"DPP_ENV={self.env} with tokens only from JWT_JWKS_URL needs "
                        "DPP_EVENT_ID_SECRET (or JWT_SECRET_ARN)"
                    )
                return self
            # Fail at start-up: without this a deployed producer would fall back to nothing
            # (or, before, to the public sandbox secret) and refuse or accept every token.
            raise ValueError(
                f"DPP_ENV={self.env} is a deployed environment: set JWT_SECRET_ARN (or a "
                f"JWT_SECRET of at least {MIN_SECRET_LENGTH} characters, or JWT_JWKS_URL with "
                "DPP_EVENT_ID_SECRET); only DPP_ENV=sandbox/test use the public sandbox secret"
            )
        secret = self.jwt_secret.get_secret_value()
        if len(secret) < MIN_SECRET_LENGTH or secret.lower() in _PLACEHOLDER_SECRETS:
            raise ValueError(
                f"JWT_SECRET is a placeholder or shorter than {MIN_SECRET_LENGTH} characters; "
                "outside DPP_ENV=sandbox/test use JWT_SECRET_ARN or a strong secret"
            )
        return self

    @model_validator(mode="after")
    def _check_database(self) -> ProducerSettings:
        if self.is_local or "database_url" in self.model_fields_set:
            return self
        # The default is an SQLite file relative to the working directory: on Lambda that is
        # the read-only /var/task, and every request with an Idempotency-Key would fail there.
        raise ValueError(
            f"DPP_ENV={self.env} is a deployed environment: set DATABASE_URL (with "
            "DATABASE_SECRET_ARN for the credentials); only DPP_ENV=sandbox/test default to "
            "a local SQLite file"
        )

    @property
    def cors_origins(self) -> list[str]:
        return [origin.strip() for origin in (self.cors_origin or "").split(",") if origin.strip()]

    @property
    def is_local(self) -> bool:
        return self.env in LOCAL_ENVIRONMENTS


@cache
def producer_settings() -> ProducerSettings:
    return ProducerSettings()
