"""Resumable progress of a similarity-index build: its state and where that state is kept."""

from __future__ import annotations

import io
import os
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from dpp_consumer.ml.minilm import EMBEDDING_DIM, Float32Array


@dataclass(frozen=True, slots=True)
class IndexState:
    """What a build has finished: the first ``done`` documents' embeddings, for one corpus.

    ``corpus_digest`` fingerprints the model and the exact document list, so a state saved for
    another corpus (documents added, edited or reordered) is never resumed by mistake.
    """

    corpus_digest: str
    done: int
    embeddings: Float32Array  # (done, 384)

    def __post_init__(self) -> None:
        if self.embeddings.shape != (self.done, EMBEDDING_DIM):
            raise ValueError(
                f"state for {self.done} documents has embeddings of shape {self.embeddings.shape}"
            )

    def to_bytes(self) -> bytes:
        """Serialise to a compact ``.npz`` blob (no pickle), e.g. for a database column."""
        buffer = io.BytesIO()
        np.savez(
            buffer,
            corpus_digest=np.array(self.corpus_digest),
            done=np.array(self.done),
            embeddings=self.embeddings,
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> IndexState:
        """Inverse of :meth:`to_bytes`."""
        with np.load(io.BytesIO(blob), allow_pickle=False) as data:
            return cls(
                corpus_digest=str(data["corpus_digest"]),
                done=int(data["done"]),
                embeddings=data["embeddings"].astype(np.float32),
            )


class IndexCheckpoint(Protocol):
    """Where a build keeps its progress; the worker picks the storage (file, DB row, ...)."""

    def load(self) -> IndexState | None:
        """The last saved state, or None if nothing was saved yet."""
        ...

    def save(self, state: IndexState) -> None:
        """Persist ``state``, replacing the previous one; must be atomic to survive a crash."""
        ...


class InMemoryIndexCheckpoint:
    """Checkpoint kept in this process: survives a cancelled or failed job, not a restart."""

    def __init__(self) -> None:
        self._state: IndexState | None = None
        self._lock = threading.Lock()
        self.saves = 0

    def load(self) -> IndexState | None:
        with self._lock:
            return self._state

    def save(self, state: IndexState) -> None:
        with self._lock:
            self._state = state
            self.saves += 1


class FileIndexCheckpoint:
    """Checkpoint in one file, replaced atomically so a crash mid-write leaves the old state."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> IndexState | None:
        try:
            blob = self.path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            return IndexState.from_bytes(blob)
        except (ValueError, KeyError, zipfile.BadZipFile):
            # An unreadable checkpoint (e.g. from an older format) costs a clean restart,
            # never a job that fails on every retry.
            return None

    def save(self, state: IndexState) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "wb") as tmp:
                tmp.write(state.to_bytes())
                tmp.flush()
                os.fsync(tmp.fileno())
            Path(tmp_name).replace(self.path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
