"""BACKWARD compatibility of JSON Schemas: can a consumer on the new schema read old events?

This is the rule a schema registry applies in BACKWARD mode, reduced to the JSON Schema that
pydantic emits (objects, arrays, scalars, `anyOf` unions, `$ref` into `$defs`, enums and the
usual constraints). Anything that may reject an event the old schema accepted is reported.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Schema = Mapping[str, Any]

_UNION_KEYWORDS = ("anyOf", "oneOf")
# A new bound is incompatible when it is stricter than the old one (or newly present).
_LOWER_BOUNDS = ("minLength", "minItems", "minProperties", "minimum", "exclusiveMinimum")
_UPPER_BOUNDS = ("maxLength", "maxItems", "maxProperties", "maximum", "exclusiveMaximum")
_EQUAL_KEYWORDS = ("pattern", "format", "multipleOf")


@dataclass(frozen=True)
class Incompatibility:
    """One change that breaks readers of existing events: where, and what kind of change."""

    path: str
    kind: str  # removed-field | retyped-field | new-required-field | tightened | removed-type
    detail: str

    def __str__(self) -> str:
        return f"{self.path}: {self.kind}: {self.detail}"


def compare_schemas(old: Schema, new: Schema, path: str = "") -> list[Incompatibility]:
    """Every backward-incompatible difference between `old` and `new` (empty: compatible)."""
    return _Comparison(old, new).compare(old, new, path or "$")


class _Comparison:
    def __init__(self, old_root: Schema, new_root: Schema) -> None:
        self._old_root = old_root
        self._new_root = new_root
        self._in_progress: set[tuple[str, str]] = set()

    def compare(self, old: Schema, new: Schema, path: str) -> list[Incompatibility]:
        key = (str(old.get("$ref")), str(new.get("$ref")))
        if "$ref" not in old and "$ref" not in new:
            return self._compare_resolved(old, new, path)
        if key in self._in_progress:  # a recursive model met itself: its pair is being compared
            return []
        self._in_progress.add(key)
        try:
            return self._compare_resolved(
                _resolve(self._old_root, old), _resolve(self._new_root, new), path
            )
        finally:
            self._in_progress.discard(key)

    def _compare_resolved(self, old: Schema, new: Schema, path: str) -> list[Incompatibility]:
        old_branches = _branches(old)
        if len(old_branches) > 1:
            return [issue for b in old_branches for issue in self.compare(b, new, path)]
        new_branches = _branches(new)
        if len(new_branches) > 1:
            attempts = [self.compare(old, branch, path) for branch in new_branches]
            return min(attempts, key=len)  # accepted when any branch accepts every old value
        return self._compare_single(old, new, path)

    def _compare_single(self, old: Schema, new: Schema, path: str) -> list[Incompatibility]:
        if not _constrains(new):
            return []
        if not _constrains(old):  # old accepted any value; a constrained new one may not
            return [Incompatibility(path, "retyped-field", "was unconstrained, now constrained")]
        issues = self._compare_types(old, new, path)
        if issues:
            return issues
        issues.extend(_compare_values(old, new, path))
        issues.extend(_compare_bounds(old, new, path))
        types = _types(old) or set()
        if "object" in types or "properties" in old:
            issues.extend(self._compare_objects(old, new, path))
        if "array" in types or "items" in old:
            old_items, new_items = old.get("items", {}), new.get("items", {})
            if isinstance(old_items, Mapping) and isinstance(new_items, Mapping):
                issues.extend(self.compare(old_items, new_items, f"{path}[]"))
        return issues

    def _compare_types(self, old: Schema, new: Schema, path: str) -> list[Incompatibility]:
        old_types, new_types = _types(old), _types(new)
        if new_types is None:
            return []
        if old_types is None:
            return [Incompatibility(path, "retyped-field", f"any type -> {sorted(new_types)}")]
        widened = set(new_types)
        if "number" in widened:
            widened.add("integer")  # every integer is a number: integer -> number is widening
        lost = old_types - widened
        if lost:
            detail = f"{_type_text(old_types)} -> {_type_text(new_types)}"
            return [Incompatibility(path, "retyped-field", detail)]
        return []

    def _compare_objects(self, old: Schema, new: Schema, path: str) -> list[Incompatibility]:
        issues: list[Incompatibility] = []
        old_props: Mapping[str, Any] = old.get("properties", {})
        new_props: Mapping[str, Any] = new.get("properties", {})
        old_required = set(old.get("required", ()))
        new_required = set(new.get("required", ()))
        for name, old_field in old_props.items():
            field_path = f"{path}.{name}"
            if name not in new_props:
                issues.append(Incompatibility(field_path, "removed-field", "field was removed"))
                continue
            issues.extend(self.compare(old_field, new_props[name], field_path))
        for name in sorted(new_required - old_required):
            field_path = f"{path}.{name}"
            if name in old_props:
                detail = "optional field became required"
            else:
                detail = "new field is required and has no default"
            issues.append(Incompatibility(field_path, "new-required-field", detail))
        if (
            old.get("additionalProperties", True) is not False
            and new.get("additionalProperties", True) is False
        ):
            issues.append(
                Incompatibility(path, "tightened", "unknown fields were allowed, now rejected")
            )
        old_extra, new_extra = old.get("additionalProperties"), new.get("additionalProperties")
        if isinstance(old_extra, Mapping) and isinstance(new_extra, Mapping):
            issues.extend(self.compare(old_extra, new_extra, f"{path}.*"))
        return issues


def _resolve(root: Schema, schema: Schema) -> Schema:
    """Follow local `$ref`s (`#/$defs/X`, `#/definitions/X`); sibling keywords are kept."""
    hops = 0
    while "$ref" in schema and hops < 32:
        ref = str(schema["$ref"])
        target: Any = root
        for part in ref.removeprefix("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, Mapping) else {}
        siblings = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**target, **siblings}
        hops += 1
    return schema


def _branches(schema: Schema) -> list[Schema]:
    for keyword in _UNION_KEYWORDS:
        if keyword in schema:
            shared = {k: v for k, v in schema.items() if k not in (keyword, "default")}
            return [{**shared, **branch} for branch in schema[keyword]]
    return [schema]


def _types(schema: Schema) -> set[str] | None:
    if "type" in schema:
        declared = schema["type"]
        return {declared} if isinstance(declared, str) else set(declared)
    if "const" in schema:
        return {_json_type(schema["const"])}
    if "enum" in schema:
        return {_json_type(value) for value in schema["enum"]}
    return None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _type_text(types: set[str]) -> str:
    return "|".join(sorted(types))


def _constrains(schema: Schema) -> bool:
    ignored = {"title", "description", "default", "examples"}
    return any(not k.startswith("x-") and k not in ignored for k in schema)


def _compare_values(old: Schema, new: Schema, path: str) -> list[Incompatibility]:
    old_values = _allowed_values(old)
    new_values = _allowed_values(new)
    if new_values is None:
        return []
    if old_values is None:
        return [Incompatibility(path, "tightened", f"now limited to {new_values}")]
    dropped = [value for value in old_values if value not in new_values]
    if dropped:
        return [Incompatibility(path, "tightened", f"values no longer allowed: {dropped}")]
    return []


def _allowed_values(schema: Schema) -> list[Any] | None:
    if "const" in schema:
        return [schema["const"]]
    if "enum" in schema:
        return list(schema["enum"])
    return None


def _compare_bounds(old: Schema, new: Schema, path: str) -> list[Incompatibility]:
    issues: list[Incompatibility] = []
    for keyword in _LOWER_BOUNDS:
        if keyword in new and (keyword not in old or new[keyword] > old[keyword]):
            detail = f"{keyword} {old.get(keyword, 'none')} -> {new[keyword]}"
            issues.append(Incompatibility(path, "tightened", detail))
    for keyword in _UPPER_BOUNDS:
        if keyword in new and (keyword not in old or new[keyword] < old[keyword]):
            detail = f"{keyword} {old.get(keyword, 'none')} -> {new[keyword]}"
            issues.append(Incompatibility(path, "tightened", detail))
    for keyword in _EQUAL_KEYWORDS:
        if keyword in new and new.get(keyword) != old.get(keyword):
            detail = f"{keyword} {old.get(keyword, 'none')!r} -> {new[keyword]!r}"
            issues.append(Incompatibility(path, "tightened", detail))
    return issues
