"""The client is tested against the real producer: its app fixtures, and the API under uvicorn."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from dpp_ops.ports import free_port
from dpp_producer.app import create_app
from dpp_producer.settings import ProducerSettings
from dpp_shared.settings import KafkaSettings, TopicSettings
from dpp_shared.topics import TopicNamespace
from tests.producer.conftest import make_app, sqlite_url

__all__ = ["api_url", "make_app", "sqlite_url"]


@pytest.fixture
def api_url(kafka_bootstrap: str, topic_namespace: TopicNamespace, tmp_path: Path) -> Iterator[str]:
    """The producer API served by uvicorn on a free loopback port, on this test's topics."""
    settings = ProducerSettings.model_validate(
        {"DPP_ENV": "test", "DATABASE_URL": f"sqlite:///{tmp_path / 'jobs.db'}"}
    )
    app = create_app(
        settings,
        kafka=KafkaSettings(bootstrap_servers=kafka_bootstrap),
        topics=TopicSettings(topic_prefix=topic_namespace.prefix),
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)  # polling a condition with a deadline, not a fixed wait
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
