"""The job registry (one declaration per job) and the context handed to handlers."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from pydantic import BaseModel

from dpp_consumer.context import Cancellation, JobContext
from dpp_consumer.errors import JobCancelledError, JobDeadlineExceededError, JobRegistrationError
from dpp_consumer.jobs import default_jobs
from dpp_consumer.jobs.echo import EchoResult
from dpp_consumer.jobs.registry import JobRegistry, default_job_type
from dpp_shared.envelope import EventEnvelope
from dpp_shared.events.payloads import DemoEchoRequestedV1
from dpp_shared.ids import new_id
from dpp_store import JobStore
from tests.store.factories import job_start


def test_the_default_jobs_cover_every_job_event_type() -> None:
    jobs = {spec.event_type.name: spec for spec in default_jobs()}
    assert set(jobs) == {
        "demo.echo.requested.v1",
        "persona.embedding.requested.v1",
        "persona.tone.classification.requested.v1",
        "persona.index.rebuild.requested.v1",
    }
    assert jobs["demo.echo.requested.v1"].batchable
    assert jobs["persona.index.rebuild.requested.v1"].ordered
    assert jobs["persona.index.rebuild.requested.v1"].timeout_s >= 600


def test_worker_start_does_not_import_the_models() -> None:
    import subprocess
    import sys

    probe = (
        "import sys; from dpp_consumer.service import build_worker; "
        "from dpp_consumer.jobs import default_jobs; default_jobs(); "
        "print('numpy' in sys.modules, 'dpp_consumer.ml' in sys.modules)"
    )
    shown = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert shown.stdout.split() == ["False", "False"]


def test_registration_errors_are_explicit() -> None:
    registry = JobRegistry()

    def handler(ctx: JobContext[DemoEchoRequestedV1]) -> EchoResult:
        raise AssertionError

    registry.job("demo.echo.requested.v1", result=EchoResult)(handler)
    with pytest.raises(JobRegistrationError, match="already has a job"):
        registry.job("demo.echo.requested.v1", result=EchoResult)(handler)
    with pytest.raises(JobRegistrationError, match="not a known event type"):
        registry.job("nope.v1", result=EchoResult)(handler)
    with pytest.raises(JobRegistrationError, match="no job handles"):
        registry.select(("persona.embedding.requested.v1",))
    assert default_job_type("persona.embedding.requested.v1") == "persona.embedding"


def make_context(deadline_in_s: float = 60.0, **options: object) -> JobContext[BaseModel]:
    payload = DemoEchoRequestedV1(session_id="s", message="m")
    return JobContext(
        job_id="job-1",
        job_type="echo",
        payload=payload,
        envelope=EventEnvelope(source="/t", type="demo.echo.requested.v1", data={}),
        attempt=1,
        deadline=time.monotonic() + deadline_in_s,
        started_at=datetime.now(UTC),
        **options,  # type: ignore[arg-type]
    )


def test_progress_reports_are_clamped_and_throttled_but_the_last_always_lands() -> None:
    reports: list[tuple[str, float, str | None]] = []
    ctx = make_context(progress_sink=lambda *report: reports.append(report))
    ctx.report_progress(0.1, "a")
    ctx.report_progress(0.2, "b")  # within the throttle interval: dropped
    ctx.report_progress(7, "done")
    assert reports == [("job-1", 0.1, "a"), ("job-1", 1.0, "done")]


def test_cancellation_and_deadline_stop_a_job() -> None:
    cancellation = Cancellation()
    ctx = make_context(cancellation=cancellation)
    ctx.raise_if_cancelled()
    cancellation.cancel("partition revoked")
    assert ctx.cancelled
    with pytest.raises(JobCancelledError, match="partition revoked"):
        ctx.raise_if_cancelled()
    with pytest.raises(JobDeadlineExceededError):
        make_context(deadline_in_s=-1).raise_if_cancelled()


def test_a_checkpoint_lands_with_its_progress_even_when_the_report_is_throttled(
    store: JobStore,
) -> None:
    # The flaky ML run: the first chunk's checkpoint (64 of 448) was saved, then its progress
    # report fell within the throttle interval of the 0.0 report and was dropped.
    job_id = new_id()
    store.begin(job_start(job_id))
    ctx = replace(
        make_context(
            progress_sink=store.report_progress,
            checkpoint_loader=store.load_checkpoint,
            checkpoint_saver=store.save_checkpoint,
        ),
        job_id=job_id,
    )
    ctx.report_progress(0.0, "0/448 documents embedded")
    ctx.save_checkpoint({"done": 64}, progress=64 / 448, message="64/448 documents embedded")
    ctx.report_progress(64 / 448, "64/448 documents embedded")  # throttled: dropped
    record = store.get(job_id)
    assert record is not None
    assert ctx.load_checkpoint() == {"done": 64}
    assert record.progress == pytest.approx(64 / 448)
    assert record.progress_message == "64/448 documents embedded"
