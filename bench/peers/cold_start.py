"""`python -m bench.peers.cold_start EVENT_JSON`: one fresh Lambda execution environment: time
the handler module's import, the app creation (what the first invocation builds), the first
invocation (Kafka connection included) and a second one; prints JSON. The environment carries
KAFKA_BOOTSTRAP_SERVERS, DPP_TOPIC_PREFIX, JWT_SECRET, DPP_ENV and DATABASE_URL; with
BENCH_COLD_WITH_APP=1 the app creation also builds the FastAPI app and Mangum adapter (what every
cold start built before POST /v1/events went straight to the ingest service)."""

from __future__ import annotations

import time

_STARTED = time.perf_counter()

import json  # noqa: E402 - the clock starts before any import
import os  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402


class _Context:
    function_name = "dpp-producer"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:dpp-producer"
    memory_limit_in_mb = 512
    aws_request_id = "6f1d2c3b-1111-2222-3333-444455556666"
    log_group_name = "/aws/lambda/dpp-producer"
    log_stream_name = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def main() -> None:
    event: dict[str, Any] = json.loads(Path(sys.argv[1]).read_text())
    profile_to = os.environ.get("BENCH_PROFILE_TO")
    profiler = None
    if profile_to:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001)
        profiler.start()
    before_import = time.perf_counter()
    from dpp_producer import lambda_handler

    imported = time.perf_counter()
    current = lambda_handler.container()
    if os.environ.get("BENCH_COLD_WITH_APP"):
        # What a cold start built before the Lambda ingest path: the FastAPI app and Mangum.
        _ = current.adapter
    created = time.perf_counter()
    if profiler is not None and profile_to:
        from bench.profiling import render

        profiler.stop()
        Path(profile_to).write_text(render(profiler))
    first = lambda_handler.handler(event, _Context())
    answered = time.perf_counter()
    second = lambda_handler.handler(event, _Context())
    again = time.perf_counter()
    print(
        json.dumps(
            {
                "import_ms": (imported - before_import) * 1e3,
                "app_creation_ms": (created - imported) * 1e3,
                "import_and_app_ms": (created - before_import) * 1e3,
                "first_request_ms": (answered - created) * 1e3,
                "second_request_ms": (again - answered) * 1e3,
                "since_process_clock_ms": (answered - _STARTED) * 1e3,
                "statuses": [first["statusCode"], second["statusCode"]],
                "modules": len(sys.modules),
            }
        )
    )
    lambda_handler.container().runtime.publisher.close(5.0)


if __name__ == "__main__":
    main()
