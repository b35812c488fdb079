"""Expired idempotency keys are purged on a schedule one can see (log, API, metrics) and by
`dpp store purge`, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from dpp_cli.commands import store as store_command
from dpp_ops.exporters import LagMonitor, LagSampler
from dpp_ops.lag import LagHistory, LagReader
from dpp_ops.page import OpsService, OpsSettings, create_app
from dpp_ops.purge import IdempotencyPurger
from dpp_store import IdempotencyStore
from tests.waiting import wait_until


def seeded(database_url: str) -> IdempotencyStore:
    """Two answers that expired an hour ago and one still valid."""
    past = datetime.now(UTC) - timedelta(hours=2)
    old = IdempotencyStore.from_url(database_url, clock=lambda: past)
    old.migrate()
    for key in ("old-1", "old-2"):
        old.put(key, "alice", "h", 202, b"{}", ttl_s=3600)
    old.close()
    store = IdempotencyStore.from_url(database_url)
    store.put("fresh", "alice", "h", 202, b"{}", ttl_s=3600)
    return store


def test_scheduled_purge_is_logged_shown_and_measured(
    database_url: str, kafka_bootstrap: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = seeded(database_url)
    purger = IdempotencyPurger(store, every_s=0.2)
    settings = OpsSettings(interval_s=60)
    monitor = LagMonitor(LagReader(kafka_bootstrap), [], LagHistory())
    service = OpsService(LagSampler(monitor, 60), settings, purger=purger)
    caplog.set_level(logging.INFO, logger="dpp.ops.purge")
    with TestClient(create_app(service)) as http:  # starts the purger with the service
        view = wait_until(
            lambda: (v := http.get("/api/maintenance").json()["idempotency_purge"])["last"] and v,
            10, "the first purge",
        )  # fmt: skip
        assert view["every_s"] == 0.2 and view["purged_total"] == 2
        assert view["next_at"] == pytest.approx(view["last"]["at"] + 0.2)
        wait_until(
            lambda: len([r for r in caplog.records if "purged" in r.message]) >= 2, 10, "2 runs"
        )
        metrics = http.get("/metrics").text
        assert "dpp_idempotency_keys_purged_total 2.0" in metrics
        assert "dpp_idempotency_last_purge_timestamp_seconds" in metrics
        assert http.get("/api/overview").json()["maintenance"]["idempotency_purge"]["failures"] == 0
    assert "purged 2 expired idempotency key(s)" in caplog.text
    assert store.get("fresh", "alice") is not None
    store.close()


def test_dpp_store_purge(database_url: str, fresh_settings: pytest.MonkeyPatch) -> None:
    seeded(database_url).close()
    fresh_settings.setenv("DATABASE_URL", database_url)
    from dpp_shared.settings import database_settings

    database_settings.cache_clear()
    app = typer.Typer()
    app.add_typer(store_command.app, name="store")
    try:
        first = CliRunner().invoke(app, ["store", "purge", "--json"])
        again = CliRunner().invoke(app, ["store", "purge"])
    finally:
        database_settings.cache_clear()
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["deleted"] == 2
    assert again.exit_code == 0 and "purged 0 expired" in again.stderr
