"""A background thread that samples lag at a fixed interval and hands snapshots to listeners."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from dpp_ops.exporters.monitor import LagMonitor, LagSnapshot

log = logging.getLogger("dpp.lag")

Listener = Callable[[LagSnapshot], None]


class LagSampler:
    """Runs ``monitor.sample()`` every ``interval_s`` on its own thread; ``latest`` is the newest
    snapshot (None before the first). Listeners run on the sampler thread after each sample."""

    def __init__(
        self, monitor: LagMonitor, interval_s: float, listeners: list[Listener] | None = None
    ) -> None:
        self.monitor = monitor
        self.interval_s = interval_s
        self.listeners = list(listeners or [])
        self._latest: LagSnapshot | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sampled = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None

    @property
    def latest(self) -> LagSnapshot | None:
        with self._lock:
            return self._latest

    def sample_once(self) -> LagSnapshot:
        """Take one sample now (on the caller's thread) and publish it."""
        snapshot = self.monitor.sample()
        with self._lock:
            self._latest = snapshot
            self._sampled.notify_all()
        for listener in self.listeners:
            try:
                listener(snapshot)
            except Exception:
                # A failing listener (a closed stdout, a full disk) must not stop sampling.
                log.exception("lag listener failed")
        return snapshot

    def wait_for_sample(self, timeout_s: float) -> LagSnapshot | None:
        """Block until the first snapshot exists or ``timeout_s`` passes."""
        with self._lock:
            self._sampled.wait_for(lambda: self._latest is not None, timeout_s)
            return self._latest

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="dpp-lag-sampler", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self.monitor.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sample_once()
            except Exception:
                log.exception("lag sample failed")
            self._stop.wait(self.interval_s)
