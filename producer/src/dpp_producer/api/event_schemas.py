"""The events routes' request schemas: one CloudEvents envelope per event type, whose `data` is
that type's payload schema, published as a `oneOf` discriminated by `type`.

A request that satisfies the document is then one the API accepts (the per-type payload checks
are in the document, not only in the code), which is what schemathesis' positive-data checks
hold the API to.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from dpp_shared.envelope import TRACEPARENT_PATTERN, EventEnvelope
from dpp_shared.events import REGISTRY, EventRegistry

COMPONENTS = "#/components/schemas/"


def _envelope_name(payload_name: str) -> str:
    return f"{payload_name}Event"


@cache
def event_components(registry: EventRegistry = REGISTRY) -> dict[str, dict[str, Any]]:
    """Schemas to add under components/schemas: every payload (and the models it nests) and
    every type's envelope."""
    components: dict[str, dict[str, Any]] = {}
    envelope = EventEnvelope.model_json_schema()
    for event_type in registry:
        payload = event_type.payload.model_json_schema(ref_template=COMPONENTS + "{model}")
        components.update(payload.pop("$defs", {}))
        components[event_type.payload.__name__] = payload
        typed = copy.deepcopy(envelope)
        properties = typed["properties"]
        properties["type"] = {
            "type": "string",
            "const": event_type.name,
            "description": event_type.description,
        }
        properties["data"] = {"$ref": COMPONENTS + event_type.payload.__name__}
        # The envelope checks this in a validator; say it in the schema too.
        properties["traceparent"]["anyOf"][0]["pattern"] = TRACEPARENT_PATTERN.pattern
        # The API names the caller as the source when an event has none (admission), so a
        # request without one is valid: the document must not claim otherwise.
        typed["required"] = [name for name in typed.get("required", []) if name != "source"]
        typed["title"] = f"{event_type.name} event"
        typed["description"] = f"A CloudEvents 1.0 event of type {event_type.name}."
        components[_envelope_name(event_type.payload.__name__)] = typed
    return components


@cache
def event_schema(registry: EventRegistry = REGISTRY) -> dict[str, Any]:
    """One event: the envelope of one of the known types, chosen by its `type`."""
    refs = {
        event_type.name: COMPONENTS + _envelope_name(event_type.payload.__name__)
        for event_type in registry
    }
    return {
        "oneOf": [{"$ref": ref} for ref in refs.values()],
        "discriminator": {"propertyName": "type", "mapping": refs},
    }
