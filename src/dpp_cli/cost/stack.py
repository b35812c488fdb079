"""Expand an environment (root module and its local modules) into resource instances."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dpp_cli.cost.errors import TerraformReadError
from dpp_cli.cost.terraform import (
    UNKNOWN,
    Block,
    Node,
    Scope,
    apply_type_defaults,
    read_dir,
    read_tfvars,
)

# Data sources whose answer only shapes counts: the region's first AZs (placeholder names).
KNOWN_DATA: dict[str, dict[str, Any]] = {
    "aws_availability_zones": {"names": ["az-a", "az-b", "az-c"]},
    "aws_region": {"region": "us-east-1", "name": "us-east-1"},
}


@dataclass
class Instance:
    """One resource instance, with the scope its attributes are evaluated in."""

    rtype: str
    name: str
    module: str  # module call label ("" for the root module)
    module_source: str  # module directory name ("" for the root module)
    key: Any
    block: Block
    scope: Scope
    count_known: bool

    @property
    def address(self) -> str:
        prefix = f"module.{self.module}." if self.module else ""
        suffix = "" if self.key is None else f"[{self.key!r}]"
        return f"{prefix}{self.rtype}.{self.name}{suffix}"

    def attr(self, *path: str, default: Any = None) -> Any:
        """Evaluated value of an attribute, or of an attribute of a nested block (first one)."""
        block = self.block
        for part in path[:-1]:
            nested = [b for b in block.blocks if b.kind == part]
            if not nested:
                return default
            block = nested[0]
        node = block.attributes.get(path[-1])
        if node is None:
            return default
        value = self.scope.eval(node)
        return default if value is None else value

    def block_count(self, kind: str) -> Any:
        """How many nested blocks of a kind, static ones plus expanded dynamic ones."""
        total = sum(1 for b in self.block.blocks if b.kind == kind)
        for dynamic in (b for b in self.block.blocks if b.kind == "dynamic"):
            if dynamic.labels == [kind]:
                items = self.scope.eval(dynamic.attributes["for_each"])
                if items is UNKNOWN:
                    return UNKNOWN
                total += len(items)
        return total


class _Opaque(Mapping[str, Any]):
    """A resource or data object: every attribute is known only after apply."""

    def __getitem__(self, key: str) -> Any:
        return UNKNOWN

    def __contains__(self, key: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


class _Lazy(Mapping[str, Any]):
    """A mapping whose values are computed on first access (module outputs, resource types)."""

    def __init__(self, names: list[str], compute: Any) -> None:
        self._names = names
        self._compute = compute
        self._cache: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        if key not in self._names:
            return UNKNOWN
        if key not in self._cache:
            self._cache[key] = UNKNOWN  # guards against reference cycles
            self._cache[key] = self._compute(key)
        return self._cache[key]

    def __contains__(self, key: object) -> bool:
        return key in self._names

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


def _variables(blocks: list[Block], given: dict[str, Any], where: str) -> dict[str, Any]:
    scope = Scope()
    values: dict[str, Any] = {}
    for block in (b for b in blocks if b.kind == "variable"):
        name = block.labels[0]
        if name in given:
            value = given[name]
        elif "default" in block.attributes:
            value = scope.eval(block.attributes["default"])
        else:
            raise TerraformReadError(f"{where}: variable {name} has no value and no default")
        values[name] = apply_type_defaults(value, block.attributes.get("type"), scope)
    return values


def _locals(blocks: list[Block]) -> dict[str, Node]:
    nodes: dict[str, Node] = {}
    for block in (b for b in blocks if b.kind == "locals"):
        nodes.update(block.attributes)
    return nodes


def _expand(block: Block, scope: Scope) -> list[tuple[Any, Scope, bool]]:
    """(key, scope, known) per instance of a resource or module block."""
    if "count" in block.attributes:
        count = scope.eval(block.attributes["count"])
        if count is UNKNOWN:
            return [(0, scope.child({"count": {"index": 0}}), False)]
        return [(i, scope.child({"count": {"index": i}}), True) for i in range(int(count))]
    if "for_each" in block.attributes:
        items = scope.eval(block.attributes["for_each"])
        if items is UNKNOWN:
            return [("?", scope.child({"each": {"key": UNKNOWN, "value": UNKNOWN}}), False)]
        pairs = items.items() if isinstance(items, dict) else ((i, i) for i in items)
        return [(k, scope.child({"each": {"key": k, "value": v}}), True) for k, v in pairs]
    return [(None, scope, True)]


class _Module:
    """One directory of .tf files evaluated with given variables: resources and outputs."""

    def __init__(self, directory: Path, blocks: list[Block], variables: dict[str, Any]) -> None:
        self.directory = directory
        self.blocks = blocks
        self.scope = Scope(variables, _locals(blocks))
        # path.module: file("${path.module}/../../contract/components.json") reads the contract.
        self.scope.roots["path"] = {"module": str(directory)}
        resource_types = sorted({b.labels[0] for b in blocks if b.kind == "resource"})
        self.scope.roots.update(
            {
                t: _Lazy(self._names_of(t), lambda n, t=t: self._reference(t, n))
                for t in resource_types
            }
        )
        data_types = sorted({b.labels[0] for b in blocks if b.kind == "data"})
        self.scope.roots["data"] = {
            t: {
                b.labels[1]: KNOWN_DATA.get(t) or _Opaque()
                for b in blocks
                if b.kind == "data" and b.labels[0] == t
            }
            for t in data_types
        }

    def _names_of(self, rtype: str) -> list[str]:
        return [b.labels[1] for b in self.blocks if b.kind == "resource" and b.labels[0] == rtype]

    def _reference(self, rtype: str, name: str) -> Any:
        block = next(b for b in self.blocks if b.kind == "resource" and b.labels == [rtype, name])
        if "count" not in block.attributes and "for_each" not in block.attributes:
            return _Opaque()
        expanded = _expand(block, self.scope)
        if not all(known for _, _, known in expanded):
            return UNKNOWN
        if "count" in block.attributes:
            return [_Opaque() for _ in expanded]
        return {str(key): _Opaque() for key, _, _ in expanded}

    def outputs(self) -> dict[str, Any]:
        nodes = {
            b.labels[0]: b.attributes["value"]
            for b in self.blocks
            if b.kind == "output" and "value" in b.attributes
        }
        return _Lazy(sorted(nodes), lambda n: self.scope.eval(nodes[n]))  # type: ignore[return-value]

    def instances(self, module: str, source: str) -> list[Instance]:
        found: list[Instance] = []
        for block in (b for b in self.blocks if b.kind == "resource"):
            rtype, name = block.labels
            for key, scope, known in _expand(block, self.scope):
                found.append(Instance(rtype, name, module, source, key, block, scope, known))
        return found


def load_environment(env_dir: Path) -> list[Instance]:
    """Every resource instance the environment declares, its modules expanded."""
    if not env_dir.is_dir():
        raise TerraformReadError(f"no Terraform environment at {env_dir}")
    root_blocks = read_dir(env_dir)
    tfvars = read_tfvars(env_dir / "terraform.tfvars")
    root = _Module(env_dir, root_blocks, _variables(root_blocks, tfvars, str(env_dir)))
    calls = {b.labels[0]: b for b in root_blocks if b.kind == "module"}
    loaded: dict[str, _Module] = {}

    def load(label: str) -> _Module:
        if label in loaded:
            return loaded[label]
        call = calls[label]
        source = root.scope.eval(call.attributes["source"])
        if not isinstance(source, str) or not source.startswith("."):
            raise TerraformReadError(f"module {label}: only local module sources are modelled")
        module_dir = (env_dir / source).resolve()
        given = {
            name: root.scope.eval(node)
            for name, node in call.attributes.items()
            if name not in ("source", "count", "for_each", "depends_on", "providers")
        }
        blocks = read_dir(module_dir)
        loaded[label] = _Module(module_dir, blocks, _variables(blocks, given, f"module {label}"))
        return loaded[label]

    root.scope.roots["module"] = _Lazy(sorted(calls), lambda label: load(label).outputs())
    instances = root.instances("", "")
    for label in sorted(calls):
        if "count" in calls[label].attributes or "for_each" in calls[label].attributes:
            raise TerraformReadError(f"module {label}: count/for_each on modules is not modelled")
        instances.extend(load(label).instances(label, load(label).directory.name))
    return instances
