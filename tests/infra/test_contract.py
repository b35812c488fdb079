"""The deployment contract (infra/contract/components.json) against Terraform, OpenAPI and code."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.infra.toolchain import ENVIRONMENTS, INFRA, MODULES, REPO_ROOT

hcl2 = pytest.importorskip("hcl2", reason="python-hcl2 is a dev dependency of the infra tests")

CONTRACT_FILE = INFRA / "contract" / "components.json"
DEV = ENVIRONMENTS / "dev"
CONSUMER = MODULES / "event-consumer"
LAMBDA_COMPONENTS = ("producer", "backend")
ECS_COMPONENTS = ("worker", "topics", "lag-publisher")
# event-consumer's `components` keys are HCL identifiers; the contract's names may have hyphens.
ECS_KEYS = {"worker": "worker", "topics": "topics", "lag_publisher": "lag-publisher"}
# Names a component receives from the Terraform environment only after another module exists.
LATE = {"backend": {"DPP_EVENTS_FUNCTION": "${module.producer.alias_arn}"}}


@cache
def contract() -> dict[str, Any]:
    return dict(json.loads(CONTRACT_FILE.read_text(encoding="utf-8"))["components"])


def unquote(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


@cache
def load(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return dict(hcl2.load(handle))


def labelled(path: Path, kind: str) -> dict[str, Any]:
    return {unquote(k): v for entry in load(path).get(kind, []) for k, v in entry.items()}


def typed(path: Path, kind: str) -> dict[tuple[str, str], Any]:
    """resource/data blocks of a file by (type, name)."""
    found = {}
    for entry in load(path).get(kind, []):
        for rtype, named in entry.items():
            for name, body in named.items():
                found[(unquote(rtype), unquote(name))] = body
    return found


def module_blocks(module: Path, kind: str) -> dict[tuple[str, str], Any]:
    found: dict[tuple[str, str], Any] = {}
    for file in sorted(module.glob("*.tf")):
        found |= typed(file, kind)
    return found


def dev_locals() -> dict[str, Any]:
    return dict(load(DEV / "main.tf")["locals"][0])


def dev_modules() -> dict[str, Any]:
    return labelled(DEV / "main.tf", "module")


def consumer_locals() -> dict[str, Any]:
    return dict(load(CONSUMER / "main.tf")["locals"][0])


# ---- a small evaluator for the action expressions the policies use -------------------------


def _split_args(text: str) -> list[str]:
    args, depth, current = [], 0, ""
    for char in text:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        if char == "," and depth == 0:
            args.append(current.strip())
            current = ""
        else:
            current += char
    args.append(current.strip())
    return args


def _reference(path: str) -> Any:
    """Value of local.*, var.components.* in the contract's terms."""
    parts = re.findall(r'[A-Za-z_][\w-]*|\["[^"]+"\]', path)
    parts = [p[2:-2] if p.startswith('["') else p for p in parts]
    if parts[:2] == ["local", "contract"]:
        value: Any = contract()
        for part in parts[2:]:
            value = value[part]
        return value
    if parts[:2] == ["var", "components"]:
        value = contract()[ECS_KEYS[parts[2]]]
        for part in parts[3:]:
            value = value[part]
        return value
    if parts[0] == "local":
        scopes = (dev_locals(), consumer_locals())
        for scope in scopes:
            if parts[1] in scope:
                base = scope[parts[1]]
                rest = "".join(f".{p}" for p in parts[2:])
                if isinstance(base, list):
                    return [unquote(x) for x in base]
                inner = re.fullmatch(r"\$\{(.*)\}", base)
                assert inner, f"cannot follow {path}"
                return evaluate(inner.group(1) + rest)
    raise AssertionError(f"unknown reference {path}")


