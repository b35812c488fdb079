"""The live ops page in headless Chromium: it shows the API's numbers and updates without reload."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import Consumer

from dpp_ops.ports import free_port
from dpp_shared.topics import DEAD_LETTER_TOPIC, DEMO_TOPIC, TopicNamespace
from dpp_store import JobStart, JobStore
from tests.ops.browser import Browser, chromium_binary
from tests.ops.support import produce_plain
from tests.waiting import wait_until

ARTIFACT = Path(__file__).resolve().parents[2] / "test-artifacts" / "ops-page.png"

READ_DOM = """JSON.stringify({
  seq: Number(document.getElementById("seq").textContent),
  marker: window.__dppMarker || null,
  groups: [...document.querySelectorAll("#groups tbody tr")].map((r) => ({
    group: r.dataset.group,
    total_lag: r.querySelector(".total-lag").textContent,
    lag_seconds: r.querySelector(".lag-seconds").textContent,
    workers: r.querySelector(".workers").textContent,
    status: r.querySelector(".status").textContent,
  })),
  topics: [...document.querySelectorAll("#topics tr.topic-row")].map((r) => r.dataset.topic),
  partitions: [...document.querySelectorAll("#topics tr.partition-row")].map((r) => ({
    partition: Number(r.dataset.partition),
    lag: r.querySelector(".lag").textContent,
    status: r.querySelector(".status").textContent,
  })),
  dead: [...document.querySelectorAll("#dead-letters .event-id")].map((c) => c.textContent),
  throughput: document.getElementById("throughput-total").textContent,
  lag_paths: document.querySelectorAll("#lag-chart path[data-group]").length,
  worker_paths: document.querySelectorAll("#workers-chart path[data-group]").length,
  bars: document.querySelectorAll("#throughput-chart rect.bar").length,
})"""

# Skipped only on a developer machine without chromium; CI (CI=true) must have it installed.
pytestmark = pytest.mark.skipif(
    chromium_binary() is None and not os.environ.get("CI"), reason="apt-get install -y chromium"
)


@pytest.fixture
def ops_url(
    kafka_bootstrap: str, topic_namespace: TopicNamespace, group: str, tmp_path: Path
) -> Iterator[str]:
    """`dpp ops serve` as a process, sampling every 1.5 s."""
    database_url = f"sqlite:///{tmp_path / 'jobs.db'}"
    store = JobStore.from_url(database_url)
    store.migrate()
    for n in range(3):
        store.begin(JobStart(f"job-{n}", "demo.echo.requested.v1", "echo", "t", 0, n))
        store.succeed(f"job-{n}", {})
    store.close()
    port = free_port()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "DPP_TOPIC_PREFIX": topic_namespace.prefix,
        "DATABASE_URL": database_url,
    }
    topic = topic_namespace.physical(DEMO_TOPIC)
    command = [
        sys.executable, "-m", "dpp_cli.main", "ops", "serve",
        "--port", str(port), "--interval", "1.5", "--group", group, "--topic", topic,
    ]  # fmt: skip
    log = tmp_path / "ops.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def sampled() -> bool:
        try:
            return bool(httpx.get(f"{url}/healthz", timeout=2).json()["seq"] >= 1)
        except httpx.HTTPError:
            return process.poll() is not None

    try:
        wait_until(sampled, 60, "the ops service's first sample")
        assert process.poll() is None, log.read_text()
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal: -15 is a clean stop here.
        assert process.wait(30) in (0, -signal.SIGTERM), log.read_text()[-2000:]


def consistent_view(browser: Browser, url: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The DOM and the API answer for the same sample (the page polls, so retry until equal)."""

    def same_sample() -> tuple[dict[str, Any], dict[str, Any]] | None:
        dom = json.loads(browser.evaluate(READ_DOM))
        api = httpx.get(f"{url}/api/overview", timeout=5).json()
        return (dom, api) if dom["seq"] == api["seq"] and dom["groups"] else None

    return wait_until(same_sample, 30, "the page to show the API's current sample", every_s=0.2)


def assert_page_matches(dom: dict[str, Any], api: dict[str, Any]) -> None:
    (shown,) = dom["groups"]
    (group,) = api["groups"]
    assert shown["group"] == group["group"]
    assert shown["total_lag"] == str(group["total_lag"])
    assert shown["workers"] == str(group["members"])
    assert shown["status"] == group["status"]
    assert abs(float(shown["lag_seconds"]) - group["max_lag_seconds"]) <= 0.051
    assert {p["partition"]: p["lag"] for p in dom["partitions"]} == {
        p["partition"]: str(p["lag"]) for p in group["partitions"]
    }
    assert dom["dead"] == [d["job_id"] for d in api["dead_letters"]["recent"]]
    succeeded = sum(b["succeeded"] for b in api["throughput"]["buckets"])
    assert dom["throughput"] == str(succeeded)


def keep_polling(member: Consumer, stop: threading.Event) -> None:
    """Stay a live member of the group (the page counts members as workers)."""
    while not stop.is_set():
        member.poll(0.2)


def test_page_shows_the_api_numbers_and_updates_itself(
    ops_url: str, kafka_bootstrap: str, topic_namespace: TopicNamespace, group: str
) -> None:
    topic = topic_namespace.physical(DEMO_TOPIC)
    dead_topic = topic_namespace.physical(DEAD_LETTER_TOPIC)
    produce_plain(kafka_bootstrap, topic, 5, partition=0)
    for n in range(2):
        produce_plain(kafka_bootstrap, dead_topic, 1, headers=[("ce_id", f"dead-{n}".encode())])

    browser = Browser(f"{ops_url}/?poll_ms=300")
    member: Consumer | None = None
    stop = threading.Event()
    try:
        browser.evaluate("window.__dppMarker = 'loaded-once'")

        first = wait_until(
            lambda: (v := consistent_view(browser, ops_url))[0]["groups"][0]["total_lag"] == "5"
            and v,
            30, "lag 5 on the page",
        )  # fmt: skip
        assert_page_matches(*first)
        dom = first[0]
        assert dom["dead"] == ["dead-1", "dead-0"] and dom["throughput"] == "3"
        assert dom["groups"][0]["workers"] == "0"
        assert dom["lag_paths"] == 1 and dom["worker_paths"] == 1 and dom["bars"] >= 1

        # More lag and a group member arrive: the same page (no reload) shows both.
        produce_plain(kafka_bootstrap, topic, 7, partition=0)
        member = Consumer(
            {"bootstrap.servers": kafka_bootstrap, "group.id": group, "enable.auto.commit": False}
        )
        member.subscribe([topic])
        polling = threading.Thread(
            target=lambda: [member.poll(0.2) for _ in iter(stop.is_set, True)]
        )
        polling.start()
        later = wait_until(
            lambda: (v := consistent_view(browser, ops_url))[0]["groups"][0]["workers"] == "1"
            and v[0]["groups"][0]["total_lag"] == "12"
            and v,
            60, "lag 12 and one worker on the page",
        )  # fmt: skip
        assert_page_matches(*later)
        assert later[0]["seq"] > first[0]["seq"]
        assert later[0]["marker"] == "loaded-once", "the page reloaded instead of updating"
        series = later[1]["series"]
        assert {p["groups"][group]["workers"] for p in series} >= {0, 1}
        browser.screenshot(ARTIFACT)
        assert ARTIFACT.stat().st_size > 10_000
    finally:
        stop.set()
        browser.close()
        if member is not None:
            polling.join(10)
            member.close()
