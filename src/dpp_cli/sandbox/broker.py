"""Runs, watches and stops one single-node Kafka broker (KRaft, combined broker+controller)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dpp_cli.sandbox.distribution import KAFKA_VERSION, java_executable, kafka_libs
from dpp_cli.sandbox.errors import SandboxError
from dpp_cli.stack.stopping import stop_signals_held
from dpp_ops.children import die_with_parent, kill_group
from dpp_ops.ports import free_port

READY_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0
DEFAULT_PORT = 9092
DEFAULT_HEAP = "512m"

BROKER_LOG4J = """status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.stdout.ref = STDOUT
logger.server.name = kafka.server.KafkaRaftServer
logger.server.level = info
"""


@dataclass
class SandboxState:
    """What `up` recorded so that `status` and `down` find exactly the process it started."""

    pid: int
    port: int
    controller_port: int
    data_dir: str
    ephemeral: bool
    kafka_version: str
    log_file: str


@dataclass(frozen=True)
class SandboxStatus:
    running: bool
    reachable: bool
    bootstrap_servers: str | None
    pid: int | None
    data_dir: str | None
    detail: str


def _port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); treat it as gone.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ", 1)[-1].startswith("Z"))


def _is_our_broker(pid: int, data_dir: str) -> bool:
    """True when `pid` is a Kafka JVM started on `data_dir` (guards against PID reuse)."""
    cmdline = Path(f"/proc/{pid}/cmdline")
    try:
        args = cmdline.read_bytes().split(b"\0")
    except OSError:
        return _pid_alive(pid)
    return b"kafka.Kafka" in args and any(data_dir.encode() in arg for arg in args)


_QUIET_LOGGER = logging.getLogger("dpp.sandbox.probe")
_QUIET_LOGGER.addHandler(logging.NullHandler())
_QUIET_LOGGER.propagate = False


def broker_reachable(bootstrap_servers: str, timeout_s: float = 2.0) -> bool:
    """True when the broker answers an AdminClient metadata request."""
    from confluent_kafka.admin import AdminClient  # noqa: PLC0415 - keep `dpp --help` fast

    config: dict[str, Any] = {"bootstrap.servers": bootstrap_servers, "logger": _QUIET_LOGGER}
    admin = AdminClient(config)
    try:
        admin.list_topics(timeout=timeout_s)
    except Exception:
        return False
    return True


class KafkaSandbox:
    """One broker whose state lives in `home` (a project-local folder such as `.dpp/sandbox`).

    Detached (the default, for `dpp sandbox up`), a broker that became ready outlives the command
    that started it. Attached (for `dpp up`), it also gets SIGTERM from the kernel when the
    process that started it exits. Either way, a start that does not complete (Ctrl-C, a stop
    signal, a timeout) stops the broker before `up` returns or raises.
    """

    def __init__(
        self,
        home: Path,
        *,
        port: int = DEFAULT_PORT,
        controller_port: int | None = None,
        heap: str = DEFAULT_HEAP,
        ephemeral: bool = False,
        attached: bool = False,
    ) -> None:
        self.home = home
        self.attached = attached
        self.port = port
        self.controller_port = controller_port
        self.heap = heap
        self.ephemeral = ephemeral

    @property
    def state_file(self) -> Path:
        return self.home / "sandbox.json"

    def read_state(self) -> SandboxState | None:
        try:
            return SandboxState(**json.loads(self.state_file.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def status(self) -> SandboxStatus:
        state = self.read_state()
        if state is None:
            return SandboxStatus(False, False, None, None, None, "not started (no state file)")
        bootstrap = f"127.0.0.1:{state.port}"
        if not (_pid_alive(state.pid) and _is_our_broker(state.pid, state.data_dir)):
            return SandboxStatus(
                False, False, bootstrap, state.pid, state.data_dir, "process has exited"
            )
        reachable = broker_reachable(bootstrap)
        detail = "ready" if reachable else "process running but broker not answering"
        return SandboxStatus(True, reachable, bootstrap, state.pid, state.data_dir, detail)

    def up(self, progress: Callable[[str], None] = lambda _msg: None) -> SandboxStatus:
        """Start the broker unless ours is already running; return once it answers metadata."""
        current = self.status()
        if current.running:
            if not current.reachable:
                self._wait_ready(self._required_state(), progress)
            return self.status()
        if _port_in_use(self.port):
            raise SandboxError(
                f"port {self.port} is already in use by another process; choose another with "
                "--port or stop what listens there"
            )
        java = java_executable()
        progress(f"resolving Apache Kafka {KAFKA_VERSION} jars (cached after the first run)")
        libs = kafka_libs()
        state = self._prepare(java, libs, progress)
        progress(f"starting Kafka {KAFKA_VERSION} (KRaft) on 127.0.0.1:{state.port}")
        process: subprocess.Popen[bytes] | None = None
        try:
            with stop_signals_held(), Path(state.log_file).open("ab") as log:
                process = subprocess.Popen(
                    [
                        java, f"-Xms{self.heap}", f"-Xmx{self.heap}", "-XX:+UseG1GC",
                        "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true",
                        f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
                        "-cp", f"{libs}/*", "kafka.Kafka",
                        str(Path(state.data_dir) / "server.properties"),
                    ],
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    start_new_session=True,
                    preexec_fn=die_with_parent() if self.attached else None,  # noqa: PLW1509
                )  # fmt: skip
                state.pid = process.pid
            self.state_file.write_text(json.dumps(asdict(state), indent=2))
            self._wait_ready(state, progress)
        except BaseException:
            # Interrupted or failed before it answered: a broker nobody waits for any more must
            # not keep running detached (and holding the port) behind the user's back.
            if process is not None:
                _stop_child(process)
            self._forget(state)
            raise
        return self.status()

    def _required_state(self) -> SandboxState:
        state = self.read_state()
        if state is None:
            raise SandboxError("sandbox state file disappeared")
        return state

    def _prepare(self, java: str, libs: Path, progress: Callable[[str], None]) -> SandboxState:
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "log4j2.properties").write_text(BROKER_LOG4J)
        if self.ephemeral:
            data_dir = Path(tempfile.mkdtemp(prefix="dpp-kafka-"))
        else:
            data_dir = self.home / "data"
            data_dir.mkdir(parents=True, exist_ok=True)
        controller_port = self.controller_port or free_port()
        properties = _server_properties(data_dir, self.port, controller_port)
        (data_dir / "server.properties").write_text(properties)
        if not (data_dir / "logs" / "meta.properties").exists():
            progress("formatting storage (first start)")
            result = subprocess.run(
                [
                    java, "-cp", f"{libs}/*", "kafka.tools.StorageTool", "format",
                    "-t", str(uuid.uuid4()), "-c", str(data_dir / "server.properties"),
                    "--ignore-formatted",
                ],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if result.returncode != 0:
                raise SandboxError(
                    f"formatting Kafka storage failed:\n{result.stdout}{result.stderr}"
                )
        return SandboxState(
            pid=0,
            port=self.port,
            controller_port=controller_port,
            data_dir=str(data_dir),
            ephemeral=self.ephemeral,
            kafka_version=KAFKA_VERSION,
            log_file=str(self.home / "kafka.log"),
        )

    def _wait_ready(self, state: SandboxState, progress: Callable[[str], None]) -> None:
        progress("waiting for the broker to answer metadata requests")
        deadline = time.monotonic() + READY_TIMEOUT_S
        bootstrap = f"127.0.0.1:{state.port}"
        while time.monotonic() < deadline:
            if not _pid_alive(state.pid):
                raise SandboxError(
                    f"Kafka exited during start-up; last log lines:\n{self.log_tail(state, 30)}"
                )
            if broker_reachable(bootstrap, timeout_s=1.0):
                return
        raise SandboxError(
            f"Kafka did not answer within {READY_TIMEOUT_S:.0f}s; log:\n{self.log_tail(state, 30)}"
        )

    def down(self) -> bool:
        """Stop the broker this sandbox started (by PID); True if something was stopped."""
        state = self.read_state()
        if state is None:
            return False
        return self._stop(state)

    def _stop(self, state: SandboxState) -> bool:
        stopped = False
        if _pid_alive(state.pid) and _is_our_broker(state.pid, state.data_dir):
            os.killpg(state.pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_TIMEOUT_S
            while _pid_alive(state.pid) and time.monotonic() < deadline:
                _reap(state.pid)
                time.sleep(0.1)
            if _pid_alive(state.pid):
                os.killpg(state.pid, signal.SIGKILL)
            _reap(state.pid)
            stopped = True
        self._forget(state)
        return stopped

    def _forget(self, state: SandboxState) -> None:
        if state.ephemeral:
            shutil.rmtree(state.data_dir, ignore_errors=True)
        self.state_file.unlink(missing_ok=True)

    def log_tail(self, state: SandboxState | None = None, lines: int = 50) -> str:
        state = state or self.read_state()
        if state is None:
            return ""
        try:
            return "\n".join(Path(state.log_file).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _stop_child(process: subprocess.Popen[bytes]) -> None:
    """Stop a broker we have just started (its cmdline may not even be Java's yet): SIGTERM to
    its group, SIGKILL after the stop timeout or at once if this wait is interrupted too."""
    kill_group(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except BaseException:
        kill_group(process.pid, signal.SIGKILL)
        process.wait()
        return
    kill_group(process.pid, signal.SIGKILL)


def _reap(pid: int) -> None:
    """Collect the exit status if the broker is our child, so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _server_properties(data_dir: Path, port: int, controller_port: int) -> str:
    """Laptop-sized single-node settings: replication factor 1, no initial rebalance delay."""
    return "\n".join(
        [
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@127.0.0.1:{controller_port}",
            f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
            "controller.listener.names=CONTROLLER",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name=PLAINTEXT",
            f"log.dirs={data_dir / 'logs'}",
            "num.partitions=1",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=10",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "transaction.state.log.num.partitions=4",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            "auto.create.topics.enable=false",
            "delete.topic.enable=true",
            "log.segment.bytes=16777216",
            "num.network.threads=2",
            "num.io.threads=4",
            "",
        ]
    )
