"""The consumer's AI/ML jobs (embedding, tone classification, similarity index), CPU-only.

Models ship inside installed packages and load lazily, once per process; call :func:`warm_up`
at worker start to pay that cost before the first job.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dpp_consumer.ml.embedding import embed, shared_encoder
    from dpp_consumer.ml.errors import BatchCancelledError, MLError, ModelFilesMissingError
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

# Exports resolve lazily: jobs import submodules from several threads at once, and a package
# __init__ that imports every submodule makes those imports re-enter each other and deadlock
# (tests/consumer/ml/test_ml_concurrent_import.py).
_EXPORTS = {
    "embed": "embedding",
    "shared_encoder": "embedding",
    "BatchCancelledError": "errors",
    "MLError": "errors",
    "ModelFilesMissingError": "errors",
    "FileIndexCheckpoint": "index_checkpoint",
    "IndexCheckpoint": "index_checkpoint",
    "IndexState": "index_checkpoint",
    "InMemoryIndexCheckpoint": "index_checkpoint",
    "Document": "similarity_index",
    "IndexProgress": "similarity_index",
    "Neighbour": "similarity_index",
    "SimilarityIndex": "similarity_index",
    "build_similarity_index": "similarity_index",
    "ToneScore": "tone",
    "classify_tone": "tone",
    "shared_tone_classifier": "tone",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [
    "BatchCancelledError",
    "Document",
    "FileIndexCheckpoint",
    "InMemoryIndexCheckpoint",
    "IndexCheckpoint",
    "IndexProgress",
    "IndexState",
    "MLError",
    "ModelFilesMissingError",
    "Neighbour",
    "SimilarityIndex",
    "ToneScore",
    "build_similarity_index",
    "classify_tone",
    "embed",
    "shared_encoder",
    "shared_tone_classifier",
    "warm_up",
]


def warm_up() -> None:
    """Load every shared model now, so the first job does not pay for it."""
    from dpp_consumer.ml.embedding import shared_encoder  # noqa: PLC0415
    from dpp_consumer.ml.tone import shared_tone_classifier  # noqa: PLC0415

    shared_encoder()
    shared_tone_classifier()
