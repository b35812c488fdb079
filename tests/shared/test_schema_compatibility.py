"""The BACKWARD compatibility checker on synthetic old/new schema pairs built from real models."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from dpp_shared.events import EventRegistry, EventType
from dpp_shared.schemas import compare_schemas, payload_json_schema
from dpp_shared.schemas.documents import compare_with_committed


class Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Part(Closed):
    id: str
    weight: float = 1.0


class OrderV1(Closed):
    order_id: str = Field(max_length=64)
    quantity: int = Field(ge=1)
    note: str | None = None
    parts: list[Part] = Field(default_factory=list)
    placed_at: datetime
    channel: Literal["web", "app"] = "web"


def _schema(model: type[BaseModel], name: str = "order.placed.v1") -> dict[str, Any]:
    return payload_json_schema(EventType(name, model, "dpp.orders", "order_id", "events:o", "d"))


def _kinds(old: type[BaseModel], new: type[BaseModel]) -> list[tuple[str, str]]:
    return [(issue.path, issue.kind) for issue in compare_schemas(_schema(old), _schema(new))]


def test_identical_schemas_are_compatible() -> None:
    assert _kinds(OrderV1, OrderV1) == []


def test_removed_field_is_incompatible() -> None:
    class NoNote(Closed):
        order_id: str = Field(max_length=64)
        quantity: int = Field(ge=1)
        parts: list[Part] = Field(default_factory=list)
        placed_at: datetime
        channel: Literal["web", "app"] = "web"

    assert _kinds(OrderV1, NoNote) == [("$.note", "removed-field")]


def test_retyped_field_is_incompatible() -> None:
    class QuantityText(Closed):
        order_id: str = Field(max_length=64)
        quantity: str
        note: str | None = None
        parts: list[Part] = Field(default_factory=list)
        placed_at: datetime
        channel: Literal["web", "app"] = "web"

    issues = compare_schemas(_schema(OrderV1), _schema(QuantityText))
    assert [(i.path, i.kind) for i in issues] == [("$.quantity", "retyped-field")]
    assert "integer -> string" in issues[0].detail


def test_retyped_nested_field_through_ref_is_incompatible() -> None:
    class PartV2(Closed):
        id: int
        weight: float = 1.0

    class NestedRetyped(Closed):
        order_id: str = Field(max_length=64)
        quantity: int = Field(ge=1)
        note: str | None = None
        parts: list[PartV2] = Field(default_factory=list)
        placed_at: datetime
        channel: Literal["web", "app"] = "web"

    assert _kinds(OrderV1, NestedRetyped) == [("$.parts[].id", "retyped-field")]


def test_new_required_field_without_default_is_incompatible() -> None:
    class WithCurrency(OrderV1):
        currency: str

    assert _kinds(OrderV1, WithCurrency) == [("$.currency", "new-required-field")]


def test_optional_field_made_required_is_incompatible() -> None:
    class NoteRequired(OrderV1):
        note: str | None

    assert _kinds(OrderV1, NoteRequired) == [("$.note", "new-required-field")]


def test_new_optional_field_is_compatible() -> None:
    class WithCurrency(OrderV1):
        currency: str = "EUR"
        coupon: str | None = None

    assert _kinds(OrderV1, WithCurrency) == []


def test_widening_is_compatible() -> None:
    class Wider(Closed):
        order_id: str = Field(max_length=128)  # longer allowed
        quantity: float = Field(ge=0)  # integer -> number, lower bound relaxed
        note: str | int | None = None  # union grew
        parts: list[Part] = Field(default_factory=list)
        placed_at: datetime
        channel: Literal["web", "app", "phone"] = "web"  # enum grew

    assert _kinds(OrderV1, Wider) == []


def test_tightened_constraints_are_incompatible() -> None:
    class Tighter(Closed):
        order_id: str = Field(max_length=32, pattern=r"^o-")
        quantity: int = Field(ge=2)
        note: str | None = None
        parts: list[Part] = Field(default_factory=list)
        placed_at: datetime
        channel: Literal["web"] = "web"

    assert sorted(_kinds(OrderV1, Tighter)) == [
        ("$.channel", "tightened"),
        ("$.order_id", "tightened"),
        ("$.order_id", "tightened"),
        ("$.quantity", "tightened"),
    ]


def test_narrowed_union_is_incompatible() -> None:
    class NoteNotNull(Closed):
        order_id: str = Field(max_length=64)
        quantity: int = Field(ge=1)
        note: str = ""
        parts: list[Part] = Field(default_factory=list)
        placed_at: datetime
        channel: Literal["web", "app"] = "web"

    assert _kinds(OrderV1, NoteNotNull) == [("$.note", "retyped-field")]


def test_new_event_type_is_compatible_and_a_removed_one_is_not() -> None:
    registry = EventRegistry()
    registry.register(EventType("order.placed.v1", OrderV1, "dpp.orders", "order_id", "s", "d"))
    committed = {"order.placed.v1": _schema(OrderV1)}
    assert compare_with_committed(committed, registry) == ([], [])

    registry.register(EventType("order.placed.v2", OrderV1, "dpp.orders", "order_id", "s", "d"))
    issues, new_types = compare_with_committed(committed, registry)
    assert issues == []
    assert new_types == ["order.placed.v2"]

    committed["order.cancelled.v1"] = _schema(OrderV1, "order.cancelled.v1")
    issues, _ = compare_with_committed(committed, registry)
    assert [(i.path, i.kind) for i in issues] == [("order.cancelled.v1", "removed-type")]


def test_issue_text_names_path_kind_and_detail() -> None:
    class WithCurrency(OrderV1):
        currency: str

    (issue,) = compare_schemas(_schema(OrderV1), _schema(WithCurrency), "order.placed.v1")
    assert str(issue) == (
        "order.placed.v1.currency: new-required-field: new field is required and has no default"
    )


class NodeV1(Closed):
    name: str
    children: list[NodeV1] = Field(default_factory=list)


class NodeV2(Closed):
    name: str
    weight: int
    children: list[NodeV2] = Field(default_factory=list)


def test_recursive_models_terminate_and_are_compared() -> None:
    assert compare_schemas(_schema_of(NodeV1), _schema_of(NodeV1)) == []
    issues = compare_schemas(_schema_of(NodeV1), _schema_of(NodeV2))
    assert [(i.path, i.kind) for i in issues] == [("$.weight", "new-required-field")]


def _schema_of(model: type[BaseModel]) -> dict[str, Any]:
    return payload_json_schema(EventType("tree.v1", model, "dpp.t", "name", "events:t", "tree"))
