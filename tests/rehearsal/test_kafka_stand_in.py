"""The apache/kafka stand-in's entry point keeps the official image's KAFKA_* contract."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
RUN_SCRIPT = REPO / "infra" / "containers" / "kafka" / "run.py"


def _load_run_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kafka_stand_in_run", RUN_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run = _load_run_script()


@pytest.mark.parametrize(
    ("variable", "prop"),
    [
        ("KAFKA_NODE_ID", "node.id"),
        ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "offsets.topic.replication.factor"),
        ("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "listener.security.protocol.map"),
        ("KAFKA_LISTENER_NAME_INTERNAL_SSL_CLIENT__AUTH", "listener.name.internal.ssl.client_auth"),
        ("KAFKA_CONFLUENT_SUPPORT___CUSTOMER_ID", "confluent.support-customer.id"),
    ],
)
def test_variable_names_become_property_names_as_in_the_official_image(
    variable: str, prop: str
) -> None:
    assert run.property_name(variable) == prop


def test_the_compose_file_renders_the_listeners_it_means() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    env = {k: str(v) for k, v in compose["services"]["kafka"]["environment"].items()}
    env["KAFKA_VERSION"] = "4.1.1"  # set by the image itself; never a property
    run.apply_defaults(env)
    run.check_and_derive(env)
    properties = dict(line.split("=", 1) for line in run.render_properties(env).splitlines())
    assert properties["process.roles"] == "broker,controller"
    assert properties["listeners"] == "INTERNAL://:19092,EXTERNAL://:9092,CONTROLLER://:9093"
    assert properties["controller.quorum.voters"] == "1@kafka:9093"
    assert properties["log.dirs"] == "/tmp/kraft-combined-logs"  # the official default
    assert env["CLUSTER_ID"] == "5L6g3nShT-eMCtK--X86sw"
    assert not {"version", "heap.opts"} & properties.keys()


def test_listeners_default_to_the_advertised_ones_on_every_interface() -> None:
    env = {
        "KAFKA_PROCESS_ROLES": "broker",
        "CLUSTER_ID": "x",
        "KAFKA_ADVERTISED_LISTENERS": "PLAINTEXT://kafka-1:9092,EXTERNAL://localhost:29092",
    }
    run.check_and_derive(env)
    assert env["KAFKA_LISTENERS"] == "PLAINTEXT://0.0.0.0:9092,EXTERNAL://0.0.0.0:29092"


def test_a_controller_refuses_advertised_listeners_and_kraft_needs_a_cluster_id() -> None:
    with pytest.raises(run.ConfigurationError, match="not supported on a KRaft controller"):
        run.check_and_derive(
            {"KAFKA_PROCESS_ROLES": "controller", "CLUSTER_ID": "x",
             "KAFKA_ADVERTISED_LISTENERS": "CONTROLLER://c:9093"}
        )  # fmt: skip
    with pytest.raises(run.ConfigurationError, match="CLUSTER_ID"):
        run.check_and_derive({"KAFKA_PROCESS_ROLES": "broker"})
