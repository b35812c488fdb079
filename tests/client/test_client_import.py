"""The Lambda client's import stays light: no pydantic, no confluent_kafka, stdlib only."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys, time
started = time.perf_counter()
import dpp_client
elapsed = time.perf_counter() - started
roots = sorted({name.split(".")[0] for name in sys.modules})
print(json.dumps({"elapsed_s": elapsed, "roots": roots}))
"""

HEAVY = {"pydantic", "pydantic_core", "pydantic_settings", "confluent_kafka", "sqlalchemy", "yaml"}


def test_importing_the_client_pulls_in_no_heavy_dependency() -> None:
    # A fresh interpreter: this test process has long imported everything.
    completed = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    report = json.loads(completed.stdout)
    assert HEAVY.isdisjoint(report["roots"]), HEAVY & set(report["roots"])
    third_party = {
        root
        for root in report["roots"]
        if root not in sys.stdlib_module_names and not root.startswith("_") and root != "dpp_client"
    }
    assert third_party == set()
    assert report["elapsed_s"] > 0  # measured for the record; budgets live in the benchmarks
