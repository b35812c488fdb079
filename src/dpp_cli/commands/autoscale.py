"""`dpp consumer autoscale`: run worker processes and add or drain them as the lag changes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer


def autoscale(
    *,
    group: Annotated[
        str | None, typer.Option(help="Consumer group [env DPP_CONSUMER_GROUP]")
    ] = None,
    interval: Annotated[
        float | None,
        typer.Option(
            min=0.1, help="Seconds between decisions [env DPP_AUTOSCALE_POLLING_INTERVAL_S]"
        ),
    ] = None,
    status_file: Annotated[
        Path | None,
        typer.Option(help="Where to publish the worker count [default .dpp/autoscale/GROUP.json]"),
    ] = None,
    metrics_port: Annotated[
        int, typer.Option(min=0, help="Serve dpp_autoscale_* gauges on this port; 0 disables")
    ] = 0,
    log_dir: Annotated[
        Path | None, typer.Option(help="Worker logs [default .dpp/logs/workers]")
    ] = None,
) -> None:
    """Run `dpp consumer run` workers and keep their number at what the lag asks for.

    Policy from DPP_AUTOSCALE_* (the same as the KEDA manifest), decided every polling interval
    by dpp_ops.autoscale.decide; workers removed get SIGTERM and drain. Ctrl-C/SIGTERM stops all.
    """
    import logging  # noqa: PLC0415
    import signal  # noqa: PLC0415

    from dpp_cli.stack.processes import dpp_command  # noqa: PLC0415
    from dpp_consumer.settings import worker_settings  # noqa: PLC0415
    from dpp_ops.autoscale import Supervisor, WorkerPool  # noqa: PLC0415
    from dpp_ops.autoscale.settings import get_autoscale_settings  # noqa: PLC0415
    from dpp_ops.autoscale.supervisor import (  # noqa: PLC0415
        Publisher,
        metrics_publisher,
        status_file_publisher,
    )
    from dpp_ops.exporters import worker_topics  # noqa: PLC0415
    from dpp_ops.lag.config import configured_reader  # noqa: PLC0415
    from dpp_ops.paths import dpp_home  # noqa: PLC0415

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    workers = worker_settings()
    group = group or workers.consumer_group
    scaling = get_autoscale_settings()
    env = {**os.environ, "DPP_CONSUMER_GROUP": group, "PYTHONUNBUFFERED": "1"}
    pool = WorkerPool(
        lambda port: dpp_command("consumer", "run", "--metrics-port", str(port)),
        env,
        log_dir or dpp_home() / "logs" / "workers",
        drain_timeout_s=workers.drain_timeout_s + 15.0,
    )
    reader = configured_reader()
    publishers: list[Publisher] = [
        status_file_publisher(status_file or dpp_home() / "autoscale" / f"{group}.json")
    ]
    if metrics_port:
        publishers.append(metrics_publisher(metrics_port))
    supervisor = Supervisor(
        pool,
        reader,
        group=group,
        topics=worker_topics(),
        policy=scaling.policy(),
        interval_s=interval or float(scaling.polling_interval_s),
        publishers=publishers,
    )
    signal.signal(signal.SIGTERM, lambda *_: supervisor.stop())
    signal.signal(signal.SIGINT, lambda *_: supervisor.stop())
    logging.getLogger("dpp.autoscale").info(
        "autoscaling group %s on %d topics: %s", group, len(supervisor.topics), scaling.policy()
    )
    supervisor.run()
