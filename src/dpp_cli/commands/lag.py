"""`dpp lag`: Consumer lag: table, watch, export."""

from __future__ import annotations

import typer

app = typer.Typer(help="Consumer lag: table, watch, export.", no_args_is_help=True)
