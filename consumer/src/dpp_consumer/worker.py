"""The poll loop: consume, hand records to the executor, publish outcomes, commit durable offsets,
handle rebalances and drain on stop."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from aws_lambda_powertools import Logger
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from dpp_consumer.bookkeeping import JobBook
from dpp_consumer.dispatch import dpp_headers
from dpp_consumer.executor import Executor, JobPool
from dpp_consumer.heartbeat import Heartbeat, RunningJobs
from dpp_consumer.jobs.registry import JobRegistry, JobSpec
from dpp_consumer.log import worker_logger
from dpp_consumer.metrics import WorkerMetrics
from dpp_consumer.offsets import OffsetTracker, PartitionKey
from dpp_consumer.outcomes import OutcomeRecords
from dpp_consumer.pauses import PauseFollower, WorkerPauses, job_type_topics
from dpp_consumer.publisher import OutcomePublisher
from dpp_consumer.records import ConsumedRecord
from dpp_consumer.retry import Delivery, Failure, RetryPolicy
from dpp_consumer.runner import JobRunner
from dpp_consumer.settings import WorkerSettings
from dpp_consumer.units import Outcome, Unit
from dpp_shared.control import CONTROL_TOPIC
from dpp_shared.kafka_config import consumer_config, producer_config
from dpp_shared.settings import AwsSettings, KafkaSettings
from dpp_shared.topics import TopicNamespace
from dpp_shared.tracing import Tracing

POLL_TIMEOUT_S = 0.05


@dataclass
class WorkerStats:
    """Counts a test or an operator can read: how often the group changed under this worker."""

    assignments: int = 0
    revocations: int = 0
    losses: int = 0
    commits: int = 0
    commit_checks: int = 0


class Worker:
    """One consumer-group member running jobs with at-least-once, no-duplicate-result semantics.

    Threads: the caller's thread runs the poll loop (consume, produce, commit, rebalance
    callbacks); `concurrency` pool threads run jobs. `stop()` may be called from any thread or
    a signal handler and starts the drain.
    """

    def __init__(
        self,
        *,
        settings: WorkerSettings,
        kafka: KafkaSettings,
        aws: AwsSettings,
        namespace: TopicNamespace,
        store: JobBook,
        registry: JobRegistry,
        metrics: WorkerMetrics | None = None,
        logger: Logger | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        self.settings = settings
        self.kafka = kafka
        self.aws = aws
        self.namespace = namespace
        self.store = store
        self.registry = registry.select(settings.job_types)
        self.metrics = metrics or WorkerMetrics()
        self.logger = logger or worker_logger()
        self.stats = WorkerStats()
        self.tracing = tracing
        self.retry = RetryPolicy(
            namespace, max_attempts=settings.max_attempts, delays_s=settings.retry_delays_s
        )
        self._outcome_records = OutcomeRecords(self.retry, namespace)
        self._stop = threading.Event()
        self._closing = threading.Event()
        self._offsets = OffsetTracker()
        self._consumer: Consumer | None = None
        self._publisher: OutcomePublisher | None = None
        self._executor: Executor | None = None
        self._pauses: WorkerPauses | None = None
        self.heartbeat: Heartbeat | None = None

    # -- what it consumes --------------------------------------------------------------------

    @property
    def job_topics(self) -> list[str]:
        """Physical topics of the registered jobs, without their retry tiers."""
        return sorted({self.namespace.physical(spec.event_type.topic) for spec in self.registry})

    @property
    def retry_topics(self) -> list[str]:
        topics = {spec.event_type.topic for spec in self.registry}
        return sorted(name for topic in topics for name in self.retry.retry_topics(topic))

    @property
    def topics(self) -> list[str]:
        return self.job_topics + self.retry_topics

    def _topic_specs(self) -> dict[str, JobSpec]:
        """Physical topic (and its retry tiers) -> the one job it carries, where it is one."""
        found: dict[str, list[JobSpec]] = {}
        for spec in self.registry:
            topic = spec.event_type.topic
            for name in [self.namespace.physical(topic), *self.retry.retry_topics(topic)]:
                found.setdefault(name, []).append(spec)
        return {name: specs[0] for name, specs in found.items() if len(specs) == 1}

    # -- control -----------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the worker to drain and exit; safe from signal handlers and other threads."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def paused_job_types(self) -> frozenset[str]:
        """Job types of this worker an operator paused, as this worker has applied them."""
        return frozenset() if self._pauses is None else self._pauses.paused_job_types

    def run(self, *, ready: Callable[[], None] | None = None) -> None:
        """Consume until `stop()`, then drain and close. `ready` is called once subscribed."""
        runner = JobRunner(
            registry=self.registry,
            store=self.store,
            outcome_records=self._outcome_records,
            metrics=self.metrics,
            logger=self.logger,
            is_closing=self._closing.is_set,
            tracing=self.tracing,
        )
        running = RunningJobs()
        pool = JobPool(
            self.settings.worker_concurrency,
            running.tracking(runner.run),  # jobs on job threads beat; inline fast ones finish
            self._crashed_unit,
            runner.run_inline,
        )
        self.heartbeat = Heartbeat(
            running, self.store, self.settings.heartbeat_interval_s, self.logger
        )
        self._executor = Executor(
            pool=pool,
            registry=self.registry,
            batch_size=self.settings.batch_size,
            partition_buffer=self.settings.partition_buffer,
            delayed_topics=self.retry_topics,
            tracked=self._offsets.unfinished,
            topic_specs=self._topic_specs(),
            inline_fast_jobs=True,
        )
        config = consumer_config(
            self.kafka, self.aws, self.settings.consumer_group, role="worker"
        ) | {
            "max.poll.interval.ms": self.settings.max_poll_interval_ms,
            "session.timeout.ms": self.settings.session_timeout_ms,
            "heartbeat.interval.ms": max(self.settings.session_timeout_ms // 10, 100),
        }
        self._consumer = Consumer(config)
        try:
            self._pauses = self._follow_pauses()
            self._publisher = OutcomePublisher(
                producer_config(self.kafka, self.aws, role="worker-producer"),
                self._consumer,
                self.logger,
                self.settings.consumer_group,
            )
            self._consumer.subscribe(
                self.topics,
                on_assign=self._on_assign,
                on_revoke=self._on_revoke,
                on_lost=self._on_lost,
            )
            self.logger.info(
                "worker subscribed",
                extra={"group": self.settings.consumer_group, "topics": self.topics},
            )
            if ready is not None:
                ready()
            self.heartbeat.start()
            self._loop()
            self._drain()
        finally:
            self._closing.set()
            self.heartbeat.stop()
            pool.shutdown()
            self._close()

    def _follow_pauses(self) -> WorkerPauses:
        """The operators' switches, read to the end before the first assignment: a worker
        (re)started while its job type is paused must not start one of its jobs."""
        group = self.settings.consumer_group
        follower = PauseFollower(
            consumer_config(self.kafka, self.aws, group, role="worker-control"),
            self.namespace.physical(CONTROL_TOPIC),
            group=group,
        )
        topics = job_type_topics(self.registry, self.namespace, len(self.retry.delays_s))
        pauses = WorkerPauses(follower, topics, self.logger)
        pauses.start()
        return pauses

    # -- the loop ----------------------------------------------------------------------------

    def _loop(self) -> None:
        assert self._consumer is not None and self._executor is not None
        consumer, executor = self._consumer, self._executor
        commit_interval_s = self.settings.commit_interval_ms / 1000
        next_commit = time.monotonic() + commit_interval_s
        while not self._stop.is_set():
            self._accept(consumer.consume(self.settings.batch_size, POLL_TIMEOUT_S))
            self._apply_pauses()
            self._settle()
            executor.dispatch()
            self._apply_flow()
            if time.monotonic() >= next_commit:
                self._commit()
                next_commit = time.monotonic() + commit_interval_s

    def _accept(self, messages: list[Message]) -> None:
        assert self._executor is not None
        add, track = self._executor.add, self._offsets.track
        for message in messages:
            error = message.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    self.logger.warning("consume error", extra={"error": str(error)})
                continue
            record = ConsumedRecord.of(message)
            if add(record):
                track(record.topic, record.partition, record.offset)

    def _settle(self, wait_s: float = 0.0) -> None:
        """Take in finished units: their outcomes are durable in the job store, so their offsets
        finish now; their records wait in the publisher for the commit transaction."""
        assert self._executor is not None and self._publisher is not None
        for unit, outcomes in self._executor.collect(wait_s):
            offsets = self._offsets.of(unit.topic, unit.partition)
            if offsets is None:
                continue  # no longer ours: the next owner redoes and announces these records
            # A unit's records are all of its partition: its offsets move once per unit.
            finished = [outcome for outcome in outcomes if outcome.finished]
            offsets.finish_all([outcome.offset for outcome in finished])
            self._publisher.add_all((unit.topic, unit.partition), finished)

    def _apply_pauses(self) -> None:
        """Take in new switches (non-blocking) and hold or release the partitions of the job
        types whose state changed, before anything of theirs is dispatched this turn; the
        consumer pauses or resumes them in :meth:`_apply_flow`, with the flow control."""
        assert self._pauses is not None and self._executor is not None
        if self._pauses.poll():
            self._executor.hold(self._pauses.held)

    def _apply_flow(self) -> None:
        assert self._consumer is not None and self._executor is not None
        to_pause, to_resume = self._executor.flow_changes()
        if to_pause:
            self._consumer.pause([TopicPartition(t, p) for t, p in to_pause])
        if to_resume:
            self._consumer.resume([TopicPartition(t, p) for t, p in to_resume])

    def _commit(self, keys: list[PartitionKey] | None = None) -> None:
        """Publish finished outcomes and commit their offsets (contiguous per partition)."""
        assert self._publisher is not None
        self.stats.commit_checks += 1
        self._publisher.poll()  # serve the producer's error callbacks; deliveries need none
        positions = self._offsets.committable(keys)
        if positions and self._publisher.commit(positions):
            self._offsets.confirm(positions)
            self.stats.commits += 1

    # -- rebalances --------------------------------------------------------------------------

    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        assert self._executor is not None
        self.stats.assignments += 1
        self.metrics.rebalances.labels("assign").inc()
        keys = [(tp.topic, tp.partition) for tp in partitions]
        self._executor.assign(keys)
        # New partitions of a paused job type are held before anything of theirs can start;
        # the next `_apply_flow` pauses them in the consumer (assignment starts them fetching).
        if self._pauses is not None:
            self._executor.hold(self._pauses.held)
        held = [key for key in keys if self._pauses is not None and key[0] in self._pauses.held]
        self.logger.info(
            "partitions assigned", extra={"partitions": _names(keys), "held": _names(held)}
        )

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        assert self._executor is not None
        self.stats.revocations += 1
        self.metrics.rebalances.labels("revoke").inc()
        keys = [(tp.topic, tp.partition) for tp in partitions]
        self._executor.revoke(keys, "partition revoked")
        # Running jobs were asked to stop; give those that finish anyway a moment, so their
        # offsets go with this commit rather than being redone by the next owner.
        grace = 0.0 if self._closing.is_set() else self.settings.revoke_grace_s
        deadline = time.monotonic() + grace
        while self._executor.in_flight_of(keys) and time.monotonic() < deadline:
            self._settle(wait_s=0.05)
        self._settle()
        self._commit(keys)
        self._forget(keys)
        self.logger.info("partitions revoked", extra={"partitions": _names(keys)})

    def _on_lost(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        assert self._executor is not None
        self.stats.losses += 1
        self.metrics.rebalances.labels("lost").inc()
        keys = [(tp.topic, tp.partition) for tp in partitions]
        # Another member may own these already: committing would be wrong, stopping is right.
        self._executor.revoke(keys, "partition lost")
        self._forget(keys)
        self.logger.warning("partitions lost", extra={"partitions": _names(keys)})

    def _forget(self, keys: list[PartitionKey]) -> None:
        assert self._executor is not None and self._publisher is not None
        self._offsets.forget(keys)
        self._executor.forget(keys)
        self._publisher.drop(keys)

    # -- drain and close ---------------------------------------------------------------------

    def _drain(self) -> None:
        """Stop fetching, let running jobs finish within the drain timeout, publish, commit."""
        assert self._consumer is not None and self._executor is not None
        executor = self._executor
        executor.stop_intake()
        self._apply_flow()
        deadline = time.monotonic() + self.settings.drain_timeout_s
        self.logger.info(
            "draining",
            extra={"in_flight": executor.in_flight, "timeout_s": self.settings.drain_timeout_s},
        )
        while executor.in_flight and time.monotonic() < deadline:
            # Polling keeps the membership alive (and serves rebalances) while jobs finish;
            # the partitions are paused, so whatever still arrives is left for redelivery.
            self._consumer.consume(self.settings.batch_size, POLL_TIMEOUT_S)
            self._settle(wait_s=0.01)
        if executor.in_flight:
            self.logger.warning(
                "drain deadline passed; leaving jobs for redelivery",
                extra={"in_flight": executor.in_flight},
            )
            executor.cancel_all("drain deadline passed")
        self._closing.set()
        self._settle()
        self._commit()
        self.logger.info("drained", extra={"commits": self.stats.commits})

    def _close(self) -> None:
        if self._consumer is not None:
            try:
                self._consumer.close()
            except (KafkaException, RuntimeError) as error:
                self.logger.warning("consumer close failed", extra={"error": str(error)})
        if self._publisher is not None:
            self._publisher.close()
        if self._pauses is not None:
            self._pauses.follower.close()

    def _crashed_unit(self, unit: Unit) -> list[Outcome]:
        """The runner itself failed, outside any job (called in the pool thread, inside the
        `except`). Closing: leave the unit for redelivery. Otherwise dead-letter its records,
        so one odd record can never stall its partition's commits."""
        if self._closing.is_set():
            return [Outcome.redeliver(record) for record in unit.records]
        error = sys.exc_info()[1] or RuntimeError("unit failed")
        self.logger.exception("unit failed outside any job; dead-lettering its records")
        failure = Failure(f"WorkerError.{type(error).__name__}", str(error), retriable=False)
        outcomes = []
        for consumed in unit.records:
            delivery = Delivery.of(
                consumed.topic, consumed.partition, consumed.offset, dpp_headers(consumed)
            )
            _route, dead_letter = self._outcome_records.forward(consumed, delivery, failure)
            outcomes.append(Outcome.done(consumed, dead_letter))
        return outcomes


def _names(keys: list[PartitionKey]) -> list[str]:
    return [f"{topic}[{partition}]" for topic, partition in keys]
