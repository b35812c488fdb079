"""What Terraform declares for the producer Lambda: its environment, runtime, timeout and routes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tests.infra import test_contract as contract
from tests.infra.toolchain import ENVIRONMENTS, MODULES

DEV = ENVIRONMENTS / "dev"


@dataclass(frozen=True)
class ProducerDeclaration:
    """The producer function as `infra/environments/dev` deploys it."""

    environment: dict[str, str]  # name -> Terraform expression, e.g. "${module.secrets.secret_arn}"
    runtime: str  # e.g. python3.11
    handler: str
    timeout_s: int
    memory_mb: int
    routes: dict[
        str, list[str]
    ]  # integration -> its route keys, e.g. {"producer": ["GET /healthz"]}
    tfvars: dict[str, str]

    @property
    def python_version(self) -> str:
        return self.runtime.removeprefix("python")


def _module_default(name: str) -> Any:
    variables = contract.labelled(MODULES / "lambda-function" / "variables.tf", "variable")
    return variables[name].get("default")


def _resolve(expression: Any) -> Any:
    """A literal, or a `${local.contract...}` reference resolved in the contract."""
    value = contract.unquote(expression)
    if isinstance(value, str) and (
        match := re.fullmatch(r"\$\{local\.contract\.([\w.]+)\}", value)
    ):
        resolved: Any = contract.contract()
        for part in match.group(1).split("."):
            resolved = resolved[part]
        return resolved
    return value


def producer_declaration() -> ProducerDeclaration:
    module = contract.dev_modules()["producer"]
    api = contract.dev_modules()["api"]
    routes = {
        contract.unquote(name): [str(key) for key in _resolve(integration["route_keys"])]
        for name, integration in api["integrations"].items()
    }
    tfvars = {
        key: str(contract.unquote(value))
        for key, value in contract.load(DEV / "terraform.tfvars").items()
    }
    assert module["environment"] == "${local.environment.producer}", module["environment"]
    return ProducerDeclaration(
        environment={k: str(v) for k, v in contract.provided_environment("producer").items()},
        runtime=str(_resolve(module.get("runtime", _module_default("runtime")))),
        handler=str(_resolve(module["handler"])),
        timeout_s=int(_resolve(module.get("timeout", _module_default("timeout")))),
        memory_mb=int(_resolve(module.get("memory_size", _module_default("memory_size")))),
        routes=routes,
        tfvars=tfvars,
    )
