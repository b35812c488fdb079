"""`dpp producer`: run the producer API, mint sandbox tokens and package the Lambda zip."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dpp_cli.console import err, fail, out

app = typer.Typer(help="Run and package the producer API.", no_args_is_help=True)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8080,
    workers: Annotated[int, typer.Option(min=1, help="worker processes (one per core)")] = 1,
    log_level: Annotated[str, typer.Option(help="server log level")] = "info",
    server: Annotated[
        str,
        typer.Option(
            help="uvicorn (default: faster for single events on a quiet box, see "
            "docs/performance.md) or granian"
        ),
    ] = "uvicorn",
) -> None:
    """Serve the producer API with uvicorn (uvloop, httptools; settings from the environment,
    see docs/producer.md); `--server granian` runs it under granian instead."""
    out.print(f"producer API on [bold]http://{host}:{port}[/] (OpenAPI at /docs, /openapi.json)")
    if server == "uvicorn":
        import uvicorn  # noqa: PLC0415 - keep `dpp --help` instant

        uvicorn.run(
            "dpp_producer.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
            proxy_headers=True,
        )
        return
    if server != "granian":
        fail(f"unknown server {server!r}: granian or uvicorn")
    from granian import Granian  # noqa: PLC0415 - keep `dpp --help` instant
    from granian.constants import HTTPModes, Interfaces, Loops  # noqa: PLC0415
    from granian.log import LogLevels  # noqa: PLC0415

    Granian(
        "dpp_producer.app:create_served_app",
        factory=True,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        loop=Loops.uvloop,
        http=HTTPModes.http1,
        websockets=False,
        log_level=LogLevels(log_level.lower()),
    ).serve()


@app.command()
def token(
    sub: Annotated[str, typer.Option(help="Principal (the `sub` claim)")] = "developer",
    scope: Annotated[
        str, typer.Option(help="Space-separated scopes, e.g. 'events:demo' or 'events:*'")
    ] = "events:*",
    ttl: Annotated[int, typer.Option(min=1, help="Lifetime in seconds")] = 3600,
) -> None:
    """Mint a bearer token signed with the local secret (JWT_SECRET, else the sandbox default)."""
    from dpp_producer.auth import mint_token  # noqa: PLC0415
    from dpp_producer.jwt_secret import jwt_secret  # noqa: PLC0415
    from dpp_producer.settings import producer_settings  # noqa: PLC0415

    settings = producer_settings()
    if not settings.is_local:
        fail(f"refusing to mint tokens with DPP_ENV={settings.env}: tokens come from the IdP there")
    print(mint_token(jwt_secret(settings), subject=sub, scope=scope, ttl_s=ttl))


@app.command()
def openapi(
    output: Annotated[Path, typer.Option(help="Where to write the document")] = Path(
        "docs/openapi.json"
    ),
) -> None:
    """Write the API's OpenAPI document (committed as docs/openapi.json; a test checks it)."""
    from dpp_producer.api.openapi import render  # noqa: PLC0415
    from dpp_producer.app import openapi_document  # noqa: PLC0415

    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render(openapi_document()))
    out.print(f"wrote {output}")


@app.command()
def package(
    output: Annotated[Path, typer.Option(help="Zip to write")] = Path("dist/producer-lambda.zip"),
    runtime: Annotated[
        str | None,
        typer.Option(
            help="Lambda runtime (default: the one infra/contract/components.json declares)"
        ),
    ] = None,
    architecture: Annotated[
        str, typer.Option(help="Lambda architecture: x86_64 or arm64")
    ] = "x86_64",
) -> None:
    """Build the Lambda deployment zip (Linux wheels, no dev dependencies) and report its size."""
    from dpp_producer.lambda_package import (  # noqa: PLC0415
        LambdaTarget,
        build_lambda_zip,
        declared_runtime,
    )

    target = LambdaTarget(runtime or declared_runtime(), architecture)
    err.print(f"building {output} for {target.runtime} ({target.platform}) ...")
    report = build_lambda_zip(output, target=target)
    pins = [line for line in report.requirements if "confluent-kafka" in line]
    out.print(
        f"wrote [bold]{report.path}[/]: {report.zipped_bytes / 1e6:.1f} MB zipped, "
        f"{report.unzipped_bytes / 1e6:.1f} MB unzipped ({report.files} files; Lambda limit "
        "250 MB unzipped); handler dpp_producer.lambda_handler.handler"
    )
    out.print(f"left out (in the Lambda runtime or server-only): {', '.join(report.excluded)}")
    out.print(f"Kafka client: {', '.join(pins)}")
    if report.wheel_glibc is not None:
        needed = ".".join(map(str, report.wheel_glibc))
        offered = ".".join(map(str, target.glibc))
        out.print(f"native wheels need glibc {needed}; {target.runtime} has {offered}")
    if not report.bytecode:
        err.print(
            f"[yellow]no Python {target.python_version} here: the zip has no bytecode, so each "
            f"cold start compiles every module (`uv python install {target.python_version}` "
            "fixes it)[/]"
        )
