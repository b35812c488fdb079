"""`dpp replay`: move a consumer group's committed offsets on a topic (time, offset or shift)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from dpp_cli.console import err, fail, out

if TYPE_CHECKING:
    from dpp_ops.replay import ReplayPlan

EXIT_REFUSED = 2
"""Exit code when the reset is refused: the group has live members, or it would skip records
without --force."""


def replay(
    *,
    group: Annotated[str, typer.Option("--group", "-g", help="Consumer group to move")],
    topic: Annotated[str, typer.Option("--topic", "-t", help="Physical topic")],
    to_datetime: Annotated[
        str | None,
        typer.Option(
            help="ISO 8601 time with zone: first record at or after it (none: the log end)"
        ),
    ] = None,
    to_offset: Annotated[
        int | None, typer.Option(help="This offset on every partition (clamped to the log)")
    ] = None,
    shift_by: Annotated[
        int | None,
        typer.Option(help="Move each committed offset by N (negative: back, records again)"),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show current -> new per partition; change nothing")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Allow a reset that moves forward and skips records (they are never processed)",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON")] = False,
) -> None:
    """Reset GROUP's committed offsets on TOPIC so its workers process records again.

    Like Kafka's `kafka-consumer-groups --reset-offsets`, it refuses while the group has live
    members (stop the workers first): they would overwrite the reset with their own commits,
    and --force does not change that. --force only allows a forward move that skips records.
    Exit code: 0 done (or dry run), 2 refused, 1 error.
    """
    from dpp_ops.replay import GroupActiveError, OffsetResetter, ReplayError, Target  # noqa: PLC0415
    from dpp_shared.kafka_config import admin_config  # noqa: PLC0415
    from dpp_shared.settings import aws_settings, kafka_settings  # noqa: PLC0415

    try:
        when = None if to_datetime is None else datetime.fromisoformat(to_datetime)
        target = Target(to_datetime=when, to_offset=to_offset, shift_by=shift_by)
    except ValueError as error:
        fail(f"{error} (give one of --to-datetime, --to-offset, --shift-by)")
        return
    resetter = OffsetResetter(admin_config(kafka_settings(), aws_settings()))
    try:
        plan = resetter.plan(group, topic, target)
    except ReplayError as error:
        fail(str(error))
        return
    _show(plan, dry_run=dry_run, as_json=as_json)
    if dry_run:
        return
    if plan.active:
        fail(str(GroupActiveError(group, plan.state, plan.members)), EXIT_REFUSED)
    if plan.skipped and not force:
        fail(
            f"this reset skips {plan.skipped} record(s) that were never processed; "
            "add --force to skip them",
            EXIT_REFUSED,
        )
    try:
        resetter.apply(plan)
    except GroupActiveError as error:
        fail(str(error), EXIT_REFUSED)
    except ReplayError as error:
        fail(str(error))
    err.print(
        f"[green]reset[/] {group} on {topic} {target.describe()}: "
        f"{plan.again} record(s) will be delivered again"
    )


def _show(plan: ReplayPlan, *, dry_run: bool, as_json: bool) -> None:
    if as_json:
        print(json.dumps(plan.as_dict() | {"dry_run": dry_run}, indent=2))
        return
    from rich.table import Table  # noqa: PLC0415

    verb = "would move" if dry_run else "moves"
    table = Table(
        title=f"{plan.group} on {plan.topic} {plan.target.describe()} "
        f"({plan.state.lower()}, {plan.members} member(s)): {verb}",
        title_justify="left",
    )
    for name in ("partition", "current", "new", "delivered again", "skipped"):
        table.add_column(name, justify="right")
    for p in plan.partitions:
        current = "none" if p.current is None else str(p.current)
        new = f"{p.new}{' (clamped)' if p.clamped else ''}"
        table.add_row(str(p.partition), current, new, str(p.again), str(p.skipped))
    table.add_row("all", "", "", f"[bold]{plan.again}[/]", f"[bold]{plan.skipped}[/]")
    out.print(table)
