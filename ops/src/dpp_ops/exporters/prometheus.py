"""Prometheus view of lag snapshots, named like kafka-lag-exporter and kminion metrics."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from dpp_ops.exporters.monitor import LagSnapshot

# Numeric values of the status gauges; the same order as Burrow's (and dpp_ops.lag).
STATUS_HELP = "1=OK 2=WARN 3=ERR 4=STOP 5=STALL 6=REWIND 0=unknown"


class LagCollector(Collector):
    """Renders the newest snapshot on every scrape; reading is done by the sampler, so a scrape
    never waits on the broker and every scraper sees the same numbers as the CLI and the page."""

    def __init__(self, latest: Callable[[], LagSnapshot | None]) -> None:
        self._latest = latest

    def collect(self) -> Iterator[Metric]:
        snapshot = self._latest()
        g = "group"
        gtp = ["group", "topic", "partition"]
        lag = GaugeMetricFamily(
            "kafka_consumergroup_group_lag", "Lag in messages per partition", labels=gtp
        )
        lag_s = GaugeMetricFamily(
            "kafka_consumergroup_group_lag_seconds",
            "Age in seconds of the oldest unprocessed record per partition",
            labels=gtp,
        )
        offset = GaugeMetricFamily(
            "kafka_consumergroup_group_offset", "Committed offset per partition", labels=gtp
        )
        latest = GaugeMetricFamily(
            "kafka_partition_latest_offset",
            "End offset lag is measured to (LSO under read_committed)",
            labels=["topic", "partition"],
        )
        part_status = GaugeMetricFamily(
            "kafka_consumergroup_partition_status",
            f"Burrow-style partition status: {STATUS_HELP}",
            labels=gtp,
        )
        topic_sum = GaugeMetricFamily(
            "kafka_consumergroup_group_topic_sum_lag",
            "Lag in messages summed per group and topic",
            labels=["group", "topic"],
        )
        sum_lag = GaugeMetricFamily(
            "kafka_consumergroup_group_sum_lag", "Lag in messages summed per group", labels=[g]
        )
        max_lag_s = GaugeMetricFamily(
            "kafka_consumergroup_group_max_lag_seconds",
            "Age of the oldest unprocessed record of the group",
            labels=[g],
        )
        status = GaugeMetricFamily(
            "kafka_consumergroup_group_status",
            f"Burrow-style group status: {STATUS_HELP}",
            labels=[g],
        )
        members = GaugeMetricFamily(
            "kafka_consumergroup_members", "Members of the consumer group", labels=[g]
        )
        workers = GaugeMetricFamily(
            "dpp_workers", "Worker processes consuming for the group (its members)", labels=[g]
        )
        up = GaugeMetricFamily(
            "kafka_consumergroup_poll_success", "1 if the last lag read succeeded", labels=[g]
        )
        seen_partitions: set[tuple[str, int]] = set()
        for report in snapshot.groups if snapshot else ():
            group = report.target.group
            up.add_metric([group], 0.0 if report.lag is None else 1.0)
            if report.lag is None:
                continue
            verdicts = (
                {(p.topic, p.partition): int(p.status) for p in report.status.partitions}
                if report.status
                else {}
            )
            per_topic: dict[str, int] = {}
            for entry in report.lag.partitions:
                labels = [group, entry.topic, str(entry.partition)]
                lag.add_metric(labels, entry.lag_messages)
                if entry.lag_seconds is not None:
                    lag_s.add_metric(labels, entry.lag_seconds)
                if entry.committed_offset is not None:
                    offset.add_metric(labels, entry.committed_offset)
                part_status.add_metric(labels, verdicts.get((entry.topic, entry.partition), 0))
                per_topic[entry.topic] = per_topic.get(entry.topic, 0) + entry.lag_messages
                if (entry.topic, entry.partition) not in seen_partitions:
                    seen_partitions.add((entry.topic, entry.partition))
                    latest.add_metric([entry.topic, str(entry.partition)], entry.end_offset)
            for topic, total in sorted(per_topic.items()):
                topic_sum.add_metric([group, topic], total)
            sum_lag.add_metric([group], report.lag.total_lag)
            if report.lag.max_lag_seconds is not None:
                max_lag_s.add_metric([group], report.lag.max_lag_seconds)
            status.add_metric([group], int(report.status.status) if report.status else 0)
            members.add_metric([group], report.lag.members)
            workers.add_metric([group], report.lag.members)
        yield from (lag, lag_s, offset, latest, part_status, topic_sum, sum_lag, max_lag_s)
        yield from (status, members, workers, up)
