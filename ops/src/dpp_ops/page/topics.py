"""Partitions of a group folded by topic for the page: retry tiers under their job topic, worst
first, so 84 partitions read as a handful of rows with what needs attention on top."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

_RETRY = re.compile(r"^(?P<base>.+)\.retry\.(?P<tier>\d+)$")
# Severity order of the lag statuses (lag.status.LagStatus); UNKNOWN sorts with ERR.
_SEVERITY = {"OK": 1, "WARN": 2, "ERR": 3, "UNKNOWN": 3, "STOP": 4, "STALL": 5, "REWIND": 6}


def severity(status: str | None) -> int:
    return _SEVERITY.get(status or "UNKNOWN", 3)


def partition_order(partition: Mapping[str, Any]) -> tuple[int, int, str, int]:
    """Anything not OK first (worst first), then by lag, largest first."""
    not_ok = severity(partition.get("status")) > 1
    return (-int(not_ok) * severity(partition.get("status")), -int(partition.get("lag") or 0),
            str(partition.get("topic")), int(partition.get("partition") or 0))  # fmt: skip


def fold_topics(partitions: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per job topic (retry tiers folded in), sorted like the partitions inside it:
    worst status first, then by lag. Each row keeps its partitions, sorted the same way."""
    rows: dict[str, dict[str, Any]] = {}
    for partition in partitions:
        topic = str(partition["topic"])
        match = _RETRY.match(topic)
        base = match["base"] if match else topic
        row = rows.setdefault(
            base,
            {"topic": base, "tiers": [], "partitions": [], "lag": 0, "lag_seconds": None,
             "status": "OK", "not_ok": 0},
        )  # fmt: skip
        if match and topic not in row["tiers"]:
            row["tiers"].append(topic)
        row["partitions"].append({**partition, "tier": int(match["tier"]) if match else 0})
        row["lag"] += int(partition.get("lag") or 0)
        seconds = partition.get("lag_seconds")
        if seconds is not None:
            row["lag_seconds"] = max(row["lag_seconds"] or 0.0, float(seconds))
        status = str(partition.get("status") or "UNKNOWN")
        if severity(status) > 1:
            row["not_ok"] += 1
        if severity(status) > severity(row["status"]):
            row["status"] = status
    for row in rows.values():
        row["tiers"].sort()
        row["partitions"].sort(key=partition_order)
    return sorted(
        rows.values(),
        key=lambda r: (-severity(r["status"]) if r["not_ok"] else 0, -r["lag"], r["topic"]),
    )
