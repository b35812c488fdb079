"""`dpp up`: the whole local stack (sandbox, topics, producer API, workers) in one command."""

from __future__ import annotations

import os
import signal
import time
import urllib.request
from types import FrameType
from typing import Annotated

import typer

from dpp_cli.console import err, fail, out
from dpp_ops.paths import dpp_home, sandbox_home

READY_TIMEOUT_S = 120.0


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback URL
            return bool(response.status == 200)
    except OSError:
        return False


def _apply_topics(bootstrap: str) -> None:
    from confluent_kafka.admin import AdminClient  # noqa: PLC0415

    from dpp_ops.topic_admin import apply_topics  # noqa: PLC0415
    from dpp_shared.settings import topic_settings  # noqa: PLC0415
    from dpp_shared.topics import TopicNamespace, declared_topics  # noqa: PLC0415

    admin = AdminClient({"bootstrap.servers": bootstrap})
    apply_topics(admin, declared_topics(), TopicNamespace(topic_settings().topic_prefix))


def up(
    kafka_port: Annotated[int, typer.Option(help="Sandbox broker port.")] = 9092,
    producer_port: Annotated[int, typer.Option(help="Producer API port.")] = 8080,
    metrics_port: Annotated[
        int, typer.Option(help="Autoscaler's Prometheus port (worker count, decisions).")
    ] = 9100,
    ops_port: Annotated[int, typer.Option(help="Ops page port.")] = 8090,
) -> None:
    """Start everything locally on the embedded defaults and keep it running until Ctrl-C.

    Starts the Kafka sandbox (unless running), applies the topics, serves the producer API, runs
    the lag-driven autoscaler with its workers and serves the ops page; logs go to .dpp/logs/.
    Ctrl-C drains the workers and stops what it started.
    """
    from dpp_cli.sandbox import KafkaSandbox, SandboxError  # noqa: PLC0415
    from dpp_cli.stack.processes import ServiceProcess, dpp_command, wait_for  # noqa: PLC0415

    home = dpp_home()
    logs = home / "logs"
    sandbox = KafkaSandbox(sandbox_home(), port=kafka_port)
    sandbox_was_running = sandbox.status().running
    try:
        status = sandbox.up(progress=lambda msg: err.print(f"[dim]… {msg}[/]"))
    except SandboxError as error:
        fail(str(error))
        return
    bootstrap = str(status.bootstrap_servers)
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "DPP_ENV": os.environ.get("DPP_ENV", "sandbox"),
        "DATABASE_URL": os.environ.get("DATABASE_URL", f"sqlite:///{home / 'jobs.db'}"),
        "PYTHONUNBUFFERED": "1",
    }
    err.print("[dim]… applying topics[/]")
    try:
        _apply_topics(bootstrap)
    except Exception as error:
        fail(f"could not apply topics: {error}")
    services = [
        ServiceProcess(
            "producer",
            dpp_command("producer", "serve", "--port", str(producer_port)),
            env,
            logs / "producer.log",
        ),
        ServiceProcess(
            "workers",
            dpp_command("consumer", "autoscale", "--metrics-port", str(metrics_port)),
            env,
            logs / "autoscale.log",
        ),
        ServiceProcess(
            "ops",
            dpp_command("ops", "serve", "--port", str(ops_port)),
            env,
            logs / "ops.log",
        ),
    ]
    stopping = False

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    for service in services:
        err.print(f"[dim]… starting {service.name}[/]")
        service.start()
    producer_url = f"http://127.0.0.1:{producer_port}"
    ready = wait_for(
        lambda: (
            stopping
            or not all(s.running for s in services)
            or (
                _http_ok(f"{producer_url}/healthz")
                and _http_ok(f"http://127.0.0.1:{metrics_port}/metrics")
                and _http_ok(f"http://127.0.0.1:{ops_port}/healthz")
            )
        ),
        READY_TIMEOUT_S,
    )
    crashed = [s for s in services if not s.running]
    if not ready or crashed:
        for service in services:
            service.stop()
        details = "\n".join(f"--- {s.name} ---\n{s.log_tail()}" for s in crashed or services)
        fail(f"the stack did not become ready:\n{details}")
    out.print("[bold green]dpp-events is up[/] (Ctrl-C to stop)")
    out.print(f"  Kafka sandbox   {bootstrap}")
    out.print(f"  producer API    {producer_url}  (OpenAPI: {producer_url}/docs)")
    out.print(f"  ops page        http://127.0.0.1:{ops_port}/  (lag, workers, throughput)")
    out.print(f"  autoscaler      http://127.0.0.1:{metrics_port}/metrics  (workers follow lag)")
    out.print(f"  logs            {logs}/")
    out.print("  next            [bold]uv run dpp demo[/] in another terminal")
    while not stopping:
        if crashed := [s for s in services if not s.running]:
            err.print(f"[red]{crashed[0].name} exited[/]:\n{crashed[0].log_tail()}")
            break
        time.sleep(0.5)
    err.print("[dim]… stopping (workers drain first)[/]")
    for service in reversed(services):
        service.stop()
    if not sandbox_was_running:
        sandbox.down()
    out.print("stopped")
