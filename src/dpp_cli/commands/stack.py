"""`dpp up`: the whole local stack (sandbox, topics, producer API, workers) in one command."""

from __future__ import annotations

import os
import time
import urllib.request
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
    Ctrl-C, SIGTERM, SIGHUP (the terminal closed) or a closed output (e.g. `| tee` ended) drains
    the workers and stops what it started; if `dpp up` itself dies, the kernel stops its children.
    """
    from dpp_cli.stack.stopping import (  # noqa: PLC0415
        StopRequested,
        silence_output,
        stop_signals_deferred,
        stop_signals_raise,
    )

    stack = _LocalStack(kafka_port, producer_port, metrics_port, ops_port)
    code = 0
    with stop_signals_raise():
        try:
            stack.start()
            stack.serve()
        except StopRequested:
            pass
        except typer.Exit as exit_:
            code = exit_.exit_code
        except BaseException:
            # A crash of `dpp up` itself: stop what it started, then let the traceback show.
            with stop_signals_deferred():
                stack.stop()
            raise
        with stop_signals_deferred():
            stack.stop()
    if code:
        raise typer.Exit(code)
    if stack.output_lost:
        silence_output()


class _LocalStack:
    """What `dpp up` started, so that every way out stops exactly that."""

    def __init__(self, kafka_port: int, producer_port: int, metrics_port: int, ops_port: int):
        from dpp_cli.sandbox import KafkaSandbox  # noqa: PLC0415
        from dpp_cli.stack.processes import ServiceProcess  # noqa: PLC0415

        self.home = dpp_home()
        self.logs = self.home / "logs"
        self.producer_port = producer_port
        self.metrics_port = metrics_port
        self.ops_port = ops_port
        # Attached: if `dpp up` is killed outright, the broker it started goes with it.
        self.sandbox = KafkaSandbox(sandbox_home(), port=kafka_port, attached=True)
        self.started_sandbox = False
        self.services: list[ServiceProcess] = []
        self.output_lost = False

    def _say(self, message: str, *, stdout: bool = False) -> None:
        from dpp_cli.stack.stopping import say  # noqa: PLC0415

        console = out if stdout else err
        say(console.print, message)

    def start(self) -> None:
        from dpp_cli.sandbox import SandboxError  # noqa: PLC0415
        from dpp_cli.stack.processes import ServiceProcess, dpp_command, wait_for  # noqa: PLC0415

        self.started_sandbox = not self.sandbox.status().running
        try:
            status = self.sandbox.up(progress=lambda msg: self._say(f"[dim]… {msg}[/]"))
        except SandboxError as error:
            self.started_sandbox = False  # `up` stopped what it had started
            fail(str(error))
            return
        bootstrap = str(status.bootstrap_servers)
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "DPP_ENV": os.environ.get("DPP_ENV", "sandbox"),
            "DATABASE_URL": os.environ.get("DATABASE_URL", f"sqlite:///{self.home / 'jobs.db'}"),
            "PYTHONUNBUFFERED": "1",
        }
        self._say("[dim]… applying topics[/]")
        try:
            _apply_topics(bootstrap)
        except Exception as error:
            fail(f"could not apply topics: {error}")
        logs = self.logs
        self.services = [
            ServiceProcess(
                "producer",
                dpp_command("producer", "serve", "--port", str(self.producer_port)),
                env,
                logs / "producer.log",
            ),
            ServiceProcess(
                "workers",
                dpp_command("consumer", "autoscale", "--metrics-port", str(self.metrics_port)),
                env,
                logs / "autoscale.log",
            ),
            ServiceProcess(
                "ops",
                dpp_command("ops", "serve", "--port", str(self.ops_port)),
                env,
                logs / "ops.log",
            ),
        ]
        for service in self.services:
            self._say(f"[dim]… starting {service.name}[/]")
            service.start()
        producer_url = f"http://127.0.0.1:{self.producer_port}"
        ready = wait_for(
            lambda: (
                not all(s.running for s in self.services)
                or (
                    _http_ok(f"{producer_url}/healthz")
                    and _http_ok(f"http://127.0.0.1:{self.metrics_port}/metrics")
                    and _http_ok(f"http://127.0.0.1:{self.ops_port}/healthz")
                )
            ),
            READY_TIMEOUT_S,
        )
        crashed = [s for s in self.services if not s.running]
        if not ready or crashed:
            details = "\n".join(
                f"--- {s.name} ---\n{s.log_tail()}" for s in crashed or self.services
            )
            fail(f"the stack did not become ready:\n{details}")
        for line in (
            "[bold green]dpp-events is up[/] (Ctrl-C to stop)",
            f"  Kafka sandbox   {bootstrap}",
            f"  producer API    {producer_url}  (OpenAPI: {producer_url}/docs)",
            f"  ops page        http://127.0.0.1:{self.ops_port}/  (lag, workers, throughput)",
            f"  autoscaler      http://127.0.0.1:{self.metrics_port}/metrics  (workers follow lag)",
            f"  logs            {logs}/",
            "  next            [bold]uv run dpp demo[/] in another terminal",
        ):
            self._say(line, stdout=True)

    def serve(self) -> None:
        """Return when a service exits or nobody can read our output any more; a stop signal
        raises `StopRequested` out of the sleep."""
        from dpp_cli.stack.stopping import output_closed  # noqa: PLC0415

        while True:
            if crashed := [s for s in self.services if not s.running]:
                self._say(f"[red]{crashed[0].name} exited[/]:\n{crashed[0].log_tail()}")
                return
            if output_closed():
                # Typically `dpp up | tee log` whose tee was stopped: whoever watched is gone.
                self.output_lost = True
                return
            time.sleep(0.5)

    def stop(self) -> None:
        """Stop the services (workers drain first), then the sandbox if this run started it."""
        if self.services:
            self._say("[dim]… stopping (workers drain first)[/]")
        for service in reversed(self.services):
            service.stop()
        if self.started_sandbox:
            self.sandbox.down()
        self._say("stopped", stdout=True)
