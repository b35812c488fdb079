"""The OpenAPI document is committed and current, and the app serves exactly that document."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from dpp_producer.api.openapi import render
from dpp_producer.app import openapi_document
from tests.producer.conftest import AppFactory

COMMITTED = Path(__file__).parents[2] / "docs" / "openapi.json"


def test_committed_openapi_document_is_current() -> None:
    committed = COMMITTED.read_text()
    assert json.loads(committed) == openapi_document(), (
        "docs/openapi.json is out of date: run `dpp producer openapi`"
    )
    assert committed == render(openapi_document())


def test_served_document_is_the_committed_one(make_app: AppFactory) -> None:
    with TestClient(make_app()) as client:
        assert client.get("/openapi.json").json() == json.loads(COMMITTED.read_text())
