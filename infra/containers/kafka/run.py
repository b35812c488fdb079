#!/usr/bin/env python3
"""Entry point of the apache/kafka stand-in: the official image's KAFKA_* contract, then the broker.

The official image (apache/kafka, docker/resources/common-scripts) does, in order:
  1. `configureDefaults`: a single-node KRaft default for each unset variable of a fixed set
     (skipped when KAFKA_ZOOKEEPER_CONNECT is set);
  2. `configure`: CLUSTER_ID is required in KRaft mode; a controller-only node refuses
     KAFKA_ADVERTISED_LISTENERS; KAFKA_LISTENERS defaults to the advertised listeners on 0.0.0.0;
     files in /mnt/shared/config are copied over /opt/kafka/config; every other KAFKA_* variable
     becomes a server property (KAFKA_ stripped, `_` -> `.`, `__` -> `_`, `___` -> `-`,
     lower-cased), appended to a user-provided server.properties if there is one;
  3. `launch`: format the storage with CLUSTER_ID unless already formatted, then exec
     kafka-server-start.sh on the rendered file.
This script does the same, so a compose file written for the official image runs unchanged.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, MutableMapping
from pathlib import Path

CONFIG_DIR = Path("/opt/kafka/config")
SHARED_CONFIG_DIR = Path("/mnt/shared/config")
BIN_DIR = Path("/opt/kafka/bin")

DEFAULTS = {
    "CLUSTER_ID": "5L6g3nShT-eMCtK--X86sw",
    "KAFKA_NODE_ID": "1",
    "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": (
        "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,PLAINTEXT_HOST:PLAINTEXT"
    ),
    "KAFKA_LISTENERS": (
        "PLAINTEXT://localhost:29092,CONTROLLER://localhost:29093,PLAINTEXT_HOST://0.0.0.0:9092"
    ),
    "KAFKA_ADVERTISED_LISTENERS": "PLAINTEXT://localhost:29092,PLAINTEXT_HOST://localhost:9092",
    "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
    "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
    "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
    "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
    "KAFKA_PROCESS_ROLES": "broker,controller",
    "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:29093",
    "KAFKA_INTER_BROKER_LISTENER_NAME": "PLAINTEXT",
    "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
    "KAFKA_LOG_DIRS": "/tmp/kraft-combined-logs",  # noqa: S108 - the official default
}

# Variables for the JVM and the scripts, never server properties. The official spec lists
# "KAFKA_HEAP_OPT" (sic), so there KAFKA_HEAP_OPTS also lands in the file as an unused
# `heap.opts`; leaving it out changes nothing the broker reads.
EXCLUDED = frozenset(
    {
        "KAFKA_VERSION",
        "KAFKA_HEAP_OPT",
        "KAFKA_HEAP_OPTS",
        "KAFKA_LOG4J_OPTS",
        "KAFKA_OPTS",
        "KAFKA_JMX_OPTS",
        "KAFKA_JVM_PERFORMANCE_OPTS",
        "KAFKA_GC_LOG_OPTS",
        "KAFKA_LOG4J_ROOT_LOGLEVEL",
        "KAFKA_LOG4J_LOGGERS",
        "KAFKA_TOOLS_LOG4J_LOGLEVEL",
        "KAFKA_JMX_HOSTNAME",
        "KAFKA_JMX_PORT",
    }
)

_SINGLE_UNDERSCORE = re.compile(r"[^_]_[^_]")


class ConfigurationError(Exception):
    """The environment breaks the official image's contract; the message says how."""


def property_name(variable: str) -> str:
    """KAFKA_LOG_DIRS -> log.dirs, exactly as the official image's `utility` converts keys."""
    key = variable.removeprefix("KAFKA_")
    # Non-overlapping left-to-right matches, like Go's ReplaceAllStringFunc in the original.
    dotted = _SINGLE_UNDERSCORE.sub(lambda match: match.group().replace("_", "."), key)
    return dotted.replace("___", "-").replace("__", "_").lower()


def apply_defaults(env: MutableMapping[str, str]) -> None:
    if env.get("KAFKA_ZOOKEEPER_CONNECT"):
        return
    for name, value in DEFAULTS.items():
        if not env.get(name):
            env[name] = value


def check_and_derive(env: MutableMapping[str, str]) -> None:
    roles = env.get("KAFKA_PROCESS_ROLES")
    if roles:
        if not env.get("CLUSTER_ID"):
            raise ConfigurationError("CLUSTER_ID environment variable not set")
        if roles == "controller":
            if env.get("KAFKA_ADVERTISED_LISTENERS"):
                raise ConfigurationError(
                    "KAFKA_ADVERTISED_LISTENERS is not supported on a KRaft controller."
                )
            env.pop("KAFKA_ADVERTISED_LISTENERS", None)
    advertised = env.get("KAFKA_ADVERTISED_LISTENERS")
    if not env.get("KAFKA_LISTENERS") and roles != "controller" and advertised:
        env["KAFKA_LISTENERS"] = re.sub(r"://[^:]*:", "://0.0.0.0:", advertised)
    if (
        advertised
        and "SASL_" in advertised
        and "java.security.auth.login.config" not in (env.get("KAFKA_OPTS", ""))
    ):
        print("KAFKA_OPTS should contain 'java.security.auth.login.config' property.")


def render_properties(env: Mapping[str, str]) -> str:
    """The server properties the KAFKA_* variables ask for, sorted like the original."""
    properties = {
        property_name(name): value
        for name, value in env.items()
        if name.startswith("KAFKA_") and name not in EXCLUDED
    }
    return "".join(f"{name}={properties[name]}\n" for name in sorted(properties))


def write_config(env: Mapping[str, str]) -> Path:
    server_properties = CONFIG_DIR / "server.properties"
    server_properties.unlink(missing_ok=True)
    if SHARED_CONFIG_DIR.is_dir():
        shutil.copytree(SHARED_CONFIG_DIR, CONFIG_DIR, dirs_exist_ok=True)
    rendered = render_properties(env)
    if server_properties.exists():
        print("User provided kafka configs found via file input; appending the env ones.")
        with server_properties.open("a") as handle:
            handle.write("\n" + rendered)
    else:
        server_properties.write_text(rendered)
    return server_properties


def format_storage(env: Mapping[str, str], server_properties: Path) -> None:
    if not env.get("KAFKA_PROCESS_ROLES"):
        return
    print(f"===> Using provided cluster id {env['CLUSTER_ID']} ...", flush=True)
    result = subprocess.run(
        [
            str(BIN_DIR / "kafka-storage.sh"), "format", "--ignore-formatted",
            f"--cluster-id={env['CLUSTER_ID']}", "-c", str(server_properties),
        ],
        capture_output=True, text=True, check=False, env=dict(env),
    )  # fmt: skip
    if result.returncode != 0:
        raise ConfigurationError(f"formatting the storage failed:\n{result.stdout}{result.stderr}")


def main() -> int:
    env = dict(os.environ)
    for assignment in sys.argv[1:]:  # `run KEY=VALUE ...` overrides, as in the original
        name, _, value = assignment.partition("=")
        env[name] = value
    apply_defaults(env)
    try:
        check_and_derive(env)
        server_properties = write_config(env)
        format_storage(env, server_properties)
    except ConfigurationError as error:
        print(error, file=sys.stderr)
        return 1
    print("===> Launching ... ", flush=True)
    script = str(BIN_DIR / "kafka-server-start.sh")
    os.execve(script, [script, str(server_properties)], env)  # noqa: S606 - replaces this process
    return 1  # not reached: execve replaces this process or raises


if __name__ == "__main__":
    sys.exit(main())
