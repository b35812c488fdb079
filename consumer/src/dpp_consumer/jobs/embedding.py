"""The embedding job: a persona's texts to unit-length MiniLM sentence embeddings."""

from __future__ import annotations

from pydantic import BaseModel

from dpp_consumer.context import JobContext
from dpp_consumer.jobs.registry import job
from dpp_shared.events.payloads import PersonaEmbeddingRequestedV1

# Six decimals keep cosine similarities exact to ~1e-6 and the result a third of full repr.
DECIMALS = 6


class EmbeddingResult(BaseModel):
    persona_id: str
    document_id: str | None
    model: str
    dimensions: int
    embeddings: list[list[float]]


@job(
    "persona.embedding.requested.v1",
    result=EmbeddingResult,
    job_type="embedding",
    timeout_s=300.0,
)
def embed_texts(ctx: JobContext[PersonaEmbeddingRequestedV1]) -> EmbeddingResult:
    # Imported here: numpy and the model load on the first job, not at worker start.
    from dpp_consumer.ml.embedding import embed  # noqa: PLC0415
    from dpp_consumer.ml.minilm import EMBEDDING_DIM, MODEL_NAME  # noqa: PLC0415

    vectors = embed(list(ctx.payload.texts))
    return EmbeddingResult(
        persona_id=ctx.payload.persona_id,
        document_id=ctx.payload.document_id,
        model=MODEL_NAME,
        dimensions=EMBEDDING_DIM,
        embeddings=vectors.round(DECIMALS).tolist(),
    )
