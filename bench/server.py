"""The producer API under test: uvicorn in its own process(es), as `dpp producer serve` runs it,
from this checkout or from a baseline commit's worktree (`Subject`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from bench.workload import batch_body, single_body
from dpp_ops.ports import free_port
from dpp_producer.auth import mint_token

# A strong, bench-only secret: DPP_ENV=sandbox accepts it and so does any environment.
JWT_SECRET = "bench-only-jwt-secret-" + "0123456789abcdef" * 2
READY_TIMEOUT_S = 60.0
REPO = Path(__file__).resolve().parents[1]


def _warm_up(url: str, token: str, workers: int) -> None:
    """A few requests per worker process first: lazy imports and the Kafka connection are
    cold-start costs (measured by the cold-start scenario), not steady-state ones."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        for _ in range(8 * workers):
            client.post("/v1/events", content=single_body()).raise_for_status()
            client.post("/v1/events:batch", content=batch_body(10)).raise_for_status()


@dataclass(frozen=True)
class Subject:
    """Whose code a measurement runs: this checkout, or a worktree of an earlier commit with
    its own virtualenv (`bench run --baseline-ref`)."""

    label: str
    python: str = sys.executable
    root: Path = REPO

    @property
    def is_baseline(self) -> bool:
        return self.root != REPO


THIS_CHECKOUT = Subject("this checkout")


SERVERS = ("uvicorn", "granian")


def server_command(server: str, python: str, port: int, workers: int) -> list[str]:
    """The producer API under `server` (uvicorn: httptools and uvloop where installed, as
    `dpp producer serve` runs it; granian: its ASGI interface with uvloop), access log off, the
    app built by its factory in every worker."""
    if server == "granian":
        return [
            python, "-m", "granian", "--interface", "asgi", "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
            "--loop", "uvloop", "--http", "1", "--no-ws", "--log-level", "warning",
            "dpp_producer.app:create_app",
        ]  # fmt: skip
    return [
        python, "-m", "uvicorn", "dpp_producer.app:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip


def server_available(server: str, subject: Subject) -> bool:
    completed = subprocess.run(
        [subject.python, "-c", f"import {server}"], capture_output=True, check=False, timeout=60
    )
    return completed.returncode == 0


def server_label(workers: int, server: str = "uvicorn") -> str:
    return f"{server} workers={workers}"


@dataclass(frozen=True)
class RunningServer:
    url: str
    port: int
    workers: int
    token: str
    pid: int
    log_path: Path

    @property
    def authorization(self) -> str:
        return f"Bearer {self.token}"


TRACING_ENVIRONMENT: dict[str, str] = {"DPP_TRACING": "off"}
"""What the API under test is told about tracing: off (whatever the caller's shell says), unless
`bench run --tracing` switched it to otlp towards the run's local sink (`otlp_sink`)."""


def server_environment(bootstrap: str, prefix: str, database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "DPP_TOPIC_PREFIX": prefix,
        "DPP_ENV": "sandbox",
        "JWT_SECRET": JWT_SECRET,
        "DATABASE_URL": database_url,
        **TRACING_ENVIRONMENT,
    }


class _OtlpSink(BaseHTTPRequestHandler):
    """Accepts OTLP/HTTP exports and drops them, as a collector that keeps up would."""

    exports = 0  # export requests received (one per batch of spans), to show tracing was on

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        type(self).exports += 1
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        return


@contextmanager
def otlp_sink() -> Iterator[str]:
    """A local OTLP/HTTP endpoint for the API under test (`--tracing`), so the measurement
    includes making and exporting spans but no real collector; yields its base URL and, at
    the end, says on stderr how many export requests it received."""
    _OtlpSink.exports = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OtlpSink)
    thread = threading.Thread(target=server.serve_forever, name="otlp-sink", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
        print(f"   OTLP sink: {_OtlpSink.exports} span exports received", file=sys.stderr)


@contextmanager
def producer_server(
    bootstrap: str,
    prefix: str,
    *,
    workers: int = 1,
    database_url: str | None = None,
    profile_to: Path | None = None,
    extra_env: dict[str, str] | None = None,
    subject: Subject = THIS_CHECKOUT,
    server: str = "uvicorn",
) -> Iterator[RunningServer]:
    """Start the API (`server_command`) with auth on (JWT_SECRET) and wait until /healthz
    answers; the access log is off (the app logs every accepted event).
    With `profile_to`, one process runs under pyinstrument and writes its profile there. Its
    temporary folder (log, SQLite files) is removed afterwards."""
    port = free_port()
    home = Path(tempfile.mkdtemp(prefix="dpp-bench-api-"))
    log_path = home / "server.log"
    database_url = database_url or f"sqlite:///{home / 'jobs.db'}"
    command = server_command(server, subject.python, port, workers)
    if profile_to is not None:
        command = [sys.executable, "-m", "bench.profiled_api", str(port), str(profile_to)]
    environment = server_environment(bootstrap, prefix, database_url)
    environment["PYTHONPATH"] = str(subject.root)
    environment.pop("VIRTUAL_ENV", None)
    environment.update(extra_env or {})
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command,
            env=environment,
            cwd=subject.root,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"producer API exited:\n{log_path.read_text()[-3000:]}")
            with suppress(httpx.HTTPError):
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("producer API did not answer /healthz")
            time.sleep(0.1)
        token = mint_token(JWT_SECRET, subject="bench", scope="events:*", ttl_s=24 * 3600)
        _warm_up(url, token, workers)
        yield RunningServer(url, port, workers, token, process.pid, log_path)
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, 15)
        try:
            # A profiled server writes its profile on the way out, which takes a while.
            process.wait(120 if profile_to is not None else 20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait(10)
        # One run's per-event log lines came to 144 MB: never leave them behind.
        shutil.rmtree(home, ignore_errors=True)
