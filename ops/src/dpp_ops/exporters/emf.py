"""CloudWatch Embedded Metric Format documents for lag, workers and dead letters (DPP/Events)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TextIO

from dpp_ops.exporters.monitor import LagSnapshot

EMF_NAMESPACE = "DPP/Events"


def emf_document(
    snapshot: LagSnapshot,
    *,
    timestamp_ms: int,
    dead_letters: Mapping[str, int] | None = None,
    namespace: str = EMF_NAMESPACE,
) -> list[dict[str, Any]]:
    """EMF documents for one snapshot: per group and topic `ConsumerLagMessages` (sum over the
    partitions) and `ConsumerLagSeconds` (oldest partition), dimensions ConsumerGroup+Topic; per
    group `WorkerCount` and `DeadLetters` (new dead letters since the previous publication),
    dimension ConsumerGroup. These are the names the alarms and ECS scaling in infra/ read.

    A lag age the engine could not read is left out rather than published as 0.
    """
    documents: list[dict[str, Any]] = []
    for report in snapshot.groups:
        if report.lag is None:
            continue
        group = report.target.group
        totals: dict[str, int] = {}
        ages: dict[str, float | None] = {}
        for entry in report.lag.partitions:
            totals[entry.topic] = totals.get(entry.topic, 0) + entry.lag_messages
            if entry.lag_seconds is not None:
                ages[entry.topic] = max(entry.lag_seconds, ages.get(entry.topic) or 0.0)
        for topic in sorted(totals):
            metrics: list[dict[str, str]] = [{"Name": "ConsumerLagMessages", "Unit": "Count"}]
            values: dict[str, Any] = {"ConsumerLagMessages": totals[topic]}
            if topic in ages:
                metrics.append({"Name": "ConsumerLagSeconds", "Unit": "Seconds"})
                values["ConsumerLagSeconds"] = round(ages[topic] or 0.0, 3)
            documents.append(
                _document(namespace, timestamp_ms, ["ConsumerGroup", "Topic"], metrics)
                | {"ConsumerGroup": group, "Topic": topic}
                | values
            )
        metrics = [{"Name": "WorkerCount", "Unit": "Count"}]
        values = {"WorkerCount": report.lag.members}
        if dead_letters is not None and group in dead_letters:
            metrics.append({"Name": "DeadLetters", "Unit": "Count"})
            values["DeadLetters"] = dead_letters[group]
        documents.append(
            _document(namespace, timestamp_ms, ["ConsumerGroup"], metrics)
            | {"ConsumerGroup": group}
            | values
        )
    return documents


def write_emf(documents: list[dict[str, Any]], stream: TextIO) -> None:
    """One JSON object per line: what the CloudWatch agent and Lambda/ECS log drivers parse."""
    for document in documents:
        stream.write(json.dumps(document, separators=(",", ":")) + "\n")
    stream.flush()


def _document(
    namespace: str, timestamp_ms: int, dimensions: list[str], metrics: list[dict[str, str]]
) -> dict[str, Any]:
    return {
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [
                {"Namespace": namespace, "Dimensions": [dimensions], "Metrics": metrics}
            ],
        }
    }
