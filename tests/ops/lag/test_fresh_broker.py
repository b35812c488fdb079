"""Fetching committed offsets on a broker that has just started (its group coordinator still
loading) never crashes the reading process.

The same tight loop over `AdminClient.list_consumer_group_offsets` died with SIGSEGV in two of
three fresh brokers, and in both runs of this test written with it (confluent-kafka 2.16.1,
librdkafka 2.16.0). The autoscaler, the ops page and the lag publisher read lag in-process, so
`dpp_ops.committed` fetches offsets through a consumer instead. The loop runs in a child
process, so a crash shows as its exit status instead of taking pytest down.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from dpp_cli.sandbox import KafkaSandbox
from dpp_ops.ports import free_port

READS_S = 8.0
# Reads groups from the moment the broker answers, while the coordinator still loads; prints
# how many reads completed (and how many answered an error, which the callers handle).
READER = f"""
import sys, time
from confluent_kafka import KafkaException
from dpp_ops.committed import committed_offsets, offset_fetch_consumer
from dpp_ops.errors import LagReadError
from dpp_ops.lag.reader import LagReader
config = {{"bootstrap.servers": sys.argv[1]}}
consumers = [offset_fetch_consumer(config, f"fresh-{{n}}") for n in range(5)]
fetched = read = 0
deadline = time.monotonic() + {READS_S}
with LagReader(sys.argv[1], probe=False, request_timeout_s=5) as reader:
    while time.monotonic() < deadline:
        try:
            committed_offsets(consumers[fetched % 5], [("__consumer_offsets", 0)], 5)
        except KafkaException:
            pass  # COORDINATOR_LOAD_IN_PROGRESS and the like: callers retry
        fetched += 1
        if fetched % 100 == 0:
            try:
                reader.read_group("fresh-0")
            except LagReadError:
                pass
            read += 1
for consumer in consumers:
    consumer.close()
print(fetched, read)
"""


@pytest.mark.slow
def test_fetching_offsets_while_the_coordinator_loads_never_crashes() -> None:
    home = Path(tempfile.mkdtemp(prefix="dpp-fresh-broker-"))
    sandbox = KafkaSandbox(home, port=free_port(), ephemeral=True)
    status = sandbox.up()
    try:
        assert status.bootstrap_servers is not None
        read = subprocess.run(
            [sys.executable, "-c", READER, status.bootstrap_servers],
            capture_output=True, text=True, timeout=READS_S + 60, check=False,
        )  # fmt: skip
    finally:
        sandbox.down()
        shutil.rmtree(home, ignore_errors=True)
    assert read.returncode == 0, f"exit {read.returncode}: {read.stderr[-2000:]}"
    fetched, read_groups = (int(n) for n in read.stdout.split())
    assert fetched > 0 and read_groups > 0, read.stdout
