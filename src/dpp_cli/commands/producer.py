"""`dpp producer`: Run and package the producer API."""

from __future__ import annotations

import typer

app = typer.Typer(help="Run and package the producer API.", no_args_is_help=True)
