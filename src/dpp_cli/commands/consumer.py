"""`dpp consumer`: Run the consumer workers."""

from __future__ import annotations

import typer

app = typer.Typer(help="Run the consumer workers.", no_args_is_help=True)
