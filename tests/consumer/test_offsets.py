"""Contiguous commit tracking: the committed position never passes an unfinished record."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from dpp_consumer.offsets import OffsetTracker

T = ("jobs", 0)


def test_position_moves_only_over_the_finished_prefix() -> None:
    tracker = OffsetTracker()
    for offset in (10, 11, 12, 13):
        tracker.track(*T, offset)
    tracker.finish(*T, 12)
    assert tracker.committable() == {}
    tracker.finish(*T, 10)
    assert tracker.committable() == {T: 11}
    tracker.finish(*T, 11)
    assert tracker.committable() == {T: 13}
    tracker.confirm({T: 13})
    assert tracker.committable() == {}
    tracker.finish(*T, 13)
    assert tracker.committable() == {T: 14}


def test_gaps_in_offsets_are_fine_and_partitions_are_independent() -> None:
    tracker = OffsetTracker()
    tracker.track("jobs", 0, 5)
    tracker.track("jobs", 0, 9)  # offsets 6-8 were transaction markers or compacted away
    tracker.track("jobs", 1, 0)
    tracker.finish("jobs", 0, 5)
    tracker.finish("jobs", 0, 9)
    assert tracker.committable() == {("jobs", 0): 10}
    assert tracker.committable(only=[("jobs", 1)]) == {}


def test_forgotten_partitions_ignore_late_outcomes() -> None:
    tracker = OffsetTracker()
    tracker.track(*T, 0)
    tracker.forget([T])
    assert tracker.finish(*T, 0) is False
    assert tracker.committable() == {}


@given(st.integers(min_value=1, max_value=200), st.randoms(use_true_random=False))
def test_any_finishing_order_commits_exactly_the_finished_prefix(
    count: int, rng: random.Random
) -> None:
    tracker = OffsetTracker()
    for offset in range(count):
        tracker.track(*T, offset)
    order = list(range(count))
    rng.shuffle(order)
    finished: set[int] = set()
    for offset in order:
        tracker.finish(*T, offset)
        finished.add(offset)
        prefix = 0
        while prefix in finished:
            prefix += 1
        expected = {T: prefix} if prefix else {}
        assert tracker.committable() == expected
