"""The objects one producer app shares across requests: settings, publisher, metrics, stores."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dpp_producer.admission import FastAdmission
from dpp_producer.auth import VerifiedTokens
from dpp_producer.event_ids import EventIds, derive_key
from dpp_producer.idempotency import IdempotencyGuard
from dpp_producer.jwks import IdentityProvider, JwksFetchError, JwksKeys
from dpp_producer.jwt_secret import jwt_secret
from dpp_producer.log import logger
from dpp_producer.metrics import ProducerMetrics
from dpp_producer.publisher import EventPublisher
from dpp_producer.rate_limit import RateLimiter, build_rate_limiter
from dpp_producer.settings import ProducerSettings
from dpp_shared.errors import ConfigurationError
from dpp_shared.events import REGISTRY
from dpp_shared.kafka_config import producer_config
from dpp_shared.settings import AwsSettings, KafkaSettings, TopicSettings
from dpp_shared.topics import TopicNamespace
from dpp_shared.tracing import Tracing, build_tracing
from dpp_store.database_secret import resolve_database_url

if TYPE_CHECKING:
    from dpp_store import IdempotencyStore, JobStore, RateLimitStore

PRODUCER_SERVICE_NAME = "dpp-producer"


@dataclass
class ProducerRuntime:
    """Built once per app by `create_app`; nothing here connects until first used."""

    settings: ProducerSettings
    kafka: KafkaSettings
    aws: AwsSettings
    namespace: TopicNamespace
    publisher: EventPublisher
    metrics: ProducerMetrics
    idempotency: IdempotencyGuard
    verified_tokens: VerifiedTokens = field(default_factory=VerifiedTokens)
    identity_provider: IdentityProvider | None = None
    rate_limiter: RateLimiter | None = None
    tracing: Tracing | None = None
    """The producer's OpenTelemetry tracer (DPP_TRACING=otlp), None when off."""
    _event_ids: EventIds | None = None
    _rate_limit_store: RateLimitStore | None = None
    _job_store: JobStore | None = None
    _job_store_lock: threading.Lock = field(default_factory=threading.Lock)
    _fast_admission: FastAdmission | None = None

    @classmethod
    def build(
        cls,
        settings: ProducerSettings,
        kafka: KafkaSettings,
        aws: AwsSettings,
        topics: TopicSettings,
    ) -> ProducerRuntime:
        metrics = ProducerMetrics()
        publisher = EventPublisher(
            producer_config(kafka, aws, role="producer-api"),
            ack_timeout_s=settings.ack_timeout_s,
            retry_after_s=settings.retry_after_s,
            queue_limit=settings.queue_limit,
            on_error=metrics.produce_error,
        )
        metrics.watch_queue(publisher.queue_depth)

        def idempotency_store() -> IdempotencyStore:
            from dpp_store import IdempotencyStore  # noqa: PLC0415 - SQLAlchemy is heavy

            url = resolve_database_url(settings.database_url, settings.database_secret_arn)
            return IdempotencyStore.from_url(url)

        runtime = cls(
            settings=settings,
            kafka=kafka,
            aws=aws,
            namespace=TopicNamespace(topics.topic_prefix),
            publisher=publisher,
            metrics=metrics,
            idempotency=IdempotencyGuard(idempotency_store, settings.idempotency_ttl_s),
            identity_provider=_identity_provider(settings),
            tracing=build_tracing(settings.tracing, PRODUCER_SERVICE_NAME),
        )
        runtime.rate_limiter = build_rate_limiter(
            settings.rate_limits,
            settings.rate_limit_backend,
            settings.rate_limit_processes,
            runtime.rate_limit_store,
        )
        return runtime

    def fast_admission(self) -> FastAdmission:
        """The whole-body validators of the registered types, built on first use (a few ms:
        not at import, so a Lambda cold start pays for it only when a request needs it)."""
        if self._fast_admission is None:
            self._fast_admission = FastAdmission(REGISTRY, self.namespace)
        return self._fast_admission

    def jwt_secret(self) -> str:
        return jwt_secret(self.settings)

    def hs256_secret(self) -> str | None:
        """The HS256 secret, or None when only the identity provider's tokens are accepted
        (JWT_JWKS_URL set, no JWT_SECRET or JWT_SECRET_ARN, outside sandbox/test, where
        the public sandbox secret would otherwise apply)."""
        settings = self.settings
        configured = bool(settings.jwt_secret_arn) or settings.jwt_secret is not None
        if self.identity_provider is not None and not configured and not settings.is_local:
            return None
        return self.jwt_secret()

    def event_ids(self) -> EventIds:
        """Issues and recognises event ids: keyed by DPP_EVENT_ID_SECRET, else by a key derived
        from the HS256 secret, so every process and Lambda container agrees."""
        if self._event_ids is None:
            explicit = self.settings.event_id_secret
            secret = explicit.get_secret_value() if explicit is not None else self.hs256_secret()
            if secret is None:
                raise ConfigurationError(
                    "DPP_EVENT_ID_SECRET is needed when tokens come only from JWT_JWKS_URL"
                )
            self._event_ids = EventIds(derive_key(secret))
        return self._event_ids

    def prepare_security(self) -> None:
        """At startup: fail now if the event id key cannot be made, and fetch the identity
        provider's keys (best effort: an issuer outage must not keep the API down; the first
        token then fetches them, rate-limited)."""
        self.event_ids()
        if self.identity_provider is not None:
            try:
                self.identity_provider.keys.prefetch()
            except JwksFetchError as error:
                logger().warning("identity provider keys not fetched", extra={"error": str(error)})

    def database_url(self) -> str:
        """DATABASE_URL with the credentials of DATABASE_SECRET_ARN, when one is named."""
        return resolve_database_url(self.settings.database_url, self.settings.database_secret_arn)

    def rate_limit_store(self) -> RateLimitStore:
        """The shared token buckets (DPP_RATE_LIMIT_BACKEND=database), opened on first use."""
        with self._job_store_lock:
            if self._rate_limit_store is None:
                from dpp_store import RateLimitStore  # noqa: PLC0415 - SQLAlchemy is heavy

                store = RateLimitStore.from_url(self.database_url())
                store.migrate()
                self._rate_limit_store = store
            return self._rate_limit_store

    def job_store(self) -> JobStore:
        """The consumer's job store, opened (and migrated, which is idempotent) on first use."""
        with self._job_store_lock:
            if self._job_store is None:
                from dpp_store import JobStore  # noqa: PLC0415 - SQLAlchemy is heavy

                store = JobStore.from_url(self.database_url())
                store.migrate()
                self._job_store = store
            return self._job_store


def _identity_provider(settings: ProducerSettings) -> IdentityProvider | None:
    if settings.jwt_jwks_url is None:
        return None
    keys = JwksKeys(
        settings.jwt_jwks_url,
        timeout_s=settings.jwt_jwks_timeout_s,
        cache_s=settings.jwt_jwks_cache_s,
        min_refetch_s=settings.jwt_jwks_min_refetch_s,
    )
    return IdentityProvider(
        keys, settings.jwt_issuer, settings.jwt_audience, settings.jwks_algorithms
    )
