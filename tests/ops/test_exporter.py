"""The Prometheus exporter and EMF publisher of `dpp lag export`, scraped for real."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading

import httpx
from prometheus_client.parser import text_string_to_metric_families

from dpp_ops.lag import LagReader
from dpp_ops.ports import free_port
from dpp_shared.topics import DEMO_TOPIC, TopicNamespace
from tests.ops.support import commit_offsets, produce_plain
from tests.waiting import wait_until


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_exporter_metrics_equal_the_engine_and_emf_lines_follow(
    kafka_bootstrap: str, topic_namespace: TopicNamespace, group: str
) -> None:
    topic = topic_namespace.physical(DEMO_TOPIC)
    for partition, count in enumerate((4, 9, 0)):
        produce_plain(kafka_bootstrap, topic, count, partition=partition)
    commit_offsets(kafka_bootstrap, group, {(topic, 0): 1, (topic, 1): 9})
    port = free_port()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "DPP_TOPIC_PREFIX": topic_namespace.prefix,
    }
    command = [
        sys.executable, "-c", "from dpp_cli.commands.lag import app; app()",
        "export", "-g", group, "-t", topic, "--port", str(port), "--interval", "0.5", "--emf",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or ()), daemon=True)
    reader.start()
    try:

        def scrape() -> str | None:
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except httpx.HTTPError:
                return None
            return text if "kafka_consumergroup_group_lag{" in text else None

        metrics = samples(wait_until(scrape, 30, "the exporter to publish a sample"))
        with LagReader(kafka_bootstrap) as engine_reader:
            engine = engine_reader.read_group(group, [topic])
        for entry in engine.partitions:
            labels = (("group", group), ("partition", str(entry.partition)), ("topic", topic))
            assert metrics[("kafka_consumergroup_group_lag", labels)] == entry.lag_messages
            if entry.lag_seconds:
                exported = metrics[("kafka_consumergroup_group_lag_seconds", labels)]
                # Same pending record; the age only grew between the two reads.
                assert 0 < exported <= entry.lag_seconds
            assert metrics[("kafka_partition_latest_offset", labels[1:])] == entry.end_offset
        assert [e.lag_messages for e in engine.partitions] == [3, 0, 0]
        assert metrics[("kafka_consumergroup_group_sum_lag", (("group", group),))] == 3
        assert (
            metrics[
                ("kafka_consumergroup_group_topic_sum_lag", (("group", group), ("topic", topic)))
            ]
            == 3
        )
        assert metrics[("kafka_consumergroup_members", (("group", group),))] == 0
        assert metrics[("dpp_workers", (("group", group),))] == 0
        assert metrics[("kafka_consumergroup_group_status", (("group", group),))] == 1  # OK
        assert metrics[("kafka_consumergroup_poll_success", (("group", group),))] == 1

        def emf_lag() -> dict[str, object] | None:
            for line in list(lines):
                document = json.loads(line)
                if document.get("Topic") == topic:
                    return dict(document)
            return None

        document = wait_until(emf_lag, 30, "an EMF line for the topic")
        assert document["ConsumerGroup"] == group
        assert document["ConsumerLagMessages"] == 3
        assert document["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "DPP/Events"  # type: ignore[index]
        workers = wait_until(
            lambda: next((json.loads(line) for line in list(lines) if "WorkerCount" in line), None),
            30, "an EMF WorkerCount line",
        )  # fmt: skip
        assert workers["WorkerCount"] == 0 and workers["DeadLetters"] == 0
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, process.stderr.read() if process.stderr else ""
