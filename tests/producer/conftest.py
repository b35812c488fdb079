"""Fixtures of the producer tests: an app wired to the real broker and a per-test namespace."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dpp_producer.app import create_app
from dpp_shared.settings import KafkaSettings, TopicSettings
from dpp_shared.topics import TopicNamespace
from tests.producer import factories

AppFactory = Callable[..., FastAPI]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'jobs.db'}"


@pytest.fixture
def make_app(kafka_bootstrap: str, topic_namespace: TopicNamespace, sqlite_url: str) -> AppFactory:
    """Build an app on the real broker and this test's topics; keyword overrides are settings."""

    def build(
        *,
        bootstrap: str | None = None,
        database_url: str | None = None,
        kafka: dict[str, Any] | None = None,
        **overrides: Any,
    ) -> FastAPI:
        return create_app(
            factories.settings(database_url or sqlite_url, **overrides),
            kafka=KafkaSettings(bootstrap_servers=bootstrap or kafka_bootstrap, **(kafka or {})),
            topics=TopicSettings(topic_prefix=topic_namespace.prefix),
        )

    return build


@pytest.fixture
def client(make_app: AppFactory) -> Iterator[TestClient]:
    with TestClient(make_app(), raise_server_exceptions=False) as test_client:
        yield test_client
