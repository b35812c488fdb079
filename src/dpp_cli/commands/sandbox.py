"""`dpp sandbox`: the embedded single-node Kafka (KRaft) for laptops and tests."""

from __future__ import annotations

from typing import Annotated

import typer

from dpp_cli.console import err, fail, out
from dpp_ops.paths import sandbox_home

app = typer.Typer(
    help="Run a real single-node Apache Kafka 4 (KRaft) from Maven Central jars on Java 17.",
    no_args_is_help=True,
)

PortOption = Annotated[int, typer.Option("--port", help="PLAINTEXT listener port on 127.0.0.1.")]


@app.command()
def up(
    port: PortOption = 9092,
    ephemeral: Annotated[
        bool, typer.Option(help="Keep data in a temp dir, deleted by `down`.")
    ] = False,
    heap: Annotated[str, typer.Option(help="JVM heap size, e.g. 512m.")] = "512m",
) -> None:
    """Start the broker (idempotent) and wait until it answers metadata requests.

    Once ready, the broker keeps running after this command (stop it with `dpp sandbox down`);
    Ctrl-C, SIGTERM or SIGHUP before it is ready stops it again.
    """
    from dpp_cli.sandbox import KafkaSandbox, SandboxError  # noqa: PLC0415
    from dpp_cli.stack.stopping import StopRequested, say, stop_signals_raise  # noqa: PLC0415

    sandbox = KafkaSandbox(sandbox_home(), port=port, heap=heap, ephemeral=ephemeral)
    try:
        with stop_signals_raise():
            status = sandbox.up(progress=lambda msg: say(err.print, f"[dim]… {msg}[/]"))
    except SandboxError as error:
        fail(str(error))
        return
    except StopRequested as stop:
        say(err.print, f"interrupted ({stop}) before the broker was ready; it was stopped")
        raise typer.Exit(128 + stop.signum) from None
    out.print(
        f"[green]Kafka sandbox ready[/] at [bold]{status.bootstrap_servers}[/] (pid {status.pid})"
    )
    out.print(f"data: {status.data_dir}")


@app.command()
def down() -> None:
    """Stop the broker this sandbox started (found by its PID file); others are left alone."""
    from dpp_cli.sandbox import KafkaSandbox  # noqa: PLC0415

    stopped = KafkaSandbox(sandbox_home()).down()
    out.print("Kafka sandbox stopped" if stopped else "Kafka sandbox was not running")


@app.command()
def status() -> None:
    """Tell whether the broker runs and answers; exit code 1 when it does not."""
    from dpp_cli.sandbox import KafkaSandbox  # noqa: PLC0415

    state = KafkaSandbox(sandbox_home()).status()
    colour = "green" if state.reachable else "red"
    out.print(f"[{colour}]{state.detail}[/]")
    if state.bootstrap_servers:
        out.print(f"bootstrap: {state.bootstrap_servers}  pid: {state.pid}  data: {state.data_dir}")
    if not state.reachable:
        raise typer.Exit(1)


@app.command()
def logs(
    lines: Annotated[int, typer.Option("--lines", "-n", help="How many lines to show.")] = 50,
) -> None:
    """Show the end of the broker's log."""
    from dpp_cli.sandbox import KafkaSandbox  # noqa: PLC0415

    tail = KafkaSandbox(sandbox_home()).log_tail(lines=lines)
    out.print(tail or "(no log yet)", markup=False, highlight=False)
