"""The ops service: a JSON API and a live page of lag, workers, job throughput, dead letters."""

from dpp_cli.ops.app import create_app
from dpp_cli.ops.service import OpsService
from dpp_cli.ops.settings import OpsSettings, ops_settings

__all__ = ["OpsService", "OpsSettings", "create_app", "ops_settings"]
