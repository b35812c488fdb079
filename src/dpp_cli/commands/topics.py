"""`dpp topics`: apply the one topic declaration to a cluster, and list what is there."""

from __future__ import annotations

from typing import Annotated

import typer

from dpp_cli.console import fail, out

app = typer.Typer(
    help="Topics as code: create or update the declared topics (never deletes data).",
    no_args_is_help=True,
)

DryRun = Annotated[bool, typer.Option("--dry-run", help="Show what would change; change nothing.")]


def _admin() -> object:
    from confluent_kafka.admin import AdminClient  # noqa: PLC0415

    from dpp_shared.kafka_config import admin_config  # noqa: PLC0415
    from dpp_shared.settings import aws_settings, kafka_settings  # noqa: PLC0415

    return AdminClient(admin_config(kafka_settings(), aws_settings()))


@app.command()
def apply(
    dry_run: DryRun = False,
    replication_factor: Annotated[
        int, typer.Option(help="Replication factor for new topics; -1 = broker default.")
    ] = -1,
) -> None:
    """Create missing topics, add partitions and sync configs, idempotently.

    Reads KAFKA_BOOTSTRAP_SERVERS, KAFKA_SECURITY_MODE and DPP_TOPIC_PREFIX.
    """
    from rich.table import Table  # noqa: PLC0415

    from dpp_ops.topic_admin import apply_topics  # noqa: PLC0415
    from dpp_shared.settings import topic_settings  # noqa: PLC0415
    from dpp_shared.topics import TopicNamespace, declared_topics  # noqa: PLC0415

    namespace = TopicNamespace(topic_settings().topic_prefix)
    try:
        report = apply_topics(
            _admin(),  # type: ignore[arg-type]
            declared_topics(),
            namespace,
            replication_factor=replication_factor,
            dry_run=dry_run,
        )
    except Exception as error:
        fail(f"could not apply topics: {error}")
        return
    table = Table(title="topics apply" + (" (dry run)" if dry_run else ""))
    for column in ("topic", "action", "detail"):
        table.add_column(column)
    for change in report.changes:
        style = "dim" if change.action == "unchanged" else "bold"
        table.add_row(change.topic, change.action, change.detail, style=style)
    out.print(table)


@app.command("list")
def list_topics() -> None:
    """List the declared topics and whether each exists on the cluster, with its partitions."""
    from rich.table import Table  # noqa: PLC0415

    from dpp_ops.topic_admin import describe_topics  # noqa: PLC0415
    from dpp_shared.settings import topic_settings  # noqa: PLC0415
    from dpp_shared.topics import TopicNamespace, declared_topics  # noqa: PLC0415

    namespace = TopicNamespace(topic_settings().topic_prefix)
    specs = {namespace.physical(spec.name): spec for spec in declared_topics()}
    try:
        states = describe_topics(_admin(), specs)  # type: ignore[arg-type]
    except Exception as error:
        fail(f"could not reach the cluster: {error}")
        return
    table = Table(title="declared topics")
    for column in ("topic", "role", "partitions", "retention.ms", "cleanup", "exists"):
        table.add_column(column)
    for name, spec in specs.items():
        state = states.get(name)
        partitions = str(state.partitions) if state else str(spec.partitions)
        table.add_row(
            name,
            spec.role.value,
            partitions,
            state.configs.get("retention.ms", "?") if state else str(spec.retention_ms),
            spec.cleanup_policy,
            "yes" if state else "[red]no[/]",
        )
    out.print(table)
