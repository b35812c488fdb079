"""`dpp schemas`: Export and check event schemas (JSON Schema, AsyncAPI)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Export and check event schemas (JSON Schema, AsyncAPI).", no_args_is_help=True)
