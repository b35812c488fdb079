"""The ops service: a JSON API and a live page of lag, workers, job throughput, dead letters."""

from dpp_ops.page.app import create_app
from dpp_ops.page.service import OpsService
from dpp_ops.page.settings import OpsSettings, ops_settings

__all__ = ["OpsService", "OpsSettings", "create_app", "ops_settings"]
