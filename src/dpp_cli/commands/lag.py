"""`dpp lag`: consumer lag per group and partition (table, watch, JSON), its exporters and KEDA."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dpp_cli.console import err, fail, out

if TYPE_CHECKING:
    from collections.abc import Callable

    from rich.table import Table

    from dpp_ops.exporters import LagMonitor, LagSnapshot

EXIT_UNHEALTHY = 3
"""Exit code when a group is ERR (a partition in STOP, STALL or REWIND)."""
EXIT_UNREADABLE = 1
"""Exit code when the lag of a group could not be read."""

app = typer.Typer(
    help="Consumer lag per group and partition in messages and seconds, with Burrow-style status "
    "(table, --watch, --json); `export` for Prometheus/EMF, `keda` for the KEDA manifest.\n\n"
    "Exit code: 0 healthy (OK/WARN), 3 a group is ERR (a partition STOP/STALL/REWIND), "
    "1 lag could not be read. Partitions of a job type paused with `dpp ops pause` are OK "
    '("job type X paused by Y"), not STOP/STALL. See docs/operators.md.',
    invoke_without_command=True,
)

Groups = Annotated[
    list[str] | None,
    typer.Option(
        "--group",
        "-g",
        help="Consumer group (repeatable) [default: every group on the cluster, the workers' "
        "DPP_CONSUMER_GROUP first; tools' groups left out, see DPP_LAG_IGNORE_GROUPS]",
    ),
]
Topics = Annotated[
    list[str] | None,
    typer.Option(
        "--topic",
        "-t",
        help="Physical topic (repeatable) [default: the workers' topics for the workers' group "
        "and for each --group; what it committed or is assigned for other discovered groups]",
    ),
]


def _monitor(
    groups: list[str] | None, topics: list[str] | None, timeout_s: float = 15.0
) -> LagMonitor:
    from dpp_ops.exporters import LagMonitor, default_targets  # noqa: PLC0415
    from dpp_ops.lag.heads import configured_store  # noqa: PLC0415

    # Every group unless --group picks; the job store (when there is one) tells a long running
    # job from a stuck worker.
    targets = default_targets(groups, topics or ()) if groups else None
    return LagMonitor.from_settings(
        targets, timeout_s, topics=topics or (), store=configured_store()
    )


def exit_code(snapshot: LagSnapshot) -> int:
    """0 healthy (OK/WARN), 3 a group is ERR/STOP/STALL/REWIND, 1 a group could not be read."""
    if any(group.error for group in snapshot.groups):
        return EXIT_UNREADABLE
    return 0 if snapshot.healthy else EXIT_UNHEALTHY


def lag_table(snapshot: LagSnapshot) -> Table:
    """The rich table: one row per partition, then a total row per group."""
    from rich.table import Table  # noqa: PLC0415

    table = Table(title=f"consumer lag (sample {snapshot.seq})", title_justify="left")
    for name in ("group", "topic", "partition", "lag", "lag seconds", "rate /s", "status"):
        numeric = name in ("partition", "lag", "lag seconds", "rate /s")
        table.add_column(name, justify="right" if numeric else "left")
    for report in snapshot.groups:
        view = report.as_dict()
        if report.error:
            table.add_row(view["group"], "-", "-", "-", "-", "-", f"[red]{report.error}[/]")
            continue
        for p in view["partitions"]:
            table.add_row(
                view["group"], p["topic"], str(p["partition"]), str(p["lag"]),
                _seconds(p["lag_seconds"]), f"{p['rate'] or 0.0:.2f}", _status(p["status"]),
            )  # fmt: skip
        members = f"{view['members']} worker(s), {str(view['state']).lower()}"
        table.add_row(
            f"[bold]{view['group']}[/]", f"[dim]all ({members})[/]", "",
            f"[bold]{view['total_lag']}[/]", _seconds(view["max_lag_seconds"]), "",
            _status(view["status"]) + ("" if view["complete"] else " [dim](warming up)[/]"),
            end_section=True,
        )  # fmt: skip
    return table


def _seconds(value: float | None) -> str:
    return "?" if value is None else f"{value:.1f}"


def _status(name: str) -> str:
    colour = {"OK": "green", "WARN": "yellow"}.get(name, "red")
    return f"[{colour}]{name}[/]"


@app.callback(invoke_without_command=True)
def show(
    ctx: typer.Context,
    *,
    group: Groups = None,
    topic: Topics = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts")] = False,
    watch: Annotated[bool, typer.Option("--watch", "-w", help="Refresh in place")] = False,
    interval: Annotated[float, typer.Option(min=0.1, help="Seconds between samples")] = 5.0,
    samples: Annotated[
        int, typer.Option(min=1, help="Samples to take before answering (status needs a window)")
    ] = 1,
    history: Annotated[
        Path | None,
        typer.Option(help="Keep the status window in this JSON file between runs (cron)"),
    ] = None,
    timeout: Annotated[
        float, typer.Option(min=0.1, help="Seconds to wait for the broker's answers")
    ] = 15.0,
) -> None:
    """Lag in messages and seconds, consume rate and Burrow-style status per partition.

    Exit code: 0 healthy, 3 when a group is ERR (a partition STOP/STALL/REWIND), 1 when lag could
    not be read. Status needs DPP_LAG_MIN_OBSERVATIONS samples: use --samples, --watch or
    --history (one sample per cron run). Partitions of a job type paused with `dpp ops pause`
    (read from dpp.control) are OK, "job type X paused by Y", not STOP/STALL.
    """
    if ctx.invoked_subcommand is not None:
        return
    from dpp_ops.exporters.history_file import load_history, save_history  # noqa: PLC0415

    monitor = _monitor(group, topic, timeout)
    groups = [target.group for target in monitor.refresh_targets()]
    if history is not None:
        load_history(monitor.history, history, groups)
    try:
        if watch:
            code = _watch(monitor, interval)
        else:
            snapshot = monitor.sample()
            for _ in range(samples - 1):
                time.sleep(interval)
                snapshot = monitor.sample()
            if as_json:
                import json  # noqa: PLC0415

                print(json.dumps(snapshot.as_dict(), indent=2))
            else:
                out.print(lag_table(snapshot))
            code = exit_code(snapshot)
    finally:
        if history is not None:
            save_history(monitor.history, history, groups)
        monitor.close()
    raise typer.Exit(code)


def _watch(monitor: LagMonitor, interval: float) -> int:
    from rich.live import Live  # noqa: PLC0415

    snapshot = monitor.sample()
    try:
        with Live(lag_table(snapshot), console=out, auto_refresh=False) as live:
            while True:
                time.sleep(interval)
                snapshot = monitor.sample()
                live.update(lag_table(snapshot), refresh=True)
    except KeyboardInterrupt:
        pass
    return exit_code(snapshot)


@app.command()
def export(
    *,
    group: Groups = None,
    topic: Topics = None,
    port: Annotated[int, typer.Option(min=0, help="Prometheus port; 0 disables")] = 9308,
    host: Annotated[str, typer.Option(help="Interface for /metrics")] = "127.0.0.1",
    interval: Annotated[float, typer.Option(min=0.1, help="Seconds between samples")] = 15.0,
    emf: Annotated[
        bool, typer.Option(help="Also print CloudWatch EMF lines to stdout (namespace DPP/Events)")
    ] = False,
    cloudwatch: Annotated[
        bool,
        typer.Option(
            help="Also put the same metrics to CloudWatch with PutMetricData (AWS_REGION and the "
            "task role's credentials; what the lag-publisher service runs in AWS)"
        ),
    ] = False,
) -> None:
    """Export lag as Prometheus metrics on /metrics (kafka-lag-exporter names), as CloudWatch
    EMF log lines and/or straight to CloudWatch, sampling every --interval seconds until
    Ctrl-C/SIGTERM."""
    import signal  # noqa: PLC0415
    import threading  # noqa: PLC0415

    from prometheus_client import CollectorRegistry, start_http_server  # noqa: PLC0415

    from dpp_ops.exporters import LagCollector, LagSampler  # noqa: PLC0415

    if port == 0 and not emf and not cloudwatch:
        fail("nothing to export: give --port, --emf or --cloudwatch")
    sampler = LagSampler(_monitor(group, topic), interval)
    if emf:
        sampler.listeners.append(_metrics_listener(_print_emf))
    if cloudwatch:
        sampler.listeners.append(_metrics_listener(_cloudwatch_sink()))
    if port:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(LagCollector(lambda: sampler.latest))
        server, _thread = start_http_server(port, addr=host, registry=registry)
        err.print(f"lag exporter on http://{host}:{server.server_port}/metrics")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    sampler.start()
    stop.wait()
    sampler.stop()


def _print_emf(documents: list[dict[str, Any]]) -> None:
    from dpp_ops.exporters.emf import write_emf  # noqa: PLC0415

    write_emf(documents, sys.stdout)


def _cloudwatch_sink() -> Callable[[list[dict[str, Any]]], None]:
    import boto3  # type: ignore[import-untyped]  # noqa: PLC0415 - only the cloud pays for it

    from dpp_ops.exporters.cloudwatch import put_metrics  # noqa: PLC0415
    from dpp_shared.settings import aws_settings  # noqa: PLC0415

    client = boto3.client("cloudwatch", region_name=aws_settings().aws_region)

    def put(documents: list[dict[str, Any]]) -> None:
        put_metrics(client, documents)

    return put


def _metrics_listener(
    sink: Callable[[list[dict[str, Any]]], None],
) -> Callable[[LagSnapshot], None]:
    """Per sample: the EMF documents (lag, workers, new dead letters) handed to ``sink``."""
    from dpp_consumer.settings import worker_settings  # noqa: PLC0415
    from dpp_ops.dead_letters import DeadLetterReader  # noqa: PLC0415
    from dpp_ops.exporters import emf_document  # noqa: PLC0415
    from dpp_shared.kafka_config import admin_config  # noqa: PLC0415
    from dpp_shared.settings import aws_settings, kafka_settings, topic_settings  # noqa: PLC0415
    from dpp_shared.topics import DEAD_LETTER_TOPIC, TopicNamespace  # noqa: PLC0415

    dead = DeadLetterReader(
        TopicNamespace(topic_settings().topic_prefix).physical(DEAD_LETTER_TOPIC),
        admin_config(kafka_settings(), aws_settings()),
        client_group=worker_settings().consumer_group,  # the group the publisher may describe
    )
    previous: list[int] = []

    def publish(snapshot: LagSnapshot) -> None:
        arrived = dead.arrived()
        new = arrived - previous[-1] if previous else 0
        previous[:] = [arrived]
        counts = {report.target.group: max(0, new) for report in snapshot.groups}
        documents = emf_document(
            snapshot, timestamp_ms=int(snapshot.observed_at * 1000), dead_letters=counts
        )
        sink(documents)

    return publish


@app.command()
def keda(
    group: Annotated[
        str | None,
        typer.Option(help="Group [default: DPP_AUTOSCALE_CONSUMER_GROUP, else the workers' group]"),
    ] = None,
    topic: Annotated[
        str | None,
        typer.Option(
            help="Topic [default: DPP_AUTOSCALE_TOPIC; unset: every topic the group consumes]"
        ),
    ] = None,
) -> None:
    """Print the KEDA ScaledObject (+ MSK IAM TriggerAuthentication) for the DPP_AUTOSCALE_*
    settings, the same policy `dpp consumer autoscale` applies locally."""
    print(keda_manifest(group, topic), end="")


def keda_manifest(group: str | None = None, topic: str | None = None) -> str:
    """The manifest text `dpp lag keda` prints."""
    from dpp_consumer.settings import worker_settings  # noqa: PLC0415
    from dpp_ops.autoscale.keda import render_scaled_object, to_yaml  # noqa: PLC0415
    from dpp_ops.autoscale.settings import get_autoscale_settings  # noqa: PLC0415

    settings = get_autoscale_settings()
    target = settings.target()
    if group is None and "consumer_group" not in settings.model_fields_set:
        group = worker_settings().consumer_group  # the group the workers really join
    updates = {k: v for k, v in {"consumer_group": group, "topic": topic}.items() if v}
    documents = render_scaled_object(settings.policy(), target.model_copy(update=updates))
    return to_yaml(documents)
