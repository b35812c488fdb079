"""Keeps a LagHistory in a JSON file between runs, so `dpp lag` from cron sees a window."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dpp_ops.lag import LagHistory


def load_history(history: LagHistory, path: Path, groups: list[str]) -> None:
    """Add the observations stored in ``path`` (missing or unreadable file: nothing)."""
    from dpp_ops.lag import Observation  # noqa: PLC0415

    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    for group in groups:
        for entry in stored.get(group, []):
            for observation in entry["observations"]:
                history.add(group, entry["topic"], entry["partition"], Observation(**observation))


def save_history(history: LagHistory, path: Path, groups: list[str]) -> None:
    """Write the current windows of ``groups`` to ``path`` atomically."""
    stored = {
        group: [
            {"topic": topic, "partition": partition, "observations": [asdict(o) for o in window]}
            for (topic, partition), window in sorted(history.windows(group).items())
        ]
        for group in groups
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".tmp")
    partial.write_text(json.dumps(stored))
    partial.replace(path)
