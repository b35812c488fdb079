"""The committed schema documents: up to date, valid AsyncAPI 3.0 and JSON Schema, CLI behaviour."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from dpp_cli.main import app
from dpp_shared.events import REGISTRY
from dpp_shared.schemas import (
    ASYNCAPI_FILE,
    check_schemas,
    export_schemas,
    rendered_documents,
)
from dpp_shared.topics import declared_topics

REPO_SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def _asyncapi() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO_SCHEMAS / ASYNCAPI_FILE).read_text())
    return loaded


def test_committed_documents_are_up_to_date() -> None:
    expected = rendered_documents()
    committed = {
        str(path.relative_to(REPO_SCHEMAS)): path.read_text(encoding="utf-8")
        for path in REPO_SCHEMAS.rglob("*")
        if path.is_file()
    }
    stale = sorted(
        p for p in expected.keys() | committed.keys() if expected.get(p) != committed.get(p)
    )
    assert not stale, f"run `dpp schemas export` and commit: {stale}"


def test_one_json_schema_per_event_type() -> None:
    names = sorted(p.name.removesuffix(".json") for p in (REPO_SCHEMAS / "json").glob("*.json"))
    assert names == REGISTRY.names()


def _resolve(document: dict[str, Any], ref: str) -> Any:
    target: Any = document
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    return target


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def test_asyncapi_maps_topics_to_channels_and_types_to_messages() -> None:
    document = _asyncapi()
    refs = _refs(document)
    assert refs
    for ref in refs:
        assert ref.startswith("#/")
        _resolve(document, ref)  # KeyError if dangling
    channels = {c["address"]: c for c in document["channels"].values()}
    assert set(channels) == {spec.name for spec in declared_topics()}
    for event_type in REGISTRY:
        channel = channels[event_type.topic]
        assert channel["bindings"]["kafka"]["topic"] == event_type.topic
        message = _resolve(document, next(iter(channel["messages"].values()))["$ref"])
        names = [_resolve(document, m["$ref"])["name"] for m in channel["messages"].values()]
        assert event_type.name in names
        assert message["bindings"]["kafka"]["key"]["type"] == "string"
        headers = message["headers"]["properties"]
        assert {"ce_id", "ce_type", "ce_source", "ce_time", "traceparent"} <= headers.keys()
    sends = [op for op in document["operations"].values() if op["action"] == "send"]
    assert {_resolve(document, op["channel"]["$ref"])["address"] for op in sends} == {
        event_type.topic for event_type in REGISTRY
    }


def test_cli_check_passes_on_the_committed_schemas() -> None:
    result = CliRunner().invoke(app, ["schemas", "check", "--dir", str(REPO_SCHEMAS)])
    assert result.exit_code == 0, result.output
    assert "compatible and up to date" in result.output


def _copy_committed(tmp_path: Path) -> Path:
    target = tmp_path / "schemas"
    shutil.copytree(REPO_SCHEMAS, target)
    return target


def _publish_extra_field(directory: Path, type_name: str, field: str) -> None:
    """Pretend the published version had a field the current model lacks."""
    path = directory / "json" / f"{type_name}.json"
    schema = json.loads(path.read_text())
    schema["properties"][field] = {"type": "string"}
    path.write_text(json.dumps(schema))


def test_cli_check_fails_on_a_breaking_change(tmp_path: Path) -> None:
    directory = _copy_committed(tmp_path)
    _publish_extra_field(directory, "demo.echo.requested.v1", "locale")
    result = CliRunner().invoke(app, ["schemas", "check", "--dir", str(directory)])
    assert result.exit_code == 1
    assert "demo.echo.requested.v1.locale: removed-field" in result.output


def test_cli_check_fails_when_a_published_type_disappears(tmp_path: Path) -> None:
    directory = _copy_committed(tmp_path)
    (directory / "json" / "persona.gone.v1.json").write_text('{"type": "object"}')
    result = CliRunner().invoke(app, ["schemas", "check", "--dir", str(directory)])
    assert result.exit_code == 1
    assert "persona.gone.v1: removed-type" in result.output


def test_cli_check_fails_on_stale_but_compatible_documents(tmp_path: Path) -> None:
    directory = _copy_committed(tmp_path)
    (directory / "json" / "demo.echo.requested.v1.json").unlink()  # as if the type were new
    asyncapi = directory / ASYNCAPI_FILE
    asyncapi.write_text(asyncapi.read_text() + "# edited\n")
    check = check_schemas(directory)
    assert check.compatible
    assert check.new_types == ["demo.echo.requested.v1"]
    assert check.stale_files == [ASYNCAPI_FILE, "json/demo.echo.requested.v1.json"]
    result = CliRunner().invoke(app, ["schemas", "check", "--dir", str(directory)])
    assert result.exit_code == 1
    assert "out of date" in result.output


def test_export_writes_everything_then_check_passes(tmp_path: Path) -> None:
    directory = tmp_path / "fresh"
    result = CliRunner().invoke(app, ["schemas", "export", "--dir", str(directory)])
    assert result.exit_code == 0, result.output
    assert check_schemas(directory).up_to_date
    again = CliRunner().invoke(app, ["schemas", "export", "--dir", str(directory)])
    assert "already up to date" in again.output


def test_export_refuses_a_breaking_change_unless_forced(tmp_path: Path) -> None:
    directory = _copy_committed(tmp_path)
    _publish_extra_field(directory, "job.failed.v1", "host")
    before = (directory / "json" / "job.failed.v1.json").read_text()
    refused = CliRunner().invoke(app, ["schemas", "export", "--dir", str(directory)])
    assert refused.exit_code == 1
    assert (directory / "json" / "job.failed.v1.json").read_text() == before
    forced = export_schemas(directory, force=True)
    assert not forced.compatible
    assert check_schemas(directory).compatible
