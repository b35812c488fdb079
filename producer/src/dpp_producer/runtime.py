"""The objects one producer app shares across requests: settings, publisher, metrics, stores."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dpp_producer.admission import FastAdmission
from dpp_producer.auth import VerifiedTokens
from dpp_producer.idempotency import IdempotencyGuard
from dpp_producer.jwt_secret import jwt_secret
from dpp_producer.metrics import ProducerMetrics
from dpp_producer.publisher import EventPublisher
from dpp_producer.settings import ProducerSettings
from dpp_shared.events import REGISTRY
from dpp_shared.kafka_config import producer_config
from dpp_shared.settings import AwsSettings, KafkaSettings, TopicSettings
from dpp_shared.topics import TopicNamespace

if TYPE_CHECKING:
    from dpp_store import IdempotencyStore, JobStore


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

            return IdempotencyStore.from_url(settings.database_url)

        return cls(
            settings=settings,
            kafka=kafka,
            aws=aws,
            namespace=TopicNamespace(topics.topic_prefix),
            publisher=publisher,
            metrics=metrics,
            idempotency=IdempotencyGuard(idempotency_store, settings.idempotency_ttl_s),
        )

    def fast_admission(self) -> FastAdmission:
        """The whole-body validators of the registered types, built on first use (a few ms:
        not at import, so a Lambda cold start pays for it only when a request needs it)."""
        if self._fast_admission is None:
            self._fast_admission = FastAdmission(REGISTRY, self.namespace)
        return self._fast_admission

    def jwt_secret(self) -> str:
        return jwt_secret(self.settings)

    def job_store(self) -> JobStore:
        """The consumer's job store, opened (and migrated, which is idempotent) on first use."""
        with self._job_store_lock:
            if self._job_store is None:
                from dpp_store import JobStore  # noqa: PLC0415 - SQLAlchemy is heavy

                store = JobStore.from_url(self.settings.database_url)
                store.migrate()
                self._job_store = store
            return self._job_store
