"""The OpenAPI document: committed and current; schemathesis finds no 5xx and no schema break."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Ok

from dpp_producer.api.openapi import render
from dpp_producer.app import openapi_document
from tests.producer import factories
from tests.producer.conftest import AppFactory

COMMITTED = Path(__file__).parents[2] / "docs" / "openapi.json"
# Bounded so the whole run stays well under a minute (six operations).
MAX_EXAMPLES = 25


def test_committed_openapi_document_is_current() -> None:
    committed = COMMITTED.read_text()
    assert json.loads(committed) == openapi_document(), (
        "docs/openapi.json is out of date: run `dpp producer openapi`"
    )
    assert committed == render(openapi_document())


def test_served_document_is_the_committed_one(make_app: AppFactory) -> None:
    from fastapi.testclient import TestClient

    with TestClient(make_app()) as client:
        assert client.get("/openapi.json").json() == json.loads(COMMITTED.read_text())


@pytest.mark.slow
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_errors_and_responses_match_the_schema(
    make_app: AppFactory, mode: GenerationMode
) -> None:
    # schemathesis' pytest plugin does not load under pytest 9, so drive its strategies with
    # Hypothesis directly: every operation, the document's examples and generated cases.
    app = make_app()
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers = {"Authorization": f"Bearer {factories.token('events:*')}"}
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    statuses: Counter[int] = Counter()
    try:
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), f"invalid operation in the document: {result}"
            operation = result.ok()
            if (
                mode is GenerationMode.NEGATIVE
                and not operation.body
                and not operation.path_parameters
            ):
                continue  # nothing to make invalid
            strategies = [operation.as_strategy(generation_mode=mode)]
            if mode is GenerationMode.POSITIVE:
                strategies.extend(operation.get_strategies_from_examples())

            @given(case=st.one_of(strategies))
            @settings(
                max_examples=MAX_EXAMPLES,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def exercise(case: Any) -> None:
                response = case.call_and_validate(headers=headers, checks=checks)
                statuses[response.status_code] += 1

            exercise()
    finally:
        app.state.runtime.publisher.close(10.0)
    if mode is GenerationMode.POSITIVE:
        # The document's examples went all the way to the broker.
        assert statuses[202] >= 1 and statuses[207] >= 1, statuses
    else:
        assert statuses[422] + statuses[400] >= 1, statuses
