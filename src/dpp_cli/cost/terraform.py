"""Read an environment's Terraform (root and local modules) into resource instances with counts.

Terraform cannot plan here without credentials, so this evaluates the small expression subset the
project's configuration uses (literals, var/local references, conditionals, arithmetic, a few
functions, for-expressions and optional() type defaults) over python-hcl2's parse tree. Anything it
cannot know before apply (resource attributes, data sources, module outputs) is `UNKNOWN`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dpp_cli.cost.errors import TerraformReadError


class _Unknown:
    """A value only known after apply."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()
Node = Any  # lark Tree or Token: python-hcl2 ships no type information for them


def _parse(text: str, origin: str) -> Node:
    try:
        import hcl2  # noqa: PLC0415 - dev dependency, imported only when the cost model runs
    except ImportError as exc:  # pragma: no cover - the workspace always has it
        raise TerraformReadError("python-hcl2 is needed: uv sync --all-packages") from exc
    try:
        return hcl2.parses_to_tree(text)
    except Exception as exc:
        raise TerraformReadError(f"cannot parse {origin}: {exc}") from exc


def _data(node: Node) -> str:
    return str(getattr(node, "data", getattr(node, "type", "")))


def _kids(node: Node) -> list[Node]:
    """Children without punctuation tokens and comments."""
    return [
        c
        for c in getattr(node, "children", [])
        if hasattr(c, "data") and _data(c) != "new_line_or_comment"
    ]


def _token(node: Node) -> str:
    """Text of a leaf rule such as identifier, int_lit or binary_operator."""
    if not hasattr(node, "children"):
        return str(node)
    return "".join(_token(c) for c in node.children)


def _string_literal(node: Node) -> str:
    return "".join(_token(c) for c in node.children[1:-1])


@dataclass
class Block:
    """One block: its type, labels, attributes (unevaluated) and nested blocks."""

    kind: str
    labels: list[str]
    attributes: dict[str, Node] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)
    source: str = ""


def _read_body(body: Node, source: str) -> tuple[dict[str, Node], list[Block]]:
    attributes: dict[str, Node] = {}
    blocks: list[Block] = []
    for item in _kids(body):
        if _data(item) == "attribute":
            name_node, value = _kids(item)[0], _kids(item)[-1]
            attributes[_token(name_node)] = value
        elif _data(item) == "block":
            parts = _kids(item)
            kind = _token(parts[0])
            labels = [
                _string_literal(p) if _data(p) == "string" else _token(p) for p in parts[1:-1]
            ]
            inner_attrs, inner_blocks = _read_body(parts[-1], source)
            blocks.append(Block(kind, labels, inner_attrs, inner_blocks, source))
    return attributes, blocks


def read_dir(directory: Path) -> list[Block]:
    """Top-level blocks of every *.tf file of a directory (not recursive, like Terraform)."""
    found: list[Block] = []
    for path in sorted(directory.glob("*.tf")):
        tree = _parse(path.read_text(encoding="utf-8"), str(path))
        body = _kids(tree)[0]
        _, blocks = _read_body(body, str(path))
        found.extend(blocks)
    return found


