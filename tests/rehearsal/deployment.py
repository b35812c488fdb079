"""What AWS starts from the consumer image: each ECS task's command and environment names.

Read from the deployment contract (infra/contract/components.json, which Terraform reads too)
when the checkout has it; else from the Terraform of the event-consumer module and the dev
environment, which is where the task definitions took them from before the contract."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import hcl2

REPO = Path(__file__).resolve().parents[2]
CONSUMER_MODULE = REPO / "infra" / "modules" / "event-consumer"
DEV_ENVIRONMENT = REPO / "infra" / "environments" / "dev" / "main.tf"
CONTRACT = REPO / "infra" / "contract" / "components.json"


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
    """One container started from the consumer image: its command, the environment names it
    is given, and those whose value the deployment fixes (KAFKA_SECURITY_MODE=msk-iam)."""

    command: list[str]
    environment: list[str]
    fixed_values: dict[str, str] = field(default_factory=dict)


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
    """Every component that runs the consumer image, by component name."""
    if CONTRACT.exists():
        components = json.loads(CONTRACT.read_text())["components"]
        return {
            name: EcsTask(
                list(spec["command"]),
                sorted(spec["environment"]),
                dict(spec.get("environment_values", {})),
            )
            for name, spec in components.items()
            if spec.get("image") == "consumer"
        }
    names = {_unquote(n) for n in dict(_dev_consumer()["environment"])}
    fixed = _module_environment()
    names |= set(fixed)
    literal = {n: v for n, v in fixed.items() if not str(v).startswith(("var.", "local."))}
    return {
        task: EcsTask(
            [_unquote(part) for part in _variable_default(variable)], sorted(names), literal
        )
        for task, variable in (("worker", "command"), ("topics", "topics_command"))
    }


def declared_consumer_group() -> str:
    """The worker's consumer group in the dev environment."""
    kafka_group = str(_unquote(_dev_consumer()["kafka"]["consumer_group"]))
    if kafka_group.startswith("${local."):  # the contract-era Terraform names it in a local
        locals_: dict[str, Any] = {}
        for block in _load(DEV_ENVIRONMENT)["locals"]:
            locals_.update(block)
        return str(_unquote(locals_[kafka_group.removeprefix("${local.").removesuffix("}")]))
    return kafka_group
