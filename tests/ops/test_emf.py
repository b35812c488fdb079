"""CloudWatch EMF documents: the exact JSON the infra alarms and ECS scaling read."""

from __future__ import annotations

import io
import json

from dpp_ops.exporters import EMF_NAMESPACE, GroupReport, LagSnapshot, WatchTarget, emf_document
from dpp_ops.exporters.emf import write_emf
from dpp_ops.lag import (
    GroupLag,
    GroupStatus,
    LagSource,
    LagStatus,
    PartitionLag,
    PartitionStatus,
)


def partition(topic: str, number: int, lag: int, seconds: float | None) -> PartitionLag:
    return PartitionLag(
        group="workers", topic=topic, partition=number, committed_offset=5, log_start_offset=0,
        log_end_offset=5 + lag, end_offset=5 + lag, position=5, source=LagSource.COMMITTED,
        lag_messages=lag, lag_seconds=seconds, first_pending_offset=5 if lag else None,
        first_pending_timestamp=None, owner="w-1", observed_at=1_700_000_000.0,
    )  # fmt: skip


def snapshot() -> LagSnapshot:
    entries = (
        partition("dpp.demo.echo", 0, 7, 12.5),
        partition("dpp.demo.echo", 1, 3, 40.25),
        partition("dpp.demo.echo.retry.1", 0, 0, 0.0),
        partition("dpp.persona.embedding", 0, 2, None),  # age unknown: probe timed out
    )
    lag = GroupLag("workers", "STABLE", 2, entries, 1_700_000_000.0)
    status = GroupStatus(
        "workers",
        LagStatus.OK,
        tuple(PartitionStatus(p.topic, p.partition, LagStatus.OK, "", True, p.lag_messages)
              for p in entries),
        complete=True,
        total_lag=12,
    )  # fmt: skip
    report = GroupReport(WatchTarget("workers", ()), lag, status, {})
    return LagSnapshot(1, lag.observed_at, (report,))


def test_emf_documents_are_exactly_what_cloudwatch_and_infra_expect() -> None:
    documents = emf_document(
        snapshot(), timestamp_ms=1_700_000_000_000, dead_letters={"workers": 4}
    )

    def lag_doc(topic: str, messages: int, seconds: float | None) -> dict[str, object]:
        metrics = [{"Name": "ConsumerLagMessages", "Unit": "Count"}]
        values: dict[str, object] = {"ConsumerLagMessages": messages}
        if seconds is not None:
            metrics.append({"Name": "ConsumerLagSeconds", "Unit": "Seconds"})
            values["ConsumerLagSeconds"] = seconds
        return {
            "_aws": {
                "Timestamp": 1_700_000_000_000,
                "CloudWatchMetrics": [
                    {
                        "Namespace": "DPP/Events",
                        "Dimensions": [["ConsumerGroup", "Topic"]],
                        "Metrics": metrics,
                    }
                ],
            },
            "ConsumerGroup": "workers",
            "Topic": topic,
            **values,
        }

    assert documents == [
        lag_doc("dpp.demo.echo", 10, 40.25),
        lag_doc("dpp.demo.echo.retry.1", 0, 0.0),
        lag_doc("dpp.persona.embedding", 2, None),
        {
            "_aws": {
                "Timestamp": 1_700_000_000_000,
                "CloudWatchMetrics": [
                    {
                        "Namespace": "DPP/Events",
                        "Dimensions": [["ConsumerGroup"]],
                        "Metrics": [
                            {"Name": "WorkerCount", "Unit": "Count"},
                            {"Name": "DeadLetters", "Unit": "Count"},
                        ],
                    }
                ],
            },
            "ConsumerGroup": "workers",
            "WorkerCount": 2,
            "DeadLetters": 4,
        },
    ]
    assert EMF_NAMESPACE == "DPP/Events"


def test_emf_lines_are_one_compact_json_object_each() -> None:
    stream = io.StringIO()
    write_emf(emf_document(snapshot(), timestamp_ms=1), stream)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 4
    parsed = [json.loads(line) for line in lines]
    # Every declared metric has a value and every dimension a key: what CloudWatch requires.
    for document in parsed:
        (directive,) = document["_aws"]["CloudWatchMetrics"]
        for metric in directive["Metrics"]:
            assert isinstance(document[metric["Name"]], int | float)
        for name in directive["Dimensions"][0]:
            assert isinstance(document[name], str)
    assert "DeadLetters" not in parsed[-1]  # not given: not published
