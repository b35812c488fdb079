"""Environment settings of the lag engine: DPP_LAG_* (reading, status)."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from dpp_ops.lag.status import StatusRules

if TYPE_CHECKING:
    from dpp_ops.lag.reader import LagReader


class LagSettings(BaseSettings):
    """How lag is read and how statuses are evaluated (env prefix ``DPP_LAG_``)."""

    model_config = SettingsConfigDict(env_prefix="DPP_LAG_", frozen=True, extra="ignore")

    offset_reset: Literal["earliest", "latest"] = "earliest"
    isolation_level: Literal["read_committed", "read_uncommitted"] = "read_committed"
    probe_timeout_s: float = Field(default=5.0, gt=0)
    window_s: float = Field(default=600.0, gt=0)
    max_observations: int = Field(default=20, ge=2)
    min_observations: int = Field(default=3, ge=2)
    stop_after_s: float = Field(default=300.0, gt=0)
    stall_after_s: float = Field(default=300.0, gt=0)
    heartbeat_timeout_s: float = Field(default=120.0, gt=0)
    ignore_groups: str | None = None
    """Comma-separated fnmatch patterns of groups `dpp lag` leaves out when it lists every
    group; unset: the tools' own (``dpp_ops.exporters.targets.IGNORED_GROUPS``)."""

    def ignored_groups(self) -> tuple[str, ...]:
        """The patterns of groups left out of the all-groups view."""
        from dpp_ops.exporters.targets import IGNORED_GROUPS  # noqa: PLC0415

        if self.ignore_groups is None:
            return IGNORED_GROUPS
        return tuple(p.strip() for p in self.ignore_groups.split(",") if p.strip())

    def rules(self) -> StatusRules:
        """The status rules these settings describe."""
        return StatusRules(
            window_s=self.window_s,
            max_observations=self.max_observations,
            min_observations=self.min_observations,
            stop_after_s=self.stop_after_s,
            stall_after_s=self.stall_after_s,
            heartbeat_timeout_s=self.heartbeat_timeout_s,
        )


@lru_cache(maxsize=1)
def get_lag_settings() -> LagSettings:
    """Lag settings read once per process."""
    return LagSettings()


def configured_reader(request_timeout_s: float = 15.0) -> LagReader:
    """A lag reader wired from `KAFKA_*`, `AWS_*` and `DPP_LAG_*`; connects lazily. Its probe
    is named after the workers' group (`DPP_CONSUMER_GROUP`), which the lag publisher's role
    may describe under MSK IAM."""
    from dpp_consumer.settings import worker_settings  # noqa: PLC0415
    from dpp_ops.lag.reader import LagReader  # noqa: PLC0415 - the reader pulls in confluent_kafka
    from dpp_shared.kafka_config import admin_config  # noqa: PLC0415
    from dpp_shared.settings import aws_settings, kafka_settings  # noqa: PLC0415

    lag = get_lag_settings()
    kafka = kafka_settings()
    return LagReader(
        kafka.bootstrap_servers,
        client_config=admin_config(kafka, aws_settings()),
        offset_reset=lag.offset_reset,
        isolation_level=lag.isolation_level,
        probe_timeout_s=lag.probe_timeout_s,
        request_timeout_s=request_timeout_s,
        probe_group=worker_settings().consumer_group,
    )
