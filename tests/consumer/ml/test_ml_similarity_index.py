"""The similarity-index batch job: meaningful neighbours, progress, cancellation and resumption."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from dpp_consumer.ml import similarity_index
from dpp_consumer.ml.embedding import embed
from dpp_consumer.ml.errors import BatchCancelledError
from dpp_consumer.ml.index_checkpoint import (
    FileIndexCheckpoint,
    IndexState,
    InMemoryIndexCheckpoint,
)
from dpp_consumer.ml.minilm import Float32Array
from dpp_consumer.ml.similarity_index import (
    Document,
    IndexProgress,
    SimilarityIndex,
    build_similarity_index,
)

pytestmark = pytest.mark.usefixtures("encoder")

TOPICS = {
    "cooking": [
        "Simmer the tomato sauce with garlic and basil for twenty minutes.",
        "Knead the bread dough and let it rise overnight.",
        "Season the roast chicken with rosemary before baking it.",
        "Whisk eggs, flour and milk together to make pancake batter.",
    ],
    "football": [
        "The striker scored twice in the second half of the match.",
        "The goalkeeper saved a penalty in the final minute.",
        "Our team won the league after beating the champions away.",
        "The coach changed formation after the defender was sent off.",
    ],
    "astronomy": [
        "The telescope captured a distant spiral galaxy.",
        "Jupiter's moons can be seen with a good pair of binoculars.",
        "A solar eclipse happens when the moon passes in front of the sun.",
        "Astronomers detected a new exoplanet orbiting a red dwarf star.",
    ],
}
# Interleaved, so every chunk mixes topics and neighbours must be found across chunks.
DOCUMENTS = [
    Document(f"{topic}-{i}", texts[i]) for i in range(4) for topic, texts in TOPICS.items()
]
CHUNK = 3  # 12 documents -> 4 chunks


def topic_of(document_id: str) -> str:
    return document_id.rsplit("-", 1)[0]


@pytest.fixture(scope="module")
def uninterrupted() -> SimilarityIndex:
    return build_similarity_index(DOCUMENTS, InMemoryIndexCheckpoint(), chunk_size=CHUNK, top_k=3)


def assert_same_index(actual: SimilarityIndex, expected: SimilarityIndex) -> None:
    assert actual.document_ids == expected.document_ids
    assert np.abs(actual.embeddings - expected.embeddings).max() < 1e-6
    assert np.array_equal(actual.neighbour_rows, expected.neighbour_rows)
    assert np.abs(actual.neighbour_scores - expected.neighbour_scores).max() < 1e-6


def test_neighbours_are_documents_on_the_same_topic(uninterrupted: SimilarityIndex) -> None:
    for document in DOCUMENTS:
        neighbours = uninterrupted.neighbours(document.id)
        assert len(neighbours) == 3
        assert {topic_of(n.document_id) for n in neighbours} == {topic_of(document.id)}
        assert document.id not in {n.document_id for n in neighbours}
        scores = [n.score for n in neighbours]
        assert scores == sorted(scores, reverse=True)


def test_free_text_search_finds_the_right_topic(uninterrupted: SimilarityIndex) -> None:
    hits = uninterrupted.search("What should I cook for dinner tonight?", k=2)
    assert [topic_of(h.document_id) for h in hits] == ["cooking", "cooking"]
    hits = uninterrupted.search("planets and stars in the night sky", k=2)
    assert [topic_of(h.document_id) for h in hits] == ["astronomy", "astronomy"]


def test_reports_progress_after_each_checkpointed_chunk() -> None:
    checkpoint = InMemoryIndexCheckpoint()
    reports: list[IndexProgress] = []

    build_similarity_index(DOCUMENTS, checkpoint, progress=reports.append, chunk_size=CHUNK)

    assert [(r.done, r.total) for r in reports] == [(0, 12), (3, 12), (6, 12), (9, 12), (12, 12)]
    assert checkpoint.saves == 4


class EmbedSpy:
    """Counts the texts the job embeds, to prove a resumed run skips finished chunks."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.texts = 0

        def spy(texts: Sequence[str]) -> Float32Array:
            self.texts += len(texts)
            return embed(texts)

        monkeypatch.setattr(similarity_index, "embed", spy)


class WorkerDiedError(Exception):
    pass


