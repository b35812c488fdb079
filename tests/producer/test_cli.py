"""`dpp producer token` and `dpp producer openapi`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dpp_cli.commands.producer import app
from dpp_producer.auth import authenticate
from dpp_producer.settings import SANDBOX_JWT_SECRET, producer_settings

runner = CliRunner()


@pytest.fixture(autouse=True)
def fresh_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DPP_ENV", "JWT_SECRET", "JWT_SECRET_ARN"):
        monkeypatch.delenv(name, raising=False)
    producer_settings.cache_clear()


def test_token_is_signed_with_the_local_secret() -> None:
    result = runner.invoke(app, ["token", "--sub", "demo", "--scope", "events:demo", "--ttl", "60"])
    assert result.exit_code == 0, result.output
    principal = authenticate(f"Bearer {result.stdout.strip()}", SANDBOX_JWT_SECRET)
    assert principal.subject == "demo"
    assert principal.scopes == frozenset({"events:demo"})


def test_token_refuses_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DPP_ENV", "prod")
    monkeypatch.setenv("JWT_SECRET", "p" * 48)
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/dpp")
    result = runner.invoke(app, ["token"])
    assert result.exit_code != 0
    producer_settings.cache_clear()


def test_openapi_command_writes_the_committed_document(tmp_path: Path) -> None:
    output = tmp_path / "openapi.json"
    result = runner.invoke(app, ["openapi", "--output", str(output)])
    assert result.exit_code == 0, result.output
    committed = Path(__file__).parents[2] / "docs" / "openapi.json"
    assert json.loads(output.read_text()) == json.loads(committed.read_text())
