"""What every scenario gets: the broker, the mode (quick or full) and where profiles go."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.server import THIS_CHECKOUT, Subject
from dpp_shared.kafka_config import producer_config
from dpp_shared.settings import AwsSettings, KafkaSettings


@dataclass(frozen=True)
class BenchContext:
    bootstrap: str
    quick: bool
    work_dir: Path
    profile: bool = True
    subject: Subject = THIS_CHECKOUT
    """Whose producer API the ingest scenarios start (a baseline commit with --baseline-ref)."""

    def pick(self, quick: Any, full: Any) -> Any:
        """The quick-mode value or the full-run value of a parameter."""
        return quick if self.quick else full

    @property
    def kafka(self) -> KafkaSettings:
        return KafkaSettings(bootstrap_servers=self.bootstrap)

    def producer_config(self) -> dict[str, Any]:
        """Exactly the durability settings the producer API uses (acks=all, idempotence)."""
        return producer_config(self.kafka, AwsSettings(), role="bench")

    def command(self, scenario: str) -> str:
        mode = " --quick" if self.quick else ""
        return f"uv run python -m bench run{mode} --scenario {scenario}"
