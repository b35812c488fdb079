"""wrk (closed-loop HTTP load in its own process) with a Lua script that POSTs one body and
prints its summary as JSON."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

_SCRIPT = """
wrk.method = "POST"
wrk.body = io.open("%(body)s", "rb"):read("*a")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "%(authorization)s"
%(delay)s
done = function(summary, latency, requests)
  io.write(string.format(
    '\\nWRK-JSON {"requests":%%d,"duration_us":%%d,"status_errors":%%d,"connect_errors":%%d,' ..
    '"read_errors":%%d,"write_errors":%%d,"timeouts":%%d,"p50_us":%%d,"p99_us":%%d,' ..
    '"max_us":%%d,"mean_us":%%.1f}\\n',
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.max, latency.mean))
end
"""


def available() -> bool:
    return shutil.which("wrk") is not None


def run_wrk(
    url: str,
    body: bytes,
    authorization: str,
    *,
    connections: int,
    duration_s: float,
    threads: int = 1,
    delay_ms: int | None = None,
) -> dict[str, Any]:
    """Closed-loop load: `connections` keep-alive connections each sending the next request as
    soon as the previous one answered (or `delay_ms` after it: a think time that holds the rate
    below the maximum). Returns requests/s and latency percentiles (ms)."""
    with tempfile.TemporaryDirectory(prefix="dpp-bench-wrk-") as folder:
        body_path = Path(folder) / "body.json"
        body_path.write_bytes(body)
        script = Path(folder) / "post.lua"
        delay = "" if delay_ms is None else f"delay = function() return {int(delay_ms)} end"
        script.write_text(
            _SCRIPT % {"body": body_path, "authorization": authorization, "delay": delay}
        )
        completed = subprocess.run(
            [
                "wrk", "-t", str(min(threads, connections)), "-c", str(connections),
                "-d", f"{duration_s:g}s", "--timeout", "10s", "-s", str(script), url,
            ],
            capture_output=True, text=True, check=True, timeout=duration_s + 60,
        )  # fmt: skip
    line = next(line for line in completed.stdout.splitlines() if line.startswith("WRK-JSON "))
    summary: dict[str, Any] = json.loads(line.removeprefix("WRK-JSON "))
    seconds = summary["duration_us"] / 1e6
    errors = sum(
        summary[name]
        for name in ("status_errors", "connect_errors", "read_errors", "write_errors", "timeouts")
    )
    return {
        "requests": summary["requests"],
        "rps": summary["requests"] / seconds if seconds else 0.0,
        "errors": errors,
        "p50_ms": summary["p50_us"] / 1000,
        "p99_ms": summary["p99_us"] / 1000,
        "max_ms": summary["max_us"] / 1000,
    }