def evaluate(expression: Any) -> set[str]:
    """Set of strings an action expression of the policies yields, given the contract."""
    if isinstance(expression, list):
        return {unquote(x) for x in expression}
    text = expression.strip()
    whole = re.fullmatch(r"\$\{(.*)\}", text, re.S)
    if whole:
        text = whole.group(1).strip()
    call = re.fullmatch(r"(setintersection|setsubtract|concat|setunion)\((.*)\)", text, re.S)
    if call:
        parts = [evaluate(arg) for arg in _split_args(call.group(2))]
        if call.group(1) == "setintersection":
            return set.intersection(*parts)
        if call.group(1) == "setsubtract":
            return parts[0] - parts[1]
        return set.union(*parts)
    if text.startswith("["):
        return set(json.loads(text))
    return set(_reference(text))


def nested(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """Blocks `name` of a body, the contents of `dynamic "name"` blocks included."""
    found = list(body.get(name, []))
    for dynamic in body.get("dynamic", []):
        for label, block in dynamic.items():
            if unquote(label) == name:
                found.extend(block["content"])
    return found


def granted(statements: Any) -> set[str]:
    actions: set[str] = set()
    for statement in statements:
        actions |= evaluate(statement["actions"])
    return actions


# ---- the contract itself -------------------------------------------------------------------


def test_contract_declares_every_deployed_component() -> None:
    components = contract()
    assert set(components) == {*LAMBDA_COMPONENTS, *ECS_COMPONENTS}
    assert components["producer"]["handler"] == "dpp_producer.lambda_handler.handler"
    assert components["worker"]["command"] == ["dpp", "consumer", "run"]
    assert components["topics"]["command"] == ["dpp", "topics", "apply"]
    assert components["lag-publisher"]["command"] == ["dpp", "lag", "export", "--cloudwatch"]
    for name, spec in components.items():
        names = spec["environment"]
        assert len(names) == len(set(names)) and all(
            re.fullmatch(r"[A-Z][A-Z0-9_]*", n) for n in names
        )
        assert set(spec["environment_values"]) <= set(names), name
        assert set(spec["secrets"]) <= set(names), name
        if spec["kafka_actions"]:
            assert spec["environment_values"]["KAFKA_SECURITY_MODE"] == "msk-iam", name
            assert {"KAFKA_BOOTSTRAP_SERVERS", "DPP_ENV"} <= set(names), name
            assert "AWS_REGION" in names + spec["runtime_environment"], name
        for actions in spec["kafka_actions"].values():
            assert all(a.startswith("kafka-cluster:") for a in actions), name


def test_contract_handler_and_commands_exist_in_the_code() -> None:
    import typer

    from dpp_cli.main import app
    from dpp_producer import lambda_handler

    assert callable(lambda_handler.handler)
    # typer vendors its own click, so the command tree is walked by duck typing.
    root: Any = typer.main.get_command(app)
    assert hasattr(root, "commands")
    for name in ECS_COMPONENTS:
        command = contract()[name]["command"]
        assert command[0] == "dpp"
        node = root
        words = [w for w in command[1:] if not w.startswith("-")]
        for word in words:
            assert word in getattr(node, "commands", {}), (name, word)
            node = node.commands[word]
        options = {o for p in node.params for o in p.opts}
        flags = [w for w in command[1:] if w.startswith("-")]
        assert set(flags) <= options, (name, flags)


# Kafka operations the code performs, each with the component that performs it and the
# kafka-cluster action MSK IAM checks for it. The marker must still be in the code (so the table
# cannot rot) and the action must be in that component's contract.
KAFKA_OPERATIONS = [
    ('"enable.idempotence": True', ("producer", "worker"), "kafka-cluster:WriteDataIdempotently"),
    ('"transactional.id"', ("worker",), "kafka-cluster:DescribeTransactionalId"),
    ('"transactional.id"', ("worker",), "kafka-cluster:AlterTransactionalId"),
    ("send_offsets_to_transaction(", ("worker",), "kafka-cluster:AlterGroup"),
    (".create_topics(", ("topics",), "kafka-cluster:CreateTopic"),
    (".create_partitions(", ("topics",), "kafka-cluster:AlterTopic"),
    (".incremental_alter_configs(", ("topics",), "kafka-cluster:AlterTopicDynamicConfiguration"),
    (".describe_configs(", ("topics",), "kafka-cluster:DescribeTopicDynamicConfiguration"),
    (".describe_consumer_groups(", ("lag-publisher",), "kafka-cluster:DescribeGroup"),
    ("consumer.committed(", ("lag-publisher",), "kafka-cluster:DescribeGroup"),  # OffsetFetch
]


@cache
def python_sources() -> str:
    roots = [REPO_ROOT / "src", *REPO_ROOT.glob("*/src")]
    return "\n".join(
        path.read_text(encoding="utf-8")
        for root in roots
        for path in sorted(root.rglob("*.py"))
        if ".venv" not in path.parts
    )


@pytest.mark.parametrize(("marker", "components", "action"), KAFKA_OPERATIONS)
def test_every_kafka_operation_of_the_code_has_its_action_in_the_contract(
    marker: str, components: tuple[str, ...], action: str
) -> None:
    assert marker in python_sources(), f"the code no longer does {marker}: update the table"
    for name in components:
        declared = {a for actions in contract()[name]["kafka_actions"].values() for a in actions}
        assert action in declared, f"{name} does {marker} but its contract lacks {action}"


# ---- environment: every name a component needs outside the sandbox is given --------------


def provided_environment(component: str) -> dict[str, Any]:
    """The environment Terraform gives a component: contract names mapped through the locals."""
    values = dev_locals()["environment_values"]
    late = {unquote(n) for n in dev_locals()["late_environment"]}
    spec = contract()[component]
    environment = {n: values[n] for n in spec["environment"] if n in values and n not in late}
    environment |= {n: f'"{v}"' for n, v in spec["environment_values"].items()}
    return environment


def test_the_environment_local_maps_every_contract_name() -> None:
    environment = dev_locals()["environment"]
    # The expression every component's environment goes through: contract names -> values.
    assert "for component, spec in local.contract" in environment
    assert "local.environment_values[name]" in environment
    assert "spec.environment_values" in environment


@pytest.mark.parametrize("component", [*LAMBDA_COMPONENTS, *ECS_COMPONENTS])
def test_every_setting_a_component_requires_is_given_by_terraform(component: str) -> None:
    spec = contract()[component]
    provided = provided_environment(component) | LATE.get(component, {})
    missing = set(spec["environment"]) - set(provided)
    assert not missing, (
        f"{component} needs {sorted(missing)} outside the sandbox; Terraform gives none"
    )
    # The environment is deployed, never the sandbox: DPP_ENV is the environment's name, which
    # may only be dev/staging/prod.
    if "DPP_ENV" in spec["environment"]:
        assert provided["DPP_ENV"] == "${var.environment}"
        variables = labelled(DEV / "variables.tf", "variable")
        allowed = re.findall(r'"(\w+)"', str(variables["environment"]["validation"]))
        assert "sandbox" not in allowed and "test" not in allowed
    for name, value in spec["environment_values"].items():
        assert unquote(provided[name]) == value, name


def test_lambda_modules_are_given_the_component_environment() -> None:
    modules = dev_modules()
    assert modules["producer"]["environment"] == "${local.environment.producer}"
    backend = modules["backend"]["environment"]
    assert backend.startswith("${merge(local.environment.backend, {")
    for name, value in LATE["backend"].items():
        assert f"{name} = {value[2:-1]}" in backend
    for name in LAMBDA_COMPONENTS:
        assert modules[name]["handler"] == f"${{local.contract.{name}.handler}}"
        assert unquote(modules[name]["source"]) == "../../modules/lambda-function"
    variables = labelled(MODULES / "lambda-function" / "variables.tf", "variable")
    assert "map(string)" in variables["environment"]["type"]
    main = (MODULES / "lambda-function" / "main.tf").read_text(encoding="utf-8")
    assert "variables = var.environment" in main


def test_ecs_tasks_are_given_the_component_environment_and_command() -> None:
    components = dev_modules()["consumer"]["components"]
    for key, name in ECS_KEYS.items():
        ref = f'local.contract["{name}"]' if "-" in name else f"local.contract.{name}"
        env = f'local.environment["{name}"]' if "-" in name else f"local.environment.{name}"
        assert components[key] == f"${{merge({ref}, {{environment = {env}}})}}", key
    definitions = module_blocks(CONSUMER, "resource")
    for key, resource in (
        ("worker", "worker"),
        ("topics", "topics"),
        ("lag_publisher", "lag_publisher"),
    ):
        body = str(definitions[("aws_ecs_task_definition", resource)]["container_definitions"])
        assert f"var.components.{key}.command" in body, key
        assert f"local.container_environment.{key}" in body, key


@pytest.mark.parametrize("component", [*LAMBDA_COMPONENTS, "worker"])
def test_every_secret_a_component_reads_is_granted(component: str) -> None:
    """DATABASE_SECRET_ARN / JWT_SECRET_ARN are useless without GetSecretValue on them."""
    spec = contract()[component]
    values = provided_environment(component)
    if component == "worker":
        granted_arns = dev_modules()["consumer"]["secret_arns"]
        worker_policy = module_blocks(CONSUMER, "data")[("aws_iam_policy_document", "worker")]
        assert "secretsmanager:GetSecretValue" in str(worker_policy)
    else:
        granted_arns = dev_modules()[component]["secret_arns"]
        iam = (MODULES / "lambda-function" / "iam.tf").read_text(encoding="utf-8")
        assert '"secretsmanager:GetSecretValue"' in iam and "resources = var.secret_arns" in iam
    for name in spec["secrets"]:
        assert values[name] in granted_arns, f"{component} gets {name} but may not read it"


# ---- routes: every OpenAPI path reaches the producer ---------------------------------------


def route_keys() -> dict[str, str]:
    """Route key -> integration, read from the API module call (through the contract)."""
    routes: dict[str, str] = {}
    for integration, body in dev_modules()["api"]["integrations"].items():
        keys = body["route_keys"]
        if isinstance(keys, str):
            match = re.fullmatch(r"\$\{local\.contract\.(\w+)\.routes\}", keys)
            assert match, f"{integration}: route keys {keys} are not the contract's"
            assert match.group(1) == integration
            keys = contract()[integration]["routes"]
        for key in keys:
            assert unquote(key) not in routes, f"duplicate route key {key}"
            routes[unquote(key)] = integration
    return routes


def _segment_rank(pattern: str, segment: str) -> int | None:
    if pattern.endswith("+}"):
        return None
    if pattern.startswith("{") and pattern.endswith("}"):
        return 1 if segment else None
    return 2 if pattern == segment else None


def match_route(method: str, path: str, routes: dict[str, str]) -> str | None:
    """API Gateway v2 selection: most specific path (literal > {param} > {proxy+}), then method."""
    best: tuple[tuple[int, ...], str] | None = None
    segments = path.strip("/").split("/")
    for key in routes:
        key_method, key_path = key.split(" ", 1)
        if key_method not in (method, "ANY"):
            continue
        patterns = key_path.strip("/").split("/")
        ranks: list[int] = []
        for i, pattern in enumerate(patterns):
            if pattern.endswith("+}"):
                if i < len(segments):
                    ranks.append(0)
                break
            if i >= len(segments):
                ranks = []
                break
            rank = _segment_rank(pattern, segments[i])
            if rank is None:
                ranks = []
                break
            ranks.append(rank)
        else:
            if len(patterns) != len(segments):
                ranks = []
        if not ranks:
            continue
        score = (*ranks, 1 if key_method == method else 0)
        if best is None or score > best[0]:
            best = (score, key)
    return best[1] if best else None


@cache
def openapi_operations() -> list[tuple[str, str]]:
    document = json.loads((REPO_ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))
    return [
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def test_openapi_document_is_read() -> None:
    assert ("POST", "/v1/events") in openapi_operations()
    assert len(openapi_operations()) >= 6


@pytest.mark.parametrize(("method", "path"), openapi_operations(), ids=str)
def test_every_openapi_path_has_a_producer_route_key(method: str, path: str) -> None:
    routes = route_keys()
    concrete = re.sub(r"\{[^}]+\}", "0f8c2a9e", path)
    key = match_route(method, concrete, routes)
    assert key is not None, f"{method} {path} has no route key"
    assert routes[key] == "producer", f"{method} {path} reaches {routes[key]} via {key}"


def test_route_matcher_prefers_the_most_specific_route() -> None:
    routes = {"ANY /{proxy+}": "backend", "POST /v1/events": "producer", "GET /a/{id}": "x"}
    assert match_route("POST", "/v1/events", routes) == "POST /v1/events"
    assert match_route("GET", "/v1/events", routes) == "ANY /{proxy+}"
    assert match_route("GET", "/a/1", routes) == "GET /a/{id}"
    assert match_route("GET", "/a/1/2", routes) == "ANY /{proxy+}"


def test_the_guides_health_check_reaches_the_backend() -> None:
    routes = route_keys()
    key = match_route("GET", "/health", routes)
    assert key == "GET /health" and routes[key] == "backend"


# ---- IAM: every contract kafka-cluster action is in the role's policy --------------------


def test_producer_role_grants_every_contract_kafka_action() -> None:
    statements = dev_modules()["producer"]["policy_statements"]
    assert dev_locals()["producer_kafka"] == "${local.contract.producer.kafka_actions}"
    declared = {a for actions in contract()["producer"]["kafka_actions"].values() for a in actions}
    missing = declared - granted(statements.values())
    assert not missing, f"producer role lacks {sorted(missing)}"
    iam = (MODULES / "lambda-function" / "iam.tf").read_text(encoding="utf-8")
    assert "for_each = var.policy_statements" in iam


@pytest.mark.parametrize(
    ("document", "component"),
    [("worker", "worker"), ("topics", "topics"), ("lag_publisher", "lag-publisher")],
)
def test_ecs_roles_grant_every_contract_kafka_action(document: str, component: str) -> None:
    policy = module_blocks(CONSUMER, "data")[("aws_iam_policy_document", document)]
    statements = nested(policy, "statement")
    declared = {a for actions in contract()[component]["kafka_actions"].values() for a in actions}
    missing = declared - granted(statements)
    assert not missing, f"{component} role lacks {sorted(missing)}"


def test_policy_evaluator_sees_a_missing_action() -> None:
    """Guard: the evaluator must not grant what a statement does not list."""
    statements = [{"actions": ["kafka-cluster:Connect"]}]
    assert "kafka-cluster:WriteData" not in granted(statements)
    reduced = [{"actions": '${setsubtract(local.worker_kafka.topic, ["kafka-cluster:ReadData"])}'}]
    assert "kafka-cluster:ReadData" not in granted(reduced)
    assert "kafka-cluster:WriteData" in granted(reduced)


# ---- metrics: what the lag-publisher puts is what the scaling policy and alarms read -------


def lag_metrics() -> dict[str, Any]:
    return dict(contract()["lag-publisher"]["metrics"])


def test_lag_publisher_service_runs_and_may_put_its_metrics() -> None:
    resources = module_blocks(CONSUMER, "resource")
    service = resources[("aws_ecs_service", "lag_publisher")]
    assert service["desired_count"] == 1
    assert service["task_definition"] == "${aws_ecs_task_definition.lag_publisher.arn}"
    policy = module_blocks(CONSUMER, "data")[("aws_iam_policy_document", "lag_publisher")]
    put = [
        s for s in nested(policy, "statement") if "cloudwatch:PutMetricData" in str(s["actions"])
    ]
    assert len(put) == 1
    condition = put[0]["condition"][0]
    assert unquote(condition["variable"]) == "cloudwatch:namespace"
    assert condition["values"] == ["${local.metrics.namespace}"]
    assert consumer_locals()["metrics"] == "${var.components.lag_publisher.metrics}"


def test_the_code_puts_the_contract_metrics() -> None:
    """The lag exporter emits the contract's namespace, metric names and dimension names."""
    sources = python_sources()
    assert f'"{lag_metrics()["namespace"]}"' in sources
    for name, metric in lag_metrics()["metrics"].items():
        assert f'"{name}"' in sources, f"no code puts {name}"
        for dimension in metric["dimensions"]:
            assert f'"{dimension}"' in sources, dimension


def test_scaling_policy_reads_the_contract_metrics() -> None:
    policy = module_blocks(CONSUMER, "resource")[("aws_appautoscaling_policy", "this")]
    spec = policy["target_tracking_scaling_policy_configuration"][0][
        "customized_metric_specification"
    ][0]
    text = json.dumps(spec)
    assert "var.autoscaling.metric_namespace" not in text
    locals_ = consumer_locals()
    names = {unquote(locals_["lag_metric"]), unquote(locals_["worker_metric"])}
    assert names == {"ConsumerLagMessages", "WorkerCount"}
    assert names <= set(lag_metrics()["metrics"])
    assert text.count("local.metrics.namespace") == 2
    # Dimensions are the contract's: one block per contract dimension name.
    for metric in ("lag_metric", "worker_metric"):
        assert f"local.metrics.metrics[local.{metric}].dimensions" in text
    assert set(locals_["dimension_values"]) | {"Topic"} == {
        d for m in lag_metrics()["metrics"].values() for d in m["dimensions"]
    }


def test_alarms_read_the_contract_metrics() -> None:
    consumer = dev_modules()["monitoring"]["consumer"]
    assert consumer["namespace"] == '${local.contract["lag-publisher"].metrics.namespace}'
    declared = lag_metrics()["metrics"]
    alarms = {
        name: body
        for (rtype, name), body in typed(MODULES / "monitoring" / "main.tf", "resource").items()
        if rtype == "aws_cloudwatch_metric_alarm"
    }
    read = []
    for body in alarms.values():
        queries = nested(body, "metric_query")
        metrics = [body] + [q["metric"][0] for q in queries if "metric" in q]
        for metric in metrics:
            if metric.get("namespace") != "${var.consumer.namespace}":
                continue
            name = unquote(metric["metric_name"])
            dimensions = metric["dimensions"]
            read.append(name)
            assert name in declared, f"an alarm reads {name}, which the lag-publisher never puts"
            assert sorted(dimensions) == sorted(declared[name]["dimensions"]), name
    assert {"ConsumerLagMessages", "ConsumerLagSeconds", "DeadLetters"} <= set(read)


# ---- alarm delivery and the backend -> producer path -------------------------------------


def test_alarm_topic_uses_a_key_cloudwatch_may_use() -> None:
    resources = typed(MODULES / "monitoring" / "main.tf", "resource")
    topic = resources[("aws_sns_topic", "this")]
    assert topic["kms_master_key_id"] == "${aws_kms_key.this.arn}"
    key = resources[("aws_kms_key", "this")]
    assert key["enable_key_rotation"] is True
    policy = typed(MODULES / "monitoring" / "main.tf", "data")[
        ("aws_iam_policy_document", "alarm_key")
    ]
    cloudwatch = [
        s for s in policy["statement"] if "cloudwatch.amazonaws.com" in str(s.get("principals", ""))
    ]
    assert cloudwatch, "the key policy does not admit cloudwatch.amazonaws.com"
    actions = {unquote(a) for a in cloudwatch[0]["actions"]}
    assert {"kms:Decrypt", "kms:GenerateDataKey*"} <= actions


def test_backend_lambdas_reach_the_producer_without_nat() -> None:
    modules = dev_modules()
    endpoints = {unquote(e) for e in modules["network"]["interface_endpoints"]}
    assert "lambda" in endpoints, "no Lambda interface endpoint: private subnets have no NAT"
    assert "monitoring" in endpoints, "the lag-publisher could not reach CloudWatch"
    backend = modules["backend"]
    assert backend["vpc_config"]
    invoke = backend["policy_statements"]["InvokeProducer"]
    assert [unquote(a) for a in invoke["actions"]] == ["lambda:InvokeFunction"]
    assert invoke["resources"] == ["${module.producer.alias_arn}"]
    assert "DPP_EVENTS_FUNCTION" in contract()["backend"]["environment"]
    assert contract()["backend"]["invokes"] == ["producer"]
    outputs = labelled(MODULES / "lambda-function" / "outputs.tf", "output")
    assert outputs["alias_arn"]["value"] == "${aws_lambda_alias.this.arn}"
