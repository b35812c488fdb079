"""The local autoscaler: a supervisor that runs worker processes and sizes the pool from the lag."""

from dpp_cli.autoscale.supervisor import Supervisor, SupervisorStatus
from dpp_cli.autoscale.workers import WorkerPool, WorkerProcess

__all__ = ["Supervisor", "SupervisorStatus", "WorkerPool", "WorkerProcess"]
