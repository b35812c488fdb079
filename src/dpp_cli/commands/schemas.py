"""`dpp schemas`: export the event schemas as documents and check them for breaking changes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from dpp_cli.console import err, fail, out

app = typer.Typer(
    help="Export and check event schemas (JSON Schema, AsyncAPI 3.0).", no_args_is_help=True
)

SchemaDir = Annotated[
    Path,
    typer.Option(
        "--dir",
        help="Folder of the committed schema documents (run from the repository root).",
        file_okay=False,
    ),
]
DEFAULT_DIR = Path("schemas")


@app.command()
def export(
    directory: SchemaDir = DEFAULT_DIR,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Write even a backward-incompatible change (breaks published types)."
        ),
    ] = False,
) -> None:
    """Write schemas/json/<type>.json for every payload and schemas/asyncapi.yaml.

    Refuses a backward-incompatible change to a published type: add a new version
    (`...v2`) of the type instead.
    """
    from dpp_shared.schemas import export_schemas  # noqa: PLC0415

    check = export_schemas(directory, force=force)
    if not check.compatible and not force:
        _print_incompatibilities(check.incompatibilities)
        fail("not exported: backward-incompatible change (see above); add a new type version")
    for name in check.new_types:
        out.print(f"[green]new type[/] {name}")
    if check.stale_files:
        for relative in check.stale_files:
            out.print(f"[cyan]wrote[/] {directory / relative}")
    else:
        out.print(f"schemas in {directory} already up to date")


@app.command()
def check(directory: SchemaDir = DEFAULT_DIR) -> None:
    """Fail on a backward-incompatible change to a published type, or on stale documents.

    BACKWARD mode, as a schema registry would apply it: a consumer on the current schema must
    read every event valid under the committed one. Removed or retyped fields, new required
    fields without default, tightened constraints and removed types are breaking; new optional
    fields and new types are not.
    """
    from dpp_shared.schemas import check_schemas  # noqa: PLC0415

    if not (directory / "asyncapi.yaml").is_file():
        fail(f"no committed schemas in {directory}: run `dpp schemas export` first")
    result = check_schemas(directory)
    if not result.compatible:
        _print_incompatibilities(result.incompatibilities)
        fail(f"{len(result.incompatibilities)} backward-incompatible change(s)")
    if not result.up_to_date:
        for relative in result.stale_files:
            err.print(f"[yellow]out of date[/] {directory / relative}")
        fail("committed schemas are out of date (compatible): run `dpp schemas export` and commit")
    out.print("[green]schemas compatible and up to date[/]")


def _print_incompatibilities(issues: Sequence[object]) -> None:
    for issue in issues:
        err.print(f"[red]incompatible[/] {issue}")
