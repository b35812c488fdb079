"""The job registry: one `@job(...)` declaration binds an event type to its handler and result."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from dpp_consumer.context import JobContext
from dpp_consumer.errors import JobRegistrationError
from dpp_shared.events import REGISTRY, EventRegistry, EventType

Handler = Callable[[JobContext[Any]], BaseModel]
HandlerT = TypeVar("HandlerT", bound=Callable[..., BaseModel])

DEFAULT_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class JobSpec:
    """One job: which event starts it, the handler, the result model and how it is scheduled.

    `batchable` jobs are fast (microseconds): many of them share one pool task and one store
    transaction. Others run one per pool task. `ordered` comes from the event type: events with
    the same key run one at a time, in offset order.
    """

    event_type: EventType
    job_type: str
    handler: Handler
    result: type[BaseModel]
    timeout_s: float
    batchable: bool

    @property
    def ordered(self) -> bool:
        return self.event_type.ordered


def default_job_type(event_type_name: str) -> str:
    """`persona.embedding.requested.v1` -> `persona.embedding`."""
    stem = event_type_name.rsplit(".", 1)[0]
    return stem.removesuffix(".requested")


class JobRegistry:
    """Job specs by event type name. The worker consumes the topics of the registered types."""

    def __init__(self, events: EventRegistry = REGISTRY) -> None:
        self._events = events
        self._jobs: dict[str, JobSpec] = {}

    def job(
        self,
        event_type: str,
        *,
        result: type[BaseModel],
        job_type: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        batchable: bool = False,
    ) -> Callable[[HandlerT], HandlerT]:
        """Declare `handler` as the job run for `event_type`; returns the handler unchanged."""

        def register(handler: HandlerT) -> HandlerT:
            if event_type not in self._events:
                raise JobRegistrationError(
                    f"{event_type!r} is not a known event type: {', '.join(self._events.names())}"
                )
            if event_type in self._jobs:
                raise JobRegistrationError(f"{event_type!r} already has a job handler")
            self._jobs[event_type] = JobSpec(
                event_type=self._events.get(event_type),
                job_type=job_type or default_job_type(event_type),
                handler=handler,
                result=result,
                timeout_s=timeout_s,
                batchable=batchable,
            )
            return handler

        return register

    def get(self, event_type: str) -> JobSpec | None:
        return self._jobs.get(event_type)

    def __iter__(self) -> Iterator[JobSpec]:
        return iter(sorted(self._jobs.values(), key=lambda spec: spec.event_type.name))

    def __contains__(self, event_type: object) -> bool:
        return event_type in self._jobs

    def select(self, event_types: tuple[str, ...]) -> JobRegistry:
        """A registry limited to `event_types` (all when empty); unknown names are an error."""
        if not event_types:
            return self
        unknown = [name for name in event_types if name not in self._jobs]
        if unknown:
            raise JobRegistrationError(
                f"no job handles {', '.join(unknown)}; jobs: {', '.join(sorted(self._jobs))}"
            )
        subset = JobRegistry(self._events)
        subset._jobs = {name: self._jobs[name] for name in event_types}
        return subset


JOBS = JobRegistry()
job = JOBS.job
