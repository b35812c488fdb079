"""The lag publisher's PutMetricData against moto's CloudWatch (server mode, real HTTP): the
metrics land under the namespace, names and dimensions the deployment contract declares, which
are what the ECS scaling policy and the alarms in infra/ read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from moto.server import ThreadedMotoServer

from dpp_ops.exporters import emf_document
from dpp_ops.exporters.cloudwatch import metric_data, put_metrics
from dpp_ops.ports import free_port
from tests.ops.test_emf import snapshot

CONTRACT = Path(__file__).resolve().parents[2] / "infra" / "contract" / "components.json"
REGION = "eu-west-1"


@pytest.fixture
def cloudwatch() -> Iterator[Any]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        yield boto3.client(
            "cloudwatch",
            region_name=REGION,
            endpoint_url=f"http://127.0.0.1:{port}",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
    finally:
        server.stop()


def contract_metrics() -> dict[str, Any]:
    publisher = json.loads(CONTRACT.read_text())["components"]["lag-publisher"]
    metrics: dict[str, Any] = publisher["metrics"]
    return metrics


def test_published_metrics_match_the_contract_and_read_back(cloudwatch: Any) -> None:
    now = datetime.now(UTC)
    documents = emf_document(
        snapshot(), timestamp_ms=int(now.timestamp() * 1000), dead_letters={"workers": 4}
    )
    sent = put_metrics(cloudwatch, documents)
    assert sent == 7  # 3 topics x lag messages, 2 lag ages, worker count, dead letters

    listed = cloudwatch.list_metrics()["Metrics"]
    published = {
        (m["Namespace"], m["MetricName"], tuple(sorted(d["Name"] for d in m["Dimensions"])))
        for m in listed
    }
    contract = contract_metrics()
    namespace = contract["namespace"]
    for name, metric in contract["metrics"].items():
        key = (namespace, name, tuple(sorted(metric["dimensions"])))
        assert key in published, (key, published)
    units = {(d["MetricName"], d["Unit"]) for chunk in [documents] for d in _data(chunk)}
    assert {(name, m["unit"]) for name, m in contract["metrics"].items()} <= units

    lag = cloudwatch.get_metric_statistics(
        Namespace=namespace,
        MetricName="ConsumerLagMessages",
        Dimensions=[
            {"Name": "ConsumerGroup", "Value": "workers"},
            {"Name": "Topic", "Value": "dpp.demo.echo"},
        ],
        StartTime=now - timedelta(minutes=5),
        EndTime=now + timedelta(minutes=5),
        Period=60,
        Statistics=["Maximum"],
    )
    assert [point["Maximum"] for point in lag["Datapoints"]] == [10.0]


def _data(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [datum for data in metric_data(documents).values() for datum in data]