def test_resumes_after_a_failure_midway_and_matches_an_uninterrupted_run(
    uninterrupted: SimilarityIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoint = InMemoryIndexCheckpoint()

    def die_after_two_chunks(report: IndexProgress) -> None:
        if report.done == 2 * CHUNK:
            raise WorkerDiedError

    with pytest.raises(WorkerDiedError):
        build_similarity_index(
            DOCUMENTS, checkpoint, progress=die_after_two_chunks, chunk_size=CHUNK, top_k=3
        )
    spy = EmbedSpy(monkeypatch)
    reports: list[IndexProgress] = []
    resumed = build_similarity_index(
        DOCUMENTS, checkpoint, progress=reports.append, chunk_size=CHUNK, top_k=3
    )

    assert reports[0] == IndexProgress(done=6, total=12, resumed_from=6)
    assert spy.texts == 6  # only the two unfinished chunks were embedded again
    assert_same_index(resumed, uninterrupted)


def test_cancellation_stops_between_chunks_and_can_be_resumed(
    uninterrupted: SimilarityIndex,
) -> None:
    checkpoint = InMemoryIndexCheckpoint()
    polls: list[None] = []

    def cancel_on_third_poll() -> bool:
        polls.append(None)
        return len(polls) == 3

    with pytest.raises(BatchCancelledError) as cancelled:
        build_similarity_index(
            DOCUMENTS, checkpoint, should_cancel=cancel_on_third_poll, chunk_size=CHUNK, top_k=3
        )
    assert (cancelled.value.done, cancelled.value.total) == (6, 12)
    saved = checkpoint.load()
    assert saved is not None
    assert saved.done == 6

    resumed = build_similarity_index(DOCUMENTS, checkpoint, chunk_size=CHUNK, top_k=3)
    assert_same_index(resumed, uninterrupted)


def test_a_checkpoint_of_another_document_set_is_not_resumed(
    uninterrupted: SimilarityIndex,
) -> None:
    checkpoint = InMemoryIndexCheckpoint()
    edited = [*DOCUMENTS[:-1], Document(DOCUMENTS[-1].id, "A different last document.")]
    build_similarity_index(edited, checkpoint, chunk_size=CHUNK)
    reports: list[IndexProgress] = []

    rebuilt = build_similarity_index(
        DOCUMENTS, checkpoint, progress=reports.append, chunk_size=CHUNK, top_k=3
    )

    assert reports[0].resumed_from == 0
    assert_same_index(rebuilt, uninterrupted)


def test_a_restarted_worker_process_resumes_from_the_file_checkpoint(
    uninterrupted: SimilarityIndex, tmp_path: Path
) -> None:
    path = tmp_path / "index.ckpt"
    # A separate worker process that is killed (no cleanup, no exception handling) right after
    # its second chunk was checkpointed.
    crashing_worker = textwrap.dedent(
        f"""
        import os, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from pathlib import Path
        from test_ml_similarity_index import CHUNK, DOCUMENTS
        from dpp_consumer.ml import FileIndexCheckpoint, build_similarity_index

        def crash(report):
            if report.done == 2 * CHUNK:
                os._exit(17)

        build_similarity_index(DOCUMENTS, FileIndexCheckpoint(Path({str(path)!r})),
                               progress=crash, chunk_size=CHUNK, top_k=3)
        """
    )
    died = subprocess.run([sys.executable, "-c", crashing_worker], check=False, timeout=120)
    assert died.returncode == 17
    reports: list[IndexProgress] = []

    resumed = build_similarity_index(
        DOCUMENTS, FileIndexCheckpoint(path), progress=reports.append, chunk_size=CHUNK, top_k=3
    )

    assert reports[0].resumed_from == 6
    assert_same_index(resumed, uninterrupted)


def test_index_and_state_survive_serialisation(uninterrupted: SimilarityIndex) -> None:
    assert_same_index(SimilarityIndex.from_bytes(uninterrupted.to_bytes()), uninterrupted)
    state = IndexState("digest", 12, uninterrupted.embeddings)
    restored = IndexState.from_bytes(state.to_bytes())
    assert (restored.corpus_digest, restored.done) == ("digest", 12)
    assert np.array_equal(restored.embeddings, state.embeddings)


def test_small_and_invalid_document_sets() -> None:
    single = build_similarity_index([DOCUMENTS[0]], InMemoryIndexCheckpoint())
    assert single.neighbours(DOCUMENTS[0].id) == []
    empty = build_similarity_index([], InMemoryIndexCheckpoint())
    assert empty.document_ids == ()
    with pytest.raises(ValueError, match="unique"):
        build_similarity_index([DOCUMENTS[0], DOCUMENTS[0]], InMemoryIndexCheckpoint())


def test_an_unreadable_checkpoint_file_means_a_clean_restart(
    uninterrupted: SimilarityIndex, tmp_path: Path
) -> None:
    path = tmp_path / "index.ckpt"
    path.write_bytes(b"not a checkpoint")
    reports: list[IndexProgress] = []

    rebuilt = build_similarity_index(
        DOCUMENTS, FileIndexCheckpoint(path), progress=reports.append, chunk_size=CHUNK, top_k=3
    )

    assert reports[0].resumed_from == 0
    assert_same_index(rebuilt, uninterrupted)
    saved = FileIndexCheckpoint(path).load()
    assert saved is not None
    assert saved.done == len(DOCUMENTS)
