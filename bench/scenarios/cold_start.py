"""Cold start of the producer's Lambda handler: import, app creation, first request, and the
deployment zip's size; `python -X importtime` shows what the import spends its time on."""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

from bench.broker import fresh_namespace
from bench.context import BenchContext
from bench.results import ScenarioResult, Target
from bench.server import JWT_SECRET, REPO
from bench.workload import single_body
from dpp_producer.auth import mint_token

TARGET_IMPORT_AND_APP_MS = 120.0
EVENT_FIXTURE = REPO / "tests" / "producer" / "events" / "apigw_v2_post_event.json"


def _lambda_event(token: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(EVENT_FIXTURE.read_text().replace("<TOKEN>", token))
    body = single_body().decode()
    event["body"] = body
    event["headers"]["content-length"] = str(len(body))
    return event


def _environment(ctx: BenchContext, prefix: str) -> dict[str, str]:
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": ctx.bootstrap,
        "DPP_TOPIC_PREFIX": prefix,
        "DPP_ENV": "sandbox",
        "JWT_SECRET": JWT_SECRET,
        "DATABASE_URL": f"sqlite:///{ctx.work_dir / 'cold-start.db'}",
        "POWERTOOLS_SERVICE_NAME": "dpp-producer",
        "AWS_LAMBDA_FUNCTION_NAME": "dpp-producer",
        "PYTHONPATH": str(REPO),
    }


def _import_profile(env: dict[str, str]) -> str:
    """The slowest imports (cumulative) of the handler module, from `python -X importtime`."""
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import dpp_producer.lambda_handler"],
        env=env, capture_output=True, text=True, check=True, cwd=REPO,
    )  # fmt: skip
    rows = []
    for line in completed.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if match:
            rows.append((int(match.group(2)), len(match.group(3)), match.group(4)))
    top = sorted(rows, reverse=True)[:25]
    lines = ["cumulative_us  depth  module"]
    lines += [f"{cumulative:>12}  {depth // 2:>5}  {module}" for cumulative, depth, module in top]
    return "\n".join(lines)


def _build_zip(ctx: BenchContext) -> tuple[Path | None, dict[str, Any] | None, str | None]:
    try:
        from dpp_producer.lambda_package import LambdaTarget, build_lambda_zip
    except ImportError:
        return None, None, "dpp_producer.lambda_package is not there yet: zip not measured"
    started = time.perf_counter()
    path = ctx.work_dir / "producer-lambda.zip"
    try:
        # The zip for this interpreter's runtime, which runs it here: the declared runtime's
        # wheels (python3.13) would not load in this Python. Its imports are the same code.
        here = LambdaTarget(f"python{sys.version_info.major}.{sys.version_info.minor}")
        report = build_lambda_zip(path, target=here)
    except Exception as error:  # building needs the package index; report, do not crash
        return None, None, f"dpp producer package failed: {type(error).__name__}: {error}"
    return (
        path,
        {
            "zipped_mb": round(report.zipped_bytes / 1e6, 2),
            "unzipped_mb": round(report.unzipped_bytes / 1e6, 2),
            "files": report.files,
            "build_s": round(time.perf_counter() - started, 1),
        },
        None,
    )


def _samples(command: list[str], env: dict[str, str], runs: int) -> list[dict[str, Any]]:
    samples = []
    for _ in range(runs):
        completed = subprocess.run(
            command, env=env, capture_output=True, text=True, check=True, cwd=REPO, timeout=120
        )
        samples.append(json.loads(completed.stdout.strip().splitlines()[-1]))
    return samples


def _ratio(
    measured: dict[str, float | int | str | None], baseline: dict[str, float | int | str | None]
) -> float | None:
    ours, theirs = measured["import_and_app_ms"], baseline["import_and_app_ms"]
    if isinstance(ours, int | float) and isinstance(theirs, int | float) and theirs:
        return ours / theirs
    return None


