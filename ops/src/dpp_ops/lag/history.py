"""Bounded sliding window of lag observations per group, topic and partition."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import replace

from dpp_ops.lag.heads import HeadJob
from dpp_ops.lag.model import GroupLag
from dpp_ops.lag.status import GroupStatus, Observation, StatusRules, evaluate_group

_Key = tuple[str, str, int]


class LagHistory:
    """Keeps the newest observations of each partition, bounded in count and age.

    Feed it every :class:`GroupLag` the reader returns; ask it for a group's windows or
    directly for its :class:`GroupStatus`. Partitions that stop appearing age out.
    """

    def __init__(self, rules: StatusRules | None = None) -> None:
        self.rules = rules or StatusRules()
        self._windows: dict[_Key, deque[Observation]] = {}
        # (committed offset, first time seen at that value): survives the bounded window.
        self._since: dict[_Key, tuple[int | None, float]] = {}

    def record(
        self,
        lag: GroupLag,
        heads: Mapping[tuple[str, int], HeadJob] | None = None,
        held: Mapping[str, str] | None = None,
    ) -> None:
        """Append one observation per partition of ``lag`` and drop what left the window.

        ``heads`` are the running jobs at the committed offsets (from the job store): a head job
        that heartbeat within ``heartbeat_timeout_s`` marks its partition busy, not stuck.
        ``held`` maps topics an operator paused on purpose to why: busy too.
        """
        for entry in lag.partitions:
            owned = None if lag.rebalancing else entry.owner is not None
            head = (heads or {}).get((entry.topic, entry.partition))
            fresh = head is not None and (
                entry.observed_at - head.heartbeat_at <= self.rules.heartbeat_timeout_s
            )
            observation = Observation(
                at=entry.observed_at,
                committed=entry.committed_offset,
                end=entry.end_offset,
                lag=entry.lag_messages,
                owned=owned,
                busy=(held or {}).get(entry.topic)
                or (head.reason(entry.observed_at) if head is not None and fresh else None),
            )
            self.add(lag.group, entry.topic, entry.partition, observation)
        self._prune(lag.observed_at)

    def add(self, group: str, topic: str, partition: int, observation: Observation) -> None:
        """Append one observation (for callers that build observations themselves)."""
        key = (group, topic, partition)
        seen = self._since.get(key)
        if seen is None or seen[0] != observation.committed:
            seen = self._since[key] = (observation.committed, observation.at)
        if observation.since is None:
            observation = replace(observation, since=seen[1])
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = deque(maxlen=self.rules.max_observations)
        window.append(observation)

    def windows(self, group: str) -> Mapping[tuple[str, int], tuple[Observation, ...]]:
        """The current window of every partition of ``group``, keyed by (topic, partition)."""
        return {(t, p): tuple(w) for (g, t, p), w in self._windows.items() if g == group}

    def status(self, group: str, now: float | None = None) -> GroupStatus:
        """Evaluate ``group`` with this history's rules."""
        return evaluate_group(group, self.windows(group), self.rules, now)

    def _prune(self, now: float) -> None:
        horizon = now - self.rules.window_s
        for key in list(self._windows):
            window = self._windows[key]
            while window and window[0].at < horizon:
                window.popleft()
            if not window:
                del self._windows[key]
                self._since.pop(key, None)
