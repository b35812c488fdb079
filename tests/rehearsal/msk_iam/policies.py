"""The producer's and worker's kafka-cluster:* IAM statements, rendered from the Terraform.

The policies are read where Terraform declares them (the dev environment's producer module
`policy_statements`, the event-consumer module's `aws_iam_policy_document.worker`) and their
action and resource expressions are evaluated by a small interpreter of the HCL expressions
they use (references, templates, `for` expressions, concat/flatten/replace/coalesce/...), with
the one value AWS assigns at apply time, the cluster's ARN, chosen by the test. A change to the
Terraform therefore changes what the stand-in broker allows."""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.infra import test_contract as terraform
from tests.infra.toolchain import MODULES

KAFKA_ACTION = "kafka-cluster:"
MSK_OUTPUTS = MODULES / "msk" / "outputs.tf"
MSK_MAIN = MODULES / "msk" / "main.tf"


class HclError(ValueError):
    """An expression outside the subset the policies use: fail rather than guess."""


def _unknown(path: list[str]) -> Any:
    raise HclError(f"unknown reference {'.'.join(path)}")


@dataclass
class Scope:
    """What names mean inside one module: locals, variables (already evaluated lazily by the
    calling module) and other modules' outputs."""

    locals_: dict[str, Any]
    variables: Callable[[list[str]], Any] = field(default=_unknown)
    modules: Callable[[list[str]], Any] = field(default=_unknown)
    cache: dict[str, Any] = field(default_factory=dict)

    def resolve(self, path: list[str]) -> Any:
        head, *rest = path
        if head == "local":
            name, *rest = rest
            if name not in self.cache:
                if name not in self.locals_:
                    _unknown(path)
                self.cache[name] = evaluate_raw(self.locals_[name], self)
            return _walk(self.cache[name], rest)
        if head == "var":
            return self.variables(rest)
        if head == "module":
            return self.modules(rest)
        return _unknown(path)


def _walk(value: Any, path: list[str]) -> Any:
    for part in path:
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def evaluate_raw(raw: Any, scope: Scope) -> Any:
    """A value as python-hcl2 returns it: `${expr}`, a quoted template, a list or an object."""
    if isinstance(raw, list):
        return [evaluate_raw(item, scope) for item in raw]
    if isinstance(raw, dict):
        return {
            terraform.unquote(k): evaluate_raw(v, scope)
            for k, v in raw.items()
            if k != "__is_block__"
        }
    if isinstance(raw, bool | int | float):
        return raw
    text = str(raw)
    if text.startswith('"'):
        return _Parser(text, scope).whole()
    if text.startswith("${") and text.endswith("}"):
        return _Parser(text[2:-1], scope).whole()
    raise HclError(f"not an expression: {text!r}")


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "concat": lambda *lists: [item for items in lists for item in items],
    "distinct": lambda items: list(dict.fromkeys(items)),
    "flatten": lambda items: [
        x for item in items for x in (item if isinstance(item, list) else [item])
    ],
    "replace": lambda text, old, new: str(text).replace(old, new),
    "coalesce": lambda *values: next(v for v in values if v not in (None, "")),
    "startswith": lambda text, prefix: str(text).startswith(prefix),
    "length": len,
    "setintersection": lambda first, *rest: sorted(set(first).intersection(*rest)),
    "setsubtract": lambda first, second: sorted(set(first) - set(second)),
    "setunion": lambda *sets: sorted(set().union(*sets)),
}  # fmt: skip


