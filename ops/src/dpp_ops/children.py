"""Child processes that cannot outlive their parent: a parent-death signal and their own group."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

# <linux/prctl.h>: deliver a signal to this process when the thread that forked it exits.
_PR_SET_PDEATHSIG = 1


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return prctl


# Resolved once, in the parent: the function that runs between fork and exec must not import,
# allocate Python objects it can avoid, or take locks another thread may have held at fork time.
_PRCTL = _load_prctl()


def die_with_parent(sig: signal.Signals = signal.SIGTERM) -> Callable[[], None]:
    """A `preexec_fn` for `subprocess.Popen`: the child receives `sig` as soon as the process
    that starts it exits, however it exits (SIGKILL, a crash, an unhandled exception).

    Call it in the thread that starts the child and keeps running: Linux sends the signal when
    the forking *thread* exits. Pair it with `start_new_session=True`, so the child also leads
    its own process group and can be stopped as a whole with `os.killpg`. Elsewhere than on
    Linux it does nothing, and only the explicit stop in the parent remains.
    """
    parent = os.getpid()
    prctl = _PRCTL
    signal_number = int(sig)

    def preexec() -> None:
        if prctl is None:
            return
        prctl(_PR_SET_PDEATHSIG, signal_number, 0, 0, 0)
        # The parent may have died between fork and prctl: then nobody would ever signal us.
        # (Not os.kill: until exec, the parent's Python signal handlers would swallow it.)
        if os.getppid() != parent:
            os._exit(1)

    return preexec


def kill_group(pid: int, sig: signal.Signals) -> bool:
    """Signal the process group led by `pid`; False when no process of the group is left."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return False
    return True


def spawn_attached(
    args: Sequence[str], env: Mapping[str, str], log_file: Path
) -> subprocess.Popen[bytes]:
    """Start a service child: its own process group, output appended to ``log_file``, no
    stdin, and the parent-death signal, so it never outlives the process that started it."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        return subprocess.Popen(
            list(args),
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent(),  # noqa: PLW1509 - only prctl between fork and exec
        )
