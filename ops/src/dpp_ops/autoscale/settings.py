"""Environment settings of the autoscaler and its KEDA target: DPP_AUTOSCALE_*."""

from __future__ import annotations

from functools import lru_cache

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
