"""schemathesis over the OpenAPI document, against the real broker: no 5xx, no schema break."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.producer import factories
from tests.producer.conftest import AppFactory

# A dev dependency (root `[dependency-groups] dev`); skip with a clear reason where it is missing.
schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is a dev dependency")
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import CHECKS, load_all_checks  # noqa: E402
from schemathesis.core.result import Ok  # noqa: E402

# Bounded so the whole run stays well under a minute (six operations, two modes).
MAX_EXAMPLES = 25


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
    # `--checks all`: positive data must be accepted (the per-type payload schemas are in the
    # document), negative data refused, declared headers and statuses honoured.
    load_all_checks()
    checks = CHECKS.get_all()
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
                # The same cases every run: CI must not pass or fail by the draw. Explore new
                # seeds by hand with --hypothesis-seed (it found the `source` mismatch).
                derandomize=True,
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
