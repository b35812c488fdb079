"""The consumer's AI/ML jobs (embedding, tone classification, similarity index), CPU-only.

Models ship inside installed packages and load lazily, once per process; call :func:`warm_up`
at worker start to pay that cost before the first job.
"""

from __future__ import annotations

from dpp_consumer.ml.embedding import embed, shared_encoder
from dpp_consumer.ml.errors import JobCancelledError, MLError, ModelFilesMissingError
from dpp_consumer.ml.index_checkpoint import (
    FileIndexCheckpoint,
    IndexCheckpoint,
    IndexState,
    InMemoryIndexCheckpoint,
)
from dpp_consumer.ml.similarity_index import (
    Document,
    IndexProgress,
    Neighbour,
    SimilarityIndex,
    build_similarity_index,
)
from dpp_consumer.ml.tone import ToneScore, classify_tone, shared_tone_classifier

__all__ = [
    "Document",
    "FileIndexCheckpoint",
    "InMemoryIndexCheckpoint",
    "IndexCheckpoint",
    "IndexProgress",
    "IndexState",
    "JobCancelledError",
    "MLError",
    "ModelFilesMissingError",
    "Neighbour",
    "SimilarityIndex",
    "ToneScore",
    "build_similarity_index",
    "classify_tone",
    "embed",
    "warm_up",
]


def warm_up() -> None:
    """Load every shared model now, so the first job does not pay for it."""
    shared_encoder()
    shared_tone_classifier()
