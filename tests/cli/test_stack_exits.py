"""Every way `dpp up` or `dpp sandbox up` ends, no process it started survives it.

Each run's processes are found by a marker in their environment (inherited by the broker, the
services and the workers alike), so a process re-parented to PID 1 is found as well as a child.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import termios
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dpp_cli.sandbox import KafkaSandbox
from dpp_cli.sandbox.broker import broker_reachable
from dpp_cli.stack.processes import wait_for
from dpp_ops.ports import free_port
from tests.cli.run_processes import (
    GONE_TIMEOUT_S,
    RUN_MARKER,
    assert_none_survive,
    run_processes,
)

UP_TIMEOUT_S = 120.0
CLI = [sys.executable, "-m", "dpp_cli.main"]


def has(run_id: str, *fragments: str) -> Callable[[], bool]:
    """True once a process of the run has every fragment in its command line."""
    return lambda: any(
        all(fragment in argv for fragment in fragments) for argv in run_processes(run_id).values()
    )


@dataclass
class Run:
    """One `dpp` invocation of a test: its marker, environment and output file."""

    run_id: str
    env: dict[str, str]
    home: Path
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def new_run(tmp_path: Path) -> Run:
    run_id = uuid.uuid4().hex
    home = tmp_path / ".dpp"
    env = {
        **os.environ,
        RUN_MARKER: run_id,
        "DPP_HOME": str(home),
        "COLUMNS": "200",
        "DPP_CACHE_DIR": os.environ.get("DPP_CACHE_DIR", str(Path.home() / ".cache" / "dpp")),
        "DPP_TOPIC_PREFIX": "stack-exits.",
        "DPP_CONSUMER_GROUP": "stack-exits",
    }
    for inherited in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL"):
        env.pop(inherited, None)
    return Run(run_id, env, home, tmp_path / "up.log")


def up_command(kafka_port: int) -> list[str]:
    return [
        *CLI, "up", "--kafka-port", str(kafka_port), "--producer-port", str(free_port()),
        "--metrics-port", str(free_port()), "--ops-port", str(free_port()),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def shared_broker() -> Iterator[KafkaSandbox]:
    """One broker for the module's stacks: `dpp up` finds it running, uses it and leaves it be,
    so each test pays for the services only, not for a broker start."""
    home = Path(tempfile.mkdtemp(prefix="dpp-stack-exits-"))
    sandbox = KafkaSandbox(home / "sandbox", port=free_port(), ephemeral=True)
    sandbox.up()
    try:
        yield sandbox
    finally:
        sandbox.down()
        shutil.rmtree(home, ignore_errors=True)


def on_shared_broker(run: Run, broker: KafkaSandbox) -> None:
    """Point the run's sandbox state at the shared broker (what a second `dpp up` would find)."""
    (run.home / "sandbox").mkdir(parents=True)
    shutil.copy(broker.state_file, run.home / "sandbox" / "sandbox.json")


def read_until(fd: int, marker: str, sink: Path, timeout_s: float) -> bool:
    """Copy what `fd` yields into `sink` until `marker` appears (True) or the time is up."""
    deadline = time.monotonic() + timeout_s
    seen = b""
    with sink.open("ab") as out:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                return False
            if not chunk:
                return False
            out.write(chunk)
            out.flush()
            seen += chunk
            if marker.encode() in seen:
                return True
    return False


