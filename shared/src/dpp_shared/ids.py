"""Time-ordered identifiers (UUIDv7, RFC 9562) for events and jobs."""

from __future__ import annotations

import os
import random
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0
# Ids need uniqueness, not secrecy: a PRNG seeded from the OS is ~20x cheaper than a urandom
# syscall per id (which also released the GIL inside the lock and made job threads queue).
_random = random.Random(os.urandom(32))


def _reseed() -> None:
    """Forked children (uvicorn workers, worker pools) must not repeat the parent's sequence."""
    _random.seed(os.urandom(32))


os.register_at_fork(after_in_child=_reseed)

try:  # Lambda SnapStart: environments restored from one snapshot must not repeat a sequence.
    from snapshot_restore_py import register_after_restore
except ImportError:  # not on a Lambda runtime with SnapStart (python3.12+), nothing is restored
    pass
else:
    register_after_restore(_reseed)


def uuid7() -> uuid.UUID:
    """A UUIDv7: 48-bit Unix milliseconds, then a 12-bit counter that keeps ids monotonic
    within one millisecond in this process, then 62 random bits."""
    return uuid.UUID(int=_uuid7_int())


def _uuid7_int() -> int:
    global _last_ms, _counter  # noqa: PLW0603 - process-wide monotonic state by design
    with _lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms <= _last_ms:
            _counter += 1
            if _counter > 0xFFF:  # counter exhausted: borrow the next millisecond
                _last_ms += 1
                _counter = 0
            now_ms = _last_ms
        else:
            _last_ms = now_ms
            _counter = _random.getrandbits(10)  # start low: leaves room to count up
        counter = _counter
    rand = _random.getrandbits(62)
    value = (now_ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= counter << 64
    value |= 0b10 << 62
    value |= rand
    return value


def new_id() -> str:
    """A fresh UUIDv7 as the canonical hyphenated string, formatted from the integer (building
    a `uuid.UUID` and its `str` was a third of an id's cost, per event of a batch)."""
    digits = f"{_uuid7_int():032x}"
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"
