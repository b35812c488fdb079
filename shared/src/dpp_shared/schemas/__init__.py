"""Event schemas as documents: JSON Schema per payload, AsyncAPI 3.0, and the compatibility check.

`dpp schemas export` writes them under `schemas/` at the repository root; `dpp schemas check`
compares the current contracts with those committed files the way a schema registry in
BACKWARD mode would, with no registry server.
"""

from dpp_shared.schemas.asyncapi import asyncapi_document
from dpp_shared.schemas.compatibility import Incompatibility, compare_schemas
from dpp_shared.schemas.documents import (
    ASYNCAPI_FILE,
    JSON_SCHEMA_DIR,
    SchemaCheck,
    check_schemas,
    export_schemas,
    payload_json_schema,
    rendered_documents,
)

__all__ = [
    "ASYNCAPI_FILE",
    "JSON_SCHEMA_DIR",
    "Incompatibility",
    "SchemaCheck",
    "asyncapi_document",
    "check_schemas",
    "compare_schemas",
    "export_schemas",
    "payload_json_schema",
    "rendered_documents",
]
