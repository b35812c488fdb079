"""Environment settings of the autoscaler and its KEDA target: DPP_AUTOSCALE_*."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from dpp_ops.autoscale.keda import KedaTarget
from dpp_ops.autoscale.policy import AutoscalePolicy
from dpp_shared.topics import WORKER_GROUP


class AutoscaleSettings(BaseSettings, AutoscalePolicy):
    """The autoscale policy plus the KEDA target, from ``DPP_AUTOSCALE_*`` variables."""

    model_config = SettingsConfigDict(env_prefix="DPP_AUTOSCALE_", frozen=True, extra="ignore")

    name: str = "dpp-consumer"
    namespace: str = "default"
    deployment: str = "dpp-consumer"
    bootstrap_servers: str = "localhost:9098"
    consumer_group: str = WORKER_GROUP
    topic: str | None = None
    aws_region: str = "eu-west-1"
    aws_role_arn: str | None = None
    msk_iam: bool = True
    limit_to_partitions_with_lag: bool = True
    """Here on by default (KEDA's default is off): with 84 partitions, mostly retry tiers at
    lag 0, capping at all partitions let 3 lagging partitions start 8 workers."""

    @model_validator(mode="before")
    @classmethod
    def _idle_consumers_turn_the_cap_off(cls, data: Any) -> Any:
        # Asking for idle consumers without naming the cap means: no cap (the two exclude
        # each other, and the cap is only on by this class's default).
        if isinstance(data, dict):
            idle = str(data.get("allow_idle_consumers", "")).lower() in ("1", "true", "yes", "on")
            if idle and "limit_to_partitions_with_lag" not in data:
                data = {**data, "limit_to_partitions_with_lag": False}
        return data

    def policy(self) -> AutoscalePolicy:
        """The pure policy :func:`~dpp_ops.autoscale.policy.decide` takes."""
        return AutoscalePolicy.model_validate(
            self.model_dump(include=set(AutoscalePolicy.model_fields))
        )

    def target(self) -> KedaTarget:
        """The KEDA target :func:`~dpp_ops.autoscale.keda.render_scaled_object` takes."""
        return KedaTarget.model_validate(self.model_dump(include=set(KedaTarget.model_fields)))


@lru_cache(maxsize=1)
def get_autoscale_settings() -> AutoscaleSettings:
    """Autoscale settings read once per process."""
    return AutoscaleSettings()
