"""Settings shared by both services, one class per concern, read from the environment.

Every variable is listed in docs/configuration.md; services read them once through cached getters.
"""

from __future__ import annotations

from functools import cache
from typing import Literal

from pydantic import Field

from dpp_shared.env_settings import EnvSettings, EnvSettingsConfigDict

SecurityMode = Literal["plaintext", "msk-iam"]


class KafkaSettings(EnvSettings):
    """How to reach Kafka: the sandbox (plaintext) or Amazon MSK with IAM auth."""

    model_config = EnvSettingsConfigDict(env_prefix="KAFKA_", extra="ignore")

    bootstrap_servers: str = Field(default="127.0.0.1:9092", description="host:port[,host:port]")
    security_mode: SecurityMode = Field(default="plaintext", description="plaintext or msk-iam")
    client_id: str = Field(default="dpp-events", description="Kafka client.id prefix")
    delivery_timeout_ms: int = Field(
        default=30_000, ge=1_000, description="Upper bound on a produce, retries included"
    )
    linger_ms: float = Field(default=2.0, ge=0, description="Producer batching delay")
    compression_type: Literal["none", "lz4", "zstd", "snappy", "gzip"] = Field(
        default="lz4", description="Producer batch compression"
    )
    ssl_ca_location: str | None = Field(
        default=None,
        description="CA bundle for TLS (msk-iam); `probe` searches the usual system paths",
    )


class AwsSettings(EnvSettings):
    """AWS region, used for MSK IAM tokens, Secrets Manager and CloudWatch metrics."""

    model_config = EnvSettingsConfigDict(extra="ignore")

    aws_region: str = Field(
        default="us-east-1", description="Region for MSK IAM token signing, Secrets Manager"
    )


class TopicSettings(EnvSettings):
    """Topic naming: a prefix isolates test runs and shared clusters."""

    model_config = EnvSettingsConfigDict(env_prefix="DPP_", extra="ignore")

    topic_prefix: str = Field(default="", description="Prefix prepended to every topic name")


class DatabaseSettings(EnvSettings):
    """Where job records and idempotency answers live."""

    model_config = EnvSettingsConfigDict(extra="ignore")

    database_url: str = Field(
        default="sqlite:///.dpp/jobs.db",
        description="SQLAlchemy URL: SQLite file (embedded default) or postgresql+psycopg://...",
    )


@cache
def kafka_settings() -> KafkaSettings:
    return KafkaSettings()


@cache
def aws_settings() -> AwsSettings:
    return AwsSettings()


@cache
def topic_settings() -> TopicSettings:
    return TopicSettings()


@cache
def database_settings() -> DatabaseSettings:
    return DatabaseSettings()
