"""Samples the lag of the watched groups through the lag engine and keeps their status history."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dpp_ops.exporters.targets import WatchTarget

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from dpp_ops.lag import GroupLag, GroupStatus, LagHistory, LagReader, Observation
    from dpp_ops.lag.heads import HeadJob, HeadJobReader

log = logging.getLogger("dpp.lag")

# Statuses a check (cron, CI, the exit code of `dpp lag`) treats as unhealthy. Group status
# is capped at ERR; partition STOP/STALL/REWIND show up at group level as ERR.
UNHEALTHY = frozenset({"ERR", "STOP", "STALL", "REWIND"})


@dataclass(frozen=True, slots=True)
class GroupReport:
    """One group at one sample: its lag from the engine and its status over the history."""

    target: WatchTarget
    lag: GroupLag | None
    status: GroupStatus | None
    rates: dict[tuple[str, int], float]
    """Committed offsets consumed per second per partition over the status window."""
    error: str | None = None

    @property
    def status_name(self) -> str:
        return "UNKNOWN" if self.status is None else self.status.status.name

    @property
    def healthy(self) -> bool:
        return self.error is None and self.status_name not in UNHEALTHY

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready view: the numbers `dpp lag --json`, the ops API and the page all show."""
        lag, status = self.lag, self.status
        verdicts = {(p.topic, p.partition): p for p in status.partitions} if status else {}
        partitions = []
        for entry in lag.partitions if lag else ():
            verdict = verdicts.get((entry.topic, entry.partition))
            partitions.append(
                {
                    "topic": entry.topic,
                    "partition": entry.partition,
                    "lag": entry.lag_messages,
                    "lag_seconds": entry.lag_seconds,
                    "rate": self.rates.get((entry.topic, entry.partition)),
                    "status": verdict.status.name if verdict else "UNKNOWN",
                    "reason": verdict.reason if verdict else None,
                    "committed_offset": entry.committed_offset,
                    "end_offset": entry.end_offset,
                    "log_start_offset": entry.log_start_offset,
                    "source": entry.source.value,
                    "owner": entry.owner,
                }
            )
        return {
            "group": self.target.group,
            "state": lag.state if lag else None,
            "members": lag.members if lag else None,
            "status": self.status_name,
            "complete": status.complete if status else False,
            "healthy": self.healthy,
            "total_lag": lag.total_lag if lag else None,
            "max_lag_seconds": lag.max_lag_seconds if lag else None,
            "observed_at": lag.observed_at if lag else None,
            "error": self.error,
            "partitions": partitions,
        }


@dataclass(frozen=True, slots=True)
class LagSnapshot:
    """Every watched group at one sample; ``seq`` counts samples of one monitor."""

    seq: int
    observed_at: float
    groups: tuple[GroupReport, ...]

    @property
    def healthy(self) -> bool:
        return all(group.healthy for group in self.groups)

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "observed_at": self.observed_at,
            "healthy": self.healthy,
            "groups": [group.as_dict() for group in self.groups],
        }