def read_tfvars(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    tree = _parse(path.read_text(encoding="utf-8"), str(path))
    attributes, _ = _read_body(_kids(tree)[0], str(path))
    scope = Scope()
    return {name: scope.eval(node) for name, node in attributes.items()}


# ---- expression evaluation ---------------------------------------------------------------

_PRECEDENCE = {"||": 1, "&&": 2, "==": 3, "!=": 3, "<": 4, "<=": 4, ">": 4, ">=": 4}
_PRECEDENCE |= {"+": 5, "-": 5, "*": 6, "/": 6, "%": 6}


def _known(*values: Any) -> bool:
    return all(v is not UNKNOWN for v in values)


def _apply(op: str, left: Any, right: Any) -> Any:
    if op == "&&":
        if left is False or right is False:
            return False
        return UNKNOWN if not _known(left, right) else bool(left and right)
    if op == "||":
        if left is True or right is True:
            return True
        return UNKNOWN if not _known(left, right) else bool(left or right)
    if not _known(left, right):
        return UNKNOWN
    operations: dict[str, Callable[[Any, Any], Any]] = {
        "==": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
        "+": lambda a, b: a + b,
        "-": lambda a, b: a - b,
        "*": lambda a, b: a * b,
        "/": lambda a, b: a / b,
        "%": lambda a, b: a % b,
    }
    try:
        return operations[op](left, right)
    except TypeError:
        return UNKNOWN


def _fn_length(v: Any) -> Any:
    return UNKNOWN if v is UNKNOWN else len(v)


def _fn_slice(v: Any, start: Any, end: Any) -> Any:
    return UNKNOWN if not _known(v, start, end) else list(v)[int(start) : int(end)]


def _fn_coalesce(*values: Any) -> Any:
    for value in values:
        if value is UNKNOWN:
            return UNKNOWN
        if value not in (None, ""):
            return value
    return None


def _fn_concat(*lists: Any) -> Any:
    if not _known(*lists):
        return UNKNOWN
    return [item for sub in lists for item in sub]


def _fn_merge(*maps: Any) -> Any:
    if not _known(*maps):
        return UNKNOWN
    merged: dict[str, Any] = {}
    for m in maps:
        merged.update(m or {})
    return merged


def _fn_file(path: Any) -> Any:
    # Only files of the configuration itself (the deployment contract) are read, as plan would.
    if path is UNKNOWN:
        return UNKNOWN
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise TerraformReadError(f"file({path!r}): {exc}") from exc


def _fn_jsondecode(text: Any) -> Any:
    if text is UNKNOWN:
        return UNKNOWN
    try:
        return json.loads(text)
    except ValueError as exc:
        raise TerraformReadError(f"jsondecode: {exc}") from exc


def _numbers(fn: Callable[..., Any]) -> Callable[..., Any]:
    return lambda *a: fn(*a) if _known(*a) else UNKNOWN


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "length": _fn_length,
    "min": _numbers(min),
    "max": _numbers(max),
    "ceil": _numbers(math.ceil),
    "floor": _numbers(math.floor),
    "tostring": _numbers(str),
    "tonumber": _numbers(float),
    "toset": _numbers(lambda v: sorted(set(v), key=str)),
    "tolist": _numbers(list),
    "tomap": _numbers(dict),
    "keys": _numbers(sorted),
    "values": _numbers(lambda m: [m[k] for k in sorted(m)]),
    "distinct": _numbers(lambda v: list(dict.fromkeys(v))),
    "flatten": _numbers(
        lambda v: [x for sub in v for x in (sub if isinstance(sub, list) else [sub])]
    ),
    "slice": _fn_slice,
    "concat": _fn_concat,
    "merge": _fn_merge,
    "coalesce": _fn_coalesce,
    "file": _fn_file,
    "jsondecode": _fn_jsondecode,
    "contains": _numbers(lambda c, v: v in c),
    "try": lambda *a: next((x for x in a if x is not UNKNOWN), UNKNOWN),
    "can": lambda *a: UNKNOWN,
}


