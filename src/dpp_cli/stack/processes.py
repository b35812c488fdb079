"""Starts service processes with their logs in files, tied to our life, and stops them gracefully
(SIGTERM first)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dpp_ops.children import kill_group, spawn_attached

STOP_TIMEOUT_S = 30.0


@dataclass
class ServiceProcess:
    """One child service: its command, environment and log file. It leads its own process group
    (so Ctrl-C at the terminal reaches only us, and we stop children in order) and gets SIGTERM
    from the kernel if we die without stopping it."""

    name: str
    args: list[str]
    env: dict[str, str]
    log_file: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        self.process = spawn_attached(self.args, self.env, self.log_file)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> int | None:
        """SIGTERM to its group (workers drain on it), SIGKILL after `timeout_s`; then SIGKILL
        to whatever of its group is left, so no grandchild survives the service."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            kill_group(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                kill_group(self.process.pid, signal.SIGKILL)
                self.process.wait()
        kill_group(self.process.pid, signal.SIGKILL)
        return self.process.returncode

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def dpp_command(*args: str) -> list[str]:
    """Run a `dpp` sub-command with this interpreter, so the child uses the same environment."""
    return [sys.executable, "-m", "dpp_cli.main", *args]


def wait_for(predicate: Callable[[], bool], timeout_s: float, interval_s: float = 0.2) -> bool:
    """Poll `predicate()` until it is true or `timeout_s` passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return False
