"""`dpp lag` against the real broker: JSON numbers equal the engine's, table, status exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from confluent_kafka.admin import AdminClient
from typer.testing import CliRunner

from dpp_ops.control import ControlTopic
from dpp_ops.lag import LagReader
from dpp_ops.topic_admin import delete_topics
from dpp_shared.control import CONTROL_TOPIC
from dpp_shared.topics import DEMO_TOPIC, TopicNamespace
from tests.ops.support import commit_offsets, produce_plain

PER_PARTITION = 10


@pytest.fixture
def lagging_group(
    kafka_bootstrap: str, topic_namespace: TopicNamespace, group: str
) -> tuple[str, str]:
    """A group without members on the 3-partition demo topic: caught up on partition 0,
    6 behind on 1, never committed on 2 (10 behind under earliest)."""
    topic = topic_namespace.physical(DEMO_TOPIC)
    for partition in range(3):
        produce_plain(kafka_bootstrap, topic, PER_PARTITION, partition=partition)
    commit_offsets(kafka_bootstrap, group, {(topic, 0): PER_PARTITION, (topic, 1): 4})
    return group, topic


@pytest.fixture
def env(fresh_settings: pytest.MonkeyPatch, kafka_bootstrap: str) -> pytest.MonkeyPatch:
    fresh_settings.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    fresh_settings.setenv("DPP_LAG_MIN_OBSERVATIONS", "2")
    return fresh_settings


def run_lag(cli: typer.Typer, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["lag", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout


def test_json_matches_the_lag_engine(
    cli: typer.Typer, env: pytest.MonkeyPatch, lagging_group: tuple[str, str], kafka_bootstrap: str
) -> None:
    group, topic = lagging_group
    code, output = run_lag(cli, "--json", "-g", group, "-t", topic)
    view = json.loads(output)

    with LagReader(kafka_bootstrap) as reader:
        engine = reader.read_group(group, [topic])
    assert code == 0, "one sample is not enough for an unhealthy verdict"
    (shown,) = view["groups"]
    assert shown["group"] == group
    assert shown["total_lag"] == engine.total_lag == 16
    assert shown["members"] == 0
    rows = {p["partition"]: p for p in shown["partitions"]}
    for entry in engine.partitions:
        row = rows[entry.partition]
        assert row["lag"] == entry.lag_messages
        assert row["committed_offset"] == entry.committed_offset
        assert row["end_offset"] == entry.end_offset
        assert row["status"] == "OK"
    assert [rows[p]["lag"] for p in range(3)] == [0, 6, 10]
    assert rows[0]["lag_seconds"] == 0.0
    assert rows[1]["lag_seconds"] > 0 and rows[2]["lag_seconds"] > 0
    assert shown["complete"] is False and view["healthy"] is True


def test_exit_code_is_3_when_a_group_is_err(
    cli: typer.Typer, env: pytest.MonkeyPatch, lagging_group: tuple[str, str]
) -> None:
    group, topic = lagging_group
    env.setenv("DPP_LAG_STOP_AFTER_S", "0.2")
    args = ["--json", "-g", group, "-t", topic, "--samples", "3", "--interval", "0.2"]
    code, output = run_lag(cli, *args)
    (shown,) = json.loads(output)["groups"]
    assert code == 3
    assert shown["status"] == "ERR" and shown["healthy"] is False
    statuses = {p["partition"]: p["status"] for p in shown["partitions"]}
    # Frozen offsets with lag and nobody owning the partition: Burrow's STOP.
    assert statuses == {0: "OK", 1: "STOP", 2: "STOP"}


def test_a_paused_job_type_is_ok_with_its_reason_not_stop_or_stall(
    cli: typer.Typer,
    env: pytest.MonkeyPatch,
    lagging_group: tuple[str, str],
    kafka_bootstrap: str,
    kafka_admin: AdminClient,
    topic_namespace: TopicNamespace,
) -> None:
    """The same frozen partitions as above, but an operator paused the job type of the topic:
    `dpp lag` reads the switch from the control topic, as the ops page does."""
    group, topic = lagging_group
    env.setenv("DPP_LAG_STOP_AFTER_S", "0.2")
    env.setenv("DPP_LAG_STALL_AFTER_S", "0.2")
    env.setenv("DPP_TOPIC_PREFIX", topic_namespace.prefix)
    control = ControlTopic({"bootstrap.servers": kafka_bootstrap}, topic_namespace)
    try:
        control.set_paused("echo", True, by="ann")
        args = ["--json", "-g", group, "-t", topic, "--samples", "3", "--interval", "0.2"]
        code, output = run_lag(cli, *args)
        (shown,) = json.loads(output)["groups"]
        assert code == 0 and shown["status"] == "OK" and shown["healthy"] is True
        rows = {p["partition"]: p for p in shown["partitions"]}
        assert {p: rows[p]["status"] for p in rows} == {0: "OK", 1: "OK", 2: "OK"}
        assert rows[1]["reason"] == rows[2]["reason"] == "job type echo paused by ann"

        control.set_paused("echo", False, by="ann")
        code, output = run_lag(cli, *args)
        statuses = {
            p["partition"]: p["status"] for p in json.loads(output)["groups"][0]["partitions"]
        }
        assert code == 3 and statuses == {0: "OK", 1: "STOP", 2: "STOP"}, "resumed: frozen again"
    finally:
        delete_topics(kafka_admin, [topic_namespace.physical(CONTROL_TOPIC)])


def test_caught_up_group_exits_0_and_table_shows_every_column(
    cli: typer.Typer, env: pytest.MonkeyPatch, lagging_group: tuple[str, str], kafka_bootstrap: str
) -> None:
    group, topic = lagging_group
    commit_offsets(kafka_bootstrap, group, {(topic, p): PER_PARTITION for p in range(3)})
    env.setenv("DPP_LAG_STOP_AFTER_S", "0.2")
    env.setenv("COLUMNS", "240")
    code, output = run_lag(cli, "-g", group, "-t", topic, "--samples", "3", "--interval", "0.2")
    assert code == 0
    for column in ("group", "topic", "partition", "lag", "lag seconds", "rate /s", "status"):
        assert column in output
    assert group[:20] in output and "OK" in output


def test_history_file_lets_one_sample_per_run_reach_a_verdict(
    cli: typer.Typer, env: pytest.MonkeyPatch, lagging_group: tuple[str, str], tmp_path: Path
) -> None:
    group, topic = lagging_group
    env.setenv("DPP_LAG_STOP_AFTER_S", "0.2")
    history = tmp_path / "lag-history.json"
    args = ["--json", "-g", group, "-t", topic, "--history", str(history)]
    first, _ = run_lag(cli, *args)
    assert first == 0 and history.exists()
    codes = []
    for _ in range(10):  # cron-style: each run adds one observation to the stored window
        code, output = run_lag(cli, *args)
        codes.append(code)
        if code:
            break
    assert codes[-1] == 3, codes
    assert json.loads(output)["groups"][0]["status"] == "ERR"


def test_unreadable_lag_exits_1(cli: typer.Typer, fresh_settings: pytest.MonkeyPatch) -> None:
    fresh_settings.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    code, output = run_lag(cli, "--json", "-g", "nobody", "-t", "nothing", "--timeout", "1")
    assert code == 1
    assert json.loads(output)["groups"][0]["error"]