class Scope:
    """Values visible to an expression: var, local (lazy), and for-expression names."""

    def __init__(
        self,
        variables: Mapping[str, Any] | None = None,
        locals_: Mapping[str, Node] | None = None,
        names: Mapping[str, Any] | None = None,
        roots: Mapping[str, Any] | None = None,
    ) -> None:
        self.variables = dict(variables or {})
        # Other root names (module, data, resource types), resolved lazily by the stack loader.
        self.roots: dict[str, Any] = dict(roots or {})
        self._local_nodes = dict(locals_ or {})
        self._locals: dict[str, Any] = {}
        self._resolving: set[str] = set()
        self.names = dict(names or {})

    def child(self, names: Mapping[str, Any]) -> Scope:
        scope = Scope(self.variables, self._local_nodes, {**self.names, **names}, self.roots)
        scope._locals = self._locals
        scope._resolving = self._resolving
        return scope

    def local(self, name: str) -> Any:
        if name in self._locals:
            return self._locals[name]
        if name not in self._local_nodes or name in self._resolving:
            return UNKNOWN
        self._resolving.add(name)
        value = self.eval(self._local_nodes[name])
        self._resolving.discard(name)
        self._locals[name] = value
        return value

    def _root(self, name: str) -> Any:
        if name in self.names:
            return self.names[name]
        if name == "var":
            return self.variables
        if name == "local":
            return _LocalView(self)
        return self.roots.get(name, UNKNOWN)

    def eval(self, node: Node) -> Any:
        kind = _data(node)
        kids = _kids(node)
        if kind == "expr_term":
            return self.eval(kids[0]) if kids else UNKNOWN
        if kind == "int_lit":
            return int(_token(node))
        if kind == "float_lit":
            return float(_token(node))
        if kind == "literal_value":
            return {"true": True, "false": False, "null": None}.get(_token(node), UNKNOWN)
        if kind == "string":
            return self._string(node)
        if kind in ("heredoc_template", "heredoc_template_trim"):
            return _token(node)
        if kind in ("identifier", "keyword"):
            return self._root(_token(node))
        if kind == "tuple":
            return [self.eval(k) for k in kids]
        if kind == "object":
            return self._object(kids)
        if kind == "get_attr_expr_term":
            base = self.eval(kids[0])
            return _get(base, _token(_kids(kids[1])[0]))
        if kind == "index_expr_term":
            base = self.eval(kids[0])
            index = self.eval(_kids(kids[1])[0])
            return _get(base, index)
        if kind in ("full_splat_expr_term", "attr_splat_expr_term"):
            return UNKNOWN
        if kind == "conditional":
            test = self.eval(kids[0])
            if test is UNKNOWN:
                return UNKNOWN
            return self.eval(kids[1] if test else kids[2])
        if kind == "unary_op":
            value = self.eval(kids[0])
            op = _token(node.children[0])
            if value is UNKNOWN:
                return UNKNOWN
            return (not value) if op == "!" else -value
        if kind == "binary_op":
            return self._binary(node)
        if kind == "function_call":
            return self._call(kids)
        if kind == "for_tuple_expr":
            return self._for(kids, as_object=False)
        if kind == "for_object_expr":
            return self._for(kids, as_object=True)
        return UNKNOWN

    def _string(self, node: Node) -> Any:
        parts: list[str] = []
        for part in node.children[1:-1]:
            inner = _kids(part)
            if inner and _data(inner[0]) == "interpolation":
                value = self.eval(_kids(inner[0])[0])
                if value is UNKNOWN:
                    return UNKNOWN
                parts.append(str(value).lower() if isinstance(value, bool) else str(value))
            else:
                parts.append(_token(part))
        return "".join(parts)

    def _object(self, elements: list[Node]) -> Any:
        result: dict[str, Any] = {}
        for element in elements:
            key_node, value_node = _kids(element)[0], _kids(element)[-1]
            key_expr = _kids(key_node)[0]
            inner = _kids(key_expr)
            if _data(key_expr) == "expr_term" and inner and _data(inner[0]) == "identifier":
                key: Any = _token(inner[0])
            else:
                key = self.eval(key_expr)
            if key is UNKNOWN:
                return UNKNOWN
            result[str(key)] = self.eval(value_node)
        return result

    def _binary(self, node: Node) -> Any:
        # python-hcl2 nests chains to the right without precedence: flatten, then climb.
        operands: list[Any] = []
        operators: list[str] = []
        current = node
        while _data(current) == "binary_op":
            left, term = _kids(current)[0], _kids(current)[1]
            operands.append(self.eval(left))
            operator_node, right = _kids(term)[0], _kids(term)[-1]
            operators.append(_token(operator_node).strip())
            current = right
            while (
                _data(current) == "expr_term"
                and len(_kids(current)) == 1
                and len(current.children) == 1
                and _data(_kids(current)[0]) == "binary_op"
            ):
                current = _kids(current)[0]
        operands.append(self.eval(current))
        return _climb(operands, operators)

    def _call(self, kids: list[Node]) -> Any:
        name = _token(kids[0])
        arguments = [self.eval(a) for a in _kids(kids[1])] if len(kids) > 1 else []
        # f(list...) passes the list's elements as the arguments (merge([...]...)).
        if len(kids) > 1 and any(
            _token(c) == "..." for c in kids[1].children if not hasattr(c, "data")
        ):
            if not arguments or arguments[-1] is UNKNOWN:
                return UNKNOWN
            arguments = [*arguments[:-1], *arguments[-1]]
        function = FUNCTIONS.get(name)
        return UNKNOWN if function is None else function(*arguments)

    def _for(self, kids: list[Node], *, as_object: bool) -> Any:
        intro = _kids(kids[0])
        names = [_token(n) for n in intro if _data(n) == "identifier"]
        collection = self.eval(intro[-1])
        if collection is UNKNOWN:
            return UNKNOWN
        pairs = (
            list(collection.items())
            if isinstance(collection, dict)
            else list(enumerate(collection))
        )
        body = kids[1:]
        condition = body[-1] if body and _data(body[-1]) == "for_cond" else None
        results_obj: dict[str, Any] = {}
        results_list: list[Any] = []
        for key, value in pairs:
            bound = {names[0]: value} if len(names) == 1 else {names[0]: key, names[1]: value}
            scope = self.child(bound)
            if condition is not None:
                keep = scope.eval(_kids(condition)[0])
                if keep is UNKNOWN:
                    return UNKNOWN
                if not keep:
                    continue
            if as_object:
                k = scope.eval(body[0])
                if k is UNKNOWN:
                    return UNKNOWN
                results_obj[str(k)] = scope.eval(body[1])
            else:
                results_list.append(scope.eval(body[0]))
        return results_obj if as_object else results_list


