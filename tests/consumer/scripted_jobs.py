"""Test jobs for the worker tests: the echo event type bound to a handler scripted by its message.

`sleep:<seconds>` sleeps (waking early when cancelled), `retriable`, `permanent` and `crash`
fail in those ways, `count:<name>` appends the job id to the file `<name>` (to count runs
across processes), and anything else echoes. Also runnable as a worker process:
`python tests/consumer/scripted_jobs.py` (settings from the environment).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from dpp_consumer.context import JobContext
from dpp_consumer.errors import PermanentJobError, RetriableJobError
from dpp_consumer.jobs.echo import EchoResult
from dpp_consumer.jobs.registry import JobRegistry
from dpp_shared.events.payloads import DemoEchoRequestedV1

ECHO = "demo.echo.requested.v1"


def run_scripted(ctx: JobContext[DemoEchoRequestedV1]) -> EchoResult:
    message = ctx.payload.message
    command, _, argument = message.partition(":")
    if command in {"count", "sleep"}:
        # Each run is recorded before doing anything, so tests can count runs, not results.
        runs, _, seconds = argument.partition(":") if command == "count" else ("", "", argument)
        if runs:
            with Path(runs).open("a") as log:
                log.write(f"{ctx.job_id} {ctx.attempt}\n")
        if seconds:
            deadline = time.monotonic() + float(seconds)
            while (remaining := deadline - time.monotonic()) > 0:
                ctx.report_progress(1 - remaining / float(seconds), "sleeping")
                if ctx.cancellation.wait(min(remaining, 0.2)):
                    ctx.raise_if_cancelled()
    elif command == "retriable":
        raise RetriableJobError(f"transient trouble on attempt {ctx.attempt}")
    elif command == "permanent":
        raise PermanentJobError("this request can never succeed")
    elif command == "crash":
        raise ValueError("handler bug")
    return EchoResult(session_id=ctx.payload.session_id, message=message)


def scripted_jobs(*, batchable: bool = False) -> JobRegistry:
    registry = JobRegistry()
    registry.job(ECHO, result=EchoResult, job_type="scripted", batchable=batchable)(run_scripted)
    return registry


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from dpp_consumer.service import run_worker

    run_worker(registry=scripted_jobs())
