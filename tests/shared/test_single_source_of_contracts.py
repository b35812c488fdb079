"""Both services use the shared contracts: no model in them duplicates an event or envelope."""

from __future__ import annotations

import importlib
import inspect

from pydantic import BaseModel

from dpp_shared.envelope import EventEnvelope
from dpp_shared.events import REGISTRY
from tests.shared.test_configuration_docs import _walk


def _service_models() -> list[type[BaseModel]]:
    models: dict[str, type[BaseModel]] = {}
    for package_name in ("dpp_producer", "dpp_consumer"):
        for module in _walk(importlib.import_module(package_name)):
            for value in vars(module).values():
                if (
                    inspect.isclass(value)
                    and issubclass(value, BaseModel)
                    and value.__module__.split(".")[0] == package_name
                ):
                    models[f"{value.__module__}.{value.__qualname__}"] = value
    return list(models.values())


def test_no_service_model_redefines_a_payload_or_the_envelope() -> None:
    contracts = {event_type.payload for event_type in REGISTRY} | {EventEnvelope}
    # Two-field shapes are too common to mean anything (a job's result may echo its request).
    shapes = {
        frozenset(model.model_fields): model.__name__
        for model in contracts
        if len(model.model_fields) >= 3
    }
    envelope_core = {"specversion", "id", "source", "type", "data"}
    names = {model.__name__ for model in contracts}
    models = _service_models()
    assert models, "expected the services to define some models (responses, results...)"
    duplicates = [
        f"{model.__module__}.{model.__qualname__}"
        for model in models
        if model not in contracts
        and (
            model.__name__ in names
            or frozenset(model.model_fields) in shapes
            or envelope_core <= set(model.model_fields)
        )
    ]
    assert duplicates == [], "use the dpp_shared models instead of copies"
