"""Worker processes of the local autoscaler: started on a free metrics port, stopped by SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dpp_ops.children import spawn_attached
from dpp_ops.ports import free_port

WorkerCommand = Callable[[int], list[str]]
"""Builds the command line of a worker from its metrics port."""


@dataclass
class WorkerProcess:
    """One worker: a child process in its own session so only the supervisor signals it; it gets
    SIGTERM (and drains) if the supervisor dies without stopping it."""

    number: int
    args: list[str]
    env: Mapping[str, str]
    log_file: Path
    metrics_port: int
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    terminated_at: float | None = None

    def start(self) -> None:
        self.process = spawn_attached(self.args, self.env, self.log_file)

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def terminate(self, now: float) -> None:
        """SIGTERM: the worker stops fetching, finishes or hands back its jobs, commits, leaves."""
        if self.running and self.process is not None:
            os.killpg(self.process.pid, signal.SIGTERM)
        self.terminated_at = now

    def kill(self) -> None:
        if self.running and self.process is not None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


class WorkerPool:
    """Active workers plus workers draining after SIGTERM. Scaling down stops the newest first,
    so the longest-running workers keep their partitions and fewer partitions move."""

    def __init__(
        self,
        command: WorkerCommand,
        env: Mapping[str, str],
        log_dir: Path,
        *,
        drain_timeout_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.command = command
        self.env = dict(env)
        self.log_dir = log_dir
        self.drain_timeout_s = drain_timeout_s
        self.active: list[WorkerProcess] = []
        self.draining: list[WorkerProcess] = []
        self._clock = clock
        self._numbers = 0

    @property
    def size(self) -> int:
        return len(self.active)

    def scale_to(self, desired: int) -> tuple[list[WorkerProcess], list[WorkerProcess]]:
        """Start or SIGTERM workers until ``desired`` are active; returns (started, stopping)."""
        started: list[WorkerProcess] = []
        stopping: list[WorkerProcess] = []
        while len(self.active) < desired:
            self._numbers += 1
            port = free_port()
            worker = WorkerProcess(
                number=self._numbers,
                args=self.command(port),
                env=self.env,
                log_file=self.log_dir / f"worker-{self._numbers}.log",
                metrics_port=port,
            )
            worker.start()
            self.active.append(worker)
            started.append(worker)
        while len(self.active) > desired:
            worker = self.active.pop()
            worker.terminate(self._clock())
            self.draining.append(worker)
            stopping.append(worker)
        return started, stopping

    def reap(self) -> tuple[list[WorkerProcess], list[WorkerProcess]]:
        """Forget drained workers (SIGKILL those past the drain timeout); returns
        (drained, crashed): crashed ones were active and exited on their own."""
        now = self._clock()
        drained = []
        for worker in list(self.draining):
            started = worker.terminated_at or now
            if worker.running and now - started > self.drain_timeout_s:
                worker.kill()
            if not worker.running:
                self.draining.remove(worker)
                drained.append(worker)
        crashed = [worker for worker in self.active if not worker.running]
        for worker in crashed:
            self.active.remove(worker)
        return drained, crashed

    def stop_all(self, timeout_s: float | None = None) -> None:
        """SIGTERM every worker at once (they drain in parallel), then wait; SIGKILL stragglers."""
        self.scale_to(0)
        deadline = self._clock() + (self.drain_timeout_s if timeout_s is None else timeout_s)
        while self.draining and self._clock() < deadline:
            self.reap()
            time.sleep(0.1)
        for worker in self.draining:
            worker.kill()
        self.draining.clear()
