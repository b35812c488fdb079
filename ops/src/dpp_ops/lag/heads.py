"""Head jobs: the job store's RUNNING job at a partition's committed offset, and its heartbeat."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select

from dpp_store import JobStatus
from dpp_store.schema import jobs_table

_Key = tuple[str, int]


@dataclass(frozen=True, slots=True)
class HeadJob:
    """The job a worker is running on the record at a partition's committed offset."""

    job_id: str
    job_type: str
    progress: float
    heartbeat_at: float
    """Epoch seconds of the job record's ``updated_at``: its start, or its last progress report
    or checkpoint, whichever is newest."""

    def reason(self, now: float) -> str:
        return (
            f"head job {self.job_id} ({self.job_type}) is running, "
            f"{self.progress:.0%} done, heartbeat {max(0.0, now - self.heartbeat_at):.0f}s ago"
        )


class HeadJobReader:
    """Finds the running head job of each partition, read-only, from the job store.

    The committed offset of a partition is the offset of the first record its group has not
    finished, so a RUNNING job whose source is exactly that offset is the job holding the
    partition back. Its ``updated_at`` is its heartbeat: a fresh one means the offset is frozen
    because a long job is working, not because the worker is stuck.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def heads(self, committed: Iterable[tuple[str, int, int]]) -> dict[_Key, HeadJob]:
        """The running job at each (topic, partition, committed offset), where there is one."""
        wanted = {(topic, partition): offset for topic, partition, offset in committed}
        if not wanted:
            return {}
        c = jobs_table.c
        # Running jobs are few (workers x concurrency): read them all on the watched topics
        # and match in Python, one query shaped the same on SQLite and PostgreSQL.
        query = select(
            c.id, c.job_type, c.progress, c.updated_at, c.source_topic, c.source_partition,
            c.source_offset,
        ).where(
            c.status == JobStatus.RUNNING.value,
            c.source_topic.in_(sorted({topic for topic, _ in wanted})),
        )  # fmt: skip
        found: dict[_Key, HeadJob] = {}
        with self.engine.connect() as connection:
            for row in connection.execute(query):
                key = (str(row.source_topic), int(row.source_partition))
                if wanted.get(key) != row.source_offset:
                    continue
                updated: datetime = row.updated_at
                head = HeadJob(row.id, row.job_type, float(row.progress), updated.timestamp())
                previous = found.get(key)
                if previous is None or head.heartbeat_at > previous.heartbeat_at:
                    found[key] = head
        return found


def configured_store() -> Engine | None:
    """The job store of `DATABASE_URL`, when one is configured or the default SQLite file
    exists; None otherwise, so a plain `dpp lag` never creates an empty database."""
    import os  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    from sqlalchemy.engine import make_url  # noqa: PLC0415

    from dpp_shared.settings import database_settings  # noqa: PLC0415
    from dpp_store.engine import create_store_engine  # noqa: PLC0415

    url = database_settings().database_url
    if "DATABASE_URL" not in os.environ:
        database = make_url(url).database
        if not database or not Path(database).exists():
            return None
    return create_store_engine(url, pool_size=1, max_overflow=1)
