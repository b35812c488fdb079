"""Lag for operators: watched groups, sampled snapshots, Prometheus and CloudWatch EMF output."""

from dpp_cli.lag_export.emf import EMF_NAMESPACE, emf_document
from dpp_cli.lag_export.monitor import GroupReport, LagMonitor, LagSnapshot
from dpp_cli.lag_export.prometheus import LagCollector
from dpp_cli.lag_export.sampler import LagSampler
from dpp_cli.lag_export.targets import WatchTarget, default_targets, worker_topics

__all__ = [
    "EMF_NAMESPACE",
    "GroupReport",
    "LagCollector",
    "LagMonitor",
    "LagSampler",
    "LagSnapshot",
    "WatchTarget",
    "default_targets",
    "emf_document",
    "worker_topics",
]