class LagMonitor:
    """Reads every target through one :class:`LagReader` and feeds one :class:`LagHistory`.

    With ``discover`` the targets are asked anew before every sample (every consumer group of
    the cluster); with ``heads`` a partition whose head job is running and heartbeating in the
    job store is reported busy instead of stalled. Not thread-safe: one sampler thread owns it.
    """

    def __init__(
        self,
        reader: LagReader,
        targets: Sequence[WatchTarget],
        history: LagHistory,
        *,
        discover: Callable[[], Sequence[WatchTarget]] | None = None,
        heads: HeadJobReader | None = None,
        held: Callable[[], dict[str, str]] | None = None,
    ) -> None:
        self.reader = reader
        self.targets = tuple(targets)
        self.history = history
        self.discover = discover
        self.heads = heads
        self.held = held
        """Topics paused on purpose (job types an operator paused) -> why; never STALL."""
        self._seq = itertools.count(1)

    @classmethod
    def from_settings(
        cls,
        targets: Sequence[WatchTarget] | None,
        request_timeout_s: float = 15.0,
        *,
        topics: Sequence[str] = (),
        store: Engine | None = None,
    ) -> LagMonitor:
        """A monitor wired from `KAFKA_*`, `AWS_*` and `DPP_LAG_*`; connects lazily.

        ``targets`` None: every consumer group of the cluster (on ``topics`` when given).
        ``store``: the job store, read for heartbeating head jobs. The operators' pause
        switches are read from the control topic at every sample (``dpp_ops.lag.paused``).
        """
        from dpp_ops.exporters.targets import all_groups_discovery  # noqa: PLC0415
        from dpp_ops.lag import LagHistory, get_lag_settings  # noqa: PLC0415
        from dpp_ops.lag.config import configured_reader  # noqa: PLC0415
        from dpp_ops.lag.heads import HeadJobReader  # noqa: PLC0415
        from dpp_ops.lag.paused import PausedTopics  # noqa: PLC0415

        lag = get_lag_settings()
        reader = configured_reader(request_timeout_s)
        discover = None if targets is not None else all_groups_discovery(reader.list_groups, topics)
        return cls(
            reader,
            targets or (),
            LagHistory(lag.rules()),
            discover=discover,
            heads=None if store is None else HeadJobReader(store),
            held=PausedTopics.from_settings(),
        )

    def refresh_targets(self) -> tuple[WatchTarget, ...]:
        """Ask ``discover`` for the groups now (kept as they were if the broker does not
        answer: one failed listing must not empty the page)."""
        from dpp_ops.lag import LagError  # noqa: PLC0415

        if self.discover is not None:
            try:
                self.targets = tuple(self.discover())
            except LagError as error:
                kept = len(self.targets)
                log.warning("listing consumer groups failed, keeping %d: %s", kept, error)
        return self.targets

    def sample(self) -> LagSnapshot:
        """Read every group once, record it and evaluate its status."""
        import time  # noqa: PLC0415

        from dpp_ops.lag import LagError  # noqa: PLC0415

        reports = []
        for target in self.refresh_targets():
            try:
                lag = self.reader.read_group(target.group, target.topics)
            except LagError as error:
                reports.append(GroupReport(target, None, None, {}, str(error)))
                continue
            self.history.record(lag, self._heads(lag), self.held() if self.held else None)
            status = self.history.status(target.group, now=lag.observed_at)
            rates = {
                key: _rate(window) for key, window in self.history.windows(target.group).items()
            }
            reports.append(GroupReport(target, lag, status, rates))
        observed = max((r.lag.observed_at for r in reports if r.lag), default=time.time())
        return LagSnapshot(next(self._seq), observed, tuple(reports))

    def close(self) -> None:
        self.reader.close()
        if self.heads is not None:
            self.heads.engine.dispose()

    def _heads(self, lag: GroupLag) -> dict[tuple[str, int], HeadJob]:
        """Running head jobs of the lagging partitions; none when the store cannot answer
        (the status then falls back to offsets alone)."""
        if self.heads is None:
            return {}
        committed = [
            (p.topic, p.partition, p.committed_offset)
            for p in lag.partitions
            if p.lag_messages > 0 and p.committed_offset is not None
        ]
        try:
            return dict(self.heads.heads(committed))
        except Exception as error:  # SQLAlchemyError, or a store not migrated yet
            log.warning("reading head jobs from the job store failed: %s", error)
            return {}


def _rate(window: Sequence[Observation]) -> float:
    """Committed offsets per second between the oldest and newest observation of a window."""
    known = [o for o in window if o.committed is not None]
    if len(known) < 2 or known[-1].at <= known[0].at:
        return 0.0
    first, last = known[0], known[-1]
    assert first.committed is not None and last.committed is not None
    return max(0.0, (last.committed - first.committed) / (last.at - first.at))
