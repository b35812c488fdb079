"""The similarity-index rebuild job: long-running, reports progress, and resumes from the
checkpoint kept in the job store when a worker dies midway."""

from __future__ import annotations

import base64
import time
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from dpp_consumer.context import JobContext
from dpp_consumer.errors import JobCancelledError
from dpp_consumer.jobs.registry import job
from dpp_shared.events.payloads import PersonaIndexRebuildRequestedV1

if TYPE_CHECKING:
    from dpp_consumer.ml.index_checkpoint import IndexState
    from dpp_consumer.ml.similarity_index import IndexProgress

CHECKPOINT_FORMAT = "index-state-npz-base64-v1"
# Each save rewrites the whole state (up to ~10 MB for 5000 documents): at most one per
# interval keeps the store's write volume modest, at the cost of redoing a few chunks on resume.
CHECKPOINT_MIN_INTERVAL_S = 2.0
# Neighbour lists travel in the result (job store and job.completed.v1, under Kafka's 1 MB
# record limit); larger indexes report a summary only.
MAX_NEIGHBOUR_LISTS = 500


class Neighbour(BaseModel):
    document_id: str
    score: float


class SimilarityIndexResult(BaseModel):
    persona_id: str
    model: str
    documents: int
    top_k: int
    resumed_from: int
    neighbours: dict[str, list[Neighbour]] | None


class JobStoreIndexCheckpoint:
    """`IndexCheckpoint` kept in the job's record, so any worker that picks the job up after a
    crash resumes where the last one stopped."""

    def __init__(
        self,
        ctx: JobContext[Any],
        total: int,
        min_interval_s: float = CHECKPOINT_MIN_INTERVAL_S,
    ):
        self._ctx = ctx
        self._total = max(total, 1)
        self._min_interval_s = min_interval_s
        self._last_save = float("-inf")

    def load(self) -> IndexState | None:
        from dpp_consumer.ml.index_checkpoint import IndexState  # noqa: PLC0415

        saved = self._ctx.load_checkpoint()
        if not saved or saved.get("format") != CHECKPOINT_FORMAT:
            return None
        return IndexState.from_bytes(base64.b64decode(saved["state"]))

    def save(self, state: IndexState) -> None:
        now = time.monotonic()
        if now - self._last_save < self._min_interval_s:
            return
        self._last_save = now
        encoded = base64.b64encode(state.to_bytes()).decode("ascii")
        # The progress goes in the same write: the throttled progress report after this chunk
        # may be skipped, and a checkpoint must never be ahead of what the job shows.
        self._ctx.save_checkpoint(
            {"format": CHECKPOINT_FORMAT, "done": state.done, "state": encoded},
            progress=state.done / self._total,
            message=f"{state.done}/{self._total} documents embedded",
        )


@job(
    "persona.index.rebuild.requested.v1",
    result=SimilarityIndexResult,
    job_type="similarity-index",
    timeout_s=3600.0,
)
def rebuild_similarity_index(
    ctx: JobContext[PersonaIndexRebuildRequestedV1],
) -> SimilarityIndexResult:
    from dpp_consumer.ml import errors as ml_errors  # noqa: PLC0415 - lazy model import
    from dpp_consumer.ml.minilm import MODEL_NAME  # noqa: PLC0415
    from dpp_consumer.ml.similarity_index import Document, build_similarity_index  # noqa: PLC0415

    documents = [Document(id=d.id, text=d.text) for d in ctx.payload.documents]

    def report(progress: IndexProgress) -> None:
        ctx.report_progress(
            progress.done / max(progress.total, 1),
            f"{progress.done}/{progress.total} documents embedded"
            + (f" (resumed from {progress.resumed_from})" if progress.resumed_from else ""),
        )

    resumed_from = 0

    def track(progress: IndexProgress) -> None:
        nonlocal resumed_from
        resumed_from = progress.resumed_from
        report(progress)

    try:
        index = build_similarity_index(
            documents,
            JobStoreIndexCheckpoint(ctx, total=len(documents)),
            progress=track,
            should_cancel=lambda: ctx.cancelled or ctx.remaining_s < 0,
            top_k=ctx.payload.top_k,
        )
    except ml_errors.BatchCancelledError as stopped:
        ctx.raise_if_cancelled()  # deadline passed: a retriable failure, the checkpoint stays
        raise JobCancelledError(str(stopped)) from stopped
    neighbours = None
    if len(documents) <= MAX_NEIGHBOUR_LISTS:
        neighbours = {
            document.id: [
                Neighbour(document_id=n.document_id, score=round(n.score, 6))
                for n in index.neighbours(document.id)
            ]
            for document in documents
        }
    return SimilarityIndexResult(
        persona_id=ctx.payload.persona_id,
        model=MODEL_NAME,
        documents=len(documents),
        top_k=ctx.payload.top_k,
        resumed_from=resumed_from,
        neighbours=neighbours,
    )