class _LocalView(Mapping[str, Any]):
    def __init__(self, scope: Scope) -> None:
        self._scope = scope

    def __getitem__(self, key: str) -> Any:
        return self._scope.local(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._scope._local_nodes)

    def __len__(self) -> int:
        return len(self._scope._local_nodes)


def _get(base: Any, key: Any) -> Any:
    if base is UNKNOWN or key is UNKNOWN or base is None:
        return UNKNOWN
    if isinstance(base, Mapping):
        return base.get(key, UNKNOWN)
    if isinstance(base, list) and isinstance(key, int | float) and 0 <= int(key) < len(base):
        return base[int(key)]
    return UNKNOWN


def _climb(operands: list[Any], operators: list[str]) -> Any:
    values = list(operands)
    ops = list(operators)
    for level in sorted(set(_PRECEDENCE.values()), reverse=True):
        i = 0
        while i < len(ops):
            if _PRECEDENCE.get(ops[i]) == level:
                values[i : i + 2] = [_apply(ops[i], values[i], values[i + 1])]
                del ops[i]
            else:
                i += 1
    return values[0]


# ---- type defaults -----------------------------------------------------------------------


def apply_type_defaults(value: Any, type_node: Node | None, scope: Scope) -> Any:
    """Fill optional(T, default) attributes of object types, as Terraform does on input."""
    if type_node is None or value is UNKNOWN or value is None:
        return value
    node = type_node
    while _data(node) == "expr_term" and _kids(node):
        node = _kids(node)[0]
    if _data(node) != "function_call":
        return value
    parts = _kids(node)
    name = _token(parts[0])
    arguments = _kids(parts[1]) if len(parts) > 1 else []
    if name == "object" and isinstance(value, dict) and arguments:
        spec = arguments[0]
        while _data(spec) == "expr_term":
            spec = _kids(spec)[0]
        filled = dict(value)
        for element in _kids(spec):
            key = _token(_kids(_kids(_kids(element)[0])[0])[0]).strip('"')
            attr_type = _kids(element)[-1]
            inner_type, default = _optional(attr_type, scope)
            if filled.get(key) is None and default is not _NO_DEFAULT:
                filled[key] = default
            filled[key] = apply_type_defaults(filled.get(key), inner_type, scope)
        return filled
    if name in ("map", "list", "set") and arguments:
        if isinstance(value, dict):
            return {k: apply_type_defaults(v, arguments[0], scope) for k, v in value.items()}
        if isinstance(value, list):
            return [apply_type_defaults(v, arguments[0], scope) for v in value]
    return value


_NO_DEFAULT = object()


def _optional(type_node: Node, scope: Scope) -> tuple[Node, Any]:
    node = type_node
    while _data(node) == "expr_term" and _kids(node):
        node = _kids(node)[0]
    if _data(node) == "function_call" and _token(_kids(node)[0]) == "optional":
        arguments = _kids(_kids(node)[1])
        default = scope.eval(arguments[1]) if len(arguments) > 1 else None
        return arguments[0], default
    return type_node, _NO_DEFAULT
