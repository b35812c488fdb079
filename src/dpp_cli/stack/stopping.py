"""How a long-running command ends: stop signals as one exception, and output that may close."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType

# Ctrl-C, `kill`, and the hang-up a terminal sends when its window closes.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class StopRequested(BaseException):
    """A stop signal arrived; raised wherever the command was (waiting for a broker, idling)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_stop(signum: int, _frame: FrameType | None) -> None:
    raise StopRequested(signum)


def _ignore(_signum: int, _frame: FrameType | None) -> None:
    return None


@contextlib.contextmanager
def stop_signals_raise() -> Iterator[None]:
    """Inside the block, SIGINT, SIGTERM and SIGHUP raise `StopRequested`, so `finally` clauses
    run whatever the command was waiting on. Previous handlers come back afterwards."""
    previous = {sig: signal.signal(sig, _raise_stop) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def stop_signals_deferred() -> Iterator[None]:
    """Inside the block (the clean-up), further stop signals are ignored: a second Ctrl-C or
    the SIGTERM that follows a SIGHUP must not cut the clean-up short. A Python-level handler,
    not SIG_IGN, so that processes started meanwhile would not inherit the ignoring."""
    previous = {sig: signal.signal(sig, _ignore) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def stop_signals_held() -> Iterator[None]:
    """Inside the block (starting a child whose pid the caller must learn), a stop signal waits
    and is delivered again, to the handler in place before, when the block ends.

    `subprocess.Popen` returns only after the child has exec'd; a `StopRequested` raised inside
    it would lose the only handle on a child that is already running, in its own session."""
    if threading.current_thread() is not threading.main_thread():
        yield  # handlers run in the main thread only: nothing can interrupt this one
        return
    arrived: list[int] = []
    previous = {
        sig: signal.signal(sig, lambda signum, _f: arrived.append(signum)) for sig in STOP_SIGNALS
    }
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if arrived:
            signal.raise_signal(arrived[0])


def output_closed(fds: tuple[int, ...] = (1, 2)) -> bool:
    """True when stdout or stderr lost its reader (a pipe whose `tee` died, a hung-up terminal):
    nothing written there arrives, so a command that only serves should stop."""
    poller = select.poll()
    for fd in fds:
        poller.register(fd, 0)  # POLLERR and POLLHUP are always reported
    try:
        events = poller.poll(0)
    except OSError:
        return False
    # Not POLLNVAL: an output closed before we started (`dpp up >&-`) is a choice, not an end.
    return any(mask & (select.POLLERR | select.POLLHUP) for _fd, mask in events)


def silence_output() -> None:
    """Point stdout and stderr at /dev/null, so later writes (and the interpreter's final flush)
    do not fail on a closed pipe or a hung-up terminal."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for fd in (1, 2):
        with contextlib.suppress(OSError):
            os.dup2(devnull, fd)
    os.close(devnull)


def say(write: Callable[[str], None], message: str) -> None:
    """Write a progress line if anyone can still read it; a closed output never stops the
    clean-up that follows."""
    try:
        write(message)
    except OSError:  # BrokenPipeError, or EIO from a hung-up terminal
        silence_output()
