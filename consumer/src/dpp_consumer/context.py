"""What a job handler receives: payload, envelope, attempt, deadline, progress, cancellation."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel

from dpp_consumer.errors import JobCancelledError, JobDeadlineExceededError
from dpp_shared.envelope import EventEnvelope

PayloadT = TypeVar("PayloadT", bound=BaseModel)

ProgressSink = Callable[[str, float, str | None], None]
CheckpointLoader = Callable[[str], dict[str, Any] | None]


class CheckpointSaver(Protocol):
    """Writes a checkpoint and, when given, the progress it stands for, in one store write."""

    def __call__(
        self,
        job_id: str,
        checkpoint: dict[str, Any],
        /,
        *,
        progress: float | None = None,
        message: str | None = None,
    ) -> None: ...


# Handlers report progress as often as they like; the store sees at most this many writes a
# second per job (the first and the final report always go through).
PROGRESS_MIN_INTERVAL_S = 0.5


class Cancellation:
    """A flag the worker raises when a job must stop (revocation, drain); handlers poll it."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""

    def cancel(self, reason: str) -> None:
        self.reason = self.reason or reason
        self._event.set()

    @property
    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout_s: float) -> bool:
        """Sleep up to `timeout_s`, waking early (and returning True) when cancelled."""
        return self._event.wait(timeout_s)


def _ignore_progress(_job_id: str, _progress: float, _message: str | None) -> None:
    return None


def _no_checkpoint(_job_id: str) -> dict[str, Any] | None:
    return None


def _drop_checkpoint(
    _job_id: str,
    _checkpoint: dict[str, Any],
    *,
    progress: float | None = None,
    message: str | None = None,
) -> None:
    return None


@dataclass
class JobContext(Generic[PayloadT]):
    """Everything one run of a job may use. `deadline` is a `time.monotonic()` instant."""

    job_id: str
    job_type: str
    payload: PayloadT
    envelope: EventEnvelope
    attempt: int
    deadline: float
    started_at: datetime
    cancellation: Cancellation = field(default_factory=Cancellation)
    progress_sink: ProgressSink = _ignore_progress
    checkpoint_loader: CheckpointLoader = _no_checkpoint
    checkpoint_saver: CheckpointSaver = _drop_checkpoint
    _last_progress_at: float = field(default=0.0, repr=False)

    @property
    def correlation_id(self) -> str | None:
        return self.envelope.correlationid

    @property
    def cancelled(self) -> bool:
        return self.cancellation.is_set

    @property
    def remaining_s(self) -> float:
        return self.deadline - time.monotonic()

    def raise_if_cancelled(self) -> None:
        """Stop here if the worker asked the job to stop or its deadline has passed."""
        if self.cancellation.is_set:
            raise JobCancelledError(self.cancellation.reason or "cancelled")
        if time.monotonic() > self.deadline:
            raise JobDeadlineExceededError(f"job {self.job_id} ran past its deadline")

    def report_progress(self, progress: float, message: str | None = None) -> None:
        """Record progress in [0, 1]; stored in the job store and shown by `GET /v1/jobs/{id}`."""
        progress = min(max(progress, 0.0), 1.0)
        now = time.monotonic()
        if progress < 1.0 and now - self._last_progress_at < PROGRESS_MIN_INTERVAL_S:
            return
        self._last_progress_at = now
        self.progress_sink(self.job_id, progress, message)

    def load_checkpoint(self) -> dict[str, Any] | None:
        """The last checkpoint saved by any attempt of this job (survives worker restarts)."""
        return self.checkpoint_loader(self.job_id)

    def save_checkpoint(
        self, checkpoint: dict[str, Any], progress: float | None = None, message: str | None = None
    ) -> None:
        """Keep a checkpoint a later attempt resumes from. Pass the `progress` it stands for:
        both are written together (progress reports alone are throttled and may lag behind)."""
        if progress is None:
            self.checkpoint_saver(self.job_id, checkpoint)
            return
        progress = min(max(progress, 0.0), 1.0)
        self._last_progress_at = time.monotonic()
        self.checkpoint_saver(self.job_id, checkpoint, progress=progress, message=message)