def wait_exit(process: subprocess.Popen[bytes], run: Run) -> int:
    try:
        return process.wait(timeout=GONE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail(f"`dpp up` did not exit:\n{run.output()}")


class Stack:
    """`dpp up` started one of several ways, and the one way it is then ended."""

    def __init__(self, run: Run, command: list[str]) -> None:
        self.run = run
        self.command = command
        self.processes: list[subprocess.Popen[bytes]] = []
        self.terminal: int | None = None

    @property
    def up(self) -> subprocess.Popen[bytes]:
        return self.processes[0]

    def start_with_log_file(self) -> None:
        with self.run.log.open("wb") as log:
            up = subprocess.Popen(
                self.command, env=self.run.env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        self.processes.append(up)
        self._wait_up(lambda: "dpp-events is up" in self.run.output())

    def start_through_tee(self) -> None:
        """`dpp up 2>&1 | tee up.log` as a shell runs it: one process group for both."""
        line = f"{shlex.join(self.command)} 2>&1 | tee {shlex.quote(str(self.run.log))}"
        shell = subprocess.Popen(
            ["bash", "-c", line], env=self.run.env, stdout=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        self.processes.append(shell)
        self._wait_up(lambda: "dpp-events is up" in self.run.output())

    def start_piped_to_reader(self) -> None:
        """`dpp up | tee up.log`, with tee a process of its own that the test can end alone."""
        up = subprocess.Popen(
            self.command, env=self.run.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        assert up.stdout is not None
        tee = subprocess.Popen(
            ["tee", str(self.run.log)], stdin=up.stdout, stdout=subprocess.DEVNULL
        )
        up.stdout.close()  # only tee reads the pipe now
        self.processes += [up, tee]
        self._wait_up(lambda: "dpp-events is up" in self.run.output())

    def start_in_terminal(self) -> None:
        """`dpp up` in a terminal (a pseudo-terminal whose session it leads)."""
        master, follower = pty.openpty()
        up = subprocess.Popen(
            self.command, env=self.run.env, stdin=follower, stdout=follower,
            stderr=follower, start_new_session=True,
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),  # noqa: PLW1509
        )  # fmt: skip
        self.processes.append(up)
        os.close(follower)
        self.terminal = master
        assert read_until(master, "dpp-events is up", self.run.log, UP_TIMEOUT_S), self.run.output()
        self._wait_up(lambda: True)

    def _wait_up(self, printed: Callable[[], bool]) -> None:
        assert wait_for(lambda: printed() or self.up.poll() is not None, UP_TIMEOUT_S), (
            self.run.output()
        )
        assert self.up.poll() is None, self.run.output()
        # The autoscaler starts its minimum of one worker; the whole tree is there to outlive.
        assert wait_for(has(self.run.run_id, "consumer", "run"), UP_TIMEOUT_S), run_processes(
            self.run.run_id
        )

    def close_terminal(self) -> None:
        assert self.terminal is not None
        os.close(self.terminal)
        self.terminal = None

    def cleanup(self) -> None:
        if self.terminal is not None:
            os.close(self.terminal)
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()
        for pid in run_processes(self.run.run_id):
            os.kill(pid, signal.SIGKILL)


def _sigint_to_the_pipeline(stack: Stack) -> None:
    stack.start_through_tee()
    os.killpg(stack.up.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group


def _sigterm(stack: Stack) -> None:
    stack.start_with_log_file()
    stack.up.send_signal(signal.SIGTERM)


def _terminal_closed(stack: Stack) -> None:
    stack.start_in_terminal()
    stack.close_terminal()  # the kernel hangs up: SIGHUP, and EIO on every later write


def _reader_of_the_output_gone(stack: Stack) -> None:
    stack.start_piped_to_reader()
    stack.processes[1].kill()  # tee ends; nobody signals `dpp up`


def _dpp_up_killed(stack: Stack) -> None:
    stack.start_with_log_file()
    stack.up.kill()  # a crash no handler sees: the kernel's parent-death signal must act


def _autoscaler_killed(stack: Stack) -> None:
    stack.start_with_log_file()
    [autoscaler] = [
        pid for pid, argv in run_processes(stack.run.run_id).items() if "autoscale" in argv
    ]
    os.kill(autoscaler, signal.SIGKILL)  # its workers must follow, and `dpp up` stop the rest


EXIT_PATHS = {
    "ctrl-c-through-tee": _sigint_to_the_pipeline,
    "sigterm": _sigterm,
    "terminal-closed": _terminal_closed,
    "output-reader-gone": _reader_of_the_output_gone,
    "dpp-up-killed": _dpp_up_killed,
    "autoscaler-killed": _autoscaler_killed,
}


@pytest.mark.slow
@pytest.mark.parametrize("exit_path", list(EXIT_PATHS))
def test_no_process_of_the_stack_survives(
    exit_path: str, tmp_path: Path, shared_broker: KafkaSandbox
) -> None:
    run = new_run(tmp_path)
    on_shared_broker(run, shared_broker)
    stack = Stack(run, up_command(shared_broker.port))
    try:
        EXIT_PATHS[exit_path](stack)
        assert_none_survive(run.run_id)
        code = wait_exit(stack.up, run)
    finally:
        stack.cleanup()
    if exit_path == "ctrl-c-through-tee":
        assert code == 128 + signal.SIGINT, run.output()  # the pipeline's status is tee's
    elif exit_path != "dpp-up-killed":
        assert code in (0, 1), run.output()  # 1: a service ended on its own
    assert broker_reachable(f"127.0.0.1:{shared_broker.port}"), "a broker it did not start stays"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("command", "stop"),
    [
        pytest.param("up", signal.SIGINT, id="dpp-up-ctrl-c"),
        pytest.param("up", signal.SIGKILL, id="dpp-up-killed"),
        pytest.param("sandbox", signal.SIGINT, id="dpp-sandbox-up-ctrl-c"),
        pytest.param("sandbox", signal.SIGTERM, id="dpp-sandbox-up-sigterm"),
    ],
)
def test_stopping_while_the_broker_first_starts_stops_the_broker(
    command: str, stop: signal.Signals, tmp_path: Path
) -> None:
    run = new_run(tmp_path)
    port = free_port()
    args = up_command(port) if command == "up" else [*CLI, "sandbox", "up", "--port", str(port)]
    with run.log.open("wb") as log:
        process = subprocess.Popen(
            args, env=run.env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    try:
        broker_started = has(run.run_id, "kafka.Kafka ")
        assert wait_for(broker_started, UP_TIMEOUT_S, interval_s=0.05), run.output()
        os.killpg(process.pid, stop)  # Ctrl-C reaches the terminal's whole foreground group
        assert_none_survive(run.run_id)
        code = wait_exit(process, run)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pid in run_processes(run.run_id):
            os.kill(pid, signal.SIGKILL)
    assert "Kafka sandbox ready" not in run.output(), "the broker won the race; nothing to test"
    assert not broker_reachable(f"127.0.0.1:{port}", timeout_s=1.0)
    if stop != signal.SIGKILL:
        assert not (run.home / "sandbox" / "sandbox.json").exists(), "no state left behind"
        assert code == (0 if command == "up" else 128 + stop), run.output()
