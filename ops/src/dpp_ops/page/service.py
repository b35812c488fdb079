"""The ops service's state: lag samples, their time series, job throughput and dead letters,
and the operators' actions (replay a dead letter, pause or resume a job type)."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from dpp_ops.errors import OpsError
from dpp_ops.exporters import LagSampler, LagSnapshot
from dpp_ops.page.settings import OpsSettings
from dpp_ops.page.topics import fold_topics

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from dpp_ops.control import ControlTopic
    from dpp_ops.dead_letters import DeadLetterBox, DeadLetterReader
    from dpp_ops.purge import IdempotencyPurger
    from dpp_shared.control import PauseState

log = logging.getLogger("dpp.ops")


class UnknownJobTypeError(OpsError):
    """Pause/resume named a job type the workers do not run."""

    def __init__(self, job_type: str, known: list[str]) -> None:
        super().__init__(f"no job type {job_type!r}; known: {', '.join(known)}")
        self.job_type = job_type


class ActionUnavailableError(OpsError):
    """The service was started without what the action needs (a broker config)."""


class OpsService:
    """Everything the page shows. Lag, series and dead letters are refreshed once per lag
    sample on the sampler thread, so one ``/api/overview`` answer is one consistent sample
    (its ``seq`` says which); throughput is read from the job store on every request, so it
    never shows the store as it was before a job committed (see :meth:`throughput`)."""

    def __init__(
        self,
        sampler: LagSampler,
        settings: OpsSettings,
        *,
        store: Engine | None = None,
        dead_letters: DeadLetterReader | None = None,
        box: DeadLetterBox | None = None,
        control: ControlTopic | None = None,
        job_types: Mapping[str, tuple[str, ...]] | None = None,
        purger: IdempotencyPurger | None = None,
    ) -> None:
        self.sampler = sampler
        self.settings = settings
        self.store = store
        self.dead_letters = dead_letters
        self.box = box
        self.control = control
        self.job_types = dict(job_types or {})
        self.purger = purger
        self._series: deque[dict[str, Any]] = deque(maxlen=settings.history_points)
        self._overview: dict[str, Any] = {"seq": 0, "groups": [], "series": []}
        self._lock = threading.Lock()
        self._paused: dict[str, PauseState] = {}
        sampler.listeners.append(self._on_sample)
        sampler.monitor.held = self._held_topics

    def start(self) -> None:
        self.sampler.start()
        if self.purger is not None:
            self.purger.start()

    def stop(self) -> None:
        self.sampler.stop()
        if self.purger is not None:
            self.purger.stop()
        if self.dead_letters is not None:
            self.dead_letters.close()
        if self.store is not None:
            self.store.dispose()

    def overview(self) -> dict[str, Any]:
        with self._lock:
            sample = self._overview
        return sample | {"throughput": self.throughput(), "maintenance": self.maintenance()}

    def maintenance(self) -> dict[str, Any]:
        """The scheduled purge of expired idempotency keys: interval, last run, totals."""
        if self.purger is None:
            return {"idempotency_purge": None}
        return {"idempotency_purge": self.purger.view()}

    # -- actions -----------------------------------------------------------------------------

    def replay_dead_letter(self, dead_letter_id: str, by: str) -> dict[str, Any]:
        """Replay one dead letter (at most once ever, see the ledger); the replay plan, whose
        ``skipped`` says why nothing was sent."""
        if self.box is None:
            raise ActionUnavailableError("the ops service has no dead-letter box configured")
        box = self.box
        letter = box.find(box.read_all(), dead_letter_id)
        (plan,) = box.replay([letter], dry_run=False, by=by)
        return plan.as_dict()

    def set_paused(self, job_type: str, paused: bool, by: str) -> dict[str, Any]:
        """Pause or resume a job type on the control topic the workers follow."""
        if self.control is None:
            raise ActionUnavailableError("the ops service has no control topic configured")
        if self.job_types and job_type not in self.job_types:
            raise UnknownJobTypeError(job_type, sorted(self.job_types))
        state = self.control.set_paused(job_type, paused, by)
        with self._lock:
            self._paused[job_type] = state
            self._overview = self._overview | {"job_types": self._job_type_view()}
        return state.as_dict()

    # -- sampling ----------------------------------------------------------------------------

    def _on_sample(self, snapshot: LagSnapshot) -> None:
        point = {
            "t": snapshot.observed_at,
            "groups": {
                report.target.group: {
                    "total_lag": report.lag.total_lag,
                    "max_lag_seconds": report.lag.max_lag_seconds,
                    "workers": report.lag.members,
                    "status": report.status_name,
                }
                for report in snapshot.groups
                if report.lag is not None
            },
        }
        self._series.append(point)
        overview = snapshot.as_dict()
        for group in overview["groups"]:
            group["autoscaler"] = self._autoscaler(group["group"])
            group["topics"] = fold_topics(group["partitions"])
        paused = self._read_paused()
        overview |= {"series": list(self._series), "dead_letters": self._dead_letters()}
        with self._lock:
            if paused is not None:
                self._paused = paused
            self._overview = overview | {"job_types": self._job_type_view()}

    def _held_topics(self) -> dict[str, str]:
        """Topics of paused job types: their frozen offsets are the pause, not a stall. The
        page's own view (fresh right after its own action), same rule as `dpp lag`'s."""
        from dpp_shared.control import held_topics  # noqa: PLC0415

        with self._lock:
            paused = dict(self._paused)
        return held_topics(paused, self.job_types)

    def _job_type_view(self) -> list[dict[str, Any]]:
        names = sorted(set(self.job_types) | set(self._paused))
        return [
            {
                "job_type": name,
                "topics": list(self.job_types.get(name, ())),
                "paused": name in self._paused and self._paused[name].paused,
                "switched": self._paused[name].as_dict() if name in self._paused else None,
            }
            for name in names
        ]

    def _read_paused(self) -> dict[str, PauseState] | None:
        if self.control is None:
            return None
        try:
            return self.control.states()
        except Exception as error:
            log.warning("reading the control topic failed: %s", error)
            return None

    def _autoscaler(self, group: str) -> dict[str, Any] | None:
        """What a local `dpp consumer autoscale` last published for ``group``, if one runs."""
        from dpp_ops.autoscale.supervisor import read_status_file  # noqa: PLC0415
        from dpp_ops.paths import dpp_home  # noqa: PLC0415

        folder = self.settings.autoscale_dir or dpp_home() / "autoscale"
        status = read_status_file(folder / f"{group}.json")
        return None if status is None else status.as_dict()

    def throughput(self) -> dict[str, Any]:
        """Jobs finished per bucket, read from the job store now.

        Never from an earlier read: "jobs finished per 10 s" showed 0 right after the demo's
        jobs because the panel served a read taken before they committed (the snapshot of the
        last lag sample, later a 1 s cache). The page polls every 2 s, so the cache never
        spared one tab a read anyway; with many tabs, each pays its own read.
        """
        return self._read_throughput()

    def _read_throughput(self) -> dict[str, Any]:
        from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415

        from dpp_ops.page.throughput import job_counts, job_throughput  # noqa: PLC0415

        settings = self.settings
        result: dict[str, Any] = {"bucket_s": settings.throughput_bucket_s, "buckets": []}
        if self.store is None:
            return result | {"error": "no job store configured"}
        now = datetime.now(UTC)
        try:
            buckets = job_throughput(
                self.store,
                now=now,
                buckets=settings.throughput_buckets,
                width_s=settings.throughput_bucket_s,
            )
            counts = job_counts(self.store)
        except SQLAlchemyError as error:
            return result | {"error": f"job store: {type(error).__name__}"}
        return result | {
            "buckets": [b.as_dict() for b in buckets],
            "counts": counts,
            "read_at": now.timestamp(),
        }

    def _dead_letters(self) -> dict[str, Any]:
        if self.dead_letters is None:
            return {"topic": None, "recent": []}
        try:
            recent = self.dead_letters.recent(self.settings.dead_letter_limit)
            arrived = self.dead_letters.arrived()
            marks = self.box.replayed() if self.box is not None else {}
        except Exception as error:
            log.warning("reading dead letters failed: %s", error)
            return {"topic": self.dead_letters.topic, "recent": [], "error": str(error)}
        views = []
        for letter in recent:
            mark = marks.get(letter.id)
            replayed = None if mark is None else {"new_job_id": mark.new_job_id, "by": mark.by}
            views.append(letter.summary() | {"replayed": replayed})
        return {"topic": self.dead_letters.topic, "arrived": arrived, "recent": views}


def build_service(
    settings: OpsSettings, groups: tuple[str, ...] = (), topics: tuple[str, ...] = ()
) -> OpsService:
    """The service wired from the environment (`KAFKA_*`, `DATABASE_URL`, `DPP_*`); nothing
    connects until :meth:`OpsService.start`."""
    from dpp_ops.control import ControlTopic  # noqa: PLC0415
    from dpp_ops.dead_letters import DeadLetterBox, DeadLetterReader  # noqa: PLC0415
    from dpp_ops.exporters import LagMonitor, default_targets  # noqa: PLC0415
    from dpp_ops.lag.paused import worker_job_types  # noqa: PLC0415
    from dpp_ops.purge import IdempotencyPurger  # noqa: PLC0415
    from dpp_shared.kafka_config import (  # noqa: PLC0415
        admin_config,
        consumer_config,
        producer_config,
    )
    from dpp_shared.settings import (  # noqa: PLC0415
        aws_settings,
        database_settings,
        kafka_settings,
        topic_settings,
    )
    from dpp_shared.topics import DEAD_LETTER_TOPIC, TopicNamespace  # noqa: PLC0415
    from dpp_store import IdempotencyStore  # noqa: PLC0415
    from dpp_store.engine import create_store_engine  # noqa: PLC0415

    store = create_store_engine(database_settings().database_url)
    purger = (
        IdempotencyPurger(IdempotencyStore(store), settings.purge_interval_s)
        if settings.purge_interval_s > 0
        else None
    )
    targets = default_targets(groups, topics) if groups else None  # None: every group
    monitor = LagMonitor.from_settings(targets, topics=topics, store=store)
    sampler = LagSampler(monitor, settings.interval_s)
    kafka, aws = kafka_settings(), aws_settings()
    config = admin_config(kafka, aws)
    namespace = TopicNamespace(topic_settings().topic_prefix)
    box = DeadLetterBox(
        consumer_config(kafka, aws, group_id="dpp-ops-dead-letters", role="ops"),
        producer_config(kafka, aws, role="ops-replay"),
        namespace,
    )
    return OpsService(
        sampler,
        settings,
        store=store,
        dead_letters=DeadLetterReader(namespace.physical(DEAD_LETTER_TOPIC), config),
        box=box,
        control=ControlTopic(config, namespace),
        job_types=worker_job_types(namespace),
        purger=purger,
    )
