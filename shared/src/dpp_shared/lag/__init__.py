"""Lag engine: per-partition lag in messages and seconds, Burrow-style status, autoscaling."""

from dpp_shared.lag.autoscale import (
    AutoscalePolicy,
    AutoscaleState,
    PartitionLoad,
    ScaleDecision,
    decide,
    loads_of,
)
from dpp_shared.lag.config import (
    AutoscaleSettings,
    LagSettings,
    get_autoscale_settings,
    get_lag_settings,
)
from dpp_shared.lag.errors import LagError, LagReadError
from dpp_shared.lag.history import LagHistory
from dpp_shared.lag.keda import KedaTarget, render_scaled_object, to_yaml
from dpp_shared.lag.model import GroupLag, LagSource, PartitionLag
from dpp_shared.lag.reader import LagReader
from dpp_shared.lag.status import (
    GroupStatus,
    LagStatus,
    Observation,
    PartitionStatus,
    StatusRules,
    Verdict,
    evaluate_group,
    evaluate_partition,
)

__all__ = [
    "AutoscalePolicy",
    "AutoscaleSettings",
    "AutoscaleState",
    "GroupLag",
    "GroupStatus",
    "KedaTarget",
    "LagError",
    "LagHistory",
    "LagReadError",
    "LagReader",
    "LagSettings",
    "LagSource",
    "LagStatus",
    "Observation",
    "PartitionLag",
    "PartitionLoad",
    "PartitionStatus",
    "ScaleDecision",
    "StatusRules",
    "Verdict",
    "decide",
    "evaluate_group",
    "evaluate_partition",
    "get_autoscale_settings",
    "get_lag_settings",
    "loads_of",
    "render_scaled_object",
    "to_yaml",
]
