"""The one way tests wait: poll a condition until it holds, with a deadline, never a fixed sleep."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T | None],
    timeout_s: float = 20.0,
    what: str = "condition",
    every_s: float = 0.1,
) -> T:
    """Call ``condition`` until it returns something truthy and return that; fail after
    ``timeout_s`` naming ``what`` and the last value seen."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout_s}s waiting for {what} (last: {value!r})"
            )
        time.sleep(every_s)
