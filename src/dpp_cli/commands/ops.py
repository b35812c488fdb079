"""`dpp ops`: serve the live ops page and its JSON API (lag, workers, throughput, dead letters)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

import typer

from dpp_cli.console import err

if TYPE_CHECKING:
    from dpp_ops.page.access import TokenVerifier

app = typer.Typer(help="The live ops page and its JSON API.", no_args_is_help=True)


@app.command()
def serve(
    *,
    host: Annotated[
        str | None, typer.Option(help="Interface to bind [env DPP_OPS_HOST, default 127.0.0.1]")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port [env DPP_OPS_PORT, default 8090]")] = None,
    auth: Annotated[
        str | None,
        typer.Option(help="'none' or 'jwt' (producer JWT with scope ops:read) [env DPP_OPS_AUTH]"),
    ] = None,
    interval: Annotated[
        float | None, typer.Option(min=0.1, help="Seconds between samples [env DPP_OPS_INTERVAL_S]")
    ] = None,
    group: Annotated[
        list[str] | None, typer.Option("--group", "-g", help="Consumer group (repeatable)")
    ] = None,
    topic: Annotated[
        list[str] | None, typer.Option("--topic", "-t", help="Physical topic (repeatable)")
    ] = None,
) -> None:
    """Serve the ops page on http://HOST:PORT/ (JSON under /api/, Prometheus at /metrics).

    Without auth it binds to loopback only; binding elsewhere requires --auth jwt.
    """
    import uvicorn  # noqa: PLC0415 - keep `dpp --help` instant

    from dpp_cli.console import fail  # noqa: PLC0415
    from dpp_ops.page.app import create_app  # noqa: PLC0415
    from dpp_ops.page.service import build_service  # noqa: PLC0415
    from dpp_ops.page.settings import ops_settings  # noqa: PLC0415

    overrides = {
        k: v
        for k, v in {"host": host, "port": port, "auth": auth, "interval_s": interval}.items()
        if v is not None
    }
    settings = ops_settings().model_validate(ops_settings().model_dump() | overrides)
    if settings.auth == "none" and not _loopback(settings.host):
        fail(f"refusing to serve the ops page on {settings.host} without auth: use --auth jwt")
    mode: Literal["none", "jwt"] = settings.auth
    service = build_service(settings, tuple(group or ()), tuple(topic or ()))
    monitor = service.sampler.monitor
    targets = "every group" if monitor.discover else ", ".join(t.group for t in monitor.targets)
    err.print(
        f"ops page on [bold]http://{settings.host}:{settings.port}/[/] (auth {mode}); "
        f"groups: {targets}"
    )
    uvicorn.run(
        create_app(service, verify=producer_token_verifier()),
        host=settings.host,
        port=settings.port,
        log_level="warning",
    )


def _loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def producer_token_verifier() -> TokenVerifier:
    """Verifies ops tokens exactly as the producer verifies its own (same secret, audience)."""
    from dpp_ops.errors import AccessDeniedError  # noqa: PLC0415
    from dpp_ops.page.access import Caller  # noqa: PLC0415
    from dpp_producer.auth import authenticate  # noqa: PLC0415
    from dpp_producer.errors import AuthenticationError  # noqa: PLC0415
    from dpp_producer.jwt_secret import jwt_secret  # noqa: PLC0415
    from dpp_producer.settings import producer_settings  # noqa: PLC0415

    def verify(authorization: str | None) -> Caller:
        producer = producer_settings()
        try:
            principal = authenticate(authorization, jwt_secret(producer), producer.jwt_audience)
        except AuthenticationError as error:
            raise AccessDeniedError(401, error.detail) from None
        return Caller(principal.subject, frozenset(principal.scopes))

    return verify


JobType = Annotated[str, typer.Argument(help="Job type, e.g. echo, embedding")]


@app.command()
def pause(job_type: JobType) -> None:
    """Pause a job type: its workers start none of its jobs and stop fetching its topics (and
    retry tiers) until resumed; jobs already running finish, nothing is lost.

    Written to the compacted topic dpp.control; job types sharing a topic pause together.
    """
    _switch(job_type, paused=True)


@app.command()
def resume(job_type: JobType) -> None:
    """Resume a paused job type."""
    _switch(job_type, paused=False)


def _switch(job_type: str, *, paused: bool) -> None:
    import getpass  # noqa: PLC0415
    import socket  # noqa: PLC0415

    from dpp_cli.console import fail  # noqa: PLC0415
    from dpp_ops.control import ControlTopic  # noqa: PLC0415
    from dpp_ops.lag.paused import worker_job_types  # noqa: PLC0415
    from dpp_shared.kafka_config import admin_config  # noqa: PLC0415
    from dpp_shared.settings import aws_settings, kafka_settings, topic_settings  # noqa: PLC0415
    from dpp_shared.topics import TopicNamespace  # noqa: PLC0415

    namespace = TopicNamespace(topic_settings().topic_prefix)
    known = worker_job_types(namespace)
    if job_type not in known:
        fail(f"no job type {job_type!r}; known: {', '.join(sorted(known))}")
    control = ControlTopic(admin_config(kafka_settings(), aws_settings()), namespace)
    state = control.set_paused(job_type, paused, by=f"{getpass.getuser()}@{socket.gethostname()}")
    err.print(f"{job_type} {'paused' if state.paused else 'resumed'} on {control.topic}")
