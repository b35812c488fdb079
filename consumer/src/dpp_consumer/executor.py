"""Runs jobs off the poll thread: a fixed pool of job threads, per-partition backlogs, and which
partitions to pause (busy, or waiting for a retry tier's delay) or resume."""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from dpp_consumer.jobs.registry import JobRegistry, JobSpec
from dpp_consumer.offsets import PartitionKey
from dpp_consumer.records import ConsumedRecord
from dpp_consumer.units import Outcome, Unit, UnitDeferredError
from dpp_shared import headers as hdr

RunUnit = Callable[[Unit], list[Outcome]]
Completion = tuple[Unit, list[Outcome]]


def not_before(record: ConsumedRecord) -> datetime | None:
    raw = record.header(hdr.NOT_BEFORE)
    if raw is None:
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        return None


class JobPool:
    """`concurrency` daemon threads running units. Daemon, so a job still running past the
    drain deadline never keeps the process alive: its record is simply redelivered."""

    def __init__(
        self,
        concurrency: int,
        run_unit: RunUnit,
        on_crash: RunUnit,
        run_inline: RunUnit | None = None,
    ) -> None:
        self.concurrency = concurrency
        self._run_unit = run_unit
        self._on_crash = on_crash
        self._run_inline = run_inline or run_unit
        self._tasks: queue.SimpleQueue[Unit | None] = queue.SimpleQueue()
        self.completed: queue.SimpleQueue[Completion] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"dpp-job-{index}", daemon=True)
            for index in range(concurrency)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, unit: Unit) -> None:
        self._tasks.put(unit)

    def run_inline(self, unit: Unit) -> None:
        """Run a fast unit on the calling (poll) thread: microsecond jobs no longer hop to a job
        thread and back, nor queue for the GIL behind four job threads. Its completion goes to
        the same queue, so bookkeeping, offsets and commits take the usual path."""
        try:
            outcomes = self._run_inline(unit)
        except UnitDeferredError:
            self.submit(unit)
            return
        except Exception:  # the runner's own failure: as on a job thread
            outcomes = self._on_crash(unit)
        self.completed.put((unit, outcomes))

    def _work(self) -> None:
        while (unit := self._tasks.get()) is not None:
            try:
                outcomes = self._run_unit(unit)
            except Exception:  # the runner's own failure must not kill the thread
                outcomes = self._on_crash(unit)
            self.completed.put((unit, outcomes))

    def shutdown(self) -> None:
        """Let each thread exit after its current unit; does not wait for them."""
        for _ in self._threads:
            self._tasks.put(None)


@dataclass
class PartitionWork:
    """One assigned partition's records waiting to run, and what it is busy with."""

    backlog: deque[ConsumedRecord] = field(default_factory=deque)
    in_flight: list[Unit] = field(default_factory=list)
    busy_keys: set[bytes | None] = field(default_factory=set)
    waiting_until: datetime | None = None
    paused: bool = False
    held: bool = False
    """An operator paused its job type: nothing more starts; what waits stays for the resume."""


