"""Burrow-style status rules on synthetic windows, the history window, and one scripted run."""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer, TopicPartition

from dpp_ops.lag import (
    LagHistory,
    LagReader,
    LagStatus,
    Observation,
    StatusRules,
    evaluate_group,
    evaluate_partition,
)
from tests.ops.lag.scratch import KafkaScratch
from tests.waiting import wait_until

RULES = StatusRules(
    window_s=100, max_observations=10, min_observations=3, stop_after_s=50, stall_after_s=50
)


def series(
    committed: list[int | None], lags: list[int], owned: bool | None = True, step: float = 10
) -> list[Observation]:
    return [
        Observation(at=i * step, committed=c, end=(c or 0) + lag, lag=lag, owned=owned)
        for i, (c, lag) in enumerate(zip(committed, lags, strict=True))
    ]


def test_idle_partition_without_traffic_is_ok() -> None:
    verdict = evaluate_partition(series([5] * 10, [0] * 10, owned=False), RULES)
    assert verdict.status is LagStatus.OK and verdict.reason == "no lag"


def test_zero_lag_anywhere_in_the_window_is_ok() -> None:
    verdict = evaluate_partition(series([1, 2, 3, 3, 3], [0, 5, 9, 12, 15]), RULES)
    assert verdict.status is LagStatus.OK and "zero" in verdict.reason


def test_too_few_observations_is_ok_and_incomplete() -> None:
    verdict = evaluate_partition(series([1, 1], [5, 9], owned=False), RULES)
    assert (verdict.status, verdict.complete) == (LagStatus.OK, False)


def test_committed_offset_going_back_is_rewind() -> None:
    verdict = evaluate_partition(series([10, 12, 8, 9], [3, 3, 7, 6]), RULES)
    assert verdict.status is LagStatus.REWIND


def test_no_owner_and_frozen_offset_past_threshold_is_stop() -> None:
    window = series([4] * 7, [2, 3, 4, 5, 6, 7, 8], owned=False)
    assert evaluate_partition(window, RULES).status is LagStatus.STOP


def test_frozen_offset_with_constant_lag_and_no_owner_is_stop() -> None:
    # An abandoned partition with a few leftover records and no new traffic.
    window = series([4] * 7, [3] * 7, owned=False)
    assert evaluate_partition(window, RULES).status is LagStatus.STOP


def test_owner_present_and_frozen_offset_is_stall() -> None:
    window = series([4] * 7, [2, 3, 4, 5, 6, 7, 8], owned=True)
    assert evaluate_partition(window, RULES).status is LagStatus.STALL


def test_unknown_ownership_during_rebalance_uses_last_known() -> None:
    window = series([4] * 7, [2, 3, 4, 5, 6, 7, 8], owned=False)
    window[-1] = Observation(at=window[-1].at, committed=4, end=12, lag=8, owned=None)
    assert evaluate_partition(window, RULES).status is LagStatus.STOP
    unknown = series([4] * 7, [2, 3, 4, 5, 6, 7, 8], owned=None)
    assert evaluate_partition(unknown, RULES).status is LagStatus.STALL


def test_frozen_shorter_than_threshold_is_only_a_warning() -> None:
    window = series([4] * 4, [2, 3, 4, 5], owned=False)  # frozen for 30 s < 50 s
    assert evaluate_partition(window, RULES).status is LagStatus.WARN


def test_moving_consumer_whose_lag_never_drops_is_warn() -> None:
    window = series([1, 3, 5, 7, 9], [10, 12, 12, 15, 20])
    verdict = evaluate_partition(window, RULES)
    assert verdict.status is LagStatus.WARN and "did not decrease" in verdict.reason


def test_moving_consumer_catching_up_somewhere_is_ok() -> None:
    window = series([1, 3, 5, 7, 9], [10, 12, 11, 15, 20])
    assert evaluate_partition(window, RULES).status is LagStatus.OK


def test_window_keeps_only_recent_observations() -> None:
    old_zero = [Observation(at=0, committed=1, end=1, lag=0, owned=True)]
    recent = [
        Observation(at=200 + i, committed=1 + i, end=20 + 3 * i, lag=19 + 2 * i) for i in range(4)
    ]
    assert evaluate_partition(old_zero + recent, RULES).status is LagStatus.WARN


def test_since_lets_a_short_window_see_a_long_freeze() -> None:
    rules = RULES.model_copy(update={"max_observations": 3})
    window = [
        Observation(at=t, committed=4, end=4 + int(t), lag=int(t), owned=False, since=0)
        for t in (60.0, 70.0, 80.0)
    ]
    assert evaluate_partition(window, rules).status is LagStatus.STOP


def test_group_takes_the_worst_partition_capped_at_err() -> None:
    windows = {
        ("a", 0): series([4] * 7, [1] * 7, owned=True),  # STALL
        ("a", 1): series([1, 3, 5, 7, 9], [10, 12, 12, 15, 20]),  # WARN
        ("b", 0): series([5] * 5, [0] * 5),  # OK
    }
    status = evaluate_group("g", windows, RULES)
    assert status.status is LagStatus.ERR
    assert [p.status for p in status.partitions] == [LagStatus.STALL, LagStatus.WARN, LagStatus.OK]
    assert status.worst is not None and (status.worst.topic, status.worst.partition) == ("a", 0)
    only_warn = evaluate_group("g", {k: v for k, v in windows.items() if k != ("a", 0)}, RULES)
    assert only_warn.status is LagStatus.WARN


