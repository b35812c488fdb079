"""The text-embedding job and the process-wide, lazily loaded MiniLM encoder it shares."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]  # ships no stubs

from dpp_consumer.ml.minilm import EMBEDDING_DIM, Float32Array, MiniLMEncoder

# Texts per forward pass, and padded tokens per pass: the token budget bounds peak memory
# (attention scores are batch x 12 heads x length^2 floats: 8 x 256-token texts = 25 MB);
# measured peak RSS of the benchmark fell from 414 to 280 MiB going from 4096 to 2048 tokens.
DEFAULT_BATCH_SIZE = 32
MAX_BATCH_TOKENS = 2048
TOKENIZE_WINDOW = 1024

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
    # Tokenise a window at a time: token ids are padded to the window's longest text, so one
    # window for a huge input would hold len(texts) x 256 ids at once.
    for window in range(0, len(texts), TOKENIZE_WINDOW):
        chunk = texts[window : window + TOKENIZE_WINDOW]
        result[window : window + len(chunk)] = _embed_window(encoder, chunk, batch_size)
    return result


def _embed_window(encoder: MiniLMEncoder, texts: Sequence[str], batch_size: int) -> Float32Array:
    result = np.empty((len(texts), EMBEDDING_DIM), dtype=np.float32)
    ids, mask = encoder.tokenize(texts)
    lengths = mask.sum(axis=1)
    # Shortest first, so each batch holds texts of similar length and little padding.
    order = np.argsort(lengths, kind="stable")
    start = 0
    while start < len(order):
        stop = start + 1
        while (
            stop < len(order)
            and stop - start < batch_size
            and (stop - start + 1) * int(lengths[order[stop]]) <= MAX_BATCH_TOKENS
        ):
            stop += 1
        rows = order[start:stop]
        result[rows] = encoder.encode_tokens(ids[rows], mask[rows])
        start = stop
    return result
