"""The `dpp` command: one entry point; its sub-commands live in `dpp_cli.commands`, one per module.

Command modules import heavy libraries inside their functions so `dpp --help` stays instant.
"""

from __future__ import annotations

import typer

from dpp_cli.commands import (
    autoscale,
    consumer,
    cost,
    demo,
    dlq,
    lag,
    ops,
    producer,
    replay,
    sandbox,
    schemas,
    stack,
    store,
    topics,
)

app = typer.Typer(
    name="dpp",
    help="dpp-events: the event-driven backbone of the Digital Persona Platform.\n\n"
    "Start everything locally with `dpp up`, then try `dpp demo`.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(sandbox.app, name="sandbox")
app.add_typer(topics.app, name="topics")
app.add_typer(producer.app, name="producer")
app.add_typer(consumer.app, name="consumer")
app.add_typer(dlq.app, name="dlq")
app.add_typer(schemas.app, name="schemas")
app.add_typer(lag.app, name="lag")
app.add_typer(ops.app, name="ops")
app.add_typer(cost.app, name="infra")
app.add_typer(store.app, name="store")
consumer.app.command("autoscale")(autoscale.autoscale)
app.command("up")(stack.up)
app.command("demo")(demo.demo)
app.command("replay")(replay.replay)

if __name__ == "__main__":
    app()
