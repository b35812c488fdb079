"""Payload models of every event type. Published versions only ever gain optional fields."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

PersonaId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")]
Text = Annotated[str, Field(min_length=1, max_length=8000)]


class Payload(BaseModel):
    """Base of every payload: unknown fields are an error, so typos never pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DemoEchoRequestedV1(Payload):
    """Ask a worker to echo a message back: the walking skeleton and the no-op benchmark job."""

    session_id: str = Field(min_length=1, max_length=128)
    message: str = Field(min_length=1, max_length=4000)


class PersonaEmbeddingRequestedV1(Payload):
    """Embed a persona's texts with the sentence-embedding model."""

    persona_id: PersonaId
    document_id: str | None = Field(default=None, max_length=128)
    texts: list[Text] = Field(min_length=1, max_length=64)


class PersonaToneClassificationRequestedV1(Payload):
    """Classify the tone of a persona's texts (formal, casual, enthusiastic, negative)."""

    persona_id: PersonaId
    texts: list[Text] = Field(min_length=1, max_length=64)


class PersonaDocument(Payload):
    """One document of a persona's document set."""

    id: str = Field(min_length=1, max_length=128)
    text: Text


class PersonaIndexRebuildRequestedV1(Payload):
    """Rebuild the similarity index over a persona's whole document set (long-running)."""

    persona_id: PersonaId
    documents: list[PersonaDocument] = Field(min_length=1, max_length=5000)
    top_k: int = Field(default=5, ge=1, le=50)


class JobCompletedV1(Payload):
    """A job finished successfully; its result is in the job store and summarised here."""

    job_id: str
    job_type: str
    event_type: str
    attempts: int = Field(ge=1)
    duration_ms: float = Field(ge=0)
    completed_at: datetime
    result: dict[str, Any]


class JobFailedV1(Payload):
    """A job failed for good (dead-lettered) after `attempts` tries."""

    job_id: str
    job_type: str
    event_type: str
    attempts: int = Field(ge=1)
    error_type: str
    error: str
    failed_at: datetime
