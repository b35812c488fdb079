"""Batch job: embed a persona's documents in checkpointed chunks into a similarity index."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from dpp_consumer.ml.embedding import embed
from dpp_consumer.ml.errors import BatchCancelledError
from dpp_consumer.ml.index_checkpoint import IndexCheckpoint, IndexState
from dpp_consumer.ml.minilm import EMBEDDING_DIM, MODEL_NAME, Float32Array

DEFAULT_CHUNK_SIZE = 64
DEFAULT_TOP_K = 5
# Rows of the similarity matrix computed at once: bounds memory to 1024 x n floats.
_NEIGHBOUR_BLOCK = 1024


@dataclass(frozen=True, slots=True)
class Document:
    """One document of a persona's set, identified by a caller-chosen unique id."""

    id: str
    text: str


@dataclass(frozen=True, slots=True)
class IndexProgress:
    """Progress of a build: ``done`` of ``total`` documents embedded and checkpointed."""

    done: int
    total: int
    resumed_from: int  # documents already embedded by an earlier, interrupted run


@dataclass(frozen=True, slots=True)
class Neighbour:
    """Another document and its cosine similarity to the one it is listed under."""

    document_id: str
    score: float


@dataclass(frozen=True, slots=True, eq=False)  # arrays have no single truth value to compare
class SimilarityIndex:
    """Unit-length embeddings of a document set plus each document's nearest neighbours."""

    document_ids: tuple[str, ...]
    embeddings: Float32Array  # (n, 384), row i belongs to document_ids[i]
    neighbour_rows: NDArray[np.int32]  # (n, k) row indices, most similar first
    neighbour_scores: Float32Array  # (n, k) cosine similarities
    _row_of: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Callers list neighbours for every document: a dict keeps that linear, not quadratic.
        object.__setattr__(self, "_row_of", {d: i for i, d in enumerate(self.document_ids)})

    def neighbours(self, document_id: str) -> list[Neighbour]:
        """The nearest other documents of ``document_id``, most similar first."""
        row = self._row_of[document_id]
        return [
            Neighbour(self.document_ids[int(j)], float(s))
            for j, s in zip(self.neighbour_rows[row], self.neighbour_scores[row], strict=True)
        ]

    def search(self, query: str, k: int = DEFAULT_TOP_K) -> list[Neighbour]:
        """The ``k`` documents closest in meaning to a free-text query."""
        scores = self.embeddings @ embed([query])[0]
        top = np.argsort(-scores, kind="stable")[:k]
        return [Neighbour(self.document_ids[int(i)], float(scores[i])) for i in top]

    def to_bytes(self) -> bytes:
        """Serialise to a compact ``.npz`` blob (no pickle)."""
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            document_ids=np.array(self.document_ids, dtype=str),
            embeddings=self.embeddings,
            neighbour_rows=self.neighbour_rows,
            neighbour_scores=self.neighbour_scores,
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> SimilarityIndex:
        """Inverse of :meth:`to_bytes`."""
        with np.load(io.BytesIO(blob), allow_pickle=False) as data:
            return cls(
                document_ids=tuple(str(i) for i in data["document_ids"]),
                embeddings=data["embeddings"].astype(np.float32),
                neighbour_rows=data["neighbour_rows"].astype(np.int32),
                neighbour_scores=data["neighbour_scores"].astype(np.float32),
            )


def corpus_digest(documents: Sequence[Document]) -> str:
    """Fingerprint of the model and the ordered document list that a checkpoint belongs to."""
    digest = hashlib.sha256(MODEL_NAME.encode())
    for document in documents:
        for part in (document.id, document.text):
            encoded = part.encode("utf-8")
            # Length-prefixed, so ("ab", "c") and ("a", "bc") cannot collide.
            digest.update(len(encoded).to_bytes(8, "big"))
            digest.update(encoded)
    return digest.hexdigest()


def build_similarity_index(
    documents: Sequence[Document],
    checkpoint: IndexCheckpoint,
    *,
    progress: Callable[[IndexProgress], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    top_k: int = DEFAULT_TOP_K,
) -> SimilarityIndex:
    """Embed ``documents`` chunk by chunk and return each one's ``top_k`` nearest neighbours.

    After every chunk the embeddings so far are saved to ``checkpoint`` and then ``progress``
    is called, so a worker that dies (or whose callback raises) resumes from the last saved
    chunk when it calls this again with the same documents and checkpoint; the result equals an
    uninterrupted run's. A checkpoint saved for a different document list is ignored and the
    build restarts from zero. ``should_cancel`` is polled between chunks; when it returns True
    the build stops with :class:`BatchCancelledError`, its progress kept.
    """
    if chunk_size < 1 or top_k < 1:
        raise ValueError("chunk_size and top_k must be at least 1")
    ids = [d.id for d in documents]
    if len(set(ids)) != len(ids):
        raise ValueError("document ids must be unique")
    total = len(documents)
    digest = corpus_digest(documents)

    state = checkpoint.load()
    if state is None or state.corpus_digest != digest or state.done > total:
        state = IndexState(digest, 0, np.zeros((0, EMBEDDING_DIM), dtype=np.float32))
    resumed_from = state.done
    if progress is not None:
        progress(IndexProgress(state.done, total, resumed_from))

    chunks = [state.embeddings]
    done = state.done
    while done < total:
        if should_cancel is not None and should_cancel():
            raise BatchCancelledError(done, total)
        batch = documents[done : done + chunk_size]
        chunks.append(embed([d.text for d in batch]))
        done += len(batch)
        # Save before reporting: whatever the callback does, this chunk is never redone.
        checkpoint.save(IndexState(digest, done, np.concatenate(chunks)))
        if progress is not None:
            progress(IndexProgress(done, total, resumed_from))

    embeddings = np.concatenate(chunks)
    rows, scores = _nearest_neighbours(embeddings, top_k)
    return SimilarityIndex(tuple(ids), embeddings, rows, scores)


def _nearest_neighbours(
    embeddings: Float32Array, top_k: int
) -> tuple[NDArray[np.int32], Float32Array]:
    n = len(embeddings)
    k = min(top_k, max(n - 1, 0))
    rows = np.zeros((n, k), dtype=np.int32)
    scores = np.zeros((n, k), dtype=np.float32)
    if k == 0:
        return rows, scores
    for start in range(0, n, _NEIGHBOUR_BLOCK):
        block = embeddings[start : start + _NEIGHBOUR_BLOCK] @ embeddings.T
        local = np.arange(len(block))
        block[local, start + local] = -np.inf  # a document is not its own neighbour
        candidates = np.argpartition(-block, k - 1, axis=1)[:, :k]
        candidate_scores = np.take_along_axis(block, candidates, axis=1)
        # Sort by score, ties by row index, so the order never depends on argpartition.
        order = np.lexsort((candidates, -candidate_scores), axis=1)
        rows[start : start + len(block)] = np.take_along_axis(candidates, order, axis=1)
        scores[start : start + len(block)] = np.take_along_axis(candidate_scores, order, axis=1)
    return rows, scores
