"""Burrow-style status of a consumer group and its partitions over a window of observations."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator


class LagStatus(IntEnum):
    """Statuses in Burrow's order of severity (a group takes the worst, capped at ERR)."""

    OK = 1
    WARN = 2
    ERR = 3
    STOP = 4
    STALL = 5
    REWIND = 6


@dataclass(frozen=True, slots=True)
class Observation:
    """One reading of one partition: when, where the group was, and how far behind."""

    at: float
    """Epoch seconds of the reading."""
    committed: int | None
    end: int
    lag: int
    owned: bool | None = None
    """Whether a live group member is assigned the partition; None when unknown (rebalance)."""
    since: float | None = None
    """When ``committed`` was first seen at its current value, if the caller tracks it.

    Lets a bounded window still tell how long an offset has been frozen.
    """
    busy: str | None = None
    """Set when the job at the committed offset is RUNNING with a fresh heartbeat (see
    :mod:`dpp_ops.lag.heads`): why the offset may stand still without being stuck."""


class StatusRules(BaseModel):
    """Tunables of the evaluator; the 10 minute window mirrors Burrow's 10 commits x 60 s."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    window_s: float = Field(default=600.0, gt=0)
    """Observations older than this (relative to evaluation time) leave the window."""
    max_observations: int = Field(default=20, ge=2)
    """At most this many of the newest observations are kept and evaluated (poll interval x
    this should cover ``window_s``)."""
    min_observations: int = Field(default=3, ge=2)
    """Fewer observations than this: status OK with ``complete=False`` (not enough data)."""
    stop_after_s: float = Field(default=300.0, gt=0)
    """Offset frozen this long, lag > 0 and no member owns the partition: STOP."""
    stall_after_s: float = Field(default=300.0, gt=0)
    """Offset frozen this long, lag > 0 while a member owns the partition: STALL."""
    heartbeat_timeout_s: float = Field(default=120.0, gt=0)
    """A running head job whose record was updated (started, progress, checkpoint) this
    recently is heartbeating: its frozen offset is work in progress, never STALL or STOP."""

    @model_validator(mode="after")
    def _coherent(self) -> StatusRules:
        if self.min_observations > self.max_observations:
            raise ValueError("min_observations must not exceed max_observations")
        return self


@dataclass(frozen=True, slots=True)
class Verdict:
    """Status of one partition with the rule that decided it."""

    status: LagStatus
    reason: str
    complete: bool
    lag: int


@dataclass(frozen=True, slots=True)
class PartitionStatus:
    """A verdict attached to its topic partition."""

    topic: str
    partition: int
    status: LagStatus
    reason: str
    complete: bool
    lag: int


@dataclass(frozen=True, slots=True)
class GroupStatus:
    """Status of a whole group: the worst partition status, STOP/STALL/REWIND shown as ERR."""

    group: str
    status: LagStatus
    partitions: tuple[PartitionStatus, ...]
    complete: bool
    total_lag: int

    @property
    def worst(self) -> PartitionStatus | None:
        """The partition with the most severe status (largest lag breaks ties)."""
        if not self.partitions:
            return None
        return max(self.partitions, key=lambda p: (p.status, p.lag))


def evaluate_partition(
    observations: Sequence[Observation], rules: StatusRules, now: float | None = None
) -> Verdict:
    """Apply the rules, first match wins, to the observations of one partition.

    1. No lag now, or lag 0 at any point of the window: OK (an idle partition is healthy).
    2. Fewer than ``min_observations`` in the window: OK, incomplete.
    3. Committed offset went backwards between two observations: REWIND.
    4. Committed offset unchanged over the whole window while the job at that offset is running
       and heartbeating (``busy``): OK, or WARN if the lag behind it grew over the window.
    5. Committed offset unchanged over the whole window and frozen for ``stop_after_s`` with
       no member owning the partition: STOP.
    6. Same, frozen for ``stall_after_s`` while a member owns it (or ownership unknown): STALL.
    7. Lag never decreased from one observation to the next: WARN (consumer falling behind).
    8. Otherwise OK (lag is going down somewhere in the window).
    """
    ordered = sorted(observations, key=lambda o: o.at)
    if not ordered:
        return Verdict(LagStatus.OK, "no observations", complete=False, lag=0)
    at = ordered[-1].at if now is None else now
    window = [o for o in ordered if o.at >= at - rules.window_s][-rules.max_observations :]
    if not window:
        return Verdict(LagStatus.OK, "no observations in the window", complete=False, lag=0)
    latest = window[-1]
    complete = len(window) >= rules.min_observations
    if latest.lag == 0:
        return Verdict(LagStatus.OK, "no lag", complete, 0)
    if any(o.lag == 0 for o in window):
        return Verdict(LagStatus.OK, "lag was zero within the window", complete, latest.lag)
    if not complete:
        return Verdict(LagStatus.OK, "not enough observations yet", False, latest.lag)

    pairs = list(itertools.pairwise(window))
    if any(_rewound(a.committed, b.committed) for a, b in pairs):
        return Verdict(LagStatus.REWIND, "committed offset moved backwards", True, latest.lag)

    if all(o.committed == latest.committed for o in window):
        if latest.busy is not None:
            if latest.lag > window[0].lag:
                reason = f"{latest.busy}; lag behind it grew {window[0].lag} -> {latest.lag}"
                return Verdict(LagStatus.WARN, reason, True, latest.lag)
            return Verdict(LagStatus.OK, latest.busy, True, latest.lag)
        frozen_for = at - _frozen_since(ordered)
        owned = next((o.owned for o in reversed(window) if o.owned is not None), None)
        if owned is False and frozen_for >= rules.stop_after_s:
            reason = f"no member owns the partition; offset frozen for {frozen_for:.0f}s"
            return Verdict(LagStatus.STOP, reason, True, latest.lag)
        if owned is not False and frozen_for >= rules.stall_after_s:
            reason = f"partition is assigned but offset frozen for {frozen_for:.0f}s"
            return Verdict(LagStatus.STALL, reason, True, latest.lag)

    if all(b.lag >= a.lag for a, b in pairs):
        return Verdict(LagStatus.WARN, "lag did not decrease over the window", True, latest.lag)
    return Verdict(LagStatus.OK, "lag decreasing", True, latest.lag)


def evaluate_group(
    group: str,
    windows: Mapping[tuple[str, int], Sequence[Observation]],
    rules: StatusRules,
    now: float | None = None,
) -> GroupStatus:
    """Evaluate every partition; the group takes the worst status, capped at ERR like Burrow."""
    partitions = []
    for (topic, partition), observations in sorted(windows.items()):
        verdict = evaluate_partition(observations, rules, now)
        partitions.append(
            PartitionStatus(
                topic=topic,
                partition=partition,
                status=verdict.status,
                reason=verdict.reason,
                complete=verdict.complete,
                lag=verdict.lag,
            )
        )
    worst = max((p.status for p in partitions), default=LagStatus.OK)
    return GroupStatus(
        group=group,
        status=min(worst, LagStatus.ERR),
        partitions=tuple(partitions),
        complete=all(p.complete for p in partitions),
        total_lag=sum(p.lag for p in partitions),
    )


def _rewound(before: int | None, after: int | None) -> bool:
    return before is not None and after is not None and after < before


def _frozen_since(ordered: Sequence[Observation]) -> float:
    """Time of the oldest observation in the latest run of equal committed offsets."""
    latest = ordered[-1]
    since = latest.at
    for obs in reversed(ordered):
        if obs.committed != latest.committed:
            break
        since = obs.at
    return since if latest.since is None else min(since, latest.since)
