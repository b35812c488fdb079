"""Lag metrics straight to CloudWatch (PutMetricData), for the lag-publisher service in AWS.

The metric data is derived from the very EMF documents `dpp lag export --emf` prints, so the
namespace, names, units and dimensions the scaling policy and alarms read have one source.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Protocol

# PutMetricData takes at most 1000 metric data per request.
MAX_DATA_PER_CALL = 1000


class MetricsClient(Protocol):
    """The one CloudWatch call the publisher needs (a boto3 `cloudwatch` client has it)."""

    def put_metric_data(self, **request: Any) -> Any: ...


def metric_data(documents: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """PutMetricData entries per namespace, one per metric of each EMF document."""
    by_namespace: dict[str, list[dict[str, Any]]] = {}
    for document in documents:
        emf = document["_aws"]
        timestamp = datetime.fromtimestamp(emf["Timestamp"] / 1000, UTC)
        for directive in emf["CloudWatchMetrics"]:
            for dimension_set in directive["Dimensions"]:
                dimensions = [
                    {"Name": name, "Value": str(document[name])} for name in dimension_set
                ]
                for metric in directive["Metrics"]:
                    by_namespace.setdefault(directive["Namespace"], []).append(
                        {
                            "MetricName": metric["Name"],
                            "Dimensions": dimensions,
                            "Timestamp": timestamp,
                            "Value": float(document[metric["Name"]]),
                            "Unit": metric.get("Unit", "None"),
                        }
                    )
    return by_namespace


def _chunks(items: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), MAX_DATA_PER_CALL):
        yield items[start : start + MAX_DATA_PER_CALL]


def put_metrics(client: MetricsClient, documents: list[dict[str, Any]]) -> int:
    """Publish the documents' metrics; the number of metric data sent."""
    sent = 0
    for namespace, data in metric_data(documents).items():
        for chunk in _chunks(data):
            client.put_metric_data(Namespace=namespace, MetricData=chunk)
            sent += len(chunk)
    return sent
