"""Lag for operators: watched groups, sampled snapshots, Prometheus and CloudWatch EMF output."""

from dpp_ops.exporters.emf import EMF_NAMESPACE, emf_document
from dpp_ops.exporters.monitor import GroupReport, LagMonitor, LagSnapshot
from dpp_ops.exporters.prometheus import LagCollector
from dpp_ops.exporters.sampler import LagSampler
from dpp_ops.exporters.targets import WatchTarget, default_targets, worker_topics

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
