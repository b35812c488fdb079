"""Workers racing on a redelivered event: exactly one of them records the outcome."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from dpp_shared.ids import new_id
from dpp_store import JobStatus, JobStore
from dpp_store.engine import create_store_engine
from tests.store.factories import job_start

RACERS = 4


def test_racing_succeed_on_one_job_has_exactly_one_winner(database_url: str) -> None:
    store = JobStore(create_store_engine(database_url, pool_size=RACERS))
    store.migrate()
    try:
        for _ in range(20):
            job_id = new_id()
            store.begin(job_start(job_id))
            barrier = threading.Barrier(RACERS)

            def finish(
                worker: int, job_id: str = job_id, barrier: threading.Barrier = barrier
            ) -> bool:
                barrier.wait(timeout=30)
                return store.succeed(job_id, {"worker": worker})

            with ThreadPoolExecutor(RACERS) as pool:
                outcomes = list(pool.map(finish, range(RACERS)))

            assert outcomes.count(True) == 1
            record = store.get(job_id)
            assert record is not None
            assert record.status is JobStatus.SUCCEEDED
            assert record.result == {"worker": outcomes.index(True)}
    finally:
        store.close()


def test_racing_batches_succeed_each_job_once(database_url: str) -> None:
    store = JobStore(create_store_engine(database_url, pool_size=RACERS))
    store.migrate()
    try:
        ids = [new_id() for _ in range(300)]
        barrier = threading.Barrier(RACERS)

        def work(worker: int) -> set[str]:
            barrier.wait(timeout=30)
            store.begin_many([job_start(job_id) for job_id in ids])
            return store.succeed_many({job_id: {"worker": worker} for job_id in ids})

        with ThreadPoolExecutor(RACERS) as pool:
            won = list(pool.map(work, range(RACERS)))

        wins = Counter(job_id for worker_wins in won for job_id in worker_wins)
        assert set(wins) == set(ids)
        assert set(wins.values()) == {1}
        for worker, worker_wins in enumerate(won):
            for job_id in list(worker_wins)[:5]:
                record = store.get(job_id)
                assert record is not None
                assert record.result == {"worker": worker}
    finally:
        store.close()


def test_batches_in_different_orders_do_not_deadlock(database_url: str) -> None:
    store = JobStore(create_store_engine(database_url, pool_size=RACERS))
    store.migrate()
    try:
        ids = [new_id() for _ in range(400)]
        orders = [ids, ids[::-1], ids[::2] + ids[1::2], ids[1::2] + ids[::2]]
        barrier = threading.Barrier(RACERS)

        def work(worker: int) -> set[str]:
            order = orders[worker]
            barrier.wait(timeout=30)
            store.begin_many([job_start(job_id) for job_id in order])
            return store.succeed_many({job_id: {"worker": worker} for job_id in order})

        with ThreadPoolExecutor(RACERS) as pool:
            won = list(pool.map(work, range(RACERS)))

        wins = Counter(job_id for worker_wins in won for job_id in worker_wins)
        assert set(wins) == set(ids)
        assert set(wins.values()) == {1}
    finally:
        store.close()


def test_racing_finish_many_from_separate_stores_records_each_job_once(database_url: str) -> None:
    """Separate stores (separate connections; on SQLite separate writer threads meeting at the
    file's write lock), overlapping batches in different orders, some jobs already begun or
    finished: every unfinished job is won by exactly one store, whose result is the one kept."""
    stores = [JobStore(create_store_engine(database_url)) for _ in range(RACERS)]
    stores[0].migrate()
    try:
        finished, begun = new_id(), new_id()
        stores[0].finish_many([job_start(finished)], {finished: {"worker": "before"}})
        stores[0].begin(job_start(begun))
        ids = [new_id() for _ in range(300)] + [finished, begun]
        orders = [ids, ids[::-1], ids[::2] + ids[1::2], ids[1::2] + ids[::2]]
        barrier = threading.Barrier(RACERS)

        def work(worker: int) -> set[str]:
            order = orders[worker]
            barrier.wait(timeout=30)
            won: set[str] = set()
            for start in range(0, len(order), 50):  # several units each, interleaving
                chunk = order[start : start + 50]
                won |= stores[worker].finish_many(
                    [job_start(job_id) for job_id in chunk],
                    {job_id: {"worker": worker} for job_id in chunk},
                )
            return won

        with ThreadPoolExecutor(RACERS) as pool:
            won = list(pool.map(work, range(RACERS)))

        wins = Counter(job_id for worker_wins in won for job_id in worker_wins)
        assert set(wins) == set(ids) - {finished}
        assert set(wins.values()) == {1}
        records = stores[0].get_many(ids)
        assert records[finished].result == {"worker": "before"}
        assert records[begun].attempts == 2  # begun once, then finished by one store only
        for worker, worker_wins in enumerate(won):
            for job_id in worker_wins:
                assert records[job_id].status is JobStatus.SUCCEEDED
                assert records[job_id].result == {"worker": worker}
    finally:
        for store in stores:
            store.close()
