"""`dpp dlq`: Inspect and replay dead letters."""

from __future__ import annotations

import typer

app = typer.Typer(help="Inspect and replay dead letters.", no_args_is_help=True)
