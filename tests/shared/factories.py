"""Factories for valid events of every catalog type, shared by the contract tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from dpp_shared.envelope import EventEnvelope
from dpp_shared.events import REGISTRY

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

SAMPLE_DATA: dict[str, dict[str, Any]] = {
    "demo.echo.requested.v1": {"session_id": "s-1", "message": "hello"},
    "persona.embedding.requested.v1": {
        "persona_id": "p-1",
        "document_id": "d-1",
        "texts": ["I love hiking.", "Coffee first."],
    },
    "persona.tone.classification.requested.v1": {"persona_id": "p-2", "texts": ["Great news!"]},
    "persona.index.rebuild.requested.v1": {
        "persona_id": "p-3",
        "documents": [{"id": "a", "text": "alpha"}, {"id": "b", "text": "beta"}],
        "top_k": 3,
    },
    "job.completed.v1": {
        "job_id": "0190f2a4-0000-7000-8000-000000000001",
        "job_type": "embedding",
        "event_type": "persona.embedding.requested.v1",
        "attempts": 1,
        "duration_ms": 12.5,
        "completed_at": "2026-01-01T00:00:00Z",
        "result": {"dimensions": 384},
    },
    "job.failed.v1": {
        "job_id": "0190f2a4-0000-7000-8000-000000000002",
        "job_type": "classification",
        "event_type": "persona.tone.classification.requested.v1",
        "attempts": 4,
        "error_type": "ValueError",
        "error": "boom",
        "failed_at": "2026-01-01T00:00:00Z",
    },
}


def make_event(type_name: str, **attributes: Any) -> tuple[EventEnvelope, BaseModel]:
    """A valid envelope and validated payload of `type_name`; `attributes` override the envelope."""
    data = SAMPLE_DATA[type_name]
    payload = REGISTRY.validate_payload(type_name, data)
    fields: dict[str, Any] = {
        "source": "/tests/contracts",
        "type": type_name,
        "time": datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
        "data": payload.model_dump(mode="json"),
        **attributes,
    }
    return EventEnvelope(**fields), payload