def test_rules_reject_incoherent_bounds() -> None:
    with pytest.raises(ValueError, match="min_observations"):
        StatusRules(min_observations=5, max_observations=3)


def test_history_is_bounded_and_tracks_when_the_offset_froze() -> None:
    history = LagHistory(RULES.model_copy(update={"max_observations": 3}))
    for t in range(10):
        history.add(
            "g", "t", 0, Observation(at=t * 10.0, committed=4, end=4 + t, lag=t + 1, owned=False)
        )
    window = history.windows("g")[("t", 0)]
    assert len(window) == 3
    assert window[-1].since == 0.0
    assert history.status("g").status is LagStatus.ERR


def test_scripted_synthetic_scenario_moves_through_every_state() -> None:
    """A consumer keeps up, slows down, dies, comes back stuck, then catches up."""
    rules = StatusRules(
        window_s=40, max_observations=10, min_observations=3, stop_after_s=60, stall_after_s=60
    )
    history = LagHistory(rules)
    seen: list[LagStatus] = []
    committed, end, t = 0, 0, 0.0

    def tick(produced: int, consumed: int, owned: bool) -> None:
        nonlocal committed, end, t
        t += 10
        end += produced
        committed = min(end, committed + consumed)
        history.add("g", "orders", 0, Observation(t, committed, end, end - committed, owned))
        status = history.status("g", now=t).partitions[0].status
        if not seen or seen[-1] is not status:
            seen.append(status)

    for _ in range(5):
        tick(10, 10, owned=True)  # keeping up: OK
    for _ in range(5):
        tick(10, 5, owned=True)  # falling behind while committing: WARN
    for _ in range(8):
        tick(10, 0, owned=False)  # consumer gone: STOP
    for _ in range(8):
        tick(10, 0, owned=True)  # back but stuck: STALL
    for _ in range(8):
        tick(0, 40, owned=True)  # catching up to zero: OK
    assert seen == [LagStatus.OK, LagStatus.WARN, LagStatus.STOP, LagStatus.STALL, LagStatus.OK]


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_scripted_scenario_against_the_broker(kafka: KafkaScratch, kafka_bootstrap: str) -> None:
    """Real group: keeps up (OK), dies under traffic (WARN then STOP), returns stuck (STALL),
    catches up (OK). Thresholds are seconds so the run is short; transitions are polled."""
    rules = StatusRules(
        window_s=2.0, max_observations=200, min_observations=3, stop_after_s=4.0, stall_after_s=4.0
    )
    history = LagHistory(rules)
    topic = kafka.topic()
    group = kafka.group()
    producer = kafka.producer()
    partitions: list[LagStatus] = []
    groups: list[LagStatus] = []

    with LagReader(kafka_bootstrap) as reader:

        def observe(expected: LagStatus, produce: int = 0, member: Consumer | None = None) -> bool:
            for _ in range(produce):
                producer.produce(topic, value=b"x", partition=0)
            producer.flush(10)
            if member is not None:
                member.poll(0.05)
            history.record(reader.read_group(group, [topic]))
            status = history.status(group)
            for seen, now in ((partitions, status.partitions[0].status), (groups, status.status)):
                if not seen or seen[-1] is not now:
                    seen.append(now)
            return status.partitions[0].status is expected

        kafka.produce(topic, 5)
        first = kafka.consumer(group)
        first.subscribe([topic])
        drain(first, topic, 5)
        wait_until(lambda: observe(LagStatus.OK) and len(history.windows(group)[(topic, 0)]) >= 3)

        kafka.close(first)
        wait_until(lambda: observe(LagStatus.WARN, produce=1), every_s=0.05, what="WARN")
        wait_until(lambda: observe(LagStatus.STOP, produce=1), every_s=0.05, what="STOP")

        stuck = kafka.consumer(group)
        stuck.subscribe([topic])
        wait_until(lambda: observe(LagStatus.STALL, member=stuck), every_s=0.05, what="STALL")

        end = reader.read_group(group, [topic]).partition(topic, 0).end_offset
        drain(stuck, topic, end)
        wait_until(lambda: observe(LagStatus.OK, member=stuck), every_s=0.05, what="OK again")

    assert partitions == [
        LagStatus.OK,
        LagStatus.WARN,
        LagStatus.STOP,
        LagStatus.STALL,
        LagStatus.OK,
    ]
    assert groups == [LagStatus.OK, LagStatus.WARN, LagStatus.ERR, LagStatus.OK]


def drain(consumer: Consumer, topic: str, end: int) -> None:
    """Consume up to offset ``end`` and commit it."""

    def step() -> bool:
        consumer.poll(0.2)
        position = consumer.position([TopicPartition(topic, 0)])[0].offset
        return position >= end

    wait_until(step, every_s=0, what=f"position {end}")
    consumer.commit(offsets=[TopicPartition(topic, 0, end)], asynchronous=False)