class Executor:
    """Schedules records of assigned partitions onto the pool, preserving per-key order for
    ordered event types, and decides which partitions should be paused."""

    def __init__(
        self,
        *,
        pool: JobPool,
        registry: JobRegistry,
        batch_size: int,
        partition_buffer: int,
        delayed_topics: Iterable[str],
        tracked: Callable[[PartitionKey], int] | None = None,
        topic_specs: Mapping[str, JobSpec] | None = None,
        inline_fast_jobs: bool = False,
    ) -> None:
        self.pool = pool
        # Batchable units run on the dispatching thread (`JobPool.run_inline`).
        self.inline_fast_jobs = inline_fast_jobs
        self.registry = registry
        self.batch_size = batch_size
        self.partition_buffer = partition_buffer
        self.delayed_topics = frozenset(delayed_topics)
        # Records of a partition fetched but not yet committed (waiting, running, or finished
        # behind an unfinished earlier one): bounds what a long job at the head holds back.
        self._tracked = tracked or (lambda _key: 0)
        # Topics that carry a single job type are scheduled by topic, without reading headers
        # on the poll thread; the job thread still checks each record's own type.
        self._topic_specs = dict(topic_specs or {})
        self.partitions: dict[PartitionKey, PartitionWork] = {}
        self.in_flight = 0
        self.accepting = True

    # -- intake ------------------------------------------------------------------------------

    def assign(self, keys: Iterable[PartitionKey]) -> None:
        for key in keys:
            self.partitions.setdefault(key, PartitionWork())

    def hold(self, topics: Iterable[str]) -> None:
        """Hold the partitions of ``topics`` (and release the others): a held partition starts
        nothing new and is paused, its running units finish and commit as usual, and what it
        already fetched waits in its backlog (fetching resumes after it, so nothing is lost)."""
        held = frozenset(topics)
        for (topic, _partition), work in self.partitions.items():
            work.held = topic in held

    def add(self, message: ConsumedRecord) -> bool:
        """Queue a record; False if it must not be tracked (partition not ours, or draining)."""
        work = self.partitions.get((message.topic, message.partition))
        if work is None or not self.accepting:
            return False
        work.backlog.append(message)
        return True

    def spec_of(self, message: ConsumedRecord) -> JobSpec | None:
        spec = self._topic_specs.get(message.topic)
        if spec is not None:
            return spec
        return None if message.event_type is None else self.registry.get(message.event_type)

    # -- dispatch ----------------------------------------------------------------------------

    def dispatch(self, now: datetime | None = None) -> None:
        """Start whatever may start now, as long as the pool has room."""
        now = now or datetime.now(UTC)
        for key, work in self.partitions.items():
            if work.held:
                continue
            if self._tracked(key) - len(work.backlog) >= self.partition_buffer:
                continue  # enough finished work waits behind this partition's oldest record
            while work.backlog and self.in_flight < self.pool.concurrency:
                unit = self._next_unit(key, work, now)
                if unit is None:
                    break
                work.in_flight.append(unit)
                self.in_flight += 1
                if self.inline_fast_jobs and unit.spec is not None and unit.spec.batchable:
                    self.pool.run_inline(unit)
                else:
                    self.pool.submit(unit)

    def _next_unit(self, key: PartitionKey, work: PartitionWork, now: datetime) -> Unit | None:
        head = work.backlog[0]
        if not self._ready(head, work, now):
            return None
        spec = self.spec_of(head)
        if spec is not None and spec.batchable:
            messages = [work.backlog.popleft()]
            while work.backlog and len(messages) < self.batch_size:
                following = work.backlog[0]
                if self.spec_of(following) is not spec or not self._ready(following, work, now):
                    break
                messages.append(work.backlog.popleft())
            return Unit(key[0], key[1], messages, spec)
        if spec is not None and spec.ordered:
            # The head waits for the running job of its key: events of one key run in order.
            if head.key in work.busy_keys:
                return None
            work.busy_keys.add(head.key)
            return Unit(key[0], key[1], [work.backlog.popleft()], spec, ordering_key=head.key)
        return Unit(key[0], key[1], [work.backlog.popleft()], spec)

    def _ready(self, message: ConsumedRecord, work: PartitionWork, now: datetime) -> bool:
        if message.topic not in self.delayed_topics:
            return True
        due = not_before(message)
        if due is not None and due > now:
            work.waiting_until = due
            return False
        work.waiting_until = None
        return True

    # -- completion --------------------------------------------------------------------------

    def collect(self, timeout_s: float = 0.0) -> list[Completion]:
        """Completed units (waiting up to `timeout_s` for the first), with their bookkeeping."""
        done: list[Completion] = []
        try:
            done.append(self.pool.completed.get(timeout=timeout_s) if timeout_s > 0
                        else self.pool.completed.get_nowait())  # fmt: skip
            while True:
                done.append(self.pool.completed.get_nowait())
        except queue.Empty:
            pass
        for unit, _ in done:
            self.in_flight -= 1
            work = self.partitions.get((unit.topic, unit.partition))
            if work is None:
                continue
            work.in_flight.remove(unit)
            if unit.spec is not None and unit.spec.ordered:
                work.busy_keys.discard(unit.ordering_key)
        return done

    def in_flight_of(self, keys: Iterable[PartitionKey]) -> int:
        return sum(len(self.partitions[key].in_flight) for key in keys if key in self.partitions)

    # -- flow control ------------------------------------------------------------------------

    def flow_changes(self) -> tuple[list[PartitionKey], list[PartitionKey]]:
        """Partitions to pause and to resume now. A partition is paused while it holds records
        it cannot start (a busy long job, a full pool, a retry delay not yet due, its job type
        paused by an operator), so the poll
        loop keeps polling (no rebalance) without buffering unbounded records; fast jobs get a
        larger buffer so that batches keep flowing."""
        to_pause, to_resume = [], []
        for key, work in self.partitions.items():
            if not self.accepting or work.held or work.waiting_until is not None:
                wanted = True
            elif work.backlog:
                spec = self.spec_of(work.backlog[0])
                limit = self.partition_buffer if spec is not None and spec.batchable else 1
                wanted = len(work.backlog) >= limit
            else:
                wanted = False
            if wanted and not work.paused:
                work.paused = True
                to_pause.append(key)
            elif not wanted and work.paused:
                work.paused = False
                to_resume.append(key)
        return to_pause, to_resume

    # -- revocation and drain ----------------------------------------------------------------

    def revoke(self, keys: Iterable[PartitionKey], reason: str) -> None:
        """Drop what has not started on `keys` and ask their running jobs to stop."""
        for key in keys:
            work = self.partitions.get(key)
            if work is None:
                continue
            work.backlog.clear()
            for unit in work.in_flight:
                unit.cancellation.cancel(reason)

    def forget(self, keys: Iterable[PartitionKey]) -> None:
        for key in keys:
            self.partitions.pop(key, None)

    def stop_intake(self) -> None:
        """Drain begins: nothing new starts; what waits is left for redelivery."""
        self.accepting = False
        for work in self.partitions.values():
            work.backlog.clear()

    def cancel_all(self, reason: str) -> None:
        for work in self.partitions.values():
            for unit in work.in_flight:
                unit.cancellation.cancel(reason)
