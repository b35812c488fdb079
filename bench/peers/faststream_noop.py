"""`python -m bench.peers.faststream_noop BOOTSTRAP GROUP TOPIC`: the peer framework, FastStream
with its confluent backend, logging off, the same no-op handler, offsets committed after
processing (AckPolicy.ACK). Runs until SIGTERM."""

from __future__ import annotations

import asyncio
import sys

from faststream import AckPolicy, FastStream
from faststream.confluent import KafkaBroker


def main() -> None:
    bootstrap, group, topic = sys.argv[1], sys.argv[2], sys.argv[3]
    broker = KafkaBroker(bootstrap, logger=None)

    @broker.subscriber(
        topic,
        group_id=group,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.ACK,
        isolation_level="read_committed",
    )
    async def handle(body: bytes) -> None:
        return None

    app = FastStream(broker, logger=None)
    asyncio.run(app.run())


if __name__ == "__main__":
    main()
