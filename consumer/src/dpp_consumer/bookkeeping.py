"""How a unit's jobs are recorded in the job store: two strategies behind one small interface.

- ``StartFirst`` (slow jobs): mark each job running before its handler runs, so `GET /v1/jobs`
  shows `running` and progress, then record the result.
- ``FinishTogether`` (fast, batchable jobs): read the records without taking the write lock, run
  the handlers, then begin and finish every success in one transaction. A job another worker
  finished meanwhile gets no second result (the store's guarded transition decides).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from dpp_consumer.dispatch import Job
from dpp_consumer.handler_call import ProgressStore
from dpp_store import JobRecord, JobStart

_T = TypeVar("_T")
StoreCall = Callable[[Callable[[], _T]], _T]


class JobBook(ProgressStore, Protocol):
    """The job-store calls a worker makes (the real JobStore, or a benchmark's null store)."""

    def migrate(self) -> None: ...
    def close(self) -> None: ...

    def begin_many(self, starts: Iterable[JobStart]) -> dict[str, JobRecord]: ...
    def get_many(self, job_ids: Iterable[str]) -> dict[str, JobRecord]: ...
    def succeed_many(self, results: Mapping[str, dict[str, Any]]) -> set[str]: ...
    def finish_many(
        self, starts: Sequence[JobStart], results: Mapping[str, dict[str, Any]]
    ) -> set[str]: ...
    def fail(self, job_id: str, error: str, *, dead: bool) -> bool: ...
    def begin(self, start: JobStart) -> JobRecord: ...
    def heartbeat(self, job_ids: list[str]) -> int: ...


class Bookkeeping(Protocol):
    """One way of recording a unit's jobs; every store call goes through ``call`` (which waits
    out an unavailable database)."""

    def known(self, jobs: list[Job], call: StoreCall[Any]) -> dict[str, JobRecord | None]:
        """What the store knows of each job before its handler runs (None: never seen)."""

    def attempt(self, job: Job, record: JobRecord | None) -> int:
        """The attempt number this run is."""

    def succeed(self, successes: Mapping[str, tuple[Job, dict[str, Any]]]) -> set[str]:
        """Record results; the ids whose result this worker recorded (the others lost a race)."""

    def begun(
        self, failures: list[Job], known: Mapping[str, JobRecord | None], call: StoreCall[Any]
    ) -> dict[str, JobRecord]:
        """The started records of jobs whose handler failed, before their failure is recorded."""


class StartFirst:
    """Slow jobs: begin (running, attempts + 1) before the handler, succeed after it."""

    def __init__(self, store: JobBook) -> None:
        self.store = store

    def known(self, jobs: list[Job], call: StoreCall[Any]) -> dict[str, JobRecord | None]:
        begun: dict[str, JobRecord] = call(
            lambda: self.store.begin_many([job.start() for job in jobs])
        )
        return dict(begun)

    def attempt(self, job: Job, record: JobRecord | None) -> int:
        return max(job.delivery.attempt, record.attempts if record else 1)

    def succeed(self, successes: Mapping[str, tuple[Job, dict[str, Any]]]) -> set[str]:
        return self.store.succeed_many(
            {job_id: result for job_id, (_, result) in successes.items()}
        )

    def begun(
        self, failures: list[Job], known: Mapping[str, JobRecord | None], call: StoreCall[Any]
    ) -> dict[str, JobRecord]:
        return {job.job_id: record for job in failures if (record := known[job.job_id])}


class FinishTogether:
    """Fast jobs: read first (no write lock), then begin and succeed in one transaction."""

    def __init__(self, store: JobBook) -> None:
        self.store = store

    def known(self, jobs: list[Job], call: StoreCall[Any]) -> dict[str, JobRecord | None]:
        found: dict[str, JobRecord] = call(
            lambda: self.store.get_many([job.job_id for job in jobs])
        )
        return {job.job_id: found.get(job.job_id) for job in jobs}

    def attempt(self, job: Job, record: JobRecord | None) -> int:
        return max(job.delivery.attempt, (record.attempts if record else 0) + 1)

    def succeed(self, successes: Mapping[str, tuple[Job, dict[str, Any]]]) -> set[str]:
        return self.store.finish_many(
            [job.start() for job, _ in successes.values()],
            {job_id: result for job_id, (_, result) in successes.items()},
        )

    def begun(
        self, failures: list[Job], known: Mapping[str, JobRecord | None], call: StoreCall[Any]
    ) -> dict[str, JobRecord]:
        begun: dict[str, JobRecord] = call(
            lambda: self.store.begin_many([job.start() for job in failures])
        )
        return begun
