"""Event ids the client mints: UUIDv7 (RFC 9562), time-ordered, from the standard library alone."""

from __future__ import annotations

import os
import time
import uuid


def new_id() -> str:
    """A fresh UUIDv7: 48-bit Unix milliseconds, version and variant bits, 74 random bits.

    One id per publish call, so a urandom read each time is cheap enough; the services' own ids
    (dpp_shared.ids) add a per-millisecond counter for the ingest hot path.
    """
    random_bits = int.from_bytes(os.urandom(10), "big") & ((1 << 74) - 1)
    value = (time.time_ns() // 1_000_000 & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= (random_bits >> 62) << 64  # 12 bits of rand_a
    value |= 0b10 << 62
    value |= random_bits & ((1 << 62) - 1)  # 62 bits of rand_b
    return str(uuid.UUID(int=value))
