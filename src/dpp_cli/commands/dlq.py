"""`dpp dlq`: inspect dead letters and replay chosen ones to their original topics."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from dpp_cli.console import err, fail, out

if TYPE_CHECKING:
    from dpp_ops.dead_letters import DeadLetterBox, LetterFilter

app = typer.Typer(help="Inspect and replay dead letters.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")]
TypeOption = Annotated[
    list[str] | None,
    typer.Option("--type", help="Event type, fnmatch pattern e.g. 'persona.*' (repeatable)"),
]
ErrorOption = Annotated[
    list[str] | None,
    typer.Option("--error", help="Error class (dpp-error-type), pattern (repeatable)"),
]
SinceOption = Annotated[
    str | None,
    typer.Option(help="Dead-lettered at/after: ISO 8601 (UTC if no zone) or an age: 30m, 2h, 7d"),
]
UntilOption = Annotated[str | None, typer.Option(help="Dead-lettered before: same forms")]


def _filter(
    types: list[str] | None, errors: list[str] | None, since: str | None, until: str | None
) -> LetterFilter:
    from dpp_ops.dead_letters import LetterFilter  # noqa: PLC0415
    from dpp_ops.dead_letters.selection import parse_time  # noqa: PLC0415

    try:
        return LetterFilter(
            event_types=tuple(types or ()),
            error_types=tuple(errors or ()),
            since=None if since is None else parse_time(since),
            until=None if until is None else parse_time(until),
        )
    except ValueError as error:
        fail(f"bad --since/--until: {error}")
        raise


def _box() -> DeadLetterBox:
    """The dead-letter topic of the configured cluster and topic prefix (KAFKA_*, DPP_*)."""
    from dpp_ops.dead_letters import DeadLetterBox  # noqa: PLC0415 - keep --help instant
    from dpp_shared.kafka_config import consumer_config, producer_config  # noqa: PLC0415
    from dpp_shared.settings import aws_settings, kafka_settings, topic_settings  # noqa: PLC0415
    from dpp_shared.topics import TopicNamespace  # noqa: PLC0415

    kafka, aws = kafka_settings(), aws_settings()
    return DeadLetterBox(
        consumer_config(kafka, aws, group_id="dpp-dlq-inspector", role="dlq"),
        producer_config(kafka, aws, role="dlq-replay"),
        TopicNamespace(topic_settings().topic_prefix),
    )


@app.command("list")
def list_(
    *,
    limit: Annotated[int, typer.Option(min=1, help="Show at most the newest N")] = 50,
    event_type: TypeOption = None,
    error: ErrorOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    as_json: JsonOption = False,
) -> None:
    """List dead letters, newest last: id (partition:offset), time, type, job, error, and
    whether (as which job) it was replayed."""
    from rich.table import Table  # noqa: PLC0415

    box = _box()
    letters = _filter(event_type, error, since, until).select(box.read_all())[-limit:]
    marks = box.replayed()
    if as_json:
        views = []
        for letter in letters:
            mark = marks.get(letter.id)
            replayed = (
                None
                if mark is None
                else {"new_job_id": mark.new_job_id, "at": mark.replayed_at, "by": mark.by}
            )
            views.append(letter.summary() | {"replayed": replayed})
        print(json.dumps(views, indent=2))
        return
    if not letters:
        err.print(f"no dead letters in {box.topic} match")
        return
    table = Table(title=f"{box.topic}: {len(letters)} dead letters")
    for column in ("id", "failed at", "event type", "job id", "attempts", "error", "replayed as"):
        table.add_column(column, overflow="fold")
    for letter in letters:
        summary = letter.summary()
        mark = marks.get(letter.id)
        table.add_row(
            letter.id,
            summary["failed_at"] or "",
            summary["event_type"] or "?",
            summary["job_id"] or "",
            str(summary["attempts"] or ""),
            f"{summary['error_type']}: {(summary['error'] or '')[:120]}",
            "" if mark is None else mark.new_job_id,
        )
    out.print(table)


@app.command()
def show(
    dead_letter_id: Annotated[str, typer.Argument(help="partition:offset, or a job id")],
) -> None:
    """Show one dead letter in full: failure headers, event headers and payload (JSON)."""
    from dpp_ops.errors import DeadLetterNotFoundError  # noqa: PLC0415

    box = _box()
    try:
        letter = box.find(box.read_all(), dead_letter_id)
    except DeadLetterNotFoundError as error:
        fail(str(error))
        return
    print(json.dumps(letter.as_dict(), indent=2))


@app.command()
def replay(
    *,
    ids: Annotated[
        list[str] | None,
        typer.Option("--id", help="Dead letter to replay (partition:offset or job id; repeatable)"),
    ] = None,
    replay_all: Annotated[
        bool, typer.Option("--all", help="Replay every dead letter the filters select")
    ] = False,
    event_type: TypeOption = None,
    error: ErrorOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be replayed, send nothing")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Send dead letters back to their original topics as new jobs (new event ids).

    Each replayed letter is marked on the compacted ledger topic dpp.dead-letter.replayed in
    the same transaction, so no letter is ever sent twice (by anyone); marked ones are skipped.
    """
    from dpp_ops.errors import DeadLetterNotFoundError  # noqa: PLC0415

    if bool(ids) == replay_all:
        fail("give --id (one or more) or --all")
    selection = _filter(event_type, error, since, until)
    if ids and not selection.empty:
        fail("--type/--error/--since/--until select for --all; --id names letters itself")
    box = _box()
    letters = box.read_all()
    try:
        chosen = (
            selection.select(letters)
            if replay_all
            else [box.find(letters, wanted) for wanted in ids or []]
        )
    except DeadLetterNotFoundError as missing:
        fail(str(missing))
        return
    plans = box.replay(chosen, dry_run=dry_run)
    if as_json:
        print(json.dumps([plan.as_dict() for plan in plans], indent=2))
    else:
        verb = "would replay" if dry_run else "replayed"
        for plan in plans:
            if plan.skipped:
                err.print(f"[yellow]skipped[/] {plan.dead_letter.id}: {plan.skipped}")
            else:
                out.print(
                    f"{verb} {plan.dead_letter.id} (job {plan.dead_letter.job_id}) -> "
                    f"{plan.topic} as job {plan.new_job_id}"
                )
    # Exit 2 when something was asked that cannot be replayed; letters replayed before are
    # not a failure (running `--all` again is how one makes sure).
    failed = [plan for plan in plans if plan.skipped and not plan.skipped.startswith("already")]
    if failed:
        raise typer.Exit(2 if len(failed) == len(plans) else 0)
