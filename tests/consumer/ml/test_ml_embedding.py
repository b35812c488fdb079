"""The embedding job: meaningful similarities, input order, and one shared thread-safe model."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from dpp_consumer.ml import embedding
from dpp_consumer.ml.embedding import embed, shared_encoder
from dpp_consumer.ml.minilm import MiniLMEncoder

# Each sentence's paraphrase, in the same order; no two pairs share a topic.
SENTENCES = [
    "How do I reset my password?",
    "The restaurant serves excellent Italian food.",
    "It is going to rain heavily tomorrow.",
    "She scored the winning goal in the final minute.",
    "The stock market fell sharply today.",
]
PARAPHRASES = [
    "I forgot my login credentials, how can I change them?",
    "That place makes great pasta and pizza.",
    "Expect a lot of rainfall tomorrow.",
    "Her last-minute goal won the match.",
    "Share prices dropped steeply this afternoon.",
]


@pytest.mark.usefixtures("encoder")
def test_each_sentence_is_closest_to_its_own_paraphrase() -> None:
    similarity = embed(SENTENCES) @ embed(PARAPHRASES).T

    assert list(similarity.argmax(axis=1)) == list(range(len(SENTENCES)))
    paired = np.diag(similarity)
    unrelated = similarity[~np.eye(len(SENTENCES), dtype=bool)]
    assert paired.min() > 0.5
    assert unrelated.max() < 0.3
    assert paired.min() - unrelated.max() > 0.3


@pytest.mark.usefixtures("encoder")
def test_rows_are_unit_float32_vectors_in_input_order() -> None:
    texts = ["a much longer sentence about the weather and the sea", "hi", "medium length text"]

    together = embed(texts, batch_size=2)  # sorted internally by length, restored on output
    one_by_one = np.stack([embed([text])[0] for text in texts])

    assert together.dtype == np.float32
    assert together.shape == (3, 384)
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    assert np.abs(together - one_by_one).max() < 1e-5


@pytest.mark.usefixtures("encoder")
def test_inputs_spanning_several_tokenisation_windows_keep_their_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    texts = SENTENCES + PARAPHRASES
    whole = embed(texts)
    monkeypatch.setattr(embedding, "TOKENIZE_WINDOW", 3)

    windowed = embed(texts, batch_size=2)

    assert np.abs(windowed - whole).max() < 1e-5


@pytest.mark.usefixtures("encoder")
def test_rejects_a_bare_string_and_empty_input_is_fine() -> None:
    with pytest.raises(TypeError):
        embed("not a list")
    assert embed([]).shape == (0, 384)


class CountingLock:
    """The real lock, plus a count of threads that have asked for it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.asked = 0
        self.changed = threading.Condition()

    def __enter__(self) -> None:
        with self.changed:
            self.asked += 1
            self.changed.notify_all()
        self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


def test_model_loads_once_even_when_many_threads_ask_first(
    encoder: MiniLMEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads = 8
    lock = CountingLock()
    loads = []

    def slow_load(cls: type[MiniLMEncoder], model_dir: object = None) -> MiniLMEncoder:
        # Hold the load until every thread is queued on the lock: real contention, no sleeps.
        with lock.changed:
            assert lock.changed.wait_for(lambda: lock.asked == threads, timeout=30)
        loads.append(threading.get_ident())
        return encoder

    monkeypatch.setattr(embedding, "_encoder", None)
    monkeypatch.setattr(embedding, "_encoder_lock", lock)
    monkeypatch.setattr(MiniLMEncoder, "from_directory", classmethod(slow_load))

    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = list(pool.map(lambda _: shared_encoder(), range(threads)))

    assert len(loads) == 1
    assert all(result is encoder for result in results)


@pytest.mark.usefixtures("encoder")
def test_concurrent_jobs_get_the_same_vectors_as_serial_ones() -> None:
    batches = [SENTENCES, PARAPHRASES, SENTENCES[::-1], PARAPHRASES[::-1]]
    serial = [embed(batch) for batch in batches]

    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(embed, batches))

    for expected, actual in zip(serial, concurrent, strict=True):
        assert np.abs(expected - actual).max() < 1e-5
