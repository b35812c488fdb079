"""The ops service's state: lag samples, their time series, job throughput and dead letters."""

from __future__ import annotations

import logging
import threading
from collections import deque
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from dpp_ops.exporters import LagSampler, LagSnapshot
from dpp_ops.page.settings import OpsSettings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from dpp_ops.dead_letters import DeadLetterReader

log = logging.getLogger("dpp.ops")


class OpsService:
    """Everything the page shows, refreshed once per lag sample on the sampler thread, so one
    ``/api/overview`` answer is one consistent sample (its ``seq`` says which)."""

    def __init__(
        self,
        sampler: LagSampler,
        settings: OpsSettings,
        *,
        store: Engine | None = None,
        dead_letters: DeadLetterReader | None = None,
    ) -> None:
        self.sampler = sampler
        self.settings = settings
        self.store = store
        self.dead_letters = dead_letters
        self._series: deque[dict[str, Any]] = deque(maxlen=settings.history_points)
        self._overview: dict[str, Any] = {"seq": 0, "groups": [], "series": []}
        self._lock = threading.Lock()
        sampler.listeners.append(self._on_sample)

    def start(self) -> None:
        self.sampler.start()

    def stop(self) -> None:
        self.sampler.stop()
        if self.dead_letters is not None:
            self.dead_letters.close()
        if self.store is not None:
            self.store.dispose()

    def overview(self) -> dict[str, Any]:
        with self._lock:
            return self._overview

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
        overview |= {
            "series": list(self._series),
            "throughput": self._throughput(),
            "dead_letters": self._dead_letters(),
        }
        with self._lock:
            self._overview = overview

    def _autoscaler(self, group: str) -> dict[str, Any] | None:
        """What a local `dpp consumer autoscale` last published for ``group``, if one runs."""
        from dpp_ops.autoscale.supervisor import read_status_file  # noqa: PLC0415
        from dpp_ops.paths import dpp_home  # noqa: PLC0415

        folder = self.settings.autoscale_dir or dpp_home() / "autoscale"
        status = read_status_file(folder / f"{group}.json")
        return None if status is None else status.as_dict()

    def _throughput(self) -> dict[str, Any]:
        from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415

        from dpp_ops.page.throughput import job_counts, job_throughput  # noqa: PLC0415

        settings = self.settings
        result: dict[str, Any] = {"bucket_s": settings.throughput_bucket_s, "buckets": []}
        if self.store is None:
            return result | {"error": "no job store configured"}
        try:
            buckets = job_throughput(
                self.store,
                now=datetime.now(UTC),
                buckets=settings.throughput_buckets,
                width_s=settings.throughput_bucket_s,
            )
            counts = job_counts(self.store)
        except SQLAlchemyError as error:
            return result | {"error": f"job store: {type(error).__name__}"}
        return result | {"buckets": [b.as_dict() for b in buckets], "counts": counts}

    def _dead_letters(self) -> dict[str, Any]:
        if self.dead_letters is None:
            return {"topic": None, "recent": []}
        try:
            recent = self.dead_letters.recent(self.settings.dead_letter_limit)
            arrived = self.dead_letters.arrived()
        except Exception as error:
            log.warning("reading dead letters failed: %s", error)
            return {"topic": self.dead_letters.topic, "recent": [], "error": str(error)}
        return {
            "topic": self.dead_letters.topic,
            "arrived": arrived,
            "recent": [letter.summary() for letter in recent],
        }


def build_service(
    settings: OpsSettings, groups: tuple[str, ...] = (), topics: tuple[str, ...] = ()
) -> OpsService:
    """The service wired from the environment (`KAFKA_*`, `DATABASE_URL`, `DPP_*`); nothing
    connects until :meth:`OpsService.start`."""
    from dpp_ops.dead_letters import DeadLetterReader  # noqa: PLC0415
    from dpp_ops.exporters import LagMonitor, default_targets  # noqa: PLC0415
    from dpp_shared.kafka_config import admin_config  # noqa: PLC0415
    from dpp_shared.settings import (  # noqa: PLC0415
        aws_settings,
        database_settings,
        kafka_settings,
        topic_settings,
    )
    from dpp_shared.topics import DEAD_LETTER_TOPIC, TopicNamespace  # noqa: PLC0415
    from dpp_store.engine import create_store_engine  # noqa: PLC0415

    store = create_store_engine(database_settings().database_url)
    targets = default_targets(groups, topics) if groups else None  # None: every group
    monitor = LagMonitor.from_settings(targets, topics=topics, store=store)
    sampler = LagSampler(monitor, settings.interval_s)
    config = admin_config(kafka_settings(), aws_settings())
    dead_topic = TopicNamespace(topic_settings().topic_prefix).physical(DEAD_LETTER_TOPIC)
    return OpsService(
        sampler,
        settings,
        store=store,
        dead_letters=DeadLetterReader(dead_topic, config),
    )
