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
    a `uuid.UUID` and its `str` was a third of an id's cost)."""
    digits = f"{_uuid7_int():032x}"
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def new_ids(count: int) -> list[str]:
    """`count` fresh UUIDv7s as canonical strings, in increasing order, for one batch: one clock
    read and one lock for all, and the text formatted from hex pieces (a per-id `_uuid7_int`
    and its integer formatting were the costliest part of a batch's ids). The same layout and
    the same monotonic counter as `uuid7`, which they interleave with."""
    global _last_ms, _counter
    if count < _BATCH_FROM:
        return [new_id() for _ in range(count)]
    spans: list[tuple[int, int, int]] = []  # (millisecond, first counter, how many)
    with _lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms <= _last_ms:
            moment, counter = _last_ms, _counter + 1
        else:
            moment, counter = now_ms, _random.getrandbits(10)
        left = count
        while left:
            if counter > 0xFFF:  # counter exhausted: borrow the next millisecond
                moment += 1
                counter = 0
            taken = min(left, 0x1000 - counter)
            spans.append((moment, counter, taken))
            counter += taken
            left -= taken
        _last_ms, _counter = moment, counter - 1
    # 64 random bits per id as hex; the first digit carries the variant (0b10) and 2 of them.
    digits = _random.randbytes(8 * count).hex()
    ids: list[str] = []
    offset = 0
    for moment, first, taken in spans:
        stamp = f"{moment & ((1 << 48) - 1):012x}"
        head = f"{stamp[:8]}-{stamp[8:]}-7"
        ids.extend(
            [
                f"{head}{counter:03x}-{_VARIANT[digits[at]]}{digits[at + 1 : at + 4]}-"
                f"{digits[at + 4 : at + 16]}"
                for counter, at in zip(
                    range(first, first + taken),
                    range(offset, offset + 16 * taken, 16),
                    strict=True,
                )
            ]
        )
        offset += 16 * taken
    return ids


# Below this many ids the batch set-up costs more than it saves (one id: 6.7 against 2.1 us).
_BATCH_FROM = 4
# A random hex digit's low two bits under the RFC 9562 variant bits 0b10: 8, 9, a or b.
_VARIANT = {digit: "89ab"[int(digit, 16) & 0b11] for digit in "0123456789abcdef"}
