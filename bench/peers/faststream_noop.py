"""`python -m bench.peers.faststream_noop BOOTSTRAP GROUP TOPIC POLICY`: the peer framework,
FastStream with its confluent backend, logging off, a handler that really runs (`body: dict`:
the records are `application/json`, so FastStream hands the handler the decoded object; a
`bytes` annotation made every call fail validation while offsets still advanced) and counts
each record. POLICY is `default` (FastStream's own: ACK_FIRST, auto-commit, at most once) or
`ack` (AckPolicy.ACK: commit after the handler, at least once). Runs until SIGTERM, then
writes its tally ($BENCH_COUNT_TO)."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from faststream import AckPolicy, FastStream
from faststream.confluent import KafkaBroker

from bench.peers.tally import Tally


def main() -> None:
    bootstrap, group, topic, policy = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    broker = KafkaBroker(bootstrap, logger=None)
    tally = Tally()
    # An unset ack_policy resolves to ACK_FIRST (faststream/confluent/subscriber/factory.py).
    ack_policy = AckPolicy.ACK if policy == "ack" else AckPolicy.ACK_FIRST

    @broker.subscriber(
        topic,
        group_id=group,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        ack_policy=ack_policy,
    )
    async def handle(body: dict[str, Any]) -> None:
        if "session_id" not in body:  # proves the handler got the decoded record
            raise ValueError("not an echo request")
        tally.add()

    app = FastStream(broker, logger=None)
    try:
        asyncio.run(app.run())
    finally:
        tally.write()


if __name__ == "__main__":
    main()
