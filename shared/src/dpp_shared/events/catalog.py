"""The catalog of event types the platform publishes: the one place to add a type."""

from __future__ import annotations

from dpp_shared.events import payloads
from dpp_shared.events.registry import EventRegistry, EventType
from dpp_shared.topics import (
    BATCH_TOPIC,
    CLASSIFICATION_TOPIC,
    DEMO_TOPIC,
    EMBEDDING_TOPIC,
    RESULTS_TOPIC,
)

REGISTRY = EventRegistry()

DEMO_ECHO_REQUESTED = REGISTRY.register(
    EventType(
        name="demo.echo.requested.v1",
        payload=payloads.DemoEchoRequestedV1,
        topic=DEMO_TOPIC,
        key_field="session_id",
        scope="events:demo",
        description="Echo a message back; the walking skeleton and the no-op benchmark job.",
    )
)
PERSONA_EMBEDDING_REQUESTED = REGISTRY.register(
    EventType(
        name="persona.embedding.requested.v1",
        payload=payloads.PersonaEmbeddingRequestedV1,
        topic=EMBEDDING_TOPIC,
        key_field="persona_id",
        scope="events:persona.embedding",
        description="Embed a persona's texts with all-MiniLM-L6-v2.",
    )
)
PERSONA_TONE_CLASSIFICATION_REQUESTED = REGISTRY.register(
    EventType(
        name="persona.tone.classification.requested.v1",
        payload=payloads.PersonaToneClassificationRequestedV1,
        topic=CLASSIFICATION_TOPIC,
        key_field="persona_id",
        scope="events:persona.classification",
        description="Classify the tone of a persona's texts.",
    )
)
PERSONA_INDEX_REBUILD_REQUESTED = REGISTRY.register(
    EventType(
        name="persona.index.rebuild.requested.v1",
        payload=payloads.PersonaIndexRebuildRequestedV1,
        topic=BATCH_TOPIC,
        key_field="persona_id",
        scope="events:persona.batch",
        description="Rebuild a persona's similarity index over all its documents (long-running).",
        ordered=True,
    )
)
JOB_COMPLETED = REGISTRY.register(
    EventType(
        name="job.completed.v1",
        payload=payloads.JobCompletedV1,
        topic=RESULTS_TOPIC,
        key_field="job_id",
        scope="events:job.lifecycle",
        description="A job finished successfully (published by the workers).",
    )
)
JOB_FAILED = REGISTRY.register(
    EventType(
        name="job.failed.v1",
        payload=payloads.JobFailedV1,
        topic=RESULTS_TOPIC,
        key_field="job_id",
        scope="events:job.lifecycle",
        description="A job failed for good and was dead-lettered (published by the workers).",
    )
)
