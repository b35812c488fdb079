"""UUIDv7 ids: version and variant bits, embedded time, monotonic order within a process."""

from __future__ import annotations

import itertools
import threading
import time
import uuid

from dpp_shared.ids import new_id, new_ids, uuid7


def test_version_and_variant_bits() -> None:
    for _ in range(1000):
        value = uuid7()
        assert value.version == 7
        assert value.variant == uuid.RFC_4122
        assert (value.int >> 76) & 0xF == 0x7
        assert (value.int >> 62) & 0b11 == 0b10


def test_timestamp_is_unix_milliseconds() -> None:
    before = time.time_ns() // 1_000_000
    value = uuid7()
    after = time.time_ns() // 1_000_000
    embedded = value.int >> 80
    # The counter may borrow a millisecond ahead when one millisecond's 4096 slots run out.
    assert before <= embedded <= after + 1


def test_strictly_increasing_within_a_process() -> None:
    ids = [uuid7() for _ in range(20_000)]  # more than 4096 per ms exercises counter overflow
    assert all(a < b for a, b in itertools.pairwise(ids))
    assert len(set(ids)) == len(ids)
    # The canonical string form sorts the same way, so ids sort by time in text columns too.
    texts = [str(i) for i in ids]
    assert texts == sorted(texts)


def test_unique_and_ordered_across_threads() -> None:
    per_thread: list[list[uuid.UUID]] = [[] for _ in range(8)]

    def generate(bucket: list[uuid.UUID]) -> None:
        bucket.extend(uuid7() for _ in range(2000))

    threads = [threading.Thread(target=generate, args=(bucket,)) for bucket in per_thread]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    everything = [i for bucket in per_thread for i in bucket]
    assert len(set(everything)) == len(everything) == 16_000
    for bucket in per_thread:
        assert bucket == sorted(bucket)


def test_new_id_is_canonical_text() -> None:
    text = new_id()
    assert str(uuid.UUID(text)) == text
    assert len(text) == 36


def test_forked_children_do_not_repeat_the_parents_random_bits() -> None:
    import os

    from dpp_shared.ids import uuid7

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report the random tail of its next id, then leave at once
        os.write(write_end, str(uuid7().int & ((1 << 62) - 1)).encode())
        os._exit(0)
    os.close(write_end)
    parent_tail = uuid7().int & ((1 << 62) - 1)
    child_tail = int(os.read(read_end, 64).decode())
    os.close(read_end)
    os.waitpid(pid, 0)
    assert child_tail != parent_tail


SNAPSHOT_RESTORE = """
import snapshot_restore_py
from dpp_shared import ids
snapshot = ids._random.getstate()  # what a snapshot freezes
tail_without_restore = ids._random.getrandbits(62)
ids._random.setstate(snapshot)  # a second environment restored from the same image
for hook, args, kwargs in snapshot_restore_py._after_restore_registry:  # what awslambdaric runs
    hook(*args, **kwargs)
print(ids._random.getrandbits(62) != tail_without_restore)
"""


def test_environments_restored_from_one_snapshot_do_not_repeat_random_bits() -> None:
    """SnapStart restores many environments from one memory image, PRNG state included; the
    Lambda runtime (awslambdaric) then calls the hooks of `snapshot_restore_py`'s registry. In a
    fresh interpreter: other tests may have re-imported either module in this one."""
    import subprocess
    import sys

    run = subprocess.run(
        [sys.executable, "-c", SNAPSHOT_RESTORE], capture_output=True, text=True, check=False
    )
    assert run.stdout.strip() == "True", run.stdout + run.stderr


def test_new_ids_are_canonical_uuid7s_in_order_across_counter_overflow() -> None:
    before = time.time_ns() // 1_000_000
    texts = new_ids(10_000)  # more than the 4096 counter values of one millisecond
    after = time.time_ns() // 1_000_000
    assert len(set(texts)) == 10_000
    values = [uuid.UUID(text) for text in texts]
    assert [str(value) for value in values] == texts
    for value in values:
        assert value.version == 7 and value.variant == uuid.RFC_4122
        assert (value.int >> 62) & 0b11 == 0b10
    assert all(a < b for a, b in itertools.pairwise(values))
    # Borrowing milliseconds ahead is allowed: 10,000 ids need at most three more.
    assert before <= values[0].int >> 80 and values[-1].int >> 80 <= after + 3
    assert new_ids(0) == []


def test_new_ids_and_uuid7_share_one_monotonic_sequence() -> None:
    sequence: list[uuid.UUID] = []
    for size in (1, 5, 4097, 3):
        sequence.append(uuid7())
        sequence.extend(uuid.UUID(text) for text in new_ids(size))
    sequence.append(uuid7())
    assert all(a < b for a, b in itertools.pairwise(sequence))


def test_new_ids_random_bits_vary() -> None:
    texts = new_ids(1000)
    # The 62 random bits (last 16 hex digits but the variant's two bits) are not repeated.
    assert len({text[19:] for text in texts}) == 1000
    assert {text[19] for text in texts} == set("89ab")
