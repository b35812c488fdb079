"""The embedded Kafka sandbox: real single-node Apache Kafka (KRaft) from Maven Central jars."""

from dpp_cli.sandbox.broker import KafkaSandbox, SandboxStatus
from dpp_cli.sandbox.errors import SandboxError

__all__ = ["KafkaSandbox", "SandboxError", "SandboxStatus"]
