"""The ops service's JSON API on the real broker and a real job store, and its access rules."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from dpp_ops.autoscale.supervisor import SupervisorStatus, status_file_publisher
from dpp_ops.dead_letters import DeadLetterReader
from dpp_ops.exporters import LagMonitor, LagSampler, WatchTarget
from dpp_ops.lag import LagHistory, LagReader
from dpp_ops.page import OpsService, OpsSettings, create_app
from dpp_shared.topics import DEAD_LETTER_TOPIC, DEMO_TOPIC, TopicNamespace
from dpp_store import JobStart, JobStore
from dpp_store.engine import create_store_engine
from tests.ops.support import commit_offsets, produce_plain
from tests.waiting import wait_until

SECRET = "ops-test-secret-that-is-long-enough-0123456789"


def ops_service(
    bootstrap: str, group: str, topic: str, dead_topic: str, database_url: str, **settings: object
) -> OpsService:
    monitor = LagMonitor(LagReader(bootstrap), [WatchTarget(group, (topic,))], LagHistory())
    options = OpsSettings.model_validate({"interval_s": 0.3, "dead_letter_limit": 2} | settings)
    return OpsService(
        LagSampler(monitor, options.interval_s),
        options,
        store=create_store_engine(database_url),
        dead_letters=DeadLetterReader(dead_topic, {"bootstrap.servers": bootstrap}),
    )


@pytest.fixture
def jobs_db(tmp_path: Path) -> str:
    """A job store with 5 succeeded jobs and 1 dead one."""
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    store = JobStore.from_url(url)
    store.migrate()
    for n in range(6):
        store.begin(JobStart(f"job-{n}", "demo.echo.requested.v1", "echo", "t", 0, n))
        if n < 5:
            store.succeed(f"job-{n}", {"n": n})
        else:
            store.fail(f"job-{n}", "boom", dead=True)
    store.close()
    return url


@pytest.fixture
def client(
    kafka_bootstrap: str, topic_namespace: TopicNamespace, group: str, jobs_db: str, tmp_path: Path
) -> Iterator[tuple[TestClient, str]]:
    topic = topic_namespace.physical(DEMO_TOPIC)
    dead_topic = topic_namespace.physical(DEAD_LETTER_TOPIC)
    produce_plain(kafka_bootstrap, topic, 7, partition=1)
    commit_offsets(kafka_bootstrap, group, {(topic, 1): 2})
    for n in range(3):
        headers = [
            ("ce_type", b"demo.echo.requested.v1"),
            ("ce_id", f"evt-{n}".encode()),
            ("dpp-error-type", b"PermanentJobError"),
            ("dpp-error", f"bad input {n}".encode()),
            ("dpp-original-topic", topic.encode()),
        ]
        produce_plain(kafka_bootstrap, dead_topic, 1, headers=headers)
    status_file_publisher(tmp_path / "autoscale" / f"{group}.json")(
        SupervisorStatus(group, 2, 1, 2, 5, 12, "total lag 5 ...", 0.0, (1, 2), (9101, 9102))
    )
    service = ops_service(
        kafka_bootstrap, group, topic, dead_topic, jobs_db, autoscale_dir=tmp_path / "autoscale"
    )
    with TestClient(create_app(service)) as test_client:
        yield test_client, topic


def test_overview_shows_lag_throughput_and_dead_letters(
    client: tuple[TestClient, str], kafka_bootstrap: str, group: str
) -> None:
    http, topic = client
    view = wait_until(
        lambda: (v := http.get("/api/overview").json())["seq"] >= 2 and v, 30, "two samples"
    )
    (shown,) = view["groups"]
    with LagReader(kafka_bootstrap) as reader:
        engine = reader.read_group(group, [topic])
    assert shown["group"] == group and shown["total_lag"] == engine.total_lag == 5
    rows = {p["partition"]: p for p in shown["partitions"]}
    assert {p: r["lag"] for p, r in rows.items()} == {
        e.partition: e.lag_messages for e in engine.partitions
    }
    assert rows[1]["status"] == "OK" and rows[1]["lag_seconds"] > 0
    # What a local autoscaler published for the group rides along.
    assert shown["autoscaler"]["workers"] == 2 and shown["autoscaler"]["desired"] == 2
    assert len(view["series"]) >= 2
    assert view["series"][-1]["groups"][group] == {
        "total_lag": 5, "max_lag_seconds": shown["max_lag_seconds"], "workers": 0, "status": "OK",
    }  # fmt: skip

    throughput = view["throughput"]
    assert sum(b["succeeded"] for b in throughput["buckets"]) == 5
    assert sum(b["dead"] for b in throughput["buckets"]) == 1
    assert throughput["counts"] == {"succeeded": 5, "dead": 1}

    dead = view["dead_letters"]
    assert dead["arrived"] == 3
    assert [d["job_id"] for d in dead["recent"]] == ["evt-2", "evt-1"]  # newest first, limit 2
    assert dead["recent"][0]["error_type"] == "PermanentJobError"
    assert dead["recent"][0]["error"] == "bad input 2"
    assert dead["recent"][0]["original"]["topic"] == topic

    for path in ("/api/groups", "/api/series", "/api/throughput", "/api/dead-letters"):
        assert http.get(path).status_code == 200
    metrics = http.get("/metrics").text
    assert f'kafka_consumergroup_group_sum_lag{{group="{group}"}} 5.0' in metrics


def test_page_and_static_files_are_served(client: tuple[TestClient, str]) -> None:
    http, _ = client
    page = http.get("/")
    assert page.status_code == 200 and "<title>dpp ops</title>" in page.text
    assert "/static/ops.js" in page.text
    assert http.get("/static/ops.js").headers["content-type"].startswith("text/javascript")
    assert http.get("/static/ops.css").status_code == 200
    assert http.get("/static/secrets.txt").status_code == 404
    assert http.get("/healthz").json()["status"] == "ok"


def test_jwt_mode_requires_the_ops_read_scope(
    fresh_settings: pytest.MonkeyPatch, tmp_path: Path, kafka_bootstrap: str
) -> None:
    from dpp_cli.commands.ops import producer_token_verifier
    from dpp_producer.auth import mint_token
    from dpp_producer.settings import producer_settings

    fresh_settings.setenv("JWT_SECRET", SECRET)
    fresh_settings.setenv("DPP_ENV", "test")
    producer_settings.cache_clear()
    try:
        url = f"sqlite:///{tmp_path / 'jobs.db'}"
        service = ops_service(kafka_bootstrap, "g", "t", "d", url, auth="jwt")
        with TestClient(create_app(service, verify=producer_token_verifier(), start=False)) as http:
            anonymous = http.get("/api/overview")
            assert anonymous.status_code == 401
            assert anonymous.headers["www-authenticate"] == "Bearer"
            assert http.get("/metrics").status_code == 401

            def get(scope: str, secret: str = SECRET) -> int:
                token = mint_token(secret, subject="ops-test", scope=scope)
                headers = {"Authorization": f"Bearer {token}"}
                status: int = http.get("/api/overview", headers=headers).status_code
                return status

            assert get("events:*") == 403
            assert get("ops:read events:demo") == 200
            assert get("ops:read", secret="another-secret-that-is-also-long-enough") == 401
            assert http.get("/").status_code == 200  # the page itself holds no data
    finally:
        producer_settings.cache_clear()


def test_serve_refuses_a_public_interface_without_auth(
    cli: typer.Typer, fresh_settings: pytest.MonkeyPatch
) -> None:
    result = CliRunner().invoke(cli, ["ops", "serve", "--host", "0.0.0.0"])  # noqa: S104
    assert result.exit_code == 1
    assert "without auth" in result.output
