"""Lag engine: per-partition lag in messages and seconds, and Burrow-style status."""

from dpp_ops.errors import LagError, LagReadError
from dpp_ops.lag.config import LagSettings, get_lag_settings
from dpp_ops.lag.history import LagHistory
from dpp_ops.lag.model import GroupLag, LagSource, PartitionLag
from dpp_ops.lag.reader import LagReader
from dpp_ops.lag.status import (
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
    "GroupLag",
    "GroupStatus",
    "LagError",
    "LagHistory",
    "LagReadError",
    "LagReader",
    "LagSettings",
    "LagSource",
    "LagStatus",
    "Observation",
    "PartitionLag",
    "PartitionStatus",
    "StatusRules",
    "Verdict",
    "evaluate_group",
    "evaluate_partition",
    "get_lag_settings",
]
