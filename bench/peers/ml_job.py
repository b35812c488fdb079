"""`python -m bench.peers.ml_job JOB COUNT`: one ML job (embedding, tone, index) in a fresh
process: model load time, items/s over COUNT items, peak RSS; prints JSON."""

from __future__ import annotations

import json
import resource
import sys
import time

# ~40 words: a typical persona document or chat message.
TEXT = (
    "The persona answered the customer's question about delivery times with a calm and "
    "friendly tone, apologised for the delay of order {index}, offered a discount on the next "
    "purchase and asked whether anything else could be done to help today."
)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    job, count = sys.argv[1], int(sys.argv[2])
    texts = [TEXT.format(index=index) for index in range(count)]
    started = time.perf_counter()
    from dpp_consumer import ml

    ml.warm_up()
    loaded = time.perf_counter()
    rss_loaded = _rss_mb()
    if job == "embedding":
        ml.embed(texts)
    elif job == "tone":
        ml.classify_tone(texts)
    elif job == "index":
        documents = [ml.Document(f"d{index}", text) for index, text in enumerate(texts)]
        ml.build_similarity_index(documents, ml.InMemoryIndexCheckpoint())
    else:
        raise SystemExit(f"unknown job {job}")
    finished = time.perf_counter()
    print(
        json.dumps(
            {
                "items": count,
                "load_s": loaded - started,
                "items_per_s": count / (finished - loaded),
                "rss_after_load_mb": rss_loaded,
                "peak_rss_mb": _rss_mb(),
            }
        )
    )


if __name__ == "__main__":
    main()
