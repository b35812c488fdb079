"""Lag-driven autoscaling: the pure policy, its KEDA rendering, and the local worker supervisor."""

from dpp_ops.autoscale.keda import KedaTarget, render_scaled_object, to_yaml
from dpp_ops.autoscale.policy import (
    AutoscalePolicy,
    AutoscaleState,
    PartitionLoad,
    ScaleDecision,
    decide,
    loads_of,
)
from dpp_ops.autoscale.settings import AutoscaleSettings, get_autoscale_settings
from dpp_ops.autoscale.supervisor import Supervisor, SupervisorStatus
from dpp_ops.autoscale.workers import WorkerPool, WorkerProcess

__all__ = [
    "AutoscalePolicy",
    "AutoscaleSettings",
    "AutoscaleState",
    "KedaTarget",
    "PartitionLoad",
    "ScaleDecision",
    "Supervisor",
    "SupervisorStatus",
    "WorkerPool",
    "WorkerProcess",
    "decide",
    "get_autoscale_settings",
    "loads_of",
    "render_scaled_object",
    "to_yaml",
]
