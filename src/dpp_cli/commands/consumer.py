"""`dpp consumer`: run a worker of the consumer group that executes the AI/ML jobs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from dpp_cli.console import err

if TYPE_CHECKING:
    from dpp_consumer.worker import Worker

app = typer.Typer(help="Run the consumer workers.", no_args_is_help=True)


@app.command()
def run(
    concurrency: Annotated[
        int | None, typer.Option(min=1, help="Jobs run at once (env DPP_WORKER_CONCURRENCY)")
    ] = None,
    group: Annotated[
        str | None, typer.Option(help="Consumer group (env DPP_CONSUMER_GROUP)")
    ] = None,
    metrics_port: Annotated[
        int | None, typer.Option(min=0, help="Prometheus port, 0 disables (env DPP_METRICS_PORT)")
    ] = None,
    job_type: Annotated[
        list[str] | None,
        typer.Option("--job-type", help="Event type to consume (repeatable; default: every job)"),
    ] = None,
    drain_timeout: Annotated[
        float | None, typer.Option(min=0, help="Seconds jobs may finish on SIGTERM")
    ] = None,
) -> None:
    """Consume job events until SIGTERM/SIGINT, then drain (settings: docs/consumer.md).

    Paused job types (`dpp ops pause`) start no jobs; running jobs beat (DPP_HEARTBEAT_INTERVAL_S).
    """
    from dpp_consumer.service import run_worker  # noqa: PLC0415 - keep `dpp --help` instant
    from dpp_consumer.settings import worker_settings  # noqa: PLC0415

    overrides: dict[str, object] = {
        name: value
        for name, value in {
            "worker_concurrency": concurrency,
            "consumer_group": group,
            "metrics_port": metrics_port,
            "drain_timeout_s": drain_timeout,
            "job_types": tuple(job_type) if job_type else None,
        }.items()
        if value is not None
    }
    settings = worker_settings().model_copy(update=overrides)

    def announce(worker: Worker, port: int | None) -> None:
        err.print(
            f"[bold]dpp consumer[/] group [cyan]{worker.settings.consumer_group}[/], "
            f"concurrency {worker.settings.worker_concurrency}"
            + (f", metrics on :{port}/metrics" if port else "")
        )
        for spec in worker.registry:
            err.print(f"  {spec.event_type.name} -> job [green]{spec.job_type}[/]")
        err.print("subscribed to: " + ", ".join(worker.topics))

    run_worker(settings, on_ready=announce)
