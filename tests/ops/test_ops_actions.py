"""Acting from the ops page in headless Chromium: with ops:write an operator replays a dead
letter (once, ever) and pauses and resumes a job type on the control topic; with ops:read
only, the page offers no action and the API refuses it. Topics are folded and sorted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka.admin import AdminClient

from dpp_consumer.pauses import PauseFollower
from dpp_ops.control import ControlTopic
from dpp_ops.dead_letters import REPLAYED_TOPIC
from dpp_ops.ports import free_port
from dpp_ops.topic_admin import delete_topics
from dpp_shared.control import CONTROL_TOPIC
from dpp_shared.topics import DEMO_TOPIC, TopicNamespace
from dpp_store import JobStore
from tests.ops.browser import Browser, chromium_binary
from tests.ops.support import commit_offsets, produce_plain
from tests.ops.test_dlq_replay import replayed_sessions, write_dead_letters
from tests.waiting import wait_until

SECRET = "ops-actions-test-secret-that-is-long-enough-0123456789"

pytestmark = pytest.mark.skipif(
    chromium_binary() is None and not os.environ.get("CI"), reason="apt-get install -y chromium"
)

READ_DOM = """JSON.stringify({
  seq: Number(document.getElementById("seq").textContent),
  canWrite: document.body.dataset.canWrite,
  dead: [...document.querySelectorAll("#dead-letters tbody tr")].map((r) => ({
    id: r.dataset.id, replayed: r.querySelector(".replayed").textContent,
    buttons: r.querySelectorAll("button").length })),
  jobTypes: Object.fromEntries([...document.querySelectorAll("#job-types tbody tr")].map(
    (r) => [r.dataset.jobType, r.querySelector(".state").textContent])),
  buttons: document.querySelectorAll("button").length,
  topics: [...document.querySelectorAll("#topics tr.topic-row")].map((r) => r.dataset.topic),
  result: document.getElementById("action-result").textContent,
})"""


def token(scope: str, subject: str) -> str:
    from dpp_producer.auth import mint_token

    return mint_token(SECRET, subject=subject, scope=scope)


@pytest.fixture
def ops_url(
    kafka_bootstrap: str,
    kafka_admin: AdminClient,
    topic_namespace: TopicNamespace,
    group: str,
    tmp_path: Path,
) -> Iterator[str]:
    """`dpp ops serve --auth jwt` over 3 dead letters and a group lagging on the demo topic."""
    database_url = f"sqlite:///{tmp_path / 'jobs.db'}"
    JobStore.from_url(database_url).migrate()
    write_dead_letters(kafka_bootstrap, topic_namespace)
    demo = topic_namespace.physical(DEMO_TOPIC)
    produce_plain(kafka_bootstrap, demo, 4, partition=2)
    commit_offsets(kafka_bootstrap, group, {(demo, 2): 1})
    port = free_port()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "DPP_TOPIC_PREFIX": topic_namespace.prefix,
        "DATABASE_URL": database_url,
        "JWT_SECRET": SECRET,
        "DPP_ENV": "test",
        "DPP_LAG_MIN_OBSERVATIONS": "2",
        "DPP_LAG_STOP_AFTER_S": "0.5",
    }
    command = [
        sys.executable, "-m", "dpp_cli.main", "ops", "serve", "--port", str(port),
        "--interval", "0.5", "--auth", "jwt", "--group", group,
    ]  # fmt: skip
    log = tmp_path / "ops.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return bool(httpx.get(f"{url}/healthz", timeout=2).json()["seq"] >= 2)
        except httpx.HTTPError:
            return process.poll() is not None

    try:
        wait_until(up, 60, "the ops service's samples")
        assert process.poll() is None, log.read_text()
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) in (0, -signal.SIGTERM), log.read_text()[-2000:]
        with suppress(RuntimeError):
            delete_topics(
                kafka_admin,
                [topic_namespace.physical(t) for t in (REPLAYED_TOPIC, CONTROL_TOPIC)],
            )


def open_as(url: str, bearer: str) -> Browser:
    """The page in Chromium holding ``bearer`` as its token (as `#token=` would leave it)."""
    browser = Browser(f"{url}/?poll_ms=300")
    browser.evaluate(f"sessionStorage.setItem('dpp-ops-token', {json.dumps(bearer)})")
    browser.call("Page.reload")

    def reloaded() -> bool:
        try:
            return browser.evaluate("document.body && document.body.dataset.canWrite") is not None
        except AssertionError:  # the old page's context went away mid-evaluation
            return False

    wait_until(reloaded, 30, "the page to reload with the token")
    return browser


def dom(browser: Browser) -> dict[str, Any]:
    view: dict[str, Any] = json.loads(browser.evaluate(READ_DOM))
    return view


def test_read_only_token_sees_the_page_but_cannot_act(ops_url: str) -> None:
    reader = token("ops:read", "ops-reader")
    browser = open_as(ops_url, reader)
    try:
        view = wait_until(lambda: (v := dom(browser))["dead"] and v["jobTypes"] and v, 30, "rows")
        assert view["canWrite"] == "false" and view["buttons"] == 0
        assert all(d["buttons"] == 0 for d in view["dead"])
    finally:
        browser.close()
    headers = {"Authorization": f"Bearer {reader}", "X-Requested-By": "test"}
    assert httpx.post(f"{ops_url}/api/job-types/echo/pause", headers=headers).status_code == 403
    assert httpx.post(f"{ops_url}/api/dead-letters/0:0/replay", headers=headers).status_code == 403


def test_writer_replays_a_dead_letter_once_and_pauses_and_resumes_a_job_type(
    ops_url: str, kafka_bootstrap: str, topic_namespace: TopicNamespace
) -> None:
    writer = token("ops:write", "ops-writer")
    browser = open_as(ops_url, writer)
    try:
        view = wait_until(lambda: (v := dom(browser))["dead"] and v["jobTypes"] and v, 30, "rows")
        assert view["canWrite"] == "true"
        assert view["jobTypes"]["echo"] == "running"
        # The group lags on the demo topic only: that topic row (retry tiers folded) is first.
        api = httpx.get(
            f"{ops_url}/api/overview", headers={"Authorization": f"Bearer {writer}"}
        ).json()
        (group_view,) = api["groups"]
        folded = group_view["topics"]
        assert len(group_view["partitions"]) == 84 and len(folded) == 4
        assert folded[0]["topic"] == topic_namespace.physical(DEMO_TOPIC)
        assert folded[0]["lag"] == 3 and len(folded[0]["tiers"]) == 3
        assert folded[0]["partitions"][0]["partition"] == 2, "the lagging partition first"
        assert view["topics"] == [t["topic"] for t in folded]

        newest = view["dead"][0]["id"]
        browser.evaluate(
            f"document.querySelector('#dead-letters tr[data-id=\"{newest}\"] button').click()"
        )
        after = wait_until(
            lambda: (v := dom(browser))["dead"][0]["replayed"].startswith("replayed as") and v,
            30, "the letter shown as replayed",
        )  # fmt: skip
        assert after["dead"][0]["buttons"] == 0 and "done" in after["result"]
        assert sum(replayed_sessions(kafka_bootstrap, topic_namespace).values()) == 1
        again = httpx.post(
            f"{ops_url}/api/dead-letters/{newest}/replay",
            headers={"Authorization": f"Bearer {writer}", "X-Requested-By": "test"},
        )
        assert again.status_code == 409 and again.json()["skipped"].startswith("already")
        assert sum(replayed_sessions(kafka_bootstrap, topic_namespace).values()) == 1

        # A worker-side follower of the control topic, as the workers embed it.
        control = ControlTopic({"bootstrap.servers": kafka_bootstrap}, topic_namespace)
        browser.evaluate(
            "document.querySelector('#job-types tr[data-job-type=\"echo\"] button').click()"
        )
        wait_until(lambda: dom(browser)["jobTypes"]["echo"] == "paused", 30, "echo paused")
        follower = PauseFollower({"bootstrap.servers": kafka_bootstrap}, control.topic)
        try:
            follower.poll(until_end=True)
            assert follower.paused() == {"echo"}
            assert follower.states["echo"].by == "ops-writer"
            browser.evaluate(
                "document.querySelector('#job-types tr[data-job-type=\"echo\"] button').click()"
            )
            wait_until(lambda: dom(browser)["jobTypes"]["echo"] == "running", 30, "echo resumed")
            wait_until(lambda: not follower.poll() or follower.paused() == set(), 30, "resume seen")
            assert follower.paused() == set() and follower.states["echo"].paused is False
        finally:
            follower.close()
    finally:
        browser.close()

    no_header = httpx.post(
        f"{ops_url}/api/job-types/echo/pause", headers={"Authorization": f"Bearer {writer}"}
    )
    assert no_header.status_code == 400, "actions need X-Requested-By (no cross-site posts)"
    unknown = httpx.post(
        f"{ops_url}/api/job-types/nope/pause",
        headers={"Authorization": f"Bearer {writer}", "X-Requested-By": "test"},
    )
    assert unknown.status_code == 404
