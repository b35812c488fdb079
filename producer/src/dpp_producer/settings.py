"""Settings of the producer API, read once from the environment through `producer_settings()`."""

from __future__ import annotations

from functools import cache
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Environment = Literal["sandbox", "dev", "test", "staging", "prod"]
# Environments where a weak, well-known JWT secret is tolerated (local demos and tests).
_LOCAL_ENVIRONMENTS = frozenset({"sandbox", "dev", "test"})
MIN_SECRET_LENGTH = 32
_PLACEHOLDER_SECRETS = frozenset({"changeme", "changethis", "secret", "dev-secret", "sandbox"})
# Public on purpose: used only when DPP_ENV is local and no secret is configured.
SANDBOX_JWT_SECRET = "dpp-sandbox-jwt-secret-not-for-production-use"  # noqa: S105


class ProducerSettings(BaseSettings):
    """Everything the producer API can be told; every name is listed in docs/producer.md."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    env: Environment = Field(
        default="sandbox", alias="DPP_ENV", description="Deployment environment"
    )
    jwt_secret_arn: str | None = Field(
        default=None, alias="JWT_SECRET_ARN", description="Secrets Manager ARN of the HS256 secret"
    )
    jwt_secret: SecretStr | None = Field(
        default=None, alias="JWT_SECRET", description="HS256 secret given directly (sandbox only)"
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

    @model_validator(mode="after")
    def _check_identity_provider(self) -> ProducerSettings:
        if self.jwt_jwks_url is None or self.is_local:
            return self
        if self.jwt_issuer is None or self.jwt_audience is None:
            raise ValueError(
                "JWT_JWKS_URL needs JWT_ISSUER and JWT_AUDIENCE outside DPP_ENV=sandbox/dev/test: "
                "any token the issuer signs for any client would be accepted otherwise"
            )
        return self

    @property
    def jwks_algorithms(self) -> tuple[str, ...]:
        return tuple(name.strip() for name in self.jwt_jwks_algorithms.split(",") if name.strip())

    @model_validator(mode="after")
    def _check_secret(self) -> ProducerSettings:
        if self.jwt_secret is None:
            return self
        secret = self.jwt_secret.get_secret_value()
        weak = len(secret) < MIN_SECRET_LENGTH or secret.lower() in _PLACEHOLDER_SECRETS
        if weak and self.env not in _LOCAL_ENVIRONMENTS:
            raise ValueError(
                f"JWT_SECRET is a placeholder or shorter than {MIN_SECRET_LENGTH} characters; "
                "outside DPP_ENV=sandbox/dev/test use JWT_SECRET_ARN or a strong secret"
            )
        return self

    @property
    def cors_origins(self) -> list[str]:
        return [origin.strip() for origin in (self.cors_origin or "").split(",") if origin.strip()]

    @property
    def is_local(self) -> bool:
        return self.env in _LOCAL_ENVIRONMENTS


@cache
def producer_settings() -> ProducerSettings:
    return ProducerSettings()
