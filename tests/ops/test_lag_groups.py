"""`dpp lag` over every consumer group of the real broker, and `--group` to pick."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import typer
from confluent_kafka.admin import AdminClient

from dpp_shared.topics import DEMO_TOPIC, TopicNamespace
from tests.fixtures.kafka import delete_groups
from tests.ops.support import commit_offsets, produce_plain
from tests.ops.test_lag_cli import run_lag


@pytest.fixture
def three_groups(
    kafka_bootstrap: str,
    kafka_admin: AdminClient,
    topic_namespace: TopicNamespace,
    unique_name: str,
) -> Iterator[tuple[str, list[str], str]]:
    """Two job groups and one of the tools' own (dpp-ops-*) with commits on the demo topic."""
    topic = topic_namespace.physical(DEMO_TOPIC)
    produce_plain(kafka_bootstrap, topic, 4, partition=0)
    groups = [f"a-{unique_name}", f"b-{unique_name}", f"dpp-ops-{unique_name}"]
    for n, group in enumerate(groups):
        commit_offsets(kafka_bootstrap, group, {(topic, 0): n + 1})
    yield topic, groups, unique_name
    delete_groups(kafka_admin, groups)


def test_every_group_is_shown_workers_first_without_the_tools_groups(
    cli: typer.Typer,
    fresh_settings: pytest.MonkeyPatch,
    kafka_bootstrap: str,
    topic_namespace: TopicNamespace,
    three_groups: tuple[str, list[str], str],
) -> None:
    topic, (first, second, tool), stem = three_groups
    fresh_settings.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    fresh_settings.setenv("DPP_TOPIC_PREFIX", topic_namespace.prefix)
    fresh_settings.setenv("DPP_CONSUMER_GROUP", f"workers-{stem}")  # not started: no group yet
    code, output = run_lag(cli, "--json")
    groups = {g["group"]: g for g in json.loads(output)["groups"]}
    mine = {f"workers-{stem}", first, second}
    assert all(groups[name]["error"] is None for name in mine), output
    # Other tests' groups share the broker: only one of them failing to read may make it 1.
    assert code == 0 or any(g["error"] for name, g in groups.items() if name not in mine), output
    assert next(iter(groups)) == f"workers-{stem}", "the workers' group comes first"
    assert groups[f"workers-{stem}"]["state"] == "DEAD"  # shown before it exists
    assert first in groups and second in groups
    assert tool not in groups, "the tools' own groups are left out"
    # Discovered groups are measured on what they committed: only the demo topic's partition 0.
    assert [(p["topic"], p["partition"], p["lag"]) for p in groups[first]["partitions"]] == [
        (topic, 0, 3)
    ]
    assert groups[second]["partitions"][0]["lag"] == 2

    code, output = run_lag(cli, "--json", "-g", second, "-g", tool, "-t", topic)
    picked = [g["group"] for g in json.loads(output)["groups"]]
    assert picked == [second, tool], "--group picks exactly those, tools' groups included"

    fresh_settings.setenv("DPP_LAG_IGNORE_GROUPS", f"a-{stem}")
    from dpp_ops.lag import get_lag_settings

    get_lag_settings.cache_clear()
    _, output = run_lag(cli, "--json")
    shown = {g["group"] for g in json.loads(output)["groups"]}
    assert first not in shown and second in shown and tool in shown
