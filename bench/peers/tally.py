"""What a peer's handler really processed: a count and the wall-clock times of the first and
last record, written as JSON to $BENCH_COUNT_TO when the peer exits (the scenario reads it and
refuses to print a ratio unless the count equals the records sent)."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

COUNT_ENV = "BENCH_COUNT_TO"


class Tally:
    """Thread-safe: job threads and the poll thread of a worker may both count."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.processed = 0
        self.first: float | None = None
        self.last: float | None = None

    def add(self, count: int = 1) -> None:
        now = time.time()
        with self._lock:
            if self.first is None:
                self.first = now
            self.processed += count
            self.last = now

    def write(self, path: str | None = None) -> None:
        """To `path`, else $BENCH_COUNT_TO, else nowhere (the peer ran by hand)."""
        target = path or os.environ.get(COUNT_ENV)
        if not target:
            return
        with self._lock:
            document = {"processed": self.processed, "first": self.first, "last": self.last}
        Path(target).write_text(json.dumps(document))


@dataclass(frozen=True)
class Counted:
    """A peer's tally as read back by the scenario."""

    processed: int
    first: float | None
    last: float | None

    @classmethod
    def read(cls, path: Path) -> Counted:
        document = json.loads(path.read_text())
        return cls(int(document["processed"]), document["first"], document["last"])
