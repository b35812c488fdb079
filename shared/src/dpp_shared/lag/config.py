"""Environment settings of the lag engine: DPP_LAG_* (reading, status), DPP_AUTOSCALE_*."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from dpp_shared.lag.autoscale import AutoscalePolicy
from dpp_shared.lag.keda import KedaTarget
from dpp_shared.lag.status import StatusRules


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

    def rules(self) -> StatusRules:
        """The status rules these settings describe."""
        return StatusRules(
            window_s=self.window_s,
            max_observations=self.max_observations,
            min_observations=self.min_observations,
            stop_after_s=self.stop_after_s,
            stall_after_s=self.stall_after_s,
        )


class AutoscaleSettings(BaseSettings, AutoscalePolicy):
    """The autoscale policy plus the KEDA target, from ``DPP_AUTOSCALE_*`` variables."""

    model_config = SettingsConfigDict(env_prefix="DPP_AUTOSCALE_", frozen=True, extra="ignore")

    name: str = "dpp-consumer"
    namespace: str = "default"
    deployment: str = "dpp-consumer"
    bootstrap_servers: str = "localhost:9098"
    consumer_group: str = "dpp-ml-workers"
    topic: str | None = None
    aws_region: str = "eu-west-1"
    aws_role_arn: str | None = None
    msk_iam: bool = True

    def policy(self) -> AutoscalePolicy:
        """The pure policy :func:`~dpp_shared.lag.autoscale.decide` takes."""
        return AutoscalePolicy.model_validate(
            self.model_dump(include=set(AutoscalePolicy.model_fields))
        )

    def target(self) -> KedaTarget:
        """The KEDA target :func:`~dpp_shared.lag.keda.render_scaled_object` takes."""
        return KedaTarget.model_validate(self.model_dump(include=set(KedaTarget.model_fields)))


@lru_cache(maxsize=1)
def get_lag_settings() -> LagSettings:
    """Lag settings read once per process."""
    return LagSettings()


@lru_cache(maxsize=1)
def get_autoscale_settings() -> AutoscaleSettings:
    """Autoscale settings read once per process."""
    return AutoscaleSettings()