class _Parser:
    """Recursive descent over the HCL expression subset; evaluates as it parses (no AST)."""

    def __init__(self, text: str, scope: Scope, bindings: dict[str, Any] | None = None) -> None:
        self.text = text
        self.pos = 0
        self.scope = scope
        self.bindings = bindings or {}

    def whole(self) -> Any:
        value = self.expression()
        self._space()
        if self.pos != len(self.text):
            raise HclError(f"unparsed rest {self.text[self.pos :]!r} of {self.text!r}")
        return value

    def _space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def _peek(self, token: str) -> bool:
        self._space()
        return self.text.startswith(token, self.pos)

    def _take(self, token: str) -> bool:
        if self._peek(token):
            self.pos += len(token)
            return True
        return False

    def _expect(self, token: str) -> None:
        if not self._take(token):
            raise HclError(f"expected {token!r} at {self.text[self.pos :]!r}")

    def _identifier(self) -> str:
        self._space()
        match = re.compile(r"[A-Za-z_][\w-]*").match(self.text, self.pos)
        if not match:
            raise HclError(f"expected a name at {self.text[self.pos :]!r}")
        self.pos = match.end()
        return match.group()

    def expression(self) -> Any:
        condition = self._comparison()
        if self._take("?"):
            yes = self.expression()
            self._expect(":")
            no = self.expression()
            return yes if condition else no
        return condition

    def _comparison(self) -> Any:
        left = self._unary()
        comparisons: tuple[tuple[str, Callable[[Any, Any], Any]], ...] = (
            ("==", operator.eq),
            ("!=", operator.ne),
            (">", operator.gt),
        )
        for token, apply in comparisons:
            if self._take(token):
                return apply(left, self._unary())
        return left

    def _unary(self) -> Any:
        if self._peek("!") and not self._peek("!="):
            self.pos += 1
            return not self._unary()
        return self._primary()

    def _primary(self) -> Any:
        self._space()
        char = self.text[self.pos : self.pos + 1]
        if char == '"':
            return self._template()
        if char == "[":
            return self._list()
        if char == "(":
            self.pos += 1
            value = self.expression()
            self._expect(")")
            return value
        if char.isdigit():
            match = re.compile(r"\d+").match(self.text, self.pos)
            assert match
            self.pos = match.end()
            return int(match.group())
        name = self._identifier()
        if name in ("true", "false"):
            return name == "true"
        if self._take("("):
            args = [] if self._take(")") else self._arguments()
            if name not in _FUNCTIONS:
                raise HclError(f"function {name}() is not interpreted here")
            return _FUNCTIONS[name](*args)
        path = [name]
        while True:
            if self._take("."):
                path.append(self._identifier())
            elif self._peek("[") and path[0] not in self.bindings:
                self._expect("[")
                key = self.expression()
                self._expect("]")
                path.append(str(key))
            else:
                break
        if path[0] in self.bindings:
            return _walk(self.bindings[path[0]], path[1:])
        return self.scope.resolve(path)

    def _arguments(self) -> list[Any]:
        args = [self.expression()]
        while self._take(","):
            args.append(self.expression())
        self._expect(")")
        return args

    def _list(self) -> list[Any]:
        self._expect("[")
        if self._take("for "):
            return self._for()
        items: list[Any] = []
        while not self._take("]"):
            items.append(self.expression())
            self._take(",")
        return items

    def _for(self) -> list[Any]:
        """`[for x in LIST : BODY if COND]`: BODY and COND are re-read for every item."""
        variable = self._identifier()
        self._expect("in ")
        collection = self.expression()
        self._expect(":")
        start = self.pos
        results = []
        end = start
        for item in collection:
            inner = _Parser(self.text, self.scope, {**self.bindings, variable: item})
            inner.pos = start
            value = inner.expression()
            keep = True
            if inner._take("if "):
                keep = bool(inner.expression())
            inner._expect("]")
            end = inner.pos
            if keep:
                results.append(value)
        if not collection:
            raise HclError("a for expression over an empty list cannot be skipped here")
        self.pos = end
        return results

    def _template(self) -> str:
        self._expect('"')
        out: list[str] = []
        while True:
            if self.pos >= len(self.text):
                raise HclError(f"unterminated string in {self.text!r}")
            char = self.text[self.pos]
            if char == '"':
                self.pos += 1
                return "".join(out)
            if self.text.startswith("${", self.pos):
                self.pos += 2
                out.append(str(self.expression()))
                self._expect("}")
                continue
            if char == "\\":
                escaped = self.text[self.pos + 1]
                out.append({"n": "\n", "t": "\t"}.get(escaped, escaped))
                self.pos += 2
                continue
            out.append(char)
            self.pos += 1


# ---- the modules the policies are declared in ---------------------------------------------


def _msk_module(cluster_arn: str) -> Callable[[list[str]], Any]:
    """module.msk.<output>: the msk module's outputs, with the cluster's ARN the test's."""
    locals_ = {k: v for block in terraform.load(MSK_MAIN)["locals"] for k, v in block.items()} | {
        "cluster_arn": json.dumps(cluster_arn)
    }
    scope = Scope(locals_)
    outputs = terraform.labelled(MSK_OUTPUTS, "output")

    def output(path: list[str]) -> Any:
        name, *rest = path
        return _walk(evaluate_raw(outputs[name]["value"], scope), rest)

    return output


def _dev_scope(cluster_arn: str) -> Scope:
    locals_ = {
        k: v
        for block in terraform.load(terraform.DEV / "main.tf")["locals"]
        for k, v in block.items()
    }
    # local.contract is jsondecode(file(".../components.json")).components: the file itself.
    locals_["contract"] = terraform.contract()
    msk = _msk_module(cluster_arn)

    def module(path: list[str]) -> Any:
        if path[0] != "msk":
            raise HclError(f"module.{path[0]} is not interpreted here")
        return msk(path[1:])

    scope = Scope(locals_, modules=module)
    scope.cache["contract"] = terraform.contract()
    return scope


