"""What the ECS task definitions start, read from the Terraform: commands and environment."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import hcl2

REPO = Path(__file__).resolve().parents[2]
CONSUMER_MODULE = REPO / "infra" / "modules" / "event-consumer"
DEV_ENVIRONMENT = REPO / "infra" / "environments" / "dev" / "main.tf"


def _unquote(value: Any) -> Any:
    """python-hcl2 keeps the quotes of strings and of block labels."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


@cache
def _load(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        return dict(hcl2.load(handle))


def _labelled(blocks: list[dict[str, Any]], label: str) -> dict[str, Any]:
    for block in blocks:
        for key, body in block.items():
            if _unquote(key) == label:
                return dict(body)
    raise KeyError(label)


@dataclass(frozen=True)
class EcsTask:
    """One container of the consumer module: its command and the environment it is given."""

    command: list[str]
    environment: dict[str, str]  # name -> the Terraform expression (or literal) of its value


def _variable_default(name: str) -> Any:
    variables = _load(CONSUMER_MODULE / "variables.tf")["variable"]
    return _labelled(variables, name)["default"]


def _module_environment() -> dict[str, str]:
    """locals.base_environment: merge(var.environment, { NAME = expression, ... })."""
    locals_: dict[str, Any] = {}
    for block in _load(CONSUMER_MODULE / "main.tf")["locals"]:
        locals_.update(block)
    expression = str(locals_["base_environment"])
    literal = re.search(r"merge\(var\.environment,\s*\{(?P<body>[^}]*)\}\)", expression)
    assert literal, f"base_environment changed shape: {expression}"
    pairs = re.findall(r"(\w+)\s*=\s*([^,]+)", literal["body"])
    return {name: _unquote(value.strip()) for name, value in pairs}


def _dev_consumer() -> dict[str, Any]:
    return _labelled(_load(DEV_ENVIRONMENT)["module"], "consumer")


def consumer_tasks() -> dict[str, EcsTask]:
    """The worker and the one-off topics task as the dev environment declares them."""
    environment = {
        name: _unquote(value) for name, value in dict(_dev_consumer()["environment"]).items()
    }
    environment.update(_module_environment())
    return {
        "worker": EcsTask([_unquote(part) for part in _variable_default("command")], environment),
        "topics": EcsTask(
            [_unquote(part) for part in _variable_default("topics_command")], environment
        ),
    }


def declared_consumer_group() -> str:
    return str(_unquote(_dev_consumer()["kafka"]["consumer_group"]))
