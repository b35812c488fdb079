"""Fixtures of the operator-interface tests: a CLI wired like `dpp`, groups, fresh settings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import typer
from confluent_kafka.admin import AdminClient

from dpp_cli.commands import autoscale, lag, ops
from tests.fixtures.kafka import delete_groups


def _clear_settings_caches() -> None:
    from dpp_consumer.settings import worker_settings
    from dpp_ops.autoscale.settings import get_autoscale_settings
    from dpp_ops.lag import get_lag_settings
    from dpp_ops.page.settings import ops_settings
    from dpp_shared.settings import kafka_settings, topic_settings

    for getter in (
        worker_settings, get_lag_settings, get_autoscale_settings, kafka_settings,
        topic_settings, ops_settings,
    ):  # fmt: skip
        getter.cache_clear()


@pytest.fixture
def fresh_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Settings getters re-read the environment this test sets (they cache per process)."""
    _clear_settings_caches()
    yield monkeypatch
    monkeypatch.undo()
    _clear_settings_caches()


@pytest.fixture
def cli() -> typer.Typer:
    """The commands this suite owns, registered as `dpp` registers them."""
    app = typer.Typer()
    app.add_typer(lag.app, name="lag")
    app.add_typer(ops.app, name="ops")
    consumer = typer.Typer()
    consumer.command("autoscale")(autoscale.autoscale)
    consumer.command("noop")(lambda: None)
    app.add_typer(consumer, name="consumer")
    return app


@pytest.fixture
def group(unique_name: str, kafka_admin: AdminClient) -> Iterator[str]:
    """A consumer group name unique to the test, deleted afterwards."""
    yield f"g-{unique_name}"
    delete_groups(kafka_admin, [f"g-{unique_name}"])