def _consumer_scope(dev: Scope) -> Scope:
    """The event-consumer module as the dev environment calls it (`module "consumer"`)."""
    call = terraform.dev_modules()["consumer"]
    locals_ = {
        k: v
        for block in terraform.load(terraform.CONSUMER / "main.tf")["locals"]
        for k, v in block.items()
    }

    def variable(path: list[str]) -> Any:
        name, *rest = path
        if name == "components":
            # merge(local.contract.worker, {environment = ...}): the contract's own entries.
            component, *inner = rest
            return _walk(terraform.contract()[terraform.ECS_KEYS[component]], inner)
        if name not in call:
            raise HclError(f"var.{name} is not given by the dev environment")
        # Only the attribute asked for is evaluated: var.kafka also holds bootstrap_servers,
        # which only an applied cluster knows.
        raw = call[name]
        while rest and isinstance(raw, dict):
            given = {terraform.unquote(k): v for k, v in raw.items()}
            attribute = rest.pop(0)
            if attribute not in given:
                return _walk(_optional_default(name, attribute), rest)
            raw = given[attribute]
        return _walk(evaluate_raw(raw, dev), rest)

    return Scope(locals_, variables=variable)


def _optional_default(variable: str, attribute: str) -> Any:
    """The default of `attribute = optional(type, default)` in the module's variable type."""
    variables = terraform.labelled(terraform.CONSUMER / "variables.tf", "variable")
    declared = str(variables[variable]["type"])
    match = re.search(
        rf"\b{re.escape(attribute)}\s*=\s*optional\(\s*\w+\s*,\s*(\"[^\"]*\")\s*\)", declared
    )
    if not match:
        raise HclError(f"var.{variable}.{attribute} is neither given nor optional with a default")
    return evaluate_raw(match.group(1), Scope({}))


def _statement(raw: dict[str, Any], scope: Scope, sid: str | None = None) -> dict[str, Any] | None:
    actions = sorted(terraform.evaluate(raw["actions"]))
    if not any(action.startswith(KAFKA_ACTION) for action in actions):
        return None  # not a Kafka statement (secrets, logs...): the broker never sees it
    resources = evaluate_raw(raw["resources"], scope)
    return {
        "Sid": sid or str(terraform.unquote(raw["sid"])),
        "Effect": "Allow",
        "Action": actions,
        "Resource": resources,
    }


def _policy(statements: list[dict[str, Any] | None]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [s for s in statements if s is not None]}


def producer_policy(cluster_arn: str) -> dict[str, Any]:
    """The producer Lambda role's kafka-cluster statements (dev environment, module.producer)."""
    dev = _dev_scope(cluster_arn)
    statements = terraform.dev_modules()["producer"]["policy_statements"]
    return _policy([_statement(body, dev, sid) for sid, body in statements.items()])


def worker_policy(cluster_arn: str) -> dict[str, Any]:
    """The worker task role's kafka-cluster statements (event-consumer, as dev configures it)."""
    return consumer_module_policy(cluster_arn, "worker")


def lag_publisher_policy(cluster_arn: str) -> dict[str, Any]:
    """The lag publisher task role's kafka-cluster statements (`dpp lag export --cloudwatch`)."""
    return consumer_module_policy(cluster_arn, "lag_publisher")


def topics_policy(cluster_arn: str) -> dict[str, Any]:
    """The topics task role's kafka-cluster statements (`dpp topics apply`)."""
    return consumer_module_policy(cluster_arn, "topics")


def consumer_module_policy(cluster_arn: str, document_name: str) -> dict[str, Any]:
    """The kafka-cluster statements of one `aws_iam_policy_document` of event-consumer."""
    consumer = _consumer_scope(_dev_scope(cluster_arn))
    document = terraform.module_blocks(terraform.CONSUMER, "data")[
        ("aws_iam_policy_document", document_name)
    ]
    statements: list[dict[str, Any] | None] = []
    for block in document.get("statement", []):
        statements.append(_statement(block, consumer))
    for dynamic in document.get("dynamic", []):
        for label, body in dynamic.items():
            if terraform.unquote(label) != "statement":
                continue
            for content in body["content"]:
                kafka = any(
                    a.startswith(KAFKA_ACTION) for a in terraform.evaluate(content["actions"])
                )
                if kafka and evaluate_raw(body["for_each"], consumer):
                    statements.append(_statement(content, consumer))
    return _policy(statements)


def without(policy: dict[str, Any], action: str) -> dict[str, Any]:
    """The same policy less one action: a role the authorizer must refuse."""
    statements = []
    for statement in policy["Statement"]:
        kept = [a for a in statement["Action"] if a != action]
        if kept:
            statements.append({**statement, "Action": kept})
    assert statements != policy["Statement"], f"{action} was not granted to begin with"
    return {**policy, "Statement": statements}