def _median(samples: list[dict[str, Any]]) -> dict[str, float | int | str | None]:
    statuses = sorted({status for sample in samples for status in sample["statuses"]})
    median: dict[str, float | int | str | None] = {
        name: round(statistics.median(sample[name] for sample in samples), 1)
        for name in (
            "import_ms", "app_creation_ms", "import_and_app_ms",
            "first_request_ms", "second_request_ms",
        )
    }  # fmt: skip
    median["statuses"] = ",".join(map(str, statuses))
    return median


def run(ctx: BenchContext) -> ScenarioResult:
    runs = ctx.pick(2, 7)
    result = ScenarioResult(
        "cold-start",
        "6. Cold start: the producer's Lambda handler",
        ctx.command("cold-start"),
        {
            "runs": runs,
            "handler": "dpp_producer.lambda_handler.handler",
            "event": "tests/producer/events/apigw_v2_post_event.json with a 1 KB demo.echo body",
            "statistic": "median of fresh processes (each a new execution environment)",
            "from_zip": "the zip of `dpp producer package` unpacked and run with `python -S` "
            "(only the zip's modules and its precompiled bytecode, as on Lambda)",
            "from_venv": "the dev venv with bytecode cached (one warm-up run not counted)",
        },
    )
    token = mint_token(JWT_SECRET, subject="bench", scope="events:*")
    event_path = ctx.work_dir / "lambda-event.json"
    event_path.write_text(json.dumps(_lambda_event(token)))
    peer = [sys.executable, "-m", "bench.peers.cold_start", str(event_path)]
    zip_path, zip_report, problem = (
        _build_zip(ctx) if not ctx.quick else (None, None, "zip skipped in --quick")
    )
    with fresh_namespace(ctx.bootstrap) as namespace:
        env = _environment(ctx, namespace.prefix)
        # This box sets PYTHONDONTWRITEBYTECODE; Lambda runs from precompiled bytecode.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        venv = _median(_samples(peer, env, runs + 1)[1:])
        result.add_metrics("from the dev venv (median)", venv)
        judged = venv
        if zip_path is not None:
            root = ctx.work_dir / "lambda-root"
            with zipfile.ZipFile(zip_path) as archive:
                archive.extractall(root)
            zip_env = {**env, "PYTHONPATH": f"{root}:{REPO}"}
            zip_peer = [sys.executable, "-S", *peer[1:]]
            with_app = _median(_samples(zip_peer, {**zip_env, "BENCH_COLD_WITH_APP": "1"}, runs))
            from_zip = _median(_samples(zip_peer, zip_env, runs))
            result.add_metrics(
                "from the deployment zip, FastAPI app and Mangum built too (the path before "
                "the Lambda ingest path; median)",
                with_app,
            )
            result.add_metrics(
                "from the deployment zip, python -S (median)", from_zip,
                baseline="FastAPI app and Mangum built too",
                ratio=_ratio(from_zip, with_app),
            )  # fmt: skip
            judged = from_zip
        result.profiles["python -X importtime -c 'import dpp_producer.lambda_handler'"] = (
            _import_profile(env)
        )
        if ctx.profile:
            profile = ctx.work_dir / "cold-start.profile.txt"
            subprocess.run(
                peer, env={**env, "BENCH_PROFILE_TO": str(profile)},
                capture_output=True, check=True, cwd=REPO, timeout=120,
            )  # fmt: skip
            result.profiles["import + app creation, dev venv (pyinstrument)"] = profile.read_text()
    value = judged["import_and_app_ms"]
    result.targets.append(
        Target("import + app creation", float(value) if isinstance(value, float | int) else None,
               TARGET_IMPORT_AND_APP_MS, False, "ms")
    )  # fmt: skip
    if zip_report is not None:
        result.add_metrics("deployment zip (dpp producer package)", dict(zip_report))
    if problem:
        result.notes.append(problem)
    result.notes.append(
        "the target is judged on the zip run when there is one; the first request includes the "
        "Kafka connection and the broker's acknowledgement; interpreter start-up is not counted."
    )
    return result
