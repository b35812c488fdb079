"""The walking skeleton, as a new user runs it: `dpp up`, then `dpp demo`, then Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from dpp_cli.sandbox.broker import broker_reachable
from dpp_cli.stack.processes import wait_for
from dpp_ops.ports import free_port
from tests.cli.run_processes import RUN_MARKER, assert_none_survive


@pytest.mark.slow
def test_up_then_demo_shows_events_produced_and_jobs_completed(tmp_path: Path) -> None:
    kafka_port, producer_port, metrics_port = free_port(), free_port(), free_port()
    run_id = uuid.uuid4().hex
    env = {
        **os.environ,
        RUN_MARKER: run_id,
        "DPP_HOME": str(tmp_path / ".dpp"),
        "COLUMNS": "200",
        "DPP_CACHE_DIR": os.environ.get("DPP_CACHE_DIR", str(Path.home() / ".cache" / "dpp")),
    }
    for inherited in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "DPP_TOPIC_PREFIX"):
        env.pop(inherited, None)
    up_log = tmp_path / "up.log"
    cli = [sys.executable, "-m", "dpp_cli.main"]
    with up_log.open("wb") as log:
        stack = subprocess.Popen(
            [
                *cli, "up", "--kafka-port", str(kafka_port),
                "--producer-port", str(producer_port), "--metrics-port", str(metrics_port),
            ],
            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        assert wait_for(
            lambda: "dpp-events is up" in up_log.read_text() or stack.poll() is not None, 180
        ), up_log.read_text()
        assert stack.poll() is None, up_log.read_text()
        demo = subprocess.run(
            [*cli, "demo", "--url", f"http://127.0.0.1:{producer_port}", "--timeout", "120"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240, check=False,
        )  # fmt: skip
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert "events accepted by the producer" in demo.stdout
        assert demo.stdout.count("succeeded") == 3, demo.stdout
        assert demo.stdout.count("job.completed.v1") == 3, demo.stdout
        assert "done:" in demo.stdout
    finally:
        if stack.poll() is None:
            stack.send_signal(signal.SIGINT)
        try:
            stack.wait(timeout=90)
        except subprocess.TimeoutExpired:
            stack.kill()
            stack.wait()
    assert stack.returncode == 0, up_log.read_text()
    assert "stopped" in up_log.read_text()
    assert not broker_reachable(f"127.0.0.1:{kafka_port}", timeout_s=1.0), "sandbox stopped too"
    assert_none_survive(run_id)  # the broker it started, the services, the workers
