"""The event-type registry: catalog contents, structured validation errors, registration rules."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from dpp_shared.errors import EventValidationError, FieldIssue, UnknownEventTypeError
from dpp_shared.events import REGISTRY, EventRegistry, EventType
from dpp_shared.topics import declared_topics
from tests.shared.factories import SAMPLE_DATA

CATALOG = [
    "demo.echo.requested.v1",
    "job.completed.v1",
    "job.failed.v1",
    "persona.embedding.requested.v1",
    "persona.index.rebuild.requested.v1",
    "persona.tone.classification.requested.v1",
]


def test_catalog_holds_the_ml_jobs_and_the_lifecycle_events() -> None:
    assert REGISTRY.names() == CATALOG
    assert [event_type.name for event_type in REGISTRY] == CATALOG
    assert set(SAMPLE_DATA) == set(CATALOG)


def test_every_type_is_versioned_routed_to_a_declared_topic_and_keyed_by_a_required_field() -> None:
    topics = {spec.name for spec in declared_topics()}
    for event_type in REGISTRY:
        assert event_type.name.rsplit(".", 1)[1].startswith("v")
        assert event_type.topic in topics
        assert event_type.payload.model_fields[event_type.key_field].is_required()
        assert event_type.scope.startswith("events:")
        assert event_type.dataschema == f"urn:dpp:schema:{event_type.name}"
        payload = REGISTRY.validate_payload(event_type.name, SAMPLE_DATA[event_type.name])
        assert event_type.key_of(payload) == SAMPLE_DATA[event_type.name][event_type.key_field]


def test_unknown_type_lists_the_known_types() -> None:
    with pytest.raises(UnknownEventTypeError) as caught:
        REGISTRY.get("persona.embeding.requested.v1")
    error = caught.value
    assert isinstance(error, EventValidationError)
    assert error.event_type == "persona.embeding.requested.v1"
    assert error.known_types == CATALOG
    assert error.issues == [
        FieldIssue("type", "unknown event type 'persona.embeding.requested.v1'")
    ]
    assert "type: unknown event type" in str(error)


def test_validation_issues_carry_field_paths_and_reasons() -> None:
    data = {
        "persona_id": "bad id with spaces",
        "documents": [{"id": "a", "text": ""}, {"id": "b"}],
        "top_k": 99,
        "colour": "red",
    }
    with pytest.raises(EventValidationError) as caught:
        REGISTRY.validate_payload("persona.index.rebuild.requested.v1", data)
    issues = {issue.path: issue.reason for issue in caught.value.issues}
    assert set(issues) == {
        "data.persona_id",
        "data.documents.0.text",
        "data.documents.1.text",
        "data.top_k",
        "data.colour",
    }
    assert "pattern" in issues["data.persona_id"]
    assert "at least 1 character" in issues["data.documents.0.text"]
    assert issues["data.documents.1.text"] == "Field required"
    assert "less than or equal to 50" in issues["data.top_k"]
    assert issues["data.colour"] == "Extra inputs are not permitted"
    assert caught.value.known_types == []
    assert caught.value.issues[0].as_dict().keys() == {"path", "reason"}


def test_registering_twice_or_with_a_missing_key_field_fails() -> None:
    class Thing(BaseModel):
        thing_id: str

    registry = EventRegistry()
    thing = EventType(
        "thing.happened.v1", Thing, "dpp.things", "thing_id", "events:thing", "A thing"
    )
    assert registry.register(thing) is thing
    assert "thing.happened.v1" in registry
    with pytest.raises(ValueError, match="registered twice"):
        registry.register(thing)
    with pytest.raises(ValueError, match="key field 'id' not in payload"):
        registry.register(
            EventType("thing.other.v1", Thing, "dpp.things", "id", "events:thing", "Another")
        )
