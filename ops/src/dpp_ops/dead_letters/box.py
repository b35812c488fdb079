"""The dead-letter box behind `dpp dlq`: list and show what the workers gave up on, and replay
chosen ones as new jobs on their original topics."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from dpp_ops.dead_letters.ledger import (
    REPLAYED_TOPIC,
    ReplayMark,
    ensure_ledger,
    read_marks,
    transactional_producer,
)
from dpp_ops.dead_letters.letter import DeadLetter
from dpp_ops.errors import DeadLetterNotFoundError
from dpp_shared import headers as hdr
from dpp_shared.codec import decode
from dpp_shared.errors import EventDecodeError
from dpp_shared.events import REGISTRY, EventRegistry
from dpp_shared.ids import new_id
from dpp_shared.topics import DEAD_LETTER_TOPIC, TopicNamespace

READ_IDLE_S = 2.0
READ_TIMEOUT_S = 30.0
_ADDRESS = re.compile(r"^(\d+):(\d+)$")
REPLAYED_FROM = "dpp-replayed-from"


@dataclass(frozen=True)
class Replay:
    """What replaying one dead letter did, or would do (`dry_run`), or why it was skipped."""

    dead_letter: DeadLetter
    topic: str | None
    new_job_id: str | None
    skipped: str | None = None

    @property
    def sendable(self) -> bool:
        return self.skipped is None and self.topic is not None and self.new_job_id is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.dead_letter.id,
            "old_job_id": self.dead_letter.job_id,
            "topic": self.topic,
            "new_job_id": self.new_job_id,
            "skipped": self.skipped,
        }


class DeadLetterBox:
    """Reads and replays the dead-letter topic of one namespace.

    Every replay is recorded on the ledger topic (:mod:`dpp_ops.dead_letters.ledger`) in the
    same Kafka transaction as the replayed records, through one transactional id shared by
    every operator: a letter is replayed at most once, whoever asks and however often.
    """

    def __init__(
        self,
        consumer_config: dict[str, Any],
        producer_config: dict[str, Any],
        namespace: TopicNamespace | None = None,
        events: EventRegistry = REGISTRY,
    ) -> None:
        self._consumer_config = consumer_config
        self._producer_config = producer_config
        self._namespace = namespace or TopicNamespace()
        self.topic = self._namespace.physical(DEAD_LETTER_TOPIC)
        self.ledger_topic = self._namespace.physical(REPLAYED_TOPIC)
        self._events = events

    def replayed(self) -> dict[str, ReplayMark]:
        """The ledger: dead letter id -> how it was replayed (empty before the first replay)."""
        return read_marks(self._consumer_config, self.ledger_topic)

    def read_all(self) -> list[DeadLetter]:
        """Every dead letter still retained, oldest first (read without a consumer group
        commit: inspecting never changes anything)."""
        consumer = Consumer(self._consumer_config | {"enable.auto.commit": False})
        try:
            metadata = consumer.list_topics(self.topic, timeout=READ_TIMEOUT_S)
            partitions = list(metadata.topics[self.topic].partitions)
            ends = {}
            for partition in partitions:
                _low, high = consumer.get_watermark_offsets(
                    TopicPartition(self.topic, partition), timeout=READ_TIMEOUT_S
                )
                ends[partition] = high
            consumer.assign([TopicPartition(self.topic, p, 0) for p in partitions])
            letters: list[DeadLetter] = []
            deadline = time.monotonic() + READ_TIMEOUT_S
            idle_since = time.monotonic()
            while time.monotonic() < deadline and not self._at_end(consumer, ends):
                messages = consumer.consume(500, 0.2)
                if messages:
                    idle_since = time.monotonic()
                elif time.monotonic() - idle_since > READ_IDLE_S:
                    break  # e.g. an open transaction holds the end back: show what is stable
                letters.extend(DeadLetter.of(m) for m in messages if m.error() is None)
            return sorted(letters, key=lambda letter: letter.header(hdr.FAILED_AT) or "")
        finally:
            consumer.close()

    def _at_end(self, consumer: Consumer, ends: dict[int, int]) -> bool:
        positions = consumer.position([TopicPartition(self.topic, p) for p in ends])
        return all(tp.offset >= ends[tp.partition] or ends[tp.partition] == 0 for tp in positions)

    def find(self, letters: Iterable[DeadLetter], wanted: str) -> DeadLetter:
        """A dead letter by address (`partition:offset`) or by job id (the latest one)."""
        letters = list(letters)
        match = _ADDRESS.match(wanted)
        for letter in reversed(letters):
            if (match and letter.id == wanted) or (not match and letter.job_id == wanted):
                return letter
        raise DeadLetterNotFoundError(wanted)

    def replay(
        self, letters: Iterable[DeadLetter], *, dry_run: bool, by: str | None = None
    ) -> list[Replay]:
        """Send each dead letter back to its original topic as a new job (a new event id; the
        dead job stays in the job store, named by the `dpp-replay-of` header) and mark it on
        the ledger in the same transaction. Skipped: letters already on the ledger, and letters
        that would only be dead-lettered again (not an event, unknown type, invalid)."""
        plans = [self._plan(letter) for letter in letters]
        if dry_run:
            return _skip_marked(plans, self.replayed())
        if not any(plan.sendable for plan in plans):
            return plans
        ensure_ledger(AdminClient(self._producer_config), self._namespace)
        # Fence first, then read: a replay still in flight elsewhere is committed or aborted
        # by now, so the ledger read below is the truth.
        producer = transactional_producer(self._producer_config, self.topic)
        try:
            plans = _skip_marked(plans, self.replayed())
            if any(plan.sendable for plan in plans):
                self._send(producer, plans, by or f"{socket.gethostname()}")
        finally:
            producer.flush(READ_TIMEOUT_S)
        return plans

    def _send(self, producer: Producer, plans: list[Replay], by: str) -> None:
        producer.begin_transaction()
        try:
            for plan in plans:
                if not plan.sendable:
                    continue
                assert plan.topic is not None and plan.new_job_id is not None
                letter = plan.dead_letter
                producer.produce(
                    plan.topic,
                    value=letter.value,
                    key=letter.key,
                    headers=_replay_headers(letter, plan.new_job_id),
                )
                mark = ReplayMark(
                    letter.id, letter.job_id, plan.new_job_id, plan.topic, time.time(), by
                )
                producer.produce(self.ledger_topic, value=mark.encode(), key=letter.id.encode())
                producer.poll(0)
            producer.commit_transaction(READ_TIMEOUT_S)
        except KafkaException:
            producer.abort_transaction(READ_TIMEOUT_S)
            raise

    def _plan(self, letter: DeadLetter) -> Replay:
        topic = letter.header(hdr.ORIGINAL_TOPIC)
        if not topic:
            return Replay(letter, None, None, "no dpp-original-topic header")
        try:
            decode(letter.value, letter.headers, self._events)
        except EventDecodeError as error:
            return Replay(letter, topic, None, f"would fail again: {error.reason}")
        return Replay(letter, topic, new_id())


def _skip_marked(plans: list[Replay], marks: dict[str, ReplayMark]) -> list[Replay]:
    """Plans with the letters already on the ledger skipped, saying when and as which job."""
    result = []
    for plan in plans:
        mark = marks.get(plan.dead_letter.id)
        if mark is not None and plan.skipped is None:
            when = datetime.fromtimestamp(mark.replayed_at, UTC).isoformat(timespec="seconds")
            skipped = f"already replayed {when} as job {mark.new_job_id} by {mark.by}"
            result.append(replace(plan, new_job_id=mark.new_job_id, skipped=skipped))
        else:
            result.append(plan)
    return result


def _replay_headers(letter: DeadLetter, new_job_id: str) -> list[tuple[str, str | bytes | None]]:
    """The letter's event headers with a new event id and time, without the failure headers."""
    replaced = {
        "ce_id": new_job_id.encode(),
        "ce_time": datetime.now(UTC).isoformat().replace("+00:00", "Z").encode(),
    }
    headers: list[tuple[str, str | bytes | None]] = [
        (name, replaced.get(name, value))
        for name, value in letter.headers
        if value is not None and not name.startswith(hdr.HEADER_PREFIX)
    ]
    headers.append((hdr.REPLAY_OF, (letter.job_id or "").encode()))
    headers.append((REPLAYED_FROM, letter.id.encode()))
    return headers
