"""The schema documents are valid: JSON Schema 2020-12 per payload, AsyncAPI 3.0 overall."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from dpp_shared.events import REGISTRY
from dpp_shared.schemas import ASYNCAPI_FILE, payload_json_schema
from tests.shared.factories import SAMPLE_DATA

# A dev dependency (root `[dependency-groups] dev`): skip rather than break collection for all.
jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is a dev dependency")

REPO_SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
# The official AsyncAPI 3.0.0 JSON Schema (npm @asyncapi/specs 6.11.1, Apache-2.0), bundled.
ASYNCAPI_META_SCHEMA = Path(__file__).parent / "fixtures" / "asyncapi-3.0.0.schema.json.gz"


def _asyncapi() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO_SCHEMAS / ASYNCAPI_FILE).read_text())
    return loaded


@pytest.mark.parametrize("type_name", REGISTRY.names())
def test_payload_schema_is_valid_and_agrees_with_the_model(type_name: str) -> None:
    schema = payload_json_schema(REGISTRY.get(type_name))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    good = SAMPLE_DATA[type_name]
    assert list(validator.iter_errors(good)) == []
    event_type = REGISTRY.get(type_name)
    assert schema["$id"] == event_type.dataschema
    assert schema["x-dpp"]["topic"] == event_type.topic
    assert event_type.key_field in schema["required"]
    assert not validator.is_valid({**good, "unexpected": 1})
    assert not validator.is_valid({k: v for k, v in good.items() if k != event_type.key_field})


def test_asyncapi_document_is_valid_against_the_official_3_0_schema() -> None:
    meta_schema = json.loads(gzip.decompress(ASYNCAPI_META_SCHEMA.read_bytes()))
    validator = jsonschema.Draft7Validator(meta_schema)
    document = _asyncapi()
    errors = [
        f"{list(e.absolute_path)}: {e.message[:200]}" for e in validator.iter_errors(document)
    ]
    assert errors == []
    broken = {**document, "channels": {"x": {"address": 5}}}
    assert not validator.is_valid(broken)  # the meta-schema really is checking
