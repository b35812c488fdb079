"""The text-embedding job and the process-wide, lazily loaded MiniLM encoder it shares."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]  # ships no stubs

from dpp_consumer.ml.minilm import EMBEDDING_DIM, Float32Array, MiniLMEncoder

# Sorting by length keeps each batch's padding small; 32 keeps peak memory of the attention
# scores (batch x 12 heads x 256 x 256 floats = 100 MB at worst) modest on a worker.
DEFAULT_BATCH_SIZE = 32

# BLAS threads per product. Measured on the 2-core worker box (shared with other processes),
# OpenBLAS's spinning worker threads made embedding 4-10x slower than one thread; the worker
# gets its parallelism from running jobs concurrently in threads instead (numpy drops the GIL).
BLAS_THREADS = 1

_encoder: MiniLMEncoder | None = None
_encoder_lock = threading.Lock()


def shared_encoder() -> MiniLMEncoder:
    """The one encoder of this process, loaded on first use; concurrent first callers wait."""
    global _encoder  # noqa: PLW0603 - a deliberate process-wide singleton
    encoder = _encoder
    if encoder is None:
        with _encoder_lock:
            # Re-read under the lock: another thread may have finished loading meanwhile.
            encoder = _encoder
            if encoder is None:
                # Process-wide on purpose: the limit must hold in every thread that runs a job.
                threadpool_limits(limits=BLAS_THREADS, user_api="blas")
                encoder = MiniLMEncoder.from_directory()
                _encoder = encoder
    return encoder


def embed(texts: Sequence[str], *, batch_size: int = DEFAULT_BATCH_SIZE) -> Float32Array:
    """Embed texts: float32 array of shape (len(texts), 384), each row of unit L2 norm.

    Rows follow the input order. Texts longer than 256 tokens are truncated, as the model was
    trained. Safe to call from several threads at once.
    """
    if isinstance(texts, str):
        raise TypeError("embed() takes a sequence of texts, not a single string")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    encoder = shared_encoder()
    result = np.empty((len(texts), EMBEDDING_DIM), dtype=np.float32)
    # Character length is a cheap proxy for token length, good enough to group similar sizes.
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for start in range(0, len(order), batch_size):
        indices = order[start : start + batch_size]
        result[indices] = encoder.encode_batch([texts[i] for i in indices])
    return result
